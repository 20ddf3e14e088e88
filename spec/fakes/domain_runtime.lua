-- The fake domain handle's runtime changes (mem_set, vcpu_set, device_add, ...), as the sim
-- models them: each keeps the domain's JSON (what h:config returns) as libxl would report it.
-- spec/fakes/domain.lua installs them on its Handle with on_domain (so fake.fail works).
local json = require("xlua.json")

local runtime = {}

local function config(d)
  local cfg = d.json and json.decode(d.json) or {}
  cfg.b_info = cfg.b_info or {}
  return cfg
end

local function keep(d, cfg)
  d.json = json.encode(cfg)
end

local ARRAYS = { disk = "disks", nic = "nics", pci = "pcidevs" }

local function bdf(p)
  return string.format("%04x:%02x:%02x.%x", p.domain or 0, p.bus or 0, p.dev or 0, p.func or 0)
end

local function id_of(kind, dev)
  if kind == "disk" then
    return dev.vdev
  elseif kind == "nic" then
    return dev.devid and tostring(math.tointeger(dev.devid))
  end
  return bdf(dev)
end

local function find(kind, list, id)
  for i, dev in ipairs(list) do
    if id_of(kind, dev) == id or (kind == "nic" and dev.mac == id) then
      return i
    end
  end
  return nil
end

function runtime.mem_set(d, kb)
  if kb > d.max_memory_kb then
    return nil, "above the maximum", "EINVAL"
  end
  local cfg = config(d)
  cfg.b_info.target_memkb = kb
  keep(d, cfg)
  d.memory_kb = kb
  return true
end

function runtime.mem_max(d, kb)
  if kb < d.memory_kb then
    return nil, "below the target", "EINVAL"
  end
  local cfg = config(d)
  cfg.b_info.max_memkb = kb
  keep(d, cfg)
  d.max_memory_kb = kb
  return true
end

function runtime.vcpu_set(d, n)
  local cfg = config(d)
  local max = math.tointeger(cfg.b_info.max_vcpus) or d.vcpus
  if n < 1 or n > max then
    return nil, "not 1 to " .. max .. " vcpus", "EINVAL"
  end
  local avail = {}
  for i = 0, n - 1 do
    avail[#avail + 1] = i
  end
  cfg.b_info.avail_vcpus = avail
  keep(d, cfg)
  d.vcpus = n
  return true
end

function runtime.vcpu_pin(d, vcpu, hard, soft)
  d.affinity = d.affinity or {}
  for v = 0, (d.vcpus or 1) - 1 do
    if vcpu == -1 or vcpu == v then
      local a = d.affinity[v] or {}
      a.hard, a.soft = hard or a.hard, soft or a.soft
      d.affinity[v] = a
    end
  end
  return true
end

function runtime.vcpu_list(d)
  local out = {}
  for v = 0, (d.vcpus or 1) - 1 do
    local a = (d.affinity or {})[v] or {}
    out[#out + 1] = { id = v, online = true, running = d.state == "running", blocked = false,
      cpu = 0, cpu_time_ns = 0, hard = a.hard or { 0 }, soft = a.soft or { 0 } }
  end
  return out
end

function runtime.device_add(d, kind, text)
  local dev = json.decode(text)
  local cfg = config(d)
  local list = cfg[ARRAYS[kind]] or {}
  if kind == "nic" and dev.devid == nil then
    dev.devid = #list
  end
  if find(kind, list, id_of(kind, dev)) then
    return nil, "already there", "EXISTS"
  end
  list[#list + 1] = dev
  cfg[ARRAYS[kind]] = list
  keep(d, cfg)
  return true
end

function runtime.device_remove(d, kind, id)
  local cfg = config(d)
  local list = cfg[ARRAYS[kind]] or {}
  local at = find(kind, list, id)
  if not at then
    return nil, "no such " .. kind, "ENODEV"
  end
  table.remove(list, at)
  cfg[ARRAYS[kind]] = #list > 0 and list or nil
  keep(d, cfg)
  return true
end

function runtime.device_list(d, kind)
  local out = {}
  for i, dev in ipairs(config(d)[ARRAYS[kind]] or {}) do
    out[i] = { device = dev, info = kind ~= "pci" and { devid = i - 1, backend_id = 0,
      frontend_id = d.domid, state = 4, evtch = 0, rref = 0, backend = "" } or nil }
  end
  return json.encode(json.array(out))
end

function runtime.cd_insert(d, text)
  local disk = json.decode(text)
  local cfg = config(d)
  local at = find("disk", cfg.disks or {}, disk.vdev)
  if not at then
    return nil, "no disk " .. tostring(disk.vdev), "ENODEV"
  end
  cfg.disks[at].pdev_path, cfg.disks[at].format = disk.pdev_path, disk.format
  keep(d, cfg)
  return true
end

function runtime.sched_credit2(d, set)
  local cfg = config(d)
  local p = cfg.b_info.sched_params or {}
  if set then
    p.sched, p.weight, p.cap = "credit2", set.weight or p.weight or 256, set.cap or p.cap or 0
    cfg.b_info.sched_params = p
    keep(d, cfg)
  end
  return { weight = math.tointeger(p.weight) or 256, cap = math.tointeger(p.cap) or 0 }
end

-- Install every method on Handle through wrap (the fake's on_domain).
function runtime.install(Handle, wrap)
  for name, body in pairs(runtime) do
    if name ~= "install" then
      Handle[name] = wrap(name, body)
    end
  end
end

return runtime
