-- xlua.cfg, the xl.cfg parser: values, order, +=, replacement, escapes, and every error path
-- with its line and column. (Equality with libxlutil is spec/c/test_cfg_diff.c's job.)
local helper = require("support.helper")
local cfg = require("xlua.cfg")

local fixtures = "spec/fixtures/cfg/"

local function names(parsed)
  local out = {}
  for i, s in ipairs(parsed.settings) do
    out[i] = s.name
  end
  return out
end

-- parse must fail with SYNTAX at "f.cfg:line:col: expected ..."; returns the message.
local function syntax_error(text, line, col)
  local parsed, msg, code = cfg.parse(text, "f.cfg")
  assert.is_nil(parsed)
  assert.equal("SYNTAX", code)
  assert.matches("^f%.cfg:" .. line .. ":" .. col .. ": expected ", msg)
  return msg
end

describe("xlua.cfg.parse", function()
  it("gives each setting's name, value, line and kind, in order, and a name -> value map", function()
    local parsed = assert(cfg.parse('name = "vm1"\nmemory = 0x200\n\ndisk = [ \'a\', "b" ]\n'))
    assert.same({
      { name = "name", value = "vm1", line = 1, kind = "string" },
      { name = "memory", value = "0x200", line = 2, kind = "number" },
      { name = "disk", value = { "a", "b" }, line = 4, kind = "list" },
    }, parsed.settings)
    assert.same({ name = "vm1", memory = "0x200", disk = { "a", "b" } }, parsed.values)
    assert.equal(parsed.settings[3].value, parsed.values.disk)
  end)

  it("keeps numbers as the text written", function()
    local v = assert(cfg.parse("a = 0755\nb = 0x1f\nc = 99999999999999999999\nd = 0x\ne = 9abc")).values
    assert.same({ a = "0755", b = "0x1f", c = "99999999999999999999", d = "0x", e = "9abc" }, v)
  end)

  it("gives nothing for an empty file, blank lines, comments and bare semicolons", function()
    for _, text in ipairs({ "", "\n\n", "# only\n#comments", ";;;\n;", "  \t \n" }) do
      local parsed = assert(cfg.parse(text))
      assert.same({}, parsed.settings)
      assert.same({}, parsed.values)
    end
  end)

  it("ends a setting at a newline, a semicolon, a comment or the end of the file", function()
    local parsed = assert(cfg.parse("a = 1; b = 2;c=3 # three\nd = 4\n# last comment, no newline"))
    assert.same({ "a", "b", "c", "d" }, names(parsed))
    assert.same({ 1, 1, 1, 2 }, { parsed.settings[1].line, parsed.settings[2].line,
      parsed.settings[3].line, parsed.settings[4].line })
    assert.equal("1", assert(cfg.parse("a = 1 # no newline")).values.a)
  end)

  it("accepts lists that span lines, hold comments, nest, and end with a comma", function()
    local parsed = assert(cfg.parse([[
disk = [
  'a', # first
  # a comment line
  'b'
  ,
  [ 1, [ ], [ [ 'x' ] ] ],
]
empty = [ ]
]]))
    assert.same({ "a", "b", { "1", {}, { { "x" } } } }, parsed.values.disk)
    assert.same({}, parsed.values.empty)
    assert.equal("list", parsed.settings[2].kind)
    assert.equal(8, parsed.settings[2].line)
  end)

  it("lets a later setting replace the earlier one, which moves to where it was last set", function()
    local parsed = assert(cfg.parse("a = 1\nb = 2\nc = 3\na = 'again'\nb = [2]\n"))
    assert.same({ "c", "a", "b" }, names(parsed))
    assert.same({ a = "again", b = { "2" }, c = "3" }, parsed.values)
    assert.same({ 3, 4, 5 }, { parsed.settings[1].line, parsed.settings[2].line, parsed.settings[3].line })
    assert.equal("string", parsed.settings[2].kind)
  end)

  describe("+=", function()
    it("appends to a string", function()
      local parsed = assert(cfg.parse("extra = 'console=hvc0'\nextra += ' quiet'\nextra += \"\"\n"))
      assert.same({ extra = "console=hvc0 quiet" }, parsed.values)
      assert.equal(3, parsed.settings[1].line)
    end)

    it("appends to a list, the earlier items first, nested lists kept whole", function()
      local parsed = assert(cfg.parse("d = [1]\nd += [2, [3]]\nd += []\nother = 0\nd += ['4']"))
      assert.same({ "1", "2", { "3" }, "4" }, parsed.values.d)
      assert.same({ "other", "d" }, names(parsed))
    end)

    it("sets a name not set before, and a string made by += is not a number", function()
      local parsed = assert(cfg.parse("a += 5\nb += [1]\nn = 1\nn += 2\nm = 3\nm += 4\nm = 7"))
      assert.same({ a = "5", b = { "1" }, n = "12", m = "7" }, parsed.values)
      local kinds = {}
      for _, s in ipairs(parsed.settings) do
        kinds[s.name] = s.kind
      end
      assert.same({ a = "string", b = "list", n = "string", m = "number" }, kinds)
    end)

    it("refuses to mix a list and a string, naming both lines", function()
      local msg = syntax_error("d = [1]\n\nd += 'x'", 3, 6)
      assert.matches("a list to add to 'd' %(a list since line 1%), found a string", msg)
      msg = syntax_error("s = 'x'\ns += [1]", 2, 6)
      assert.matches("a string to add to 's' %(a string since line 1%), found a list", msg)
      syntax_error("n = 1\nn += []", 2, 6)
    end)
  end)

  describe("strings", function()
    it("take single or double quotes, each holding the other", function()
      local v = assert(cfg.parse([[a = 'say "hi"'
b = "it's"
c = ''
d = "# not a comment; [not, a, list]"]])).values
      assert.same({ a = 'say "hi"', b = "it's", c = "", d = "# not a comment; [not, a, list]" }, v)
    end)

    it("process the escapes libxlutil accepts", function()
      local v = assert(cfg.parse([[e = '\\ \' \" \a \b \f \n \r \t \v']])).values
      assert.equal("\\ ' \" \a \b \f \n \r \t \v", v.e)
      v = assert(cfg.parse([[e = "\'\"" ]])).values
      assert.equal("'\"", v.e)
    end)

    it("turn \\NNN (octal, 1 to 3 digits) and \\xHH into their byte, as xl.cfg means", function()
      local v = assert(cfg.parse([[a = "\101\102\103"
b = 'x\7y'
c = '\12'
d = "\x41\x7e\x7E"
e = "\1234"
f = "\3770"]])).values
      assert.same({ a = "ABC", b = "x\7y", c = "\n", d = "A~~", e = "S4", f = "\255" .. "0" }, v)
    end)

    it("keep bytes that are not escapes, a carriage return and UTF-8 included", function()
      local v = assert(cfg.parse('a = "caf\xc3\xa9 \r \1"')).values
      assert.equal("caf\xc3\xa9 \r \1", v.a)
    end)
  end)

  describe("errors name the file, line and column and what was expected", function()
    local cases = {
      { "= 1", 1, 1, "a setting name, found '='" },
      { "a = 1\nName = 2", 2, 1, "a setting name, found 'N'" },
      { "a = 1\n  _x = 2", 2, 3, "a setting name, found '_'" },
      { "[1] = 2", 1, 1, "a setting name, found '%['" },
      { "memory 512", 1, 8, "'=' or '%+=' after 'memory', found the number 512" },
      { "memory\n= 512", 1, 7, "'=' or '%+=' after 'memory', found the end of the line" },
      { "memory =\n512", 1, 9, "a value after '=', found the end of the line" },
      { "memory = # none", 1, 10, "a value after '=', found a comment" },
      { "memory +=", 1, 10, "a value after '%+=', found the end of the file" },
      { "x = abc", 1, 5, "a value after '=', found the name 'abc'" },
      { "x = -1", 1, 5, "negative number must be quoted" },
      { "x = 1 + 2", 1, 7, "not Python" },
      { "x = 1.5", 1, 6, "';' or a new line after the value of 'x', found '%.'" },
      { "x = 'a' 'b'", 1, 9, "';' or a new line after the value of 'x', found a string" },
      { "x = 1 $", 1, 7, "found '%$'" },
      { "x = 1\r\ny = 2\r\n", 1, 6, "found a carriage return" },
      { "x = 1 \0", 1, 7, "found a NUL byte" },
      { "x = '\0'", 1, 6, "found a NUL byte" },
      { "x = 1\xff", 1, 6, "found the byte 0xff" },
      { "d = [1 2]", 1, 8, "',' or '%]' in the list, found the number 2" },
      { "d = [,]", 1, 6, "a value or '%]', found ','" },
      { "d = [1,,2]", 1, 8, "a value or '%]', found ','" },
      { "d = [1;2]", 1, 7, "',' or '%]' in the list, found ';'" },
      { "d = [\n  'a',\n", 3, 1, "a value or '%]', found the end of the file" },
      { "d = [[1]", 1, 9, "',' or '%]' in the list, found the end of the file" },
      { "d = ]", 1, 5, "a value after '=', found '%]'" },
      { "x = 'abc\ny = 1", 1, 5, "a closing ' for this string on its line, found the end of the line" },
      { 'x = "abc', 1, 5, 'a closing " for this string on its line, found the end of the file' },
      { "x = 'a\\\nb'", 1, 5, "a closing '" },
      { "a = 1\nb = 'x\\qy'", 2, 7, "an escape .*found '\\q'" },
      { "b = '\\x4'", 1, 6, "'\\x' without two hex digits" },
      { "b = '\\0'", 1, 6, "an escape of a non%-NUL byte" },
      { "b = '\\x00'", 1, 6, "an escape of a non%-NUL byte" },
      { "b = 'ab\\400'", 1, 8, "an octal escape of at most \\377" },
    }
    for _, case in ipairs(cases) do
      local text, line, col, want = case[1], case[2], case[3], case[4]
      it(string.format("%q", text), function()
        assert.matches(want, syntax_error(text, line, col))
      end)
    end

    it("lists nested deeper than cfg.max_depth", function()
      assert.equal(64, cfg.max_depth)
      local ok = "x = " .. string.rep("[", cfg.max_depth) .. string.rep("]", cfg.max_depth)
      assert.truthy(cfg.parse(ok))
      local deep = "x = " .. string.rep("[", cfg.max_depth + 1) .. string.rep("]", cfg.max_depth + 1)
      assert.matches("lists nested at most 64 deep", syntax_error(deep, 1, 5 + cfg.max_depth))
    end)

    it("names <string> when no filename is given", function()
      local _, msg = cfg.parse("x")
      assert.matches("^<string>:1:2: expected", msg)
    end)
  end)

  it("raises on argument mistakes", function()
    assert.has_error(function() cfg.parse() end)
    assert.has_error(function() cfg.parse({}) end)
    assert.has_error(function() cfg.parse("x = 1", {}) end)
    assert.has_error(function() cfg.parse_file() end)
  end)
end)

describe("xlua.cfg.parse_file", function()
  it("parses a file and names it in errors", function()
    local parsed = assert(cfg.parse_file(fixtures .. "append.cfg"))
    assert.equal("console=hvc0 root=/dev/xvda1 quiet", parsed.values.extra)
    local _, msg, code = cfg.parse_file(fixtures .. "bad-unclosed-list.cfg")
    assert.equal("SYNTAX", code)
    assert.matches("^" .. fixtures:gsub("%p", "%%%0") .. "bad%-unclosed%-list%.cfg:3:1: expected a value or '%]', found the name 'vif'", msg)
  end)

  it("accepts every realistic config of the corpus and rejects every bad-*.cfg", function()
    local p = io.popen("ls " .. fixtures)
    local count = 0
    for file in p:lines() do
      if file:match("%.cfg$") then
        count = count + 1
        local parsed, msg, code = cfg.parse_file(fixtures .. file)
        if file:match("^bad%-") then
          assert.is_nil(parsed, file)
          assert.equal("SYNTAX", code, file)
        else
          assert.truthy(parsed, msg)
        end
      end
    end
    p:close()
    assert.is_true(count >= 30)
  end)

  it("returns nil, message, code for files it cannot read", function()
    local parsed, msg, code = cfg.parse_file("/nonexistent/dir/x.cfg")
    assert.is_nil(parsed)
    assert.equal("ENOENT", code)
    assert.matches("/nonexistent/dir/x.cfg", msg, 1, true)
    parsed, msg, code = cfg.parse_file(helper.tmpdir())
    assert.is_nil(parsed)
    assert.equal("EISDIR", code)
  end)

  it("reads a file that is all one long list", function()
    local dir = helper.tmpdir()
    local items = {}
    for i = 1, 5000 do
      items[i] = string.format("'item%d'", i)
    end
    helper.spit(dir .. "/long.cfg", "l = [\n" .. table.concat(items, ",\n") .. "\n]\n")
    local parsed = assert(cfg.parse_file(dir .. "/long.cfg"))
    assert.equal(5000, #parsed.values.l)
    assert.equal("item5000", parsed.values.l[5000])
  end)
end)
