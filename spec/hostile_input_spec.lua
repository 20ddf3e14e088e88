-- Input made to hurt: savefiles, configs and domain names holding terminal controls and bytes
-- that are not UTF-8, a damaged trailer, configs that never end, configs from pipes.
local helper = require("support.helper")
local sf = require("support.savefiles")
local sim = require("support.sim")
local json = require("xlua.json")
local printable = require("xlua.printable")
local q = helper.shell_quote

-- Text a terminal shows and never obeys: no C0 control but newline and tab, no DEL, no C1,
-- no bidirectional override, valid UTF-8.
local function assert_safe(text)
  assert.is_nil(text:find("[\0-\8\11-\31\127]"), "a control byte in: " .. printable.escape(text))
  assert.is_nil(text:find("\194[\128-\159]"), "a C1 control in: " .. printable.escape(text))
  assert.is_nil(text:find("\226\128[\168-\174]"), "a bidi control in: " .. printable.escape(text))
  assert.is_true(printable.is_utf8(text), "not UTF-8: " .. printable.escape(text))
end

local EVIL = "\27]0;pwned\7\27[2J\194\155\255\254\226\128\174"

-- `bash -c script` (process substitution needs bash) in s's environment: stdout, stderr, status.
local function bash(s, script)
  local dir = helper.tmpdir()
  local env = {}
  for k, v in pairs(s.env) do
    env[#env + 1] = k .. "=" .. q(v)
  end
  local cmd = string.format("%s X=%s bash -c %s </dev/null >%s/out 2>%s/err", table.concat(env, " "),
    q(helper.xlua), q(script), dir, dir)
  local _, _, code = os.execute(cmd)
  return helper.slurp(dir .. "/out"), helper.slurp(dir .. "/err"), code
end

local dir = helper.tmpdir()
local crafted = dir .. "/crafted.sav"
local crafted_config = sf.XL_CONFIG:gsub('"name": "guest1",',
  '"name": "guest1",\n        "ssid_label": "' .. EVIL .. '",')
sf.write(crafted, {
  config = crafted_config,
  extensions = {
    { tag = 1, data = "# " .. EVIL .. "\r\nname = 'guest1'\n" },
    { tag = 2, data = "xl" .. EVIL },
    { tag = 3, data = json.encode({ name = "guest1", host = EVIL }) },
  },
})
-- an old xl file: the config is xl.cfg text
local crafted_xl = dir .. "/crafted-xl.sav"
sf.write(crafted_xl, { json = false, config = 'name = "guest1" # ' .. EVIL .. "\n" })

describe("terminal safety", function()
  it("inspect escapes the source, its format, META and the config from the file", function()
    for _, path in ipairs({ crafted, crafted_xl }) do
      local out, err, code = helper.run({ "inspect", path })
      assert.equal(0, code, err)
      assert_safe(out)
      assert_safe(err)
    end
    local out = helper.run({ "inspect", crafted })
    assert.matches(") xl\\x1b]0;pwned\\x07\\x1b[2J\\u009b\\xff\\xfe\\u202e\n", out, 1, true)
    assert.matches("\\x1b[2J\\u009b\\xff\\xfe\\u202e\\r\nname = 'guest1'", out, 1, true)
    -- the JSON config stays valid JSON, its strings' controls as \u escapes
    local config = out:match("%-%-%- config %(json%) %-%-%-\n(.-)\n\n")
    assert.equal(EVIL:gsub("\255\254", "\u{fffd}\u{fffd}"), assert(json.decode(config)).c_info.ssid_label)
  end)

  it("inspect --json is valid UTF-8 JSON with nothing a terminal obeys", function()
    local out, _, code = helper.run({ "inspect", "--json", crafted })
    assert.equal(0, code)
    assert_safe(out)
    local facts = assert(json.decode(out))
    assert.equal("xl\27]0;pwned\7\27[2J\194\155\u{fffd}\u{fffd}\226\128\174", facts.extensions[2].data)
  end)

  it("inspect and verify escape the file name", function()
    local named = dir .. "/a\27[2Jb.sav"
    helper.spit(named, helper.slurp(crafted))
    local out, err, code = helper.run({ "inspect", named })
    assert.equal(0, code)
    assert_safe(out)
    out, err, code = helper.run({ "verify", named })
    assert.equal(0, code)
    assert_safe(out)
    helper.spit(named, "not a savefile at all, but long enough to hold a header of 48 bytes")
    out, err, code = helper.run({ "verify", named })
    assert.equal(2, code)
    assert_safe(err)
  end)

  it("config prints a stored config from a crafted savefile escaped, its JSON still valid", function()
    local s = sim.new()
    local _, err, code = s.x({ "restore", crafted })
    assert.equal(0, code, err)
    local out
    out, err, code = s.x({ "config", "guest1" })
    assert.equal(0, code, err)
    assert_safe(out)
    assert.matches("# \\x1b]0;pwned", out, 1, true)
    out, err, code = s.x({ "config", "--json", "guest1" })
    assert.equal(0, code, err)
    assert_safe(out)
    assert.equal("guest1", assert(json.decode(out)).c_info.name)
  end)

  it("list escapes domain names; list --json is valid UTF-8 and names the bytes", function()
    local s = sim.new()
    local name = "ev\255\254\194\155il"
    local cfg = s.file("n.cfg", 'name = "ev\\xff\\xfe\\xc2\\x9bil"\nmemory = 64\nkernel = "/k"\n')
    local _, err, code = s.x({ "create", cfg })
    assert.equal(0, code, err)
    local out
    out, err, code = s.x({ "list" })
    assert.equal(0, code, err)
    assert_safe(out)
    assert.matches("ev\\xff\\xfe\\u009bil", out, 1, true)
    out, err, code = s.x({ "list", "--json" })
    assert.equal(0, code, err)
    assert_safe(out)
    local list = assert(json.decode(out))
    assert.equal("ev\u{fffd}\u{fffd}\194\155il", list[2].name)
    assert.equal((name:gsub(".", function(c) return string.format("%02x", c:byte()) end)), list[2].name_hex)
    assert.is_nil(list[1].name_hex)
    out, err, code = s.x({ "list", "-l" })
    assert.equal(0, code, err)
    assert_safe(out)
    assert(json.decode(out))
  end)

  it("parse writes controls and bytes that are not UTF-8 as \\xHH, which read back the same", function()
    local path = dir .. "/p.cfg"
    helper.spit(path, 'x = "a\\x1b\\xc2\\x9b\\xffb"\n')
    local out, err, code = helper.run({ "parse", path })
    assert.equal(0, code, err)
    assert_safe(out)
    assert.equal('x = "a\\x1b\\xc2\\x9b\\xffb"\n', out)
    out, err, code = helper.run({ "parse", "--json", path })
    assert.equal(0, code, err)
    assert_safe(out)
  end)

  it("convert --cfg escapes the strings of a crafted libxl JSON", function()
    local path = dir .. "/c.json"
    helper.spit(path, crafted_config)
    local out, err, code = helper.run({ "convert", "--cfg", path })
    assert.equal(0, code, err)
    assert_safe(out)
  end)

  it("convert escapes warnings that name a key of a Lua config", function()
    local path = dir .. "/w.lua"
    helper.spit(path, 'return { name = "w", memory = 64, kernel = "/k", ["bogus\\27[2J"] = 1 }\n')
    local out, err, code = helper.run({ "convert", path })
    assert.equal(0, code, err)
    assert_safe(out)
    assert_safe(err)
    assert.matches("bogus\\x1b[2J", err, 1, true)
  end)

  it("compat escapes paths and reasons taken from the configs", function()
    local a, b = dir .. "/a.json", dir .. "/b.json"
    helper.spit(a, (crafted_config:gsub('"b_info"', '"x\\u001b[2J": 1,\n    "b_info"')))
    helper.spit(b, (crafted_config:gsub('"b_info"', '"x\\u001b[2J": 2,\n    "b_info"')))
    local out, err, code = helper.run({ "compat", a, b })
    assert.is_true(code == 0 or code == 1, err)
    assert_safe(out)
    assert.matches("x\\x1b[2J", out, 1, true)
    out = helper.run({ "compat", "--json", a, b })
    assert_safe(out)
    assert(json.decode(out))
  end)
end)

describe("a damaged trailer", function()
  local bytes = helper.slurp(crafted)
  local bad = dir .. "/badhash.sav"
  local i = #bytes - 200 -- a stream byte, before the trailer: the hash no longer matches
  helper.spit(bad, bytes:sub(1, i - 1) .. string.char(bytes:byte(i) ~ 1) .. bytes:sub(i + 1))

  it("makes inspect exit 2 after showing everything, with BADTRAILER in its JSON", function()
    local out, err, code = helper.run({ "inspect", bad })
    assert.equal(2, code)
    assert.matches("DOES NOT MATCH", out)
    assert.matches("^xlua inspect: [^\n]+\n$", err)
    out, _, code = helper.run({ "inspect", "--json", bad })
    assert.equal(2, code)
    local facts = assert(json.decode(out))
    assert.equal("BADTRAILER", facts.error.code)
    assert.is_false(facts.trailer.matches)
    assert.is_table(facts.summary)
  end)

  it("makes verify exit 2, from a file or a pipe", function()
    local _, _, code = helper.run({ "verify", bad })
    assert.equal(2, code)
    _, _, code = helper.run({ "verify", "-" }, { stdin = helper.slurp(bad) })
    assert.equal(2, code)
    _, _, code = helper.run({ "inspect", "-" }, { stdin = helper.slurp(bad) })
    assert.equal(2, code)
  end)

  it("a trailer recording the wrong length is damage too", function()
    local wrong = dir .. "/badlen.sav"
    local n = #bytes
    -- the trailer: "XLUA-END", u64 length, 16-byte hash
    local len = string.unpack("<I8", bytes, n - 24 + 1)
    helper.spit(wrong, bytes:sub(1, n - 24) .. string.pack("<I8", len + 1) .. bytes:sub(n - 15))
    local out, _, code = helper.run({ "inspect", "--json", wrong })
    assert.equal(2, code)
    assert.equal("BADTRAILER", assert(json.decode(out)).error.code)
    _, _, code = helper.run({ "verify", wrong })
    assert.equal(2, code)
  end)
end)
