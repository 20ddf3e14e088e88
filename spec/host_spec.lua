-- The xlua host program: options, commands, scripts, errors and exit codes.
local helper = require("support.helper")
local run = helper.run

describe("xlua host", function()
  it("prints its version", function()
    local out, _, code = run({ "--version" })
    assert.equal(0, code)
    assert.matches("^xlua %d+%.%d+%.%d+ %(api level %d+, Lua 5%.4", out)
  end)

  it("lists the bundled commands with their one-line summaries in --help", function()
    local out, _, code = run({ "--help" })
    assert.equal(0, code)
    assert.matches("usage: xlua", out)
    assert.matches("\n  inspect +%S", out)
    assert.matches("\n  verify +%S", out)
  end)

  it("runs -e code and exits 0", function()
    local out, _, code = run({ "-e", "io.write(1+1)" })
    assert.equal(0, code)
    assert.equal("2", out)
  end)

  it("turns an uncaught error into one line and exit status 1", function()
    local out, err, code = run({ "-e", "error('boom')" })
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal("xlua: (command line):1: boom\n", err)
  end)

  it("adds a traceback to uncaught errors only with -v", function()
    local _, err = run({ "-v", "-e", "error('boom')" })
    assert.matches("stack traceback", err)
  end)

  it("describes a non-string error object", function()
    local _, err, code = run({ "-e", "error({})" })
    assert.equal(1, code)
    assert.equal("xlua: (error object is a table value)\n", err)
  end)

  it("runs a script file with arg set as lua.c does, and uses its integer result as the exit status", function()
    local dir = helper.tmpdir()
    helper.spit(dir .. "/s.lua", "io.write(arg[0], '|', arg[1], '|', arg[2], '|', select('#', ...))\nreturn 7\n")
    local out, _, code = run({ dir .. "/s.lua", "a", "b" })
    assert.equal(dir .. "/s.lua|a|b|2", out)
    assert.equal(7, code)
  end)

  it("runs a bundled command by name, with or without .lua", function()
    local _, e1, c1 = run({ "verify" })
    local _, e2, c2 = run({ "verify.lua" })
    assert.equal(2, c1)
    assert.equal(c1, c2)
    assert.equal(e1, e2)
  end)

  it("refuses a name that is neither a command nor a file, with exit status 2", function()
    local _, err, code = run({ "no-such-command" })
    assert.equal(2, code)
    assert.matches("neither a command nor a Lua file", err)
  end)

  it("rejects an unknown option and a missing option argument with exit status 2", function()
    local _, err, code = run({ "--frobnicate" })
    assert.equal(2, code)
    assert.matches("unknown option", err)
    _, err, code = run({ "-e" })
    assert.equal(2, code)
    assert.matches("needs an argument", err)
  end)

  it("rejects an unknown backend", function()
    local _, err, code = run({ "--backend", "kvm", "-e", "" })
    assert.equal(2, code)
    assert.matches("unknown backend", err)
  end)

  it("searches -L directories and never relative ones", function()
    local dir = helper.tmpdir()
    helper.spit(dir .. "/mymod.lua", "return 'found'")
    local out = run({ "-L", dir, "-e", "io.write((require 'mymod'))" })
    assert.equal("found", out)
    out = run({ "-e", "io.write(package.path, ';', package.cpath)" })
    for entry in out:gmatch("[^;]+") do
      assert.equal("/", entry:sub(1, 1))
    end
  end)

  it("leaves -L after the script (or -) to the script, as option parsing does", function()
    local dir = helper.tmpdir()
    local out, _, code = run({ "-", "-L", dir }, { stdin = "io.write(package.path, '|', arg[1], '|', arg[2])" })
    assert.equal(0, code)
    local path, a1, a2 = out:match("^(.*)|(.*)|(.*)$")
    assert.equal("-L", a1)
    assert.equal(dir, a2)
    assert.is_nil(path:find(dir, 1, true))
    helper.spit(dir .. "/s.lua", "io.write(package.path)")
    out = run({ dir .. "/s.lua", "-L", dir })
    assert.is_nil(out:find(dir .. "/?.lua", 1, true))
    out = run({ "--", dir .. "/s.lua", "-L", dir })
    assert.is_nil(out:find(dir .. "/?.lua", 1, true))
    out = run({ "-L", dir, dir .. "/s.lua" })
    assert.equal(1, out:find(dir .. "/?.lua", 1, true) and 1)
  end)

  it("puts the default path where XLUA_PATH says ;; and after it otherwise", function()
    local a, b, l = helper.tmpdir(), helper.tmpdir(), helper.tmpdir()
    local function path_with(xlua_path)
      local out, _, code = run({ "-L", l, "-e", "io.write(package.path)" }, { env = { XLUA_PATH = xlua_path } })
      assert.equal(0, code)
      local entries = {}
      for e in out:gmatch("[^;]+") do
        entries[#entries + 1] = e
      end
      return entries
    end
    local e = path_with(a .. "/?.lua;;rel/?.lua;" .. b .. "/?.lua")
    assert.equal(a .. "/?.lua", e[1])
    assert.equal(l .. "/?.lua", e[2])
    assert.equal(l .. "/?/init.lua", e[3])
    assert.equal(b .. "/?.lua", e[#e])
    assert.is_true(#e > 4)     -- the system's Lua dirs sit between
    for _, entry in ipairs(e) do
      assert.equal("/", entry:sub(1, 1))
    end
    e = path_with(";;" .. a .. "/?.lua")
    assert.equal(l .. "/?.lua", e[1])
    assert.equal(a .. "/?.lua", e[#e])
    e = path_with(a .. "/?.lua;" .. b .. "/?.lua")
    assert.same({ a .. "/?.lua", b .. "/?.lua", l .. "/?.lua" }, { e[1], e[2], e[3] })
  end)

  it("honours XLUA_PATH before the installed library", function()
    local dir = helper.tmpdir()
    helper.spit(dir .. "/mymod2.lua", "return 'env'")
    local out = run({ "-e", "io.write((require 'mymod2'))" }, { env = { XLUA_PATH = dir .. "/?.lua;;" } })
    assert.equal("env", out)
  end)

  it("preloads the xlua modules for require, not as globals", function()
    local out = run({ "-e", "io.write(type(require 'xlua.savefile'), type(savefile), require('xlua').api_level)" })
    assert.equal("tablenil2", out)
  end)

  it("logs warnings as one stderr line and debug lines only when verbose", function()
    local code = "local x = require 'xlua'; x.log('warn', 'careful'); x.log('debug', 'detail')"
    local _, err = run({ "-e", code })
    assert.equal("xlua: warn: careful\n", err)
    _, err = run({ "-v", "-e", code })
    assert.equal("xlua: warn: careful\nxlua: debug: detail\n", err)
  end)

  it("interrupts running Lua code on SIGINT", function()
    local dir = helper.tmpdir()
    local cmd = ("%s -e 'while true do end' 2>%s/err & pid=$!; sleep 0.5; kill -INT $pid; wait $pid; echo $? >%s/rc")
      :format(helper.shell_quote(helper.xlua), dir, dir)
    os.execute(cmd)
    assert.equal("1\n", helper.slurp(dir .. "/rc"))
    assert.matches("interrupted!", helper.slurp(dir .. "/err"))
  end)
end)
