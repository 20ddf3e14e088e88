-- The config inside a savefile: `xlua config SAVEFILE` prints it, `xlua set-config` replaces
-- it after the compatibility check (savefile.rewrite: the stream copied byte for byte, a new
-- trailer, the file replaced atomically), on the sim.
local helper = require("support.helper")
local json = require("xlua.json")
local savefile = require("xlua.savefile")
local sim = require("support.sim")

local s = sim.new()
local x = s.x
local BASE = 'name = "%s"\nkernel = "/boot/vmlinuz"\nmemory = 8\nvcpus = 1\n'

-- The bytes of a savefile's stream: between its optional data and its trailer.
local function stream_of(path)
  local r = assert(savefile.open(path))
  local start = 48 + assert(r:header()).optional_data_len
  local t = assert(r:trailer())
  r:close()
  return helper.slurp(path):sub(start + 1, t.computed_length)
end

local function digest(name)
  local out = x({ "list", "--json", name })
  return json.decode(out)[1].digest
end

-- A savefile of a running domain NAME (left running), from BASE plus extra.
local n = 0
local function saved(extra, save_opts)
  n = n + 1
  local name = "s" .. n
  local cfg = s.file(name .. ".cfg", BASE:format(name) .. (extra or ""))
  local _, err, code = x({ "create", "-e", cfg })
  assert.equal(0, code, err)
  local path = s.root .. "/" .. name .. ".xlsave"
  local args = { "save", "-c" }
  for _, o in ipairs(save_opts or {}) do
    args[#args + 1] = o
  end
  args[#args + 1] = name
  args[#args + 1] = path
  _, err, code = x(args)
  assert.equal(0, code, err)
  return name, path, cfg
end

describe("xlua set-config", function()
  it("replaces the config with a compatible one: the stream unchanged, a new trailer", function()
    local name, path, cfg = saved()
    local stream = stream_of(path)
    local changed = s.file(name .. "-new.cfg", helper.slurp(cfg) .. 'on_crash = "restart"\n# replaced\n')
    local out, err, code = x({ "set-config", path, changed })
    assert.equal(0, code, err)
    assert.matches("allowed +on_crash", out)
    assert.matches("config replaced", out)
    _, err, code = x({ "verify", path })
    assert.equal(0, code, err)
    assert.equal(stream, stream_of(path))
    -- the config as written and the JSON are the new ones; META says when
    out = x({ "config", path })
    assert.equal(helper.slurp(changed), out)
    out = x({ "config", "--json", path })
    assert.equal("restart", json.decode(out).on_crash)
    out = x({ "inspect", "--json", path })
    assert.matches("config_set_at", out)
    -- and the domain comes back from it with its memory and the new config
    local before = digest(name)
    x({ "destroy", name })
    _, err, code = x({ "restore", "-e", path })
    assert.equal(0, code, err)
    assert.equal(before, digest(name))
    out = x({ "config", name })
    assert.matches("# replaced", out)
    x({ "destroy", name })
  end)

  it("refuses an incompatible config and leaves the file as it was; --force replaces it", function()
    local name, path, cfg = saved()
    local bytes = helper.slurp(path)
    local bigger = s.file(name .. "-big.cfg", (helper.slurp(cfg):gsub("memory = 8", "memory = 16")))
    local out, err, code = x({ "set-config", path, bigger })
    assert.equal(1, code, err)
    assert.matches("incompatible b_info.max_memkb", out)
    assert.matches("not compatible", err)
    assert.equal(bytes, helper.slurp(path))
    out, err, code = x({ "set-config", "--force", path, bigger })
    assert.equal(0, code, err)
    assert.matches("memory = 16", x({ "config", path }))
    _, err, code = x({ "verify", path })
    assert.equal(0, code, err)
    x({ "destroy", name })
  end)

  it("keeps a compressed stream compressed, byte for byte", function()
    local name, path = saved(nil, { "-z" })
    local stream = stream_of(path)
    local json_cfg = s.file(name .. ".json", x({ "config", "--json", name }))
    local _, err, code = x({ "set-config", path, json_cfg })
    assert.equal(0, code, err)
    local r = assert(savefile.open(path))
    assert.same({ "JSON", "STREAMv2", "ZSTD" }, r:header().flags)
    -- a JSON config has no text of its own: the old text is dropped, not left to contradict it
    for _, e in ipairs(r:extensions()) do
      assert.not_equal("SOURCE", e.name)
    end
    r:close()
    assert.equal(stream, stream_of(path))
    local before = digest(name)
    x({ "destroy", name })
    _, err, code = x({ "restore", "-e", path })
    assert.equal(0, code, err)
    assert.equal(before, digest(name))
    x({ "destroy", name })
  end)

  it("refuses a damaged savefile (exit 2) and changes nothing", function()
    local name, path, cfg = saved()
    local bytes = helper.slurp(path)
    local at = #bytes // 2
    local damaged = bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1)
    helper.spit(path, damaged)
    local _, err, code = x({ "set-config", path, cfg })
    assert.equal(2, code, err)
    assert.matches("BADTRAILER", select(3, savefile.rewrite(path, { config = "{}" })))
    assert.equal(damaged, helper.slurp(path))
    _, err, code = x({ "set-config", path, s.root .. "/no-such.cfg" })
    assert.equal(2, code, err)
    local _, _, status = x({ "set-config", path })
    assert.equal(2, status)
    x({ "destroy", name })
  end)
end)

describe("savefile.rewrite", function()
  it("writes to another path when asked, with the source's permission bits", function()
    local name, path = saved()
    local out = s.root .. "/copy.xlsave"
    local r = assert(savefile.open(path))
    local c = r:config()
    r:close()
    local bytes = assert(savefile.rewrite(path, { config = c.text, json = true }, out))
    assert.equal(#helper.slurp(out), bytes)
    assert.equal(stream_of(path), stream_of(out))
    local _, err, code = x({ "verify", out })
    assert.equal(0, code, err)
    assert.equal(tonumber("600", 8), require("xlua").stat(out).mode)
    assert.has_error(function() savefile.rewrite(path) end)
    assert.has_error(function() savefile.rewrite(path, { config = 1 }) end)
    local _, _, c2 = savefile.rewrite(s.root .. "/none.xlsave", {})
    assert.equal("ENOENT", c2)
    x({ "destroy", name })
  end)
end)

describe("xlua config SAVEFILE", function()
  it("prints a savefile's stored config, a domain's when the name is a domain's", function()
    local name, path, cfg = saved()
    assert.equal(helper.slurp(cfg), x({ "config", path }))
    -- a bare name: the domain first, a file of that name when no domain has it
    local q = helper.shell_quote
    local prog = helper.xlua:sub(1, 1) == "/" and helper.xlua or (os.getenv("PWD") .. "/" .. helper.xlua)
    local p = io.popen(string.format("cd %s && XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s config %s 2>&1", q(s.root),
      q(s.env.XLUA_SIM_DIR), q(prog), q(name .. ".xlsave")))
    assert.equal(helper.slurp(cfg), p:read("a"))
    assert.is_true(p:close())
    local out, err, code
    out, err, code = x({ "config", name })
    assert.equal(0, code, err)
    assert.equal(helper.slurp(cfg), out)
    _, err, code = x({ "config", s.root .. "/no-such.xlsave" })
    assert.equal(2, code, err)
    _, err, code = x({ "config", cfg })
    assert.equal(2, code, err) -- not a savefile
    x({ "destroy", name })
  end)
end)
