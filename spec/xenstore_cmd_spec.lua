-- The xenstore commands on the sim: xenstore-utils' output, options and exit codes (1 for a
-- failure and for a usage mistake, as xenstore-utils).
local helper = require("support.helper")
local sim = require("support.sim")

describe("xlua xenstore-*", function()
  local s
  setup(function()
    s = sim.new()
    local _, err, status = s.x({ "xenstore-write", "/t/a", "1", "/t/b/c", "two words", "/t/e", "tab\\there" })
    assert.equal(0, status, err)
  end)

  it("reads values, with -p prefixes and escapes unless -R", function()
    local out, err, status = s.x({ "xenstore-read", "/t/a", "/t/b/c" })
    assert.equal(0, status, err)
    assert.equal("1\ntwo words\n", out)
    out = s.x({ "xenstore-read", "-p", "/t/a" })
    assert.equal("/t/a: 1\n", out)
    out = s.x({ "xenstore-read", "/t/e" })
    assert.equal("tab\\there\n", out)
    out = s.x({ "xenstore-read", "-R", "/t/e" })
    assert.equal("tab\there", out)
  end)

  it("fails a read of a missing path with xenstore-read's message and status 1", function()
    local out, err, status = s.x({ "xenstore-read", "/t/a", "/t/missing" })
    assert.equal(1, status)
    assert.equal("1\n", out)     -- what was read before still comes out, as xenstore-read
    assert.equal("xlua xenstore-read: couldn't read path /t/missing\n", err)
  end)

  it("writes raw values with -R and escaped ones without", function()
    local _, err, status = s.x({ "xenstore-write", "-R", "/t2/raw", "a\\tb" })
    assert.equal(0, status, err)
    assert.equal("a\\\\tb\n", (s.x({ "xenstore-read", "/t2/raw" })))
    _, err, status = s.x({ "xenstore-write", "/t2/esc", "\\x41\\102\\\\" })
    assert.equal(0, status, err)
    assert.equal("AB\\", (s.x({ "xenstore-read", "-R", "/t2/esc" })))
  end)

  it("lists children, with -p as full paths; a missing path is status 1", function()
    assert.equal("a\nb\ne\n", (s.x({ "xenstore-list", "/t" })))
    assert.equal("/t/b/c\n", (s.x({ "xenstore-list", "-p", "/t/b" })))
    local _, err, status = s.x({ "xenstore-list", "/nope" })
    assert.equal(1, status)
    assert.equal("xlua xenstore-list: could not list path /nope\n", err)
  end)

  it("prints the tree as xenstore-ls does, -f with full paths, -p with permissions", function()
    local out, err, status = s.x({ "xenstore-ls", "/t" })
    assert.equal(0, status, err)
    assert.equal('a = "1"\nb = ""\n c = "two words"\ne = "tab\\there"\n', out)
    out = s.x({ "xenstore-ls", "-f", "/t/b" })
    assert.equal('/t/b/c = "two words"\n', out)
    out = s.x({ "xenstore-ls", "-p", "/t/b" })
    -- xenstore-ls pads to column 60 with " ." from the first even column after the value
    assert.equal('c = "two words" ' .. string.rep(" .", 22) .. '  (n0)\n', out)
    out = s.x({ "xenstore-ls", "-f", "-p", "/t/b" })
    assert.equal('/t/b/c = "two words"   (n0)\n', out)
    -- a long value is cut at 80 columns
    local long = string.rep("x", 100)
    s.x({ "xenstore-write", "/t/long/v", long })
    out = s.x({ "xenstore-ls", "/t/long" })
    assert.equal('v = "' .. string.rep("x", 80 - 8 - 1) .. '\\..."\n', out)
    out = s.x({ "xenstore-ls", "-f", "/t/long" })
    assert.equal('/t/long/v = "' .. long .. '"\n', out)
    local _, err2, status2 = s.x({ "xenstore-ls", "/nope" })
    assert.equal(1, status2)
    assert.matches("^xlua xenstore%-ls: xs_directory %(/nope%)", err2)
  end)

  it("lists the whole tree from / by default", function()
    local out, err, status = s.x({ "xenstore-ls" })
    assert.equal(0, status, err)
    assert.matches('^local = ""\n domain = ""\n  0 = ""\n', out)
    assert.matches('\nvm = ""\n', out)
  end)

  it("removes nodes; -t also removes the parents left empty", function()
    s.x({ "xenstore-write", "/r/x/y", "1", "/r/keep", "k" })
    local _, err, status = s.x({ "xenstore-rm", "-t", "/r/x/y" })
    assert.equal(0, status, err)
    assert.equal("keep\n", (s.x({ "xenstore-list", "/r" })))
    _, err, status = s.x({ "xenstore-rm", "/r/no/such" })
    assert.equal(1, status)
    assert.equal("xlua xenstore-rm: could not remove path /r/no/such\n", err)
  end)

  it("refuses usage mistakes with the usage and status 1, and helps with -h", function()
    local _, err, status = s.x({ "xenstore-write", "/t/odd" })
    assert.equal(1, status)
    assert.matches("^Usage: xlua xenstore%-write", err)
    _, err, status = s.x({ "xenstore-read" })
    assert.equal(1, status)
    assert.matches("^Usage: xlua xenstore%-read", err)
    _, err, status = s.x({ "xenstore-read", "-f", "/t/a" })
    assert.equal(1, status)
    local out
    out, err, status = s.x({ "xenstore-ls", "-h" })
    assert.equal(0, status, err)
    assert.matches("^usage: xlua xenstore%-ls %[%-h%] %[%-f%] %[%-p%]", out)
  end)

  it("prints each watch event's path as it comes, stopping after -n of them", function()
    local dir = helper.tmpdir()
    local env = "env XLUA_SIM_DIR=" .. helper.shell_quote(s.env.XLUA_SIM_DIR) .. " XLUA_BACKEND=sim "
    local x = helper.shell_quote(helper.xlua)
    -- the watcher starts, fires once for itself; the writer waits for that line
    local script = string.format([[
      %s%s xenstore-watch -n 3 --timeout 10 /wt > %s/out &
      pid=$!
      for i in $(seq 100); do grep -q /wt %s/out 2>/dev/null && break; sleep 0.05; done
      %s%s xenstore-write /wt/a 1 /wt/b 2
      wait $pid]], env, x, dir, dir, env, x)
    assert(os.execute(script))
    assert.equal("/wt\n/wt/a\n/wt/b\n", helper.slurp(dir .. "/out"))
  end)

  it("ends a quiet watch at its --timeout with status 0", function()
    local out, err, status = s.x({ "xenstore-watch", "--timeout", "0.2", "/quiet" })
    assert.equal(0, status, err)
    assert.equal("/quiet\n", out)
  end)

  it("fails with status 1 and one line where there is no xenstore", function()
    local out, err, status = helper.run({ "xenstore-read", "/local/domain/0/name" },
      { env = { XLUA_BACKEND = "libxl", XLUA_XEN_CAPABILITIES = "/nonexistent" } })
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^xlua xenstore%-read: [^\n]+\n$", err)
  end)
end)
