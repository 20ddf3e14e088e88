-- cpus= and cpus_soft= (parse_vcpu_affinity and parse_cpurange in xl_parse.c): cpu lists,
-- ranges, "^" exclusions, "all" and node: ranges (the last two need the host's layout).
local json = require("xlua.json")
local values = require("xlua.convert.values")

local cpus = {}

local MAX_CPUS = 4096 -- DOM_HOST_MAX_CPUS (core/domain/dom.h): no range runs past it

-- parse_cpurange: "3", "0-3", "^2", "all", "node:1", comma separated. host = { max_cpus =,
-- nodes = { [0] = {cpus...} } } is needed for "all" and nodes, which depend on the machine.
local function cpu_set(key, text, host)
  local set = {}
  local limit = host and host.max_cpus and ((host.max_cpus + 7) // 8) * 8
  local function put(cpu, on)
    if not limit or cpu < limit then
      set[cpu] = on or nil
    end
  end
  for part in text:gmatch("[^,]+") do
    local s = part
    local negate = s:sub(1, 1) == "^"
    if negate then
      s = s:sub(2)
    end
    local nodes = false
    local rest = s:match("^nodes?:(.*)$")
    if rest then
      nodes, s = true, rest
    end
    if s == "all" then
      if negate then
        values.fail(key, text, "can't combine \"^\" and \"all\"")
      end
      if not limit then
        values.fail_msg(key, "\"all\" depends on the host's CPUs, which are not known here", "NEEDHOST")
      end
      for cpu = 0, limit - 1 do
        put(cpu, true)
      end
    else
      local a, b = s:match("^(%d+)%-(%d+)$")
      if not a then
        a = s:match("^(%d+)$")
        b = a
      end
      a, b = tonumber(a), tonumber(b)
      if not a or b < a then
        values.fail(key, text, "invalid pcpu range " .. part)
      end
      if limit and not nodes then
        b = math.min(b, limit - 1) -- the cpus past the host's are dropped anyway
      elseif b >= MAX_CPUS then
        values.fail(key, text, string.format("%s %s is past the most a host has (%d)",
          nodes and "node" or "pcpu", part, MAX_CPUS))
      end
      for id = a, b do
        if nodes then
          -- a node the host does not have is an empty one (libxl_node_to_cpumap)
          local cpus = host and host.nodes and (host.nodes[id] or {})
          if not cpus then
            values.fail_msg(key, "node " .. id .. " is not known here (NUMA nodes depend on the host)",
              "NEEDHOST")
          end
          for _, cpu in ipairs(cpus) do
            put(cpu, not negate)
          end
        else
          put(id, not negate)
        end
      end
    end
  end
  local out = {}
  for cpu in pairs(set) do
    out[#out + 1] = cpu
  end
  table.sort(out)
  return json.array(out)
end

-- parse_vcpu_affinity: a string applies to every vcpu up to max_vcpus; a list gives one
-- map per vcpu (extra items dropped) and turns off automatic NUMA placement.
function cpus.affinity(r, b_info, key, hard, host)
  local v = r.get(key)
  if v == nil then
    return
  end
  local maps = {}
  local max = b_info.max_vcpus or 0
  if type(v) == "table" then
    local list = values.list(key, v)
    for i = 1, math.min(#list, max) do
      maps[i] = cpu_set(key, values.string(key, list[i]), host)
    end
    b_info.numa_placement = "False"
  else
    local text = values.string(key, v)
    local map = cpu_set(key, text, host)
    for i = 1, max do
      maps[i] = map
    end
    if not hard then
      b_info.numa_placement = "False"
    end
  end
  if #maps > 0 then
    b_info[hard and "vcpu_hard_affinity" or "vcpu_soft_affinity"] = maps
  end
end

-- An xl.conf mask as xl's parse_cpurange leaves it: on a bad range it warns and keeps the
-- ranges before it. nil (not set) is every cpu of the host.
local function mask_set(key, text, host, limit, warn)
  if text == nil then
    return cpu_set(key, "all", host)
  end
  local parts, good = {}, json.array({})
  for part in text:gmatch("[^,]+") do
    parts[#parts + 1] = part
    local ok, set = pcall(cpu_set, key, table.concat(parts, ","), host)
    if not ok then
      if getmetatable(set) ~= values.BadValue or set.code == "NEEDHOST" then
        error(set, 0)
      end
      warn("%s: invalid pcpu range %s, the ranges after it are ignored, as xl does", key, part)
      break
    end
    good = set
  end
  local out = {}
  for _, cpu in ipairs(good) do
    if cpu < limit then
      out[#out + 1] = cpu
    end
  end
  return out
end

-- xl create's apply_global_affinity_masks, after the config is parsed: without a hard affinity
-- and with a mask that leaves a cpu out, every vcpu gets one of all the host's cpus; then each
-- vcpu's map keeps only the cpus of vm.cpumask and of its type's mask (vm.pv.cpumask for PV,
-- vm.hvm.cpumask for HVM and PVH). An empty map refuses the config, as xl exits.
function cpus.global_masks(b_info, dtype, masks, host, warn)
  local type_key = dtype == "pv" and "pv" or "hvm"
  if not masks or (masks.vm == nil and masks[type_key] == nil) then
    return
  end
  if not host or not host.max_cpus then
    values.fail_msg("vm.cpumask", "xl.conf's cpu masks depend on the host's CPUs, which are not "
      .. "known here", "NEEDHOST")
  end
  local limit = ((host.max_cpus + 7) // 8) * 8
  local vm = mask_set("vm.cpumask", masks.vm, host, limit, warn)
  local typed = mask_set("vm." .. type_key .. ".cpumask", masks[type_key], host, limit, warn)
  local maps = b_info.vcpu_hard_affinity
  if not maps and (#vm < limit or #typed < limit) then
    maps = {}
    for i = 1, b_info.max_vcpus or 0 do
      maps[i] = cpu_set("cpus", "all", host)
    end
  end
  local keep = {}
  for _, cpu in ipairs(vm) do
    keep[cpu] = 1
  end
  for _, cpu in ipairs(typed) do
    keep[cpu] = (keep[cpu] or 0) + 1
  end
  for i, map in ipairs(maps or {}) do
    local out = {}
    for _, cpu in ipairs(map) do
      if keep[cpu] == 2 and cpu < limit then
        out[#out + 1] = cpu
      end
    end
    if #out == 0 then
      values.fail_msg("vm.cpumask", "vcpu hard affinity map is empty (vcpu " .. (i - 1)
        .. ", after xl.conf's cpu masks)", "BADVALUE")
    end
    maps[i] = json.array(out)
  end
  if maps and #maps > 0 then
    b_info.vcpu_hard_affinity = maps
  end
end

cpus.cpu_set = cpu_set

return cpus
