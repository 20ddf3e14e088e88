-- libxl's domain config JSON rendered back as an xl.cfg a person can read and edit: the
-- reverse of xlua.convert, so that converting the rendering gives the same config again.
-- Fields that xl.cfg has no key for (most are defaults libxl filled in) are listed in
-- comments at the end rather than dropped.
local convert = require("xlua.convert")

local xlcfg = {}

local devices = require("xlua.xlcfg.devices")
local out = require("xlua.xlcfg.out")
local platform = require("xlua.xlcfg.platform")
local vdevs = require("xlua.xlcfg.vdevs")

local quote, atom, list, ranges, field = out.quote, out.atom, out.list, out.ranges, out.field
xlcfg.quote = quote
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

local REVERSE_ACTIONS = {}
for xl, json in pairs(convert.ACTIONS) do
  REVERSE_ACTIONS[json] = xl
end

-- cpus= and cpus_soft=. xl turns automatic NUMA placement off for a cpus list, for any
-- cpus_soft, and for a vnuma pnode=; placed_off says the vnuma rendering already did.
local function render_affinity(o, b_info, placed_off)
  local max = b_info.max_vcpus or 0
  local numa_off = b_info.numa_placement == "False"
  local soft = o.peek("b_info", "vcpu_soft_affinity")
  soft = type(soft) == "table" and #soft > 0
  local rendered = false
  for _, which in ipairs({ "vcpu_hard_affinity", "vcpu_soft_affinity" }) do
    local maps = o.peek("b_info", which)
    local key = which == "vcpu_hard_affinity" and "cpus" or "cpus_soft"
    if type(maps) == "table" and #maps > 0 then
      local uniform = #maps == max
      for i = 2, #maps do
        uniform = uniform and same_list(maps[i], maps[1])
      end
      -- A list always turns NUMA placement off; a uniform string does so only for soft.
      local as_string = uniform and (which == "vcpu_soft_affinity" or not numa_off or soft
        or placed_off)
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
      rendered = true
      placed_off = placed_off or not as_string or which == "vcpu_soft_affinity"
    elseif type(maps) == "table" then
      o.take("b_info", which)
    end
  end
  if numa_off and not placed_off and not rendered then
    o.add("cpus", "[ ]") -- an empty list: no affinity, and no automatic placement
    placed_off = true
  end
  if numa_off and placed_off then
    o.take("b_info", "numa_placement")
  end
end

-- vfb= brings a vkb with each vfb (the first vkbs, bare); the vkbs after them are vkb= items.
-- vfbs are written all or none, so that the vkbs keep their devids.
local function render_vfbs(o, config)
  local vfbs, vkbs = config.vfbs or {}, config.vkbs or {}
  for i = 1, #vfbs do
    local k = vkbs[i]
    if type(k) ~= "table" or k.devid ~= i - 1 or next(k, nil) ~= "devid" or next(k, "devid") ~= nil
      or not devices.vfb_spec(vfbs[i], i - 1) then
      return -- left for the comments, and the vkbs with them
    end
  end
  if #vfbs > 0 then
    out.devices(o, "vfb", "vfbs", devices.vfb_spec)
  end
  if #vkbs > #vfbs then
    local specs = {}
    for i = #vfbs + 1, #vkbs do
      specs[#specs + 1] = vdevs.vkb_spec(vkbs[i], i - 1)
      if not specs[#specs] then
        return -- the vkbs that are not plain stay, and the vfbs' vkbs with them
      end
    end
    o.add("vkb", list(specs))
  end
  o.take("vkbs")
end

-- xlcfg.render(config) -> text: an xl.cfg for a libxl_domain_config table.
function xlcfg.render(config)
  if type(config) ~= "table" then
    error("bad argument #1 to 'render' (table expected, got " .. type(config) .. ")", 2)
  end
  local o = out.new(config)
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
  -- vnuma: written with maxvcpus=, so that its vcpu count is checked without the host.
  local vnuma = platform.vnuma_items(b_info)
  if b_info.max_vcpus and (b_info.max_vcpus ~= vcpus or vnuma) then
    field(o, "maxvcpus", "string", "b_info", "max_vcpus")
  elseif b_info.max_vcpus == vcpus then
    o.take("b_info", "max_vcpus")
  end
  local pnode = false
  if vnuma then
    o.add("vnuma", list(vnuma))
    o.take("b_info", "vnuma_nodes")
    for _, item in ipairs(vnuma) do
      pnode = pnode or item[1]:match("^pnode=") ~= nil
    end
  end
  render_affinity(o, b_info, pnode)
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
    field(o, "vnc", "defbool", "b_info", tkey, "vnc", "enable")
    field(o, "vnclisten", "string", "b_info", tkey, "vnc", "listen")
    field(o, "vncpasswd", "string", "b_info", tkey, "vnc", "passwd")
    field(o, "vncdisplay", "string", "b_info", tkey, "vnc", "display")
    field(o, "vncunused", "defbool", "b_info", tkey, "vnc", "findunused")
    field(o, "sdl", "defbool", "b_info", tkey, "sdl", "enable")
    field(o, "opengl", "defbool", "b_info", tkey, "sdl", "opengl")
    field(o, "display", "string", "b_info", tkey, "sdl", "display")
    field(o, "xauthority", "string", "b_info", tkey, "sdl", "xauthority")
    platform.hvm(o, tkey)
  end
  o.blank()

  local devices_ = out.devices
  devices_(o, "disk", "disks", devices.disk_spec)
  devices_(o, "vif", "nics", devices.nic_spec)
  -- PCI devices: the domain's default rdm policy is left implicit (see convert.lua).
  local rdm_default
  if dtype == "hvm" then
    rdm_default = t.rdm and t.rdm.policy
  else
    rdm_default = "strict"
  end
  devices_(o, "pci", "pcidevs", function(p)
    return devices.pci_spec(p, rdm_default)
  end)
  local unwritten = 0
  for _ in pairs(o.peek("pcidevs") or {}) do
    unwritten = unwritten + 1
  end
  if dtype == "pv" and config.pcidevs and #config.pcidevs > unwritten
    and o.peek("b_info", tkey, "e820_host") == "True" then
    o.take("b_info", tkey, "e820_host") -- implied by pci= for a pv guest
  end
  render_vfbs(o, config)
  devices_(o, "vtpm", "vtpms", vdevs.vtpm_spec)
  devices_(o, "p9", "p9s", vdevs.p9_writer())
  devices_(o, "pvcalls", "pvcallsifs", vdevs.pvcalls_spec)
  devices_(o, "vdispl", "vdispls", vdevs.vdispl_spec)
  devices_(o, "vsnd", "vsnds", vdevs.vsnd_spec)
  devices_(o, "channel", "channels", vdevs.channel_spec)
  devices_(o, "usbctrl", "usbctrls", vdevs.usbctrl_spec)
  devices_(o, "usbdev", "usbdevs", vdevs.usbdev_spec)
  devices_(o, "dtdev", "dtdevs", vdevs.dtdev_spec)
  platform.passthrough(o)
  platform.cpuid(o)
  platform.arch(o)
  o.blank()

  -- What xl.cfg cannot say: the defaults xl or libxl put in, and anything unusual.
  o.take("c_info", "run_hotplug_scripts")
  if o.peek("b_info", "claim_mode") == "True" then
    o.take("b_info", "claim_mode")
  end
  local left = {}
  out.leftovers("", o.rest, left)
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
