-- The restore policy: read and check a savefile, take its stored config or a replacement,
-- check the two are compatible, create the domain from the stream, store the config.
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local savefile = require("xlua.savefile")

local restore = {}

-- restore.prepare(path [, opts]) -> plan | nil, msg, code (every failure here is a bad input:
-- exit 2). path "-" reads standard input. opts.config: a replacement config file;
-- opts.site_rules, opts.context: handed to compat.check (site rules, the host's domains).
-- plan: {path, reader (positioned at the stream), header, saved = {json, libxl, source, format,
-- meta}, wanted = {json, libxl, source, format, from}, facts, report (compat.check)}.
-- Close plan.reader (restore.close(plan)) when not calling restore.run.
function restore.prepare(path, opts)
  opts = opts or {}
  local config = require("xlua.config")
  local reader, err, code = savefile.open(path)
  if not reader then
    return nil, err, code
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
    loaded, err, code = config.load_any(opts.config)
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
    }
  elseif saved.libxl then
    wanted = { libxl = saved.libxl, json = saved.json, source = saved.source, format = saved.format, from = "<saved>" }
  else
    return fail("Config file not specified and none in save file", "NOCONFIG")
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

local function sleep(seconds)
  os.execute(string.format("sleep %.2f", seconds))
end

-- restore.run(h, plan [, opts]) -> {name, domid, report} | nil, msg, code
-- opts: paused (-p), force (restore despite an incompatible config), progress (function),
-- wait_for_name (seconds; for a stream from a pipe, see below), sleep (function(seconds)).
-- Refuses INCOMPATIBLE unless forced, EXISTS when the name is taken (as xl does). The backend
-- checks the trailer before the domain runs and removes a half-built domain; a domain whose
-- config cannot be stored is destroyed.
-- `xlua save d - | xlua restore -` on one host: the sender destroys d only after its last
-- byte, so with wait_for_name the domain is restored paused as "NAME--incoming" (as xl migrate
-- does), and renamed and unpaused once NAME is free; if NAME is still taken after
-- wait_for_name seconds, the incoming domain is destroyed and the restore fails EXISTS.
function restore.run(h, plan, opts)
  opts = opts or {}
  local reader = plan.reader
  if not plan.report.compatible and not opts.force then
    reader:close()
    -- the report itself lists the differences; this is the verdict
    local n = plan.report.counts.incompatible
    return nil, string.format("not compatible: %d incompatible difference%s", n, n == 1 and "" or "s"),
      "INCOMPATIBLE"
  end
  local name = plan.facts.name
  local incoming
  if name and h:find(name) then
    if not opts.wait_for_name then
      reader:close()
      return nil, "a domain named '" .. name .. "' already exists", "EXISTS"
    end
    incoming = name .. "--incoming"
  end
  local args = domains.create_args(plan.wanted.json, plan.facts, opts.paused or incoming)
  args.name = incoming or name
  args.reader = reader
  args.progress = opts.progress
  -- An error raised by progress (Ctrl-C) cancels the restore; the backend removes the
  -- half-built domain, and so does this if one is left before the error goes on.
  local called, domid, err, code = pcall(h.restore, h, args)
  reader:close()
  if not called then
    local left = h:find(args.name)
    if left then
      h:destroy(left.domid)
    end
    error(domid, 0)
  end
  if not domid then
    return nil, err, code
  end
  local function undo(msg, c)
    h:destroy(domid)
    return nil, msg, c
  end
  if incoming then
    local tenths = 0
    while h:find(name) and tenths < opts.wait_for_name * 10 do
      ;(opts.sleep or sleep)(0.1)
      tenths = tenths + 1
    end
    local ok
    ok, err, code = h:rename(domid, name)
    if not ok then
      if code == "EXISTS" or h:find(name) then
        return undo("a domain named '" .. name .. "' already exists", "EXISTS")
      end
      return undo(err, code)
    end
    if not opts.paused then
      ok, err, code = h:unpause(domid)
      if not ok then
        return undo(err, code)
      end
    end
  end
  local ok
  ok, err, code = domains.store_config(h, domid, { source = plan.wanted.source, format = plan.wanted.format, json = plan.wanted.json })
  if not ok then
    return undo("domain " .. tostring(name) .. " not kept, its config could not be stored: " .. tostring(err), code)
  end
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
