-- The monitor policy: what happens when a domain shuts down, as xl's per-domain monitor does
-- it. The C core waits (h:wait_shutdown, on libxl's domain-death events or the sim's); this
-- decides, from the domain's on_poweroff / on_reboot / on_crash / on_watchdog / on_soft_reset,
-- and acts: destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart,
-- soft-reset.
-- A site hook (monitor.hook, or site_dir/monitor.lua returning a function) may change the
-- action for one event, e.g. to log or to refuse a restart.
local domains = require("xlua.domains")
local json = require("xlua.json")
local xlua = require("xlua")

local monitor = {}

-- How long a new monitor waits for the one of an earlier life of the same uuid to end.
local MONITOR_HANDOVER_S = 2

-- A domain that dies within this many seconds of its start is not restarted again: a guest
-- that crashes on boot would otherwise be restarted for ever. (xend waited 20 s; xl 4.17 has
-- no such guard.) $XLUA_MONITOR_MIN_UPTIME changes it.
monitor.MIN_UPTIME = tonumber(os.getenv("XLUA_MONITOR_MIN_UPTIME") or "") or 10

-- libxl's defaults for the actions (libxl_domain_config), by shutdown reason.
local DEFAULTS = {
  poweroff = "destroy", reboot = "restart", crash = "destroy", watchdog = "destroy",
  soft_reset = "soft_reset",
}
local KEYS = {
  poweroff = "on_poweroff", reboot = "on_reboot", crash = "on_crash", watchdog = "on_watchdog",
  soft_reset = "on_soft_reset",
}

-- An action in libxl's spelling ("restart_rename"), from libxl's or xl.cfg's
-- ("rename-restart", "coredump-destroy").
local function libxl_action(a)
  a = tostring(a):gsub("-", "_")
  return a == "rename_restart" and "restart_rename" or a
end

-- The action the config names for reason, in libxl's spelling, or libxl's default.
function monitor.action_for(libxl, reason)
  local key = KEYS[reason]
  if not key then
    return "destroy" -- an unknown reason: xl destroys the domain
  end
  local a = type(libxl) == "table" and libxl[key]
  if type(a) ~= "string" or a == "" then
    return DEFAULTS[reason]
  end
  return libxl_action(a)
end

-- monitor.decide(event) -> action: the default policy, which a hook may replace.
-- event = {reason, action (the config's), name, domid, uuid, uptime (seconds), restarts}
function monitor.decide(event)
  local a = event.action
  if (a == "restart" or a == "restart_rename" or a == "coredump_restart" or a == "soft_reset")
    and event.uptime < monitor.MIN_UPTIME then
    event.why = string.format("it died %.1f s after its start (less than %g s): a restart loop, not restarting",
      event.uptime, monitor.MIN_UPTIME)
    return "preserve"
  end
  return a
end

-- The stored config of a domain: {json, libxl, source, format} (json from the store, else the
-- backend's live view).
local function stored(h, domid)
  local s = domains.stored_config(h, domid)
  local text = s.json or h:config(domid)
  local libxl = text and json.decode(text)
  return { json = text, libxl = type(libxl) == "table" and libxl or {}, source = s.source, format = s.format }
end

-- Create the domain again from its stored config, as create does: same name and uuid, a new
-- domid, the config store carried over. -> domid | nil, msg, code
local function recreate(h, cfg)
  local result, err, code = require("xlua.create").run(h, {
    json = cfg.json, facts = domains.facts(cfg.libxl), source = cfg.source, format = cfg.format,
  })
  return result and result.domid, err, code
end

local function random_uuid()
  local f = io.open("/proc/sys/kernel/random/uuid", "r")
  local u = f and f:read("l")
  if f then
    f:close()
  end
  return u
end

-- monitor.handle(h, info, opts) -> the domid to watch next | nil (stop watching), and a list
-- of log lines. info: the domain as it shut down (h:wait_shutdown's). opts: hook, dump_dir,
-- started and now (seconds on a monotonic clock, xlua.clock(): the domain's start and now),
-- log (function(line)).
function monitor.handle(h, info, opts)
  opts = opts or {}
  local log = opts.log or function() end
  local cfg = stored(h, info.domid)
  local now = opts.now or require("xlua").clock()
  local wall = os.time()
  local event = {
    reason = info.reason or "unknown", name = info.name, domid = info.domid, uuid = info.uuid,
    uptime = now - (opts.started or now), action = monitor.action_for(cfg.libxl, info.reason),
    restarts = opts.restarts or 0,
  }
  local action = monitor.decide(event)
  if opts.hook then
    local ok, changed = pcall(opts.hook, event, action)
    if not ok then
      log("the site hook failed (" .. tostring(changed) .. "): keeping " .. action)
    elseif changed ~= nil then
      action = libxl_action(changed)
    end
  end
  log(string.format("domain %s (domid %d) shut down, reason %s: %s%s", info.name, info.domid,
    event.reason, action == "restart_rename" and "rename-restart" or action:gsub("_", "-"),
    event.why and (" (" .. event.why .. ")") or ""))

  if action == "coredump_destroy" or action == "coredump_restart" then
    local dir = opts.dump_dir or "/var/lib/xen/dump"
    os.execute("mkdir -p -m 700 '" .. dir:gsub("'", "'\\''") .. "'")
    local path = string.format("%s/%s-%s.core", dir, info.name, os.date("!%Y%m%dT%H%M%SZ", wall))
    local ok, err = h:core_dump(info.domid, path)
    log(ok and ("core dumped to " .. path) or ("core dump failed: " .. tostring(err)))
    action = action == "coredump_destroy" and "destroy" or "restart"
  end
  if action == "soft_reset" then
    -- as xl: the same domain, domid and memory run again (libxl_domain_soft_reset)
    local ok, err = h:soft_reset(info.domid)
    if not ok then
      log("soft reset failed (" .. tostring(err) .. "): destroying it")
      h:destroy(info.domid)
      return nil
    end
    log(string.format("soft reset of %s done, domid %d", info.name, info.domid))
    return info.domid
  end

  if action == "preserve" then
    return nil
  elseif action == "destroy" then
    local ok, err = h:destroy(info.domid)
    if not ok then
      log("destroy failed: " .. tostring(err))
    end
    return nil
  elseif action == "restart" or action == "restart_rename" then
    local ok, err
    if action == "restart_rename" then
      -- the dead domain is kept under NAME-<time> with a new uuid; the restart takes the name
      local uuid = random_uuid()
      if not uuid then
        log("no new uuid for the preserved domain: leaving it as it is")
        return nil
      end
      ok, err = h:preserve(info.domid, os.date("!-%Y%m%dT%H%MZ", wall), uuid)
      if not ok then
        log("preserving it failed (" .. tostring(err) .. "): leaving it as it is")
        return nil
      end
    else
      ok, err = h:destroy(info.domid)
      if not ok then
        log("destroy failed (" .. tostring(err) .. "): not restarting")
        return nil
      end
    end
    local domid, code
    domid, err, code = recreate(h, cfg)
    if not domid then
      log(string.format("restart failed: %s (%s)", tostring(err), tostring(code)))
      return nil
    end
    log(string.format("restarted %s as domid %d", info.name, domid))
    return domid
  end
  log("unknown action " .. action .. ": leaving the domain as it is")
  return nil
end

-- monitor.watch(h, domid, opts) -> reason it stopped ("gone", "done", "interrupted"): the loop.
-- opts as monitor.handle, plus wait_ms (one wait, default 1000).
function monitor.watch(h, domid, opts)
  opts = opts or {}
  local log = opts.log or function() end
  opts.started = opts.started or require("xlua").clock()
  opts.restarts = 0
  while true do
    local info, err, code = h:wait_shutdown(domid, opts.wait_ms or 1000)
    if opts.stop and opts.stop() then
      return "stopped"
    end
    if info == nil then
      if code == "NODOMAIN" then
        log(string.format("domain %d is gone (destroyed or migrated away): done", domid))
        return "gone"
      elseif code == "INTERRUPTED" then
        return "interrupted"
      end
      log("waiting failed: " .. tostring(err))
      return "failed"
    elseif info then
      if info.reason == "suspend" then
        -- a save or migration suspended it: whoever did that decides what comes next (it is
        -- resumed, or destroyed and the monitor ends)
        log("domain has suspended; waiting on")
        local still
        repeat
          require("xlua.process").sleep(0.5)
          still = h:info(domid)
        until not still or not (still.state == "shutdown" and still.reason == "suspend")
        if not still then
          log(string.format("domain %d is gone (destroyed or migrated away): done", domid))
          return "gone"
        end
      else
        local next_domid = monitor.handle(h, info, opts)
        if not next_domid then
          return "done"
        end
        domid = next_domid
        opts.started = require("xlua").clock()
        opts.restarts = opts.restarts + 1
      end
    end
  end
end

-- The site hook: $XLUA_MONITOR_HOOK, else /etc/xlua/monitor.lua, a chunk returning
-- function(event, action) -> action | nil (keep). Trusted admin code, checked as site files
-- are (owner root or the user, not writable by others). -> fn | nil, msg, code
function monitor.load_hook(path)
  path = path or os.getenv("XLUA_MONITOR_HOOK") or "/etc/xlua/monitor.lua"
  local xlua = require("xlua")
  local st = xlua.stat(path)
  if not st then
    return nil -- no hook
  end
  local why = require("xlua.compat.site").unsafe(st, xlua.geteuid(), "file")
  if why then
    return nil, path .. ": " .. why, "UNSAFE"
  end
  local chunk, err = loadfile(path)
  if not chunk then
    return nil, err, "SYNTAX"
  end
  local ok, fn = pcall(chunk)
  if not ok or type(fn) ~= "function" then
    return nil, path .. ": must return a function(event, action)", "BADVALUE"
  end
  return fn
end

-- Where a domain's monitor logs: $XLUA_LOG_DIR, else /var/log/xlua on libxl, else beside the
-- sim's state.
function monitor.log_path(h, name)
  local dir = os.getenv("XLUA_LOG_DIR")
  if not dir or dir == "" then
    dir = h:backend() == "libxl" and "/var/log/xlua" or (h:run_dir() .. "/logs")
  end
  os.execute("mkdir -p -m 700 '" .. dir:gsub("'", "'\\''") .. "'")
  return dir .. "/" .. name:gsub("/", "_") .. ".log"
end

-- monitor.start(backend, domid, {foreground, hook, dump_dir, fresh}) -> pid of the daemon (or, in the
-- foreground, how the watch ended) | nil, msg, code. fresh = false: the domain did not just
-- start (xlua monitor), so the restart-loop guard does not apply to its first death. At most
-- one monitor per domain: a second
-- is BUSY. The daemon opens the backend anew (a libxl context is not shared across a fork)
-- and holds the domain's monitor lock, never the lock commands take.
function monitor.start(backend, domid, opts)
  opts = opts or {}
  local h, err, code = domains.open(backend)
  if not h then
    return nil, err, code
  end
  local info
  info, err, code = h:info(domid)
  if not info then
    h:close()
    return nil, err, code
  end
  -- The monitor of an earlier life of this uuid (saved and restored, migrated on this host)
  -- lets go of the lock once it sees its domain gone, within its poll: wait that long before
  -- calling the lock another monitor's.
  local lock
  local deadline = xlua.clock() + MONITOR_HANDOVER_S
  repeat
    lock, err, code = h:lock(info.uuid, "monitor of " .. info.name, "monitor")
    if lock or code ~= "BUSY" or xlua.clock() >= deadline then
      break
    end
    require("xlua.process").sleep(0.05)
  until false
  if not lock then
    h:close()
    return nil, string.format("domain %s already has a monitor (%s)", info.name, err), code
  end
  local logfile = monitor.log_path(h, info.name)
  local function log(line)
    io.stdout:write(os.date("%Y-%m-%d %H:%M:%S "), line, "\n")
    io.stdout:flush()
  end
  if not opts.foreground then
    h:close()
    local pid
    pid, err, code = require("xlua.process").daemonize(logfile)
    if not pid then
      lock:unlock()
      return nil, err, code
    end
    if pid ~= 0 then
      -- the daemon holds the lock through its copy of the fd; ours must not outlive this call
      -- (a later daemon forked from this process would hold this domain's lock too)
      lock:unlock()
      return pid
    end
    lock:note("monitor of " .. info.name) -- the daemon's pid in a BUSY message
    h, err = domains.open(backend)
    if not h then
      log("cannot open the backend: " .. tostring(err))
      os.exit(1)
    end
  else
    log = function(line)
      io.stderr:write("xlua monitor: ", line, "\n")
    end
  end
  log(string.format("Waiting for domain %s (domid %d) to die [pid %d]", info.name, domid,
    require("xlua.process").getpid()))
  -- a domain this monitor did not see start counts as old: the restart-loop guard is for
  -- deaths soon after a (re)start
  local clock = require("xlua").clock()
  local ended = monitor.watch(h, domid, { log = log, hook = opts.hook, dump_dir = opts.dump_dir or
    (h:backend() == "sim" and h:run_dir() .. "/dump" or nil),
    started = opts.fresh == false and clock - monitor.MIN_UPTIME or clock })
  log("monitor ends: " .. ended)
  lock:unlock()
  h:close()
  if not opts.foreground then
    os.exit(0)
  end
  return ended
end

return monitor
