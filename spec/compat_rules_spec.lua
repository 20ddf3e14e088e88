-- The compatibility engine (xlua.compat.check with its defaults and rule table), table-driven:
-- every rule of the issue changed (expected verdict) and unchanged (no difference), the
-- defaulting cases, unknown differences, ordering, the report and its JSON form, --force.
local check = require("xlua.compat.check")
local defaults = require("xlua.compat.defaults")
local json = require("xlua.json")
local report = require("xlua.compat.report")
local rules = require("xlua.compat.rules")

local copy = defaults.copy

-- Saved configs as libxl stores them: every field the rules look at explicit.
local function pv()
  return {
    c_info = { type = "pv", name = "web1", uuid = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b" },
    b_info = {
      max_vcpus = 2, avail_vcpus = { 0, 1 }, max_memkb = 524288, target_memkb = 524288,
      shadow_memkb = 4096, video_memkb = 0, kernel = "/boot/vmlinuz", ["type.pv"] = {},
      sched_params = { weight = 256 }, vcpu_hard_affinity = { { 0, 1 }, { 0, 1 } },
    },
    disks = {
      { pdev_path = "/dev/vg0/web1", vdev = "xvda", format = "raw", readwrite = 1 },
      { pdev_path = "/srv/iso/tools.iso", vdev = "xvdb", format = "raw", is_cdrom = 1, removable = 1 },
    },
    nics = { { devid = 0, mac = "00:16:3e:01:02:03", bridge = "xenbr0", model = "rtl8139" } },
    pcidevs = { { bus = 3, dev = 0, func = 0 } },
    vfbs = { { devid = 0, vnc = { enable = "True", listen = "127.0.0.1", display = 1 } } },
    vkbs = { { devid = 0 } },
    channels = { { devid = 0, name = "org.qemu.guest_agent.0", connection = "pty" } },
    vtpms = { { devid = 0, uuid = "12345678-1234-1234-1234-123456789abc", backend_domname = "vtpmmgr" } },
    usbctrls = { { devid = 0, type = "pv", version = 2, ports = 8 } },
    usbdevs = { { ctrl = 0, port = 1, ["type.hostdev"] = { hostbus = 1, hostaddr = 3 } } },
    p9s = { { tag = "share", path = "/srv/share", security_model = "none" } },
    vdispls = { { devid = 0, connectors = { { unique_id = "id0", width = 800, height = 600 } } } },
    vsnds = { { devid = 0, params = {}, pcms = { { params = {}, streams = { { unique_id = "s0", params = {} } } } } } },
    dtdevs = { { path = "/soc/dma" } },
    on_reboot = "restart",
  }
end

local function hvm()
  return {
    c_info = { type = "hvm", name = "win1", hap = "True", uuid = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" },
    b_info = {
      max_vcpus = 2, avail_vcpus = { 0, 1 }, max_memkb = 2097152, target_memkb = 2097152,
      shadow_memkb = 10240, video_memkb = 16384, device_model_version = "qemu_xen",
      acpi = "True", apic = "True", timer_mode = "no_delay_for_missed_ticks",
      ["type.hvm"] = {
        bios = "seabios", pae = "True", nx = "True", viridian = "False", acpi = "True",
        vga = { kind = "std" }, vnc = { enable = "True", listen = "127.0.0.1" }, sdl = { enable = "False" },
        ms_vm_genid = { 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171 },
      },
      vnuma_nodes = {
        { memkb = 1048576, vcpus = { 0 }, distances = { 10, 20 } },
        { memkb = 1048576, vcpus = { 1 }, distances = { 20, 10 } },
      },
      cpuid = { cpuid = { { leaf = 1, ecx = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0" } }, msr = {} },
    },
    disks = { { pdev_path = "/dev/vg0/win1", vdev = "hda", format = "raw", readwrite = 1 } },
    nics = { { devid = 0, mac = "00:16:3e:0a:0b:0c", bridge = "xenbr0", model = "e1000" } },
  }
end

local BASES = { pv = pv, hvm = hvm }

-- Every rule of the issue: how to change it, the path of the difference and its verdict.
-- `also` marks cases whose change brings other differences with it (the domain type).
local I, A, W = "incompatible", "allowed", "warning"
local CASES = {
  -- must stay the same
  { "domain type", "pv", function(c) c.c_info.type = "pvh"; c.b_info["type.pv"] = nil end, "c_info.type", I, also = true },
  { "maximum memory", "pv", function(c) c.b_info.max_memkb = 1048576 end, "b_info.max_memkb", I },
  { "initial memory above the maximum", "pv", function(c) c.b_info.target_memkb = 1048576 end,
    "b_info.target_memkb", I },
  { "shadow memory", "pv", function(c) c.b_info.shadow_memkb = 8192 end, "b_info.shadow_memkb", I },
  { "maximum vcpus", "pv", function(c) c.b_info.max_vcpus = 4 end, "b_info.max_vcpus", I },
  { "online vcpu set", "pv", function(c) c.b_info.avail_vcpus = { 0 } end, "b_info.avail_vcpus", I },
  { "number of disks", "pv", function(c) c.disks[3] = { pdev_path = "/dev/vg0/x", vdev = "xvdc" } end, "disks", I },
  { "disk vdev", "pv", function(c) c.disks[2].vdev = "xvdc" end, "disks[1].vdev", I },
  { "disk is a cdrom", "pv", function(c) c.disks[1].is_cdrom = 1 end, "disks[0].is_cdrom", I },
  { "number of nics", "pv", function(c) c.nics[2] = { devid = 1, mac = "00:16:3e:01:02:04" } end, "nics", I },
  { "nic MAC", "pv", function(c) c.nics[1].mac = "00:16:3e:01:02:99" end, "nics[0].mac", I },
  { "nic model", "pv", function(c) c.nics[1].model = "e1000" end, "nics[0].model", I },
  { "PCI device", "pv", function(c) c.pcidevs[1].bus = 4 end, "pcidevs[0]", I },
  { "number of PCI devices", "pv", function(c) c.pcidevs[2] = { bus = 5 } end, "pcidevs", I },
  { "hvm firmware (bios)", "hvm", function(c) c.b_info["type.hvm"].bios = "ovmf" end, "b_info.type.hvm.bios", I },
  { "hvm firmware (path)", "hvm", function(c) c.b_info["type.hvm"].firmware = "/usr/lib/xen/boot/custom" end,
    "b_info.type.hvm.firmware", I },
  { "device model version", "hvm", function(c) c.b_info.device_model_version = "qemu_xen_traditional" end,
    "b_info.device_model_version", I },
  { "hap", "hvm", function(c) c.c_info.hap = "False" end, "c_info.hap", I },
  { "viridian", "hvm", function(c) c.b_info["type.hvm"].viridian = "True" end, "b_info.type.hvm.viridian", I },
  { "viridian enlightenments", "hvm", function(c) c.b_info["type.hvm"].viridian_enable = { 1, 2 } end,
    "b_info.type.hvm.viridian_enable", I },
  { "acpi", "hvm", function(c) c.b_info.acpi = "False" end, "b_info.acpi", I },
  { "acpi (hvm field)", "hvm", function(c) c.b_info["type.hvm"].acpi = "False" end, "b_info.type.hvm.acpi", I },
  { "apic", "hvm", function(c) c.b_info.apic = "False" end, "b_info.apic", I },
  { "pae", "hvm", function(c) c.b_info["type.hvm"].pae = "False" end, "b_info.type.hvm.pae", I },
  { "nx", "hvm", function(c) c.b_info["type.hvm"].nx = "False" end, "b_info.type.hvm.nx", I },
  { "vga kind", "hvm", function(c) c.b_info["type.hvm"].vga.kind = "cirrus" end, "b_info.type.hvm.vga.kind", I },
  { "video memory", "hvm", function(c) c.b_info.video_memkb = 32768 end, "b_info.video_memkb", I },
  { "timer mode", "hvm", function(c) c.b_info.timer_mode = "delay_for_missed_ticks" end, "b_info.timer_mode", I },
  { "cpuid policy", "hvm", function(c) c.b_info.cpuid = { { leaf = 1, ecx = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0" } } end,
    "b_info.cpuid", I },
  { "number of vfbs", "pv", function(c) c.vfbs = nil end, "vfbs", I },
  { "number of vkbs", "pv", function(c) c.vkbs[2] = { devid = 1 } end, "vkbs", I },
  { "number of consoles", "pv", function(c) c.consoles = { { devid = 0 } } end, "consoles", I },
  { "number of channels", "pv", function(c) c.channels = {} end, "channels", I },
  -- may change
  { "disk backing path", "pv", function(c) c.disks[1].pdev_path = "/dev/vg1/web1" end, "disks[0].pdev_path", A },
  { "disk format", "pv", function(c) c.disks[1].format = "qcow2" end, "disks[0].format", A },
  { "disk backend", "pv", function(c) c.disks[1].backend = "qdisk" end, "disks[0].backend", A },
  { "disk backend domain", "pv", function(c) c.disks[1].backend_domname = "storage" end, "disks[0].backend_domname", A },
  { "nic bridge", "pv", function(c) c.nics[1].bridge = "br1" end, "nics[0].bridge", A },
  { "nic script", "pv", function(c) c.nics[1].script = "vif-route" end, "nics[0].script", A },
  { "nic ip", "pv", function(c) c.nics[1].ip = "192.0.2.10" end, "nics[0].ip", A },
  { "vif name", "pv", function(c) c.nics[1].ifname = "web1.0" end, "nics[0].ifname", A },
  { "nic backend", "pv", function(c) c.nics[1].backend_domname = "netback" end, "nics[0].backend_domname", A },
  { "domain name", "pv", function(c) c.c_info.name = "web2" end, "c_info.name", A },
  { "lifecycle action", "pv", function(c) c.on_crash = "preserve" end, "on_crash", A },
  { "lifecycle action (reboot)", "pv", function(c) c.on_reboot = "destroy" end, "on_reboot", A },
  { "VNC (hvm)", "hvm", function(c) c.b_info["type.hvm"].vnc.listen = "0.0.0.0" end, "b_info.type.hvm.vnc.listen", A },
  { "SDL (hvm)", "hvm", function(c) c.b_info["type.hvm"].sdl.enable = "True" end, "b_info.type.hvm.sdl.enable", A },
  { "VNC (vfb)", "pv", function(c) c.vfbs[1].vnc.display = 7 end, "vfbs[0].vnc.display", A },
  { "SDL (vfb)", "pv", function(c) c.vfbs[1].sdl = { enable = "True" } end, "vfbs[0].sdl.enable", A },
  { "CPU affinity", "pv", function(c) c.b_info.vcpu_hard_affinity = { { 2 }, { 3 } } end, "b_info.vcpu_hard_affinity", A },
  { "CPU map", "pv", function(c) c.b_info.cpumap = { 4, 5 } end, "b_info.cpumap", A },
  { "scheduler weight", "pv", function(c) c.b_info.sched_params.weight = 512 end, "b_info.sched_params.weight", A },
  { "scheduler cap", "pv", function(c) c.b_info.sched_params.cap = 50 end, "b_info.sched_params.cap", A },
  -- a second look (issue 13): only read at boot, a balloon target, emulated USB
  { "balloon target below the maximum", "pv", function(c) c.b_info.target_memkb = 262144 end,
    "b_info.target_memkb", W, rule = true },
  { "kernel", "pv", function(c) c.b_info.kernel = "/boot/vmlinuz-new" end, "b_info.kernel", A },
  { "ramdisk", "pv", function(c) c.b_info.ramdisk = "/boot/initrd-new" end, "b_info.ramdisk", A },
  { "cmdline", "pv", function(c) c.b_info.cmdline = "root=/dev/xvda1 quiet" end, "b_info.cmdline", A },
  { "bootloader", "pv", function(c) c.b_info.bootloader = "pygrub" end, "b_info.bootloader", A },
  { "hvm boot order", "hvm", function(c) c.b_info["type.hvm"].boot = "dc" end, "b_info.type.hvm.boot", A },
  { "hvm usbdevice", "hvm", function(c) c.b_info["type.hvm"].usbdevice = "tablet" end,
    "b_info.type.hvm.usbdevice", I },
  { "hvm usbdevice list", "hvm", function(c) c.b_info["type.hvm"].usbdevice_list = { "tablet", "mouse" } end,
    "b_info.type.hvm.usbdevice_list", I },
  { "hvm usb", "hvm", function(c) c.b_info["type.hvm"].usb = "True" end, "b_info.type.hvm.usb", I },
  -- the device kinds and platform keys of issue 13
  { "number of vtpms", "pv", function(c) c.vtpms[2] = { devid = 1, uuid = "22222222-3333-4444-5555-666666666666" } end,
    "vtpms", I },
  { "vtpm uuid", "pv", function(c) c.vtpms[1].uuid = "22222222-3333-4444-5555-666666666666" end, "vtpms[0].uuid", I },
  { "vtpm without its uuid", "pv", function(c) c.vtpms[1].uuid = nil end, "vtpms[0].uuid", I },
  { "vtpm backend", "pv", function(c) c.vtpms[1].backend_domname = "vtpmmgr2" end, "vtpms[0].backend_domname", A },
  { "vkb unique id", "pv", function(c) c.vkbs[1].unique_id = "k9" end, "vkbs[0].unique_id", I },
  { "vkb size", "pv", function(c) c.vkbs[1].width = 1024 end, "vkbs[0].width", I },
  { "vkb feature", "pv", function(c) c.vkbs[1].feature_abs_pointer = true end, "vkbs[0].feature_abs_pointer", I },
  { "channel name", "pv", function(c) c.channels[1].name = "org.example.other" end, "channels[0].name", I },
  { "channel connection", "pv", function(c) c.channels[1].connection = "socket" end, "channels[0].connection", A },
  { "channel socket path", "pv", function(c) c.channels[2] = nil; c.channels[1] = { devid = 0,
    name = "org.qemu.guest_agent.0", ["connection.socket"] = { path = "/run/b.sock" } } end,
    "channels[0].connection", A, also = true },
  { "number of usb controllers", "pv", function(c) c.usbctrls[2] = { devid = 1 } end, "usbctrls", I },
  { "usb controller version", "pv", function(c) c.usbctrls[1].version = 1 end, "usbctrls[0].version", I },
  { "usb controller ports", "pv", function(c) c.usbctrls[1].ports = 4 end, "usbctrls[0].ports", I },
  { "number of usb devices", "pv", function(c) c.usbdevs = nil end, "usbdevs", I },
  { "usb device", "pv", function(c) c.usbdevs[1]["type.hostdev"].hostaddr = 4 end, "usbdevs[0]", I },
  { "number of 9pfs shares", "pv", function(c) c.p9s = nil end, "p9s", I },
  { "9pfs tag", "pv", function(c) c.p9s[1].tag = "other" end, "p9s[0].tag", I },
  { "9pfs path", "pv", function(c) c.p9s[1].path = "/srv/moved" end, "p9s[0].path", A },
  { "9pfs security model", "pv", function(c) c.p9s[1].security_model = "passthrough" end,
    "p9s[0].security_model", W, rule = true },
  { "number of pvcalls", "pv", function(c) c.pvcallsifs = { { devid = 0 } } end, "pvcallsifs", I },
  { "vdispl connectors", "pv", function(c) c.vdispls[1].connectors[1].width = 1280 end,
    "vdispls[0].connectors[0].width", I },
  { "vdispl backend", "pv", function(c) c.vdispls[1].backend_domname = "disp" end,
    "vdispls[0].backend_domname", A },
  { "number of vdispls", "pv", function(c) c.vdispls = nil end, "vdispls", I },
  { "vsnd stream", "pv", function(c) c.vsnds[1].pcms[1].streams[1].unique_id = "s9" end,
    "vsnds[0].pcms[0].streams[0].unique_id", I },
  { "vsnd backend", "pv", function(c) c.vsnds[1].backend_domname = "snd" end, "vsnds[0].backend_domname", A },
  { "number of vsnds", "pv", function(c) c.vsnds = nil end, "vsnds", I },
  { "dtdev", "pv", function(c) c.dtdevs[1].path = "/soc/other" end, "dtdevs[0].path", I },
  { "number of dtdevs", "pv", function(c) c.dtdevs = nil end, "dtdevs", I },
  { "iomem", "pv", function(c) c.b_info.iomem = { { start = 1, number = 2 } } end, "b_info.iomem", I },
  { "ioports", "pv", function(c) c.b_info.ioports = { { first = 0x2f8, number = 8 } } end, "b_info.ioports", I },
  { "irqs", "pv", function(c) c.b_info.irqs = { 4, 5 } end, "b_info.irqs", I },
  { "vnuma topology", "hvm", function(c) c.b_info.vnuma_nodes[2].distances = { 30, 10 } end,
    "b_info.vnuma_nodes", I },
  { "cpuid policy (libxl's shape)", "hvm", function(c) c.b_info.cpuid.cpuid[1].ecx = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1" end,
    "b_info.cpuid", I },
  { "VM generation id", "hvm", function(c) c.b_info["type.hvm"].ms_vm_genid[1] = 1 end,
    "b_info.type.hvm.ms_vm_genid", W, rule = true },
  -- anything else
  { "unknown field (tsc_mode)", "pv", function(c) c.b_info.tsc_mode = "native" end, "b_info.tsc_mode", W },
  { "unknown field (disk direct_io_safe)", "pv", function(c) c.disks[1].direct_io_safe = true end, "disks[0].direct_io_safe", W },
  { "unknown field (pool)", "pv", function(c) c.c_info.pool_name = "pool1" end, "c_info.pool_name", W },
  -- identity: guest-visible on HVM through SMBIOS
  { "uuid", "pv", function(c) c.c_info.uuid = "00000000-1111-4222-8333-444444444444" end, "c_info.uuid", I },
  { "uuid (HVM)", "hvm", function(c) c.c_info.uuid = "00000000-1111-4222-8333-444444444444" end, "c_info.uuid", I },
}

local function find(r, path)
  for _, d in ipairs(r.differences) do
    if d.path == path then
      return d
    end
  end
end

local function paths(r)
  local out = {}
  for _, d in ipairs(r.differences) do
    out[#out + 1] = d.path .. "=" .. d.verdict
  end
  return out
end

describe("compat rules", function()
  for _, case in ipairs(CASES) do
    local name, base, change, path, verdict = case[1], case[2], case[3], case[4], case[5]

    it(name .. " changed: " .. verdict, function()
      local wanted = BASES[base]()
      change(wanted)
      local r = check.check(BASES[base](), wanted)
      local d = find(r, path)
      assert.is_not_nil(d, path .. " not reported; got " .. table.concat(paths(r), " "))
      assert.equal(verdict, d.verdict)
      assert.is_string(d.reason)
      if not case.also then
        assert.equal(1, #r.differences, table.concat(paths(r), " "))
      end
      assert.equal(verdict ~= I, r.compatible)
      if verdict == W and not case.rule then
        assert.equal(rules.UNKNOWN_REASON, d.reason)
        assert.equal("unknown", d.source)
      end
    end)

    it(name .. " unchanged: no difference", function()
      local saved, wanted = BASES[base](), BASES[base]()
      change(saved)
      change(wanted)
      local r = check.check(saved, wanted)
      assert.same({}, paths(r))
      assert.is_true(r.compatible)
    end)
  end

  it("reports old and new values, counts for device counts", function()
    local wanted = pv()
    wanted.b_info.max_memkb = 1048576
    wanted.disks[3] = { pdev_path = "/dev/vg0/x", vdev = "xvdc" }
    local r = check.check(pv(), wanted)
    local mem, count = find(r, "b_info.max_memkb"), find(r, "disks")
    assert.same({ 524288, 1048576 }, { mem.old, mem.new })
    assert.same({ 2, 3 }, { count.old, count.new })
    assert.is_nil(find(r, "disks[2].vdev")) -- an added device is the count difference alone
  end)

  it("a changed domain type does not list every field of the two unions", function()
    local wanted = pv()
    wanted.c_info.type = "hvm"
    wanted.b_info["type.pv"] = nil
    wanted.b_info["type.hvm"] = { pae = "True" }
    local r = check.check(pv(), wanted)
    for _, d in ipairs(r.differences) do
      assert.is_nil(d.path:match("^b_info%.type%."), d.path)
    end
    assert.equal(I, find(r, "c_info.type").verdict)
  end)

  it("warns when another domain has the new name, allows it otherwise", function()
    local wanted = pv()
    wanted.c_info.name = "web2"
    local free = check.check(pv(), wanted, { context = { domains = { { domid = 0, name = "Domain-0" } } } })
    assert.equal(A, find(free, "c_info.name").verdict)
    local taken = check.check(pv(), wanted, { context = { domains = { { domid = 7, name = "web2" } } } })
    assert.equal(W, find(taken, "c_info.name").verdict)
    assert.is_true(taken.compatible)
  end)

  it("reports no difference for an unchanged name, in use or not (restore checks that)", function()
    local r = check.check(pv(), pv(), { context = { domains = { { domid = 3, name = "web1" } } } })
    assert.same({}, paths(r))
    local self = check.check(pv(), pv(), { context = { domid = 3, domains = { { domid = 3, name = "web1" } } } })
    assert.same({}, paths(self))
  end)

  it("does not change its arguments", function()
    local saved, wanted = hvm(), hvm()
    wanted.b_info.max_memkb = nil
    local before = json.encode(wanted)
    check.check(saved, wanted)
    assert.equal(before, json.encode(wanted))
    assert.equal(json.encode(hvm()), json.encode(saved))
  end)

  it("raises on arguments that are not tables", function()
    assert.has_error(function() check.check(nil, {}) end)
    assert.has_error(function() check.check({}, "x") end)
  end)
end)

-- Defaulting: each pair differs only in what libxl (or xl) would fill in.
local SAME = {
  { "maxmem absent vs equal to memory", "pv", function(c) c.b_info.max_memkb = nil end },
  { "memory absent vs equal to maxmem", "pv", function(c) c.b_info.target_memkb = nil end },
  { "max_vcpus absent vs 1", "pv", function(c)
    c.b_info.max_vcpus, c.b_info.avail_vcpus, c.b_info.vcpu_hard_affinity = nil, nil, nil
    c.b_info.shadow_memkb = 4 * (0 + 512)
  end, function(c)
    c.b_info.max_vcpus, c.b_info.avail_vcpus, c.b_info.vcpu_hard_affinity = 1, { 0 }, nil
    c.b_info.shadow_memkb = 4 * (0 + 512)
  end },
  { "avail_vcpus absent vs the full set of one vcpu", "pv", function(c)
    c.b_info.max_vcpus, c.b_info.avail_vcpus, c.b_info.vcpu_hard_affinity = 1, nil, nil
  end, function(c)
    c.b_info.max_vcpus, c.b_info.avail_vcpus, c.b_info.vcpu_hard_affinity = 1, { 0 }, nil
  end },
  { "avail_vcpus empty vs absent", "pv", function(c) c.b_info.avail_vcpus = json.array() end,
    function(c) c.b_info.avail_vcpus = nil end },
  { "avail_vcpus in another order", "pv", function(c) c.b_info.avail_vcpus = { 1, 0 } end },
  { "shadow memory absent vs libxl's (pv)", "pv", function(c) c.b_info.shadow_memkb = nil end,
    function(c) c.b_info.shadow_memkb = 4 * (256 * 2 + 524288 // 1024) end },
  { "shadow memory absent vs libxl's (hvm with hap)", "hvm", function(c) c.b_info.shadow_memkb = nil end,
    function(c) c.b_info.shadow_memkb = 4 * (256 * 2 + 2097152 // 1024) end },
  { "shadow memory absent vs libxl's (hvm without hap)", "hvm", function(c)
    c.c_info.hap, c.b_info.shadow_memkb = "False", nil
  end, function(c)
    c.c_info.hap, c.b_info.shadow_memkb = "False", 4 * (256 * 2 + 2 * (2097152 // 1024))
  end },
  { "hvm platform defaults absent vs explicit", "hvm", function(c)
    local u = c.b_info["type.hvm"]
    u.pae, u.nx, u.viridian, u.acpi, u.bios = nil, nil, nil, nil, nil
    c.b_info.acpi, c.b_info.apic, c.b_info.timer_mode, c.b_info.device_model_version = nil, nil, nil, nil
    c.c_info.hap = nil
  end },
  { "hvm defbools \"default\" vs explicit defaults", "hvm", function(c)
    local u = c.b_info["type.hvm"]
    u.pae, u.nx, u.viridian, c.b_info.apic, c.c_info.hap = "default", "default", "default", "default", "default"
  end },
  { "vga kind and video memory absent vs cirrus and 8 MiB", "hvm", function(c)
    c.b_info["type.hvm"].vga, c.b_info.video_memkb = {}, nil
  end, function(c)
    c.b_info["type.hvm"].vga, c.b_info.video_memkb = { kind = "cirrus" }, 8192
  end },
  { "stdvga video memory absent vs 16 MiB", "hvm", function(c) c.b_info.video_memkb = nil end },
  { "traditional device model: rombios and 4 MiB cirrus", "hvm", function(c)
    c.b_info.device_model_version, c.b_info["type.hvm"].bios = "qemu_xen_traditional", nil
    c.b_info["type.hvm"].vga, c.b_info.video_memkb = nil, nil
  end, function(c)
    c.b_info.device_model_version, c.b_info["type.hvm"].bios = "qemu_xen_traditional", "rombios"
    c.b_info["type.hvm"].vga, c.b_info.video_memkb = { kind = "cirrus" }, 4096
  end },
  { "deprecated hvm timer_mode and apic vs their new place", "hvm", function(c)
    c.b_info.timer_mode, c.b_info.apic = nil, nil
    c.b_info["type.hvm"].timer_mode, c.b_info["type.hvm"].apic = "no_delay_for_missed_ticks", "True"
  end },
  { "pv kernel in the union vs b_info.kernel", "pv", function(c)
    c.b_info.kernel, c.b_info["type.pv"].kernel = nil, "/boot/vmlinuz"
  end },
  { "nic model absent vs rtl8139", "pv", function(c) c.nics[1].model = nil end },
  { "MAC in capitals", "pv", function(c) c.nics[1].mac = "00:16:3E:01:02:03" end },
  { "is_cdrom absent vs 0", "pv", function(c) c.disks[1].is_cdrom = nil end,
    function(c) c.disks[1].is_cdrom = 0 end },
  { "lifecycle action absent vs destroy", "pv", function(c) c.on_poweroff = nil end,
    function(c) c.on_poweroff = "destroy" end },
  { "nested keyed union vs libxl's type.hvm key", "hvm", function(c)
    c.b_info.type = { hvm = c.b_info["type.hvm"] }
    c.b_info["type.hvm"] = nil
  end },
  { "numbers as floats (cjson) vs integers", "pv", function(c)
    c.b_info.max_memkb, c.b_info.max_vcpus = 524288.0, 2.0
  end },
  { "empty structs vs absent", "pv", function(c) c.b_info.arch_arm, c.b_info.sched_params.extratime = {}, 0 end },
}

describe("compat defaults", function()
  for _, case in ipairs(SAME) do
    local name, base, left, right = case[1], case[2], case[3], case[4]
    it(name .. ": no difference", function()
      local saved, wanted = BASES[base](), BASES[base]()
      left(saved)
      if right then
        right(wanted)
      end
      local r1, r2 = check.check(saved, wanted), check.check(wanted, saved)
      assert.same({}, paths(r1))
      assert.same({}, paths(r2))
    end)
  end

  it("avail_vcpus absent means vcpu 0 only, as in libxl: not the full set of 2", function()
    local wanted = pv()
    wanted.b_info.avail_vcpus = nil
    local r = check.check(pv(), wanted)
    assert.same({ "b_info.avail_vcpus=incompatible" }, paths(r))
    assert.same({ 0 }, find(r, "b_info.avail_vcpus").new)
  end)

  it("a default differs from an explicit non-default value", function()
    local saved, wanted = hvm(), hvm()
    saved.b_info["type.hvm"].pae = nil
    wanted.b_info["type.hvm"].pae = "False"
    assert.same({ "b_info.type.hvm.pae=incompatible" }, paths(check.check(saved, wanted)))
  end)

  it("maxmem absent vs a different memory is a difference", function()
    local wanted = pv()
    wanted.b_info.max_memkb = nil
    wanted.b_info.target_memkb = 262144
    local r = check.check(pv(), wanted)
    assert.equal(I, find(r, "b_info.max_memkb").verdict)
    -- (the target is below the maximum: a warning)
    assert.equal(W, find(r, "b_info.target_memkb").verdict)
  end)

  it("a usb controller left to libxl's defaults is the one libxl makes", function()
    local saved, wanted = pv(), pv()
    wanted.usbctrls[1] = { devid = 0 } -- xl's "usbctrl = [ \"\" ]": auto, version 0, ports 0
    assert.same({}, paths(check.check(saved, wanted)))
    local h1, h2 = hvm(), hvm()
    h1.usbctrls = { { devid = 0, type = "devicemodel", version = 2, ports = 6 } }
    h2.usbctrls = { { devid = 0 } }
    assert.same({}, paths(check.check(h1, h2)))
    h2.usbctrls = { { devid = 0, version = 3 } }
    assert.same({ "usbctrls[0].ports=incompatible", "usbctrls[0].version=incompatible" },
      paths(check.check(h1, h2)))
  end)

  it("a nic without a MAC is a different MAC (libxl picks a random one)", function()
    local wanted = pv()
    wanted.nics[1].mac = nil
    assert.same({ "nics[0].mac=incompatible" }, paths(check.check(pv(), wanted)))
  end)

  it("hap follows the host: a host without hap defaults it to False", function()
    local saved, wanted = hvm(), hvm()
    saved.c_info.hap, wanted.c_info.hap = "False", nil
    saved.b_info.shadow_memkb, wanted.b_info.shadow_memkb = nil, nil
    assert.same({}, paths(check.check(saved, wanted, { context = { host = { hap = false } } })))
    assert.same({ "b_info.shadow_memkb=incompatible", "c_info.hap=incompatible" },
      paths(check.check(saved, wanted)))
  end)

  it("apply works on a copy", function()
    local c = hvm()
    c.b_info.max_memkb = nil
    local d = defaults.apply(c)
    assert.is_nil(c.b_info.max_memkb)
    assert.equal(2097152, d.b_info.max_memkb)
    assert.equal("True", d.b_info["type.hvm"].pae)
  end)
end)

describe("compat report", function()
  local function messy()
    local saved, wanted = pv(), pv()
    for i = 3, 12 do
      saved.disks[i] = { pdev_path = "/dev/vg0/d" .. i, vdev = "xvd" .. string.char(96 + i) }
      wanted.disks[i] = { pdev_path = "/dev/vg1/d" .. i, vdev = "xvd" .. string.char(96 + i) }
    end
    wanted.c_info.name = "web9"
    wanted.b_info.max_memkb = 1048576
    wanted.b_info.tsc_mode = "native"
    wanted.nics[1].mac = "00:16:3e:ff:ff:ff"
    return saved, wanted
  end

  it("sorts differences by path, list indexes as numbers", function()
    local r = check.check(messy())
    local keys = {}
    for i, d in ipairs(r.differences) do
      keys[i] = d.path
    end
    local idx2, idx10 = nil, nil
    for i, p in ipairs(keys) do
      if p == "disks[2].pdev_path" then idx2 = i end
      if p == "disks[10].pdev_path" then idx10 = i end
    end
    assert.is_true(idx2 < idx10)
    local sorted = { table.unpack(keys) }
    table.sort(sorted, function(a, b) return check.sort_key(a) < check.sort_key(b) end)
    assert.same(sorted, keys)
  end)

  it("is the same whatever order the tables were built in", function()
    local a1, b1 = messy()
    local a2, b2 = {}, {}
    -- rebuild with keys inserted in reverse order
    local function rebuild(src)
      if type(src) ~= "table" then
        return src
      end
      local keys = {}
      for k in pairs(src) do keys[#keys + 1] = k end
      table.sort(keys, function(x, y) return tostring(x) > tostring(y) end)
      local out = {}
      for _, k in ipairs(keys) do out[k] = rebuild(src[k]) end
      return out
    end
    a2, b2 = rebuild(a1), rebuild(b1)
    assert.equal(report.json(check.check(a1, b1)), report.json(check.check(a2, b2)))
    assert.equal(report.text(check.check(a1, b1)), report.text(check.check(a2, b2)))
  end)

  it("has one text line per difference and a summary", function()
    local r = check.check(messy())
    local text = report.text(r)
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(#r.differences + 1, #lines)
    assert.truthy(lines[1]:match("^%a+%s+%S+: .* %-> .* %(.+%)$"))
    assert.truthy(lines[#lines]:match("^not compatible"))
    assert.truthy(report.text(check.check(pv(), pv())):match("^compatible"))
  end)

  it("has a stable JSON form: fixed keys, absent values as null", function()
    local saved, wanted = pv(), pv()
    wanted.nics[1].ip = "192.0.2.1"
    local r = check.check(saved, wanted)
    local v = assert(json.decode(report.json(r)))
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "compatible", "counts", "differences", "forced" }, keys)
    assert.same({ allowed = 1, warning = 0, incompatible = 0 }, v.counts)
    local d = v.differences[1]
    assert.equal("nics[0].ip", d.path)
    assert.equal(json.null, d.old)
    assert.equal("192.0.2.1", d.new)
    assert.equal("allowed", d.verdict)
    local dkeys = {}
    for k in pairs(d) do dkeys[#dkeys + 1] = k end
    table.sort(dkeys)
    assert.same({ "new", "old", "path", "reason", "source", "verdict" }, dkeys)
    -- an empty report still has a differences array
    assert.truthy(report.json(check.check(pv(), pv())):match('"differences": %[%]'))
  end)

  it("with force: still not compatible, lists what it overrides", function()
    local wanted = pv()
    wanted.b_info.max_memkb = 1048576
    wanted.c_info.name = "web2"
    local r = check.check(pv(), wanted, { force = true })
    assert.is_false(r.compatible)
    assert.is_true(r.forced)
    assert.equal(1, #r.overridden)
    assert.equal("b_info.max_memkb", r.overridden[1].path)
    local v = json.decode(report.json(r))
    assert.same({ "b_info.max_memkb" }, v.overridden)
    assert.truthy(report.text(r):match("forced"))
    assert.is_nil(check.check(pv(), wanted).overridden)
  end)
end)

describe("compat rule table", function()
  it("matches [*] and * and subtrees", function()
    assert.is_true(rules.match("disks[*].vdev", "disks[12].vdev"))
    assert.is_false(rules.match("disks[*].vdev", "disks[1].vdevx"))
    assert.is_true(rules.match("b_info.*.weight", "b_info.sched_params.weight"))
    assert.is_true(rules.match("b_info.type.hvm.vnc", "b_info.type.hvm.vnc.listen", true))
    assert.is_false(rules.match("b_info.type.hvm.vnc", "b_info.type.hvm.vncx", true))
  end)

  it("has a verdict and a sentence for every rule", function()
    for _, r in ipairs(rules.list) do
      assert.is_not_nil(rules.RANK[r.verdict], r.path)
      assert.truthy(r.reason:match("%.$"), r.path)
    end
  end)
end)
