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

describe("config size and pipes", function()
  local config = require("xlua.config")
  local s = sim.new()
  local cfg = s.file("a.cfg", 'name = "web1"\nmemory = 128\nkernel = "/boot/k"\n')

  it("caps every config at 1 MiB: TOOBIG", function()
    assert.equal(1048576, config.MAX_SIZE)
    local big = dir .. "/big.cfg"
    helper.spit(big, "# " .. string.rep("x", config.MAX_SIZE) .. "\n")
    for _, load in ipairs({ config.load, config.load_any, config.read }) do
      local v, _, code = load(big)
      assert.is_nil(v)
      assert.equal("TOOBIG", code)
    end
    local v, _, code = config.load("/dev/zero")
    assert.is_nil(v)
    assert.equal("TOOBIG", code)
    v, _, code = config.load_any("/dev/zero")
    assert.is_nil(v)
    assert.equal("TOOBIG", code)
    local json_big = dir .. "/big.json"
    helper.spit(json_big, "{" .. string.rep(" ", config.MAX_SIZE) .. "}")
    v, _, code = config.load_any(json_big)
    assert.equal("TOOBIG", code)
    local lua_big = dir .. "/big.lua"
    helper.spit(lua_big, "return {}" .. string.rep(" ", config.MAX_SIZE))
    v, _, code = config.load(lua_big)
    assert.equal("TOOBIG", code)
    -- exactly the cap is a config
    local at_cap = dir .. "/cap.cfg"
    local body = 'name = "web1"\nmemory = 128\nkernel = "/boot/k"\n'
    helper.spit(at_cap, body .. "#" .. string.rep("x", config.MAX_SIZE - #body - 2) .. "\n")
    assert(config.load(at_cap))
  end)

  it("refuses /dev/zero and a sparse 10 GB config with exit 2, promptly", function()
    local sparse = dir .. "/sparse.cfg"
    os.execute("truncate -s 10G " .. q(sparse))
    for _, args in ipairs({
      { "create", "-n", "/dev/zero" }, { "create", "-n", sparse }, { "convert", "/dev/zero" },
      { "compat", "/dev/zero", cfg }, { "compat", cfg, sparse }, { "restore", "-n", "/dev/zero", crafted },
      { "convert", "--cfg", "/dev/zero" }, { "parse", "/dev/zero" },
    }) do
      local _, err, code = s.x(args)
      assert.equal(2, code, table.concat(args, " ") .. ": " .. err)
    end
    local _, _, code = s.x({ "parse", "-" }, { stdin = string.rep("#", config.MAX_SIZE + 1) })
    assert.equal(2, code)
    _, _, code = s.x({ "convert", "--cfg", "-" }, { stdin = string.rep(" ", config.MAX_SIZE + 1) })
    assert.equal(2, code)
    os.remove(sparse)
  end)

  it("reads a config from a process substitution: create -n, compat, convert", function()
    local out, err, code = bash(s, '"$X" create -n <(cat ' .. q(cfg) .. ")")
    assert.equal(0, code, err)
    assert.equal("web1", assert(json.decode(out)).c_info.name)
    _, err, code = bash(s, '"$X" compat ' .. q(cfg) .. " <(sed s/128/256/ " .. q(cfg) .. ")")
    assert.equal(1, code, err) -- read and judged: more memory is incompatible
    _, err, code = bash(s, '"$X" compat ' .. q(cfg) .. " <(cat " .. q(cfg) .. ")")
    assert.equal(0, code, err)
    _, err, code = bash(s, '"$X" convert <(cat ' .. q(cfg) .. ")")
    assert.equal(0, code, err)
  end)

  it("reads restore -n's CONFIG and save's CONFIG from a process substitution", function()
    local _, err, code = s.x({ "create", cfg })
    assert.equal(0, code, err)
    local sav = s.root .. "/web1.sav"
    _, err, code = bash(s, '"$X" save web1 ' .. q(sav) .. " <(cat " .. q(cfg) .. ")")
    assert.equal(0, code, err)
    _, err, code = bash(s, '"$X" restore -n <(cat ' .. q(cfg) .. ") " .. q(sav))
    assert.equal(0, code, err)
    _, err, code = bash(s, '"$X" restore -n <(sed s/128/256/ ' .. q(cfg) .. ") " .. q(sav))
    assert.equal(1, code, err) -- read and judged: more memory is incompatible
  end)

  it("reads a fifo once, for every kind of config; a savefile on a pipe is ESPIPE", function()
    local fifo = dir .. "/fifo"
    local function fifo_of(path)
      os.remove(fifo)
      assert(os.execute("mkfifo " .. q(fifo)))
      os.execute("cat " .. q(path) .. " >" .. q(fifo) .. " &")
      return fifo
    end
    local loaded = assert(config.load(fifo_of(cfg)))
    assert.equal("web1", loaded.values.name)
    loaded = assert(config.load_any(fifo_of(cfg)))
    assert.equal("xl", loaded.kind)
    local js = dir .. "/w.json"
    helper.spit(js, json.encode(loaded.libxl))
    loaded = assert(config.load_any(fifo_of(js)))
    assert.equal("json", loaded.kind)
    local v, _, code = config.load_any(fifo_of(crafted))
    assert.is_nil(v)
    assert.equal("ESPIPE", code)
    os.remove(fifo)
  end)

  it("keeps the codes of files that cannot be read", function()
    for _, load in ipairs({ config.load, config.load_any, config.read }) do
      local v, _, code = load(dir .. "/none.cfg")
      assert.is_nil(v)
      assert.equal("ENOENT", code)
      v, _, code = load(dir)
      assert.is_nil(v)
      assert.equal("EISDIR", code)
    end
  end)
end)
