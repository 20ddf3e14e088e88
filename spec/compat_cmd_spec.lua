-- `xlua compat` as a person runs it: config files, libxl JSON files and savefiles as inputs,
-- exit 0 / 1 / 2, the text and --json reports, site directories; and `xlua restore` refusing
-- an incompatible config and restoring it with --force.
local helper = require("support.helper")
local sf = require("support.savefiles")
local json = require("xlua.json")
local q = helper.shell_quote

local root = helper.tmpdir()
local env = { XLUA_SIM_DIR = root .. "/sim", XLUA_BACKEND = "sim", XLUA_SITE_DIR = "" }
os.execute("mkdir -p " .. q(env.XLUA_SIM_DIR))
local function x(args, opts)
  opts = opts or {}
  opts.env = opts.env or env
  return helper.run(args, opts)
end
local function file(name, text)
  local path = root .. "/" .. name
  helper.spit(path, text)
  return path
end

local SAVED = {
  c_info = { type = "pv", name = "web1", uuid = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b" },
  b_info = { max_vcpus = 2, avail_vcpus = { 0, 1 }, max_memkb = 262144, target_memkb = 262144,
    kernel = "/boot/vmlinuz", ["type.pv"] = {} },
  disks = { { pdev_path = "/dev/vg0/web1", vdev = "xvda", format = "raw", readwrite = 1 } },
  nics = { { devid = 0, mac = "00:16:3e:00:00:01", bridge = "xenbr0" } },
}
local function variant(change)
  local t = json.decode(json.encode(SAVED))
  change(t)
  return json.encode(t, { indent = "  " })
end

local saved_json = file("saved.json", json.encode(SAVED))
local same_json = file("same.json", variant(function(t) t.b_info.max_memkb = nil end))
local moved_json = file("moved.json", variant(function(t) t.disks[1].pdev_path = "/dev/vg1/web1" end))
local bigger_json = file("bigger.json", variant(function(t) t.b_info.max_memkb, t.b_info.target_memkb = 524288, 524288 end))
local savefile_json = root .. "/saved-json.sav"
sf.write(savefile_json, { config = json.encode(SAVED) })

local XL = 'name = "web1"\nuuid = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"\ntype = "pv"\n'
  .. 'kernel = "/boot/vmlinuz"\nmemory = 256\nvcpus = 2\n'
  .. 'disk = [ "format=raw, vdev=xvda, access=rw, target=/dev/vg0/web1" ]\n'
  .. 'vif = [ "mac=00:16:3e:00:00:01, bridge=xenbr0" ]\n'
local savefile_xl = root .. "/saved-xl.sav"
sf.write(savefile_xl, { config = XL, json = false })

local function report_of(out)
  return assert(json.decode(out))
end
local function verdicts(v)
  local out = {}
  for _, d in ipairs(v.differences) do
    out[d.path] = d.verdict
  end
  return out
end

describe("xlua compat", function()
  it("exits 0 for configs that differ only in defaults", function()
    local out, err, code = x({ "compat", saved_json, same_json })
    assert.equal(0, code, err)
    assert.truthy(out:match("^compatible"))
  end)

  it("exits 0 with allowed differences, and prints them", function()
    local out, err, code = x({ "compat", saved_json, moved_json })
    assert.equal(0, code, err)
    assert.truthy(out:find("disks[0].pdev_path", 1, true))
  end)

  it("exits 1 when a difference is incompatible", function()
    local out, _, code = x({ "compat", saved_json, bigger_json })
    assert.equal(1, code)
    assert.truthy(out:find("b_info.max_memkb", 1, true))
    assert.truthy(out:match("\nnot compatible[^\n]*\n$"))
  end)

  it("--json is parseable and stable", function()
    local out1, _, code1 = x({ "compat", "--json", saved_json, bigger_json })
    local out2, _, code2 = x({ "compat", bigger_json .. "", "--json", saved_json })
    local out3 = x({ "compat", "--json", saved_json, bigger_json })
    assert.same({ 1, 1 }, { code1, code2 })
    assert.equal(out1, out3)
    local v = report_of(out1)
    assert.is_false(v.compatible)
    -- (the balloon target stays below the new maximum: a warning)
    assert.same({ ["b_info.max_memkb"] = "incompatible", ["b_info.target_memkb"] = "warning",
      ["b_info.shadow_memkb"] = "incompatible" }, verdicts(v))
    -- swapped arguments: the same paths, old and new swapped
    local w = report_of(out2)
    assert.equal(v.differences[1].old, w.differences[1].new)
  end)

  it("reads a savefile's stored JSON config", function()
    local out, err, code = x({ "compat", "--json", savefile_json, moved_json })
    assert.equal(0, code, err)
    assert.same({ ["disks[0].pdev_path"] = "allowed" }, verdicts(report_of(out)))
    local _, _, code2 = x({ "compat", savefile_json, bigger_json })
    assert.equal(1, code2)
  end)

  it("reads a savefile's stored xl.cfg config", function()
    local out, err, code = x({ "compat", "--json", savefile_xl, saved_json })
    assert.equal(0, code, err)
    for path, verdict in pairs(verdicts(report_of(out))) do
      assert.are_not.equal("incompatible", verdict, path)
    end
  end)

  it("exits 2 on bad input", function()
    local bad_json = file("bad.json", "{ not json")
    local not_config = file("not-config.json", '{"hello": 1}')
    local short = file("short.sav", sf.MAGIC:sub(1, 40))
    for _, args in ipairs({
      { "compat", saved_json, root .. "/missing.json" },
      { "compat", root .. "/missing.sav", saved_json },
      { "compat", saved_json, bad_json },
      { "compat", not_config, saved_json },
      { "compat", short, saved_json },
      { "compat", root, saved_json },
      { "compat", saved_json },
      { "compat", "--bogus", saved_json, saved_json },
      { "compat", "--site-dir", root .. "/no-such-dir", saved_json, saved_json },
    }) do
      local _, err, code = x(args)
      assert.equal(2, code, table.concat(args, " "))
      assert.truthy(err:match("^xlua compat: "), err)
    end
  end)

  it("a missing $XLUA_SITE_DIR is an error, the default directory may be missing", function()
    local _, _, code = x({ "compat", saved_json, same_json },
      { env = { XLUA_SIM_DIR = env.XLUA_SIM_DIR, XLUA_BACKEND = "sim", XLUA_SITE_DIR = root .. "/nope" } })
    assert.equal(2, code)
  end)

  it("applies site rules from --site-dir and $XLUA_SITE_DIR", function()
    local dir = root .. "/site.d"
    os.execute("mkdir -p -m 0755 " .. q(dir)) -- writable by this user only, whatever the umask
    helper.spit(dir .. "/disk-within-vg0.lua", helper.slurp("examples/site.d/disk-within-vg0.lua"))
    os.execute("chmod 0644 " .. q(dir .. "/disk-within-vg0.lua"))
    local out, _, code = x({ "compat", "--json", "--site-dir", dir, saved_json, moved_json })
    assert.equal(1, code)
    assert.same({ ["disks[0].pdev_path"] = "incompatible" }, verdicts(report_of(out)))
    local _, _, code2 = x({ "compat", saved_json, moved_json },
      { env = { XLUA_SIM_DIR = env.XLUA_SIM_DIR, XLUA_BACKEND = "sim", XLUA_SITE_DIR = dir } })
    assert.equal(1, code2)
  end)

  it("a broken site rule fails closed", function()
    local dir = root .. "/broken.d"
    os.execute("mkdir -p -m 0755 " .. q(dir))
    helper.spit(dir .. "/broken.lua", "rule { name = 'broken', check = function() error('boom') end }")
    os.execute("chmod 0644 " .. q(dir .. "/broken.lua"))
    local out, _, code = x({ "compat", "--json", "--site-dir", dir, saved_json, saved_json })
    assert.equal(1, code)
    assert.same({ ["site:broken"] = "incompatible" }, verdicts(report_of(out)))
  end)

  it("--help says what it does", function()
    local out, _, code = x({ "compat", "--help" })
    assert.equal(0, code)
    assert.truthy(out:match("^usage: xlua compat"))
  end)

  describe("with config files", function()
    local xl = file("web1.cfg", XL)
    local xl_bigger = file("web1-big.cfg", XL:gsub("memory = 256", "memory = 512"))
    local xl_moved = file("web1-moved.cfg", XL:gsub("/dev/vg0/", "/dev/vg1/"))
    local lua = file("web1.lua", 'return { name = "web1", uuid = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",'
      .. ' type = "pv", kernel = "/boot/vmlinuz", memory = 256, vcpus = 2,'
      .. ' disk = { "format=raw, vdev=xvda, access=rw, target=/dev/vg0/web1" },'
      .. ' vif = { "mac=00:16:3e:00:00:01, bridge=xenbr0" } }\n')

    it("compares xl.cfg files: compatible, allowed, incompatible", function()
      local _, err, code = x({ "compat", xl, xl })
      assert.equal(0, code, err)
      local out, err2, code2 = x({ "compat", "--json", xl, xl_moved })
      assert.equal(0, code2, err2)
      assert.equal("allowed", verdicts(report_of(out))["disks[0].pdev_path"])
      local _, _, code3 = x({ "compat", xl, xl_bigger })
      assert.equal(1, code3)
    end)

    it("compares a Lua config with the xl.cfg it mirrors", function()
      local out, err, code = x({ "compat", "--json", lua, xl })
      assert.equal(0, code, err)
      assert.same({}, report_of(out).differences)
    end)

    it("compares a savefile with a config file", function()
      local _, err, code = x({ "compat", savefile_json, xl })
      assert.equal(0, code, err)
      local _, _, code2 = x({ "compat", savefile_xl, xl_bigger })
      assert.equal(1, code2)
    end)

    it("exits 2 for a config file with errors", function()
      local broken = file("broken.cfg", 'name = "x"\nmemory = \n')
      local _, _, code = x({ "compat", broken, xl })
      assert.equal(2, code)
    end)
  end)
end)

-- The restore command with a replacement config: refused with a report and nothing touched,
-- or forced. (It runs whichever check lua/xlua/compat.lua points at; a memory change is
-- incompatible for both.)
describe("xlua restore with a changed config", function()
  local cfg = file("r1.cfg", 'name = "r1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 64\nvcpus = 1\n')
  local big = file("r1-big.cfg", 'name = "r1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 128\nvcpus = 1\n')
  local sav = root .. "/r1.sav"

  local function domains()
    local out = x({ "list", "--json" })
    local names = {}
    for _, info in ipairs(json.decode(out) or {}) do
      names[#names + 1] = info.name
    end
    table.sort(names)
    return table.concat(names, " ")
  end

  it("is refused, reported, and touches nothing; -n only reports; --force restores", function()
    local _, err, code = x({ "create", cfg })
    assert.equal(0, code, err)
    _, err, code = x({ "save", "r1", sav })
    assert.equal(0, code, err)
    local before = domains()

    local out
    out, err, code = x({ "restore", big, sav })
    assert.equal(1, code)
    assert.truthy((out .. err):find("max_memkb", 1, true))
    assert.equal(before, domains())

    out, err, code = x({ "restore", "-n", big, sav })
    assert.equal(1, code)
    assert.truthy((out .. err):find("max_memkb", 1, true))
    assert.equal(before, domains())

    out, err, code = x({ "restore", "--force", big, sav })
    assert.equal(0, code, err)
    assert.truthy(domains():find("r1", 1, true))
  end)
end)
