-- The xenstore commands (scripts/xenstore-*.lua) as xenstore-utils 4.17 has them: the same
-- options, output and exit status (1 for a usage mistake or a failure, as xenstore-utils),
-- with xlua's "xlua xenstore-CMD: " in front of the one stderr line and -h/--help printing
-- the usage on stdout with status 0 (as every xlua command).
local cli = require("xlua.cli")
local xs = require("xlua.xs")

local xs_cli = {}

-- Each mode's usage (xenstore-utils' words) and option letters.
local MODES = {
  read = { usage = "[-h] [-p] [-s] [-R] key [...]", letters = "psR" },
  write = { usage = "[-h] [-s] [-R] key value [...]", letters = "sR" },
  rm = { usage = "[-h] [-s] [-t] key [...]", letters = "st" },
  list = { usage = "[-h] [-p] [-s] key [...]", letters = "ps" },
  ls = { usage = "[-h] [-f] [-p] [-s] [path]", letters = "fps" },
  watch = { usage = "[-h] [-n NR] [--timeout SECONDS] key", letters = "n" },
}
local LONG = { help = "h", flat = "f", prefix = "p", tidy = "t", number = "n", raw = "R" }

-- Values as xenstore-utils show them: printable ASCII but "\", escapes for the rest.
function xs_cli.sanitise(v)
  return (v:gsub(".", function(c)
    local b = c:byte()
    if b >= 32 and b <= 126 and c ~= "\\" then return c end
    if c == "\t" then return "\\t" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\\" then return "\\\\" end
    if b < 8 then return string.format("\\%03o", b) end
    return string.format("\\x%02x", b)
  end))
end

-- The escapes xenstore-write takes: \t \n \r \\ \xHH \OOO; another "\c" is c.
function xs_cli.unsanitise(s)
  local out, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c ~= "\\" or i == #s then
      out[#out + 1] = c
      i = i + 1
    else
      local n = s:sub(i + 1, i + 1)
      local map = { t = "\t", n = "\n", r = "\r", ["\\"] = "\\" }
      if map[n] then
        out[#out + 1] = map[n]
        i = i + 2
      elseif n == "x" then
        local hex = s:match("^%x%x?", i + 2) or ""
        out[#out + 1] = hex ~= "" and string.char(tonumber(hex, 16)) or ""
        i = i + 2 + #hex
      elseif n:match("[0-7]") then
        local oct = s:match("^[0-7][0-7]?[0-7]?", i + 1)
        out[#out + 1] = string.char(tonumber(oct, 8) & 0xff)
        i = i + 1 + #oct
      else
        out[#out + 1] = n
        i = i + 2
      end
    end
  end
  return table.concat(out)
end

local function usage_line(mode)
  return string.format("xlua xenstore-%s %s", mode, MODES[mode].usage)
end

-- getopt as xenstore_client.c calls it: -> opts, args | nil (usage status printed).
local function parse(mode, argv)
  local opts, args, letters = {}, {}, MODES[mode].letters
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      table.move(argv, i + 1, #argv, #args + 1, args)
      break
    elseif a == "--timeout" or a:match("^%-%-timeout=") then
      local v = a:match("=(.*)$")
      if not v then
        i = i + 1
        v = argv[i]
      end
      if mode ~= "watch" or not tonumber(v) then
        return nil
      end
      opts.timeout = tonumber(v)
    elseif a:match("^%-%-") then
      local name, value = a:match("^%-%-([^=]+)=?(.*)$")
      local letter = LONG[name]
      if not letter then
        return nil
      end
      if letter == "n" then
        if value == "" then
          i = i + 1
          value = argv[i]
        end
        opts.n = value
      else
        opts[letter] = true
      end
    elseif a:match("^%-.") then
      local j = 2
      while j <= #a do
        local l = a:sub(j, j)
        if l == "h" then
          opts.h = true
        elseif not letters:find(l, 1, true) then
          return nil
        elseif l == "n" then
          local value = a:sub(j + 1)
          if value == "" then
            i = i + 1
            value = argv[i]
          end
          if value == nil then
            return nil
          end
          opts.n = value
          break
        else
          opts[l] = true
        end
        j = j + 1
      end
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
  return opts, args
end

-- xs_cli.main(mode, body): parse arg for mode, check the argument count, open the xenstore,
-- run body(conn, opts, args) -> status.
function xs_cli.main(mode, body)
  return cli.main({ name = "xenstore-" .. mode, usage = usage_line(mode), raw = true }, function(argv)
    local opts, args = parse(mode, argv)
    if opts and opts.h then
      io.stdout:write("usage: ", usage_line(mode), "\n")
      return cli.OK
    end
    local bad = not opts or (mode ~= "ls" and #args == 0) or (mode == "write" and #args % 2 == 1)
      or (mode == "ls" and #args > 1)
    if bad then
      io.stderr:write("Usage: ", usage_line(mode), "\n")
      return cli.FAILED
    end
    local conn, err = xs.open(os.getenv("XLUA_BACKEND"))
    if not conn then
      return cli.fail(cli.FAILED, "%s", err)
    end
    return body(conn, opts, args)
  end)
end

-- Run fn(t, out) in a transaction when needed (several keys, as xenstore-utils), retrying on
-- a conflict; out collects stdout, written once it committed. fn returns a status and, when
-- it failed, the line to print.
function xs_cli.run(conn, transaction, fn)
  local status, line, out
  local function attempt(t)
    out = {}
    status, line = fn(t, out)
    if status ~= cli.OK then
      return nil, "failed", "FAILED"
    end
    return true
  end
  if transaction then
    local ok, err, code = conn:transaction(attempt)
    if not ok and code ~= "FAILED" then
      return cli.fail(cli.FAILED, "couldn't end transaction: %s", err)
    end
  else
    attempt(conn)
  end
  io.stdout:write(table.concat(out))
  if status ~= cli.OK then
    return cli.fail(status, "%s", line)
  end
  return cli.OK
end

return xs_cli
