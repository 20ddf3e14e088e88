-- cpus= and cpus_soft= (parse_vcpu_affinity and parse_cpurange in xl_parse.c): cpu lists,
-- ranges, "^" exclusions, "all" and node: ranges (the last two need the host's layout).
local json = require("xlua.json")
local values = require("xlua.convert.values")

local cpus = {}

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
      for id = a, b do
        if nodes then
          local cpus = host and host.nodes and host.nodes[id]
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
cpus.cpu_set = cpu_set

return cpus
