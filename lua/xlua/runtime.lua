-- The runtime policies for a running domain's memory, vcpus and credit2 parameters (xl mem-set,
-- mem-max, vcpu-set, vcpu-pin, vcpu-list, sched-credit2): check the request against the domain
-- and the host, so a mistake is one clear line and nothing changes, then change it and keep
-- the stored config true (xlua.runtime.record). Devices are xlua.runtime.devices'.
local json = require("xlua.json")
local record = require("xlua.runtime.record")

local runtime = {}

runtime.MAX_CPUS = 4096 -- DOM_HOST_MAX_CPUS: the most cpus or vcpus the backends take

-- The live libxl config as a table (nil when it cannot be read).
function runtime.live(h, domid)
  local text = h:config(domid)
  local t = text and json.decode(text)
  return type(t) == "table" and t or nil
end

-- Log the change and refresh the stored JSON, except for Domain-0 (it has no stored config).
function runtime.changed(h, info, kind, text)
  if info.domid == 0 then
    return true
  end
  return record.changed(h, info.domid, kind, text)
end

-- xl's parse_mem_size_kb: a number and at most one unit letter (t, g, m, k, b); no unit is
-- MiB. -> KiB | nil
function runtime.mem_kb(text)
  local digits, unit = tostring(text):match("^%s*%+?(%d+)(%a?)$")
  local n = digits and math.tointeger(tonumber(digits))
  if not n then
    return nil
  end
  unit = unit:lower()
  local shift = ({ t = 30, g = 20, m = 10, [""] = 10, k = 0 })[unit]
  if shift then
    return n <= (math.maxinteger >> shift) and n << shift or nil -- no size that wraps
  elseif unit == "b" then
    return n >> 10
  end
  return nil
end

local function name(info)
  return string.format("%s (id %d)", info.name, info.domid)
end

-- The backend's refusal after what was asked, once: a backend message that says what it
-- could not do already ("cannot set the memory of Domain-0: ...") is the line as it is.
function runtime.failed(what, err, code)
  err = tostring(err)
  if err:match("^cannot ") then
    return nil, err, code
  end
  return nil, what .. ": " .. err, code
end

-- runtime.mem_set(h, info, text) -> true | nil, msg, code (xl mem-set). The target must not pass
-- the domain's maximum (b_info.max_memkb, what mem-max sets).
function runtime.mem_set(h, info, text)
  local kb = runtime.mem_kb(text)
  if not kb then
    return nil, "invalid memory size: " .. tostring(text), "BADVALUE"
  end
  local live = runtime.live(h, info.domid)
  local max = live and live.b_info and math.tointeger(live.b_info.max_memkb) or info.max_memory_kb
  if info.domid ~= 0 and max and kb > max then
    return nil, string.format("%s: a memory target of %d KiB is above its maximum of %d KiB "
      .. "(raise that first with mem-max)", name(info), kb, max), "EINVAL"
  end
  local ok, err, code = h:mem_set(info.domid, kb)
  if not ok then
    return runtime.failed(string.format("cannot set the memory of %s to %s", name(info), text),
      err, code)
  end
  return runtime.changed(h, info, "memory", string.format("mem-set: memory %d KiB -> %d KiB",
    info.memory_kb or 0, kb))
end

-- runtime.mem_max(h, info, text) -> true | nil, msg, code (xl mem-max): not below the target.
function runtime.mem_max(h, info, text)
  local kb = runtime.mem_kb(text)
  if not kb then
    return nil, "invalid memory size: " .. tostring(text), "BADVALUE"
  end
  if info.domid ~= 0 and info.memory_kb and kb < info.memory_kb then
    return nil, string.format("%s: a maximum of %d KiB is below its memory of %d KiB (lower "
      .. "that first with mem-set)", name(info), kb, info.memory_kb), "EINVAL"
  end
  local ok, err, code = h:mem_max(info.domid, kb)
  if not ok then
    return runtime.failed(string.format("cannot set the maximum memory of %s to %s", name(info),
      text), err, code)
  end
  return runtime.changed(h, info, "max_memory", string.format("mem-max: maximum memory %d KiB "
    .. "-> %d KiB", info.max_memory_kb or 0, kb))
end

-- The most vcpus the domain can have online (maxvcpus).
local function max_vcpus(h, info)
  local live = runtime.live(h, info.domid)
  return live and live.b_info and math.tointeger(live.b_info.max_vcpus) or nil
end

-- runtime.vcpu_set(h, info, text [, ignore_host]) -> true | nil, msg, code (xl vcpu-set):
-- 1..maxvcpus; more than the host's cpus only with ignore_host (xl's -i).
function runtime.vcpu_set(h, info, text, ignore_host)
  local n = math.tointeger(tonumber(tostring(text):match("^%s*%+?(%d+)")))
  if not n then
    return nil, "invalid number of vcpus: " .. tostring(text), "BADVALUE"
  elseif n == 0 then
    return nil, name(info) .. ": a domain needs at least one vcpu online, not 0", "EINVAL"
  elseif n > runtime.MAX_CPUS then
    return nil, string.format("%s: a domain has at most %d vcpus, not %s", name(info),
      runtime.MAX_CPUS, text), "EINVAL"
  end
  local max = info.domid ~= 0 and max_vcpus(h, info)
  if max and n > max then
    return nil, string.format("%s: it has at most %d vcpus (maxvcpus), not %d", name(info), max,
      n), "EINVAL"
  end
  local host = h:host()
  if not ignore_host and host and n > (info.vcpus or 0) and n > (host.max_cpus or host.cpus) then
    return nil, string.format("You are overcommitting! You have %d physical CPUs and want %d "
      .. "vCPUs! Aborting, use --ignore-host to continue", host.max_cpus or host.cpus, n), "EINVAL"
  end
  local ok, err, code = h:vcpu_set(info.domid, n)
  if not ok then
    return runtime.failed(string.format("cannot set the vcpus of %s to %d", name(info), n), err,
      code)
  end
  return runtime.changed(h, info, "vcpus", string.format("vcpu-set: vcpus online %d -> %d",
    info.vcpus or 0, n))
end

-- A signal's error (the host raises "interrupted!" or "interrupted by SIGTERM!") caught by a
-- pcall meant for bad input is raised again, so that the command ends as the signal says.
function runtime.pass_interrupt(e)
  if type(e) == "string" and (e:match("interrupted!$") or e:match("interrupted by SIG%u+!$")) then
    error(e, 0)
  end
  return e
end

-- A cpu list as xl's parse_cpurange reads it ("3", "0-3,^2", "all", "node:1"), every cpu one the
-- host has. -> list | nil, msg, code
function runtime.cpu_list(h, text)
  local host = h:host()
  local max = host and (host.max_cpus or host.cpus)
  local layout = require("xlua.domains").layout(h)
  local ok, set = pcall(require("xlua.convert.cpus").cpu_set, "cpus", text,
    (text:find("all", 1, true) or text:find("node", 1, true)) and layout or nil)
  if not ok then
    runtime.pass_interrupt(set)
    local msg = type(set) == "table" and set.message or tostring(set)
    return nil, "invalid cpu list " .. text .. ": " .. msg, "BADVALUE"
  end
  for _, cpu in ipairs(set) do
    if max and cpu >= max then
      return nil, string.format("the host has no cpu %d (it has %d: 0-%d)", cpu, max, max - 1),
        "EINVAL"
    end
  end
  return set
end

-- runtime.vcpu_pin(h, info, vcpu, hard, soft) -> true | nil, msg, code (xl vcpu-pin): vcpu a
-- number or "all", hard and soft cpu lists or "-" (as they are; soft may be nil).
function runtime.vcpu_pin(h, info, vcpu, hard, soft)
  local id = math.tointeger(tonumber(vcpu))
  if vcpu == "all" then
    id = -1
  elseif not id or id < 0 then
    return nil, "Invalid argument " .. tostring(vcpu) .. " as VCPU", "BADVALUE"
  elseif id >= runtime.MAX_CPUS then
    return nil, string.format("%s has no vcpu %s (a domain has at most %d)", name(info), vcpu,
      runtime.MAX_CPUS), "EINVAL"
  end
  local maps = {}
  for i, text in ipairs({ hard, soft or "-" }) do
    if text ~= "-" then
      local err, code
      maps[i], err, code = runtime.cpu_list(h, text)
      if not maps[i] then
        return nil, err, code
      end
      if #maps[i] == 0 then
        return nil, "an affinity needs at least one cpu: " .. text, "EINVAL"
      end
    end
  end
  local ok, err, code = h:vcpu_pin(info.domid, id, maps[1], maps[2])
  if not ok then
    return nil, string.format("Could not set affinity for vcpu `%s' of %s: %s", vcpu, name(info),
      err), code
  end
  return true
end

-- xl's print_bitmap: "all" when every cpu of the host is in, "none", else ranges "0-3,5".
function runtime.cpus_text(cpus, nr_cpus)
  local set = {}
  for _, c in ipairs(cpus) do
    set[c] = true
  end
  local parts, i = {}, 0
  while i < nr_cpus do
    if set[i] then
      local j = i
      while j + 1 < nr_cpus and set[j + 1] do
        j = j + 1
      end
      if i == 0 and j == nr_cpus - 1 then
        return "all"
      end
      parts[#parts + 1] = j > i and (i .. "-" .. j) or tostring(i)
      i = j + 1
    else
      i = i + 1
    end
  end
  return #parts == 0 and "none" or table.concat(parts, ",")
end

runtime.VCPU_HEADER = string.format("%-32s %5s %5s %5s %5s %9s %s", "Name", "ID", "VCPU", "CPU",
  "State", "Time(s)", "Affinity (Hard / Soft)")

-- runtime.vcpu_lines(h, info) -> the lines of xl vcpu-list for one domain | nil, msg, code
function runtime.vcpu_lines(h, info)
  local host = h:host()
  local nr = host and (host.max_cpus or host.cpus) or 1
  local vcpus, err, code = h:vcpu_list(info.domid)
  if not vcpus then
    return nil, err, code
  end
  local lines = {}
  for _, v in ipairs(vcpus) do
    local cpu_state
    if v.online then
      cpu_state = string.format("%5d %3s%s- ", v.cpu, v.running and "r" or "-",
        v.blocked and "b" or "-")
    else
      cpu_state = string.format("%5s %3s%sp ", "-", "-", "-")
    end
    lines[#lines + 1] = string.format("%-32s %5d %5d", info.name, info.domid, v.id) .. cpu_state
      .. string.format("%9.1f  ", v.cpu_time_ns / 1e9) .. runtime.cpus_text(v.hard, nr)
      .. " / " .. runtime.cpus_text(v.soft, nr)
  end
  return lines
end

-- runtime.sched_credit2(h, info [, set]) -> {weight, cap} | nil, msg, code (xl sched-credit2 -d,
-- with set = {weight =, cap =} to change them).
function runtime.sched_credit2(h, info, set)
  if set then
    if set.weight and (set.weight < 1 or set.weight > 65535) then
      return nil, string.format("a credit2 weight is 1 to 65535, not %d", set.weight), "EINVAL"
    end
    local max = max_vcpus(h, info) or info.vcpus or 1
    if set.cap and (set.cap < 0 or set.cap > 100 * max) then
      return nil, string.format("%s: a credit2 cap is 0 to %d (100 per vcpu), not %d", name(info),
        100 * max, set.cap), "EINVAL"
    end
  end
  local before = set and h:sched_credit2(info.domid)
  local now, err, code = h:sched_credit2(info.domid, set)
  if not now then
    return nil, string.format("cannot schedule %s: %s", name(info), err), code
  end
  if set then
    local ok
    ok, err, code = runtime.changed(h, info, "sched", string.format(
      "sched-credit2: weight %s -> %d, cap %s -> %d", before and before.weight or "?", now.weight,
      before and before.cap or "?", now.cap))
    if not ok then
      return nil, err, code
    end
  end
  return now
end

return runtime
