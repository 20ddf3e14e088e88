-- xlua's own Lua files are compiled at build time (bindings/precompiled.c): a file found along
-- the search path runs as its text says, under its own name and line numbers, whether its
-- chunk came from the binary (byte for byte the file compiled) or from compiling it.
local helper = require("support.helper")
local run = helper.run

-- A copy of lua/xlua/cli.lua under DIR/xlua/, with text put before it; XLUA_PATH for it.
local function copy_cli(before)
  local dir = helper.tmpdir()
  os.execute("mkdir -p " .. helper.shell_quote(dir .. "/xlua"))
  helper.spit(dir .. "/xlua/cli.lua", before .. helper.slurp("lua/xlua/cli.lua"))
  return dir, { XLUA_PATH = dir .. "/?.lua;;" }
end

local function line_of(text, pattern)
  local n = 0
  for line in (text .. "\n"):gmatch("(.-)\n") do
    n = n + 1
    if line:find(pattern) then
      return n
    end
  end
end

describe("precompiled Lua files", function()
  local source = helper.slurp("lua/xlua/cli.lua")
  local main_at = line_of(source, "^function cli%.main%(")

  it("keep the name and line numbers of the file they are loaded from", function()
    local out, err, code = run({ "-e", "local i = debug.getinfo(require('xlua.cli').main, 'S')"
      .. " io.write(i.source, ' ', i.linedefined)" })
    assert.equal(0, code, err)
    assert.matches("^@/.*/lua/xlua/cli%.lua " .. main_at .. "$", out)
  end)

  it("are named after a copy loaded from elsewhere", function()
    local dir, env = copy_cli("")
    local out, err, code = run({ "-e", "io.write(debug.getinfo(require('xlua.cli').main, 'S').source)" },
      { env = env })
    assert.equal(0, code, err)
    assert.equal("@" .. dir .. "/xlua/cli.lua", out)
  end)

  it("give way to an edited file: what runs is what it says, at its own lines", function()
    local _, env = copy_cli("EDITED = true\n\n")
    local out, err, code = run({ "-e", "local cli = require('xlua.cli')"
      .. " io.write(tostring(EDITED), ' ', debug.getinfo(cli.main, 'S').linedefined)" }, { env = env })
    assert.equal(0, code, err)
    assert.equal("true " .. (main_at + 2), out)
  end)

  it("give way to a broken file, whose error names it", function()
    local dir, env = copy_cli("local = 1\n")
    local _, err, code = run({ "-e", "require('xlua.cli')" }, { env = env })
    assert.equal(1, code)
    assert.matches("error loading module 'xlua.cli' from file '" .. dir:gsub("%p", "%%%0")
      .. "/xlua/cli.lua':", err)
  end)

  it("run commands as their scripts say", function()
    local _, err, code = run({ "verify" })
    assert.equal(2, code)
    assert.matches("usage: xlua verify", err)
  end)
end)
