-- spec/pretty_spec.lua: xlua.pretty, the value printer of the REPL.
local pretty = require "xlua.pretty"
local fmt = pretty.format

describe("xlua.pretty", function()
  describe("scalars", function()
    it("prints numbers as Lua prints them", function()
      assert.equal("1", fmt(1))
      assert.equal("1.0", fmt(1.0))
      assert.equal("-0.5", fmt(-0.5))
      assert.equal(tostring(math.mininteger), fmt(math.mininteger))
      assert.equal(tostring(1 / 0), fmt(1 / 0))
    end)

    it("prints nil and booleans", function()
      assert.equal("nil", fmt(nil))
      assert.equal("true", fmt(true))
      assert.equal("false", fmt(false))
    end)

    it("quotes strings on one line with escapes", function()
      assert.equal('"abc"', fmt("abc"))
      assert.equal('"a\\nb"', fmt("a\nb"))
      assert.equal('"tab\\there"', fmt("tab\there"))
      assert.equal('"q\\"b\\\\"', fmt('q"b\\'))
      assert.equal('"\\000\\0011"', fmt("\0\0011"))
    end)

    it("keeps valid UTF-8 and escapes stray high bytes", function()
      assert.equal('"h\u{e9}"', fmt("h\u{e9}"))
      assert.equal('"\\255"', fmt("\255"))
    end)

    it("produces literals that read back as the same bytes", function()
      local all = {}
      for b = 0, 255 do all[#all + 1] = string.char(b) end
      for _, s in ipairs({ table.concat(all), "plain", "\r\n\t\v\f\a\b", "9\0009" }) do
        local text = fmt(s)
        assert.is_nil(text:find("\n", 1, true))
        assert.equal(s, load("return " .. text)())
      end
    end)

    it("shows functions, userdata and self-describing tables by tostring", function()
      assert.equal(tostring(print), fmt(print))
      assert.equal(tostring(io.stdout), fmt(io.stdout))
      local obj = setmetatable({ secret = 1 }, { __tostring = function() return "OBJ<1>" end })
      assert.equal("OBJ<1>", fmt(obj))
      local named = setmetatable({}, { __name = "xlua.thing" })
      assert.equal(tostring(named), fmt(named))
      assert.equal("{x = OBJ<1>}", fmt({ x = obj }))
    end)

    it("survives a failing __tostring", function()
      local bad = setmetatable({}, { __tostring = function() error("nope") end })
      assert.is_string(fmt(bad))
      assert.is_string(fmt({ bad }))
    end)
  end)

  describe("tables", function()
    it("prints empty and short tables on one line", function()
      assert.equal("{}", fmt({}))
      assert.equal("{1, 2, 3}", fmt({ 1, 2, 3 }))
      assert.equal('{a = 1, b = "x"}', fmt({ b = "x", a = 1 }))
      assert.equal("{{1}, {2, {}}}", fmt({ { 1 }, { 2, {} } }))
    end)

    it("puts the array part first, then numbers, strings and other keys sorted", function()
      local t = { "one", "two", z = 1, a = 2, [10] = 3, [-1] = 4, [2.5] = 5, [true] = 6 }
      assert.equal('{"one", "two", [-1] = 4, [2.5] = 5, [10] = 3, a = 2, z = 1, [true] = 6}',
        fmt(t, { width = 200 }))
    end)

    it("brackets keys that are not identifiers", function()
      assert.equal('{["a b"] = 1, ["end"] = 2, ok_1 = 3}', fmt({ ["a b"] = 1, ["end"] = 2, ok_1 = 3 }))
      assert.equal('{["1x"] = true}', fmt({ ["1x"] = true }))
    end)

    it("goes multi-line with indentation when a table does not fit", function()
      local t = { name = string.rep("n", 40), list = { 1, 2, 3 }, deep = { path = string.rep("p", 70) } }
      local expected = table.concat({
        "{",
        "  deep = {",
        '    path = "' .. string.rep("p", 70) .. '",',
        "  },",
        "  list = {1, 2, 3},",
        '  name = "' .. string.rep("n", 40) .. '",',
        "}",
      }, "\n")
      assert.equal(expected, fmt(t))
    end)

    it("keeps every line of a nested table within the width when it can", function()
      local t = {}
      for i = 1, 5 do t["key" .. i] = { a = string.rep("x", 20), b = i } end
      for line in fmt(t):gmatch("[^\n]+") do
        assert.is_true(#line <= 72, line)
      end
    end)

    it("honours opts.width", function()
      assert.equal("{\n  1,\n  2,\n}", fmt({ 1, 2 }, { width = 4 }))
      assert.equal("{1, 2}", fmt({ 1, 2 }, { width = 6 }))
    end)

    it("cuts tables deeper than opts.depth (default 4)", function()
      local t = { a = { b = { c = { d = { e = {} } } } } }
      assert.equal("{a = {b = {c = {d = {...}}}}}", fmt(t))
      assert.equal("{a = {...}}", fmt(t, { depth = 1 }))
      assert.equal("{...}", fmt(t, { depth = 0 }))
      -- an empty table never hides anything
      assert.equal("{a = {}}", fmt({ a = {} }, { depth = 1 }))
    end)

    it("marks cycles and prints shared tables on each path", function()
      local t = { name = "root" }
      t.self = t
      t.child = { up = t }
      assert.equal('{child = {up = <cycle>}, name = "root", self = <cycle>}', fmt(t))
      local shared = { 1 }
      assert.equal("{{1}, {1}}", fmt({ shared, shared }))
    end)

    it("cuts long tables after opts.max_items with a count of the rest", function()
      local t = {}
      for i = 1, 150 do t[i] = i end
      local text = fmt(t)
      assert.truthy(text:find("-- 50 more", 1, true))
      assert.equal(100 + 3, select(2, text:gsub("\n", "\n")) + 1)
      assert.equal("{1, 2, 3, --[[ 147 more ]]}", fmt(t, { max_items = 3 }))
      local cut = fmt(t, { max_items = 3, width = 10 })
      assert.equal("{\n  1,\n  2,\n  3,\n  -- 147 more\n}", cut)
    end)

    it("reads the table raw: __index and __pairs are not consulted", function()
      local t = setmetatable({ 1 }, {
        __index = function() error("must not be called") end,
        __pairs = function() error("must not be called") end,
      })
      assert.equal("{1}", fmt(t))
    end)
  end)
end)
