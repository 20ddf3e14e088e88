-- spec/repl_spec.lua: xlua.repl driven by a scripted line reader, and the real
-- xlua.readline's history and argument checks when it can be loaded.
local repl = require "xlua.repl"

-- A stand-in for xlua.readline: serves scripted lines, records prompts and history,
-- persists history in a file of its own format. INTERRUPT in the script is a Ctrl-C.
local INTERRUPT = {}

local function fake_readline(lines, fail)
  fail = fail or {}
  local f = { prompts = {}, added = {}, written = {} }
  local i = 0
  function f.readline(prompt)
    f.prompts[#f.prompts + 1] = prompt
    i = i + 1
    local line = lines[i]
    if line == INTERRUPT then return "", true end
    return line
  end
  function f.add_history(line) f.added[#f.added + 1] = line end
  function f.read_history(path)
    if fail.read then return nil, "cannot read " .. path, fail.read end
    local file = io.open(path, "r")
    if not file then return nil, "cannot read " .. path, "ENOENT" end
    for entry in file:lines() do f.added[#f.added + 1] = load("return " .. entry)() end
    file:close()
    return true
  end
  function f.write_history(path)
    if fail.write then return nil, "cannot write " .. path, fail.write end
    local file = assert(io.open(path, "w"))
    for _, entry in ipairs(f.added) do file:write(("%q"):format(entry):gsub("\\\n", "\\n"), "\n") end
    file:close()
    f.written[#f.written + 1] = path
    return true
  end
  function f.set_completer(fn) f.completer = fn end
  function f.is_tty() return false end
  return f
end

local function sink()
  local s = { text = "" }
  function s:write(...)
    for _, part in ipairs({ ... }) do self.text = self.text .. tostring(part) end
    return self
  end
  function s:flush() return self end
  function s:lines()
    local out = {}
    for l in self.text:gmatch("([^\n]*)\n") do out[#out + 1] = l end
    return out
  end
  return s
end

-- Run the REPL over lines; returns result lines, error lines and the fake.
local function run(lines, opts)
  opts = opts or {}
  local rio = opts.io or fake_readline(lines)
  local out, err = sink(), sink()
  repl.run {
    io = rio, output = out, errors = err, banner = opts.banner, history = opts.history,
    globals = opts.globals, verbose = opts.verbose or false,
  }
  return out:lines(), err:lines(), rio
end

describe("xlua.repl", function()
  describe("evaluation", function()
    it("prints the banner first", function()
      local out = run({ "1" }, { banner = "xlua 0.1" })
      assert.same({ "xlua 0.1", "1" }, out)
    end)

    it("evaluates expressions and prints the values pretty", function()
      local out = run({ "1 + 1", "'a' .. 'b'", "{1, x = {2}}", "2^2" })
      assert.same({ "2", '"ab"', "{1, x = {2}}", "4.0" }, out)
    end)

    it("runs statements, printing nothing, and keeps globals between lines", function()
      local out, err = run({ "x = 20", "local y = 1", "x + 2", "y" })
      assert.same({ "22", "nil" }, out)
      assert.same({}, err)
    end)

    it("treats a leading = as return", function()
      local out = run({ "=1 + 2", "= 'x'" })
      assert.same({ "3", '"x"' }, out)
    end)

    it("prints multiple values separated by tabs", function()
      local out = run({ "1, 'two', nil", "return 1, nil, nil" })
      assert.same({ '1\t"two"\tnil', "1\tnil\tnil" }, out)
    end)

    it("prints nil for a nil value and nothing for no values", function()
      local out = run({ "nil", "return", "print ~= print", "", "do end" })
      assert.same({ "nil", "false" }, out)
    end)

    it("prints one value per line when one of them spans lines", function()
      local wide = "{" .. string.rep("'xxxxxxxxxx', ", 8) .. "}"
      local out = run({ "1, " .. wide })
      assert.equal("1", out[1])
      assert.equal("{", out[2])
      assert.equal("}", out[#out])
    end)
  end)

  describe("continuation lines", function()
    it("reads more lines while the chunk is incomplete", function()
      local out, err, rio = run({ "function double(a)", "  return a * 2", "end", "double(21)" })
      assert.same({ "42" }, out)
      assert.same({}, err)
      assert.same({ "> ", ">> ", ">> ", "> ", "> " }, rio.prompts)
    end)

    it("continues an unfinished expression and table constructor", function()
      local out = run({ "{1,", "2}", "1 +", "2" })
      assert.same({ "{1, 2}", "3" }, out)
    end)

    it("continues an unfinished long string", function()
      local out = run({ "[[a", "b]]" })
      assert.same({ '"a\\nb"' }, out)
    end)

    it("reports an incomplete chunk at end of input and returns", function()
      local out, err = run({ "function f()" })
      assert.same({}, out)
      assert.equal(1, #err)
      assert.truthy(err[1]:find("<eof>", 1, true))
    end)

    it("drops a half-entered chunk on Ctrl-C", function()
      local out, err, rio = run({ "function f()", INTERRUPT, "f", "1" })
      assert.same({ "nil", "1" }, out)
      assert.same({}, err)
      assert.same({ "> ", ">> ", "> ", "> ", "> " }, rio.prompts)
      assert.same({ "f", "1" }, rio.added)
    end)
  end)

  describe("errors", function()
    it("prints a syntax error on one line and goes on", function()
      local out, err = run({ "x = = 1", "1" })
      assert.same({ "1" }, out)
      assert.equal(1, #err)
      assert.truthy(err[1]:match("^stdin:1:"))
    end)

    it("prints a runtime error on one line and goes on", function()
      local out, err = run({ "error('boom')", "nil + 1", "2" })
      assert.same({ "2" }, out)
      assert.equal(2, #err)
      assert.truthy(err[1]:find("boom", 1, true))
      assert.truthy(err[2]:find("arithmetic", 1, true))
    end)

    it("describes error objects that are tables", function()
      local out, err = run({
        "error({code = 'ENOENT', n = 2})",
        "error(setmetatable({}, {__tostring = function() return 'custom failure' end}))",
        "error()",
        "3",
      })
      assert.same({ "3" }, out)
      assert.equal(3, #err)
      assert.truthy(err[1]:find('code = "ENOENT"', 1, true))
      assert.truthy(err[1]:find("n = 2", 1, true))
      assert.equal("custom failure", err[2])
      assert.truthy(err[3]:find("nil", 1, true))
    end)

    it("adds a traceback when verbose", function()
      local _, err = run({ "error('boom')" }, { verbose = true })
      assert.truthy(err[1]:find("boom", 1, true))
      assert.truthy(#err > 1)
      assert.truthy(table.concat(err, "\n"):find("stack traceback", 1, true))
    end)

    it("survives a value whose printing fails", function()
      local out, err = run({
        "setmetatable({}, {__name = 'x', __tostring = function() error('bad') end})",
        "setmetatable({}, {__index = function() error('no') end})",
        "5",
      })
      assert.equal(3, #out)
      assert.equal("5", out[3])
      assert.same({}, err)
    end)

    it("keeps going when the reader itself fails, but not forever", function()
      local calls = 0
      local rio = fake_readline({})
      function rio.readline()
        calls = calls + 1
        error("reader broke")
      end
      local _, err = run({}, { io = rio })
      assert.is_true(calls > 1 and calls < 100)
      assert.truthy(err[1]:find("reader broke", 1, true))
    end)
  end)

  describe("environment", function()
    local marker = "xlua_repl_spec_marker"

    after_each(function() rawset(_G, marker, nil) end)

    it("shows opts.globals in the REPL only", function()
      local mod = { name = "mod" }
      local out = run({ marker .. ".name", "rawget(_G, '" .. marker .. "')" },
        { globals = { [marker] = mod } })
      assert.same({ '"mod"', "nil" }, out)
      assert.is_nil(rawget(_G, marker))
    end)

    it("keeps assignments out of _G", function()
      local out = run({ marker .. " = 1", marker, "_ENV." .. marker .. " = 2", marker })
      assert.same({ "1", "2" }, out)
      assert.is_nil(rawget(_G, marker))
    end)

    it("sees _G's globals and lets _ENV name the REPL environment", function()
      local out = run({ "type(string.format)", "_ENV ~= _G", "_ENV.print == print",
        "local _ENV = {v = 7}; return v" })
      assert.same({ '"function"', "true", "true", "7" }, out)
    end)

    it("compiles chunks named stdin", function()
      local _, err = run({ "error('x')" })
      assert.truthy(err[1]:match("^stdin:1: x"))
    end)
  end)

  describe("history", function()
    local path

    before_each(function() path = os.tmpname() os.remove(path) end)
    after_each(function() os.remove(path) end)

    it("adds each non-blank complete input, multi-line chunks joined", function()
      local _, _, rio = run({ "1", "", "   ", "function f()", "end", "x = = 1", "1" })
      assert.same({ "1", "function f()\nend", "x = = 1", "1" }, rio.added)
    end)

    it("saves on exit and loads at start", function()
      local _, err, first = run({ "a = 1", "for i = 1, 2 do", "end" }, { history = path })
      assert.same({}, err)
      assert.same({ path }, first.written)
      local _, err2, second = run({ "a" }, { history = path })
      assert.same({}, err2)
      assert.same({ "a = 1", "for i = 1, 2 do\nend", "a" }, second.added)
    end)

    it("is silent when the history file does not exist yet", function()
      local _, err = run({ "1" }, { history = path })
      assert.same({}, err)
    end)

    it("warns once when the history cannot be read or written", function()
      local rio = fake_readline({ "1" }, { read = "EACCES", write = "EROFS" })
      local out, err = run(nil, { io = rio, history = path })
      assert.same({ "1" }, out)
      assert.equal(2, #err)
    end)
  end)

  describe("completion", function()
    local env
    before_each(function()
      env = repl.new_env({ xmod = { start = 1 } })
      env.t = { sub = { first = 1, fifth = 5, second = 2 } }
      env.s = "text"
      local class = { method = function() end, other = function() end }
      class.__index = class
      env.obj = setmetatable({ data = 1, member = 2, mfn = function() end }, class)
      env.lazy = setmetatable({}, { __index = function() error("must not run") end })
    end)

    it("completes globals of the REPL and of _G, and keywords", function()
      assert.same({ "print", "probe" }, repl.complete(setmetatable({ probe = 1 }, { __index = _G }), "pr"))
      assert.same({ "xmod" }, repl.complete(env, "xm"))
      local fns = repl.complete(env, "fun")
      assert.same({ "function" }, fns)
    end)

    it("completes fields after a dot", function()
      assert.same({ "string.format" }, repl.complete(env, "string.fo"))
      assert.same({ "t.sub.fifth", "t.sub.first" }, repl.complete(env, "t.sub.fi"))
      assert.same({ "xmod.start" }, repl.complete(env, "xmod."))
    end)

    it("completes methods after a colon, through the string metatable and __index", function()
      assert.same({ "s:upper" }, repl.complete(env, "s:up"))
      assert.same({ "obj:method", "obj:mfn" }, repl.complete(env, "obj:m"))
      assert.same({ "obj.member", "obj.method", "obj.mfn" }, repl.complete(env, "obj.m"))
      assert.same({ "io.stdout:write" }, repl.complete(env, "io.stdout:wr"))
    end)

    it("returns sorted unique candidates and nothing for unknown or odd words", function()
      local all = repl.complete(env, "")
      for i = 2, #all do assert.is_true(all[i - 1] < all[i]) end
      assert.same({}, repl.complete(env, "nosuch.x"))
      assert.same({}, repl.complete(env, "t.sub.first.x"))
      assert.same({}, repl.complete(env, "a[1].b"))
      assert.same({}, repl.complete(env, "lazy.x"))
    end)

    it("is wired into the reader by run, with the REPL's globals", function()
      local rio = fake_readline({ "q = {alpha = 1}" })
      run(nil, { io = rio, globals = { xmod = {} } })
      assert.is_function(rio.completer)
      assert.same({ "xmod" }, rio.completer("xmo", "xmo", 1))
      assert.same({ "q.alpha" }, rio.completer("q.al", "q.al", 1))
    end)
  end)
end)

-- The real module: available inside the xlua host, or under plain busted when
-- XLUA_READLINE_SO names a build of bindings/l_readline.c as a shared object.
local function real_readline()
  local ok, rl = pcall(require, "xlua.readline")
  if ok and type(rl) == "table" and rl.readline then return rl end
  local so = os.getenv("XLUA_READLINE_SO")
  if so then
    local open = assert(package.loadlib(so, "luaopen_xlua_readline"))
    return open()
  end
end

describe("xlua.readline", function()
  local rl = real_readline()
  if not rl then
    pending("xlua.readline is not loadable here (run inside xlua or set XLUA_READLINE_SO)")
    return
  end

  local path
  before_each(function() path = os.tmpname() rl.clear_history() end)
  after_each(function() os.remove(path) rl.clear_history() end)

  it("has the functions the REPL uses", function()
    for _, name in ipairs({ "readline", "add_history", "read_history", "write_history",
      "set_completer", "is_tty", "history", "clear_history" }) do
      assert.is_function(rl[name], name)
    end
    assert.is_boolean(rl.is_tty())
  end)

  it("writes and reads history, multi-line entries intact", function()
    rl.add_history("x = 1")
    rl.add_history("function f()\n  return 1\nend")
    assert.is_true(rl.write_history(path))
    rl.clear_history()
    assert.same({}, rl.history())
    assert.is_true(rl.read_history(path))
    assert.same({ "x = 1", "function f()\n  return 1\nend" }, rl.history())
  end)

  it("keeps at most 1000 entries in the file", function()
    for i = 1, 1100 do rl.add_history("e" .. i) end
    assert.is_true(rl.write_history(path))
    rl.clear_history()
    assert.is_true(rl.read_history(path))
    local h = rl.history()
    assert.equal(1000, #h)
    assert.equal("e1100", h[#h])
  end)

  it("fails with nil, message, code", function()
    local ok, msg, code = rl.read_history("/nonexistent-dir/h")
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("ENOENT", code)
    ok, msg, code = rl.write_history("/nonexistent-dir/h")
    assert.is_nil(ok)
    assert.equal("ENOENT", code)
  end)

  it("checks its arguments", function()
    assert.has_error(function() rl.set_completer(1) end)
    assert.has_error(function() rl.add_history({}) end)
    assert.has_error(function() rl.read_history() end)
    rl.set_completer(function() return {} end)
    rl.set_completer(nil)
  end)
end)
