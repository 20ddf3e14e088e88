-- xlua migrate / migrate-receive between two sim hosts (two state directories), and against
-- scripted xl peers that speak xl 4.17's side of the protocol byte for byte.
local helper = require("support.helper")
local json = require("xlua.json")
local sim = require("support.sim")
local q = helper.shell_quote

local FAKES = "spec/support/migrate/"
local CFG = 'name = "%s"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = %d\nvcpus = 1\n'

-- Two hosts, A (the sender) and B; each with an empty site directory unless a spec adds rules.
local function hosts()
  local a, b = sim.new(), sim.new()
  for _, s in ipairs({ a, b }) do
    s.env.XLUA_SITE_DIR = s.root .. "/site.d"
    os.execute("mkdir -p " .. q(s.env.XLUA_SITE_DIR))
  end
  return a, b
end

-- The command that runs `xlua ARGS` on host s, for a rune.
local function on(s, args)
  local parts = { "env" }
  for k, v in pairs(s.env) do
    parts[#parts + 1] = k .. "=" .. q(v)
  end
  parts[#parts + 1] = q(helper.xlua)
  parts[#parts + 1] = args
  return table.concat(parts, " ")
end

local function receiver(s, flags)
  return on(s, "migrate-receive -e" .. (flags or ""))
end

local function domain(s, name)
  local out = s.x({ "list", "--json" })
  for _, d in ipairs(json.decode(out) or {}) do
    if d.name == name then
      return d
    end
  end
  return nil
end

local function running_copies(name, ...)
  local n = 0
  for _, s in ipairs({ ... }) do
    local d = domain(s, name)
    if d and d.state == "running" then
      n = n + 1
    end
  end
  return n
end

local function create(s, name, memory)
  local _, err, code = s.x({ "create", "-e", s.file(name .. ".cfg", CFG:format(name, memory or 32)) })
  assert.equal(0, code, err)
  return domain(s, name)
end

local function migrate(a, args)
  local argv = { "migrate", "--answer-wait", "5" }
  table.move(args, 1, #args, #argv + 1, argv)
  return a.x(argv)
end

-- The receiver may still be cleaning up when the sender has returned.
local function settle(s, name)
  for _ = 1, 50 do
    local d = domain(s, name)
    if not d or d.state == "running" then
      return d
    end
    os.execute("sleep 0.1")
  end
  return domain(s, name)
end

-- Runs `xlua ARGS` on host s in the background; once its standard error contains text, or
-- after 10 s, sends it signal (TERM, INT, HUP) -> its exit status and standard error.
local function signal_on(s, args, text, signal)
  local dir = helper.tmpdir()
  local script = string.format([[
%s 2>%s/err &
pid=$!
for i in $(seq 500); do grep -qF %s %s/err && break; sleep 0.02; done
kill -%s $pid
wait $pid; echo $? >%s/status
]], on(s, args), q(dir), q(text), q(dir), signal, q(dir))
  os.execute("bash -c " .. q(script) .. " >/dev/null 2>&1")
  return tonumber(helper.slurp(dir .. "/status")), helper.slurp(dir .. "/err")
end

describe("xlua migrate between two xlua hosts", function()
  it("moves a domain: gone here, running there with the same memory and stored config", function()
    local a, b = hosts()
    local before = create(a, "web", 48)
    local stored = a.x({ "config", "web" })
    local _, err, code = migrate(a, { "-s", "", "web", receiver(b) })
    assert.equal(0, code, err)
    assert.matches("stream verified end to end", err, 1, true)
    assert.is_nil(domain(a, "web"))
    local after = domain(b, "web")
    assert.equal("running", after.state)
    assert.equal(before.digest, after.digest)
    assert.equal(before.uuid, after.uuid)
    assert.equal(stored, (b.x({ "config", "web" })))
  end)

  it("leaves it paused at the receiver with -p, and compresses with -z (and --debug)", function()
    local a, b = hosts()
    local before = create(a, "web")
    local _, err, code = migrate(a, { "-p", "-z", "--debug", "-s", "", "web", receiver(b, " -p") })
    assert.equal(0, code, err)
    local after = domain(b, "web")
    assert.equal("paused", after.state)
    assert.equal(before.digest, after.digest)
  end)

  it("moves a domain on one host (the --incoming / --migratedaway names), with a 128-byte name", function()
    local a = hosts()
    local name = string.rep("n", 128)
    local before = create(a, name)
    local _, err, code = migrate(a, { "-s", "", name, receiver(a) })
    assert.equal(0, code, err)
    local after = domain(a, name)
    assert.equal("running", after.state)
    assert.equal(before.digest, after.digest)
    assert.are_not.equal(before.domid, after.domid)
    assert.equal(1, #json.decode((a.x({ "list", "--json" }))) - 1)
  end)

  it("is refused before the stream when the name is another domain's there", function()
    local a, b = hosts()
    local mine = create(a, "web")
    local theirs = create(b, "web")
    local _, err, code = migrate(a, { "-s", "", "web", receiver(b) })
    assert.equal(1, code)
    assert.matches("already exists", err, 1, true)
    assert.matches("the domain runs here", err, 1, true)
    local still = domain(a, "web")
    mine.cpu_time, still.cpu_time = nil, nil -- it runs on
    assert.same(mine, still)
    assert.equal(theirs.uuid, domain(b, "web").uuid)
    assert.is_nil(domain(b, "web--incoming"))
  end)

  it("is refused by the receiver's compatibility check of -C CONFIG, with the report", function()
    local a, b = hosts()
    local mine = create(a, "web", 32)
    local bigger = a.file("bigger.cfg", CFG:format("web", 64))
    local _, err, code = migrate(a, { "-C", bigger, "-s", "", "web", receiver(b) })
    assert.equal(1, code)
    assert.matches("incompatible b_info.max_memkb", err, 1, true)
    assert.equal(mine.digest, domain(a, "web").digest)
    assert.equal("running", domain(a, "web").state)
    assert.is_nil(domain(b, "web"))
  end)

  it("is refused by the receiver's site rules (not enough free memory there)", function()
    local a, b = hosts()
    create(a, "web", 64)
    os.execute(string.format("cp examples/site.d/memory-free.lua %s/", q(b.env.XLUA_SITE_DIR)))
    b.env.XLUA_SIM_HOST_MEMORY_KB = tostring(32 * 1024)
    local _, err, code = migrate(a, { "-s", "", "web", receiver(b) })
    assert.equal(1, code)
    assert.matches("only %d+ KiB free", err)
    assert.equal(1, running_copies("web", a, b))
    assert.is_nil(domain(b, "web"))
  end)

  it("puts the domain back when the stream is damaged on the way (the trailer catches it)", function()
    local a, b = hosts()
    local mine = create(a, "web", 32)
    -- flip one byte of memory, 300000 bytes into the stream
    local flip = "{ head -c 300000; head -c 1 | LC_ALL=C tr '\\000-\\377' '\\001-\\377\\000'; cat; } | "
    local _, err, code = migrate(a, { "-s", "", "web", flip .. receiver(b) })
    assert.equal(1, code)
    assert.matches("does not match", err, 1, true)
    assert.equal(mine.digest, domain(a, "web").digest)
    assert.equal(1, running_copies("web", a, b))
    assert.is_nil(settle(b, "web--incoming"))
  end)

  it("puts the domain back when the receiver is killed mid-stream", function()
    local a, b = hosts()
    create(a, "web", 32)
    local pidfile = b.root .. "/receiver.pid"
    local rune = string.format("{ head -c 3000000; kill -9 $(cat %s); cat; } | sh -c 'echo $$ > %s; exec \"$0\" \"$@\"' %s",
      q(pidfile), q(pidfile), receiver(b))
    local _, err, code = migrate(a, { "-s", "", "web", rune })
    assert.equal(1, code)
    assert.matches("the domain runs here", err, 1, true)
    assert.equal("running", domain(a, "web").state)
    -- a receiver killed with SIGKILL cannot clean up: whatever it left never runs
    assert.equal(1, running_copies("web", a, b))
    local left = domain(b, "web--incoming")
    assert.is_true(left == nil or left.state ~= "running")
  end)

  it("puts the domain back when the sender is stopped mid-stream (SIGTERM: exit 143)", function()
    local a, b = hosts()
    local mine = create(a, "web", 32)
    local rune = "{ head -c 3000000; kill -TERM $PPID; cat; } | " .. receiver(b)
    local _, err, code = migrate(a, { "-s", "", "web", rune })
    assert.equal(143, code, err)
    assert.equal(mine.digest, domain(a, "web").digest)
    assert.equal("running", domain(a, "web").state)
    assert.is_nil(settle(b, "web--incoming"))
    assert.is_nil(domain(b, "web"))
  end)

  it("destroys the old copy at once when the receiver reports success: a SIGTERM after it says so", function()
    local a, b = hosts()
    local mine = create(a, "d9")
    -- the transport outlives the receiver: the sender waits for it after the success report
    local rune = receiver(b) .. "; sleep 3"
    local status, err = signal_on(a, "migrate --answer-wait 5 -s '' d9 " .. q(rune),
      "Target reports successful startup", "TERM")
    assert.equal(143, status, err)
    assert.matches("xlua migrate: migration of d9: the domain runs at the receiver and its old copy here "
      .. "was destroyed; interrupted by SIGTERM\n$", err)
    assert.not_matches("the domain runs here", err, 1, true)
    assert.is_nil(domain(a, "d9--migratedaway"))
    assert.is_nil(domain(a, "d9"))
    local there = settle(b, "d9")
    assert.equal("running", there.state)
    assert.equal(mine.digest, there.digest)
  end)

  it("keeps the receiver's copy when a signal stops the receiver right after it reported success", function()
    local a, b = hosts()
    local mine = create(a, "web")
    local stopped = on(b, q(FAKES .. "receiver_stopped_after_report.lua") .. " -e")
    local _, err, code = migrate(a, { "-s", "", "web", stopped })
    -- the sender got the success report and destroyed its copy: the receiver's must live
    assert.equal(0, code, err)
    assert.is_nil(domain(a, "web"))
    assert.is_nil(domain(a, "web--migratedaway"))
    local there = settle(b, "web")
    assert.equal("running", there.state)
    assert.equal(mine.digest, there.digest)
    assert.matches("\nxlua migrate%-receive: migration target: web runs here %(domid %d+%); interrupted by SIGTERM\n", err)
  end)

  it("the receiver stopped by SIGTERM mid-stream says so in one line; the domain runs at the sender", function()
    local a, b = hosts()
    create(a, "web", 32)
    local pidfile = b.root .. "/receiver.pid"
    local rune = string.format("{ head -c 3000000; kill -TERM $(cat %s); cat; } | sh -c 'echo $$ > %s; exec \"$0\" \"$@\"' %s",
      q(pidfile), q(pidfile), receiver(b))
    local _, err, code = migrate(a, { "-s", "", "web", rune })
    assert.equal(1, code)
    assert.matches("\nxlua migrate%-receive: migration target: [^\n]*interrupted by SIGTERM\n", err)
    assert.not_matches("SIGTERMxlua", err, 1, true)
    assert.equal("running", domain(a, "web").state)
    assert.equal(1, running_copies("web", a, b))
    assert.is_nil(settle(b, "web--incoming"))
  end)

  it("fails when the receiver cannot be started, and the domain keeps running", function()
    local a = hosts()
    create(a, "web")
    local _, err, code = migrate(a, { "-s", "", "web", "exit 3" })
    assert.equal(1, code)
    assert.matches("did not start", err, 1, true)
    assert.equal("running", domain(a, "web").state)
  end)

  it("takes bad input as exit 2 and an unknown domain as exit 1", function()
    local a = hosts()
    assert.equal(2, select(3, a.x({ "migrate", "web" })))
    assert.equal(2, select(3, a.x({ "migrate", "-C", a.root .. "/none.cfg", "web", "h" })))
    assert.equal(2, select(3, a.x({ "migrate", "--answer-wait", "soon", "web", "h" })))
    assert.equal(1, select(3, a.x({ "migrate", "-s", "", "web", "true" })))
    assert.equal(2, select(3, a.x({ "migrate-receive", "extra" })))
  end)
end)

describe("xlua migrate against xl migrate-receive (scripted, byte for byte)", function()
  local function fake_receiver(log, mode)
    return string.format("%s %s %s %s", q(helper.xlua), q(FAKES .. "fake_xl_receiver.lua"), q(log), mode or "")
  end

  it("sends exactly what xl expects and nothing more, then destroys its copy", function()
    local a = hosts()
    create(a, "web")
    local log = a.root .. "/xl.log"
    local _, err, code = a.x({ "migrate", "--answer-wait", "0.2", "-s", "", "web", fake_receiver(log) })
    assert.equal(0, code, err)
    local seen = helper.slurp(log)
    assert.matches("flags 0x3\n", seen, 1, true)
    assert.matches("\nok\n$", seen)
    assert.is_nil(domain(a, "web"))
  end)

  it("resumes the domain under its own name when xl reports a startup failure", function()
    local a = hosts()
    local mine = create(a, "web")
    local log = a.root .. "/xl.log"
    local _, err, code = a.x({ "migrate", "--answer-wait", "0.2", "-s", "", "web", fake_receiver(log, "fail") })
    assert.equal(1, code)
    assert.matches("could not start its copy", err, 1, true)
    assert.matches("\nok\n$", helper.slurp(log))
    local back = domain(a, "web")
    assert.equal("running", back.state)
    assert.equal(mine.digest, back.digest)
  end)

  it("refuses -z against xl, which leaves at the compressed header; the domain keeps running", function()
    local a = hosts()
    create(a, "web")
    local log = a.root .. "/xl.log"
    local _, err, code = a.x({ "migrate", "-z", "-s", "", "web", fake_receiver(log) })
    assert.equal(1, code)
    assert.matches("-z needs an xlua receiver", err, 1, true)
    assert.matches("not supported; need newer xl", helper.slurp(log), 1, true)
    assert.equal("running", domain(a, "web").state)
  end)
end)

describe("xl migrate (scripted, byte for byte) against xlua migrate-receive", function()
  it("receives the domain and answers exactly as xl does", function()
    local a, b = hosts()
    local mine = create(a, "web")
    local sav = a.root .. "/web.sav"
    local _, err, code = a.x({ "save", "web", sav })
    assert.equal(0, code, err)
    local log = a.root .. "/xl.log"
    local _, serr, scode = helper.run({ FAKES .. "fake_xl_sender.lua", sav, receiver(b), log }, { env = a.env })
    assert.equal(0, scode, serr)
    assert.equal("status 0\nok\n", helper.slurp(log))
    local got = domain(b, "web")
    assert.equal("running", got.state)
    assert.equal(mine.digest, got.digest)
  end)

  it("refuses a name clash by leaving (xl's sender sees the stream break)", function()
    local a, b = hosts()
    create(a, "web")
    create(b, "web")
    local sav = a.root .. "/web.sav"
    assert.equal(0, select(3, a.x({ "save", "web", sav })))
    local log = a.root .. "/xl.log"
    local _, serr, scode = helper.run({ FAKES .. "fake_xl_sender.lua", sav, receiver(b), log }, { env = a.env })
    assert.equal(1, scode, serr)
    assert.matches("already exists", serr, 1, true)
    assert.matches("^error: ", helper.slurp(log))
  end)
end)
