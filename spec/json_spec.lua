-- xlua.json: stable encoding (sorted keys), arrays, escapes, and re-indenting in place.
local json = require("xlua.json")

describe("xlua.json", function()
  it("sorts object keys so the same value always gives the same text", function()
    assert.equal('{"a":1,"b":[1,2],"c":{"x":true}}', json.encode({ c = { x = true }, a = 1, b = { 1, 2 } }))
  end)

  it("writes integers as integers, floats as floats, and slashes plainly as libxl does", function()
    assert.equal('[3,0.5,"/dev/vg0/web1"]', json.encode({ 3, 0.5, "/dev/vg0/web1" }))
  end)

  it("keeps backslashes next to slashes intact", function()
    local s = "a\\/b\\"
    assert.equal(s, json.decode(json.encode({ s }))[1])
  end)

  it("encodes an empty table as an object unless marked as an array", function()
    assert.equal("{}", json.encode({}))
    assert.equal("[]", json.encode(json.array()))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.encode({ f = print }) end)
    assert.has_error(function() json.encode({ 0 / 0 }) end)
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end)
  end)

  it("indents nested values", function()
    assert.equal('{\n  "a": [\n    1\n  ]\n}', json.encode({ a = { 1 } }, { indent = "  " }))
  end)

  it("decodes, or returns nil, message, BADJSON", function()
    assert.same({ a = 1 }, json.decode('{"a":1}'))
    local v, err, code = json.decode("{")
    assert.is_nil(v)
    assert.is_string(err)
    assert.equal("BADJSON", code)
  end)

  it("re-indents JSON text keeping its key order, and leaves invalid text alone", function()
    assert.equal('{\n  "z": 1,\n  "a": {},\n  "s": "x,{y}"\n}', json.pretty('{"z":1,"a":{},"s":"x,{y}"}'))
    assert.equal("{oops", json.pretty("{oops"))
  end)
end)
