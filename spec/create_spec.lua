-- The create policy against the fake backend and the fake config module.
local helper = require("support.helper")
local fake = require("fakes.domain").install()
local create = require("xlua.create")
local json = require("xlua.json")

local dir = helper.tmpdir()
local web1 = dir .. "/web1.cfg"
helper.spit(web1, 'name = "web1"\nkernel = "/boot/vmlinuz"\nmemory = 256\nvcpus = 2\ndisk = [ "vdev=xvda,target=/srv/web1.img" ]\n')
local db1 = dir .. "/db1.lua"
helper.spit(db1, 'return { name = "db1", type = "pvh", kernel = "/boot/vmlinuz", memory = 512, maxmem = 1024, vcpus = 4 }\n')

local h
before_each(function()
  fake.reset()
  h = assert(fake.open("sim"))
end)

local function names()
  local out = {}
  for _, info in ipairs(h:list()) do
    out[#out + 1] = info.name
  end
  return out
end

describe("create policy", function()
  it("creates from an xl.cfg and stores the text, its format and the JSON", function()
    local r = assert(create.create(h, web1))
    assert.equal("web1", r.name)
    local info = assert(h:info(r.domid))
    assert.same({ "web1", "running", "pv", 256 * 1024, 256 * 1024, 2 },
      { info.name, info.state, info.type, info.memory_kb, info.max_memory_kb, info.vcpus })
    assert.equal(helper.slurp(web1), h:store_get(r.domid, "source"))
    assert.equal("xl", h:store_get(r.domid, "format"))
    local stored = json.decode(h:store_get(r.domid, "json"))
    assert.equal("web1", stored.c_info.name)
    assert.equal(256 * 1024, stored.b_info.target_memkb)
  end)

  it("creates from a Lua config", function()
    local r = assert(create.create(h, db1))
    local info = h:info(r.domid)
    assert.same({ "db1", "pvh", 512 * 1024, 1024 * 1024, 4 },
      { info.name, info.type, info.memory_kb, info.max_memory_kb, info.vcpus })
    assert.equal("lua", h:store_get(r.domid, "format"))
  end)

  it("applies key=value overrides and can leave the domain paused", function()
    local r = assert(create.create(h, web1, { overrides = { "memory=64", 'name="web2"' }, paused = true }))
    local info = h:info(r.domid)
    assert.same({ "web2", 64 * 1024, "paused" }, { info.name, info.memory_kb, info.state })
  end)

  it("prepares without creating (the -n dry run)", function()
    local plan = assert(create.prepare(web1))
    assert.equal("web1", json.decode(plan.json).c_info.name)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", plan.facts.uuid)
    plan.facts.uuid = nil
    assert.same({ name = "web1", type = "pv", memory_kb = 262144, max_memory_kb = 262144, vcpus = 2 }, plan.facts)
    assert.same({ "Domain-0" }, names())
  end)

  it("gives each domain its own domid", function()
    local a = assert(create.create(h, web1))
    local b = assert(create.create(h, db1))
    assert.are_not.equal(a.domid, b.domid)
  end)

  describe("refuses", function()
    it("a missing config file", function()
      local r, _, code = create.create(h, dir .. "/nope.cfg")
      assert.is_nil(r)
      assert.equal("ENOENT", code)
      assert.equal(0, fake.calls("create"))
    end)

    it("a config the parser rejects", function()
      local bad = dir .. "/bad.cfg"
      helper.spit(bad, "name = \n")
      local r, _, code = create.create(h, bad)
      assert.is_nil(r)
      assert.equal("SYNTAX", code)
      assert.equal(0, fake.calls("create"))
    end)

    it("a config without a name", function()
      local bad = dir .. "/noname.cfg"
      helper.spit(bad, "memory = 128\n")
      local _, _, code = create.create(h, bad)
      assert.equal("BADVALUE", code)
    end)

    it("a bad override", function()
      local _, _, code = create.create(h, web1, { overrides = { "memory" } })
      assert.equal("BADVALUE", code)
      assert.same({ "Domain-0" }, names())
    end)

    it("a name that is taken (EXISTS), creating nothing", function()
      assert(create.create(h, web1))
      local r, _, code = create.create(h, web1)
      assert.is_nil(r)
      assert.equal("EXISTS", code)
      assert.same({ "Domain-0", "web1" }, names())
    end)
  end)

  it("passes a backend failure through", function()
    fake.fail("create", "out of memory", "ENOMEM")
    local r, _, code = create.create(h, web1)
    assert.is_nil(r)
    assert.equal("ENOMEM", code)
    assert.same({ "Domain-0" }, names())
  end)

  it("destroys the domain when its config cannot be stored", function()
    fake.fail("store_put_many", "store full", "ENOSPC")
    local r, _, code = create.create(h, web1)
    assert.is_nil(r)
    assert.equal("ENOSPC", code)
    assert.same({ "Domain-0" }, names())
  end)

  it("passes a failure to read the config through", function()
    local _, _, code = create.create(h, "/nonexistent/web1.cfg")
    assert.equal("ENOENT", code)
    assert.same({ "Domain-0" }, names())
  end)
end)
