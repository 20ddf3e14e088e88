-- The parse command as a person runs it: settings as written, --json, errors and exit codes.
local helper = require("support.helper")
local cfg = require("xlua.cfg")
local json = require("xlua.json")
local run = helper.run

local fixtures = "spec/fixtures/cfg/"

describe("xlua parse", function()
  it("prints each setting as name = value, in order, with normalised quoting", function()
    local out, err, code = run({ "parse", fixtures .. "append.cfg" })
    assert.equal(0, code, err)
    assert.equal(table.concat({
      'name = "append"',
      'extra = "console=hvc0 root=/dev/xvda1 quiet"',
      'disk = [ "phy:/dev/vg0/a,xvda,w", "phy:/dev/vg0/b,xvdb,w" ]',
      'vif = [ "bridge=xenbr0" ]',
      'cmdline = "first"',
      'memory = "5120"',
      "",
    }, "\n"), out)
    assert.equal("", err)
  end)

  it("writes numbers bare, escapes what needs it, and nests lists", function()
    local dir = helper.tmpdir()
    helper.spit(dir .. "/x.cfg", "n = 0x10\ns = 'it\\'s \"q\" \\\\ \\t\\x01'\nl = [ 1, 'a', [], [ '2' ] ]\ne = []\n")
    local out, err, code = run({ "parse", dir .. "/x.cfg" })
    assert.equal(0, code, err)
    assert.equal('n = 0x10\ns = "it\'s \\"q\\" \\\\ \\t\\x01"\nl = [ 1, "a", [], [ 2 ] ]\ne = []\n', out)
  end)

  it("prints text that parses back to the same values", function()
    for _, file in ipairs({ "quoting.cfg", "lists-nested.cfg", "hvm-passthrough.cfg", "escapes-numeric.cfg",
      "numbers.cfg", "repeated.cfg" }) do
      local out, err, code = run({ "parse", fixtures .. file })
      assert.equal(0, code, err)
      local again = assert(cfg.parse(out))
      assert.same(assert(cfg.parse_file(fixtures .. file)).values, again.values, file)
    end
  end)

  it("--json prints one object: strings, numbers as written, lists as arrays", function()
    local out, err, code = run({ "parse", "--json", fixtures .. "lists-nested.cfg" })
    assert.equal(0, code, err)
    local obj = assert(json.decode(out))
    assert.same({
      name = "numa",
      memory = "8192",
      vcpus = "8",
      vnuma = {
        { "pnode=0", "size=4096", "vcpus=0-3", "vdistances=10,20" },
        { "pnode=1", "size=4096", "vcpus=4-7", "vdistances=20,10" },
      },
      deep = { { { { "1" } } }, {}, { {} } },
    }, obj)
    assert.matches('"deep": %[', out)
    assert.matches("%[%]", out)
  end)

  it("--json of an empty file is an empty object", function()
    local out, err, code = run({ "parse", "--json", "-" }, { stdin = "# nothing\n" })
    assert.equal(0, code, err)
    assert.equal("{}\n", out)
  end)

  it("reads standard input for -", function()
    local out, err, code = run({ "parse", "-" }, { stdin = "a = 1; b = 'x'" })
    assert.equal(0, code, err)
    assert.equal('a = 1\nb = "x"\n', out)
  end)

  it("exits 2 with one line FILE:LINE:COL on a syntax error", function()
    local out, err, code = run({ "parse", fixtures .. "bad-unclosed-list.cfg" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^xlua parse: spec/fixtures/cfg/bad%-unclosed%-list%.cfg:3:1: expected [^\n]*\n$", err)
    _, err, code = run({ "parse", "--json", "-" }, { stdin = "x = 1\ny = -1\n" })
    assert.equal(2, code)
    assert.matches("^xlua parse: <stdin>:2:5: expected [^\n]*\n$", err)
  end)

  it("exits 2 with one line for a missing file", function()
    local out, err, code = run({ "parse", "/nonexistent/x.cfg" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^xlua parse: /nonexistent/x%.cfg: [^\n]*\n$", err)
  end)

  it("exits 2 with the usage on bad arguments, 0 for --help", function()
    local _, err, code = run({ "parse" })
    assert.equal(2, code)
    assert.matches("usage: xlua parse", err)
    _, err, code = run({ "parse", "--bogus", "x" })
    assert.equal(2, code)
    assert.matches("unknown option", err)
    local out
    out, _, code = run({ "parse", "--help" })
    assert.equal(0, code)
    assert.matches("^usage: xlua parse %[%-%-json%] FILE|%-", out)
  end)
end)
