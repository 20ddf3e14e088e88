-- xlua.config: libxl JSON of the wrong shape is BADCONFIG (never a Lua error later), overrides
-- with xl's semantics on both kinds of config, config.load_any and config.keep_identity.
local helper = require("support.helper")
local sf = require("support.savefiles")
local config = require("xlua.config")
local json = require("xlua.json")

local dir = helper.tmpdir()
local function file(name, text)
  local path = dir .. "/" .. name
  helper.spit(path, text)
  return path
end

local UUID = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
local XL = 'name = "web1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 256\n'
  .. 'disk = [ "vdev=xvda,target=/srv/a.img" ]\nextra = "console=hvc0"\n'
local LUA = 'name = "web1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 256\n'
  .. 'disk = { "vdev=xvda,target=/srv/a.img" }\nextra = "console=hvc0"\n'

-- Shapes the policies cannot work with, each a JSON text.
local BAD_SHAPES = {
  { "c_info not an object", '{"c_info":5}' },
  { "b_info not an object", '{"c_info":{"name":"x"},"b_info":[1,2]}' },
  { "an integer field as a string", '{"c_info":{"name":"x"},"b_info":{"max_memkb":"x"}}' },
  { "an integer field as a fraction", '{"c_info":{"name":"x"},"b_info":{"target_memkb":1.5}}' },
  { "a name that is not a string", '{"c_info":{"name":{}}}' },
  { "a device list that is not an array", '{"c_info":{"name":"x"},"disks":{"a":1}}' },
  { "a device that is not an object", '{"c_info":{"name":"x"},"disks":[5]}' },
  { "a device field of the wrong kind", '{"c_info":{"name":"x"},"nics":[{"mac":[1]}]}' },
  { "a bitmap that is not an array", '{"c_info":{"name":"x"},"b_info":{"avail_vcpus":"all"}}' },
  { "the HVM part not an object", '{"c_info":{"name":"x","type":"hvm"},"b_info":{"type.hvm":3}}' },
  { "a top-level array", '[1,2]' },
}

describe("config.from_json", function()
  for _, case in ipairs(BAD_SHAPES) do
    it("refuses " .. case[1] .. " (BADCONFIG)", function()
      local t, msg, code = config.from_json(case[2])
      assert.is_nil(t)
      assert.equal("BADCONFIG", code)
      assert.is_string(msg)
    end)
  end

  it("refuses empty text and text that is not JSON (BADJSON)", function()
    for _, text in ipairs({ "", "  \n", "{not json" }) do
      local t, _, code = config.from_json(text)
      assert.is_nil(t)
      assert.equal("BADJSON", code)
    end
  end)

  it("takes xl's own config, numbers as integers, null as absent", function()
    local t = assert(config.from_json(sf.XL_CONFIG))
    assert.equal(131072, t.b_info.max_memkb)
    assert.equal("integer", math.type(t.b_info.max_memkb))
    t = assert(config.from_json('{"c_info":{"name":"x","pool_name":null},"disks":[]}'))
    assert.is_nil(t.c_info.pool_name)
  end)
end)

describe("config.load overrides", function()
  for _, kind in ipairs({ { "xl.cfg", "web1.cfg", XL }, { "Lua", "web1.lua", LUA } }) do
    local path = file(kind[2], kind[3])

    it("on a " .. kind[1] .. " config: += appends to lists and strings, = replaces, in order", function()
      local c = assert(config.load(path, {
        'disk += [ "vdev=xvdb,target=/srv/b.img" ]', 'extra += " quiet"', "memory = 128", "memory = 512",
      }))
      assert.same({ "vdev=xvda,target=/srv/a.img", "vdev=xvdb,target=/srv/b.img" }, c.values.disk)
      assert.equal("console=hvc0 quiet", c.values.extra)
      assert.equal(2, #c.libxl.disks)
      assert.equal(512 * 1024, c.libxl.b_info.max_memkb)
    end)

    it("on a " .. kind[1] .. " config: += sets an unset name, and mixing a list and a string is SYNTAX", function()
      local c = assert(config.load(path, { 'cmdline += "x"' }))
      assert.equal("x", c.values.cmdline)
      local bad, _, code = config.load(path, { 'disk += "vdev=xvdb"' })
      assert.is_nil(bad)
      assert.equal("SYNTAX", code)
    end)

    it("on a " .. kind[1] .. " config: a syntax error names the override, not the file", function()
      local bad, msg, code = config.load(path, { "memory = 128", 'name = "unterminated' })
      assert.is_nil(bad)
      assert.equal("SYNTAX", code)
      assert.truthy(msg:find("<command line>", 1, true))
      assert.is_nil(msg:find(path, 1, true))
    end)
  end

  it("refuses an override that is not key=value (BADVALUE)", function()
    local _, _, code = config.load(file("o.cfg", XL), { "memory" })
    assert.equal("BADVALUE", code)
  end)
end)

describe("config.load_any", function()
  local xl = file("any.cfg", XL)
  local lua = file("any.lua", LUA)
  local js = file("any.json", sf.XL_CONFIG)
  local sav = dir .. "/any.sav"
  sf.write(sav, {})

  it("tells a savefile, libxl JSON, xl.cfg and Lua apart", function()
    for _, case in ipairs({ { sav, "savefile", "guest1" }, { js, "json", "guest1" }, { xl, "xl", "web1" },
      { lua, "lua", "web1" } }) do
      local c = assert(config.load_any(case[1]))
      assert.same({ case[2], case[3] }, { c.kind, c.libxl.c_info.name })
      assert.is_string(c.json)
    end
  end)

  it("fails with the code of what is wrong", function()
    local noconfig = dir .. "/noconfig.sav"
    local optional = sf.optional_data("", false)
    helper.spit(noconfig, sf.header(sf.STREAMV2, 0, #optional) .. optional .. sf.stream({ pages = 2 }))
    local badshape = dir .. "/badshape.sav"
    sf.write(badshape, { config = '{"c_info":5}' })
    for _, case in ipairs({
      { dir .. "/missing.cfg", "ENOENT" },
      { dir, "EISDIR" },
      { file("bad.json", '{"c_info":'), "BADJSON" },
      { file("shape.json", '{"c_info":{"name":"x"},"disks":[5]}'), "BADCONFIG" },
      { noconfig, "NOCONFIG" },
      { badshape, "BADCONFIG" },
      { file("syntax.cfg", 'name = "x\n'), "SYNTAX" },
    }) do
      local c, msg, code = config.load_any(case[1])
      assert.is_nil(c, case[1])
      assert.equal(case[2], code, msg)
    end
  end)
end)

describe("config.keep_identity", function()
  it("gives a config without a uuid the domain's, and keeps a config's own", function()
    local without = assert(config.load(file("nouuid.cfg", XL)))
    config.keep_identity(without, UUID)
    assert.equal(UUID, without.libxl.c_info.uuid)
    local own = assert(config.load(file("uuid.cfg", XL .. 'uuid = "00000000-1111-4222-8333-444444444444"\n')))
    config.keep_identity(own, UUID)
    assert.equal("00000000-1111-4222-8333-444444444444", own.libxl.c_info.uuid)
  end)

  it("updates the JSON text of what load_any returned", function()
    local c = assert(config.load_any(file("nouuid.json", '{"c_info":{"name":"x"}}')))
    config.keep_identity(c, UUID)
    assert.equal(UUID, json.decode(c.json).c_info.uuid)
  end)
end)
