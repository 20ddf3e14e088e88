-- Site rules for the compatibility check: the two examples, tightening, a broken rule failing
-- closed, no loosening of an incompatible verdict, and the site directory's lookup.
local helper = require("support.helper")
local check = require("xlua.compat.check")
local site = require("xlua.compat.site")

local function pv()
  return {
    c_info = { type = "pv", name = "web1" },
    b_info = { max_vcpus = 1, max_memkb = 524288, target_memkb = 524288, shadow_memkb = 3072 },
    disks = {
      { pdev_path = "/dev/vg0/web1", vdev = "xvda", format = "raw", readwrite = 1 },
      { pdev_path = "/dev/vg0/web1-data", vdev = "xvdb", format = "raw", readwrite = 1 },
    },
  }
end

-- A site directory holding files {name = text}, writable by this user only (as site.load
-- wants it, whatever the umask).
local function site_dir(files)
  local dir = helper.tmpdir()
  for name, text in pairs(files) do
    helper.spit(dir .. "/" .. name, text)
    os.execute("chmod 0644 " .. helper.shell_quote(dir .. "/" .. name))
  end
  return dir
end

local function examples(...)
  local files = {}
  for _, name in ipairs({ ... }) do
    files[name] = helper.slurp("examples/site.d/" .. name)
  end
  return assert(site.load(site_dir(files), true))
end

local function run(loaded, saved, wanted, context)
  return check.check(saved, wanted, { site_rules = loaded, context = context })
end

local function find(r, path)
  for _, d in ipairs(r.differences) do
    if d.path == path then
      return d
    end
  end
end

describe("site rule example memory-free", function()
  local loaded = examples("memory-free.lua")

  it("loads as one rule", function()
    assert.equal(1, #loaded.rules)
    assert.equal("memory-free", loaded.rules[1].name)
    assert.same({}, loaded.failures)
  end)

  it("refuses a domain needing more memory than the host has free, even unchanged", function()
    local r = run(loaded, pv(), pv(), { host = { free_memory_kb = 262144 } })
    assert.is_false(r.compatible)
    local d = find(r, "b_info.target_memkb")
    assert.equal("incompatible", d.verdict)
    assert.equal("site:memory-free", d.source)
    assert.same({ 524288, 524288 }, { d.old, d.new })
  end)

  it("runs on a config checked against itself (the same table: a restore with its saved config)", function()
    local same = pv()
    local r = run(loaded, same, same, { host = { free_memory_kb = 262144 } })
    assert.is_false(r.compatible)
    assert.equal("site:memory-free", find(r, "b_info.target_memkb").source)
    -- without rules the same table has nothing to report
    r = check.check(same, same, { site_rules = site.load(nil) })
    assert.is_true(r.compatible)
    assert.same({}, r.differences)
    assert.same({ allowed = 0, warning = 0, incompatible = 0 }, r.counts)
  end)

  it("lets it through when the host has room", function()
    local r = run(loaded, pv(), pv(), { host = { free_memory_kb = 4194304 } })
    assert.is_true(r.compatible)
    assert.same({}, r.differences)
  end)

  it("warns when the host's free memory is not known", function()
    local r = run(loaded, pv(), pv(), {})
    assert.is_true(r.compatible)
    assert.equal("warning", find(r, "b_info.target_memkb").verdict)
  end)

  it("counts the memory the wanted config asks for", function()
    local wanted = pv()
    wanted.b_info.target_memkb = 8388608
    local r = run(loaded, pv(), wanted, { host = { free_memory_kb = 4194304 } })
    assert.equal("incompatible", find(r, "b_info.target_memkb").verdict)
    wanted.b_info.max_memkb = 8388608
    r = run(loaded, wanted, wanted, { host = { free_memory_kb = 4194304 } })
    assert.equal("site:memory-free", find(r, "b_info.target_memkb").source)
  end)
end)

describe("site rule example disk-within-vg0", function()
  local loaded = examples("disk-within-vg0.lua")

  it("allows a disk to move within /dev/vg0", function()
    local wanted = pv()
    wanted.disks[1].pdev_path = "/dev/vg0/web1-new"
    local r = run(loaded, pv(), wanted)
    assert.is_true(r.compatible)
    assert.equal("allowed", find(r, "disks[0].pdev_path").verdict)
  end)

  it("refuses a disk moving out of /dev/vg0", function()
    local wanted = pv()
    wanted.disks[2].pdev_path = "/dev/vg1/web1-data"
    local r = run(loaded, pv(), wanted)
    assert.is_false(r.compatible)
    local d = find(r, "disks[1].pdev_path")
    assert.same({ "incompatible", "site:disk-within-vg0" }, { d.verdict, d.source })
    assert.same({ "/dev/vg0/web1-data", "/dev/vg1/web1-data" }, { d.old, d.new })
  end)

  it("refuses a path that climbs out with ..", function()
    local wanted = pv()
    wanted.disks[1].pdev_path = "/dev/vg0/../sda"
    assert.is_false(run(loaded, pv(), wanted).compatible)
  end)

  it("says nothing when no disk moves", function()
    assert.same({}, run(loaded, pv(), pv()).differences)
  end)
end)

describe("site rules", function()
  it("can tighten an allowed difference to a warning or to incompatible", function()
    local loaded = assert(site.load(site_dir({
      ["10-format.lua"] = [[rule { name = "format", check = function(_, _, api)
        api.warn("disks[*].format", "Format changes need a look.") end }]],
      ["20-bridge.lua"] = [[return function(saved, wanted, api)
        if api.difference("nics[0].bridge") then api.incompatible("nics[0].bridge", "No bridge moves here.") end
      end]],
    }), true))
    local saved, wanted = pv(), pv()
    saved.nics = { { mac = "00:16:3e:00:00:01", bridge = "xenbr0" } }
    wanted.nics = { { mac = "00:16:3e:00:00:01", bridge = "br1" } }
    wanted.disks[1].format = "qcow2"
    local r = run(loaded, saved, wanted)
    assert.same({ "warning", "site:format" }, { find(r, "disks[0].format").verdict, find(r, "disks[0].format").source })
    assert.same({ "incompatible", "site:20-bridge" },
      { find(r, "nics[0].bridge").verdict, find(r, "nics[0].bridge").source })
    assert.is_false(r.compatible)
  end)

  it("cannot loosen an incompatible verdict", function()
    local loaded = assert(site.load(site_dir({
      ["loose.lua"] = [[rule { check = function(_, _, api)
        api.allow("b_info.max_memkb", "Memory may change here.")
        api.allow("b_info.*", "Anything in b_info may change here.")
        api.warn("b_info.max_memkb", "Only a warning.")
      end }]],
    }), true))
    local wanted = pv()
    wanted.b_info.max_memkb = 1048576
    local r = run(loaded, pv(), wanted)
    assert.is_false(r.compatible)
    local d = find(r, "b_info.max_memkb")
    assert.same({ "incompatible", "rule" }, { d.verdict, d.source })
  end)

  it("can allow an unknown difference", function()
    local loaded = assert(site.load(site_dir({
      ["tsc.lua"] = [[rule { name = "tsc", check = function(_, _, api)
        api.allow("b_info.tsc_mode", "We migrate between identical hosts.") end }]],
    }), true))
    local wanted = pv()
    wanted.b_info.tsc_mode = "native"
    local d = find(run(loaded, pv(), wanted), "b_info.tsc_mode")
    assert.same({ "allowed", "site:tsc" }, { d.verdict, d.source })
  end)

  it("a rule that raises fails closed", function()
    local loaded = assert(site.load(site_dir({
      ["broken.lua"] = [[rule { name = "broken", check = function() error("oops") end }]],
    }), true))
    local r = run(loaded, pv(), pv())
    assert.is_false(r.compatible)
    local d = find(r, "site:broken")
    assert.same({ "incompatible", "site:broken" }, { d.verdict, d.source })
    assert.is_string(d.reason)
  end)

  it("a file that does not load fails closed, the others still run", function()
    local loaded = assert(site.load(site_dir({
      ["a-syntax.lua"] = "rule { name = ",
      ["b-raises.lua"] = "error('at load')",
      ["c-returns.lua"] = "return 42",
      ["d-bad-rule.lua"] = "rule { name = 'x' }",
      ["e-good.lua"] = [[rule { name = "good", check = function(_, _, api) api.warn("c_info.name", "Checked.") end }]],
      ["notes.txt"] = "not a rule",
    }), true))
    assert.equal(4, #loaded.failures)
    assert.equal(1, #loaded.rules)
    local r = run(loaded, pv(), pv())
    assert.is_false(r.compatible)
    for _, name in ipairs({ "a-syntax", "b-raises", "c-returns", "d-bad-rule" }) do
      assert.equal("incompatible", find(r, "site:" .. name).verdict)
    end
    assert.equal("site:good", find(r, "c_info.name").source)
  end)

  it("a rule calling the API wrongly fails closed", function()
    local loaded = assert(site.load(site_dir({
      ["wrong.lua"] = [[rule { name = "wrong", check = function(_, _, api) api.incompatible(42) end }]],
    }), true))
    assert.equal("incompatible", find(run(loaded, pv(), pv()), "site:wrong").verdict)
  end)

  it("runs files in name order and gives each rule its own copies", function()
    local loaded = assert(site.load(site_dir({
      ["20-second.lua"] = [[rule { name = "second", check = function(saved, _, api)
        api.warn("c_info.name", saved.c_info.name) end }]],
      ["10-first.lua"] = [[rule { name = "first", check = function(saved, wanted, api)
        saved.c_info.name = "changed"; wanted.disks = nil end }]],
    }), true))
    assert.same({ "first", "second" }, { loaded.rules[1].name, loaded.rules[2].name })
    local r = run(loaded, pv(), pv())
    assert.equal("web1", find(r, "c_info.name").reason)
    assert.is_nil(find(r, "disks"))
  end)

  it("sees the differences so far and the values at paths", function()
    local loaded = assert(site.load(site_dir({
      ["look.lua"] = [[rule { name = "look", check = function(saved, wanted, api)
        local n = #api.differences()
        local d = api.difference("disks[0].pdev_path")
        assert(n == 1 and d.verdict == "allowed" and d.new == "/dev/vg0/other")
        assert(api.get(wanted, "disks[0].pdev_path") == "/dev/vg0/other")
        assert(api.get(wanted, "b_info.type.pv") ~= nil)
        assert(api.get(saved, "disks[9].vdev") == nil)
        assert(api.level == 1)
      end }]],
    }), true))
    local wanted = pv()
    wanted.disks[1].pdev_path = "/dev/vg0/other"
    local r = run(loaded, pv(), wanted)
    assert.is_true(r.compatible, r.differences[#r.differences].reason)
    assert.equal(1, #r.differences)
  end)
end)

describe("site directory", function()
  it("a missing default directory means no site rules", function()
    local loaded = assert(site.load("/nonexistent/xlua/site.d", false))
    assert.same({}, loaded.rules)
    assert.same({}, loaded.failures)
  end)

  it("a missing directory named by the person is an error", function()
    local loaded, err, code = site.load("/nonexistent/xlua/site.d", true)
    assert.is_nil(loaded)
    assert.is_string(err)
    assert.equal("ENOENT", code)
  end)

  it("is --site-dir, else $XLUA_SITE_DIR, else the default", function()
    assert.same({ "/x", true }, { site.dir("/x") })
    local dir, explicit = site.dir(nil)
    if os.getenv("XLUA_SITE_DIR") then
      assert.same({ os.getenv("XLUA_SITE_DIR"), true }, { dir, explicit })
    else
      assert.same({ site.DEFAULT_DIR, false }, { dir, explicit })
    end
    assert.equal("/etc/xlua/site.d", site.DEFAULT_DIR)
  end)
end)
