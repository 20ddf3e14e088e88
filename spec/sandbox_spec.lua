-- xlua.sandbox: Lua config files run in a separate state with pure libraries only, bounded in
-- instructions and memory, and give back plain data. One `it` per escape attempt.
local sandbox = require("xlua.sandbox")
local helper = require("support.helper")

local function run(source, opts)
  return sandbox.run(source, "=test.lua", opts)
end

-- Runs source, which must fail with code; returns the message.
local function fails(code, source, opts)
  local result, message, got = run(source, opts)
  assert.is_nil(result)
  assert.equal(code, got, message)
  assert.is_string(message)
  return message
end

-- Runs source, which must succeed; returns the result table.
local function ok(source, opts)
  local result, message, code = run(source, opts)
  assert.is_table(result, tostring(message) .. " " .. tostring(code))
  return result
end

local SMALL_MEMORY = { max_memory = 4 * 1024 * 1024 }

describe("xlua.sandbox", function()
  describe("runs configs", function()
    it("collects the globals a config assigns, as xl.cfg reads", function()
      local r = ok([[
        name = "web1"
        memory = 2048
        vcpus = 2
        disk = { "phy:/dev/vg/web1,xvda,w" }
      ]])
      assert.same({ name = "web1", memory = 2048, vcpus = 2, disk = { "phy:/dev/vg/web1,xvda,w" } }, r)
    end)

    it("takes a returned table instead of the globals", function()
      local r = ok([[
        ignored = true
        return { name = "web2", memory = 512 }
      ]])
      assert.same({ name = "web2", memory = 512 }, r)
    end)

    it("includes globals that replace a builtin (type = 'hvm' is an xl.cfg key)", function()
      local r = ok([[type = "hvm"; name = "x"]])
      assert.same({ type = "hvm", name = "x" }, r)
    end)

    it("runs loops, helper functions and string operations; helpers are not settings", function()
      local r = ok([[
        function disk_for(i) return ("phy:/dev/vg/web1-%d,xvd%s,w"):format(i, string.char(96 + i)) end
        disk = {}
        for i = 1, 3 do disk[#disk + 1] = disk_for(i) end
        name = ("  Web1  "):gsub("^%s*(.-)%s*$", "%1"):lower()
        parts = {}
        for word in ("a,b,c"):gmatch("[^,]+") do parts[#parts + 1] = word end
      ]])
      assert.same({
        disk = { "phy:/dev/vg/web1-1,xvda,w", "phy:/dev/vg/web1-2,xvdb,w", "phy:/dev/vg/web1-3,xvdc,w" },
        name = "web1",
        parts = { "a", "b", "c" },
      }, r)
      assert.is_nil(r.disk_for)
    end)

    it("reads the environment and the clock through the safe os functions", function()
      local r = ok([[
        home = os.getenv("HOME")
        missing = os.getenv("XLUA_SURELY_UNSET_VARIABLE") == nil
        year = tonumber(os.date("%Y", os.time()))
        elapsed = os.difftime(os.time(), os.time()) >= 0
        clock = type(os.clock()) == "number"
        -- mktime reads the time zone; the sandbox process may read no file by then
        new_year = os.time({ year = 2020, month = 1, day = 1, hour = 12 })
        tz = os.getenv("TZ") or "unset"
      ]])
      assert.equal(os.getenv("HOME"), r.home)
      assert.is_true(r.missing)
      assert.equal(tonumber(os.date("%Y")), r.year)
      assert.is_true(r.elapsed)
      assert.is_true(r.clock)
      assert.equal(os.time({ year = 2020, month = 1, day = 1, hour = 12 }), r.new_year)
      assert.equal(os.getenv("TZ") or "unset", r.tz)
    end)

    it("hides os.getenv with opts.getenv = false", function()
      assert.same({ getenv = false, time = true }, ok([[
        return { getenv = os.getenv ~= nil, time = os.time ~= nil }
      ]], { getenv = false }))
    end)

    it("makes opts.env visible as globals, part of the result unless replaced", function()
      local r = ok([[
        name = "web" .. index
        memory = memory * 2
      ]], { env = { index = 3, memory = 1024, extra = { on = true } } })
      assert.same({ name = "web3", index = 3, memory = 2048, extra = { on = true } }, r)
    end)

    it("copies opts.env in: the config cannot change the caller's tables", function()
      local env = { list = { 1, 2 } }
      ok([[list[3] = 3]], { env = env })
      assert.same({ 1, 2 }, env.list)
    end)

    it("refuses a function or a cycle in opts.env (a caller's mistake: it raises)", function()
      assert.has_error(function()
        run("x = 1", { env = { f = print } })
      end)
      local t = {}
      t.t = t
      assert.has_error(function()
        run("x = 1", { env = { t = t } })
      end)
      assert.has_error(function()
        run("x = 1", { env = { [1] = "not a name" } })
      end)
    end)

    it("keeps nested tables and integer/float distinctions", function()
      local r = ok([[
        return { a = { b = { c = 1.5, d = { 1, 2, { 3 } } } }, i = 2048, f = 2.0, neg = -7,
                 big = math.maxinteger, yes = true, no = false, [10] = "ten" }
      ]])
      assert.same({ c = 1.5, d = { 1, 2, { 3 } } }, r.a.b)
      assert.equal("integer", math.type(r.i))
      assert.equal("float", math.type(r.f))
      assert.equal(2.0, r.f)
      assert.equal(-7, r.neg)
      assert.equal(math.maxinteger, r.big)
      assert.is_true(r.yes)
      assert.is_false(r.no)
      assert.equal("ten", r[10])
    end)

    it("gives an empty table for an empty config", function()
      assert.same({}, ok(""))
    end)

    it("allows text load, coroutines, metatables and pcall inside the sandbox", function()
      local r = ok([[
        local f = load("return 20 + 22")
        local co = coroutine.wrap(function() coroutine.yield(1) return 2 end)
        local t = setmetatable({}, { __index = function(_, k) return k .. "!" end })
        local fine, err = pcall(error, "caught")
        return { f = f(), a = co(), b = co(), t = t.x, err = err, fine = fine }
      ]])
      assert.same({ f = 42, a = 1, b = 2, t = "x!", err = "caught", fine = false }, r)
    end)

    it("exposes its defaults", function()
      assert.equal(10000000, sandbox.DEFAULT_MAX_INSTRUCTIONS)
      assert.equal(64 * 1024 * 1024, sandbox.DEFAULT_MAX_MEMORY)
      assert.equal(2, sandbox.DEFAULT_MAX_TIME)
    end)
  end)

  describe("reports failures with a code", function()
    it("SYNTAX for a compile error, with the chunk name and line", function()
      local msg = fails("SYNTAX", "name = \n\n = 3")
      assert.matches("^test.lua:3:", msg)
    end)

    it("RUNTIME for an error the config raises, as chunkname:line: message", function()
      local msg = fails("RUNTIME", "x = 1\nerror('bad memory value')")
      assert.equal("test.lua:2: bad memory value", msg)
    end)

    it("BADVALUE for a config that returns something other than a table", function()
      fails("BADVALUE", "return 42")
    end)

    it("reads a file with run_file, naming errors after the path", function()
      local dir = helper.tmpdir()
      helper.spit(dir .. "/good.lua", "name = 'f'; memory = 64")
      assert.same({ name = "f", memory = 64 }, assert(sandbox.run_file(dir .. "/good.lua")))
      helper.spit(dir .. "/bad.lua", "\nerror('no')")
      local r, msg, code = sandbox.run_file(dir .. "/bad.lua")
      assert.is_nil(r)
      assert.equal("RUNTIME", code)
      assert.equal(dir .. "/bad.lua:2: no", msg)
    end)

    it("returns ENOENT and EISDIR from run_file", function()
      local _, _, code = sandbox.run_file("/nonexistent/xlua/config.lua")
      assert.equal("ENOENT", code)
      _, _, code = sandbox.run_file(helper.tmpdir())
      assert.equal("EISDIR", code)
    end)

    it("refuses a file larger than the memory limit without reading it all", function()
      local _, _, code = sandbox.run_file("/dev/zero", { max_memory = 64 * 1024 })
      assert.equal("LIMIT_MEMORY", code)
    end)

    it("raises for bad options", function()
      assert.has_error(function() run("x = 1", { max_instructions = 0 }) end)
      assert.has_error(function() run("x = 1", { max_memory = "lots" }) end)
      assert.has_error(function() run("x = 1", { env = "x" }) end)
      assert.has_error(function() sandbox.run(nil) end)
      -- strict option types: no truthiness, no strings for numbers, no fractions
      assert.has_error(function() run("x = 1", { getenv = "no" }) end)
      assert.has_error(function() run("x = 1", { getenv = 0 }) end)
      assert.has_error(function() run("x = 1", { max_instructions = "100000" }) end)
      assert.has_error(function() run("x = 1", { max_memory = 1.5 * 1024 * 1024 + 0.5 }) end)
      assert.has_error(function() run("x = 1", { max_memory = -1 }) end)
      assert.has_error(function() run("x = 1", { max_time = 0 }) end)
      assert.has_error(function() run("x = 1", { max_time = "1" }) end)
      assert.has_error(function() run("x = 1", { max_time = 1e9 }) end)
      assert.has_error(function() run("x = 1", { in_process_limits = 0 }) end)
      ok([[x = 1]], { getenv = false, max_instructions = 1000.0, max_time = 0.5 })
    end)
  end)

  describe("refuses escapes", function()
    it("has no io", function()
      fails("RUNTIME", [[io.open("/etc/passwd")]])
      assert.same({ io = false }, ok([[return { io = io ~= nil }]]))
    end)

    it("has no os.execute, and runs nothing on the host", function()
      local marker = helper.tmpdir() .. "/executed"
      fails("RUNTIME", ([[os.execute("touch %s")]]):format(marker))
      assert.is_nil(io.open(marker))
    end)

    it("has no os.remove or os.rename", function()
      local dir = helper.tmpdir()
      helper.spit(dir .. "/keep", "x")
      fails("RUNTIME", ([[os.remove("%s/keep")]]):format(dir))
      fails("RUNTIME", ([[os.rename("%s/keep", "%s/moved")]]):format(dir, dir))
      assert.equal("x", helper.slurp(dir .. "/keep"))
    end)

    it("has no os.exit (the host keeps running)", function()
      fails("RUNTIME", [[os.exit(3)]])
      fails("RUNTIME", [[os.setlocale("C")]])
      fails("RUNTIME", [[os.tmpname()]])
    end)

    it("has no require", function()
      fails("RUNTIME", [[require("xlua.sandbox")]])
    end)

    it("has no package (no loaders, no loadlib)", function()
      fails("RUNTIME", [[package.loadlib("libc.so.6", "system")]])
    end)

    it("has no debug library", function()
      fails("RUNTIME", [[debug.getregistry()]])
      fails("RUNTIME", [[debug.sethook()]])
    end)

    it("has no dofile or loadfile", function()
      fails("RUNTIME", [[dofile("/etc/passwd")]])
      fails("RUNTIME", [[loadfile("/etc/passwd")]])
    end)

    it("has no print or warn writing to the host's terminal", function()
      assert.same({ p = false, w = false }, ok([[return { p = print ~= nil, w = warn ~= nil }]]))
    end)

    it("refuses a binary chunk as the config itself (BINARY)", function()
      local bin = string.dump(function() return { x = 1 } end)
      fails("BINARY", bin)
    end)

    it("refuses to load a binary chunk from inside, whatever mode is asked for", function()
      local bin = string.dump(function() return 1 end)
      local r = ok([[
        local f1, e1 = load(bin)
        local f2, e2 = load(bin, "x", "b")
        local f3, e3 = load(bin, "x", "bt", {})
        local chunks = { bin }
        local f4, e4 = load(function() return table.remove(chunks) end, "r", "b")
        return { f1 == nil, f2 == nil, f3 == nil, f4 == nil, e1, e2 }
      ]], { env = { bin = bin } })
      assert.same({ true, true, true, true }, { r[1], r[2], r[3], r[4] })
      assert.matches("binary", r[5])
      assert.matches("binary", r[6])
    end)

    it("has no string.dump, also through the string metatable", function()
      fails("RUNTIME", [[string.dump(function() end)]])
      fails("RUNTIME", [[("").dump(function() end)]])
    end)

    it("cannot reach the host's globals through load or _G", function()
      _G.xlua_sandbox_spec_marker = "host secret"
      local r = ok([[
        return {
          via_load = load("return xlua_sandbox_spec_marker")() ~= nil,
          via_G = _G.xlua_sandbox_spec_marker ~= nil,
          via_env = load("return _ENV.xlua_sandbox_spec_marker", "x", "t", _G)() ~= nil,
        }
      ]])
      _G.xlua_sandbox_spec_marker = nil
      assert.same({ via_load = false, via_G = false, via_env = false }, r)
    end)

    it("cannot change the host's string metatable or string library", function()
      ok([[
        local mt = getmetatable("")
        mt.__index.upper = function() return "pwned" end
        mt.__index = { upper = function() return "pwned" end }
        mt.__add = function() return "pwned" end
        string.format = nil
      ]])
      assert.equal("X", ("x"):upper())
      assert.equal("1", ("%d"):format(1))
      assert.equal(3, "1" + 2)
    end)

    it("limits collectgarbage to collect and count", function()
      fails("RUNTIME", [[collectgarbage("stop")]])
      fails("RUNTIME", [[collectgarbage("generational")]])
      fails("RUNTIME", [[collectgarbage("setpause", 1000)]])
      local r = ok([[collectgarbage(); return { kb = collectgarbage("count") }]])
      assert.is_number(r.kb)
    end)

    it("bounds an infinite loop by the instruction budget", function()
      fails("LIMIT_INSTRUCTIONS", [[while true do end]])
      fails("LIMIT_INSTRUCTIONS", [[local n = 0; for i = 1, 1e9 do n = n + i end]], { max_instructions = 100000 })
    end)

    it("honours a budget smaller than the hook's granularity", function()
      fails("LIMIT_INSTRUCTIONS", [[local a = 1; a = a + 1; a = a + 1; a = a + 1]], { max_instructions = 2 })
      ok([[x = 1]], { max_instructions = 50 })
    end)

    it("bounds __close handlers and load readers by the same budget", function()
      fails("LIMIT_INSTRUCTIONS", [[
        local x <close> = setmetatable({}, { __close = function() while true do end end })
        error("leaving")
      ]])
      fails("LIMIT_INSTRUCTIONS", [[
        local co = coroutine.create(function()
          local x <close> = setmetatable({}, { __close = function() while true do end end })
          coroutine.yield()
        end)
        coroutine.resume(co)
        coroutine.close(co)
      ]])
      fails("LIMIT_INSTRUCTIONS", [[load(function() while true do end end)]])
    end)

    it("fails cleanly when the memory cap is too small for even the libraries", function()
      fails("LIMIT_MEMORY", [[x = 1]], { max_memory = 1000 })
      for size = 2000, 12000, 500 do
        fails("LIMIT_MEMORY", [[x = 1]], { max_memory = size })
      end
    end)

    it("does not let pcall swallow the instruction limit", function()
      fails("LIMIT_INSTRUCTIONS", [[
        for i = 1, 1e9 do pcall(function() while true do end end) end
        return { escaped = true }
      ]])
      fails("LIMIT_INSTRUCTIONS", [[return pcall(function() while true do end end)]])
      fails("LIMIT_INSTRUCTIONS", [[
        local ok = xpcall(function() while true do end end, function(e) return e end)
        escaped = true
      ]])
    end)

    it("bounds coroutines: loops inside them, caught limits, many short-lived ones", function()
      fails("LIMIT_INSTRUCTIONS", [[coroutine.wrap(function() while true do end end)()]])
      fails("LIMIT_INSTRUCTIONS", [[
        local co = coroutine.create(function() while true do end end)
        coroutine.resume(co)
        return { escaped = true }
      ]])
      -- A fresh coroutine starts its own hook count; each one is charged for a full count.
      fails("LIMIT_INSTRUCTIONS", [[
        for i = 1, 1e9 do coroutine.wrap(function() for j = 1, 90 do end end)() end
      ]])
      fails("RUNTIME", [[coroutine.yield(1)]])
    end)

    it("discards a coroutine left suspended", function()
      local r = ok([[
        local co = coroutine.create(function() coroutine.yield() while true do end end)
        coroutine.resume(co)
        return { status = coroutine.status(co) }
      ]])
      assert.same({ status = "suspended" }, r)
    end)

    it("bounds a string.rep bomb by the memory cap", function()
      fails("LIMIT_MEMORY", [[local s = ("x"):rep(2^30)]])
      fails("LIMIT_MEMORY", [[local s = "x"; while true do s = s .. s end]])
      fails("LIMIT_MEMORY", [[local s = ("x"):rep(2^20, ("y"):rep(2^10))]])
    end)

    it("bounds table growth by the memory cap", function()
      fails("LIMIT_MEMORY", [[local t = {}; for i = 1, math.huge do t[i] = i end]], SMALL_MEMORY)
      fails("LIMIT_MEMORY", [[local t = {}; for i = 1, math.huge do t["k" .. i] = {} end]], SMALL_MEMORY)
    end)

    it("bounds C loops the hook cannot see: table.move, insert, remove, string.rep('')", function()
      fails("LIMIT_INSTRUCTIONS", [[table.move({}, 1, math.maxinteger - 1, 2)]])
      fails("LIMIT_INSTRUCTIONS", [[table.move({}, math.mininteger, math.maxinteger, 1, {})]])
      fails("LIMIT_INSTRUCTIONS", [[
        table.insert(setmetatable({}, { __len = function() return 2^62 end }), 1, "x")
      ]])
      fails("LIMIT_INSTRUCTIONS", [[
        table.remove(setmetatable({}, { __len = function() return 2^62 end }), 1)
      ]])
      assert.same({ n = 0 }, ok([[return { n = #string.rep("", math.maxinteger) }]]))
    end)

    it("bounds pattern matching that backtracks in C", function()
      fails("LIMIT_INSTRUCTIONS", [[return { string.find(("a"):rep(100), ("a*"):rep(20) .. "b") }]])
      fails("LIMIT_INSTRUCTIONS", [[return { ("a"):rep(100):match(("a-"):rep(20) .. "b") }]])
      fails("LIMIT_INSTRUCTIONS", [[for m in ("a"):rep(100):gmatch(("a*"):rep(20) .. "b") do end]])
      fails("LIMIT_INSTRUCTIONS", [[return { (("a"):rep(100)):gsub(("a?"):rep(30) .. "b", "") }]])
      -- a plain search is quadratic in the worst case
      fails("LIMIT_INSTRUCTIONS", [[
        local s = ("a"):rep(2^20)
        return { s:find(("a"):rep(2^19) .. "b", 1, true) }
      ]])
    end)

    it("keeps pattern matching results identical to the stock library", function()
      local r = ok([[
        local s = "key = value, other=thing (nested (parens)) 2024-05-06"
        local out = {}
        out[1] = { s:find("(%w+)%s*=%s*(%w+)") }
        out[2] = { s:match("%b()") }
        out[3] = { s:gsub("%s+", "_") }
        out[4] = { s:find("=", 1, true) }
        out[5] = { s:match("(%d+)-(%d+)-(%d+)$") }
        out[6] = { s:find("%f[%w]%w+", 10) }
        out[7] = { ("hello"):gsub("l+", function(m) return #m end) }
        out[8] = { ("abc"):gsub("%w", { a = "1", b = false }) }
        out[9] = { ("x"):find("()") }
        local words = {}
        for k, v in s:gmatch("(%w+)%s*=%s*(%w+)") do words[#words + 1] = k .. ":" .. v end
        out[10] = words
        return out
      ]])
      local s = "key = value, other=thing (nested (parens)) 2024-05-06"
      assert.same({ s:find("(%w+)%s*=%s*(%w+)") }, r[1])
      assert.same({ s:match("%b()") }, r[2])
      assert.same({ s:gsub("%s+", "_") }, r[3])
      assert.same({ s:find("=", 1, true) }, r[4])
      assert.same({ s:match("(%d+)-(%d+)-(%d+)$") }, r[5])
      assert.same({ s:find("%f[%w]%w+", 10) }, r[6])
      assert.same({ ("hello"):gsub("l+", function(m) return #m end) }, r[7])
      assert.same({ ("abc"):gsub("%w", { a = "1", b = false }) }, r[8])
      assert.same({ ("x"):find("()") }, r[9])
      assert.same({ "key:value", "other:thing" }, r[10])
      fails("RUNTIME", [[("x"):find("%")]])
      fails("RUNTIME", [[("x"):gsub("(x)", "%2")]])
    end)

    it("turns deep recursion and C stack overflows into errors", function()
      local _, _, code = run([[local function f() return 1 + f() end return f()]])
      assert.is_true(code == "RUNTIME" or code == "LIMIT_MEMORY", code)
      fails("RUNTIME", [[
        local t = setmetatable({}, { __index = function(t, k) return t[k] end })
        return t.x
      ]])
      fails("RUNTIME", [[local function f(s) return (s:gsub(".", f)) end return f("aa")]])
      fails("RUNTIME", [[local s = ("("):rep(10000) .. ("a"):rep(1) .. (")"):rep(10000); return { s:find(s) }]])
      fails("SYNTAX", ("x = " .. ("{"):rep(1000) .. ("}"):rep(1000)))
    end)

    it("formats an error object's __tostring inside the sandbox, under its budget", function()
      local msg = fails("RUNTIME", [[error(setmetatable({}, { __tostring = function() return "boom" end }))]])
      assert.equal("boom", msg)
      fails("LIMIT_INSTRUCTIONS", [[error(setmetatable({}, { __tostring = function() while true do end end }))]])
      fails("RUNTIME", [[error(setmetatable({}, { __tostring = function() error("again") end }))]])
      fails("RUNTIME", [[error(setmetatable({}, { __tostring = function() return {} end }))]])
      fails("RUNTIME", [[error({ code = 1 })]])
      fails("RUNTIME", [[error(nil)]])
      assert.equal("42", fails("RUNTIME", [[error(42)]]))
    end)

    it("refuses __gc metamethods: finalizers run with hooks off, no budget could stop them", function()
      fails("RUNTIME", [[setmetatable({}, { __gc = function() while true do end end })]])
      fails("RUNTIME", [[setmetatable({}, { __gc = true })]])
      -- a __gc added after setmetatable never makes the object finalizable
      local r = ok([[
        local mt = {}
        local t = setmetatable({}, mt)
        mt.__gc = function() while true do end end
        t = nil
        collectgarbage()
        return { done = true }
      ]])
      assert.same({ done = true }, r)
    end)

    it("copies a result with raw access only: no __index, __pairs or metatable", function()
      local r = ok([[
        local t = { a = 1 }
        return setmetatable(t, {
          __index = function() while true do end end,
          __pairs = function() while true do end end,
          __newindex = function() while true do end end,
        })
      ]])
      assert.same({ a = 1 }, r)
      assert.is_nil(getmetatable(r))
      assert.is_nil(r.missing)
      r.new = 1
    end)

    it("refuses functions, threads and odd keys in the result, naming the key (BADVALUE)", function()
      assert.matches("disk%[2%]%.f", fails("BADVALUE", [[disk = { "a", { f = type } }]]))
      fails("BADVALUE", [[return { f = function() end }]])
      fails("BADVALUE", [[return { co = coroutine.create(function() end) }]])
      fails("BADVALUE", [[co = coroutine.create(function() end)]])
      fails("BADVALUE", [[return { [1.5] = "float key" }]])
      fails("BADVALUE", [[return { [true] = "boolean key" }]])
      fails("BADVALUE", [[return { [{}] = "table key" }]])
      fails("BADVALUE", [[lib = string]])
    end)

    it("refuses cycles in the result (BADVALUE), and copies shared tables", function()
      fails("BADVALUE", [[local t = {}; t.self = t; return t]])
      fails("BADVALUE", [[a = {}; a.b = { c = { a } }]])
      local r = ok([[local shared = { 1 }; return { x = shared, y = shared }]])
      assert.same({ x = { 1 }, y = { 1 } }, r)
    end)

    it("bounds huge results: sharing blow-up, repeated big strings, depth (LIMIT_RESULT)", function()
      fails("LIMIT_RESULT", [[local t = { 1 }; for i = 1, 60 do t = { t, t } end; return t]])
      fails("LIMIT_RESULT", [[
        local s = ("x"):rep(2^20); local t = {}
        for i = 1, 100 do t[i] = s end
        return t
      ]])
      fails("LIMIT_RESULT", [[local t = {}; for i = 1, 100 do t = { t } end; return t]])
      fails("LIMIT_RESULT", [[local t = {}; for i = 1, 2^21 do t[i] = true end; return t]],
        { max_instructions = 10^8 })
    end)

    it("closes the sandbox state on every path (nothing survives between runs)", function()
      ok([[leftover = "from run 1"; string.leftover = 1]])
      assert.same({ seen = false, lib = false },
        ok([[return { seen = leftover ~= nil, lib = string.leftover ~= nil }]]))
      for _ = 1, 50 do
        run([[local s = ("x"):rep(2^22); error("drop")]])
      end
      collectgarbage()
      assert.is_true(collectgarbage("count") < 64 * 1024)
    end)
  end)

  -- Each escape below ran for minutes (or forever) before the limits held. The runs get a
  -- small budget, and every one must end within HANG_GUARD seconds: a regression fails fast
  -- (the OS limits of the sandbox process end it at the latest) instead of hanging CI.
  describe("holds its limits", function()
    local system = require("system")
    local HANG_GUARD = 10
    local SMALL = { max_instructions = 1000000, max_time = 1 }

    -- Runs source, which must fail with code within HANG_GUARD seconds; returns the message.
    local function stopped(code, source, opts)
      local t0 = system.monotime()
      local msg = fails(code, source, opts or SMALL)
      local took = system.monotime() - t0
      assert.is_true(took < HANG_GUARD, ("took %.1f s: %s"):format(took, source))
      return msg
    end

    describe("when the hook raises, in every handler and coroutine", function()
      it("does not run xpcall's message handler unbounded", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          xpcall(function() while true do end end, function() while true do end end)
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          xpcall(function() while true do end end, function(m)
            for i = 1, math.maxinteger do end
            return m
          end)
        ]])
        -- a handler of an ordinary error runs, under the budget
        stopped("LIMIT_INSTRUCTIONS", [[xpcall(error, function() while true do end end)]])
        assert.same({ "handled" }, ok([[return { select(2, xpcall(error, function() return "handled" end)) }]]))
      end)

      it("does not run __close methods of a coroutine the limit killed", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          local co = coroutine.create(function()
            local x <close> = setmetatable({}, { __close = function() while true do end end })
            while true do end
          end)
          coroutine.resume(co)
          coroutine.close(co)
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local co = coroutine.create(function()
            local x <close> = setmetatable({}, { __close = function() while true do end end })
            while true do end
          end)
          coroutine.resume(co)
          while true do pcall(coroutine.close, co) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local f = coroutine.wrap(function()
            local x <close> = setmetatable({}, { __close = function() while true do end end })
            while true do end
          end)
          pcall(f)
          escaped = true
        ]])
      end)

      it("still closes a coroutine that failed on its own, with wrap's error", function()
        local r = ok([[
          local closed = false
          local f = coroutine.wrap(function()
            local x <close> = setmetatable({}, { __close = function() closed = true end })
            error("inner")
          end)
          local fine, err = pcall(f)
          local co = coroutine.create(function()
            local y <close> = setmetatable({}, { __close = function() closed2 = true end })
            coroutine.yield()
          end)
          coroutine.resume(co)
          return { fine = fine, err = err, closed = closed, close = coroutine.close(co),
                   closed2 = closed2 }
        ]])
        assert.same({ fine = false, err = "test.lua:4: inner", closed = true, close = true,
                      closed2 = true }, r)
      end)

      it("keeps raising in every coroutine once the budget is spent", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          pcall(function() while true do end end)
          for i = 1, math.maxinteger do
            pcall(coroutine.wrap(function() for j = 1, math.maxinteger do end end))
          end
        ]])
      end)
    end)

    describe("charges work done in C", function()
      it("bytes built: string.rep, upper, lower, reverse, format, concatenation", function()
        stopped("LIMIT_INSTRUCTIONS", [[for i = 1, 2000 do local s = ("x"):rep(2e7) end]])
        stopped("LIMIT_INSTRUCTIONS", [[for i = 1, 1e9 do local s = ("x"):rep(2^20, ("y"):rep(10)) end]])
        for _, f in ipairs({ "upper", "lower", "reverse" }) do
          stopped("LIMIT_INSTRUCTIONS", ([[
            local s = ("x"):rep(2^24)
            for i = 1, 1e9 do local t = s:%s() end
          ]]):format(f))
        end
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x"):rep(2^24)
          for i = 1, 1e9 do local t = ("%s"):format(s) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x"):rep(2^24)
          for i = 1, 1e9 do local t = tostring(s) .. "y" end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[for i = 1, 1e9 do local s = os.date(("%c"):rep(2^16)) end]])
      end)

      it("compiling: load of a big string or of a reader's pieces", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x = 1 "):rep(2^22)
          for i = 1, 1000 do load(s) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x"):rep(2^24)
          for i = 1, 1e9 do load(function() return s end) end
        ]])
      end)

      it("elements visited: table.concat, unpack, sort (with a Lua, C or no comparator)", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          local t = {} for i = 1, 1e5 do t[i] = "" end
          for i = 1, 1e9 do table.concat(t) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local t = {} for i = 1, 1e4 do t[i] = ("x"):rep(100) end
          for i = 1, 1e9 do local s = table.concat(t) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          table.concat(setmetatable({}, { __index = function() return "" end }), "", 1, 2^40)
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local t = {} for i = 1, 1e5 do t[i] = i end
          for i = 1, 1e9 do local a = select("#", table.unpack(t)) end
        ]])
        for _, cmp in ipairs({ "function(a, b) return a > b end", "math.max", "nil" }) do
          stopped("LIMIT_INSTRUCTIONS", ([[
            local t = {} for i = 1, 2^16 do t[i] = -i end
            for i = 1, 1e9 do table.sort(t, %s) end
          ]]):format(cmp))
        end
      end)

      it("bytes read: utf8, tonumber, byte, pack, find, long patterns and sets", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("\u{10FFFF}"):rep(2^20)
          for i = 1, 1e9 do local n = utf8.len(s) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local cps = {} for i = 1, 1e4 do cps[i] = 0x10FFFF end
          for i = 1, 1e9 do local s = utf8.char(table.unpack(cps)) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("\u{10FFFF}"):rep(1e4)
          for i = 1, 1e9 do local n = select("#", utf8.codepoint(s, 1, -1)) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("1"):rep(2^20)
          for i = 1, 1e9 do local n = tonumber(s) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x"):rep(1e5)
          for i = 1, 1e9 do local n = select("#", s:byte(1, -1)) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[for i = 1, 1e9 do string.packsize(("i"):rep(2^20)) end]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x"):rep(2^20)
          for i = 1, 1e9 do pcall(string.unpack, "z", s) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local s = ("x"):rep(2^22)
          for i = 1, 1e9 do s:find("y", 1, true) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local p = ("x"):rep(2^22)
          for i = 1, 1e9 do ("a"):find(p) end
        ]])
        stopped("LIMIT_INSTRUCTIONS", [[
          local p = "[" .. ("x"):rep(2^20) .. "]"
          for i = 1, 1e9 do ("aaaaaaaaaaaaaaaa"):find(p) end
        ]])
      end)

      it("full collections", function()
        stopped("LIMIT_INSTRUCTIONS", [[
          local t = {} for i = 1, 1e5 do t[i] = {} end
          for i = 1, 1e9 do collectgarbage() end
        ]])
      end)
    end)

    describe("stops what no count sees by the time limit (LIMIT_TIME)", function()
      it("comparing, coercing or hashing long strings in one instruction", function()
        stopped("LIMIT_TIME", [[
          local s, t = ("x"):rep(2^24), ("x"):rep(2^24)
          local n = 0
          for i = 1, math.maxinteger do if s == t then n = n + 1 end end
        ]], { max_time = 0.5 })
        stopped("LIMIT_TIME", [[
          local s = ("1"):rep(2^22)
          for i = 1, math.maxinteger do local n = s + 0 end
        ]], { max_time = 0.5 })
      end)

      it("long __index chains and iterators called by hand", function()
        stopped("LIMIT_TIME", [[
          local a = {} for i = 1, 1900 do a = setmetatable({}, { __index = a }) end
          for i = 1, math.maxinteger do local _ = a.x end
        ]], { max_time = 0.5, max_instructions = 1e12 })
        stopped("LIMIT_TIME", [[
          local s = "a" .. ("\x80"):rep(2^22)
          local f = utf8.codes(s)
          for i = 1, math.maxinteger do pcall(f, s, 1) end
        ]], { max_time = 0.5 })
      end)

      it("counts compiling the config itself", function()
        local big = ("x = 1\n"):rep(2^20)
        local _, _, code = run(big, { max_time = 0.001 })
        assert.equal("LIMIT_TIME", code)
      end)
    end)

    describe("with only the OS limits of the sandbox process (in_process_limits = false)", function()
      local OS_ONLY = { in_process_limits = false, max_time = 0.5, max_memory = 16 * 1024 * 1024 }

      it("kills a config that runs past its CPU time", function()
        -- the CPU limit, or on a loaded machine the wall-clock limit, whichever comes first
        assert.matches("the sandbox process was killed", stopped("LIMIT_TIME", [[
          xpcall(function() while true do end end, function() while true do end end)
        ]], OS_ONLY))
      end)

      it("refuses memory past the address space it may add", function()
        stopped("LIMIT_MEMORY", [[
          local s, t = ("x"):rep(2^20), {}
          for i = 1, math.maxinteger do t[i] = s .. i end
        ]], OS_ONLY)
      end)

      it("still runs a config and returns its values", function()
        assert.same({ name = "web1" }, ok([[name = "web1"]], OS_ONLY))
      end)
    end)
  end)

  describe("runs each config in a process of its own", function()
    local function shell(cmd)
      local p = io.popen(cmd)
      local out = p:read("a")
      p:close()
      return out
    end

    -- The state of a process ("Z" for a zombie), or "gone".
    local function state(pid)
      local f = io.open("/proc/" .. pid .. "/stat")
      if not f then return "gone" end
      local s = f:read("a")
      f:close()
      return s:match("^%d+ %b() (%a)")
    end

    -- Starts a host whose config spins (its stderr to err), and half a second later runs the
    -- shell commands after, with $pid the host and $child the sandbox process; their output.
    local function while_spinning(err, after)
      local script = [[
        local r, m, c = require("xlua.sandbox").run("while true do end", "=spin",
          { max_instructions = 1e15, max_time = 60 })
        print(c)
      ]]
      return shell(("%s -e %s 2>%s & pid=$!; sleep 0.5; "
        .. "child=$(cat /proc/$pid/task/$pid/children | tr -d ' '); echo child=$child; %s")
        :format(helper.xlua, helper.shell_quote(script), err, after))
    end

    it("locks the process down: seccomp, no new privileges, OS limits, one fd", function()
      local out = while_spinning("/dev/null", "cat /proc/$child/status /proc/$child/limits; "
        .. "echo fds=$(ls /proc/$child/fd 2>/dev/null); kill -9 $pid; wait $pid 2>/dev/null")
      assert.matches("child=%d+", out)
      assert.matches("NoNewPrivs:%s+1", out)
      assert.matches("Seccomp:%s+2", out) -- a filter
      assert.matches("Max cpu time%s+61%s+62%s+seconds", out) -- ceil(max_time) + 1, then SIGKILL
      assert.matches("Max core file size%s+0%s+0", out)
      assert.matches("Max open files%s+0%s+0", out)
      assert.matches("Max file size%s+0%s+0", out)
      assert.matches("Max address space%s+%d+", out)
      local fds = out:match("fds=([^\n]*)") -- empty unless root (the process is not dumpable)
      if fds ~= "" then
        assert.matches("^%d+$", fds) -- the reply pipe alone
      end
    end)

    it("stops the run on Ctrl-C (SIGINT) and leaves no process behind", function()
      local err = helper.tmpdir() .. "/err"
      local out = while_spinning(err, "kill -INT $pid; wait $pid; echo rc=$?")
      assert.matches("rc=1", out)
      assert.matches("interrupted!", helper.slurp(err))
      local child = out:match("child=(%d+)")
      assert.is_not_nil(child, out)
      local st = state(child)
      assert.is_true(st == "gone" or st == "Z", st)
    end)

    it("never outlives the host", function()
      local out = while_spinning("/dev/null", "kill -9 $pid; wait $pid 2>/dev/null; sleep 0.2")
      local child = out:match("child=(%d+)")
      assert.is_not_nil(child, out)
      local st = state(child)
      assert.is_true(st == "gone" or st == "Z", st)
    end)

    it("reads the process's reply as hostile bytes", function()
      local read = sandbox._read_reply
      local function str(s) return "s" .. string.pack("=I8", #s) .. s end
      local function int(i) return "i" .. string.pack("=i8", i) end
      local good = "XSB1R" .. "t" .. str("name") .. str("web1") .. int(1) .. "t" .. int(1) .. "T" .. "e"
        .. str("f") .. "d" .. string.pack("=d", 1.5) .. "e"
      assert.same({ name = "web1", [1] = { true }, f = 1.5 }, read(good))
      for i = 0, #good - 1 do -- cut anywhere
        local r, _, code = read(good:sub(1, i))
        assert.is_nil(r)
        assert.equal("CRASHED", code)
      end
      local bad = {
        good .. "x",                                             -- trailing bytes
        "XSB2" .. good:sub(5),                                   -- magic
        "XSB1R" .. str("x"),                                     -- not a table
        "XSB1Rt" .. "d" .. string.pack("=d", 1) .. "Te",         -- float key
        "XSB1Rt" .. "t" .. "e" .. "Te",                          -- table key
        "XSB1Rt" .. "s" .. string.pack("=I8", 2^62) .. "x" .. "Te", -- length past the end
        "XSB1R" .. ("t" .. int(1)):rep(100) .. "T" .. ("e"):rep(100), -- too deep
        "XSB1F" .. "\200" .. str("message"),                     -- unknown code
        "XSB1F" .. "\1" .. str("message") .. "x",
        "XSB1Q",
      }
      for _, b in ipairs(bad) do
        local r, _, code = read(b)
        assert.is_nil(r)
        assert.equal("CRASHED", code)
      end
      local big = "XSB1Rt" .. str("s") .. str(("x"):rep(100)) .. "e"
      assert.equal("CRASHED", select(3, read(big, 64)))
      assert.is_table(read(big, 200))
      local r, msg, code = read("XSB1F" .. "\1" .. str("test.lua:1: boom"))
      assert.same({ nil, "test.lua:1: boom", "RUNTIME" }, { r, msg, code })
    end)
  end)
end)
