-- The commands' failure paths end to end on the sim backend: Ctrl-C during a save, bad input
-- (exit 2), conflicts (exit 1), reproducible compat output. Statuses, states and files are
-- asserted; a failure is one "xlua CMD: ..." line, whatever its wording.
local helper = require("support.helper")
local sf = require("support.savefiles")
local json = require("xlua.json")
local q = helper.shell_quote

local s = require("support.sim").new()
local root, env, x, file = s.root, s.env, s.x, s.file
local WEB = 'name = "%s"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = %d\nvcpus = 1\n'
local function domain(name, mib)
  local _, err, code = x({ "create", file(name .. ".cfg", WEB:format(name, mib or 64)) })
  assert.equal(0, code, err)
end
local function state(name)
  local out = x({ "list", "--json" })
  for _, info in ipairs(json.decode(out)) do
    if info.name == name then
      return info.state
    end
  end
end
local function one_failure(cmd, err)
  local count = 0
  for line in err:gmatch("[^\n]+") do
    if line:sub(1, #cmd + 7) == "xlua " .. cmd .. ": " then
      count = count + 1
    end
  end
  assert.equal(1, count, err)
end
-- a savefile whose stored config is text
local function savefile_with(name, config_text)
  local path = root .. "/" .. name
  local optional = sf.optional_data(config_text, true)
  helper.spit(path, sf.header(sf.JSON | sf.STREAMV2, 0, #optional) .. optional .. sf.stream({ pages = 2 }))
  return path
end

describe("Ctrl-C during save", function()
  it("exits 130, puts the domain back running and leaves the target untouched", function()
    domain("big", 256)
    local target = root .. "/out/big.sav"
    os.execute("mkdir -p " .. q(root .. "/out"))
    helper.spit(target, "the old file")
    -- Interrupted mid-stream: once the temporary file is beside the target. (The shell's
    -- background job ignores SIGINT; xlua installs its own handler, as lua.c does.)
    local cmd = string.format("XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s save big %s 2>%s & pid=$!; "
      .. "n=0; while [ $(ls -A %s | wc -l) -lt 2 ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n+1)); done; "
      .. "sleep 0.05; kill -INT $pid; wait $pid; echo $? >%s",
      q(env.XLUA_SIM_DIR), q(helper.xlua), q(target), q(root .. "/int.err"), q(root .. "/out"),
      q(root .. "/int.rc"))
    os.execute("sh -c " .. q(cmd))
    local rc = tonumber(helper.slurp(root .. "/int.rc"))
    assert.equal(130, rc, helper.slurp(root .. "/int.err"))
    one_failure("save", helper.slurp(root .. "/int.err"))
    assert.equal("running", state("big"))
    assert.equal("the old file", helper.slurp(target))
    local p = io.popen("ls -A " .. q(root .. "/out"))
    assert.equal("big.sav", p:read("a"):gsub("\n$", ""))
    p:close()
  end)
end)

describe("bad input exits 2", function()
  it("save to a directory, before pausing the domain", function()
    domain("d1")
    os.execute("mkdir -p " .. q(root .. "/adir"))
    local _, err, code = x({ "save", "d1", root .. "/adir" })
    assert.equal(2, code)
    one_failure("save", err)
    assert.equal("running", state("d1"))
  end)

  it("save with a CONFIG that does not parse; the domain untouched", function()
    domain("d2")
    local _, err, code = x({ "save", "d2", root .. "/d2.sav", file("bad.cfg", 'name = "x\n') })
    assert.equal(2, code)
    one_failure("save", err)
    assert.equal("running", state("d2"))
  end)

  it("XLUA_BACKEND=bogus, as --backend bogus, for every domain command", function()
    local e = { XLUA_BACKEND = "bogus", XLUA_SIM_DIR = env.XLUA_SIM_DIR }
    local sav = root .. "/any.sav"
    sf.write(sav, {})
    for _, args in ipairs({ { "list" }, { "destroy", "x" }, { "pause", "x" }, { "unpause", "x" },
      { "rename", "x", "y" }, { "config", "x" }, { "save", "x", root .. "/x.sav" }, { "restore", sav },
      { "restore", "-n", sav }, { "create", file("c.cfg", WEB:format("c", 64)) } }) do
      local _, err, code = x(args, { env = e })
      assert.equal(2, code, args[1])
      one_failure(args[1], err)
      _, _, code = x({ args[1], "--backend", "bogus", table.unpack(args, 2) })
      assert.equal(2, code, args[1] .. " --backend")
    end
  end)

  for _, case in ipairs({
    { "a c_info that is not an object", '{"c_info":5}' },
    { "an integer field that is a string", '{"c_info":{"name":"x"},"b_info":{"max_memkb":"x"}}' },
    { "a device list of non-objects", '{"c_info":{"name":"x"},"disks":[5]}' },
  }) do
    it("a config with " .. case[1] .. ": restore, compat, convert --cfg", function()
      local sav = savefile_with("shape.sav", case[2])
      local js = file("shape.json", case[2])
      for _, args in ipairs({ { "restore", sav }, { "restore", "-n", sav }, { "compat", sav, sav },
        { "compat", js, js }, { "convert", "--cfg", js } }) do
        local out, err, code = x(args)
        assert.equal(2, code, table.concat(args, " ") .. ": " .. err)
        one_failure(args[1], err)
        if args[1] ~= "restore" then
          assert.equal("", out)
        end
      end
      -- the example lists it (the file verifies) without a Lua error
      local dir = root .. "/shapes"
      os.execute("mkdir -p " .. q(dir) .. " && cp " .. q(sav) .. " " .. q(dir .. "/s.sav"))
      local _, err, code = x({ "examples/list-savefiles.lua", dir })
      assert.equal(0, code, err)
    end)
  end

  it("convert --cfg of a directory or an empty file: one line", function()
    for _, path in ipairs({ root, file("empty.json", "") }) do
      local out, err, code = x({ "convert", "--cfg", path })
      assert.equal(2, code, path)
      assert.equal("", out)
      one_failure("convert", err)
      assert.equal(1, select(2, err:gsub("\n", "")))
    end
  end)

  it("examples/list-savefiles.lua of a missing directory: one line, no header", function()
    local out, err, code = x({ "examples/list-savefiles.lua", root .. "/no/such/dir" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal(1, select(2, err:gsub("\n", "")))
  end)

  it("restore -, verify -, inspect - refuse a terminal on standard input", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      return pending("script(1) is needed to give xlua a terminal")
    end
    for _, args in ipairs({ "restore -", "restore -n -", "verify -", "inspect -" }) do
      local cmd = string.format("XLUA_SIM_DIR=%s XLUA_BACKEND=sim script -qec %s /dev/null </dev/null >%s 2>&1",
        q(env.XLUA_SIM_DIR), q(q(helper.xlua) .. " " .. args), q(root .. "/tty.out"))
      local _, _, code = os.execute(cmd)
      assert.equal(2, code, args .. ": " .. helper.slurp(root .. "/tty.out"))
    end
  end)

  it("parse has no undocumented -j", function()
    local _, _, code = x({ "parse", "-j", file("p.cfg", 'name = "p"\n') })
    assert.equal(2, code)
  end)
end)

describe("restore -n", function()
  it("reports a taken name and exits 1, as the restore would", function()
    domain("n1")
    local sav = root .. "/n1.sav"
    assert.equal(0, select(3, x({ "save", "-c", "n1", sav })))
    local _, err, code = x({ "restore", "-n", sav })
    assert.equal(1, code)
    one_failure("restore", err)
    _, err, code = x({ "restore", sav })
    assert.equal(1, code, err)
    -- from a pipe too: the domain with that uuid is running
    _, err, code = x({ "restore", "-n", "-" }, { stdin = helper.slurp(sav) })
    assert.equal(1, code, err)
    assert.matches("already runs with uuid", err)
  end)
end)

describe("compat", function()
  it("is reproducible for a config without a uuid, and finds it compatible with itself", function()
    local cfg = file("nouuid.cfg", WEB:format("u1", 64))
    local first, err, code = x({ "compat", "--json", cfg, cfg })
    assert.equal(0, code, err)
    local second = x({ "compat", "--json", cfg, cfg })
    assert.equal(first, second)
    assert.same({}, json.decode(first).differences)
  end)

  it("reports a changed uuid as incompatible", function()
    local a = file("ua.cfg", WEB:format("u2", 64) .. 'uuid = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"\n')
    local b = file("ub.cfg", WEB:format("u2", 64) .. 'uuid = "00000000-1111-4222-8333-444444444444"\n')
    local out, _, code = x({ "compat", "--json", a, b })
    assert.equal(1, code)
    local d = json.decode(out).differences[1]
    assert.same({ "c_info.uuid", "incompatible" }, { d.path, d.verdict })
  end)

  it("an unchanged name in use is no difference", function()
    domain("u3")
    local cfg = file("u3b.cfg", WEB:format("u3", 64))
    local out, _, code = x({ "compat", "--json", cfg, cfg })
    assert.equal(0, code)
    assert.same({}, json.decode(out).differences)
  end)
end)

describe("rename", function()
  it("renames the stored libxl JSON too", function()
    domain("r1")
    assert.equal(0, select(3, x({ "rename", "r1", "r1new" })))
    local out, err, code = x({ "config", "--json", "r1new" })
    assert.equal(0, code, err)
    assert.equal("r1new", json.decode(out).c_info.name)
  end)
end)

describe("domains.status", function()
  local domains = require("xlua.domains")

  it("is 2 for the codes of every parser, converter and reader of input", function()
    for code in ([[SYNTAX RUNTIME LIMIT_INSTRUCTIONS LIMIT_MEMORY LIMIT_RESULT BINARY TOOBIG BADDISK
      BADPCI BADRATE BADCONFIG BADJSON NEEDHOST BADVALUE NOCONFIG BADMAGIC TRUNCATED ENOENT EISDIR
      BADBACKEND]]):gmatch("%S+") do
      assert.equal(2, domains.status(code), code)
    end
  end)

  it("is 1 for a failed operation, and knows no stale BADSYNTAX", function()
    for _, code in ipairs({ "NODOMAIN", "EXISTS", "INCOMPATIBLE", "LIBXL", "ENOSPC", "EIO", "BADSYNTAX" }) do
      assert.equal(1, domains.status(code), code)
    end
  end)
end)

describe("the memory-free site rule on a small host", function()
  it("refuses a restore that needs more memory than the host has free, and --force overrides", function()
    domain("hungry", 64)
    local saved = root .. "/hungry.sav"
    assert.equal(0, select(3, x({ "save", "hungry", saved })))
    local small = {}
    for k, v in pairs(env) do
      small[k] = v
    end
    -- a copy with the permissions site.load wants, whatever the checkout's umask
    local site = root .. "/site.d"
    os.execute(string.format("mkdir -p %s && cp examples/site.d/*.lua %s && chmod 755 %s && chmod 644 %s/*.lua",
      q(site), q(site), q(site), q(site)))
    small.XLUA_SITE_DIR = site
    small.XLUA_SIM_HOST_MEMORY_KB = tostring(32 * 1024) -- less than the 64 MiB domain
    local out, err, code = x({ "restore", saved }, { env = small })
    assert.equal(1, code, out .. err)
    assert.matches("incompatible +b_info%.target_memkb", out .. err)
    assert.is_nil(state("hungry"))
    out, err, code = x({ "restore", "--force", saved }, { env = small })
    assert.equal(0, code, out .. err)
    assert.equal("running", state("hungry"))
  end)
end)

describe("the backend chosen implicitly", function()
  -- `script` gives the command a terminal on stderr; its output is what the terminal showed
  local function on_terminal(command_env, args)
    local out = root .. "/tty.out"
    local cmd = {}
    for k, v in pairs(command_env) do
      cmd[#cmd + 1] = k .. "=" .. q(v)
    end
    cmd[#cmd + 1] = q(helper.xlua)
    for _, a in ipairs(args) do
      cmd[#cmd + 1] = q(a)
    end
    os.execute(string.format("script -qec %s %s >/dev/null 2>&1 </dev/null", q(table.concat(cmd, " ")), q(out)))
    return helper.slurp(out)
  end
  local implicit = { XLUA_SIM_DIR = env.XLUA_SIM_DIR, XLUA_XEN_CAPABILITIES = "/nonexistent",
    XLUA_SYS_HYPERVISOR = "/nonexistent" }

  it("is the simulator where there is no Xen dom0, and a command that changes domains says so on a terminal", function()
    local shown = on_terminal(implicit, { "create", file("t1.cfg", WEB:format("t1", 64)) })
    assert.matches("simulated hypervisor", shown)
    shown = on_terminal(implicit, { "list" })
    assert.not_matches("simulated hypervisor", shown)
    -- asked for by name, or not on a terminal: not a word
    shown = on_terminal({ XLUA_SIM_DIR = env.XLUA_SIM_DIR, XLUA_BACKEND = "sim" }, { "pause", "t1" })
    assert.not_matches("simulated hypervisor", shown)
    local _, err, code = helper.run({ "unpause", "t1" }, { env = implicit })
    assert.equal(0, code, err)
    assert.not_matches("simulated hypervisor", err)
  end)

  it("is never the simulator on a Xen dom0 whose xenfs is not mounted: it says what is missing", function()
    local sys = root .. "/sys-hypervisor"
    os.execute("mkdir -p " .. q(sys))
    helper.spit(sys .. "/type", "xen\n")
    helper.spit(sys .. "/uuid", "00000000-0000-0000-0000-000000000000\n")
    local dom0 = { XLUA_SIM_DIR = env.XLUA_SIM_DIR, XLUA_XEN_CAPABILITIES = root .. "/no-xenfs/capabilities",
      XLUA_SYS_HYPERVISOR = sys }
    local _, err, code = helper.run({ "list" }, { env = dom0 })
    assert.equal(1, code)
    one_failure("list", err)
    assert.matches("xenfs is not mounted on /proc/xen", err)
    -- inside a Xen guest (its own uuid) the simulator stays the default
    helper.spit(sys .. "/uuid", "4f0d4a7e-3ad6-4c1b-9f0e-2b4a0c6d2e11\n")
    _, err, code = helper.run({ "list" }, { env = dom0 })
    assert.equal(0, code, err)
  end)
end)
