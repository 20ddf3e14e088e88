-- The domain commands end to end, as a person runs them, on the sim backend: create (xl.cfg and
-- Lua), list, config, save (-c, -p, -z, CONFIG, "-"), restore (alone, with a replacement config,
-- forced, -n, from a pipe), pause, unpause, rename, destroy, exit codes, concurrent creates.
local helper = require("support.helper")
local json = require("xlua.json")
local q = helper.shell_quote

local s = require("support.sim").new()
local root, env, x, cfg = s.root, s.env, s.x, s.file
local WEB = 'name = "%s"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 64\nvcpus = 2\n'
  .. 'disk = [ "format=raw, vdev=xvda, access=rw, target=/srv/xen/%s.img" ]\n'
local function web(name)
  return cfg(name .. ".cfg", WEB:format(name, name))
end
local DB = 'return { name = "db1", type = "pvh", kernel = "/boot/vmlinuz", memory = 32 * 2, vcpus = 1 }\n'
local db1 = cfg("db1.lua", DB)

local function list()
  local out, err, code = x({ "list", "--json" })
  assert.equal(0, code, err)
  local by_name = {}
  for _, info in ipairs(assert(json.decode(out))) do
    info.domid = math.tointeger(info.domid)
    by_name[info.name] = info
  end
  return by_name
end
local function created(out)
  local name, domid = out:match("^(%S+) (%d+)\n$")
  return name, tonumber(domid)
end

-- The failure was said in one line "xlua CMD: ..." (other stderr lines are progress and notes).
local function one_failure(cmd, err)
  local count = 0
  for line in err:gmatch("[^\n]+") do
    if line:sub(1, #cmd + 7) == "xlua " .. cmd .. ": " then
      count = count + 1
    end
  end
  assert.equal(1, count, err)
end

describe("domain commands on the sim backend", function()
  it("create from an xl.cfg prints the name and domid; list shows it as xl list does", function()
    local out, err, code = x({ "create", web("c1") })
    assert.equal(0, code, err)
    local name, domid = created(out)
    assert.equal("c1", name)
    assert.matches("Parsing config from", err)
    out = x({ "list" })
    assert.matches("^Name +ID +Mem VCPUs\tState\tTime%(s%)\n", out)
    assert.matches("\nDomain%-0 +0 ", out)
    assert.matches(string.format("\nc1%s %5d %5d %5d     r%%-%%-%%-%%-%%- +%%d+%%.%%d\n",
      string.rep(" ", 38), domid, 64, 2), out)
    out = x({ "list", "c1" })
    assert.equal(2, select(2, out:gsub("\n", "")))
  end)

  it("create from a Lua config, and config shows the text as written", function()
    local out, err, code = x({ "create", db1 })
    assert.equal(0, code, err)
    assert.equal("db1", (created(out)))
    local info = list().db1
    assert.same({ "pvh", 65536, 1, "running" }, { info.type, info.memory_kb, info.vcpus, info.state })
    out, err, code = x({ "config", "db1" })
    assert.equal(0, code, err)
    assert.equal(DB, out)
    out = x({ "config", "--json", "db1" })
    assert.equal("db1", json.decode(out).c_info.name)
  end)

  it("create applies key=value overrides; -p leaves it paused; -n creates nothing", function()
    local _, err, code = x({ "create", "-p", web("c2"), "memory=96", 'name="c2b"' })
    assert.equal(0, code, err)
    local info = list().c2b
    assert.same({ 96 * 1024, "paused" }, { info.memory_kb, info.state })
    assert.matches("\nc2b +%d+ +96 +2 +%-%-p%-%-%-", (x({ "list" })))
    local out
    out, err, code = x({ "create", "-n", web("c3") })
    assert.equal(0, code, err)
    assert.equal("c3", json.decode(out).c_info.name)
    assert.is_nil(list().c3)
  end)

  it("create fails: name taken 1, bad or missing config 2, bad usage 2", function()
    local path = web("c4")
    assert.equal(0, select(3, x({ "create", path })))
    local _, err, code = x({ "create", path })
    assert.equal(1, code)
    assert.matches("^Parsing config from [^\n]*\nxlua create: [^\n]*\n$", err)
    _, _, code = x({ "create", root .. "/missing.cfg" })
    assert.equal(2, code)
    _, _, code = x({ "create", cfg("bad.cfg", "name = \n") })
    assert.equal(2, code)
    _, err, code = x({ "create" })
    assert.equal(2, code)
    assert.matches("usage: xlua create", err)
  end)

  it("list -l prints [{domid, config}], list of an unknown domain fails", function()
    x({ "create", web("l1") })
    local out, _, code = x({ "list", "-l", "l1" })
    assert.equal(0, code)
    local l = json.decode(out)
    assert.equal(1, #l)
    assert.equal("l1", l[1].config.c_info.name)
    assert.equal(list().l1.domid, l[1].domid)
    local err
    _, err, code = x({ "list", "nosuch" })
    assert.equal(1, code)
    one_failure("list", err)
  end)

  it("save, then restore from the file alone: same memory digest, config kept", function()
    local path = web("s1")
    x({ "create", path })
    local before = list().s1
    local file = root .. "/s1.sav"
    local out, err, code = x({ "save", "s1", file })
    assert.equal(0, code, err)
    assert.equal("", out)
    assert.matches("Saving to [^\n]*s1%.sav new xl format %(info 0x3/0x0/%d+%)", err)
    assert.is_nil(list().s1)
    assert.equal(0, select(3, x({ "verify", file })))
    out = x({ "inspect", file })
    assert.matches("SOURCE_FORMAT %(2 bytes%) xl", out)
    assert.matches("--- source as written ---\n" .. helper.slurp(path):gsub("%p", "%%%0"), out)
    local p = io.popen("stat -c %a " .. q(file))
    assert.equal("600", p:read("l"))
    p:close()
    out, err, code = x({ "restore", file })
    assert.equal(0, code, err)
    assert.matches("Loading new save file", err)
    assert.equal("s1", (created(out)))
    local after = list().s1
    assert.equal(before.digest, after.digest)
    assert.equal(helper.slurp(path), (x({ "config", "s1" })))
  end)

  it("restore with a replacement config that moves a disk, and the digest survives", function()
    x({ "create", web("s2") })
    local before = list().s2
    local file = root .. "/s2.sav"
    assert.equal(0, select(3, x({ "save", "s2", file })))
    local moved = cfg("s2-moved.cfg", WEB:format("s2", "s2"):gsub("/srv/xen/", "/mnt/other/"))
    local out, err, code = x({ "restore", "-n", moved, file })
    assert.equal(0, code, err)
    assert.matches("allowed +disks%[0%]%.pdev_path: \"/srv/xen/s2%.img\" %-> \"/mnt/other/s2%.img\"", out)
    assert.matches("config compatible", out)
    assert.is_nil(list().s2)
    out, err, code = x({ "restore", moved, file })
    assert.equal(0, code, err)
    assert.equal(before.digest, list().s2.digest)
    assert.matches("/mnt/other/s2.img", (x({ "config", "s2" })), 1, true)
  end)

  it("restore refuses an incompatible config (exit 1) unless --force", function()
    x({ "create", web("s3") })
    local file = root .. "/s3.sav"
    assert.equal(0, select(3, x({ "save", "s3", file })))
    local big = cfg("s3-big.cfg", WEB:format("s3", "s3"):gsub("memory = 64", "memory = 128"))
    local out, err, code = x({ "restore", "-n", big, file })
    assert.equal(1, code, err)
    assert.matches("INCOMPATIBLE", out)
    out, err, code = x({ "restore", big, file })
    assert.equal(1, code)
    one_failure("restore", err)
    -- the report names the difference once; the last line is the verdict, not a second report
    assert.equal(1, select(2, err:gsub("b_info%.target_memkb", "")), err)
    assert.is_nil(err:match("xlua restore: [^\n]*target_memkb"), err)
    assert.is_nil(list().s3)
    out, err, code = x({ "restore", "--force", big, file })
    assert.equal(0, code, err)
    assert.equal(128 * 1024, list().s3.memory_kb)
  end)

  it("save -c leaves it running, -p paused; -z compresses and restores", function()
    x({ "create", web("s4") })
    local before = list().s4
    local file = root .. "/s4.sav"
    assert.equal(0, select(3, x({ "save", "-c", "s4", file })))
    assert.equal("running", list().s4.state)
    assert.equal(0, select(3, x({ "save", "-p", "s4", file })))
    assert.equal("paused", list().s4.state)
    assert.equal(0, select(3, x({ "unpause", "s4" })))
    local zfile = root .. "/s4z.sav"
    local _, err, code = x({ "save", "-z", "s4", zfile })
    assert.equal(0, code, err)
    assert.matches("info 0x80000003/", err)
    assert.matches("JSON STREAMv2 ZSTD", (x({ "inspect", zfile })))
    assert.equal(0, select(3, x({ "verify", zfile })))
    assert.is_nil(list().s4)
    _, err, code = x({ "restore", "-p", zfile })
    assert.equal(0, code, err)
    assert.same({ before.digest, "paused" }, { list().s4.digest, list().s4.state })
  end)

  it("save with a CONFIG stores that config in the file, as xl save does", function()
    x({ "create", web("s5") })
    local other = cfg("s5-other.cfg", WEB:format("s5", "s5-other"))
    local file = root .. "/s5.sav"
    assert.equal(0, select(3, x({ "save", "s5", file, other })))
    assert.matches("s5-other.img", (x({ "inspect", file })), 1, true)
    local _, _, code = x({ "save", "-c", "s5", file, root .. "/missing.cfg" })
    assert.equal(2, code)
  end)

  -- `save d - | restore -` with the receiving end on another host (another sim directory)
  local function pipe(name, dest_dir)
    local cmd = string.format("XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s save %s - 2>%s | XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s restore - >%s 2>&1; "
      .. "echo \"${PIPESTATUS[0]} ${PIPESTATUS[1]}\" >%s",
      q(env.XLUA_SIM_DIR), q(helper.xlua), name, q(root .. "/pipe.err"), q(dest_dir), q(helper.xlua),
      q(root .. "/pipe.out"), q(root .. "/pipe.status"))
    os.execute("bash -c " .. q(cmd))
    local sender, receiver = helper.slurp(root .. "/pipe.status"):match("(%d+) (%d+)")
    return tonumber(sender), tonumber(receiver), helper.slurp(root .. "/pipe.err"), helper.slurp(root .. "/pipe.out")
  end

  it("save d - | restore - copies a domain to another host; the sender keeps it paused and says so", function()
    x({ "create", web("p1") })
    local before = list().p1
    local b = root .. "/host-b"
    local sender, receiver, err, out = pipe("p1", b)
    assert.same({ 0, 0 }, { sender, receiver }, err .. out)
    assert.matches("left paused", err)
    assert.equal("paused", list().p1.state)
    local there = assert(json.decode((helper.run({ "list", "--json" }, { env = { XLUA_SIM_DIR = b, XLUA_BACKEND = "sim" } }))))
    local p1
    for _, d in ipairs(there) do
      p1 = d.name == "p1" and d or p1
    end
    assert.same({ before.digest, before.uuid, "running" }, { p1.digest, p1.uuid, p1.state })
  end)

  -- The receiver refuses after the header, so the sender meets a closed pipe (EPIPE: exit 1, the
  -- domain put back running); had the whole stream fit in the pipe it would have ended paused.
  local function sender_kept(name, status, err)
    local state = list()[name].state
    if status == 0 then
      assert.equal("paused", state)
    else
      assert.equal(1, status, err)
      assert.matches("Broken pipe", err)
      assert.equal("running", state)
    end
  end

  it("save d - | restore - never loses the domain when the receiver refuses it", function()
    x({ "create", web("p3") })
    local b = root .. "/host-c"
    helper.run({ "create", web("p3") }, { env = { XLUA_SIM_DIR = b, XLUA_BACKEND = "sim" } })
    local sender, receiver, err, out = pipe("p3", b)
    assert.equal(1, receiver, out)
    assert.matches("already exists", out)
    sender_kept("p3", sender, err)
    -- on the same host the domain is still there: its uuid (or its lock) is refused
    x({ "unpause", "p3" })
    sender, receiver, err, out = pipe("p3", env.XLUA_SIM_DIR)
    assert.equal(1, receiver, out)
    assert.is_truthy(out:find("already runs with uuid", 1, true) or out:find("is busy: xlua save of p3", 1, true), out)
    sender_kept("p3", sender, err)
  end)

  it("save to - writes the same bytes a reader can verify", function()
    x({ "create", web("p2") })
    local out, err, code = x({ "save", "-c", "p2", "-" })
    assert.equal(0, code, err)
    local _, verr, vcode = x({ "verify", "-" }, { stdin = out })
    assert.equal(0, vcode, verr)
  end)

  it("save fails with 1 (no such domain, Domain-0) and 2 on bad usage or a target that cannot be", function()
    local _, err, code = x({ "save", "nosuch", root .. "/n.sav" })
    assert.equal(1, code)
    one_failure("save", err)
    _, _, code = x({ "save", "0", root .. "/n.sav" })
    assert.equal(1, code)
    x({ "create", web("f1") })
    -- found before the domain is paused: a wrong argument, as a bad CONFIG is
    _, _, code = x({ "save", "f1", root .. "/no/such/dir/f1.sav" })
    assert.equal(2, code)
    assert.equal("running", list().f1.state)
    _, err, code = x({ "save", "f1" })
    assert.equal(2, code)
    assert.matches("usage: xlua save", err)
  end)

  it("restore refuses a damaged file (2) before the domain runs, and a name that is taken (1)", function()
    x({ "create", web("r1") })
    local file = root .. "/r1.sav"
    assert.equal(0, select(3, x({ "save", "-c", "r1", file })))
    local _, err, code = x({ "restore", file })
    assert.equal(1, code)
    one_failure("restore", err)
    x({ "destroy", "r1" })
    local bytes = helper.slurp(file)
    local at = #bytes - 5000
    helper.spit(file .. ".bad", bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1))
    _, err, code = x({ "restore", file .. ".bad" })
    assert.equal(2, code, err)
    assert.is_nil(list().r1)
    helper.spit(file .. ".cut", bytes:sub(1, #bytes // 2))
    _, _, code = x({ "restore", file .. ".cut" })
    assert.equal(2, code)
    assert.is_nil(list().r1)
    _, _, code = x({ "restore", "-n", file .. ".bad" })
    assert.equal(2, code)
    _, _, code = x({ "restore", root .. "/missing.sav" })
    assert.equal(2, code)
    _, _, code = x({ "restore" })
    assert.equal(2, code)
  end)

  it("pause, unpause, rename, destroy, and their failures", function()
    x({ "create", web("o1") })
    x({ "create", web("o2") })
    assert.equal(0, select(3, x({ "pause", "o1" })))
    assert.equal("paused", list().o1.state)
    assert.equal(0, select(3, x({ "unpause", "o1" })))
    assert.equal("running", list().o1.state)
    assert.equal(0, select(3, x({ "rename", "o1", "o1new" })))
    assert.is_table(list().o1new)
    local _, err, code = x({ "rename", "o1new", "o2" })
    assert.equal(1, code)
    one_failure("rename", err)
    assert.is_table(list().o1new)
    assert.equal(0, select(3, x({ "destroy", tostring(list().o1new.domid) })))
    assert.is_nil(list().o1new)
    _, err, code = x({ "destroy", "0" })
    assert.equal(1, code)
    one_failure("destroy", err)
    assert.is_table(list()["Domain-0"])
    for _, cmd in ipairs({ "destroy", "pause", "unpause" }) do
      _, _, code = x({ cmd, "nosuch" })
      assert.equal(1, code, cmd)
      _, _, code = x({ cmd })
      assert.equal(2, code, cmd)
    end
    _, _, code = x({ "config", "nosuch" })
    assert.equal(1, code)
  end)

  it("examples: save-all saves each domain, compressed, past a failure; list-savefiles checks them", function()
    local sim = root .. "/sim-examples"
    local e = { XLUA_SIM_DIR = sim, XLUA_BACKEND = "sim" }
    os.execute("mkdir -p " .. q(sim))
    for _, name in ipairs({ "e1", "e2", "e3" }) do
      assert.equal(0, select(3, helper.run({ "create", web(name) }, { env = e })))
    end
    local out_dir = root .. "/all"
    os.execute("mkdir -p " .. q(out_dir .. "/e2.sav")) -- a directory in the way of e2's file
    local out, err, code = helper.run({ "examples/save-all.lua", "-c", out_dir }, { env = e })
    assert.equal(1, code, err)
    assert.matches("saved 2 domain%(s%), 1 failed", out)
    assert.matches("\n  e2 [^\n]*%(EISDIR%)", out)
    out, err, code = helper.run({ "examples/list-savefiles.lua", out_dir }, { env = e })
    assert.equal(0, code, err)
    assert.matches("\ne1%.sav +e1 +%d+ +[%d-]+ [%d:]+ +yes\n", out)
    assert.matches("\ne3%.sav +e3 ", out)
    assert.matches("JSON STREAMv2 ZSTD", (helper.run({ "inspect", out_dir .. "/e1.sav" }, { env = e })))
    helper.spit(out_dir .. "/bad.sav", "not a savefile")
    out, _, code = helper.run({ "examples/list-savefiles.lua", out_dir }, { env = e })
    assert.equal(1, code)
    assert.matches("\nbad%.sav +%? +14 [^\n]*NO: ", out)
    _, _, code = helper.run({ "examples/save-all.lua" }, { env = e })
    assert.equal(2, code)
  end)

  it("asking for libxl where there is no Xen is a clear failure (1), never the sim", function()
    local e = { XLUA_BACKEND = "libxl", XLUA_XEN_CAPABILITIES = root .. "/no-such-file", XLUA_SIM_DIR = env.XLUA_SIM_DIR }
    for _, args in ipairs({ { "list" }, { "create", web("nx") }, { "save", "nx", root .. "/nx.sav" }, { "destroy", "nx" } }) do
      local out, err, code = helper.run(args, { env = e })
      assert.equal(1, code, args[1])
      assert.equal("", out)
      assert.matches("\nxlua " .. args[1] .. ": [^\n]*Xen[^\n]*\n$", "\n" .. err)
    end
    local _, _, code = x({ "--backend", "libxl", "list" }, { env = e })
    assert.equal(1, code)
  end)

  it("two xlua processes creating domains at once never share a domid or a name", function()
    local dir = root .. "/conc"
    os.execute("mkdir -p " .. q(dir))
    local sim = root .. "/sim-conc"
    os.execute("mkdir -p " .. q(sim))
    local base = web("k")
    local loop = [[for i in 1 2 3 4 5 6 7 8; do XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s create %s "name=\"$1$i\"" >>%s/$2.out 2>>%s/$2.err; done]]
    local function one(prefix, tag)
      return string.format("sh -c %s x %s %s", q(loop:format(q(sim), q(helper.xlua), q(base), q(dir), q(dir))), prefix, tag)
    end
    -- different names from each loop, then the same names from both loops
    os.execute(one("a", "a") .. " & " .. one("b", "b") .. " & wait")
    os.execute(one("s", "s1") .. " & " .. one("s", "s2") .. " & wait")
    local out = helper.run({ "list", "--json" }, { env = { XLUA_SIM_DIR = sim, XLUA_BACKEND = "sim" } })
    local domids, names, count = {}, {}, 0
    for _, info in ipairs(json.decode(out)) do
      assert.is_nil(domids[info.domid], "domid shared")
      assert.is_nil(names[info.name], "name shared")
      domids[info.domid], names[info.name] = true, true
      count = count + 1
    end
    assert.equal(1 + 8 + 8 + 8, count)
    for i = 1, 8 do
      assert.is_true(names["a" .. i] and names["b" .. i] and names["s" .. i])
    end
    local printed = helper.slurp(dir .. "/s1.out") .. helper.slurp(dir .. "/s2.out")
    assert.equal(8, select(2, printed:gsub("\n", "")))
  end)
end)
