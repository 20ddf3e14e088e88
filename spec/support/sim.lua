-- A sim backend of its own for a spec file: a fresh state directory, and `xlua` run against it.
local helper = require("support.helper")

local sim = {}

-- sim.new() -> s: s.root (a temporary directory), s.env, s.x(args [, opts]) -> stdout, stderr,
-- status, s.file(name, text) -> path of a new file under s.root.
function sim.new()
  local s = { root = helper.tmpdir() }
  s.env = { XLUA_SIM_DIR = s.root .. "/sim", XLUA_BACKEND = "sim" }
  os.execute("mkdir -p " .. helper.shell_quote(s.env.XLUA_SIM_DIR))
  function s.x(args, opts)
    opts = opts or {}
    opts.env = opts.env or s.env
    return helper.run(args, opts)
  end
  function s.file(name, text)
    local path = s.root .. "/" .. name
    helper.spit(path, text)
    return path
  end
  return s
end

return sim
