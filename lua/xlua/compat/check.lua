-- The compatibility check: a field-by-field diff of a saved and a wanted libxl domain config,
-- after both have had libxl's defaults applied, each difference judged by the rule table and
-- then by the site rules. Pure: it reads nothing and prints nothing.
local json = require("xlua.json")

-- libxl's defaults and the rule table, loaded by the first comparison that needs them: a
-- restore with the config it saved and no site rules has nothing to compare.
local defaults, rules
local function engine()
  if not rules then
    defaults, rules = require("xlua.compat.defaults"), require("xlua.compat.rules")
  end
end

local M = {}

local is_list = json.is_array

local function scalar_list(t)
  if not is_list(t) then
    return false
  end
  for _, v in ipairs(t) do
    if type(v) == "table" then
      return false
    end
  end
  return true
end

-- What libxl's JSON leaves out: a field at its IDL default. After defaults.apply the fields
-- the rules look at are filled in; for the rest, absent equals 0, false, "default",
-- "unknown", null and an empty struct.
local function blank(v)
  if v == nil or v == json.null or v == "default" or v == "unknown" or v == 0 or v == false then
    return true
  end
  if type(v) == "table" and not is_list(v) then
    for _, x in pairs(v) do
      if not blank(x) then
        return false
      end
    end
    return true
  end
  return false
end

local function equal(a, b)
  if blank(a) and blank(b) then
    return true
  end
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b
  end
  if is_list(a) or is_list(b) then
    if #a ~= #b then
      return false
    end
    for i = 1, #a do
      if not equal(a[i], b[i]) then
        return false
      end
    end
    return true
  end
  for k, x in pairs(a) do
    if not equal(x, b[k]) then
      return false
    end
  end
  for k, y in pairs(b) do
    if a[k] == nil and not blank(y) then
      return false
    end
  end
  return true
end
M.equal = equal

local function sorted_keys(a, b)
  local seen, keys = {}, {}
  for _, t in ipairs({ a, b }) do
    if type(t) == "table" then
      for k in pairs(t) do
        if not seen[k] then
          seen[k] = true
          keys[#keys + 1] = k
        end
      end
    end
  end
  table.sort(keys, function(x, y)
    return tostring(x) < tostring(y)
  end)
  return keys
end

local function join(path, key)
  return path == "" and tostring(key) or path .. "." .. tostring(key)
end

local function length(v)
  return type(v) == "table" and #v or 0
end

-- Paths sort with their list indexes as numbers: disks[2] before disks[10].
local function sort_key(path)
  return (path:gsub("%[(%d+)%]", function(n)
    return string.format("[%010d]", tonumber(n))
  end))
end
M.sort_key = sort_key

function M.sort(differences)
  if #differences < 2 then
    return differences
  end
  engine()
  local rank = rules.RANK
  table.sort(differences, function(x, y)
    local kx, ky = sort_key(x.path), sort_key(y.path)
    if kx ~= ky then
      return kx < ky
    end
    if x.verdict ~= y.verdict then
      return (rank[x.verdict] or 0) > (rank[y.verdict] or 0)
    end
    return tostring(x.reason) < tostring(y.reason)
  end)
  return differences
end

-- The field-by-field diff: differences of saved (a) and wanted (b), both defaulted.
local function diff(a, b)
  engine()
  local out = {}
  local type_changed = not equal(a.c_info and a.c_info.type, b.c_info and b.c_info.type)

  local function emit(path, old, new, rule)
    local verdict, reason
    if rule and rule.judge then
      verdict, reason = rule.judge(old, new, a, b)
    end
    out[#out + 1] = {
      path = path,
      old = defaults.copy(old),
      new = defaults.copy(new),
      verdict = verdict or rule and rule.verdict or "warning",
      reason = reason or rule and rule.reason or rules.UNKNOWN_REASON,
      source = rule and "rule" or "unknown",
    }
  end

  local function walk(path, x, y)
    local rule = path ~= "" and rules.find(path) or nil
    local tx, ty = type(x) == "table", type(y) == "table"
    local structured = (tx or ty) and (tx or blank(x)) and (ty or blank(y))
      and not (rule and rule.whole) and not scalar_list(x) and not scalar_list(y)
    if not structured then
      if not equal(x, y) then
        emit(path, x, y, rule)
      end
      return
    end
    if is_list(x) or is_list(y) then
      -- a list of structs (devices): its length first, then item by item
      local nx, ny = length(x), length(y)
      if nx ~= ny then
        emit(path, nx, ny, rules.find(path, true))
      end
      for i = 1, math.min(nx, ny) do
        walk(path .. "[" .. (i - 1) .. "]", x[i], y[i])
      end
      return
    end
    for _, k in ipairs(sorted_keys(x, y)) do
      -- a changed domain type is one difference, not every field of the two unions
      if not (type_changed and path == "b_info" and tostring(k):match("^type%.")) then
        walk(join(path, k), tx and x[k] or nil, ty and y[k] or nil)
      end
    end
  end

  walk("", a, b)
  return out
end

-- The name rule needs the host's domains: a new name another domain has makes the restore
-- fail in libxl. An unchanged name is no difference between the configs; whether it is free is
-- the restore's own check (it refuses EXISTS, or waits for it with a stream from a pipe).
local function name_rule(differences, wanted, context)
  local name = wanted.c_info and wanted.c_info.name
  if type(name) ~= "string" or type(context.domains) ~= "table" then
    return
  end
  local changed
  for _, d in ipairs(differences) do
    if d.path == "c_info.name" then
      changed = d
    end
  end
  if not changed then
    return
  end
  for _, dom in ipairs(context.domains) do
    if dom.name == name and (context.domid == nil or dom.domid ~= context.domid) then
      changed.verdict, changed.source = "warning", "rule"
      changed.reason = string.format("Domain %s already has the name %q.", tostring(dom.domid), name)
      return
    end
  end
end

-- check(saved, wanted [, opts]) -> report
-- saved, wanted: libxl_domain_config tables (libxl's JSON as Lua tables).
-- opts.context: { domains = {{domid, name}, ...}, domid = the domain being restored if it
--   exists, host = { free_memory_kb, hap, device_model_version, ... } }, handed to site rules.
-- opts.site_rules: what xlua.compat.site.load returned. opts.force: report what is overridden.
-- report: { compatible, differences = {{path, old, new, verdict, reason, source}, ...} sorted
--   by path, counts = {allowed, warning, incompatible}, forced, overridden = {...} }
function M.check(saved, wanted, opts)
  if type(saved) ~= "table" then
    error("bad argument #1 to 'check' (table expected, got " .. type(saved) .. ")", 2)
  end
  if type(wanted) ~= "table" then
    error("bad argument #2 to 'check' (table expected, got " .. type(wanted) .. ")", 2)
  end
  opts = opts or {}
  local context = opts.context or {}
  local rules = opts.site_rules
  local differences = {}
  -- A config checked against itself (a restore with the config it saved) has no differences:
  -- only site rules could say something, and there are none to run.
  if not (rawequal(saved, wanted) and (not rules or (#(rules.rules or {}) == 0
      and #(rules.failures or {}) == 0))) then
    engine()
    local dopts = { host = context.host, script_dir = opts.script_dir }
    local a, b = defaults.apply(saved, dopts), defaults.apply(wanted, dopts)
    differences = diff(a, b)
    name_rule(differences, b, context)
    if rules then
      require("xlua.compat.site").run(rules, a, b, differences, context)
    end
  end
  M.sort(differences)

  local counts = { allowed = 0, warning = 0, incompatible = 0 }
  local overridden = json.array()
  for _, d in ipairs(differences) do
    counts[d.verdict] = (counts[d.verdict] or 0) + 1
    if d.verdict == "incompatible" then
      overridden[#overridden + 1] = d
    end
  end
  local report = {
    compatible = counts.incompatible == 0,
    differences = json.array(differences),
    counts = counts,
    forced = opts.force and true or false,
  }
  if opts.force then
    report.overridden = overridden
  end
  return report
end

return M
