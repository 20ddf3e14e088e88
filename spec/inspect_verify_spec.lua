-- The inspect and verify commands as a person runs them: output, JSON, pipes, exit codes.
local helper = require("support.helper")
local sf = require("support.savefiles")
local json = require("xlua.json")
local run = helper.run

local dir = helper.tmpdir()
local xl_path = dir .. "/xl.sav"
helper.spit(xl_path, sf.xl_file({ pages = 10, batch = 4 }))
local xlua_path = dir .. "/xlua.sav"
sf.write(xlua_path, {
  zstd = true,
  extensions = {
    { tag = 1, data = 'name = "guest1"\n' },
    { tag = 2, data = "xl" },
    { tag = 3, data = '{"name":"guest1","domid":3}' },
  },
})

describe("xlua inspect", function()
  it("shows every header field, the flags by name, the config and the stream summary", function()
    local out, err, code = run({ "inspect", xl_path })
    assert.equal(0, code, err)
    assert.matches("mandatory flags +0x00000003 JSON STREAMv2", out)
    assert.matches("optional flags +0x00000000", out)
    assert.matches("optional data +" .. (4 + #sf.XL_CONFIG + 1) .. " bytes", out)
    assert.matches("config +libxl JSON, " .. (#sf.XL_CONFIG + 1) .. " bytes", out)
    assert.matches("libxl v2 %(little%), libxc v3, x86 PV, page size 4096, Xen 4%.17", out)
    assert.matches("PAGE_DATA 3", out)
    assert.matches("pages +13", out)
    assert.matches("trailer +none", out)
    assert.matches('"name": "guest1"', out, 1, true)
  end)

  it("shows the extension entries and the source of a file xlua wrote", function()
    local out, err, code = run({ "inspect", xlua_path })
    assert.equal(0, code, err)
    assert.matches("JSON STREAMv2 ZSTD", out)
    assert.matches("SOURCE_FORMAT %(2 bytes%) xl", out)
    assert.matches('META %(%d+ bytes%) {"domid":3,"name":"guest1"}', out)
    assert.matches('--- source as written ---\nname = "guest1"', out, 1, true)
    assert.matches("trailer +found, matches", out)
    assert.matches("after zstd decompression", out)
  end)

  it("prints one JSON object with the same facts", function()
    local out, _, code = run({ "inspect", "--json", xlua_path })
    assert.equal(0, code)
    local facts = assert(json.decode(out))
    assert.equal(0x80000003, facts.header.mandatory_flags)
    assert.equal("json", facts.config.format)
    assert.equal(sf.XL_CONFIG, facts.config.text)
    assert.equal("SOURCE", facts.extensions[1].name)
    assert.equal(3, facts.extensions[3].meta.domid)
    assert.equal(13, facts.summary.pages)
    assert.is_true(facts.trailer.matches)
    assert.is_nil(facts.error)
  end)

  it("gives the same JSON twice (stable key order)", function()
    local a = run({ "inspect", "--json", xl_path })
    local b = run({ "inspect", "--json", xl_path })
    assert.equal(a, b)
  end)

  it("reads from a pipe", function()
    local out, _, code = run({ "inspect", "-" }, { stdin = helper.slurp(xl_path) })
    assert.equal(0, code)
    assert.matches("PAGE_DATA 3", out)
  end)

  it("shows what it could read of a damaged file, then the error, exit 2", function()
    local bytes = helper.slurp(xl_path)
    local cut = dir .. "/cut.sav"
    helper.spit(cut, bytes:sub(1, #bytes - 100))
    local out, err, code = run({ "inspect", cut })
    assert.equal(2, code)
    assert.matches("mandatory flags", out)
    assert.matches('"name": "guest1"', out, 1, true)
    assert.matches("^xlua inspect: [^\n]*cut%.sav[^\n]*\n$", err)
    local jout = run({ "inspect", "--json", cut })
    local facts = assert(json.decode(jout))
    assert.equal("TRUNCATED", facts.error.code)
    assert.equal(3, facts.header.mandatory_flags)
  end)

  it("fails with a usage line on bad arguments", function()
    local _, err, code = run({ "inspect" })
    assert.equal(2, code)
    assert.matches("usage: xlua inspect", err)
    _, err, code = run({ "inspect", "--bogus", xl_path })
    assert.equal(2, code)
    assert.matches("unknown option", err)
  end)
end)

describe("xlua verify", function()
  it("accepts a whole file with or without a trailer", function()
    local out, _, code = run({ "verify", xl_path })
    assert.equal(0, code)
    assert.matches("ok %(no trailer%)", out)
    out, _, code = run({ "verify", xlua_path })
    assert.equal(0, code)
    assert.matches("ok %(trailer matches%)", out)
  end)

  it("verifies a file read from a pipe", function()
    local _, _, code = run({ "verify", "-" }, { stdin = helper.slurp(xlua_path) })
    assert.equal(0, code)
  end)

  it("refuses a damaged file with one line naming the file and the offset, exit 2", function()
    local bytes = helper.slurp(xl_path)
    local cut = dir .. "/cut2.sav"
    helper.spit(cut, bytes:sub(1, 300))
    local out, err, code = run({ "verify", cut })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^xlua verify: [^\n]*cut2%.sav[^\n]*%d[^\n]*\n$", err)
  end)

  it("refuses a missing file, exit 2", function()
    local _, err, code = run({ "verify", dir .. "/nope.sav" })
    assert.equal(2, code)
    assert.matches("nope.sav", err, 1, true)
  end)
end)
