-- libxl's domain config JSON rendered back as an xl.cfg a person can read and edit: the
-- reverse of xlua.convert, so that converting the rendering gives the same config again.
-- Fields that xl.cfg has no key for (most are defaults libxl filled in) are listed in
-- comments at the end rather than dropped.
local convert = require("xlua.convert")

local xlcfg = {}

local function quote(s)
  return '"' .. s:gsub('[\\"\n\t]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\t"] = "\\t" })
    .. '"'
end
xlcfg.quote = quote

local function atom(v)
  if type(v) == "number" then
    local n = math.tointeger(v)
    return n and string.format("%d", n) or tostring(v)
  end
  return quote(tostring(v))
end

local function list(items)
  if #items == 0 then
    return "[ ]"
  end
  local parts = {}
  for i, v in ipairs(items) do
    parts[i] = atom(v)
  end
  local one = "[ " .. table.concat(parts, ", ") .. " ]"
  if #one <= 72 and #items <= 3 then
    return one
  end
  return "[\n    " .. table.concat(parts, ",\n    ") .. ",\n]"
end

local function deep_copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = deep_copy(x)
  end
  return out
end

-- "0-3,6" for a sorted list of cpu numbers.
local function ranges(cpus)
  local parts, i = {}, 1
  while i <= #cpus do
    local j = i
    while j < #cpus and cpus[j + 1] == cpus[j] + 1 do
      j = j + 1
    end
    parts[#parts + 1] = j > i and (cpus[i] .. "-" .. cpus[j]) or tostring(cpus[i])
    i = j + 1
  end
  return table.concat(parts, ",")
end
xlcfg.ranges = ranges

local function same_list(a, b)
  if #a ~= #b then
    return false
  end
  for i = 1, #a do
    if a[i] ~= b[i] then
      return false
    end
  end
  return true
end

local function is_prefix_bitmap(map)
  for i, v in ipairs(map) do
    if v ~= i - 1 then
      return false
    end
  end
  return true
end

local function bool01(defbool)
  return defbool == "True" and 1 or 0
end

-- The renderer's state: the lines so far and what is left of the config.
local function new_out(config)
  local o = { lines = {}, rest = deep_copy(config) }
  function o.add(name, text)
    o.lines[#o.lines + 1] = name .. " = " .. text
  end
  function o.blank()
    if #o.lines > 0 and o.lines[#o.lines] ~= "" then
      o.lines[#o.lines + 1] = ""
    end
  end
  -- Take a field out of the rest (it has been rendered) and return its value.
  function o.take(...)
    local path = { ... }
    local t = o.rest
    for i = 1, #path - 1 do
      t = type(t) == "table" and t[path[i]] or nil
    end
    if type(t) ~= "table" then
      return nil
    end
    local v = t[path[#path]]
    t[path[#path]] = nil
    return v
  end
  function o.peek(...)
    local t = o.rest
    for _, k in ipairs({ ... }) do
      t = type(t) == "table" and t[k] or nil
    end
    return t
  end
  return o
end

-- Simple fields: the xl key, how to render it. kind: "string", "int", "defbool",
-- "memkb" (KiB -> MiB), "strlist".
local function field(o, key, kind, ...)
  local v = o.peek(...)
  if v == nil then
    return
  end
  if kind == "memkb" then
    v = math.tointeger(v)
    if not v or v % 1024 ~= 0 then
      return -- not a whole MiB: left for the comments
    end
    o.add(key, atom(v // 1024))
  elseif kind == "defbool" then
    if v ~= "True" and v ~= "False" then
      return
    end
    o.add(key, atom(bool01(v)))
  elseif kind == "strlist" then
    o.add(key, list(v))
  else
    o.add(key, atom(v))
  end
  o.take(...)
end

local REVERSE_ACTIONS = {}
for xl, json in pairs(convert.ACTIONS) do
  REVERSE_ACTIONS[json] = xl
end

local function render_affinity(o, b_info)
  local max = b_info.max_vcpus or 0
  local numa_off = b_info.numa_placement == "False"
  local soft = o.peek("b_info", "vcpu_soft_affinity")
  for _, which in ipairs({ "vcpu_hard_affinity", "vcpu_soft_affinity" }) do
    local maps = o.peek("b_info", which)
    local key = which == "vcpu_hard_affinity" and "cpus" or "cpus_soft"
    if type(maps) == "table" and #maps > 0 then
      local uniform = #maps == max
      for i = 2, #maps do
        uniform = uniform and same_list(maps[i], maps[1])
      end
      -- A list always turns NUMA placement off; a uniform string does so only for soft.
      local as_string = uniform and (which == "vcpu_soft_affinity" or not numa_off or soft)
      if as_string then
        o.add(key, quote(ranges(maps[1])))
      else
        local items = {}
        for i, m in ipairs(maps) do
          items[i] = ranges(m)
        end
        o.add(key, list(items))
      end
      o.take("b_info", which)
      if numa_off and (not as_string or which == "vcpu_soft_affinity") then
        o.take("b_info", "numa_placement")
      end
    end
  end
end

local function pci_spec(p, rdm_default)
  local parts = {}
  if p.name and not p.bus and not p.dev and not p.func and not p.domain then
    parts[1] = "name=" .. p.name
  else
    local mask = p.vfunc_mask or 0
    local bdf = string.format("%04x:%02x:%02x.", p.domain or 0, p.bus or 0, p.dev or 0)
    if mask == 0xffffffff then
      bdf = bdf .. "*"
    else
      bdf = bdf .. string.format("%x", p.func or 0)
    end
    if p.vdevfn and p.vdevfn ~= 0 then
      bdf = bdf .. string.format("@%x", p.vdevfn >> 3)
    end
    parts[1] = bdf
    if p.name then
      return nil -- both a BDF and a name: xl refuses that combination
    end
    if mask ~= 1 and mask ~= 0xffffffff then
      return nil
    end
    if p.vdevfn and p.vdevfn & 7 ~= 0 then
      return nil
    end
  end
  for _, k in ipairs({ "msitranslate", "power_mgmt", "permissive", "seize" }) do
    if p[k] then
      parts[#parts + 1] = k .. "=1"
    end
  end
  if p.rdm_policy ~= rdm_default then
    if not p.rdm_policy then
      return nil
    end
    parts[#parts + 1] = "rdm_policy=" .. p.rdm_policy
  end
  return table.concat(parts, ",")
end

local DISK_RENDERED = {
  pdev_path = true, vdev = true, format = true, readwrite = true, is_cdrom = true,
  removable = true, backend = true, backend_domname = true, script = true, direct_io_safe = true,
  discard_enable = true, specification = true, backend_domid = true, colo_enable = true,
  colo_host = true, colo_port = true, colo_export = true, active_disk = true, hidden_disk = true,
}

local function disk_spec(d)
  for k in pairs(d) do
    if not DISK_RENDERED[k] then -- anything else is left for the comments
      return nil
    end
  end
  if (d.removable == 1) ~= (d.is_cdrom == 1) or not d.vdev then
    return nil
  end
  if d.is_cdrom == 1 and d.readwrite == 1 then
    return nil
  end
  local parts = {}
  local function add(s)
    parts[#parts + 1] = s
  end
  add("format=" .. (d.format or "raw"))
  if d.format == nil then
    return nil -- xlu_disk_parse always sets a format
  end
  add("vdev=" .. d.vdev)
  add("access=" .. (d.readwrite == 1 and "rw" or "ro"))
  if d.is_cdrom == 1 then
    add("devtype=cdrom")
  end
  if d.backend then
    add("backendtype=" .. d.backend)
  end
  if d.backend_domname then
    add("backend=" .. d.backend_domname)
  end
  if d.specification then
    add("specification=" .. d.specification)
  end
  if d.script then
    add("script=" .. d.script)
  end
  if d.direct_io_safe then
    add("direct-io-safe")
  end
  if d.discard_enable then
    add(d.discard_enable == "True" and "discard" or "no-discard")
  end
  if d.colo_enable then
    add(d.colo_enable == "True" and "colo" or "no-colo")
  end
  for _, k in ipairs({ "colo_host", "colo_port", "colo_export", "active_disk", "hidden_disk" }) do
    if d[k] then
      add(k:gsub("_", "-") .. "=" .. d[k])
    end
  end
  -- (disk trusted/untrusted is not in the installed 4.17 libxlutil's disk syntax, so a
  -- disk with it is left for the comments)
  if d.backend_domid and d.backend_domid ~= 0 then
    return nil
  end
  for _, p in ipairs(parts) do
    if p:find(",", 1, true) then
      return nil
    end
  end
  if d.pdev_path then
    add("target=" .. d.pdev_path) -- last: target= takes the rest of the spec
  end
  return table.concat(parts, ", ")
end

-- A rate as xl's "<bytes>B/s@<usecs>us", the bytes rounded so libxlutil gives back the
-- same bytes per interval.
local function rate_spec(bpi, usecs)
  if usecs <= 0 or bpi < 0 then
    return nil
  end
  local bps = (bpi * 1000000 + usecs - 1) // usecs
  if bps == 0 or bps > 0xffffffff then
    return nil
  end
  if (bps * usecs) // 1000000 ~= bpi then
    return nil
  end
  return string.format("%dB/s@%dus", bps, usecs)
end

local NIC_KEYS = {
  { "mac", "mac" }, { "bridge", "bridge" }, { "ip", "ip" }, { "script", "script" },
  { "model", "model" }, { "ifname", "vifname" }, { "backend_domname", "backend" },
  { "gatewaydev", "gatewaydev" }, { "coloft_forwarddev", "forwarddev" },
}

local function nic_spec(n, index)
  local parts = {}
  local left = {}
  for k, v in pairs(n) do
    left[k] = v
  end
  local function add(s)
    parts[#parts + 1] = s
  end
  for _, pair in ipairs(NIC_KEYS) do
    if n[pair[1]] then
      add(pair[2] .. "=" .. n[pair[1]])
      left[pair[1]] = nil
    end
  end
  if n.nictype then
    if n.nictype ~= "vif" and n.nictype ~= "vif_ioemu" then
      return nil
    end
    add("type=" .. (n.nictype == "vif" and "vif" or "ioemu"))
    left.nictype = nil
  end
  if n.rate_bytes_per_interval or n.rate_interval_usecs then
    local rate = rate_spec(n.rate_bytes_per_interval or 0, n.rate_interval_usecs or 0)
    if not rate then
      return nil
    end
    add("rate=" .. rate)
    left.rate_bytes_per_interval, left.rate_interval_usecs = nil, nil
  end
  if n.mtu then
    add("mtu=" .. n.mtu)
    left.mtu = nil
  end
  if n.trusted then
    add(n.trusted == "True" and "trusted" or "untrusted")
    left.trusted = nil
  end
  for k, v in pairs(n) do
    if k:match("^colo_") and type(v) == "string" then
      add(k .. "=" .. v)
      left[k] = nil
    end
  end
  if n.devid ~= index then
    if not n.devid then
      return nil
    end
    add("devid=" .. n.devid)
  end
  left.devid = nil
  if next(left) ~= nil then
    return nil
  end
  for _, p in ipairs(parts) do
    if p:find(",", 1, true) then
      return nil
    end
  end
  return table.concat(parts, ", ")
end

local function vfb_spec(v, index)
  if v.devid ~= index then
    return nil
  end
  local parts = {}
  local function add(s)
    parts[#parts + 1] = s
  end
  local vnc, sdl = v.vnc or {}, v.sdl or {}
  for k in pairs(v) do
    if k ~= "devid" and k ~= "vnc" and k ~= "sdl" and k ~= "keymap" then
      return nil
    end
  end
  if vnc.enable then add("vnc=" .. bool01(vnc.enable)) end
  if vnc.listen then add("vnclisten=" .. vnc.listen) end
  if vnc.passwd then add("vncpasswd=" .. vnc.passwd) end
  if vnc.display then add("vncdisplay=" .. vnc.display) end
  if vnc.findunused then add("vncunused=" .. bool01(vnc.findunused)) end
  if v.keymap then add("keymap=" .. v.keymap) end
  if sdl.enable then add("sdl=" .. bool01(sdl.enable)) end
  if sdl.opengl then add("opengl=" .. bool01(sdl.opengl)) end
  if sdl.display then add("display=" .. sdl.display) end
  if sdl.xauthority then add("xauthority=" .. sdl.xauthority) end
  for _, p in ipairs(parts) do
    if p:find(",", 1, true) or not p:find("=", 1, true) then
      return nil
    end
  end
  return table.concat(parts, ", ")
end

-- Render each item with spec(item, index); all or nothing, so a list is never half-rendered.
local function device_list(o, key, field_name, spec)
  local items = o.peek(field_name)
  if type(items) ~= "table" or #items == 0 then
    return
  end
  local specs = {}
  for i, item in ipairs(items) do
    specs[i] = spec(item, i - 1)
    if not specs[i] then
      return
    end
  end
  o.add(key, list(specs))
  o.take(field_name)
end

local function leftovers(prefix, v, out)
  if type(v) ~= "table" then
    out[#out + 1] = prefix .. " = " .. require("xlua.json").encode(v)
    return
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  local is_array = #v > 0
  if is_array and #keys == #v then
    local all_atoms = true
    for _, x in ipairs(v) do
      all_atoms = all_atoms and type(x) ~= "table"
    end
    if all_atoms then
      out[#out + 1] = prefix .. " = " .. require("xlua.json").encode(v)
      return
    end
  end
  for _, k in ipairs(keys) do
    local name = type(k) == "number" and (prefix .. "[" .. (k - 1) .. "]") or
      (prefix == "" and k or prefix .. "." .. k)
    leftovers(name, v[k], out)
  end
end

-- xlcfg.render(config) -> text: an xl.cfg for a libxl_domain_config table.
function xlcfg.render(config)
  if type(config) ~= "table" then
    error("bad argument #1 to 'render' (table expected, got " .. type(config) .. ")", 2)
  end
  local o = new_out(config)
  local c_info = config.c_info or {}
  local b_info = config.b_info or {}
  local dtype = c_info.type
  local tkey = dtype and ("type." .. dtype)
  local t = b_info[tkey] or {}

  field(o, "name", "string", "c_info", "name")
  field(o, "uuid", "string", "c_info", "uuid")
  field(o, "type", "string", "c_info", "type")
  if c_info.ssid_label and b_info.exec_ssid_label then
    field(o, "init_seclabel", "string", "c_info", "ssid_label")
  else
    field(o, "seclabel", "string", "c_info", "ssid_label")
  end
  field(o, "seclabel", "string", "b_info", "exec_ssid_label")
  field(o, "pool", "string", "c_info", "pool_name")
  o.blank()

  field(o, "memory", "memkb", "b_info", "target_memkb")
  if b_info.max_memkb ~= b_info.target_memkb or o.peek("b_info", "target_memkb") then
    field(o, "maxmem", "memkb", "b_info", "max_memkb")
  else
    o.take("b_info", "max_memkb")
  end
  local avail = b_info.avail_vcpus
  local vcpus = 0
  if type(avail) == "table" and is_prefix_bitmap(avail) then
    vcpus = #avail
    if vcpus > 0 then
      o.add("vcpus", atom(vcpus))
    end
    o.take("b_info", "avail_vcpus")
  end
  if b_info.max_vcpus and b_info.max_vcpus ~= vcpus then
    field(o, "maxvcpus", "string", "b_info", "max_vcpus")
  elseif b_info.max_vcpus == vcpus then
    o.take("b_info", "max_vcpus")
  end
  render_affinity(o, b_info)
  local sched_keys = { weight = "cpu_weight", cap = "cap", period = "period", slice = "slice",
    latency = "latency", extratime = "extratime" }
  for _, f in ipairs({ "weight", "cap", "period", "slice", "latency", "extratime" }) do
    field(o, sched_keys[f], "string", "b_info", "sched_params", f)
  end
  o.blank()

  field(o, "kernel", "string", "b_info", "kernel")
  field(o, "ramdisk", "string", "b_info", "ramdisk")
  field(o, "cmdline", "string", "b_info", "cmdline")
  field(o, "device_tree", "string", "b_info", "device_tree")
  field(o, "bootloader", "string", "b_info", "bootloader")
  field(o, "bootloader_args", "strlist", "b_info", "bootloader_args")
  if dtype == "pvh" then
    field(o, "pvshim", "defbool", "b_info", tkey, "pvshim")
    field(o, "pvshim_path", "string", "b_info", tkey, "pvshim_path")
    field(o, "pvshim_cmdline", "string", "b_info", tkey, "pvshim_cmdline")
    field(o, "pvshim_extra", "string", "b_info", tkey, "pvshim_extra")
  elseif dtype == "pv" then
    field(o, "e820_host", "defbool", "b_info", tkey, "e820_host")
  end
  o.blank()

  local defaults = { on_poweroff = "destroy", on_reboot = "restart", on_watchdog = "destroy",
    on_crash = "destroy", on_soft_reset = "soft_reset" }
  for _, key in ipairs({ "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset" }) do
    local action = config[key] or "destroy"
    local xl = REVERSE_ACTIONS[action]
    if xl and (action ~= defaults[key] or key == "on_poweroff" or key == "on_reboot"
      or key == "on_crash") then
      o.add(key, quote(xl))
    end
    if xl then
      o.take(key)
    end
  end
  o.blank()

  field(o, "hap", "defbool", "c_info", "hap")
  field(o, "oos", "defbool", "c_info", "oos")
  field(o, "driver_domain", "defbool", "c_info", "driver_domain")
  field(o, "passthrough", "string", "c_info", "passthrough")
  field(o, "xend_suspend_evtchn_compat", "defbool", "c_info", "xend_suspend_evtchn_compat")
  field(o, "acpi", "defbool", "b_info", "acpi")
  field(o, "apic", "defbool", "b_info", "apic")
  field(o, "localtime", "defbool", "b_info", "localtime")
  field(o, "nomigrate", "defbool", "b_info", "disable_migrate")
  field(o, "nestedhvm", "defbool", "b_info", "nested_hvm")
  field(o, "dm_restrict", "defbool", "b_info", "dm_restrict")
  field(o, "vpmu", "defbool", "b_info", "vpmu")
  field(o, "msr_relaxed", "defbool", "b_info", "arch_x86", "msr_relaxed")
  field(o, "shadow_memory", "memkb", "b_info", "shadow_memkb")
  field(o, "videoram", "memkb", "b_info", "video_memkb")
  field(o, "tsc_mode", "string", "b_info", "tsc_mode")
  field(o, "timer_mode", "string", "b_info", "timer_mode")
  field(o, "altp2m", "string", "b_info", "altp2m")
  field(o, "vmtrace_buf_kb", "string", "b_info", "vmtrace_buf_kb")
  field(o, "rtc_timeoffset", "string", "b_info", "rtc_timeoffset")
  field(o, "max_event_channels", "string", "b_info", "event_channels")
  for _, k in ipairs({ "max_grant_frames", "max_maptrack_frames", "max_grant_version" }) do
    field(o, k, "string", "b_info", k)
  end
  local dmv = b_info.device_model_version
  if dmv == "qemu_xen" or dmv == "qemu_xen_traditional" then
    o.add("device_model_version", quote(dmv:gsub("_", "-")))
    o.take("b_info", "device_model_version")
  end
  field(o, "device_model_override", "string", "b_info", "device_model")
  field(o, "device_model_stubdomain_override", "defbool", "b_info", "device_model_stubdomain")
  field(o, "device_model_stubdomain_seclabel", "string", "b_info", "device_model_ssid_label")
  field(o, "device_model_user", "string", "b_info", "device_model_user")
  field(o, "stubdomain_kernel", "string", "b_info", "stubdomain_kernel")
  field(o, "stubdomain_cmdline", "string", "b_info", "stubdomain_cmdline")
  field(o, "stubdomain_ramdisk", "string", "b_info", "stubdomain_ramdisk")
  field(o, "stubdomain_memory", "memkb", "b_info", "stubdomain_memkb")
  field(o, "device_model_args", "strlist", "b_info", "extra")
  field(o, "device_model_args_pv", "strlist", "b_info", "extra_pv")
  field(o, "device_model_args_hvm", "strlist", "b_info", "extra_hvm")

  if dtype == "hvm" then
    o.blank()
    field(o, "firmware_override", "string", "b_info", tkey, "firmware")
    field(o, "bios", "string", "b_info", tkey, "bios")
    field(o, "bios_path_override", "string", "b_info", tkey, "system_firmware")
    for _, k in ipairs({ "pae", "acpi_s3", "acpi_s4", "acpi_laptop_slate", "nx", "hpet",
      "vpt_align" }) do
      field(o, k, "defbool", "b_info", tkey, k)
    end
    local en, dis = t.viridian_enable, t.viridian_disable
    if (en or dis) and t.viridian ~= "False" then
      local names = {}
      if t.viridian == "True" then
        names[#names + 1] = "defaults"
      end
      local ok = true
      local NAMES = { "base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush",
        "apic_assist", "crash_ctl", "synic", "stimer", "hcall_ipi", "ex_processor_masks",
        "no_vp_limit", "cpu_hotplug" }
      -- "all" sets every bit; "!name" after it clears one: so when enable and disable
      -- together cover all 64 bits, say "all" and list the disabled.
      local covered = {}
      for _, bit in ipairs(en or {}) do covered[bit] = true end
      for _, bit in ipairs(dis or {}) do covered[bit] = true end
      local all = true
      for bit = 0, 63 do all = all and covered[bit] == true end
      if all then
        names[#names + 1] = "all"
      else
        for _, bit in ipairs(en or {}) do
          ok = ok and NAMES[bit + 1] ~= nil
          names[#names + 1] = NAMES[bit + 1]
        end
      end
      for _, bit in ipairs(dis or {}) do
        ok = ok and NAMES[bit + 1] ~= nil
        names[#names + 1] = NAMES[bit + 1] and "!" .. NAMES[bit + 1]
      end
      if ok then
        o.add("viridian", list(names))
        o.take("b_info", tkey, "viridian")
        o.take("b_info", tkey, "viridian_enable")
        o.take("b_info", tkey, "viridian_disable")
      end
    else
      field(o, "viridian", "defbool", "b_info", tkey, "viridian")
    end
    field(o, "mmio_hole", "memkb", "b_info", tkey, "mmio_hole_memkb")
    field(o, "smbios_firmware", "string", "b_info", tkey, "smbios_firmware")
    field(o, "acpi_firmware", "string", "b_info", tkey, "acpi_firmware")
    field(o, "rdm_mem_boundary", "memkb", "b_info", tkey, "rdm_mem_boundary_memkb")
    local rdm = t.rdm or {}
    if rdm.strategy == "host" or rdm.policy == "strict" or rdm.policy == "relaxed" then
      local parts = {}
      if rdm.strategy == "host" then
        parts[#parts + 1] = "strategy=host"
        o.take("b_info", tkey, "rdm", "strategy")
      end
      if rdm.policy then
        parts[#parts + 1] = "policy=" .. rdm.policy
        o.take("b_info", tkey, "rdm", "policy")
      end
      o.add("rdm", quote(table.concat(parts, ",")))
    end
    local kinds = { std = "stdvga", cirrus = "cirrus", none = "none", qxl = "qxl" }
    local vga = t.vga and kinds[t.vga.kind]
    if vga then
      o.add("vga", quote(vga))
      o.take("b_info", tkey, "vga", "kind")
    end
    field(o, "hdtype", "string", "b_info", tkey, "hdtype")
    field(o, "keymap", "string", "b_info", tkey, "keymap")
    field(o, "nographic", "defbool", "b_info", tkey, "nographic")
    field(o, "serial", "string", "b_info", tkey, "serial")
    field(o, "serial", "strlist", "b_info", tkey, "serial_list")
    field(o, "boot", "string", "b_info", tkey, "boot")
    field(o, "usb", "defbool", "b_info", tkey, "usb")
    field(o, "usbversion", "string", "b_info", tkey, "usbversion")
    field(o, "usbdevice", "string", "b_info", tkey, "usbdevice")
    field(o, "usbdevice", "strlist", "b_info", tkey, "usbdevice_list")
    field(o, "vkb_device", "defbool", "b_info", tkey, "vkb_device")
    field(o, "soundhw", "string", "b_info", tkey, "soundhw")
    field(o, "xen_platform_pci", "defbool", "b_info", tkey, "xen_platform_pci")
    field(o, "vendor_device", "string", "b_info", tkey, "vendor_device")
    field(o, "timeoffset", "string", "b_info", tkey, "timeoffset")
    field(o, "vnc", "defbool", "b_info", tkey, "vnc", "enable")
    field(o, "vnclisten", "string", "b_info", tkey, "vnc", "listen")
    field(o, "vncpasswd", "string", "b_info", tkey, "vnc", "passwd")
    field(o, "vncdisplay", "string", "b_info", tkey, "vnc", "display")
    field(o, "vncunused", "defbool", "b_info", tkey, "vnc", "findunused")
    field(o, "sdl", "defbool", "b_info", tkey, "sdl", "enable")
    field(o, "opengl", "defbool", "b_info", tkey, "sdl", "opengl")
    field(o, "display", "string", "b_info", tkey, "sdl", "display")
    field(o, "xauthority", "string", "b_info", tkey, "sdl", "xauthority")
  end
  o.blank()

  device_list(o, "disk", "disks", disk_spec)
  device_list(o, "vif", "nics", nic_spec)
  -- PCI devices: the domain's default rdm policy is left implicit (see convert.lua).
  local rdm_default
  if dtype == "hvm" then
    rdm_default = t.rdm and t.rdm.policy
  else
    rdm_default = "strict"
  end
  device_list(o, "pci", "pcidevs", function(p)
    return pci_spec(p, rdm_default)
  end)
  if dtype == "pv" and config.pcidevs and o.peek("pcidevs") == nil
    and o.peek("b_info", tkey, "e820_host") == "True" then
    o.take("b_info", tkey, "e820_host") -- implied by pci= for a pv guest
  end
  -- Each vfb comes with its vkb; render them only when the vkbs are exactly those.
  local vkbs = config.vkbs or {}
  local plain_vkbs = config.vfbs and #vkbs == #config.vfbs
  for i, k in ipairs(vkbs) do
    plain_vkbs = plain_vkbs and k.devid == i - 1 and next(k, nil) == "devid" and next(k, "devid") == nil
  end
  if plain_vkbs then
    device_list(o, "vfb", "vfbs", vfb_spec)
    if o.peek("vfbs") == nil then
      o.take("vkbs")
    end
  end
  o.blank()

  -- What xl.cfg cannot say: the defaults xl or libxl put in, and anything unusual.
  o.take("c_info", "run_hotplug_scripts")
  if o.peek("b_info", "claim_mode") == "True" then
    o.take("b_info", "claim_mode")
  end
  local left = {}
  leftovers("", o.rest, left)
  if #left > 0 then
    o.lines[#o.lines + 1] = "# Not expressible in xl.cfg (libxl JSON fields, kept for reference):"
    for _, l in ipairs(left) do
      o.lines[#o.lines + 1] = "#   " .. l
    end
  end
  while o.lines[#o.lines] == "" do
    o.lines[#o.lines] = nil
  end
  return table.concat(o.lines, "\n") .. "\n"
end

return xlcfg
