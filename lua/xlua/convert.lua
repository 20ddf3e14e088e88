-- The config policy: a config's values (from an xl.cfg or a Lua config) to the
-- libxl_domain_config JSON that `xl create -n` prints for the same settings. Meaning and
-- defaults follow parse_config_data in xl_parse.c (Xen 4.17); field names and enum
-- spellings follow libxl_types.idl, and like libxl's JSON generator a field is present only
-- when it differs from its IDL default.
local cpus = require("xlua.convert.cpus")
local devices = require("xlua.convert.devices")
local hvm = require("xlua.convert.hvm")
local platform = require("xlua.convert.platform")
local json = require("xlua.json")
local reader = require("xlua.convert.reader")
local values = require("xlua.convert.values")
local vdevs = require("xlua.convert.vdevs")

local convert = {}

-- libxl_action_on_shutdown, as xl spells it -> as the JSON spells it.
local ACTIONS = {
  ["destroy"] = "destroy", ["restart"] = "restart", ["rename-restart"] = "restart_rename",
  ["preserve"] = "preserve", ["coredump-destroy"] = "coredump_destroy",
  ["coredump-restart"] = "coredump_restart", ["soft-reset"] = "soft_reset",
}
convert.ACTIONS = ACTIONS

-- Where Debian's xen-4.17 keeps pvgrub (XENFIRMWAREDIR).
convert.FIRMWARE_DIR = "/usr/lib/xen-4.17/boot"

-- Keys xl reads only for HVM guests (the HVM branches of parse_config_data).
local HVM_ONLY = {
  "firmware_override", "bios_path_override", "bios", "pae", "acpi_s3", "acpi_s4",
  "acpi_laptop_slate", "nx", "hpet", "vpt_align", "apic", "viridian", "mmio_hole",
  "smbios_firmware", "acpi_firmware", "rdm_mem_boundary", "vga", "stdvga", "hdtype",
  "nographic", "serial", "boot", "usb", "usbversion", "usbdevice", "vkb_device", "soundhw",
  "xen_platform_pci", "vendor_device", "altp2mhvm", "ms_vm_genid", "mca_caps", "spice",
  "spiceport", "spicetls_port", "spicehost", "spicedisable_ticketing", "spicepasswd",
  "spiceagent_mouse", "spicevdagent", "spice_clipboard_sharing", "spiceusbredirection",
  "spice_image_compression", "spice_streaming_video", "gfx_passthru",
}

local function uuid_v4()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(16)
  if f then
    f:close()
  end
  if not bytes or #bytes ~= 16 then
    bytes = {}
    for i = 1, 16 do
      bytes[i] = string.char(math.random(0, 255))
    end
    bytes = table.concat(bytes)
  end
  local b = { bytes:byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  return string.format("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
    table.unpack(b))
end
convert.uuid_v4 = uuid_v4

-- xl's type= and builder= compare with strncmp(buf, name, strlen(buf)): any prefix of a
-- name (even "") selects it, the first in xl's order winning.
local function prefix_of(s, name)
  return name:sub(1, #s) == s
end

local function domain_type(r)
  local t
  local s = r.string("type")
  if s then
    if prefix_of(s, "hvm") then
      t = "hvm"
    elseif prefix_of(s, "pv") then
      t = "pv"
    elseif s == "pvh" then
      t = "pvh"
    else
      values.fail("type", s, "expected pv, pvh or hvm")
    end
  end
  local b = r.string("builder") -- deprecated since Xen 4.10
  if b then
    local bt
    if prefix_of(b, "hvm") then
      bt = "hvm"
    elseif prefix_of(b, "generic") then
      bt = "pv"
    else
      values.fail("builder", b, "expected hvm or generic")
    end
    if t and t ~= bt then
      values.fail_msg("builder", "contradicts type=" .. t)
    end
    t = bt
  end
  return t or "pv" -- x86's default
end


-- parse_cmdline: cmdline wins over root= and extra=, which combine as "root=R E".
local function cmdline(r)
  local buf, root, extra = r.string("cmdline"), r.string("root"), r.string("extra")
  if buf then
    if root or extra then
      r.warn("cmdline: ignoring root= and extra= in favour of cmdline=")
    end
    return buf
  elseif root and extra then
    return "root=" .. root .. " " .. extra
  elseif root then
    return "root=" .. root
  end
  return extra
end


local function pv_firmware(r, b_info, opts)
  local fw = r.string("firmware")
  if fw then
    if b_info.kernel then
      values.fail_msg("firmware", "both kernel and firmware specified")
    end
    if not (prefix_of(fw, "pvgrub32") or prefix_of(fw, "pvgrub64")) then
      values.fail("firmware", fw, "only pvgrub32 and pvgrub64 are firmware for pv and pvh")
    end
    b_info.kernel = (opts.firmware_dir or convert.FIRMWARE_DIR) .. "/" .. fw .. ".bin"
  end
  if not b_info.bootloader and not b_info.kernel then
    values.fail_msg("kernel", "neither kernel nor bootloader specified", "BADVALUE")
  end
end


local function build(r, opts)
  local c_info, b_info = {}, {}
  local config = { c_info = c_info, b_info = b_info }

  -- init_seclabel and seclabel (the second goes to exec_ssid_label when both are given).
  c_info.ssid_label = r.string("init_seclabel")
  local seclabel = r.string("seclabel")
  if seclabel then
    if c_info.ssid_label then
      b_info.exec_ssid_label = seclabel
    else
      c_info.ssid_label = seclabel
    end
  end
  -- xl.conf's run_hotplug_scripts (default 1) is set on every domain.
  c_info.run_hotplug_scripts = opts.run_hotplug_scripts == false and "False" or "True"

  local dtype = domain_type(r)
  c_info.type = dtype
  c_info.hap = r.defbool("hap")
  c_info.name = r.string("name")
  if not c_info.name then
    values.fail_msg("name", "domain name must be specified", "BADVALUE")
  end
  local uuid = r.string("uuid")
  if uuid then
    if not uuid:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") then
      values.fail("uuid", uuid, "expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    end
    uuid = uuid:lower()
  else
    uuid = (opts.uuid_generator or uuid_v4)()
  end
  if uuid ~= "00000000-0000-0000-0000-000000000000" then
    c_info.uuid = uuid
  end
  c_info.oos = r.defbool("oos")
  c_info.pool_name = r.string("pool")

  -- The keyed union b_info.u: "type.pv" etc.; its struct members are always present.
  local tinfo = {}
  b_info["type." .. dtype] = tinfo
  if dtype == "hvm" then
    tinfo.vga, tinfo.vnc, tinfo.sdl, tinfo.spice, tinfo.rdm = {}, {}, {}, {}, {}
  elseif dtype == "pvh" then
    tinfo.pvshim = r.defbool("pvshim")
    tinfo.pvshim_path = r.string("pvshim_path")
    tinfo.pvshim_cmdline = r.string("pvshim_cmdline")
    tinfo.pvshim_extra = r.string("pvshim_extra")
  end
  b_info.arch_arm, b_info.arch_x86 = {}, {}

  local sched = {}
  b_info.sched_params = sched
  for key, field in pairs({ cpu_weight = "weight", cap = "cap", period = "period",
    slice = "slice", latency = "latency", extratime = "extratime" }) do
    local n = r.long(key)
    if n and n ~= -1 then
      sched[field] = n
    end
  end

  local memory = r.long("memory", 0)
  if memory then
    b_info.target_memkb = memory * 1024
  end
  local maxmem = r.long("maxmem", 0)
  if maxmem then
    b_info.max_memkb = maxmem * 1024
  end
  local vcpus = r.long("vcpus", 0, 4096) or 0
  if vcpus > 0 then
    local avail = {}
    for i = 1, vcpus do
      avail[i] = i - 1
    end
    b_info.avail_vcpus = json.array(avail)
  end
  local maxvcpus = r.long("maxvcpus", 0, 4096)
  platform.arch_vuart(r, b_info)
  if maxvcpus and maxvcpus ~= 0 then
    b_info.max_vcpus = maxvcpus
  end
  platform.vnuma(r, b_info, maxvcpus and maxvcpus ~= 0, maxmem ~= nil, opts.host)
  maxvcpus = b_info.max_vcpus
  -- max_memkb and max_vcpus default to memory and vcpus.
  b_info.max_memkb = b_info.max_memkb or b_info.target_memkb
  maxvcpus = (maxvcpus and maxvcpus ~= 0) and maxvcpus or vcpus
  if maxvcpus < vcpus then
    values.fail_msg("maxvcpus", "maxvcpus (" .. maxvcpus .. ") < vcpus (" .. vcpus .. ")")
  end
  b_info.max_vcpus = maxvcpus ~= 0 and maxvcpus or nil

  cpus.affinity(r, b_info, "cpus", true, opts.host)
  cpus.affinity(r, b_info, "cpus_soft", false, opts.host)
  -- xl.conf's vm.cpumask, vm.pv.cpumask, vm.hvm.cpumask (xl create's, after the parse)
  cpus.global_masks(b_info, dtype, opts.cpumasks, opts.host, r.warn)

  for _, key in ipairs({ "max_grant_frames", "max_maptrack_frames", "max_grant_version" }) do
    b_info[key] = r.long_or_fail(key, 0, 0x7fffffff) or (opts.grant_defaults or {})[key]
  end
  b_info.claim_mode = opts.claim_mode == false and "False" or "True"

  -- on_*: libxl's default for the field is destroy, which the JSON leaves out.
  local action_defaults = { on_poweroff = "destroy", on_reboot = "restart",
    on_watchdog = "destroy", on_crash = "destroy", on_soft_reset = "soft-reset" }
  for key, default in pairs(action_defaults) do
    local s = r.string(key) or default
    local action = ACTIONS[s]
    if not action then
      values.fail(key, s, "expected destroy, restart, rename-restart, preserve, "
        .. "coredump-destroy, coredump-restart or soft-reset")
    end
    config[key] = action ~= "destroy" and action or nil
  end

  if dtype == "pv" then
    tinfo.e820_host = r.defbool("e820_host")
  end
  local presets = {}
  for _, key in ipairs({ "msitranslate", "power_mgmt", "permissive", "seize" }) do
    local v = r.get("pci_" .. key)
    if v ~= nil then
      presets[key] = r.soft("pci_" .. key, values.flag, v)
    end
  end
  local rdm_text = r.string("rdm")
  -- xl warns about an rdm it cannot parse (xlu_rdm_parse) and carries on without it.
  local rdm_set = rdm_text and r.soft("rdm", hvm.rdm, rdm_text)
  if rdm_set and dtype == "hvm" then
    tinfo.rdm = rdm_set
  end
  -- Each PCI device takes the domain's rdm policy; xl reads it from the HVM part of the
  -- build info even for PV and PVH, where that memory is zero: "strict".
  if dtype == "hvm" then
    presets.rdm_policy = rdm_set and rdm_set.policy
  else
    presets.rdm_policy = rdm_set and rdm_set.policy or "strict"
  end
  if r.has("pci") then
    local pcis = devices.pcis(r.get("pci"), presets)
    if #pcis > 0 then
      config.pcidevs = pcis
      if dtype == "pv" then
        tinfo.e820_host = "True"
      end
    end
  end
  config.dtdevs = vdevs.dtdevs(r)

  if r.has("passthrough") then
    local p = values.enum("passthrough", r.get("passthrough"),
      { "default", "disabled", "enabled", "sync_pt", "share_pt" })
    c_info.passthrough = p ~= "default" and p or nil
  end

  local shadow = r.long("shadow_memory", 0)
  if shadow then
    b_info.shadow_memkb = shadow * 1024
  end
  b_info.disable_migrate = r.defbool("nomigrate")

  if r.has("tsc_mode") then
    local modes = { "default", "always_emulate", "native", "native_paravirt" }
    local v = r.get("tsc_mode")
    local n = type(v) == "number" and v or (type(v) == "string" and values.strtol0(v))
    local mode
    if n then
      r.warn("tsc_mode: giving it as a number is deprecated; use its name")
      mode = modes[values.long("tsc_mode", n, 0, 3) + 1]
    else
      mode = values.enum("tsc_mode", v, modes)
    end
    b_info.tsc_mode = mode ~= "default" and mode or nil
  end
  local offset = r.long("rtc_timeoffset")
  b_info.rtc_timeoffset = offset ~= 0 and offset or nil
  r.ignore("vncviewer", "ignored (use xl create -V to start a viewer)")
  b_info.localtime = r.defbool("localtime")
  local videoram = r.long("videoram", 0)
  if videoram then
    b_info.video_memkb = videoram * 1024
  end
  local channels = r.long("max_event_channels", 0)
  b_info.event_channels = channels ~= 0 and channels or nil

  b_info.kernel = r.string("kernel")
  b_info.ramdisk = r.string("ramdisk")
  b_info.device_tree = r.string("device_tree")
  b_info.cmdline = cmdline(r)
  c_info.driver_domain = r.defbool("driver_domain")
  b_info.acpi = r.defbool("acpi")
  b_info.bootloader = r.string("bootloader")
  local args = r.get("bootloader_args")
  if type(args) == "table" then
    b_info.bootloader_args = values.string_list("bootloader_args", args)
  elseif args ~= nil then
    r.warn("bootloader_args: giving it as a string is deprecated; use a list")
    local list = {}
    for word in values.string("bootloader_args", args):gmatch("[^ \t\n]+") do
      list[#list + 1] = word
    end
    b_info.bootloader_args = list
  end
  if b_info.bootloader_args and #b_info.bootloader_args == 0 then
    b_info.bootloader_args = nil
  end

  if r.has("timer_mode") then
    if dtype == "pv" then
      values.fail_msg("timer_mode", "not supported for pv guests")
    end
    local modes = { "delay_for_missed_ticks", "no_delay_for_missed_ticks",
      "no_missed_ticks_pending", "one_missed_tick_pending" }
    local v = r.get("timer_mode")
    local n = type(v) == "number" and v or (type(v) == "string" and values.strtol0(v))
    if n then
      r.warn("timer_mode: giving it as a number is deprecated; use its name")
      b_info.timer_mode = modes[values.long("timer_mode", n, 0, 3) + 1]
    else
      b_info.timer_mode = values.enum("timer_mode", v, modes)
    end
  end
  b_info.nested_hvm = r.defbool("nestedhvm")

  if dtype == "hvm" then
    hvm.keys(r, b_info, tinfo, opts)
  else
    pv_firmware(r, b_info, opts)
    for _, key in ipairs(HVM_ONLY) do
      r.ignore(key, "ignored: xl reads it only for type=hvm")
    end
  end

  if r.has("altp2m") then
    local modes = { "disabled", "mixed", "external", "limited" }
    local v = r.get("altp2m")
    local n = type(v) == "number" and v or (type(v) == "string" and values.strtol0(v))
    local mode = n and modes[values.long("altp2m", n, 0, 3) + 1] or values.enum("altp2m", v, modes)
    b_info.altp2m = mode ~= "disabled" and mode or nil
  end
  local vmtrace = r.long("vmtrace_buf_kb")
  b_info.vmtrace_buf_kb = vmtrace ~= 0 and vmtrace or nil
  b_info.ioports = platform.ioports(r)
  b_info.irqs = platform.irqs(r)
  b_info.iomem = platform.iomem(r)

  if r.has("disk") then
    local disks = devices.disks(r.get("disk"))
    config.disks = #disks > 0 and disks or nil
  end
  config.p9s = vdevs.p9s(r)
  config.vtpms = vdevs.vtpms(r)
  config.vdispls = vdevs.vdispls(r)
  config.pvcallsifs = vdevs.pvcallsifs(r)
  config.vsnds = vdevs.vsnds(r)
  config.channels = vdevs.channels(r)
  if r.has("vif") then
    local nics = devices.nics(r.get("vif"), r.warn, opts.nic_defaults)
    config.nics = #nics > 0 and nics or nil
  end
  if r.has("vfb") then
    local vfbs, vkbs = devices.vfbs(r.get("vfb"), r.warn)
    if #vfbs > 0 then
      config.vfbs, config.vkbs = vfbs, vkbs
    end
  end
  if r.has("vif2") then
    r.get("vif2")
    r.warn("vif2: netchannel2 is deprecated and not supported by xl, ignored")
  end
  config.usbctrls = vdevs.usbctrls(r)
  config.usbdevs = vdevs.usbdevs(r)
  platform.cpuid(r, b_info)

  -- device_model is ignored by xl; device_model_override is the real one.
  r.ignore("device_model", "ignored; use device_model_override for a non-default device model")
  b_info.device_model = r.string("device_model_override")
  local dmv = r.string("device_model_version")
  if dmv then
    if dmv == "qemu-xen-traditional" then
      b_info.device_model_version = "qemu_xen_traditional"
    elseif dmv == "qemu-xen" then
      b_info.device_model_version = "qemu_xen"
    else
      values.fail("device_model_version", dmv, "expected qemu-xen or qemu-xen-traditional")
    end
  elseif b_info.device_model then
    r.warn("device_model_override: given without device_model_version")
  end
  b_info.device_model_stubdomain = r.defbool("device_model_stubdomain_override")
  b_info.device_model_ssid_label = r.string("device_model_stubdomain_seclabel")
  b_info.device_model_user = r.string("device_model_user")
  b_info.stubdomain_kernel = r.string("stubdomain_kernel")
  b_info.stubdomain_cmdline = r.string("stubdomain_cmdline")
  b_info.stubdomain_ramdisk = r.string("stubdomain_ramdisk")
  local stubmem = r.long("stubdomain_memory", 0)
  if stubmem then
    b_info.stubdomain_memkb = stubmem * 1024
  end
  for suffix, field in pairs({ [""] = "extra", _pv = "extra_pv", _hvm = "extra_hvm" }) do
    local key = "device_model_args" .. suffix
    if r.has(key) then
      local list = values.string_list(key, r.get(key))
      b_info[field] = #list > 0 and list or nil
    end
  end

  -- A PV guest without vfb= gets one vfb+vkb from vnc=1 and the other top-level keys;
  -- otherwise the top-level keys describe the HVM device model's display.
  local vnc_keys = { "vnc", "vnclisten", "vncpasswd", "vncdisplay", "vncunused", "sdl",
    "opengl", "display", "xauthority", "keymap" }
  if dtype == "pv" and not config.vfbs then
    local on = r.has("vnc") and r.soft("vnc", values.flag, r.get("vnc"))
    if on then
      local vfb = { devid = 0, vnc = {}, sdl = {} }
      hvm.top_level_vnc(r, vfb.vnc, vfb.sdl)
      vfb.keymap = r.string("keymap")
      config.vfbs, config.vkbs = { vfb }, { { devid = 0 } }
    else
      for _, key in ipairs(vnc_keys) do
        r.ignore(key, "ignored: a pv guest gets a framebuffer only with vnc=1 or vfb=")
      end
    end
  elseif dtype == "hvm" then
    hvm.top_level_vnc(r, tinfo.vnc, tinfo.sdl)
  else
    for _, key in ipairs(vnc_keys) do
      r.ignore(key, "ignored for this guest: use vfb= for a " .. dtype .. " framebuffer")
    end
  end
  b_info.dm_restrict = r.defbool("dm_restrict")

  if dtype == "hvm" then
    hvm.dm_keys(r, tinfo)
  end
  platform.arch(r, b_info)
  local vkbs = vdevs.vkbs(r, config.vkbs and #config.vkbs or 0)
  if vkbs and #vkbs > 0 then
    config.vkbs = config.vkbs or {}
    table.move(vkbs, 1, #vkbs, #config.vkbs + 1, config.vkbs)
  end

  c_info.xend_suspend_evtchn_compat = r.defbool("xend_suspend_evtchn_compat")
  b_info.arch_x86.msr_relaxed = r.defbool("msr_relaxed")
  if b_info.arch_x86.msr_relaxed then
    r.warn("msr_relaxed: will be removed in future versions of Xen (xl's warning)")
  end
  b_info.vpmu = r.defbool("vpmu")

  for _, field in ipairs({ "dtdevs", "p9s", "vtpms", "vdispls", "pvcallsifs", "vsnds",
    "channels", "usbctrls", "usbdevs" }) do
    if config[field] and #config[field] == 0 then
      config[field] = nil
    end
  end
  for _, field in ipairs({ "ioports", "irqs", "iomem" }) do
    if b_info[field] and #b_info[field] == 0 then
      b_info[field] = nil
    end
  end
  for _, key in ipairs(r.unused()) do
    r.warn("%s: unknown to xlua, ignored", key)
  end
  return config
end

-- convert.with_lines(opts, parsed, path) -> opts with where(key) naming "path:line" of the
-- setting of key in a parsed xl.cfg (xlua.cfg.parse's settings), for warnings.
function convert.with_lines(opts, parsed, path)
  local lines = {}
  for _, s in ipairs(parsed and parsed.settings or {}) do
    lines[s.name] = s.line
  end
  local out = {}
  for k, v in pairs(opts or {}) do
    out[k] = v
  end
  out.where = function(key)
    return lines[key] and (path .. ":" .. lines[key]) or nil
  end
  return out
end

-- convert.to_libxl(values [, opts]) -> config, warnings | nil, message, code
-- opts: uuid_generator (a function returning the uuid to use when the config has none),
-- host = { max_cpus =, nodes = { [n] = {cpus} } } for cpus="all" and node: ranges,
-- firmware_dir (pvgrub's directory), claim_mode / run_hotplug_scripts (xl.conf, default
-- true), nic_defaults (xl.conf's vif.default.*, as nic fields), grant_defaults (xl.conf's
-- max_grant_frames, max_maptrack_frames, max_grant_version), cpumasks (xl.conf's vm.cpumask,
-- vm.pv.cpumask, vm.hvm.cpumask: {vm =, pv =, hvm =} range texts); see xlua.xlconf.
-- strict: every warning is a refusal (BADVALUE); where(key): "file:line" for warnings;
-- genid_generator: ms_vm_genid="generate"'s 16 bytes; host also gives nr_nodes, online_cpus
-- (vnuma's checks).
-- Codes: BADVALUE (a value xl would refuse, or a required key missing), NEEDHOST.
function convert.to_libxl(vals, opts)
  if type(vals) ~= "table" then
    error("bad argument #1 to 'to_libxl' (table expected, got " .. type(vals) .. ")", 2)
  end
  local warnings = {}
  local r = reader.new(vals, warnings, opts)
  local ok, result = pcall(build, r, opts or {})
  if not ok then
    if getmetatable(result) == values.BadValue then
      return nil, result.message, result.code
    end
    error(result, 0)
  end
  return result, warnings
end

return convert
