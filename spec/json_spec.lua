-- xlua.json: stable encoding (sorted keys), arrays, escapes, and re-indenting in place.
local json = require("xlua.json")

describe("xlua.json", function()
  it("has cjson's null, tells it apart without loading cjson, and encodes it", function()
    assert.equal(require("cjson").null, json.null)
    assert.is_true(json.is_null(json.decode("null")))
    assert.is_false(json.is_null(nil))
    assert.is_false(json.is_null(false))
    assert.equal('{"a":null}', json.encode({ a = json.null }))
  end)

  it("loads cjson only when a value needs it (decoding, a float, a string to escape)", function()
    local helper = require("support.helper")
    local probe = 'local j = require("xlua.json") '
      .. 'j.encode({ a = "b/c", n = 1, t = true, l = { "x" } }) local before = package.loaded.cjson == nil '
      .. 'j.is_null(1) j.encode({ "tab\\t" }) print(before, package.loaded.cjson ~= nil)'
    local out, err, code = helper.run({ "-e", probe })
    assert.equal(0, code, err)
    assert.equal("true\ttrue\n", out)
  end)

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

  it("always writes valid UTF-8: each invalid byte becomes U+FFFD, in values and keys", function()
    local printable = require("xlua.printable")
    local text = json.encode({ name = "\255\254", ["k\255"] = "caf\u{e9}\195" })
    assert.is_true(printable.is_utf8(text))
    assert.same({ name = "\u{fffd}\u{fffd}", ["k\u{fffd}"] = "caf\u{e9}\u{fffd}" }, json.decode(text))
  end)

  it("writes every control character, C1 and bidirectional control as \\u escapes", function()
    local s = "\27[2J\127\u{9b}\u{85}\u{2028}\u{202e}\u{2066}\u{e9}"
    local text = json.encode({ s })
    assert.equal('["\\u001b[2J\\u007f\\u009b\\u0085\\u2028\\u202e\\u2066\u{e9}"]', text)
    assert.equal(s, json.decode(text)[1])
    assert.is_nil(text:find("[%c\127]"))
  end)
end)
