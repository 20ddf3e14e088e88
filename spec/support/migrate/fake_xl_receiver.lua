-- xl 4.17's migrate-receive, byte for byte, for the specs (run as `xlua THIS LOG [fail]`): the
-- banner without its NUL, the header and optional data, the libxl stream up to its END record
-- and not one byte more, READY, GO, the report and its status byte. It writes what it saw to
-- LOG ("ok" last when every byte was as xl expects) and fails the way xl does: by leaving.
-- With "fail", it reports a startup failure (status 1) and grants the sender its domain back.
local savefile = require("xlua.savefile")
local transport = require("xlua.transport")
local M = require("xlua.migration")

local log = assert(io.open(arg[1], "w"))
local function note(fmt, ...)
  log:write(string.format(fmt, ...), "\n")
  log:flush()
end
local function leave(fmt, ...)
  note("error: " .. fmt, ...)
  os.exit(1)
end

assert(transport.write(1, M.BANNER))
-- read exactly n bytes of the stream, as libxl_read_exactly
local function take(n, what)
  local b, err = transport.read(0, n)
  if not b then
    leave("%s: %s", what, err)
  end
  return b
end
local head = take(48, "header")
if head:sub(1, 32) ~= savefile.MAGIC then
  leave("File has wrong magic number - corrupt or for a different tool?")
end
local byteorder, mandatory, _, optlen = string.unpack("=I4I4I4I4", head, 33)
if byteorder ~= 0x01020304 then
  leave("File has wrong byte order")
end
note("flags 0x%x", mandatory)
if mandatory & ~3 ~= 0 then
  leave("Savefile has mandatory flag(s) 0x%x which are not supported; need newer xl", mandatory & ~3)
end
local optdata = take(optlen, "optdata")
local config_len = string.unpack("=I4", optdata)
note("config %d bytes, %d bytes of optional data after it", config_len, optlen - 4 - config_len)
-- the libxl stream v2 (libxl reads it up to its END record, not one byte more)
local ident = take(16, "libxl header")
if ident:sub(1, 8) ~= "LibxlFmt" then
  leave("not a libxl stream")
end
local big = string.unpack(">I4", ident, 13) & 1 == 1
local u32 = big and ">I4" or "<I4"
local function records(layer)
  while true do
    local rh = take(8, layer .. " record header")
    local rtype, rlen = string.unpack(u32, rh), string.unpack(u32, rh, 5)
    take((rlen + 7) // 8 * 8, layer .. " record body")
    if rtype == 0 then
      return
    end
    if layer == "libxl" and rtype == 1 then
      take(24 + 16, "libxc headers")  -- image and domain headers (big-endian image header)
      records("libxc")
    end
  end
end
records("libxl")
note("stream read to its END record")
-- nothing may follow the stream before READY: xl would read it as the GO message's bytes
if transport.readable(0, 0.5) then
  local extra = transport.read(0, 1)
  leave("a byte after the stream: %q", tostring(extra))
end
assert(transport.write(1, M.READY))
local go, gerr = transport.read(0, #M.GO)
if go ~= M.GO then
  leave("GO message: %s", go and ("unexpected %q"):format(go) or gerr)
end
local failing = arg[2] == "fail"
assert(transport.write(1, M.REPORT .. (failing and "\1" or "\0")))
if failing then
  assert(transport.write(1, M.GO))
end
-- the sender hangs up after the report; anything else is a byte xl would not expect
local tail, _, code, partial = transport.read(0, 1)
if tail or code ~= "EOF" or partial ~= "" then
  leave("bytes after GO")
end
note("ok")
