-- Shared by every spec: running the xlua program as a person would, and temporary files.
local helper = {}

helper.xlua = os.getenv("XLUA_BIN") or "build/bin/xlua"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helper.shell_quote = shell_quote

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
helper.slurp = slurp

function helper.spit(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
end

local tmpdirs = {}

-- A fresh directory, removed when the spec run ends.
function helper.tmpdir()
  local p = io.popen("mktemp -d /tmp/xlua-spec.XXXXXX")
  local dir = p:read("l")
  p:close()
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

-- Run `xlua ARGS...` (arguments are quoted) with optional stdin data and environment;
-- returns stdout, stderr, exit status.
function helper.run(args, opts)
  opts = opts or {}
  local dir = helper.tmpdir()
  local cmd = {}
  for k, v in pairs(opts.env or {}) do
    cmd[#cmd + 1] = k .. "=" .. shell_quote(v)
  end
  cmd[#cmd + 1] = shell_quote(opts.program or helper.xlua)
  for _, a in ipairs(args) do
    cmd[#cmd + 1] = shell_quote(a)
  end
  if opts.stdin then
    helper.spit(dir .. "/stdin", opts.stdin)
    cmd[#cmd + 1] = "<" .. dir .. "/stdin"
  else
    cmd[#cmd + 1] = "</dev/null"
  end
  cmd[#cmd + 1] = ">" .. dir .. "/stdout 2>" .. dir .. "/stderr"
  local _, _, code = os.execute(table.concat(cmd, " "))
  return slurp(dir .. "/stdout"), slurp(dir .. "/stderr"), code
end

-- busted has no global teardown hook for helpers; clean up at exit of the host.
setmetatable(tmpdirs, {
  __gc = function(t)
    for _, d in ipairs(t) do
      os.execute("rm -rf " .. shell_quote(d))
    end
  end,
})

return helper
