-- The create policy: a config file (xl.cfg or Lua) and xl-style overrides become libxl JSON,
-- a domain, and the config store entries (the text as written, its format, the JSON).
local domains = require("xlua.domains")
local json = require("xlua.json")

local create = {}

-- create.prepare(path [, overrides [, opts]]) -> plan | nil, msg, code (a bad config file: exit 2).
-- plan: {path, format, source, libxl, json, facts = {name, uuid, type, memory_kb,
-- max_memory_kb, vcpus}, warnings}
-- opts: convert.to_libxl's options (strict: warnings about the config refuse it; xl.conf's
-- defaults and the host's layout, as xlua.xlconf.for_backend gives them).
function create.prepare(path, overrides, opts)
  local config = require("xlua.config")
  local cfg, err, code = config.load(path, overrides or {}, opts or {})
  if not cfg then
    return nil, err, code
  end
  local facts = domains.facts(cfg.libxl)
  local named, why = domains.check_name(facts.name)
  if not named then
    return nil, path .. ": " .. why, "BADCONFIG"
  end
  if not facts.name or facts.name == "" then
    return nil, path .. ": the config gives the domain no name", "BADCONFIG"
  end
  if not facts.memory_kb then
    return nil, path .. ": the config gives the domain no memory", "BADCONFIG"
  end
  return {
    path = path,
    format = cfg.format,
    source = cfg.source,
    libxl = cfg.libxl,
    json = json.encode(cfg.libxl, { indent = "    " }),
    facts = facts,
    warnings = cfg.warnings or {},
  }
end

-- create.run(h, plan [, {paused = bool}]) -> {name, domid, plan} | nil, msg, code.
-- The backend allocates the domid and refuses a taken name (EXISTS) under its lock, so two
-- creates at once never share either. If the config cannot be stored, the domain is destroyed:
-- a domain xlua created always has its config.
function create.run(h, plan, opts)
  opts = opts or {}
  local domid, err, code = h:create(domains.create_args(plan.json, plan.facts, opts.paused))
  if not domid then
    return nil, err, code
  end
  local ok
  ok, err, code = domains.store_config(h, domid, { source = plan.source, format = plan.format, json = plan.json })
  if not ok then
    h:destroy(domid)
    return nil, "domain " .. plan.facts.name .. " not kept, its config could not be stored: " .. tostring(err), code
  end
  return { name = plan.facts.name, domid = domid, plan = plan }
end

-- create.create(h, path, {overrides, paused}) -> result | nil, msg, code: prepare then run.
function create.create(h, path, opts)
  opts = opts or {}
  local plan, err, code = create.prepare(path, opts.overrides)
  if not plan then
    return nil, err, code
  end
  return create.run(h, plan, opts)
end

return create
