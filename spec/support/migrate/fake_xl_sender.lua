-- xl 4.17's migrate (sending side), byte for byte, for the specs (run as `xlua THIS SAVEFILE
-- RUNE LOG`): it runs RUNE as its transport, reads the banner, sends the header with the
-- config alone (no xlua extensions, as xl writes it) and the libxl stream of SAVEFILE without
-- its trailer, then expects READY (and nothing else: an xlua receiver must not answer an xl
-- sender), sends GO, reads the report and its status byte. LOG gets "ok" last when all went
-- as xl expects.
local savefile = require("xlua.savefile")
local transport = require("xlua.transport")
local M = require("xlua.migration")

local path, rune, logpath = arg[1], arg[2], arg[3]
local log = assert(io.open(logpath, "w"))
local function note(fmt, ...)
  log:write(string.format(fmt, ...), "\n")
  log:flush()
end
local function leave(fmt, ...)
  note("error: " .. fmt, ...)
  os.exit(1)
end

local f = assert(io.open(path, "rb"))
local data = f:read("a")
f:close()
local r = assert(savefile.open(path))
local hdr = assert(r:header())
local cfg = assert(r:config())
local stream_start = 48 + hdr.optional_data_len
local t = assert(r:trailer())
local stream = data:sub(stream_start + 1, t.found and #data - 32 or #data)
local config = cfg.text .. "\0"
local optdata = string.pack("=I4", #config) .. config
local header = savefile.MAGIC .. string.pack("=I4I4I4I4", 0x01020304, 3, 0, #optdata)

local peer = assert(transport.spawn(rune))
local banner, berr = transport.read(peer.recv, #M.BANNER)
if banner ~= M.BANNER then
  leave("banner: %s", banner and ("%q"):format(banner) or berr)
end
local ok, err = transport.write(peer.send, header .. optdata .. stream)
if not ok then
  leave("stream: %s", err)
end
local ready
ready, err = transport.read(peer.recv, #M.READY)
if ready ~= M.READY then
  leave("ready message: %s", ready and ("%q"):format(ready) or err)
end
assert(transport.write(peer.send, M.GO))
local report = transport.read(peer.recv, #M.REPORT)
if report ~= M.REPORT then
  leave("report message: %q", tostring(report))
end
local status = transport.read(peer.recv, 1)
note("status %d", status and status:byte() or -1)
transport.close(peer.send)
local tail, _, code = transport.read(peer.recv, 1)
if tail or code ~= "EOF" then
  leave("bytes after the report")
end
transport.wait(peer.pid, 10)
note("ok")
