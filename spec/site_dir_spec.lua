-- Site rules as hostile or broken input: a site directory others could write, error objects
-- that cannot be shown, rules that never return, and Ctrl-C while a rule runs.
local helper = require("support.helper")
local check = require("xlua.compat.check")
local json = require("xlua.json")
local site = require("xlua.compat.site")
local xlua = require("xlua")
local q = helper.shell_quote

local function pv()
  return {
    c_info = { type = "pv", name = "web1" },
    b_info = { max_vcpus = 1, max_memkb = 524288, target_memkb = 524288 },
  }
end

local GOOD = [[rule { name = "good", check = function() end }]]

-- A site directory (mode 0755) holding files {name = text} (mode 0644).
local function site_dir(files)
  local dir = helper.tmpdir() .. "/site.d"
  os.execute("mkdir -m 0755 " .. q(dir))
  for name, text in pairs(files) do
    helper.spit(dir .. "/" .. name, text)
    os.execute("chmod 0644 " .. q(dir .. "/" .. name))
  end
  return dir
end

local function find(r, path)
  for _, d in ipairs(r.differences) do
    if d.path == path then
      return d
    end
  end
end

local function chmod(mode, path)
  assert(os.execute("chmod " .. mode .. " " .. q(path)))
end

describe("site directory permissions", function()
  it("accepts a directory and files owned by this user and writable by it only", function()
    local loaded = assert(site.load(site_dir({ ["a.lua"] = GOOD }), true))
    assert.equal(1, #loaded.rules)
  end)

  it("refuses a group- or world-writable directory: UNSAFE, no rule runs", function()
    for _, mode in ipairs({ "0775", "0777", "1777" }) do
      local dir = site_dir({ ["a.lua"] = GOOD })
      chmod(mode, dir)
      local loaded, err, code = site.load(dir, true)
      assert.is_nil(loaded)
      assert.equal("UNSAFE", code)
      assert.matches("^[^\n]+$", err)
    end
  end)

  it("refuses the default directory too when it is unsafe", function()
    local dir = site_dir({ ["a.lua"] = GOOD })
    chmod("0777", dir)
    local _, _, code = site.load(dir, false)
    assert.equal("UNSAFE", code)
  end)

  it("refuses a group- or world-writable site file, even with safe ones beside it", function()
    for _, mode in ipairs({ "0664", "0666", "0622" }) do
      local dir = site_dir({ ["a.lua"] = GOOD, ["b.lua"] = GOOD })
      chmod(mode, dir .. "/b.lua")
      local loaded, _, code = site.load(dir, true)
      assert.is_nil(loaded)
      assert.equal("UNSAFE", code)
    end
  end)

  it("ignores the permissions of files that are not *.lua", function()
    local dir = site_dir({ ["a.lua"] = GOOD, ["notes.txt"] = "x" })
    chmod("0666", dir .. "/notes.txt")
    assert(site.load(dir, true))
  end)

  it("refuses a *.lua that is not a regular file (a fifo would block the load)", function()
    local dir = site_dir({ ["a.lua"] = GOOD })
    assert(os.execute("mkfifo -m 0644 " .. q(dir .. "/b.lua")))
    local loaded, _, code = site.load(dir, true)
    assert.is_nil(loaded)
    assert.equal("UNSAFE", code)
  end)

  it("follows symbolic links: what is checked is what would run", function()
    local elsewhere = helper.tmpdir()
    helper.spit(elsewhere .. "/safe.lua", GOOD)
    chmod("0644", elsewhere .. "/safe.lua")
    helper.spit(elsewhere .. "/open.lua", GOOD)
    chmod("0666", elsewhere .. "/open.lua")
    local dir = site_dir({})
    os.execute("ln -s " .. q(elsewhere .. "/safe.lua") .. " " .. q(dir .. "/a.lua"))
    assert.equal(1, #assert(site.load(dir, true)).rules)
    os.execute("ln -s " .. q(elsewhere .. "/open.lua") .. " " .. q(dir .. "/b.lua"))
    local _, _, code = site.load(dir, true)
    assert.equal("UNSAFE", code)
    -- the directory itself through a link
    local link = helper.tmpdir() .. "/site.d"
    local target = site_dir({ ["a.lua"] = GOOD })
    os.execute("ln -s " .. q(target) .. " " .. q(link))
    assert(site.load(link, true))
    chmod("0777", target)
    _, _, code = site.load(link, true)
    assert.equal("UNSAFE", code)
  end)

  it("refuses what another user owns (root may own it)", function()
    local me = xlua.geteuid()
    local st = { type = "file", mode = tonumber("644", 8), uid = me, gid = 0 }
    assert.is_nil(site.unsafe(st, me, "file"))
    st.uid = 0
    assert.is_nil(site.unsafe(st, me, "file"))
    st.uid = me + 1
    assert.is_string(site.unsafe(st, me, "file"))
    st.uid, st.mode = me, tonumber("664", 8)
    assert.is_string(site.unsafe(st, me, "file"))
    st.mode = tonumber("755", 8)
    assert.is_string(site.unsafe(st, me, "directory"))
  end)

  it("refuses a file owned by another user, for real when the spec runs as root", function()
    if xlua.geteuid() ~= 0 then
      pending("needs root to give a file away")
      return
    end
    local dir = site_dir({ ["a.lua"] = GOOD })
    assert(os.execute("chown 65534 " .. q(dir .. "/a.lua")))
    local _, _, code = site.load(dir, true)
    assert.equal("UNSAFE", code)
    os.execute("chown 0 " .. q(dir .. "/a.lua"))
    assert(os.execute("chown 65534 " .. q(dir)))
    _, _, code = site.load(dir, true)
    assert.equal("UNSAFE", code)
  end)

  it("makes compat and restore exit 2 with one line", function()
    local dir = site_dir({ ["a.lua"] = GOOD })
    chmod("0777", dir)
    local cfg = helper.tmpdir() .. "/a.json"
    helper.spit(cfg, json.encode(pv()))
    local out, err, code = helper.run({ "compat", "--site-dir", dir, cfg, cfg })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^xlua compat: [^\n]+\n$", err)
    _, err, code = helper.run({ "compat", cfg, cfg }, { env = { XLUA_SITE_DIR = dir } })
    assert.equal(2, code)
    _, err, code = helper.run({ "restore", "-n", "--site-dir", dir, cfg, cfg },
      { env = { XLUA_BACKEND = "sim", XLUA_SIM_DIR = helper.tmpdir() } })
    assert.equal(2, code)
    assert.matches("^xlua restore: [^\n]+\n$", err)
  end)
end)

describe("site rules that raise error objects", function()
  local cases = {
    ["throwing __tostring"] = [[setmetatable({}, { __tostring = function() error("again") end })]],
    ["__tostring giving a number"] = [[setmetatable({}, { __tostring = function() return 42 end })]],
    ["__tostring giving nil"] = [[setmetatable({}, { __tostring = function() end })]],
    ["a plain table"] = [[{}]],
    ["nil"] = [[nil]],
    ["a function"] = [[print]],
  }
  for what, value in pairs(cases) do
    it("make the rule incompatible, not the check fail: " .. what, function()
      local loaded = assert(site.load(site_dir({
        ["10-bad.lua"] = "rule { name = 'bad', check = function() error(" .. value .. ") end }",
        ["20-load.lua"] = "error(" .. value .. ")",
        ["30-good.lua"] = [[rule { name = "good", check = function(_, _, api) api.warn("c_info.name", "seen") end }]],
      }), true))
      local r = check.check(pv(), pv(), { site_rules = loaded })
      assert.is_false(r.compatible)
      assert.same({ "incompatible", "site:bad" }, { find(r, "site:bad").verdict, find(r, "site:bad").source })
      assert.is_string(find(r, "site:bad").reason)
      assert.equal("incompatible", find(r, "site:20-load").verdict)
      assert.equal("site:good", find(r, "c_info.name").source) -- the rules after it still ran
    end)
  end

  it("shows an error object's __tostring when it gives a string", function()
    local loaded = assert(site.load(site_dir({
      ["bad.lua"] = [[rule { name = "bad", check = function()
        error(setmetatable({}, { __tostring = function() return "disk pool full" end })) end }]],
    }), true))
    local r = check.check(pv(), pv(), { site_rules = loaded })
    assert.matches("disk pool full", find(r, "site:bad").reason, 1, true)
  end)
end)

describe("site rules that never return", function()
  local LIMIT = 0.3

  local function loaded_with(files)
    return assert(site.load(site_dir(files), true, { time_limit = LIMIT }))
  end

  it("fail closed after the time limit: incompatible site:NAME", function()
    local loaded = loaded_with({
      ["10-loop.lua"] = [[rule { name = "loop", check = function() while true do end end }]],
      ["20-good.lua"] = [[rule { name = "good", check = function(_, _, api) api.warn("c_info.name", "seen") end }]],
    })
    local t0 = xlua.clock()
    local r = check.check(pv(), pv(), { site_rules = loaded })
    assert.is_true(xlua.clock() - t0 < LIMIT + 2)
    assert.is_false(r.compatible)
    local d = find(r, "site:loop")
    assert.same({ "incompatible", "site:loop" }, { d.verdict, d.source })
    assert.matches("took longer than", d.reason, 1, true)
    assert.equal("site:good", find(r, "c_info.name").source)
  end)

  it("stops a rule that catches the timeout in a loop, and a __tostring that never returns", function()
    local loaded = loaded_with({
      ["a.lua"] = [[rule { name = "stubborn", check = function()
        while true do pcall(function() while true do end end) end end }]],
      ["b.lua"] = [[rule { name = "slowtext", check = function()
        error(setmetatable({}, { __tostring = function() while true do end end })) end }]],
      ["c.lua"] = [[rule { name = "co", check = function()
        coroutine.wrap(function() while true do end end)() end }]],
    })
    local r = check.check(pv(), pv(), { site_rules = loaded })
    for _, name in ipairs({ "stubborn", "slowtext", "co" }) do
      assert.equal("incompatible", find(r, "site:" .. name).verdict)
    end
  end)

  it("fail closed when a file never finishes loading", function()
    local loaded = loaded_with({ ["loop.lua"] = "while true do end" })
    assert.equal(1, #loaded.failures)
    local r = check.check(pv(), pv(), { site_rules = loaded })
    assert.equal("incompatible", find(r, "site:loop").verdict)
  end)

  it("leave the hook that was set before as it was", function()
    local function mine() end
    debug.sethook(mine, "", 1000000)
    local loaded = loaded_with({
      ["a.lua"] = [[rule { name = "loop", check = function() while true do end end }]],
      ["b.lua"] = [[rule { name = "fine", check = function() end }]],
    })
    check.check(pv(), pv(), { site_rules = loaded })
    local hook, mask, count = debug.gethook()
    debug.sethook()
    assert.equal(mine, hook)
    assert.equal("", mask)
    assert.equal(1000000, count)
  end)

  it("default to site.TIME_LIMIT seconds, or $XLUA_SITE_TIME_LIMIT", function()
    assert.equal(5, site.TIME_LIMIT)
    assert.equal(site.TIME_LIMIT, assert(site.load(site_dir({}), true)).time_limit)
    local dir = site_dir({ ["loop.lua"] = [[rule { name = "loop", check = function() while true do end end }]] })
    local cfg = helper.tmpdir() .. "/a.json"
    helper.spit(cfg, json.encode(pv()))
    local out, err, code = helper.run({ "compat", "--json", "--site-dir", dir, cfg, cfg },
      { env = { XLUA_SITE_TIME_LIMIT = "0.3" } })
    assert.equal(1, code, err)
    local report = assert(json.decode(out))
    assert.same({ "site:loop", "incompatible" }, { report.differences[1].path, report.differences[1].verdict })
  end)

  it("leave Ctrl-C working: exit 130, not a failed rule", function()
    local dir = site_dir({ ["loop.lua"] = [[rule { name = "loop", check = function() while true do end end }]] })
    local tmp = helper.tmpdir()
    local cfg = tmp .. "/a.json"
    helper.spit(cfg, json.encode(pv()))
    for _, args in ipairs({
      { "compat", "--site-dir", dir, cfg, cfg },
      { "compat", "--site-dir", site_dir({ ["loop.lua"] = "while true do end" }), cfg, cfg },
    } ) do
      local cmd = {}
      for i, a in ipairs(args) do
        cmd[i] = q(a)
      end
      local script = string.format("XLUA_SITE_TIME_LIMIT=60 %s %s >%s/out 2>%s/err & pid=$!; sleep 1; "
        .. "kill -INT $pid; wait $pid; echo $? >%s/status", q(helper.xlua), table.concat(cmd, " "), tmp, tmp, tmp)
      os.execute("bash -c " .. q(script))
      assert.equal("130", helper.slurp(tmp .. "/status"):match("%d+"), helper.slurp(tmp .. "/err"))
      assert.equal("", helper.slurp(tmp .. "/out"))
    end
  end)
end)
