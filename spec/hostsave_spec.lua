-- save-all and restore-all on the sim, as a host's shutdown and boot run them: domains saved
-- in parallel and restored with their memory, failures on some domains that do not stop the
-- others and lose nothing, timeouts, autostart, and the directory listing they are built on.
local helper = require("support.helper")
local json = require("xlua.json")
local sim = require("support.sim")
local xlua = require("xlua")

local s = sim.new()
local x = s.x

local function cfg(name, extra)
  return s.file(name .. ".cfg", string.format('name = "%s"\nkernel = "/boot/vmlinuz"\nmemory = 8\nvcpus = 1\n%s',
    name, extra or ""))
end

local function create(name)
  local _, err, code = x({ "create", "-e", cfg(name) })
  assert.equal(0, code, err)
end

-- name -> {domid, state, digest, uuid} of the sim's domains
local function domains()
  local out, err, code = x({ "list", "--json" })
  assert.equal(0, code, err)
  local by = {}
  for _, d in ipairs(json.decode(out)) do
    by[d.name] = d
  end
  return by
end

local function destroy_all()
  for name, d in pairs(domains()) do
    if d.domid ~= 0 then
      x({ "destroy", name })
    end
  end
end

local function fresh_dir(name)
  local dir = s.root .. "/" .. name
  os.execute("rm -rf " .. helper.shell_quote(dir))
  return dir
end

local function exists(path)
  return xlua.stat(path) ~= nil
end

-- A copy of the file with one byte in the middle of its stream changed.
local function damage(path)
  local bytes = helper.slurp(path)
  local at = #bytes // 2
  helper.spit(path, bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1))
end

local function report_of(out)
  local r = json.decode(out)
  local by = {}
  for _, res in ipairs(r.results) do
    by[res.name or res.path:match("[^/]*$")] = res
  end
  return r, by
end

before_each(destroy_all)

describe("xlua.dir", function()
  it("lists a directory's names in byte order, without . and ..", function()
    local dir = fresh_dir("listing")
    os.execute("mkdir -p " .. helper.shell_quote(dir .. "/sub"))
    helper.spit(dir .. "/b", "")
    helper.spit(dir .. "/.hidden", "")
    helper.spit(dir .. "/a", "")
    assert.same({ ".hidden", "a", "b", "sub" }, xlua.dir(dir))
  end)

  it("fails with a code on a missing directory or a file", function()
    local _, _, code = xlua.dir(s.root .. "/no-such-dir")
    assert.equal("ENOENT", code)
    helper.spit(s.root .. "/plain", "")
    _, _, code = xlua.dir(s.root .. "/plain")
    assert.equal("ENOTDIR", code)
    assert.has_error(function() xlua.dir() end)
  end)
end)

describe("save-all and restore-all", function()
  it("save several domains in parallel and restore them with the same memory", function()
    local names = { "p1", "p2", "p3", "p4" }
    for _, n in ipairs(names) do
      create(n)
    end
    local before = domains()
    local dir = fresh_dir("parallel")
    local out, err, code = x({ "save-all", "-j", "3", "--json", dir })
    assert.equal(0, code, err)
    local report, by = report_of(out)
    assert.equal(4, report.saved)
    assert.equal(0, report.failed)
    local after = domains()
    for _, n in ipairs(names) do
      assert.is_true(by[n].ok)
      assert.equal(dir .. "/" .. n .. ".xlsave", by[n].path)
      assert.is_true(exists(by[n].path))
      assert.is_nil(after[n]) -- saved, then destroyed
    end
    -- only the owner may read a guest's memory
    assert.equal(tonumber("700", 8), xlua.stat(dir).mode)

    out, err, code = x({ "restore-all", "-e", "-j", "2", dir })
    assert.equal(0, code, err)
    assert.matches("restore%-all: 4 restored, 0 refused", out)
    after = domains()
    for _, n in ipairs(names) do
      assert.equal(before[n].digest, after[n].digest)
      assert.equal(before[n].uuid, after[n].uuid)
      assert.equal("running", after[n].state)
      assert.is_false(exists(dir .. "/" .. n .. ".xlsave"))
    end

    -- nothing left: a second restore-all does nothing, and says so
    out, err, code = x({ "restore-all", "-e", "--no-auto", dir })
    assert.equal(0, code, err)
    assert.matches("0 restored, 0 refused, of 0 images", out)
    -- no directory at all is nothing to do either
    _, err, code = x({ "restore-all", "-e", "--no-auto", dir .. "-none" })
    assert.equal(0, code, err)
  end)

  it("a save that fails and an image that is damaged: the others complete, both are named, nothing is lost", function()
    for _, n in ipairs({ "f1", "f2", "f3" }) do
      create(n)
    end
    local before = domains()
    local dir = fresh_dir("failing")
    -- f2's target cannot be written: a directory stands where its image would go
    os.execute("mkdir -p " .. helper.shell_quote(dir .. "/f2.xlsave"))
    local out, err, code = x({ "save-all", "-j", "2", dir })
    assert.equal(1, code, err)
    assert.matches("f2: FAILED %(EISDIR%)", out)
    assert.matches("f1: saved to", out)
    assert.matches("f3: saved to", out)
    assert.matches("save%-all: 2 saved, 1 failed", out)
    local now = domains()
    assert.equal("running", now.f2.state) -- left as it was
    assert.is_nil(now.f1)

    damage(dir .. "/f3.xlsave")
    out, err, code = x({ "restore-all", "-e", "-j", "2", "--json", "--no-auto", dir })
    assert.equal(1, code, err)
    local report, by = report_of(out)
    assert.equal(1, report.restored)
    assert.equal(1, report.refused)
    assert.is_true(by.f1.ok)
    local bad = by.f3 or by["f3.xlsave"]
    assert.is_false(bad.ok)
    assert.is_true(bad.kept)
    assert.equal("BADTRAILER", bad.code)
    assert.is_true(exists(dir .. "/f3.xlsave")) -- kept, for a person to look at
    assert.is_false(exists(dir .. "/f1.xlsave"))
    now = domains()
    assert.equal(before.f1.digest, now.f1.digest)
    assert.equal("running", now.f2.state)
    assert.is_nil(now.f3)
  end)

  it("refuses an image whose domain already runs (its uuid), and keeps it", function()
    create("u1")
    local dir = fresh_dir("twice")
    os.execute("mkdir -p " .. helper.shell_quote(dir))
    local _, err, code = x({ "save", "-c", "u1", dir .. "/u1.xlsave" })
    assert.equal(0, code, err)
    local out
    out, err, code = x({ "restore-all", "-e", "--no-auto", "--json", dir })
    assert.equal(1, code, err)
    local _, by = report_of(out)
    assert.equal("UUIDTAKEN", by.u1.code)
    assert.is_true(exists(dir .. "/u1.xlsave"))
    -- --dry-run says the same and changes nothing
    out, err, code = x({ "restore-all", "--dry-run", "--no-auto", dir })
    assert.equal(1, code, err)
    assert.matches("u1.xlsave: would refuse u1 %(UUIDTAKEN%)", out)
    x({ "destroy", "u1" })
    out, err, code = x({ "restore-all", "-n", "--no-auto", dir })
    assert.equal(0, code, err)
    assert.matches("u1.xlsave: would restore u1", out)
    assert.is_nil(domains().u1)
    assert.is_true(exists(dir .. "/u1.xlsave"))
  end)

  it("saves only the domains named, compressed with -z", function()
    create("n1")
    create("n2")
    local dir = fresh_dir("named")
    local out, err, code = x({ "save-all", "-z", dir, "n2" })
    assert.equal(0, code, err)
    assert.matches("1 saved, 0 failed, of 1 domain", out)
    assert.equal("running", domains().n1.state)
    out = x({ "inspect", dir .. "/n2.xlsave" })
    assert.matches("ZSTD", out)
    _, err, code = x({ "save-all", dir, "no-such-domain" })
    assert.equal(1, code, err)
  end)

  it("shuts down a domain not saved within the timeout, or destroys it", function()
    create("t1")
    create("t2")
    local dir = fresh_dir("timeout")
    -- a thousandth of a second: no save can be done in time
    local out, err, code = x({ "save-all", "--timeout", "0.001", "--json", dir, "t1" })
    assert.equal(1, code, err)
    local report, by = report_of(out)
    assert.equal(1, report.timed_out)
    assert.equal("TIMEDOUT", by.t1.code)
    assert.equal("shut down", by.t1.after)
    assert.equal("shutdown", domains().t1.state)
    out, err, code = x({ "save-all", "--timeout", "0.001", "--destroy-on-timeout", dir, "t2" })
    assert.equal(1, code, err)
    assert.matches("t2: FAILED: not saved within 0.001 s; destroyed", out)
    assert.is_nil(domains().t2)
    assert.same({}, xlua.dir(dir)) -- no image, no temporary file
  end)

  it("refuses bad usage with exit 2", function()
    for _, args in ipairs({ { "save-all", "-j", "0" }, { "save-all", "--timeout", "soon" },
      { "restore-all", "-j", "x" }, { "restore-all", "a", "b" }, { "save-all", "--one", "d" } }) do
      local _, _, code = x(args)
      assert.equal(2, code, table.concat(args, " "))
    end
  end)
end)

describe("autostart", function()
  it("creates the configs whose domains do not run, after restore-all", function()
    create("a1")
    local auto = fresh_dir("auto")
    os.execute("mkdir -p -m 755 " .. helper.shell_quote(auto))
    helper.spit(auto .. "/a1.cfg", helper.slurp(cfg("a1")))
    helper.spit(auto .. "/a2.cfg", helper.slurp(cfg("a2")))
    helper.spit(auto .. "/a2.cfg~", "not a config")
    helper.spit(auto .. "/.hidden.cfg", "not a config either")
    local out, err, code = x({ "restore-all", "-e", "--auto-dir", auto, "--json", fresh_dir("none") })
    assert.equal(0, code, err)
    local report = json.decode(out)
    local by = {}
    for _, a in ipairs(report.autostart) do
      by[a.name] = a
    end
    assert.equal(2, #report.autostart)
    assert.equal("running", by.a1.action)
    assert.equal("created", by.a2.action)
    assert.equal("running", domains().a2.state)
    -- again: both run now
    out, err, code = x({ "restore-all", "-e", fresh_dir("none") }, { env = { XLUA_SIM_DIR = s.env.XLUA_SIM_DIR,
      XLUA_BACKEND = "sim", XLUA_AUTO_DIR = auto } })
    assert.equal(0, code, err)
    assert.matches("autostart: 0 created, 2 running", out)
  end)

  it("refuses a directory others can write, and reports a config that does not load", function()
    local auto = fresh_dir("auto-unsafe")
    os.execute("mkdir -p -m 777 " .. helper.shell_quote(auto))
    local _, err, code = x({ "restore-all", "-e", "--auto-dir", auto, fresh_dir("none") })
    assert.equal(1, code)
    assert.matches("writable by everyone", err)
    os.execute("chmod 755 " .. helper.shell_quote(auto))
    helper.spit(auto .. "/broken.cfg", "name = \n")
    local out
    out, err, code = x({ "restore-all", "-e", "--auto-dir", auto, fresh_dir("none") })
    assert.equal(1, code, err)
    assert.matches("autostart .*broken.cfg: FAILED %(SYNTAX%)", out)
  end)
end)
