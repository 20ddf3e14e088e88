-- xlua.printable: text from files and domains made safe for a terminal, and UTF-8 checks.
local printable = require("xlua.printable")
local escape = printable.escape

describe("printable.escape", function()
  it("leaves plain text and valid UTF-8 letters as they are", function()
    assert.equal("web1 = \"x\" \\ ok", escape("web1 = \"x\" \\ ok"))
    assert.equal("caf\u{e9} \u{65e5}\u{672c} \u{1f600}", escape("caf\u{e9} \u{65e5}\u{672c} \u{1f600}"))
    assert.equal("", escape(""))
  end)

  it("escapes C0 controls, ESC and DEL", function()
    assert.equal("a\\x1b[2Jb", escape("a\27[2Jb"))
    assert.equal("\\x1b]0;pwned\\x07", escape("\27]0;pwned\7"))
    assert.equal("\\x00\\x01\\x7f", escape("\0\1\127"))
    assert.equal("a\\nb\\tc\\rd", escape("a\nb\tc\rd"))
  end)

  it("keeps newlines and tabs in multi-line text, and nothing else", function()
    assert.equal("a\nb\tc\\rd\\x1b[31m", escape("a\nb\tc\rd\27[31m", { multiline = true }))
  end)

  it("escapes C1 controls, line separators and bidirectional overrides", function()
    assert.equal("\\u009b2J", escape("\u{9b}2J"))
    assert.equal("\\u0085", escape("\u{85}"))
    assert.equal("a\\u202eb\\u2066c\\u2028", escape("a\u{202e}b\u{2066}c\u{2028}"))
  end)

  it("writes those as \\xHH bytes with bytes = true, as an xl.cfg string reads them back", function()
    assert.equal("\\xc2\\x9b2J \\xe2\\x80\\xae \\xff \\x1b \u{e9}", escape("\u{9b}2J \u{202e} \255 \27 \u{e9}", { bytes = true }))
    local cfg = require("xlua.cfg")
    local s = "a\u{9b}\u{202e}\255\27\u{e9}"
    local parsed = assert(cfg.parse('x = "' .. escape(s, { bytes = true }) .. '"\n'))
    assert.equal(s, parsed.values.x)
  end)

  it("escapes each byte of invalid UTF-8", function()
    assert.equal("\\xff\\xfe", escape("\255\254"))
    assert.equal("\\xc3(", escape("\195("))                 -- cut sequence
    assert.equal("\\xc0\\xaf", escape("\192\175"))            -- overlong "/"
    assert.equal("\\xed\\xa0\\x80", escape("\237\160\128"))   -- a surrogate
    assert.equal("\\xf4\\x90\\x80\\x80", escape("\244\144\128\128")) -- past U+10FFFF
    assert.equal("\\xe2\\x82", escape("\226\130"))            -- cut at the end
  end)

  it("gives only printable ASCII and valid UTF-8, whatever the input", function()
    local bytes = {}
    for b = 0, 255 do
      bytes[#bytes + 1] = string.char(b)
    end
    local all = table.concat(bytes)
    for _, s in ipairs({ all, all:reverse(), all:rep(3, "\226\130") }) do
      local out = escape(s)
      assert.is_true(printable.is_utf8(out))
      assert.is_nil(out:find("[%c\127]"))
      assert.is_nil(out:find("\194[\128-\159]"))
    end
  end)

  it("changes nothing when applied twice", function()
    local s = "\27[2J\255 caf\u{e9}\n\u{9b}\\x1b"
    assert.equal(escape(s), escape(escape(s)))
    assert.equal(escape(s, { multiline = true }), escape(escape(s, { multiline = true }), { multiline = true }))
  end)

  it("takes a number as its string, and raises on anything else", function()
    assert.equal("42", escape(42))
    assert.has_error(function() escape(nil) end)
    assert.has_error(function() escape({}) end)
    assert.has_error(function() escape("x", "multiline") end)
  end)
end)

describe("printable.is_utf8 and to_utf8", function()
  it("tells valid UTF-8 from invalid", function()
    assert.is_true(printable.is_utf8("plain"))
    assert.is_true(printable.is_utf8("caf\u{e9} \u{10ffff}"))
    assert.is_false(printable.is_utf8("\255"))
    assert.is_false(printable.is_utf8("\237\160\128"))
    assert.is_false(printable.is_utf8("ab\195"))
  end)

  it("replaces each invalid byte with U+FFFD and keeps the rest", function()
    assert.equal("\u{fffd}\u{fffd}", printable.to_utf8("\255\254"))
    assert.equal("a\u{fffd}b caf\u{e9}", printable.to_utf8("a\255b caf\u{e9}"))
    assert.equal("same", printable.to_utf8("same"))
  end)
end)
