-- xlua-domains.service and /etc/default/xlua-domains: installed by `cmake --install`, the unit
-- accepted by `systemd-analyze verify`, and the options of the default file accepted by the
-- commands the unit runs.
local helper = require("support.helper")
local sim = require("support.sim")
local q = helper.shell_quote

local program = helper.xlua:sub(1, 1) == "/" and helper.xlua or (os.getenv("PWD") .. "/" .. helper.xlua)
local build = program:match("^(.*)/bin/[^/]*$")
local unit = build .. "/systemd/xlua-domains.service"
local default_file = "examples/systemd/xlua-domains.default"

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

-- VAR=value lines of an EnvironmentFile, quotes removed.
local function environment(path)
  local vars = {}
  for line in io.lines(path) do
    if not line:match("^%s*#") and line:match("%S") then
      local k, v = line:match("^([%w_]+)=(.*)$")
      assert(k, "not VAR=value: " .. line)
      vars[k] = v:match('^"(.*)"$') or v
    end
  end
  return vars
end

local function words(s)
  local out = {}
  for w in s:gmatch("%S+") do
    out[#out + 1] = w
  end
  return out
end

describe("xlua-domains.service", function()
  it("is configured with the install prefix and orders itself as xendomains does", function()
    local text = helper.slurp(unit)
    assert.matches("\nExecStart=%-/[^\n]*/bin/xlua restore%-all ", text)
    assert.matches("\nExecStop=/[^\n]*/bin/xlua save%-all ", text)
    assert.matches("\nAfter=[^\n]*xenstored%.service", text)
    assert.matches("\nAfter=[^\n]*xenconsoled%.service", text)
    assert.matches("\nAfter=[^\n]*network%-online%.target", text)
    assert.matches("\nEnvironmentFile=%-/[^\n]*/default/xlua%-domains\n", text)
    assert.not_matches("@", text) -- every placeholder configured
  end)

  it("is installed with its options file by cmake --install", function()
    local dir = helper.tmpdir()
    local ok, out = sh("cmake --install " .. q(build) .. " --prefix " .. q(dir))
    assert.is_true(ok, out)
    assert.equal(helper.slurp(unit), helper.slurp(dir .. "/lib/systemd/system/xlua-domains.service"))
    assert.equal(helper.slurp(default_file), helper.slurp(dir .. "/etc/default/xlua-domains"))
  end)

  it("passes systemd-analyze verify", function()
    if not sh("command -v systemd-analyze") then
      pending("systemd-analyze is not installed (Debian's systemd package)")
      return
    end
    -- the units it requires exist only on a Xen host: stubs of them, beside a copy whose xlua
    -- is the build's (verify checks that the commands can be executed)
    local dir = helper.tmpdir()
    local installed = helper.slurp(unit):match("\nExecStop=(/%S+/bin/xlua) ")
    helper.spit(dir .. "/xlua-domains.service", (helper.slurp(unit):gsub(installed:gsub("%p", "%%%0"),
      (program:gsub("%%", "%%%%")))))
    helper.spit(dir .. "/proc-xen.mount", "[Unit]\nDescription=stub\n[Mount]\nWhat=xenfs\nWhere=/proc/xen\nType=xenfs\n")
    helper.spit(dir .. "/xenstored.service", "[Unit]\nDescription=stub\n[Service]\nExecStart=/bin/true\n")
    local ok, out = sh("systemd-analyze verify " .. q(dir .. "/xlua-domains.service"))
    assert.is_true(ok, out)
    assert.equal("", out) -- not even a warning (an unknown key is only one)
  end)

  it("runs commands that take the options of its default file", function()
    local vars = environment(default_file)
    assert.equal("/var/lib/xlua/save", vars.XLUA_SAVE_DIR)
    local s = sim.new()
    local dir = s.root .. "/save"
    local args = words(vars.XLUA_SAVE_OPTIONS)
    table.insert(args, 1, "save-all")
    args[#args + 1] = dir
    local out, err, code = s.x(args)
    assert.equal(0, code, err)
    assert.matches("0 saved, 0 failed", out)
    args = words(vars.XLUA_RESTORE_OPTIONS)
    table.insert(args, 1, "restore-all")
    args[#args + 1] = dir
    os.execute("mkdir -p " .. q(s.root .. "/auto"))
    out, err, code = s.x(args, { env = { XLUA_SIM_DIR = s.env.XLUA_SIM_DIR, XLUA_BACKEND = "sim",
      XLUA_AUTO_DIR = s.root .. "/auto" } })
    assert.equal(0, code, err)
    assert.matches("0 restored, 0 refused", out)
  end)
end)
