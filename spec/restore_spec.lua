-- The restore policy against the fake backend: from the
-- file alone, with a replacement config, and every way it must refuse.
local helper = require("support.helper")
local sf = require("support.savefiles")
local fake = require("fakes.domain").install()
local compat = require("xlua.compat")
local create = require("xlua.create")
local restore = require("xlua.restore")
local save = require("xlua.save")
local json = require("xlua.json")

local dir = helper.tmpdir()
local function cfg(name, text)
  local path = dir .. "/" .. name
  helper.spit(path, text)
  return path
end
local WEB1 = 'name = "web1"\nkernel = "/boot/vmlinuz"\nmemory = 256\nvcpus = 2\ndisk = [ "vdev=xvda,target=/srv/web1.img" ]\n'
local web1 = cfg("web1.cfg", WEB1)
local moved = cfg("web1-moved.cfg", WEB1:gsub("/srv/", "/mnt/new/"))
local bigger = cfg("web1-big.cfg", WEB1:gsub("memory = 256", "memory = 512"))
local renamed = cfg("web2.cfg", WEB1:gsub('"web1"', '"web2"'))

local h, digest, n = nil, nil, 0
local function saved_file(opts)
  n = n + 1
  local path = string.format("%s/web1-%d.sav", dir, n)
  local domid = assert(create.create(h, web1)).domid
  digest = h:info(domid).digest
  assert(save.save(h, "web1", path, opts))
  return path
end
local function names()
  local out = {}
  for _, info in ipairs(h:list()) do
    out[#out + 1] = info.name
  end
  return table.concat(out, " ")
end
-- A copy of path with the byte at offset (from the end when negative) changed.
local function damaged(path, offset)
  local bytes = helper.slurp(path)
  local at = offset < 0 and #bytes + offset + 1 or offset
  local copy = path .. ".damaged"
  helper.spit(copy, bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1))
  return copy
end

before_each(function()
  fake.reset()
  h = assert(fake.open())
end)

describe("restore policy", function()
  it("restores from the savefile alone: same memory, config stored from the file", function()
    local path = saved_file()
    assert.equal("Domain-0", names())
    local r = assert(restore.restore(h, path))
    assert.equal("web1", r.name)
    local info = h:info(r.domid)
    assert.equal(digest, info.digest)
    assert.same({ "running", 262144, 2 }, { info.state, info.memory_kb, info.vcpus })
    assert.equal(WEB1, h:store_get(r.domid, "source"))
    assert.equal("xl", h:store_get(r.domid, "format"))
    assert.equal("web1", json.decode(h:store_get(r.domid, "json")).c_info.name)
    assert.is_true(r.report.compatible)
    assert.same({}, r.report.differences)
  end)

  it("restores a compressed file", function()
    local r = assert(restore.restore(h, saved_file({ zstd = true })))
    assert.equal(digest, h:info(r.domid).digest)
  end)

  it("leaves the domain paused with -p", function()
    local r = assert(restore.restore(h, saved_file(), { paused = true }))
    assert.equal("paused", h:info(r.domid).state)
  end)

  it("takes a replacement config that moves a disk: allowed, reported, and stored", function()
    local r = assert(restore.restore(h, saved_file(), { config = moved }))
    assert.equal(digest, h:info(r.domid).digest)
    assert.equal(helper.slurp(moved), h:store_get(r.domid, "source"))
    local d = r.report.differences[1]
    assert.same({ "disks[0].pdev_path", "/srv/web1.img", "/mnt/new/web1.img", "allowed" },
      { d.path, d.old, d.new, d.verdict })
    assert.equal("/mnt/new/web1.img", json.decode(h:store_get(r.domid, "json")).disks[1].pdev_path)
  end)

  it("prepares and verifies without restoring (the -n dry run)", function()
    local plan = assert(restore.prepare(saved_file(), { config = bigger }))
    assert.is_false(plan.report.compatible)
    assert.equal("web1", plan.facts.name)
    assert.is_true(restore.verify(plan))
    assert.equal("Domain-0", names())
  end)

  it("reads a file xl wrote (no extensions, no trailer)", function()
    local path = dir .. "/xl.sav"
    helper.spit(path, sf.xl_file({ pages = 4, batch = 2 }))
    local r = assert(restore.restore(h, path))
    assert.equal("guest1", r.name)
    assert.is_nil(h:store_get(r.domid, "source"))
    assert.equal(sf.XL_CONFIG, h:store_get(r.domid, "json"))
  end)

  describe("refuses", function()
    it("an incompatible replacement config (INCOMPATIBLE), unless forced", function()
      local path = saved_file()
      local r, msg, code = restore.restore(h, path, { config = bigger })
      assert.is_nil(r)
      assert.equal("INCOMPATIBLE", code)
      assert.is_string(msg)
      assert.equal("Domain-0", names())
      assert.equal(0, fake.calls("restore"))
      r = assert(restore.restore(h, path, { config = bigger, force = true }))
      assert.equal(512 * 1024, h:info(r.domid).memory_kb)
    end)

    it("a uuid that already runs (UUIDTAKEN): a stale image of a running domain, whatever its name", function()
      local path = saved_file({ checkpoint = true })
      local r, msg, code = restore.restore(h, path)
      assert.is_nil(r)
      assert.equal("UUIDTAKEN", code)
      assert.matches("web1", msg)
      r, _, code = restore.restore(h, path, { config = renamed })
      assert.is_nil(r)
      assert.equal("UUIDTAKEN", code)
      assert.equal("Domain-0 web1", names())
      assert.equal(0, fake.calls("restore"))
    end)

    it("a name that is taken (EXISTS), as xl does", function()
      local path = saved_file()
      assert(h:create({ name = "web1", memory_kb = 1024 })) -- another domain, its own uuid
      local r, _, code = restore.restore(h, path)
      assert.is_nil(r)
      assert.equal("EXISTS", code)
      assert.equal("Domain-0 web1", names())
      assert(restore.restore(h, path, { config = renamed }))
      assert.equal("Domain-0 web1 web2", names())
    end)

    it("a damaged stream before the domain runs (BADTRAILER)", function()
      local bad = damaged(saved_file(), -2000)
      local r, _, code = restore.restore(h, bad)
      assert.is_nil(r)
      assert.equal("BADTRAILER", code)
      assert.equal("Domain-0", names())
    end)

    it("a cut file (TRUNCATED)", function()
      local path = saved_file()
      local bytes = helper.slurp(path)
      helper.spit(path, bytes:sub(1, #bytes - 6000))
      local r, _, code = restore.restore(h, path)
      assert.is_nil(r)
      assert.equal("TRUNCATED", code)
      assert.equal("Domain-0", names())
    end)

    it("a damaged file in the dry run", function()
      local plan = assert(restore.prepare(damaged(saved_file(), -2000)))
      local ok, _, code = restore.verify(plan)
      assert.is_nil(ok)
      assert.equal("BADTRAILER", code)
    end)

    it("a file that is not a savefile (BADMAGIC) and a missing one (ENOENT)", function()
      local _, _, code = restore.prepare(cfg("junk.sav", string.rep("x", 100)))
      assert.equal("BADMAGIC", code)
      _, _, code = restore.prepare(dir .. "/nope.sav")
      assert.equal("ENOENT", code)
    end)

    it("a file without a config when none is given (NOCONFIG)", function()
      local path = dir .. "/noconfig.sav"
      local optional = sf.optional_data("", false)
      helper.spit(path, sf.header(sf.STREAMV2, 0, #optional) .. optional .. sf.stream({ pages = 2 }))
      local _, _, code = restore.prepare(path)
      assert.equal("NOCONFIG", code)
      -- with a config it restores
      assert(restore.restore(h, path, { config = web1 }))
    end)

    it("a stored config that is not libxl JSON", function()
      local path = dir .. "/badjson.sav"
      local optional = sf.optional_data("{not json", true)
      helper.spit(path, sf.header(sf.JSON | sf.STREAMV2, 0, #optional) .. optional .. sf.stream({ pages = 2 }))
      local _, _, code = restore.prepare(path)
      assert.equal("BADJSON", code)
    end)

    for _, case in ipairs({
      { "a c_info that is not an object", '{"c_info":5}' },
      { "an integer field that is a string", '{"c_info":{"name":"x"},"b_info":{"max_memkb":"x"}}' },
      { "a device list of non-objects", '{"c_info":{"name":"x"},"disks":[5]}' },
    }) do
      it("a stored config with " .. case[1] .. " (BADCONFIG), nothing restored", function()
        local path = dir .. "/shape.sav"
        local optional = sf.optional_data(case[2], true)
        helper.spit(path, sf.header(sf.JSON | sf.STREAMV2, 0, #optional) .. optional .. sf.stream({ pages = 2 }))
        local r, _, code = restore.restore(h, path)
        assert.is_nil(r)
        assert.equal("BADCONFIG", code)
        assert.equal("Domain-0", names())
      end)
    end

    it("a replacement config without a uuid keeps the saved domain's", function()
      local path = saved_file()
      local plan = assert(restore.prepare(path, { config = moved }))
      restore.close(plan)
      local saved_uuid = plan.saved.libxl.c_info.uuid
      assert.is_string(saved_uuid)
      assert.equal(saved_uuid, plan.wanted.libxl.c_info.uuid)
      assert.equal(saved_uuid, json.decode(plan.wanted.json).c_info.uuid)
      assert.is_true(plan.report.compatible)
    end)

    it("a replacement with another uuid is incompatible", function()
      local other = cfg("web1-uuid.cfg", WEB1 .. 'uuid = "00000000-1111-4222-8333-444444444444"\n')
      local plan = assert(restore.prepare(saved_file(), { config = other }))
      restore.close(plan)
      assert.is_false(plan.report.compatible)
    end)

    it("a bad replacement config", function()
      local _, _, code = restore.prepare(saved_file(), { config = dir .. "/missing.cfg" })
      assert.equal("ENOENT", code)
      _, _, code = restore.prepare(saved_file(), { config = cfg("noname.cfg", "kernel = \"/k\"\nmemory = 256\n") })
      assert.equal("BADVALUE", code)
    end)
  end)

  describe("the domain's lock", function()
    it("is held while the restore runs, and refuses a restore of a domain another command holds (BUSY)", function()
      local path = saved_file()
      local uuid = assert(restore.prepare(path)).facts.uuid
      local lock = assert(h:lock(uuid, "save of web1"))
      local r, msg, code = restore.restore(h, path)
      assert.is_nil(r)
      assert.equal("BUSY", code)
      assert.matches("save of web1", msg)
      assert.equal("Domain-0", names())
      lock:unlock()
      local held
      r = assert(restore.restore(h, path, { progress = function() held = fake.locked(uuid) end }))
      assert.is_true(held)
      assert.is_false(fake.locked(uuid))
      assert.equal("web1", r.name)
    end)
  end)

  it("destroys a domain already built when an error (a signal) is raised before it is kept", function()
    local path = saved_file()
    local store_put = fake.Handle.store_put_many
    fake.Handle.store_put_many = function()
      error("interrupted by SIGTERM!", 0)
    end
    local ok, e = pcall(restore.restore, h, path)
    fake.Handle.store_put_many = store_put
    assert.is_false(ok)
    assert.equal("interrupted by SIGTERM!", e)
    assert.equal("Domain-0", names())
  end)

  it("refuses a name with a NUL byte in the savefile's config (BADCONFIG)", function()
    local path = saved_file()
    local plan = assert(restore.prepare(path))
    restore.close(plan)
    local libxl = plan.wanted.libxl
    libxl.c_info.name = "web\0evil"
    local bad = dir .. "/nul.json"
    helper.spit(bad, json.encode(libxl))
    local r, _, code = restore.prepare(path, { config = bad })
    assert.is_nil(r)
    assert.equal("BADCONFIG", code)
  end)

  it("lets an error raised by the progress callback (Ctrl-C) go on, leaving no domain", function()
    local path = saved_file()
    local ok, e = pcall(restore.restore, h, path, {
      progress = function()
        error("interrupted!", 0)
      end,
    })
    assert.is_false(ok)
    assert.equal("interrupted!", e)
    assert.equal("Domain-0", names())
  end)

  it("passes a backend failure through, leaving no domain", function()
    fake.fail("restore", "no memory", "ENOMEM", { after = 2 })
    local r, _, code = restore.restore(h, saved_file())
    assert.is_nil(r)
    assert.equal("ENOMEM", code)
    assert.equal("Domain-0", names())
  end)

  it("destroys the domain when its config cannot be stored", function()
    local path = saved_file()
    fake.fail("store_put_many", "store full", "ENOSPC")
    local r, _, code = restore.restore(h, path)
    assert.is_nil(r)
    assert.equal("ENOSPC", code)
    assert.equal("Domain-0", names())
  end)
end)
