-- The restore policy: read and check a savefile, take its stored config or a replacement,
-- check the two are compatible, create the domain from the stream, store the config.
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local savefile = require("xlua.savefile")

local restore = {}

-- restore.prepare(path [, opts]) -> plan | nil, msg, code (every failure here is a bad input:
-- exit 2). path "-" reads standard input. opts.config: a replacement config file;
-- opts.site_rules, opts.context: handed to compat.check (site rules, the host's domains);
-- opts.strict: the replacement's conversion warnings refuse it (BADVALUE); opts.convert: more
-- convert.to_libxl options for the replacement (xl.conf's defaults, the host's layout).
-- plan: {path, reader (positioned at the stream), header, saved = {json, libxl, source, format,
-- meta}, wanted = {json, libxl, source, format, from}, facts, report (compat.check)}.
-- Close plan.reader (restore.close(plan)) when not calling restore.run.
-- path may instead be an open reader (migrate-receive's stream), opts.name then names it.
function restore.prepare(path, opts)
  opts = opts or {}
  local config = require("xlua.config")
  local reader, err, code
  if type(path) == "string" then
    reader, err, code = savefile.open(path)
    if not reader then
      return nil, err, code
    end
  else
    reader, path = path, opts.name or "<stream>"
  end
  local function fail(msg, c)
    reader:close()
    return nil, msg, c
  end
  local header, saved
  header, err, code = reader:header()
  if not header then
    return fail(err, code)
  end
  saved, err, code = config.saved(reader, path)
  if not saved then
    return fail(err, code)
  end

  local wanted
  if opts.config then
    -- a config file, a libxl JSON file, or another savefile's stored config
    local loaded
    local copts = {}
    for k, v in pairs(opts.convert or {}) do
      copts[k] = v
    end
    copts.strict = opts.strict
    loaded, err, code = config.load_any(opts.config, copts)
    if not loaded then
      return fail(err, code)
    end
    config.keep_identity(loaded, saved.libxl and type(saved.libxl.c_info) == "table" and saved.libxl.c_info.uuid)
    wanted = {
      libxl = loaded.libxl,
      json = loaded.json,
      source = loaded.source,
      format = loaded.format,
      from = opts.config,
      warnings = loaded.warnings,
    }
  elseif saved.libxl then
    wanted = { libxl = saved.libxl, json = saved.json, source = saved.source, format = saved.format, from = "<saved>" }
  else
    return fail("Config file not specified and none in save file", "NOCONFIG")
  end

  local named
  named, err, code = domains.check_name(wanted.libxl.c_info and wanted.libxl.c_info.name)
  if not named then
    return fail(err, code)
  end
  local plan = {
    path = path,
    reader = reader,
    header = header,
    saved = saved,
    wanted = wanted,
    facts = domains.facts(wanted.libxl),
  }
  if saved.libxl then
    plan.report = compat.check(saved.libxl, wanted.libxl,
      { site_rules = opts.site_rules, context = opts.context, force = opts.force })
  else
    -- an xl file saved without a config: nothing to compare against
    plan.report = compat.check(wanted.libxl, wanted.libxl, { site_rules = opts.site_rules, context = opts.context })
  end
  return plan
end

function restore.close(plan)
  if plan and plan.reader then
    plan.reader:close()
  end
end

-- restore.verify(plan) -> true | nil, msg, code: walk the rest of the file and check its trailer
-- (for -n; consumes the stream, so plan cannot be run afterwards).
function restore.verify(plan)
  local ok, err, code = plan.reader:verify()
  plan.reader:close()
  return ok, err, code
end

-- The running domain in list that has uuid, or nil.
local function holder_of(list, uuid)
  uuid = uuid:lower()
  for _, d in ipairs(list) do
    if d.uuid and d.uuid:lower() == uuid then
      return d
    end
  end
  return nil
end

local function named(list, name)
  for _, d in ipairs(list) do
    if d.name == name then
      return d
    end
  end
  return nil
end

-- restore.conflict(h, plan) -> nil | msg, code: why the domain cannot start on this host now:
-- UUIDTAKEN when a domain with its uuid runs (the same domain twice would share its writable
-- disks: a stale image of a running domain, or a save to a stream on this host), EXISTS when
-- its name is taken (as xl refuses).
function restore.conflict(h, plan)
  local name, uuid = plan.facts.name, plan.facts.uuid
  -- one list of the domains answers both questions
  local list = uuid and (h:list() or {})
  local twin = uuid and holder_of(list, uuid)
  if twin then
    return string.format("domain %s (id %d) already runs with uuid %s: refusing to start it twice",
      twin.name, twin.domid, uuid), "UUIDTAKEN"
  end
  local taken = name and (list and named(list, name) or not list and h:find(name))
  if taken then
    return string.format("a domain named '%s' already exists (domid %d)", name, taken.domid), "EXISTS"
  end
  return nil
end

-- restore.run(h, plan [, opts]) -> {name, domid, report} | nil, msg, code
-- opts: paused (-p), force (restore despite an incompatible config), progress (function);
-- for migrate-receive: name (build the domain under this name; its stored config keeps its
-- own), lock_role (the lock of that role, h:lock's third argument), conflict (a function(h,
-- plan) -> nil | msg, code replacing restore.conflict).
-- Refuses INCOMPATIBLE unless forced, the conflicts of restore.conflict (UUIDTAKEN, EXISTS),
-- and BUSY while another command holds that domain's lock. The backend checks the trailer
-- before the domain runs and removes a half-built domain; a domain whose config cannot be
-- stored is destroyed, and so is one built when an error (a signal) is raised at any point.
function restore.run(h, plan, opts)
  opts = opts or {}
  local reader = plan.reader
  local _ <close> = setmetatable({}, { __close = function() reader:close() end })
  if not plan.report.compatible and not opts.force then
    -- the report itself lists the differences; this is the verdict
    local n = plan.report.counts.incompatible
    return nil, string.format("not compatible: %d incompatible difference%s", n, n == 1 and "" or "s"),
      "INCOMPATIBLE"
  end
  local name, uuid = plan.facts.name, plan.facts.uuid
  local lock, lerr, lcode
  if uuid then
    lock, lerr, lcode = h:lock(uuid, "restore of " .. tostring(name), opts.lock_role)
    if not lock then
      return nil, lerr, lcode
    end
  end
  local _ <close> = lock
  local why, code = (opts.conflict or restore.conflict)(h, plan)
  if why then
    return nil, why, code
  end
  local args = domains.create_args(plan.wanted.json, plan.facts, opts.paused)
  args.name = opts.name or args.name
  args.reader = reader
  args.progress = opts.progress
  args.ledger = { domid = false }
  local kept = false
  -- Whatever happens after the backend built the domain (an error, a signal), it is kept only
  -- when its config is stored; the ledger knows its domid even if h:restore never returned.
  local _ <close> = setmetatable({}, { __close = function(_, raised)
    if not kept and args.ledger.domid then
      h:destroy(args.ledger.domid)
    elseif kept and type(raised) == "string" then
      error(string.format("%s was restored as domain %d, then %s", tostring(name), args.ledger.domid,
        raised), 0)
    end
  end })
  local domid, err, code = h:restore(args)
  if not domid then
    return nil, err, code
  end
  local ok
  -- the runtime changes its source text does not show stay noted, in the same write
  local changes = plan.wanted.from == "<saved>" and plan.saved.meta
    and require("xlua.runtime.record").stored(plan.saved.meta.runtime) or nil
  ok, err, code = domains.store_config(h, domid,
    { source = plan.wanted.source, format = plan.wanted.format, json = plan.wanted.json }, changes)
  if not ok then
    return nil, "domain " .. tostring(name) .. " not kept, its config could not be stored: " .. tostring(err), code
  end
  kept = true
  return { name = name, domid = domid, report = plan.report }
end

-- restore.restore(h, path, {config, paused, force, progress}) -> result | nil, msg, code
function restore.restore(h, path, opts)
  local plan, err, code = restore.prepare(path, opts)
  if not plan then
    return nil, err, code
  end
  return restore.run(h, plan, opts)
end

return restore
