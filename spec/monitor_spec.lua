-- The monitor: its policy against the fake backend (every action on every event, the hook, the
-- restart-loop guard), then the real daemonized monitor on the sim, as an admin meets it.
local helper = require("support.helper")
local json = require("xlua.json")
local q = helper.shell_quote

describe("the monitor policy", function()
  local fake = require("fakes.domain").install()
  local create = require("xlua.create")
  local monitor = require("xlua.monitor")
  local dir = helper.tmpdir()
  local h

  local function domain(actions)
    local cfg = dir .. "/g.cfg"
    helper.spit(cfg, 'name = "g"\nkernel = "/k"\nmemory = 16\n' .. (actions or ""))
    return assert(create.create(h, cfg)).domid
  end
  local function shut(domid, reason, opts)
    local info = h:info(domid)
    info.reason = reason
    fake.domain(domid).state = "shutdown"
    fake.domain(domid).reason = reason
    local lines = {}
    opts = opts or {}
    opts.log = function(l) lines[#lines + 1] = l end
    opts.dump_dir = opts.dump_dir or dir .. "/dump"
    opts.started = opts.started or 0
    opts.now = opts.now or 1000
    return monitor.handle(h, info, opts), table.concat(lines, "\n")
  end
  local function names()
    local out = {}
    for _, d in ipairs(h:list()) do
      out[#out + 1] = d.name
    end
    return table.concat(out, " ")
  end

  before_each(function()
    fake.reset()
    h = assert(fake.open())
  end)

  it("takes the config's action for each reason, libxl's defaults otherwise, either spelling", function()
    assert.equal("destroy", monitor.action_for({}, "poweroff"))
    assert.equal("restart", monitor.action_for({}, "reboot"))
    assert.equal("destroy", monitor.action_for({}, "crash"))
    assert.equal("destroy", monitor.action_for({}, "watchdog"))
    assert.equal("soft_reset", monitor.action_for({}, "soft_reset"))
    assert.equal("restart_rename", monitor.action_for({ on_crash = "rename-restart" }, "crash"))
    assert.equal("restart_rename", monitor.action_for({ on_crash = "restart_rename" }, "crash"))
    assert.equal("coredump_destroy", monitor.action_for({ on_watchdog = "coredump_destroy" }, "watchdog"))
    assert.equal("destroy", monitor.action_for({}, "something-new"))
  end)

  it("destroy: the domain is gone, watching ends", function()
    local d = domain()
    assert.is_nil(shut(d, "poweroff"))
    assert.equal("Domain-0", names())
  end)

  it("restart: a new domid, the same name, uuid and stored config", function()
    local d = domain('on_reboot = "restart"\n')
    local uuid, source = h:info(d).uuid, h:store_get(d, "source")
    local new = shut(d, "reboot")
    assert.is_number(new)
    assert.are_not.equal(d, new)
    assert.is_nil(h:info(d))
    assert.same({ "g", uuid, source }, { h:info(new).name, h:info(new).uuid, h:store_get(new, "source") })
    assert.is_string(h:store_get(new, "json"))
  end)

  it("rename-restart: the dead domain kept as NAME-<time> with a new uuid, the restart takes name and uuid", function()
    local d = domain('on_crash = "rename-restart"\n')
    local uuid = h:info(d).uuid
    local new = assert(shut(d, "crash"))
    local old = h:info(d)
    assert.matches("^g%-%d+T%d+Z$", old.name)
    assert.are_not.equal(uuid, old.uuid)
    assert.same({ "g", uuid }, { h:info(new).name, h:info(new).uuid })
  end)

  it("preserve: the domain stays as it is, watching ends", function()
    local d = domain('on_crash = "preserve"\n')
    assert.is_nil(shut(d, "crash"))
    assert.equal("shutdown", h:info(d).state)
  end)

  it("coredump-destroy and coredump-restart dump the core first", function()
    local d = domain('on_crash = "coredump-destroy"\non_watchdog = "coredump-restart"\n')
    assert.is_nil(shut(d, "crash"))
    assert.is_nil(h:info(d))
    local p = io.popen("ls " .. q(dir .. "/dump"))
    local files = p:read("a")
    p:close()
    assert.matches("g%-%d+T%d+Z%.core", files)
    d = domain('on_watchdog = "coredump-restart"\n')
    assert.is_number(shut(d, "watchdog"))
  end)

  it("soft-reset: the same domain runs again, same domid, and is watched on", function()
    local d = domain()
    local again, log = shut(d, "soft_reset")
    assert.equal(d, again)
    assert.equal("running", h:info(d).state)
    assert.matches("soft reset of g done", log)
  end)

  it("does not restart a domain that died within MIN_UPTIME of its start, and says why", function()
    local d = domain('on_crash = "restart"\n')
    local new, log = shut(d, "crash", { started = 1000 - monitor.MIN_UPTIME + 1, now = 1000 })
    assert.is_nil(new)
    assert.matches("restart loop", log)
    assert.equal("shutdown", h:info(d).state)
  end)

  it("lets a site hook change one decision, and keeps the default when the hook fails", function()
    local d = domain('on_reboot = "restart"\n')
    local seen
    local new = shut(d, "reboot", { hook = function(event, action)
      seen = { event.reason, event.name, action }
      return "destroy"
    end })
    assert.is_nil(new)
    assert.same({ "reboot", "g", "restart" }, seen)
    assert.equal("Domain-0", names())
    d = domain('on_reboot = "restart"\n')
    local log
    new, log = shut(d, "reboot", { hook = function() error("hook broke") end })
    assert.is_number(new)
    assert.matches("hook broke", log)
  end)
end)

describe("the monitor on the sim", function()
  local s = require("support.sim").new()
  local root, env = s.root, s.env
  env.XLUA_MONITOR_MIN_UPTIME = "1"
  env.XLUA_MONITOR_HOOK = root .. "/no-hook.lua"
  local function x(args)
    return helper.run(args, { env = env })
  end
  local function list()
    local out = {}
    for _, d in ipairs(json.decode((x({ "list", "--json" })))) do
      out[d.name] = d
    end
    return out
  end
  -- Poll until cond() or 10 s.
  local function eventually(cond, what)
    for _ = 1, 100 do
      if cond() then
        return
      end
      os.execute("sleep 0.1")
    end
    error("never: " .. what)
  end
  local function create(name, actions)
    local cfg = s.file(name .. ".cfg", string.format('name = "%s"\nkernel = "/k"\nmemory = 16\n%s', name, actions or ""))
    local out, err, code = x({ "create", cfg })
    assert.equal(0, code, err)
    local pid = tonumber(err:match("monitor of %S+ running as pid (%d+)"))
    assert.is_number(pid, err)
    return tonumber(out:match(" (%d+)")), pid
  end
  local function alive(pid)
    local f = io.open("/proc/" .. pid .. "/stat")
    local stat = f and f:read("a")
    if f then
      f:close()
    end
    return stat ~= nil and not stat:match("^%d+ %b() Z")
  end
  local function log(name)
    return helper.slurp(env.XLUA_SIM_DIR .. "/logs/" .. name .. ".log")
  end

  it("restarts a rebooted domain (new domid, same uuid and config), destroys a powered-off one, then ends", function()
    local domid, pid = create("m1", 'on_reboot = "restart"\n')
    local uuid = list().m1.uuid
    os.execute("sleep 1.2")
    local _, err, code = x({ "reboot", "m1" })
    assert.equal(0, code, err)
    eventually(function() local d = list().m1 return d and d.domid ~= domid and d.state == "running" end, "restarted")
    assert.equal(uuid, list().m1.uuid)
    local out = x({ "config", "m1" })
    assert.matches('on_reboot = "restart"', out)
    _, err, code = x({ "shutdown", "-w", "m1" })
    assert.equal(0, code, err)
    eventually(function() return list().m1 == nil end, "destroyed")
    eventually(function() return not alive(pid) end, "the monitor ended")
    assert.matches("reason reboot: restart", log("m1"))
    assert.matches("reason poweroff: destroy", log("m1"))
  end)

  it("preserves a crashed domain (state c), and refuses a restart loop", function()
    create("m2", 'on_crash = "preserve"\n')
    local _, err, code = x({ "sysrq", "m2", "c" })
    assert.equal(0, code, err)
    eventually(function() return log("m2"):match("reason crash: preserve") end, "preserved")
    local out = x({ "list", "m2" })
    assert.matches("%-%-%-sc%-", out)
    create("m3", 'on_crash = "restart"\n')
    x({ "sysrq", "m3", "c" }) -- at once: within MIN_UPTIME of its start
    eventually(function() return log("m3"):match("restart loop") end, "the loop refused")
    assert.equal("shutdown", list().m3.state)
  end)

  it("rename-restart keeps the crashed domain as NAME-<time> with a new uuid, the restart takes both", function()
    local domid = create("m7", 'on_crash = "rename-restart"\non_watchdog = "coredump-restart"\n')
    local uuid = list().m7.uuid
    os.execute("sleep 1.2")
    assert.equal(0, select(3, x({ "sysrq", "m7", "c" })))
    eventually(function() local d = list().m7 return d and d.domid ~= domid end, "restarted")
    local kept
    for name, d in pairs(list()) do
      if name:match("^m7%-%d+T%d+Z$") then
        kept = d
      end
    end
    assert.is_table(kept, "no preserved m7-<time>")
    assert.same({ domid, "shutdown" }, { kept.domid, kept.state })
    assert.are_not.equal(uuid, kept.uuid)
    assert.equal(uuid, list().m7.uuid)
    assert.matches("reason crash: rename%-restart", log("m7"))
  end)

  it("coredump-destroy writes the crashed domain's core, then destroys it", function()
    create("m8", 'on_crash = "coredump-destroy"\n')
    os.execute("sleep 1.2")
    assert.equal(0, select(3, x({ "sysrq", "m8", "c" })))
    eventually(function() return list().m8 == nil end, "destroyed")
    local p = io.popen("ls " .. q(env.XLUA_SIM_DIR .. "/dump"))
    local files = p:read("a")
    p:close()
    assert.matches("m8%-%d+T%d+Z%.core", files)
    assert.matches("core dumped to", log("m8"))
  end)

  it("soft-resets a domain that asks for it (the sim's sysrq k): same domid, running again", function()
    local domid = create("m6")
    os.execute("sleep 1.2")
    assert.equal(0, select(3, x({ "sysrq", "m6", "k" })))
    eventually(function() return log("m6"):match("soft reset of m6 done") end, "soft reset")
    assert.same({ domid, "running" }, { list().m6.domid, list().m6.state })
  end)

  it("xlua monitor on a domain it did not see start restarts its first reboot (no loop guard)", function()
    local cfg = s.file("m9.cfg", 'name = "m9"\nkernel = "/k"\nmemory = 16\non_reboot = "restart"\n')
    local out, err, code = x({ "create", "-e", cfg })
    assert.equal(0, code, err)
    local domid = tonumber(out:match(" (%d+)"))
    _, err, code = x({ "monitor", "m9" })
    assert.equal(0, code, err)
    assert.equal(0, select(3, x({ "reboot", "m9" })))
    eventually(function() local d = list().m9 return d and d.domid ~= domid end, "restarted")
    -- the monitor's lock names the daemon, not the command that started it
    _, err = x({ "monitor", "m9" })
    local pid = tonumber(err:match("pid (%d+)"))
    assert.is_number(pid, err)
    assert.is_not_nil(io.open("/proc/" .. pid .. "/stat"), "the pid in the BUSY message is not alive")
  end)

  it("waits for the monitor of an earlier life of the uuid to let go (save then restore at once)", function()
    local cfg = s.file("m10.cfg", 'name = "m10"\nkernel = "/k"\nmemory = 16\n')
    local _, err, code = x({ "create", "-e", cfg })
    assert.equal(0, code, err)
    local uuid = list().m10.uuid
    -- an old monitor: holds the monitor lock for 0.8 s more, as one that has yet to see its
    -- domain gone
    local held = root .. "/m10.held"
    local old = string.format([[
      local h = assert(require("xlua.domain").open())
      local lock = assert(h:lock(%q, "monitor of m10", "monitor"))
      io.open(%q, "w"):close()
      require("xlua.process").sleep(0.8)
      lock:unlock()]], uuid, held)
    local envs = {}
    for k, v in pairs(env) do
      envs[#envs + 1] = k .. "=" .. q(v)
    end
    os.execute(string.format("env %s %s -e %s >/dev/null 2>&1 &", table.concat(envs, " "),
      q(helper.xlua), q(old)))
    eventually(function() return io.open(held) ~= nil end, "the old monitor's lock")
    local out
    out, err, code = x({ "monitor", "m10" })
    assert.equal(0, code, out .. err)
    assert.matches("monitor of m10 running as pid", err)
    x({ "destroy", "m10" })
  end)

  it("runs one monitor per domain; -e starts none; a killed monitor leaves the domain alone", function()
    local _, pid = create("m4")
    local _, err, code = x({ "monitor", "m4" })
    assert.equal(1, code, err)
    assert.matches("already has a monitor", err)
    os.execute("kill -9 " .. pid)
    eventually(function() return not alive(pid) end, "killed")
    assert.equal("running", list().m4.state)
    -- the lock went with it: a new monitor may start
    local out
    out, err, code = x({ "monitor", "m4" })
    assert.equal(0, code, out .. err)
    local cfg = s.file("m5.cfg", 'name = "m5"\nkernel = "/k"\nmemory = 16\n')
    out, err, code = x({ "create", "-e", cfg })
    assert.equal(0, code, err)
    assert.not_matches("monitor", err)
  end)
end)

describe("console, create -c and dump-core on the sim", function()
  local s = require("support.sim").new()
  local env = s.env
  local function x(args)
    return helper.run(args, { env = env })
  end

  it("shows what the simulated guest wrote: its boot, and after sysrq c its panic", function()
    local cfg = s.file("c1.cfg", 'name = "c1"\nkernel = "/k"\nmemory = 16\non_crash = "preserve"\n')
    local out, err, code = x({ "create", "-e", "-c", cfg })
    assert.equal(0, code, err)
    assert.matches("Booting c1", out)
    assert.equal(0, select(3, x({ "sysrq", "c1", "c" })))
    out = x({ "console", "c1" })
    assert.matches("Kernel panic", out)
    _, err, code = x({ "console", "-t", "serial", "c1" })
    assert.equal(1, code, err)
    _, _, code = x({ "console", "-t", "vga", "c1" })
    assert.equal(2, code)
  end)

  it("dump-core writes the memory image, mode 0600, and refuses Domain-0", function()
    local cfg = s.file("d1.cfg", 'name = "d1"\nkernel = "/k"\nmemory = 16\n')
    assert.equal(0, select(3, x({ "create", "-e", cfg })))
    local core = s.root .. "/d1.core"
    local _, err, code = x({ "dump-core", "d1", core })
    assert.equal(0, code, err)
    local p = io.popen("stat -c '%a %s' " .. q(core))
    local mode_size = p:read("l")
    p:close()
    assert.equal("600 " .. 16 * 1024 * 1024, mode_size)
    _, _, code = x({ "dump-core", "0", core })
    assert.equal(1, code)
  end)
end)

describe("trigger on the sim", function()
  local s = require("support.sim").new()
  local function x(args)
    return helper.run(args, { env = s.env })
  end

  it("power powers an HVM guest off (its monitor then destroys it); a PV guest and a bad event are refused", function()
    local hvm = s.file("h1.cfg", 'name = "h1"\ntype = "hvm"\nmemory = 16\n')
    local _, err, code = x({ "create", hvm })
    assert.equal(0, code, err)
    _, err, code = x({ "trigger", "h1", "nmi" })
    assert.equal(0, code, err)
    assert.matches("NMI received", (x({ "console", "h1" })))
    _, err, code = x({ "trigger", "h1", "power" })
    assert.equal(0, code, err)
    local gone = false
    for _ = 1, 100 do
      if not (x({ "list" })):match("\nh1 ") then
        gone = true
        break
      end
      os.execute("sleep 0.1")
    end
    assert.is_true(gone, "the monitor did not destroy h1")
    local pv = s.file("p1.cfg", 'name = "p1"\nkernel = "/k"\nmemory = 16\n')
    assert.equal(0, select(3, x({ "create", "-e", pv })))
    _, _, code = x({ "trigger", "p1", "power" })
    assert.equal(1, code)
    _, _, code = x({ "trigger", "p1", "explode" })
    assert.equal(2, code)
  end)
end)

describe("xlua.process", function()
  local process = require("xlua.process")

  it("isatty says false for a file and a pipe, true for a terminal (through script)", function()
    local said = helper.run({ "-e", 'io.write(tostring(require("xlua.process").isatty(0)), " ", '
      .. 'tostring(require("xlua.process").isatty(1)))' })
    assert.equal("false false", said) -- stdin /dev/null, stdout a file
    assert.has_error(function() process.isatty(-1) end)
    local out = os.tmpname()
    os.execute(string.format("script -qec %s %s >/dev/null 2>&1 </dev/null", helper.shell_quote(
      helper.shell_quote(helper.xlua) .. " -e 'io.write(tostring(require(\"xlua.process\").isatty(1)))'"), q(out)))
    assert.matches("true", helper.slurp(out))
    os.remove(out)
  end)
end)
