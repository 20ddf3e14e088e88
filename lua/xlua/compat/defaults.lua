-- libxl's defaults for a libxl_domain_config table, for every field the compatibility rules
-- look at, so that a value that differs only because one side left it to its default is not
-- a difference. Facts from Xen 4.17's libxl (libxl__domain_config_setdefault,
-- libxl__domain_create_info_setdefault, libxl__domain_build_info_setdefault and the x86 arch
-- hook in libxl_create.c/libxl_x86.c; the disk, nic, vfb and vkb setdefault functions;
-- libxl_types.idl) and xl_parse.c (maxmem defaults to memory).
local json = require("xlua.json")

local defaults = {}

-- libxl__xen_script_dir_path() on Debian and in Xen's default build.
defaults.SCRIPT_DIR = "/etc/xen/scripts"

-- libxl's "not set": an absent field, JSON null, a defbool "default", an enum's "unknown".
local function unset(v)
  return v == nil or v == json.null or v == "default" or v == "unknown"
end
defaults.unset = unset

-- MemKB fields: only absence is "not set" (0 is a real value; the IDL default is ~0).
local function unset_memkb(v)
  return v == nil or v == json.null
end

-- A deep copy whose integral numbers are Lua integers (cjson decodes every number as a float).
local function copy(v)
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do
      out[k] = copy(x)
    end
    return setmetatable(out, getmetatable(v))
  elseif type(v) == "number" then
    return math.tointeger(v) or v
  end
  return v
end
defaults.copy = copy

local function setdefault(t, key, value)
  if unset(t[key]) then
    t[key] = value
  end
end

-- A libxl_bitmap as the set it stands for: sorted, without duplicates.
local function bitmap(v)
  if type(v) ~= "table" then
    return v
  end
  local seen, out = {}, {}
  for _, n in ipairs(v) do
    if not seen[n] then
      seen[n] = true
      out[#out + 1] = n
    end
  end
  table.sort(out, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then
      return a < b
    end
    return tostring(a) < tostring(b)
  end)
  return json.array(out)
end

local function empty(v)
  return v == nil or v == json.null or (type(v) == "table" and next(v) == nil)
end

local function subtable(t, key)
  if type(t[key]) ~= "table" then
    t[key] = {}
  end
  return t[key]
end

-- The video memory libxl gives each vga kind (libxl__domain_build_info_setdefault).
local VIDEO_MEMKB = {
  qemu_xen_traditional = { none = 0, std = 8 * 1024, cirrus = 4 * 1024 },
  qemu_xen = { none = 0, qxl = 128 * 1024, std = 16 * 1024, cirrus = 8 * 1024 },
}

-- Fields libxl_types.idl moved out of the keyed union; libxl copies the old place to the new
-- one when only the old one is set (libxl__domain_build_info_copy_deprecated).
local DEPRECATED = {
  hvm = { "apic", "timer_mode", "nested_hvm" },
  pv = { "kernel", "bootloader", "bootloader_args", "cmdline", "ramdisk" },
}

local function same(a, b)
  return json.encode(a) == json.encode(b)
end

local function build_info(c_info, b, dtype, opts)
  -- A nested {type = {hvm = {...}}} is the keyed union written by hand; libxl spells it "type.hvm".
  if type(b.type) == "table" then
    for k, v in pairs(b.type) do
      if b["type." .. k] == nil then
        b["type." .. k] = v
      end
    end
    b.type = nil
  end
  local u = dtype and subtable(b, "type." .. dtype) or {}

  for _, field in ipairs(DEPRECATED[dtype] or {}) do
    if not unset(u[field]) then
      if unset(b[field]) then
        b[field] = u[field]
        u[field] = nil
      elseif same(b[field], u[field]) then
        u[field] = nil
      end -- both set and different: libxl refuses it; leave both for the diff to show
    end
  end

  setdefault(b, "device_model_stubdomain", "False")
  setdefault(b, "vpmu", "False")
  if unset(b.device_model_version) then
    -- libxl falls back to qemu_xen_traditional when qemu-xen is not installed: a host fact
    -- the caller can give as opts.host.device_model_version.
    if dtype == "hvm" and b.device_model_stubdomain == "True" then
      b.device_model_version = "qemu_xen_traditional"
    else
      b.device_model_version = opts.host.device_model_version or "qemu_xen"
    end
  end
  setdefault(b, "blkdev_start", "xvda")
  if dtype == "hvm" and unset(u.bios) then
    u.bios = b.device_model_version == "qemu_xen_traditional" and "rombios" or "seabios"
  end

  -- Memory: xl makes maxmem default to memory; libxl makes max_memkb 32 MiB and
  -- target_memkb max_memkb when they are still unset.
  if unset_memkb(b.max_memkb) then
    b.max_memkb = unset_memkb(b.target_memkb) and 32 * 1024 or b.target_memkb
  end
  if unset_memkb(b.target_memkb) then
    b.target_memkb = b.max_memkb
  end

  -- libxl computes the shadow memory before it defaults max_vcpus, so a config without
  -- vcpus counts 0 of them here (libxl__get_required_paging_memory: 1 MiB per vcpu, one page
  -- per MiB of RAM for the p2m of non-PV guests and one more for shadow paging).
  if unset_memkb(b.shadow_memkb) then
    local hap = dtype ~= "pv" and c_info.hap == "True"
    local vcpus = math.tointeger(b.max_vcpus) or 0
    local per_mb = (dtype ~= "pv" and 1 or 0) + (hap and 0 or 1)
    b.shadow_memkb = 4 * (256 * vcpus + per_mb * (b.max_memkb // 1024))
  end
  if unset_memkb(b.iommu_memkb) and c_info.passthrough ~= "sync_pt" then
    b.iommu_memkb = 0
  end

  if b.max_vcpus == nil or b.max_vcpus == json.null or b.max_vcpus == 0 then
    b.max_vcpus = 1
  end
  -- libxl brings only vcpu 0 online when avail_vcpus is empty; xl's vcpus=N fills it.
  if empty(b.avail_vcpus) then
    b.avail_vcpus = json.array({ 0 })
  end
  b.avail_vcpus = bitmap(b.avail_vcpus)
  for _, key in ipairs({ "cpumap", "nodemap" }) do
    if empty(b[key]) then
      b[key] = nil
    else
      b[key] = bitmap(b[key])
    end
  end
  for _, key in ipairs({ "vcpu_hard_affinity", "vcpu_soft_affinity" }) do
    if type(b[key]) == "table" then
      for i, map in ipairs(b[key]) do
        b[key][i] = bitmap(map)
      end
    end
  end

  setdefault(b, "numa_placement", "True")
  setdefault(b, "claim_mode", "False")
  setdefault(b, "localtime", "False")
  setdefault(b, "disable_migrate", "False")
  if b.event_channels == nil or b.event_channels == 0 then
    b.event_channels = 1023
  end
  setdefault(b, "acpi", "True")
  setdefault(subtable(b, "arch_x86"), "msr_relaxed", "False")
  setdefault(b, "dm_restrict", "False")

  if dtype == "hvm" then
    if unset_memkb(u.mmio_hole_memkb) then
      u.mmio_hole_memkb = 0
    end
    local vga = subtable(u, "vga")
    setdefault(vga, "kind", "cirrus")
    setdefault(u, "hdtype", "ide")
    if unset_memkb(b.video_memkb) then
      local sizes = VIDEO_MEMKB[b.device_model_version] or VIDEO_MEMKB.qemu_xen
      b.video_memkb = sizes[vga.kind] -- qxl on traditional: libxl refuses; stays unset
    end
    for field, value in pairs({ pae = "True", acpi = "True", acpi_s3 = "True", acpi_s4 = "True",
      acpi_laptop_slate = "False", nx = "True", viridian = "False", hpet = "True",
      vpt_align = "True", altp2m = "False", usb = "False", vkb_device = "True",
      xen_platform_pci = "True", nographic = "False", gfx_passthru = "False" }) do
      setdefault(u, field, value)
    end
    for _, key in ipairs({ "viridian_enable", "viridian_disable" }) do
      u[key] = not empty(u[key]) and bitmap(u[key]) or nil
    end
    setdefault(subtable(u, "spice"), "enable", "False")
    setdefault(u, "boot", "cda")
    local vnc = subtable(u, "vnc")
    setdefault(vnc, "enable", "True")
    if vnc.enable == "True" then
      setdefault(vnc, "findunused", "True")
      setdefault(vnc, "listen", "127.0.0.1")
    end
    local sdl = subtable(u, "sdl")
    setdefault(sdl, "enable", "False")
    setdefault(sdl, "opengl", "False") -- libxl sets it only when sdl is on, and reads it only then
  elseif dtype == "pv" then
    setdefault(u, "e820_host", "False")
    if unset_memkb(u.slack_memkb) then
      u.slack_memkb = 0
    end
    if unset_memkb(b.video_memkb) then
      b.video_memkb = 0
    end
  elseif dtype == "pvh" then
    setdefault(u, "pvshim", "False")
    if unset_memkb(b.video_memkb) then
      b.video_memkb = 0
    end
  end
  if dtype ~= "pv" then
    setdefault(b, "timer_mode", "no_delay_for_missed_ticks")
    setdefault(b, "apic", "True")
    setdefault(b, "nested_hvm", "False")
  end
end

local function disk_defaults(d, dtype)
  if d.is_cdrom == true or d.is_cdrom == false then
    d.is_cdrom = d.is_cdrom and 1 or 0
  elseif d.is_cdrom == nil or d.is_cdrom == json.null then
    d.is_cdrom = 0
  end
  local rw = d.readwrite ~= nil and d.readwrite ~= json.null and d.readwrite ~= 0 and d.readwrite ~= false
  setdefault(d, "discard_enable", rw and "True" or "False")
  setdefault(d, "colo_enable", "False")
  setdefault(d, "colo_restore_enable", "False")
  setdefault(d, "trusted", "True")
  setdefault(d, "specification", "xen")
  -- libxl forces the qdisk backend for an HVM guest's cdrom.
  if d.is_cdrom ~= 0 and dtype == "hvm" and unset(d.backend) then
    d.backend = "qdisk"
  end
end

local function nic_defaults(n, dtype, opts)
  if n.mtu == nil or n.mtu == json.null or n.mtu == 0 then
    n.mtu = 1500
  end
  setdefault(n, "model", "rtl8139")
  if type(n.mac) == "string" then
    n.mac = n.mac:lower()
  end -- no MAC: libxl picks a random one, which is a different MAC
  setdefault(n, "bridge", "xenbr0")
  setdefault(n, "script", (opts.script_dir or defaults.SCRIPT_DIR) .. "/vif-bridge")
  if dtype == "hvm" then
    setdefault(n, "nictype", "vif_ioemu")
  elseif dtype == "pv" or dtype == "pvh" then
    setdefault(n, "nictype", "vif")
  end
  setdefault(n, "trusted", "True")
end

local function vfb_defaults(v)
  local vnc, sdl = subtable(v, "vnc"), subtable(v, "sdl")
  setdefault(vnc, "enable", "True")
  if vnc.enable == "True" then
    setdefault(vnc, "listen", "127.0.0.1")
    setdefault(vnc, "findunused", "True")
  else
    setdefault(vnc, "findunused", "False")
  end
  setdefault(sdl, "enable", "False")
  setdefault(sdl, "opengl", "False")
end

-- libxl__device_usbctrl_setdefault: "auto" is the device model's controller for HVM, else PV
-- (qusb when the host has no usbback: opts.host.usbback = false); version 2; the ports each
-- kind has.
local function usbctrl_defaults(u, dtype, opts)
  if unset(u.type) then
    if dtype == "hvm" then
      u.type = "devicemodel"
    else
      u.type = opts.host.usbback == false and "qusb" or "pv"
    end
  end
  if u.version == nil or u.version == json.null or u.version == 0 then
    u.version = 2
  end
  if u.ports == nil or u.ports == json.null or u.ports == 0 then
    if u.type == "devicemodel" then
      u.ports = ({ [1] = 2, [2] = 6 })[u.version] or 8
    else
      u.ports = 8
    end
  end
end

local function each(list, fn, ...)
  if type(list) == "table" then
    for _, item in ipairs(list) do
      if type(item) == "table" then
        fn(item, ...)
      end
    end
  end
end

-- defaults.apply(config [, opts]) -> a new table: a deep copy of config with libxl's
-- defaults filled in. config is not changed. opts.host: facts about the host libxl would
-- use: hap (false when the host has no hardware-assisted paging; default true),
-- device_model_version (what libxl falls back to), usbback (false: PV USB controllers are
-- qusb). opts.script_dir: libxl's script dir.
function defaults.apply(config, opts)
  if type(config) ~= "table" then
    error("bad argument #1 to 'apply' (table expected, got " .. type(config) .. ")", 2)
  end
  opts = { host = opts and opts.host or {}, script_dir = opts and opts.script_dir }
  local c = copy(config)
  local c_info = subtable(c, "c_info")
  local b = subtable(c, "b_info")
  local dtype = c_info.type
  if dtype ~= "pv" and dtype ~= "pvh" and dtype ~= "hvm" then
    dtype = nil -- libxl refuses it; compare what is there
  end

  if dtype and dtype ~= "pv" then
    setdefault(c_info, "hap", opts.host.hap == false and "False" or "True")
    setdefault(c_info, "oos", "True")
  end
  setdefault(c_info, "run_hotplug_scripts", "True")
  setdefault(c_info, "driver_domain", "False")
  setdefault(c_info, "xend_suspend_evtchn_compat", "False")

  build_info(c_info, b, dtype, opts)

  for _, action in ipairs({ "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset" }) do
    setdefault(c, action, "destroy")
  end
  each(c.disks, disk_defaults, dtype)
  each(c.nics, nic_defaults, dtype, opts)
  each(c.vfbs, vfb_defaults)
  each(c.vkbs, function(v)
    setdefault(v, "backend_type", "qemu")
  end)
  each(c.usbctrls, usbctrl_defaults, dtype, opts)
  return c
end

return defaults
