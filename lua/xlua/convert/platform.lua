-- Keys about the machine the guest sees rather than its devices: passthrough of I/O ports,
-- IRQs and memory ranges, the virtual NUMA layout, the CPUID policy (through libxl's own
-- parsers), and the Arm/TEE enums (parse_config_data, xl_parse.c, Xen 4.17).
local json = require("xlua.json")
local values = require("xlua.convert.values")
local vdevs = require("xlua.convert.vdevs")

local platform = {}

local UINT32_MAX = 0xffffffff

-- The items of ioports/irqs/iomem: a nested list where an item belongs makes xl exit
-- ("Unable to get element").
local function items(r, key)
  local list = r.list(key)
  if not list then
    return nil
  end
  local out = {}
  for i, item in ipairs(list) do
    if type(item) == "table" or type(item) == "boolean" then
      values.fail(key, item, "item " .. i .. " should be a single value")
    end
    out[i] = values.string(key, item)
  end
  return out
end

-- ioports = [ "3f8-3ff", "2f8" ]: hex, strtoul(.., 16).
function platform.ioports(r)
  local list = items(r, "ioports")
  if not list then
    return nil
  end
  local out = {}
  for i, s in ipairs(list) do
    local first, rest, ok = values.strtoul(s, 16)
    if not ok then
      values.fail("ioports", s, "not a hex port number")
    end
    if first < 0 or first >= UINT32_MAX then
      values.fail("ioports", s, "port too big")
    end
    local last = first
    if rest:sub(1, 1) == "-" then
      local tail, after, ok2 = values.strtoul(rest:sub(2), 16)
      if not ok2 or after ~= "" then
        values.fail("ioports", s, "not a hex port range")
      end
      if tail < 0 or tail >= UINT32_MAX then
        values.fail("ioports", s, "port too big")
      end
      last = tail
    elseif rest ~= "" then
      r.warn("ioports: invalid argument %s (xl reads the number before `%s' and carries on)",
        values.show(s), rest)
    end
    -- xl does not refuse last < first: number wraps as a uint32.
    out[i] = { first = first ~= 0 and first or nil, number = (last - first + 1) & UINT32_MAX }
    if out[i].number == 0 then
      out[i].number = nil
    end
  end
  return out
end

-- irqs = [ 4, "7" ]: decimal.
function platform.irqs(r)
  local list = items(r, "irqs")
  if not list then
    return nil
  end
  local out = {}
  for i, s in ipairs(list) do
    local n, rest, ok = values.strtoul(s, 10)
    if not ok or rest ~= "" then
      values.fail("irqs", s, "not a decimal IRQ number")
    end
    if n < 0 or n >= UINT32_MAX then
      values.fail("irqs", s, "IRQ too big")
    end
    out[i] = n
  end
  return json.array(out)
end

-- iomem = [ "START,NUMBER[@GFN]" ]: hex page numbers (sscanf "%lx,%lx@%lx").
function platform.iomem(r)
  local list = items(r, "iomem")
  if not list then
    return nil
  end
  local out = {}
  for i, s in ipairs(list) do
    local start, rest, ok = values.strtoul(s, 16)
    local number, rest2, ok2
    if ok and rest:sub(1, 1) == "," then
      number, rest2, ok2 = values.strtoul(rest:sub(2), 16)
    end
    if not ok2 then
      values.fail("iomem", s, "expected START,NUMBER[@GFN] in hex")
    end
    local range = { start = start ~= 0 and start or nil, number = number ~= 0 and number or nil }
    if rest2 ~= "" then
      local gfn, rest3, ok3 = values.strtoul(rest2:sub(2), 16)
      if rest2:sub(1, 1) ~= "@" or not ok3 or rest3 ~= "" then
        values.fail("iomem", s, "expected START,NUMBER[@GFN] in hex")
      end
      range.gfn = gfn ~= -1 and gfn or nil -- ~0 is LIBXL_INVALID_GFN, the default
    end
    out[i] = range
  end
  return out
end

---------------------------------------------------------------- vnuma

-- parse_ulong: strtoul base 10; no digits at all makes xl exit.
local function ulong(spec, text)
  local n, _, ok = values.strtoul(text, 10)
  if not ok or n == math.maxinteger then
    values.fail("vnuma", spec, "failed to convert `" .. text .. "' to a number")
  end
  return n
end

-- parse_range as vnuma's vcpus= uses it (its failures are not checked: a bad range adds
-- what strtoul read).
local function range(text)
  local a, rest = values.strtoul(text, 10)
  local b = a
  if rest:sub(1, 1) == "-" then
    local e, _, ok = values.strtoul(rest:sub(2), 10)
    if ok then
      b = e
    end
  end
  return a, b
end

-- vnuma = [ [ "pnode=0", "size=512", "vcpus=0-1", "vdistances=10,20" ], ... ]
-- host = { nr_nodes =, online_cpus =, max_cpus = } from the backend; the pnode check and the
-- "more vcpus than pcpus" check need it (NEEDHOST without).
function platform.vnuma(r, b_info, maxvcpus_given, maxmem_given, host)
  local v = r.get("vnuma")
  if type(v) ~= "table" or #v == 0 then
    return -- xl reads it with dont_warn: a single value is silently nothing
  end
  local list = values.list("vnuma", v)
  local n = #list
  local nodes, vcpu_sets = {}, {}
  local total_vcpus, total_memkb = 0, 0
  -- The vcpus bitmaps have max_vcpus bits (rounded up to bytes), or the host's cpu count.
  local width = maxvcpus_given and b_info.max_vcpus or (host and host.max_cpus)
  if not width then
    values.fail_msg("vnuma", "without maxvcpus=, the vcpu bitmaps depend on the host's CPUs, "
      .. "which are not known here", "NEEDHOST")
  end
  width = ((width + 7) // 8) * 8
  for i, spec in ipairs(list) do
    if type(spec) ~= "table" then
      values.fail("vnuma", spec, "each virtual node is a list of key=value strings")
    end
    local node = { distances = {} }
    for d = 1, n do
      node.distances[d] = 0
    end
    local set = {}
    for _, item in ipairs(spec) do
      if type(item) ~= "table" then
        local text = values.string("vnuma", item)
        local k, val = text:match("^%s*([^=]-)%s*=+%s*([^=]-)%s*$")
        if not k then
          k, val = text:match("^%s*([^=]-)%s*=+%s*([^=]-)%s*=")
        end
        if not k or k == "" or val == "" then
          values.fail("vnuma", text, "failed to split into key=value")
        end
        if k == "pnode" then
          local p = ulong(text, val)
          if not host or not host.nr_nodes then
            values.fail_msg("vnuma", "pnode= is checked against the host's NUMA nodes, which "
              .. "are not known here", "NEEDHOST")
          end
          if p >= host.nr_nodes then
            values.fail("vnuma", text, "invalid pnode number (the host has " .. host.nr_nodes
              .. " nodes)")
          end
          node.pnode = p ~= 0 and p or nil
          b_info.numa_placement = "False"
        elseif k == "size" then
          node.memkb = ulong(text, val) << 10
          total_memkb = total_memkb + node.memkb
        elseif k == "vcpus" then
          for _, part in ipairs(vdevs.tokens(val, ",")) do
            local a, b = range(part)
            for cpu = a, b do
              if cpu >= 0 and cpu < width then
                set[cpu] = true
              end
              total_vcpus = total_vcpus + 1
            end
          end
        elseif k == "vdistances" then
          local ds = vdevs.tokens(val, ",")
          if #ds > n then
            values.fail("vnuma", text, "more distances than virtual nodes")
          end
          for d, s in ipairs(ds) do
            node.distances[d] = ulong(text, s) & 0xffffffff
          end
        end
      end
    end
    nodes[i], vcpu_sets[i] = node, set
  end
  if maxvcpus_given then
    if b_info.max_vcpus ~= total_vcpus then
      values.fail_msg("vnuma", "vnuma vcpus (" .. total_vcpus .. ") and maxvcpus= ("
        .. b_info.max_vcpus .. ") mismatch")
    end
  else
    if not host or not host.online_cpus then
      values.fail_msg("vnuma", "without maxvcpus=, the vcpu count is checked against the "
        .. "host's CPUs, which are not known here", "NEEDHOST")
    end
    if host.online_cpus < total_vcpus then
      values.fail_msg("vnuma", "vnuma specifies more vcpus than pcpus; use maxvcpus= to "
        .. "override this check")
    end
    b_info.max_vcpus = total_vcpus
  end
  if maxmem_given and b_info.max_memkb ~= total_memkb then
    values.fail_msg("vnuma", "maxmem and vnuma memory size mismatch")
  end
  b_info.max_memkb = total_memkb
  for i, node in ipairs(nodes) do
    local bits = {}
    for cpu in pairs(vcpu_sets[i]) do
      bits[#bits + 1] = cpu
    end
    table.sort(bits)
    node.vcpus = json.array(bits)
    node.distances = json.array(node.distances)
  end
  b_info.vnuma_nodes = nodes
end

---------------------------------------------------------------- cpuid

local XEND_ERRORS = { "illegal leaf number", "illegal subleaf number", "missing colon",
  "invalid register name (must be e[abcd]x)", "policy string must be exactly 32 characters long" }
local FLAG_ERRORS = { "missing \"=\" in key=value", "unknown CPUID flag name",
  "illegal CPUID value (must be: [0|1|x|k|s])" }

-- cpuid = "host,flag=v,..." (libxl_cpuid_parse_config per flag) or a list of xend-style
-- "leaf[,subleaf]:reg=bits,..." (libxl_cpuid_parse_config_xend per item). A bad flag or item
-- is reported and skipped, as xl does; the policy is what libxl's JSON generator prints.
function platform.cpuid(r, b_info)
  local v = r.get("cpuid")
  if v == nil then
    return
  end
  local xlutil = require("xlua.xlutil")
  local syntax, list
  if type(v) == "table" then
    syntax, list = "xend", {}
    for i, item in ipairs(values.list("cpuid", v)) do
      if type(item) == "table" then
        break
      end
      list[i] = values.string("cpuid", item)
    end
  else
    local text = values.string("cpuid", v)
    local words = vdevs.tokens(text, ",")
    if #words == 0 then
      return
    end
    if text:match("^[^,]*") ~= "host" then
      r.warn("cpuid: %s: the first word must be \"host\"; the policy is ignored, as xl does",
        values.show(text))
      return
    end
    syntax, list = "flags", {}
    for p in text:gmatch("[^,]+") do
      list[#list + 1] = p
    end
    table.remove(list, 1)
  end
  local text, errors = xlutil.cpuid(syntax, list)
  if not text then
    values.fail("cpuid", v, errors)
  end
  local policy = json.decode(text).cpuid or {}
  -- cjson gives floats and unmarked arrays: libxl's numbers are integers.
  local function fix(x)
    if type(x) == "number" then
      return math.tointeger(x) or x
    elseif type(x) == "table" then
      local out = {}
      for k, y in pairs(x) do
        out[k] = fix(y)
      end
      return out
    end
    return x
  end
  policy = fix(policy)
  for _, name in ipairs({ "cpuid", "msr" }) do
    if policy[name] then
      policy[name] = json.array(policy[name])
    end
  end
  for _, e in ipairs(errors) do
    local names = syntax == "xend" and XEND_ERRORS or FLAG_ERRORS
    r.warn("cpuid: %s: error #%d: %s (skipped, as xl does)", values.show(e.item), e.code,
      names[e.code] or "unknown error")
  end
  if policy.cpuid or policy.msr then
    b_info.cpuid = policy
  end
end

---------------------------------------------------------------- arch enums

function platform.arch_vuart(r, b_info)
  local vuart = r.string("vuart")
  if vuart then
    local t = values.enum("vuart", vuart, { "unknown", "sbsa_uart" })
    b_info.arch_arm.vuart = t ~= "unknown" and t or nil
  end
end

-- vuart (libxl_vuart_type), gic_version and tee: xl exits on an unknown name. gic_version and
-- tee are read with dont_warn, so a list there is silently nothing.
function platform.arch(r, b_info)
  for key, spec in pairs({ gic_version = { "default", "v2", "v3" }, tee = { "none", "optee" } }) do
    local v = r.get(key)
    if v ~= nil and type(v) ~= "table" then
      local t = values.enum(key, v, spec)
      local default = spec[1]
      if key == "gic_version" then
        b_info.arch_arm.gic_version = t ~= default and t or nil
      else
        b_info.tee = t ~= default and t or nil
      end
    end
  end
end

return platform
