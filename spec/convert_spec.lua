-- convert.to_libxl against the JSON `xl create -n` prints (libxl_domain_config_to_json
-- after parse_config_data, Xen 4.17). Every expectation is hand-derived from xl_parse.c
-- (named beside each case) and libxl_types.idl: a field appears only when it differs from
-- its IDL default, aggregates (structs, the b_info "type.X" union) always appear, defbools
-- are "True"/"False", enums are their lower-case IDL names, bitmaps are arrays of bit numbers.
local convert = require("xlua.convert")
local cfg = require("xlua.cfg")
local json = require("xlua.json")

local UUID = "0badc0de-1111-4222-8333-444455556666"
local opts = { uuid_generator = function() return UUID end }

local DELETE = setmetatable({}, { __name = "DELETE" })

local function copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = copy(x)
  end
  return setmetatable(out, getmetatable(v))
end

-- base with delta merged in (nested tables merge, DELETE removes, arrays replace).
local function with(base, delta)
  local out = copy(base)
  for k, v in pairs(delta or {}) do
    if v == DELETE then
      out[k] = nil
    elseif type(v) == "table" and type(out[k]) == "table" and #v == 0 and next(v) ~= nil then
      out[k] = with(out[k], v)
    else
      out[k] = copy(v)
    end
  end
  return out
end

-- Compare as JSON text, so arrays, integers and key sets all count.
local function same(expected, actual)
  assert.are.equal(json.encode(expected, { indent = " " }), json.encode(actual, { indent = " " }))
end

-- What xl gives for name="g" with nothing else but what the type needs:
-- c_info.run_hotplug_scripts from xl.conf (default 1), claim_mode likewise;
-- on_reboot defaults to "restart" and on_soft_reset to "soft-reset" (parse_config_data),
-- the others to destroy, libxl's default, which the JSON leaves out.
local PV = {
  c_info = { type = "pv", name = "g", uuid = UUID, run_hotplug_scripts = "True" },
  b_info = {
    ["type.pv"] = {}, sched_params = {}, arch_arm = {}, arch_x86 = {},
    claim_mode = "True", kernel = "/k",
  },
  on_reboot = "restart",
  on_soft_reset = "soft_reset",
}
local HVM = with(PV, {
  c_info = { type = "hvm" },
  b_info = {
    ["type.pv"] = DELETE, kernel = DELETE,
    ["type.hvm"] = { vga = {}, vnc = {}, sdl = {}, spice = {}, rdm = {} },
  },
})
local PVH = with(PV, { c_info = { type = "pvh" }, b_info = { ["type.pv"] = DELETE, ["type.pvh"] = {} } })

local BASE_XL = { pv = 'name = "g"\nkernel = "/k"\n', hvm = 'name = "g"\ntype = "hvm"\n',
  pvh = 'name = "g"\ntype = "pvh"\nkernel = "/k"\n' }
local BASE_LUA = { pv = { name = "g", kernel = "/k" }, hvm = { name = "g", type = "hvm" },
  pvh = { name = "g", type = "pvh", kernel = "/k" } }
local BASE_JSON = { pv = PV, hvm = HVM, pvh = PVH }

local function xl_values(text)
  local parsed, err = cfg.parse(text, "test.cfg")
  assert(parsed, err)
  return parsed.values
end

local function from_xl(kind, snippet)
  return convert.to_libxl(xl_values(BASE_XL[kind] .. snippet), opts)
end

local function from_lua(kind, values)
  local v = copy(BASE_LUA[kind])
  for k, x in pairs(values) do
    v[k] = x
  end
  return convert.to_libxl(v, opts)
end

-- { what, type, xl = snippet, lua = values, json = delta from the base, from = xl_parse.c }
local cases = {
  { "the bare minimum", "pv", xl = "", lua = {}, json = {},
    from = "name required; type defaults to pv on x86; PV needs kernel or bootloader" },
  { "uuid, any case", "pv", xl = 'uuid = "6A8B0C1E-2F3D-4A5B-8C7D-9E0F1A2B3C4D"\n',
    lua = { uuid = "6A8B0C1E-2F3D-4A5B-8C7D-9E0F1A2B3C4D" },
    json = { c_info = { uuid = "6a8b0c1e-2f3d-4a5b-8c7d-9e0f1a2b3c4d" } },
    from = "libxl_uuid_from_string; LIBXL_UUID_FMT prints lower case" },
  { "type=pvh", "pv", xl = 'type = "pvh"\n', lua = { type = "pvh" },
    json = { c_info = { type = "pvh" }, b_info = { ["type.pv"] = DELETE, ["type.pvh"] = {} } },
    from = "type=; libxl_domain_build_info_init_type" },
  { "type given as a prefix", "pv", xl = 'type = "h"\nkernel = "/usr/lib/xen/boot/hvmloader"\n',
    lua = { type = "h", kernel = "/usr/lib/xen/boot/hvmloader" },
    json = with(HVM, {}), whole = true, warns = true,
    from = "strncmp(buf, \"hvm\", strlen(buf)); a kernel named hvmloader is dropped for HVM" },
  { "builder=hvm", "pv", xl = 'builder = "hvm"\n', lua = { builder = "hvm" },
    json = with(HVM, { b_info = { kernel = "/k" } }),
    whole = true, from = "builder= (deprecated): hvm -> HVM" },
  { "builder=generic", "pv", xl = 'builder = "generic"\n', lua = { builder = "generic" }, json = {},
    from = "builder=: generic -> PV" },
  { "memory", "pv", xl = "memory = 512\n", lua = { memory = 512 },
    json = { b_info = { target_memkb = 524288, max_memkb = 524288 } },
    from = "target_memkb = memory * 1024; max_memkb defaults to target_memkb" },
  { "maxmem", "pv", xl = "memory = 512\nmaxmem = 1024\n", lua = { memory = 512, maxmem = "1024" },
    json = { b_info = { target_memkb = 524288, max_memkb = 1048576 } },
    from = "max_memkb = maxmem * 1024" },
  { "memory in hex, as strtol reads it", "pv", xl = "memory = 0x200\n", lua = { memory = "0x200" },
    json = { b_info = { target_memkb = 524288, max_memkb = 524288 } },
    from = "xlu_cfg_get_long uses strtol(.., 0)" },
  { "vcpus", "pv", xl = "vcpus = 2\n", lua = { vcpus = 2 },
    json = { b_info = { avail_vcpus = json.array({ 0, 1 }), max_vcpus = 2 } },
    from = "avail_vcpus bitmap 0..vcpus-1; max_vcpus defaults to vcpus" },
  { "maxvcpus", "pv", xl = "vcpus = 2\nmaxvcpus = 4\n", lua = { vcpus = 2, maxvcpus = 4 },
    json = { b_info = { avail_vcpus = json.array({ 0, 1 }), max_vcpus = 4 } },
    from = "max_vcpus = maxvcpus" },
  { "cpus as a string", "pv", xl = 'vcpus = 2\ncpus = "0-1,3"\n', lua = { vcpus = 2, cpus = "0-1,3" },
    json = { b_info = { avail_vcpus = json.array({ 0, 1 }), max_vcpus = 2,
      vcpu_hard_affinity = { { 0, 1, 3 }, { 0, 1, 3 } } } },
    from = "parse_vcpu_affinity: a string is copied to every vcpu" },
  { "cpus as a list", "pv", xl = 'vcpus = 2\ncpus = [ "2", "3-4", "5" ]\n',
    lua = { vcpus = 2, cpus = { 2, "3-4", "5" } },
    json = { b_info = { avail_vcpus = json.array({ 0, 1 }), max_vcpus = 2, numa_placement = "False",
      vcpu_hard_affinity = { { 2 }, { 3, 4 } } } },
    from = "parse_vcpu_affinity: one map per vcpu, extra items dropped, numa_placement off" },
  { "cpus with ^", "pv", xl = 'vcpus = 1\ncpus = "0-3,^2"\n', lua = { vcpus = 1, cpus = "0-3,^2" },
    json = { b_info = { avail_vcpus = json.array({ 0 }), max_vcpus = 1,
      vcpu_hard_affinity = { { 0, 1, 3 } } } },
    from = "update_cpumap_range: ^ removes" },
  { "cpus_soft", "pv", xl = 'vcpus = 1\ncpus_soft = "1"\n', lua = { vcpus = 1, cpus_soft = 1 },
    json = { b_info = { avail_vcpus = json.array({ 0 }), max_vcpus = 1, numa_placement = "False",
      vcpu_soft_affinity = { { 1 } } } },
    from = "soft affinity as a string also turns numa_placement off" },
  { "kernel, ramdisk, cmdline", "pv", xl = 'ramdisk = "/i"\ncmdline = "ro quiet"\n',
    lua = { ramdisk = "/i", cmdline = "ro quiet" },
    json = { b_info = { ramdisk = "/i", cmdline = "ro quiet" } },
    from = "b_info.kernel/ramdisk/cmdline (top level of b_info since 4.9)" },
  { "root and extra", "pv", xl = 'root = "/dev/xvda1"\nextra = "console=hvc0"\n',
    lua = { root = "/dev/xvda1", extra = "console=hvc0" },
    json = { b_info = { cmdline = "root=/dev/xvda1 console=hvc0" } },
    from = "parse_cmdline: \"root=%s %s\"" },
  { "root alone", "pv", xl = 'root = "/dev/xvda1"\n', lua = { root = "/dev/xvda1" },
    json = { b_info = { cmdline = "root=/dev/xvda1" } }, from = "parse_cmdline" },
  { "extra alone", "pv", xl = 'extra = "single"\n', lua = { extra = "single" },
    json = { b_info = { cmdline = "single" } }, from = "parse_cmdline" },
  { "cmdline wins over root and extra", "pv", xl = 'cmdline = "a"\nroot = "/r"\nextra = "e"\n',
    lua = { cmdline = "a", root = "/r", extra = "e" }, json = { b_info = { cmdline = "a" } },
    warns = true, from = "parse_cmdline warns and ignores root=/extra=" },
  { "bootloader instead of kernel", "pv",
    xl = 'bootloader = "pygrub"\nbootloader_args = [ "-q", "--entry=1" ]\n',
    lua = { bootloader = "pygrub", bootloader_args = { "-q", "--entry=1" } },
    json = { b_info = { bootloader = "pygrub", bootloader_args = { "-q", "--entry=1" } } },
    from = "b_info.bootloader; bootloader_args as a string list" },
  { "bootloader_args as a string", "pv", xl = 'bootloader_args = "-q  --entry=1"\n',
    lua = { bootloader_args = "-q  --entry=1" },
    json = { b_info = { bootloader_args = { "-q", "--entry=1" } } }, warns = true,
    from = "deprecated string form split on blanks" },
  { "on_poweroff", "pv", xl = 'on_poweroff = "restart"\n', lua = { on_poweroff = "restart" },
    json = { on_poweroff = "restart" }, from = "parse_action_on_shutdown" },
  { "on_reboot=destroy", "pv", xl = 'on_reboot = "destroy"\n', lua = { on_reboot = "destroy" },
    json = { on_reboot = DELETE }, from = "destroy is libxl's default, left out of the JSON" },
  { "on_crash", "pv", xl = 'on_crash = "rename-restart"\n', lua = { on_crash = "rename-restart" },
    json = { on_crash = "restart_rename" }, from = "rename-restart is RESTART_RENAME" },
  { "on_watchdog", "pv", xl = 'on_watchdog = "coredump-destroy"\n',
    lua = { on_watchdog = "coredump-destroy" }, json = { on_watchdog = "coredump_destroy" },
    from = "parse_action_on_shutdown" },
  { "on_soft_reset", "pv", xl = 'on_soft_reset = "preserve"\n', lua = { on_soft_reset = "preserve" },
    json = { on_soft_reset = "preserve" }, from = "parse_action_on_shutdown" },
  { "disk, positional", "pv", xl = 'disk = [ "/dev/vg/g,raw,xvda,rw" ]\n',
    lua = { disk = { "/dev/vg/g,raw,xvda,rw" } },
    json = { disks = { { pdev_path = "/dev/vg/g", vdev = "xvda", format = "raw", readwrite = 1 } } },
    from = "xlu_disk_parse" },
  { "disk, key=value", "pv",
    xl = 'disk = [ "format=qcow2, vdev=xvdb, access=ro, backendtype=qdisk, discard, target=/a b.qcow2" ]\n',
    lua = { disk = { { format = "qcow2", vdev = "xvdb", access = "ro", backendtype = "qdisk",
      discard = true, target = "/a b.qcow2" } } },
    json = { disks = { { pdev_path = "/a b.qcow2", vdev = "xvdb", format = "qcow2",
      backend = "qdisk", discard_enable = "True" } } },
    from = "xlu_disk_parse: key=value, target= last; access=ro leaves readwrite 0" },
  { "disk, empty cdrom", "hvm", xl = 'disk = [ ",,hdc:cdrom,r" ]\n',
    lua = { disk = { ",,hdc:cdrom,r" } },
    json = { disks = { { pdev_path = "", vdev = "hdc", format = "empty", is_cdrom = 1, removable = 1 } } },
    from = "xlu_disk_parse: cdrom is removable, read-only, empty format without a target" },
  { "disk, deprecated prefix and script", "pv", xl = 'disk = [ "phy:/dev/sdb,xvdc,w", "vdev=xvdd, script=block-iscsi, target=iqn.x" ]\n',
    lua = { disk = { "phy:/dev/sdb,xvdc,w", { vdev = "xvdd", script = "block-iscsi", target = "iqn.x" } } },
    json = { disks = {
      { pdev_path = "/dev/sdb", vdev = "xvdc", format = "raw", readwrite = 1 },
      { pdev_path = "iqn.x", vdev = "xvdd", format = "raw", readwrite = 1, script = "block-iscsi" },
    } },
    from = "xlu_disk_parse: phy: is ignored; script=" },
  { "vif options", "pv",
    xl = 'vif = [ "mac=00:16:3E:01:02:0A,bridge=xenbr0,ip=10.0.0.2,script=vif-route,model=e1000,type=ioemu,vifname=web0,backend=netdom,gatewaydev=eth1,mtu=9000" ]\n',
    lua = { vif = { { mac = "00:16:3E:01:02:0A", bridge = "xenbr0", ip = "10.0.0.2", script = "vif-route",
      model = "e1000", type = "ioemu", vifname = "web0", backend = "netdom", gatewaydev = "eth1",
      mtu = 9000 } } },
    json = { nics = { { devid = 0, mac = "00:16:3e:01:02:0a", bridge = "xenbr0", ip = "10.0.0.2",
      script = "vif-route", model = "e1000", nictype = "vif_ioemu", ifname = "web0",
      backend_domname = "netdom", gatewaydev = "eth1", mtu = 9000 } } },
    from = "parse_nic_config; devid is the position (ARRAY_EXTEND_INIT)" },
  { "vif rate and type=vif", "pv", xl = 'vif = [ "bridge=br0", "type=vif, rate=100Mb/s@20ms" ]\n',
    lua = { vif = { "bridge=br0", "type=vif, rate=100Mb/s@20ms" } },
    json = { nics = { { devid = 0, bridge = "br0" },
      { devid = 1, nictype = "vif", rate_bytes_per_interval = 250000, rate_interval_usecs = 20000 } } },
    from = "xlu_vif_parse_rate: 100Mb/s = 12500000 B/s, times 20ms" },
  { "pci for a pv guest", "pv", xl = 'pci = [ "0000:03:00.0", "04:00.1@8,permissive=1" ]\n',
    lua = { pci = { "0000:03:00.0", { bdf = "04:00.1", vslot = 8, permissive = true } } },
    json = { pcidevs = {
      { bus = 3, vfunc_mask = 1, rdm_policy = "strict" },
      { bus = 4, func = 1, vdevfn = 64, vfunc_mask = 1, permissive = true, rdm_policy = "strict" },
    }, b_info = { ["type.pv"] = { e820_host = "True" } } },
    from = "xlu_pci_parse_spec_string; pci= turns on e820_host for PV; rdm_policy is read "
      .. "from b_info->u.hvm.rdm.policy, zero (strict) for a PV build info" },
  { "pci for an hvm guest, global pci_ options", "hvm",
    xl = 'pci_msitranslate = 1\npci_seize = 1\npci = [ "03:00.*" ]\n',
    lua = { pci_msitranslate = true, pci_seize = 1, pci = { "03:00.*" } },
    json = { pcidevs = { { bus = 3, vfunc_mask = 0xffffffff, msitranslate = true, seize = true } } },
    from = "pci_* presets each device; HVM's rdm policy defaults to invalid, left out" },
  { "vfb list", "pv", xl = 'vfb = [ "vnc=1,vnclisten=0.0.0.0,vncdisplay=2,keymap=de,sdl=0" ]\n',
    lua = { vfb = { { vnc = true, vnclisten = "0.0.0.0", vncdisplay = 2, keymap = "de", sdl = false } } },
    json = { vfbs = { { devid = 0, keymap = "de",
      vnc = { enable = "True", listen = "0.0.0.0", display = 2 }, sdl = { enable = "False" } } },
      vkbs = { { devid = 0 } } },
    from = "vfb= parsing: each vfb brings a vkb" },
  { "top-level vnc for a pv guest", "pv",
    xl = 'vnc = 1\nvncpasswd = "s3"\nvncunused = 0\nkeymap = "fr"\n',
    lua = { vnc = true, vncpasswd = "s3", vncunused = false, keymap = "fr" },
    json = { vfbs = { { devid = 0, keymap = "fr", vnc = { enable = "True", passwd = "s3",
      findunused = "False" }, sdl = {} } }, vkbs = { { devid = 0 } } },
    from = "PV without vfb=: vnc=1 makes one vfb from the top-level keys" },
  { "vnc and sdl for an hvm guest", "hvm",
    xl = 'vnc = 1\nvnclisten = "127.0.0.1"\nvncdisplay = 1\nvncpasswd = "pw"\nsdl = 1\nopengl = 0\n',
    lua = { vnc = 1, vnclisten = "127.0.0.1", vncdisplay = 1, vncpasswd = "pw", sdl = true, opengl = false },
    json = { b_info = { ["type.hvm"] = { vnc = { enable = "True", listen = "127.0.0.1", display = 1,
      passwd = "pw" }, sdl = { enable = "True", opengl = "False" } } } },
    from = "parse_top_level_vnc_options / _sdl_options into u.hvm" },
  { "serial as a string", "hvm", xl = 'serial = "pty"\n', lua = { serial = "pty" },
    json = { b_info = { ["type.hvm"] = { serial = "pty" } } }, from = "serial atom -> u.hvm.serial" },
  { "serial as a list", "hvm", xl = 'serial = [ "pty", "file:/tmp/s" ]\n',
    lua = { serial = { "pty", "file:/tmp/s" } },
    json = { b_info = { ["type.hvm"] = { serial_list = { "pty", "file:/tmp/s" } } } },
    from = "serial list -> u.hvm.serial_list" },
  { "boot", "hvm", xl = 'boot = "dc"\n', lua = { boot = "dc" },
    json = { b_info = { ["type.hvm"] = { boot = "dc" } } }, from = "u.hvm.boot" },
  { "hap", "hvm", xl = "hap = 0\n", lua = { hap = false }, json = { c_info = { hap = "False" } },
    from = "c_info.hap defbool" },
  { "viridian as a flag", "hvm", xl = "viridian = 1\n", lua = { viridian = true },
    json = { b_info = { ["type.hvm"] = { viridian = "True" } } }, from = "viridian atom: defbool" },
  { "viridian as a list", "hvm", xl = 'viridian = [ "defaults", "synic", "!freq" ]\n',
    lua = { viridian = { "defaults", "synic", "!freq" } },
    json = { b_info = { ["type.hvm"] = { viridian = "True", viridian_enable = { 7 },
      viridian_disable = { 1 } } } },
    from = "viridian list: defaults, enable and !disable bitmaps" },
  { "acpi", "hvm", xl = "acpi = 0\n", lua = { acpi = false }, json = { b_info = { acpi = "False" } },
    from = "b_info.acpi (the unified field)" },
  { "apic", "hvm", xl = "apic = 1\n", lua = { apic = true }, json = { b_info = { apic = "True" } },
    from = "b_info.apic, read for HVM only" },
  { "pae and nx", "hvm", xl = "pae = 1\nnx = 0\n", lua = { pae = true, nx = 0 },
    json = { b_info = { ["type.hvm"] = { pae = "True", nx = "False" } } }, from = "u.hvm.pae, u.hvm.nx" },
  { "device_model_version", "hvm", xl = 'device_model_version = "qemu-xen-traditional"\n',
    lua = { device_model_version = "qemu-xen-traditional" },
    json = { b_info = { device_model_version = "qemu_xen_traditional" } }, from = "device_model_version" },
  { "firmware=uefi", "hvm", xl = 'firmware = "uefi"\n', lua = { firmware = "uefi" },
    json = { b_info = { ["type.hvm"] = { bios = "ovmf" } } }, from = "firmware: uefi -> ovmf" },
  { "firmware as a path", "hvm", xl = 'firmware = "/opt/fw.bin"\n', lua = { firmware = "/opt/fw.bin" },
    json = { b_info = { ["type.hvm"] = { firmware = "/opt/fw.bin" } } },
    from = "firmware: anything else is a path in u.hvm.firmware" },
  { "firmware=bios", "hvm", xl = 'firmware = "bios"\n', lua = { firmware = "bios" }, json = {},
    from = "firmware: bios leaves the choice to libxl" },
  { "bios", "hvm", xl = 'bios = "SeaBIOS"\n', lua = { bios = "seabios" },
    json = { b_info = { ["type.hvm"] = { bios = "seabios" } } },
    from = "libxl_bios_type_from_string ignores case" },
  { "pvgrub firmware", "pv", xl = 'firmware = "pvgrub64"\n', lua = { firmware = "pvgrub64" },
    json = { b_info = { kernel = "/usr/lib/xen-4.17/boot/pvgrub64.bin" } },
    base = { name = "g" }, from = "PV firmware: XENFIRMWAREDIR/<name>.bin (Debian's path)" },
  { "usb and usbdevice", "hvm", xl = 'usb = 1\nusbdevice = [ "tablet", "mouse" ]\n',
    lua = { usb = true, usbdevice = { "tablet", "mouse" } },
    json = { b_info = { ["type.hvm"] = { usb = "True", usbdevice_list = { "tablet", "mouse" } } } },
    from = "u.hvm.usb; usbdevice list -> usbdevice_list" },
  { "usbdevice as a string", "hvm", xl = 'usbdevice = "tablet"\n', lua = { usbdevice = "tablet" },
    json = { b_info = { ["type.hvm"] = { usbdevice = "tablet" } } }, from = "usbdevice atom" },
  { "localtime", "pv", xl = "localtime = 1\n", lua = { localtime = true },
    json = { b_info = { localtime = "True" } }, from = "b_info.localtime" },
  { "shadow_memory", "hvm", xl = "shadow_memory = 8\n", lua = { shadow_memory = 8 },
    json = { b_info = { shadow_memkb = 8192 } }, from = "shadow_memkb = shadow_memory * 1024" },
  { "videoram", "hvm", xl = "videoram = 16\n", lua = { videoram = 16 },
    json = { b_info = { video_memkb = 16384 } }, from = "video_memkb = videoram * 1024" },
  { "stdvga=1", "hvm", xl = "stdvga = 1\n", lua = { stdvga = true },
    json = { b_info = { ["type.hvm"] = { vga = { kind = "std" } } } }, from = "stdvga -> vga.kind std" },
  { "stdvga=0", "hvm", xl = "stdvga = 0\n", lua = { stdvga = 0 },
    json = { b_info = { ["type.hvm"] = { vga = { kind = "cirrus" } } } }, from = "stdvga=0 -> cirrus" },
  { "vga wins over stdvga", "hvm", xl = 'vga = "none"\nstdvga = 1\n', lua = { vga = "none", stdvga = 1 },
    json = { b_info = { ["type.hvm"] = { vga = { kind = "none" } } } }, warns = true,
    from = "vga= is read first; stdvga only without it" },
}

describe("convert.to_libxl gives what xl gives", function()
  for _, case in ipairs(cases) do
    local what, kind = case[1], case[2]
    local function expected()
      if case.whole then
        return case.json
      end
      local base = BASE_JSON[kind]
      if case.base then
        base = with(base, { b_info = { kernel = DELETE } })
      end
      return with(base, case.json)
    end
    local function check(config, warnings, code)
      assert(config, warnings)
      same(expected(), config)
      if case.warns then
        assert.is_true(#warnings > 0)
      else
        assert.same({}, warnings)
      end
    end
    it(what .. " (xl.cfg; " .. case.from .. ")", function()
      local text = case.base and 'name = "g"\n' or BASE_XL[kind]
      check(convert.to_libxl(xl_values(text .. case.xl), opts))
    end)
    it(what .. " (Lua types)", function()
      local values = copy(case.base or BASE_LUA[kind])
      for k, v in pairs(case.lua) do
        values[k] = v
      end
      check(convert.to_libxl(values, opts))
    end)
  end
end)

describe("convert.to_libxl refuses invalid values, naming the key", function()
  local bad = {
    { "name", {}, kind = "pv", drop = "name" },
    { "kernel", {}, kind = "pv", drop = "kernel" },
    { "maxvcpus", { vcpus = 4, maxvcpus = 2 } },
    { "type", { type = "xen" } },
    { "builder", { type = "pv", builder = "hvm" } },
    { "uuid", { uuid = "not-a-uuid" } },
    { "on_crash", { on_crash = "reboot" } },
    { "on_poweroff", { on_poweroff = 1 } },
    { "cpus", { vcpus = 1, cpus = "3-1" } },
    { "cpus", { vcpus = 1, cpus = "^all" } },
    { "disk", { disk = { "/a,bogus,xvda" } } },
    { "disk", { disk = { "vdev=xvda" } } },
    { "disk", { disk = "/a,raw,xvda,rw" } },
    { "vif", { vif = { "rate=fast" } } },
    { "pci", { pci = { "zz" } } },
    { "pci", { pci = { "03:00.0,bogus=1" } } },
    { "bios", { type = "hvm", bios = "coreboot" } },
    { "device_model_version", { device_model_version = "qemu" } },
    { "firmware", { firmware = "grub" } },
    { "viridian", { type = "hvm", viridian = { "warp_drive" } } },
  }
  for _, case in ipairs(bad) do
    local key, values = case[1], case[2]
    it(key .. " = " .. require("xlua.convert.values").show(values[key] or "(missing)"), function()
      local v = copy(BASE_LUA[values.type == "hvm" and "hvm" or "pv"])
      if case.drop then
        v[case.drop] = nil
      end
      for k, x in pairs(values) do
        v[k] = x
      end
      local config, msg, code = convert.to_libxl(v, opts)
      assert.is_nil(config)
      assert.equal("BADVALUE", code)
      assert.truthy(msg:find(key, 1, true), msg)
    end)
  end

  -- Where xl prints a warning and carries on, so does xlua; strict refuses instead.
  local warned = {
    { "memory", { memory = "lots" }, absent = { "b_info", "target_memkb" } },
    { "memory", { memory = 1.5 }, absent = { "b_info", "target_memkb" } },
    { "memory", { memory = { 1 } }, absent = { "b_info", "target_memkb" } },
    { "maxmem", { maxmem = true }, absent = { "b_info", "max_memkb" } },
    { "vcpus", { vcpus = "two" }, absent = { "b_info", "avail_vcpus" } },
    { "hap", { hap = "yes" }, absent = { "c_info", "hap" } },
    { "ramdisk", { ramdisk = { "/r" } }, absent = { "b_info", "ramdisk" } },
    { "vif", { vif = { "mac=00:16:zz:00:00:01" } } },
    { "vif", { vif = { "type=virtio" } } },
    { "stdvga", { type = "hvm", stdvga = "x" } },
    { "pci_permissive", { pci_permissive = "x", pci = { "01:00.0" } } },
    { "rdm", { rdm = "strategy=guest" } },
    { "timeoffset", { type = "hvm", timeoffset = "3600" }, absent = { "b_info", "type.hvm", "timeoffset" } },
  }
  for _, case in ipairs(warned) do
    local key, values = case[1], case[2]
    it(key .. " = " .. require("xlua.convert.values").show(values[key]) .. " warns and carries on "
      .. "(refused with strict)", function()
      local v = copy(BASE_LUA[values.type == "hvm" and "hvm" or "pv"])
      for k, x in pairs(values) do
        v[k] = x
      end
      local config, warnings = convert.to_libxl(v, opts)
      assert.is_table(config, warnings)
      local said = false
      for _, w in ipairs(warnings) do
        said = said or w:find(key, 1, true) ~= nil
      end
      assert.is_true(said, table.concat(warnings, "\n"))
      if case.absent then
        local t = config
        for _, k in ipairs(case.absent) do
          t = t and t[k]
        end
        assert.is_nil(t)
      end
      local strict = { strict = true, uuid_generator = opts.uuid_generator }
      local none, msg, code = convert.to_libxl(v, strict)
      assert.is_nil(none)
      assert.equal("BADVALUE", code)
      assert.truthy(msg:find(key, 1, true), msg)
    end)
  end

  it("says NEEDHOST for cpus=\"all\" without the host's CPU count, and uses it when given", function()
    local config, _, code = convert.to_libxl({ name = "g", kernel = "/k", vcpus = 1, cpus = "all" }, opts)
    assert.is_nil(config)
    assert.equal("NEEDHOST", code)
    config = convert.to_libxl({ name = "g", kernel = "/k", vcpus = 1, cpus = "all,^0" },
      { uuid_generator = opts.uuid_generator, host = { max_cpus = 4 } })
    -- libxl_cpu_bitmap_alloc rounds the map up to whole bytes: 8 bits for 4 cpus
    same({ { 1, 2, 3, 4, 5, 6, 7 } }, config.b_info.vcpu_hard_affinity)
  end)

  it("raises on a non-table argument", function()
    assert.has_error(function() convert.to_libxl("name=g") end)
  end)
end)

describe("convert.to_libxl warns instead of dropping silently", function()
  it("names an unknown key", function()
    local config, warnings = convert.to_libxl({ name = "g", kernel = "/k", frobnicate = 1 }, opts)
    assert.truthy(config)
    assert.equal(1, #warnings)
    assert.truthy(warnings[1]:find("frobnicate", 1, true))
  end)

  it("names an HVM-only key given to a PV guest", function()
    local _, warnings = convert.to_libxl({ name = "g", kernel = "/k", pae = 1, boot = "c" }, opts)
    assert.equal(2, #warnings)
    assert.truthy(table.concat(warnings, "\n"):find("pae", 1, true))
    assert.truthy(table.concat(warnings, "\n"):find("boot", 1, true))
  end)

  it("names an unknown vif option and an unknown vfb option", function()
    local _, warnings = convert.to_libxl({ name = "g", kernel = "/k", vif = { "bridge=b,colour=red" },
      vfb = { "vnc=1,size=big" } }, opts)
    assert.equal(2, #warnings)
    assert.truthy(warnings[1]:find("colour", 1, true))
    assert.truthy(warnings[2]:find("size", 1, true))
  end)

  it("generates a uuid when none is given, a fresh one each time by default", function()
    local a = convert.to_libxl({ name = "g", kernel = "/k" })
    local b = convert.to_libxl({ name = "g", kernel = "/k" })
    assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", a.c_info.uuid)
    assert.are_not.equal(a.c_info.uuid, b.c_info.uuid)
  end)
end)

-- xlua.xlutil's PCI presets: the table convert hands over is read strictly, like every options
-- table (a truthy non-boolean or a non-string policy is a caller's mistake, not a default).
describe("xlua.xlutil.pci presets", function()
  local xlutil = require("xlua.xlutil")

  it("applies boolean presets and a known rdm_policy", function()
    local p = assert(xlutil.pci("03:00.0", { seize = true, msitranslate = false, rdm_policy = "relaxed" }))
    assert.is_true(p.seize)
    assert.is_nil(p.msitranslate)
    assert.equal("relaxed", p.rdm_policy)
  end)

  it("raises on presets of the wrong type", function()
    for _, presets in ipairs({
      { seize = 1 }, { permissive = "yes" }, { power_mgmt = {} }, { msitranslate = 0 },
      { rdm_policy = 1 }, { rdm_policy = true }, { rdm_policy = "sloppy" },
    }) do
      assert.has_error(function() xlutil.pci("03:00.0", presets) end)
    end
    assert.has_error(function() xlutil.pci("03:00.0", "strict") end)
  end)
end)
