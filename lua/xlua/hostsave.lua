-- Host shutdown and boot, xendomains' job: save-all saves every running domain into one
-- directory, restore-all brings the images back (each verified and compat-checked against this
-- host, removed only once its domain runs) and then creates the autostart domains that are not
-- running. Built from the save, restore and create policies; the work on each domain runs in a
-- child process (xlua.workers), N at a time, through opts.run, which a spec may replace.
-- Every function returns plain tables: the commands (scripts/save-all.lua, restore-all.lua)
-- print them, and a site script can drive them the same way.
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local xlua = require("xlua")

local hostsave = {}

hostsave.DEFAULT_DIR = "/var/lib/xlua/save"
hostsave.AUTO_DIR = "/etc/xlua/auto"
hostsave.SUFFIX = ".xlsave"

-- ---- save-all ---------------------------------------------------------------------------------

-- The file a domain is saved to, in dir: NAME.xlsave, or UUID.xlsave for a name that is not a
-- plain file name (a "/" in it, a leading dot, control bytes).
function hostsave.file_name(info)
  local name = info.name
  if type(name) == "string" and #name <= 200 and name:match("^[%w_][%w_.+@:%-]*$") then
    return name .. hostsave.SUFFIX
  end
  return tostring(info.uuid) .. hostsave.SUFFIX
end

-- hostsave.targets(h [, names]) -> {info, ...} | nil, msg, "NODOMAIN": the domains to save:
-- those named (each once), else every domain but Domain-0 that is running or paused.
function hostsave.targets(h, names)
  local out, seen = {}, {}
  if names and #names > 0 then
    for _, which in ipairs(names) do
      local info, err, code = domains.find(h, which)
      if not info then
        return nil, err, code
      end
      if info.domid == 0 then
        return nil, "Domain-0 cannot be saved", "EPERM"
      end
      if not seen[info.uuid or info.domid] then
        seen[info.uuid or info.domid] = true
        out[#out + 1] = info
      end
    end
    return out
  end
  local list, err, code = h:list()
  if not list then
    return nil, err, code
  end
  for _, info in ipairs(list) do
    if info.domid ~= 0 and (info.state == "running" or info.state == "paused") then
      out[#out + 1] = info
    end
  end
  return out
end

-- hostsave.prepare_dir(dir) -> true | nil, msg, code: dir exists (created mode 0700 when it
-- does not: it will hold the guests' memory) and is a directory.
function hostsave.prepare_dir(dir)
  local st = xlua.stat(dir)
  if not st then
    os.execute("mkdir -p -m 700 -- '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
    st = xlua.stat(dir)
  end
  if not st then
    return nil, dir .. ": cannot create the directory", "ENOENT"
  end
  if st.type ~= "directory" then
    return nil, dir .. ": not a directory", "ENOTDIR"
  end
  return true
end

-- hostsave.save_one(h, domain, path [, {zstd}]) -> {ok, name, path, bytes, action, seconds}
-- or {ok = false, name, path, code, message}: save.save, as a plain result (what a child of
-- save-all prints).
function hostsave.save_one(h, domain, path, opts)
  local t0 = xlua.clock()
  local result, err, code = require("xlua.save").save(h, domain, path, { zstd = opts and opts.zstd })
  if not result then
    return { ok = false, name = domain, path = path, code = code or "FAILED", message = tostring(err),
      seconds = xlua.clock() - t0 }
  end
  return { ok = true, name = result.name, path = path, bytes = result.bytes, action = result.action,
    seconds = xlua.clock() - t0 }
end

-- What is left to do with a domain whose save ran out of time: as xendomains, shut it down
-- (and wait for it, up to wait seconds), or destroy it. -> what was done, as a word.
local function stop_timed_out(h, info, destroy, wait)
  local now = h:info(info.domid)
  if not now or now.uuid ~= info.uuid then
    return "gone"
  end
  if destroy then
    local ok, err = h:destroy(info.domid)
    return ok and "destroyed" or ("not destroyed: " .. tostring(err))
  end
  local ok, err = h:request(info.domid, "poweroff", true)
  if not ok then
    return "not shut down: " .. tostring(err)
  end
  local deadline = xlua.clock() + (wait or 60)
  while true do
    local left = deadline - xlua.clock()
    local done = h:wait_shutdown(info.domid, math.max(1, math.floor(math.min(left, 1) * 1000)))
    if done ~= false then
      return "shut down"
    end
    if left <= 0 then
      return "shutdown requested, still running"
    end
  end
end

-- The children that save: `xlua save-all --one DOMAIN [-z] DIR` per domain.
local function run_children(tasks, opts)
  local work = {}
  for i, t in ipairs(tasks) do
    local args = { "save-all", "--one", tostring(t.info.domid) }
    if opts.zstd then
      args[#args + 1] = "-z"
    end
    args[#args + 1] = t.path
    work[i] = { args = args, timeout = opts.timeout, target = t }
  end
  local results = require("xlua.workers").run(work, {
    jobs = opts.jobs,
    program = opts.program,
    on_start = opts.on_start and function(w) opts.on_start(w.target) end,
  })
  local out = {}
  for i, r in ipairs(results) do
    local v = r.value or { ok = false, code = r.timed_out and "TIMEDOUT" or "CRASHED",
      message = r.output ~= "" and r.output:match("[^\n]*$") or ("exit status " .. tostring(r.status)) }
    v.timed_out = r.timed_out
    v.bytes = math.tointeger(v.bytes) or v.bytes -- JSON's numbers come back as floats
    if r.timed_out then
      v.ok, v.code = false, "TIMEDOUT"
      v.message = string.format("not saved within %s s", tostring(opts.timeout))
    end
    out[i] = v
  end
  return out
end

-- hostsave.save_all(h, dir, opts) -> report | nil, msg, code (no such domain, a dir that
-- cannot be made). opts: domains (names or domids; default every running or paused one), zstd,
-- jobs (children at once, default 1), timeout (seconds per domain; nil: none),
-- destroy_on_timeout, shutdown_wait (seconds to wait for a shut-down domain, default timeout),
-- on_start(target), on_done(target, result), run(tasks, opts) -> results (default: children).
-- report: {dir, results = {{name, uuid, path, ok, bytes, action, seconds, code, message,
-- timed_out, after}, ...}, saved, failed, timed_out, seconds}. A domain that was not saved is
-- left as it was (the save policy's promise), except one that ran out of time: that one is
-- shut down, or destroyed (after). Images of other domains already in dir are left alone.
function hostsave.save_all(h, dir, opts)
  opts = opts or {}
  local t0 = xlua.clock()
  local targets, err, code = hostsave.targets(h, opts.domains)
  if not targets then
    return nil, err, code
  end
  local ok
  ok, err, code = hostsave.prepare_dir(dir)
  if not ok then
    return nil, err, code
  end
  local tasks = {}
  for i, info in ipairs(targets) do
    tasks[i] = { info = info, path = dir .. "/" .. hostsave.file_name(info) }
  end
  local results = (opts.run or run_children)(tasks, opts)
  local report = { dir = dir, results = {}, saved = 0, failed = 0, timed_out = 0 }
  for i, t in ipairs(tasks) do
    local r = results[i] or { ok = false, code = "CRASHED", message = "no result" }
    r.name, r.uuid, r.path = t.info.name, t.info.uuid, t.path
    if r.ok then
      report.saved = report.saved + 1
    else
      report.failed = report.failed + 1
      if r.timed_out then
        report.timed_out = report.timed_out + 1
        r.after = stop_timed_out(h, t.info, opts.destroy_on_timeout, opts.shutdown_wait or opts.timeout)
      end
    end
    report.results[i] = r
    if opts.on_done then
      opts.on_done(t, r)
    end
  end
  report.seconds = xlua.clock() - t0
  return report
end

-- ---- restore-all ------------------------------------------------------------------------------

-- hostsave.images(dir) -> {path, ...} in name order: the *.xlsave files of dir (not the
-- temporary files of a save, which start with a dot); none when dir does not exist.
function hostsave.images(dir)
  local names, err, code = xlua.dir(dir)
  if not names then
    if code == "ENOENT" then
      return {}
    end
    return nil, err, code
  end
  local out = {}
  for _, name in ipairs(names) do
    if name:sub(1, 1) ~= "." and name:sub(-#hostsave.SUFFIX) == hostsave.SUFFIX then
      local st = xlua.stat(dir .. "/" .. name)
      if st and st.type == "file" then
        out[#out + 1] = dir .. "/" .. name
      end
    end
  end
  return out
end

-- Why the host cannot take the domain of plan now: its memory is more than the host has free.
local function no_room(h, plan)
  local host = h:host()
  local need = plan.facts.memory_kb
  if host and type(host.free_memory_kb) == "number" and type(need) == "number" and need > host.free_memory_kb then
    return string.format("the domain needs %d KiB, the host has %d KiB free", need, host.free_memory_kb), "NOMEM"
  end
  return nil
end

-- Refusals of restore.prepare and restore.run, as a result: the image stays where it is.
local function refused(path, plan, msg, code)
  local r = { ok = false, path = path, code = code or "FAILED", message = tostring(msg), kept = true }
  if plan then
    r.name = plan.facts.name
    if not plan.report.compatible or #plan.report.differences > 0 then
      r.report = compat.text(plan.report)
    end
  end
  return r
end

-- hostsave.restore_one(h, path [, {site_rules, dry_run}]) -> result: the image checked as
-- restore checks it (the whole file verified, its config compat-checked with the site rules
-- and this host's domains and memory), refused when its name or uuid already runs (restore's
-- EXISTS, UUIDTAKEN) or the host's free memory is short (NOMEM), else restored, and the file
-- removed once the domain runs. result: {ok, path, name, domid, removed} or {ok = false, path,
-- name, code, message, report (the compatibility report's text), kept = true}. dry_run: {ok =
-- whether it would be restored, would = "restore" | "refuse", ...}, nothing changed.
function hostsave.restore_one(h, path, opts)
  opts = opts or {}
  local restore = require("xlua.restore")
  local plan, err, code = restore.prepare(path, { site_rules = opts.site_rules, context = domains.context(h) })
  if not plan then
    return refused(path, nil, err, code)
  end
  if opts.dry_run then
    local ok
    ok, err, code = restore.verify(plan)
    if ok then
      err, code = restore.conflict(h, plan)
    end
    if not err then
      err, code = no_room(h, plan)
    end
    if not err and not plan.report.compatible then
      err, code = "not compatible", "INCOMPATIBLE"
    end
    local r = err and refused(path, plan, err, code) or { ok = true, path = path, name = plan.facts.name }
    r.would = err and "refuse" or "restore"
    return r
  end
  err, code = no_room(h, plan)
  if err then
    restore.close(plan)
    return refused(path, plan, err, code)
  end
  local result
  result, err, code = restore.run(h, plan, {})
  if not result then
    return refused(path, plan, err, code)
  end
  local r = { ok = true, path = path, name = result.name, domid = result.domid, removed = false }
  local info = h:info(result.domid)
  if info and info.state == "running" then
    local gone, why = os.remove(path)
    r.removed = gone and true or false
    if not gone then
      r.message = "restored, but the image could not be removed: " .. tostring(why)
    end
  else
    r.message = string.format("restored, but the domain is %s: the image is kept",
      info and info.state or "gone")
  end
  return r
end

-- The children that restore: `xlua restore-all --one FILE [-e]` per image.
local function run_restore_children(tasks, opts)
  local work = {}
  for i, path in ipairs(tasks) do
    local args = { "restore-all" }
    if opts.no_monitor then
      args[#args + 1] = "-e"
    end
    if opts.site_dir then
      args[#args + 1] = "--site-dir"
      args[#args + 1] = opts.site_dir
    end
    args[#args + 1] = "--one"
    args[#args + 1] = path
    work[i] = { args = args, path = path }
  end
  local results = require("xlua.workers").run(work, {
    jobs = opts.jobs,
    program = opts.program,
    on_start = opts.on_start and function(w) opts.on_start(w.path) end,
  })
  local out = {}
  for i, r in ipairs(results) do
    out[i] = r.value or { ok = false, path = tasks[i], kept = true, code = "CRASHED",
      message = r.output ~= "" and r.output:match("[^\n]*$") or ("exit status " .. tostring(r.status)) }
    out[i].domid = math.tointeger(out[i].domid) -- JSON's numbers come back as floats
  end
  return out
end

-- hostsave.restore_all(h, dir [, opts]) -> report | nil, msg, code (dir unreadable).
-- opts: jobs, dry_run (in this process, nothing changed), site_rules (dry_run) or site_dir
-- (children), no_monitor, auto_dir / auto = false (autostart), on_start(path),
-- on_done(result), run(paths, opts) -> results. report: {dir, results = {...restore_one's},
-- restored, refused, autostart = {...hostsave.autostart's results} | nil, seconds}.
function hostsave.restore_all(h, dir, opts)
  opts = opts or {}
  local t0 = xlua.clock()
  local paths, err, code = hostsave.images(dir)
  if not paths then
    return nil, err, code
  end
  local results
  if opts.dry_run then
    results = {}
    for i, path in ipairs(paths) do
      results[i] = hostsave.restore_one(h, path, { dry_run = true, site_rules = opts.site_rules })
    end
  else
    results = (opts.run or run_restore_children)(paths, opts)
  end
  local report = { dir = dir, results = {}, restored = 0, refused = 0, dry_run = opts.dry_run or nil }
  for i, r in ipairs(results) do
    if r.ok then
      report.restored = report.restored + 1
    else
      report.refused = report.refused + 1
    end
    report.results[i] = r
    if opts.on_done then
      opts.on_done(r)
    end
  end
  if opts.auto ~= false then
    report.autostart, err, code = hostsave.autostart(h, opts.auto_dir, { dry_run = opts.dry_run })
    if not report.autostart then
      report.autostart_error = { code = code, message = err }
    end
  end
  report.seconds = xlua.clock() - t0
  return report
end

-- ---- autostart --------------------------------------------------------------------------------

-- Names in an autostart directory that are not configs: hidden files, editors' and package
-- managers' leftovers.
local function ignored(name)
  return name:sub(1, 1) == "." or name:sub(-1) == "~" or name:match("%.dpkg%-%a+$")
    or name:match("%.rpm%a+$") or name:match("%.orig$") or name:match("%.bak$") or name:match("%.swp$")
end

-- The autostart directory: given, else $XLUA_AUTO_DIR, else AUTO_DIR; explicit when named.
function hostsave.auto_dir(given)
  if given and given ~= "" then
    return given, true
  end
  local env = os.getenv("XLUA_AUTO_DIR")
  if env and env ~= "" then
    return env, true
  end
  return hostsave.AUTO_DIR, false
end

-- hostsave.autostart(h [, dir [, {dry_run}]]) -> results | nil, msg, code: every config in dir
-- (xl.cfg, or Lua when it ends in .lua; see hostsave.auto_dir) whose domain does not run
-- (neither its name nor its uuid) is created, as xendomains does with /etc/xen/auto. The
-- configs are trusted as site rules are: the directory and each file must belong to root or
-- the user running xlua and be writable by no one else (UNSAFE). A missing default directory
-- is no autostart; a missing directory that was named is ENOENT. results: {{path, name, action
-- = "created" | "running" | "failed" | "would create", domid, code, message}, ...}.
function hostsave.autostart(h, dir, opts)
  opts = opts or {}
  local explicit
  dir, explicit = hostsave.auto_dir(dir)
  local site = require("xlua.compat.site")
  local st, err, code = xlua.stat(dir)
  if not st then
    if code == "ENOENT" and not explicit then
      return {}
    end
    return nil, err, code
  end
  local why = site.unsafe(st, xlua.geteuid(), "directory")
  if why then
    return nil, string.format("%s: refusing autostart configs: %s", dir, why), "UNSAFE"
  end
  local names
  names, err, code = xlua.dir(dir)
  if not names then
    return nil, err, code
  end
  local create = require("xlua.create")
  local results = {}
  for _, name in ipairs(names) do
    local path = dir .. "/" .. name
    local fst = xlua.stat(path)
    if not ignored(name) and fst and fst.type == "file" then
      local r = { path = path }
      results[#results + 1] = r
      why = site.unsafe(fst, xlua.geteuid(), "file")
      local plan
      if why then
        r.action, r.code, r.message = "failed", "UNSAFE", "refusing an autostart config: " .. why
      else
        plan, err, code = create.prepare(path)
        if not plan then
          r.action, r.code, r.message = "failed", code, err
        end
      end
      if plan then
        r.name = plan.facts.name
        local running = plan.facts.name and h:find(plan.facts.name)
        if not running and plan.facts.uuid then
          for _, d in ipairs(h:list() or {}) do
            if d.uuid and d.uuid:lower() == plan.facts.uuid:lower() then
              running = d
            end
          end
        end
        if running then
          r.action, r.domid = "running", running.domid
        elseif opts.dry_run then
          r.action = "would create"
        else
          local created
          created, err, code = create.run(h, plan)
          if created then
            r.action, r.domid = "created", created.domid
          else
            r.action, r.code, r.message = "failed", code, err
          end
        end
      end
    end
  end
  return results
end

return hostsave
