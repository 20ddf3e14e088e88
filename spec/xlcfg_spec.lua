-- xlcfg.render: libxl JSON back to a readable xl.cfg, and the round trip
-- convert.to_libxl(cfg.parse(render(c)).values) == c.
local cfg = require("xlua.cfg")
local config = require("xlua.config")
local convert = require("xlua.convert")
local json = require("xlua.json")
local xlcfg = require("xlua.xlcfg")

local UUID = "0badc0de-1111-4222-8333-444455556666"
local opts = { uuid_generator = function() return UUID end }

local function round_trip(c)
  local text = xlcfg.render(c)
  local parsed, err = cfg.parse(text, "rendered.cfg")
  assert(parsed, err)
  local again, warnings = convert.to_libxl(parsed.values, opts)
  assert(again, warnings)
  return again, text, warnings
end

local function same(a, b)
  assert.are.equal(json.encode(a, { indent = " " }), json.encode(b, { indent = " " }))
end

-- Configs that exercise every key the renderer knows.
local configs = {
  pv = { name = "web1", memory = 1024, maxmem = 2048, vcpus = 2, maxvcpus = 4, cpus = "0-1,3",
    kernel = "/boot/vmlinuz", ramdisk = "/boot/initrd", cmdline = "root=/dev/xvda1 ro",
    on_crash = "preserve", on_watchdog = "coredump-restart", on_soft_reset = "destroy",
    disk = { "/dev/vg/web1,raw,xvda,rw", "format=qcow2,vdev=xvdb,access=ro,backendtype=qdisk,discard,target=/d.qcow2",
      "vdev=xvdc, script=block-iscsi, direct-io-safe, target=iqn.2024:x" },
    vif = { "mac=00:16:3e:00:00:01,bridge=xenbr0,rate=10Mb/s", "bridge=br1,type=vif,vifname=v1,mtu=1500,devid=7",
      "ip=10.0.0.9,script=vif-route,gatewaydev=eth0,rate=1MB/s@100ms,trusted" },
    pci = { "0000:03:00.0", "04:00.1@8,permissive=1,rdm_policy=relaxed" },
    vfb = { "vnc=1,vnclisten=0.0.0.0,vncdisplay=2,keymap=de,sdl=0" },
    localtime = 1, nomigrate = 1, cpu_weight = 512, cap = 50, max_event_channels = 2047,
    e820_host = 1,
  },
  pv_list_cpus = { name = "p", kernel = "/k", vcpus = 3, cpus = { "0", "1-2" }, cpus_soft = "4-5" },
  pv_vnc = { name = "p", kernel = "/k", vnc = 1, vncpasswd = "x", keymap = "fr" },
  pygrub = { name = "g", bootloader = "pygrub", bootloader_args = { "-q", "--entry=2" }, memory = 512,
    vcpus = 1, disk = { "/dev/vg/g,raw,xvda,rw" } },
  pvgrub = { name = "g", firmware = "pvgrub64", memory = 512 },
  pvh = { name = "h", type = "pvh", kernel = "/k", cmdline = "console=hvc0", memory = 512, vcpus = 1,
    pvshim = 1, pvshim_extra = "loglvl=all" },
  hvm = { name = "w", type = "hvm", memory = 4096, vcpus = 2, hap = 1, acpi = 1, apic = 1, pae = 1,
    nx = 0, viridian = { "defaults", "synic", "!freq" }, bios = "ovmf", boot = "dc", stdvga = 1,
    videoram = 16, shadow_memory = 8, usb = 1, usbdevice = { "tablet" }, serial = "pty",
    vnc = 1, vnclisten = "127.0.0.1", vncdisplay = 1, vncpasswd = "p", sdl = 0,
    device_model_version = "qemu-xen", localtime = 1, rdm = "strategy=host,policy=relaxed",
    disk = { "/w.img,raw,hda,w", ",,hdc:cdrom,r" }, vif = { "type=ioemu,model=e1000,bridge=xenbr0" },
    pci = { "03:00.*" }, pci_msitranslate = 1, keymap = "en-gb", hdtype = "ahci",
    device_model_args = { "-d", "guest_errors" }, xen_platform_pci = 0, vga = "qxl",
    firmware_override = "/fw", timer_mode = "no_missed_ticks_pending", nestedhvm = 1,
  },
  hvm_viridian_all = { name = "w", type = "hvm", viridian = { "all", "!hcall_ipi" }, serial = { "pty", "null" } },
}

describe("xlcfg.render", function()
  for name, values in pairs(configs) do
    it("round-trips the " .. name .. " config through xl.cfg", function()
      local c, warnings = convert.to_libxl(values, opts)
      assert(c, warnings)
      local again, text = round_trip(c)
      same(c, again)
      assert.falsy(text:find("Not expressible", 1, true), text)
    end)
  end

  it("writes xl syntax a person recognises", function()
    local c = convert.to_libxl(configs.pv, opts)
    local text = xlcfg.render(c)
    assert.matches('\nname = "web1"\n', "\n" .. text, 1, true)
    assert.matches("\nmemory = 1024\n", text, 1, true)
    assert.matches("\nmaxmem = 2048\n", text, 1, true)
    assert.matches("\nvcpus = 2\n", text, 1, true)
    assert.matches('\ncpus = "0-1,3"\n', text, 1, true)
    assert.matches('\non_crash = "preserve"\n', text, 1, true)
    assert.matches('"format=raw, vdev=xvda, access=rw, target=/dev/vg/web1"', text, 1, true)
    assert.matches('"mac=00:16:3e:00:00:01, bridge=xenbr0, rate=1250000B/s@50000us"', text, 1, true)
    assert.matches('"0000:03:00.0"', text, 1, true)
  end)

  it("keeps what xl.cfg cannot say as comments (a config as libxl fills it in)", function()
    -- The shape of the JSON real xl puts in a savefile: libxl's defaults filled in.
    local saved = assert(config.from_json([[{
      "c_info": {"type": "pv", "name": "guest1", "uuid": "5f3a0b1c-1d2e-4f30-8a4b-5c6d7e8f9a0b",
                 "run_hotplug_scripts": "True"},
      "b_info": {"max_vcpus": 1, "avail_vcpus": [0], "numa_placement": "True",
                 "max_memkb": 262144, "target_memkb": 262144, "video_memkb": 0,
                 "shadow_memkb": 3072, "sched_params": {"sched": "credit2", "weight": 256},
                 "claim_mode": "True", "event_channels": 1023, "kernel": "/boot/vmlinuz",
                 "cmdline": "root=/dev/xvda1", "type.pv": {"slack_memkb": 0}, "arch_arm": {},
                 "arch_x86": {"msr_relaxed": "False"}},
      "disks": [{"backend_domid": 0, "pdev_path": "/dev/vg/guest1", "vdev": "xvda",
                 "backend": "phy", "format": "raw", "readwrite": 1}],
      "nics": [{"devid": 0, "mac": "00:16:3e:5a:6b:7c", "bridge": "xenbr0",
                "script": "/etc/xen/scripts/vif-bridge", "nictype": "vif"}],
      "on_reboot": "restart", "on_soft_reset": "soft_reset"}]]))
    local text = xlcfg.render(saved)
    assert.matches('name = "guest1"', text, 1, true)
    assert.matches("memory = 256", text, 1, true)
    assert.matches("cpu_weight = 256", text, 1, true)
    assert.matches("shadow_memory = 3", text, 1, true)
    assert.matches("max_event_channels = 1023", text, 1, true)
    assert.matches('"mac=00:16:3e:5a:6b:7c, bridge=xenbr0, script=/etc/xen/scripts/vif-bridge, type=vif"',
      text, 1, true)
    -- fields with no xl key are listed, not dropped
    assert.matches("#   b_info.sched_params.sched = \"credit2\"", text, 1, true)
    assert.matches("#   b_info.numa_placement = \"True\"", text, 1, true)
    assert.matches('"format=raw, vdev=xvda, access=rw, backendtype=phy, target=/dev/vg/guest1"', text, 1, true)
    assert.matches("#   b_info.type.pv.slack_memkb = 0", text, 1, true)
    -- and the rendering is a config xlua converts again
    local again = round_trip(saved)
    assert.equal("guest1", again.c_info.name)
    assert.equal(262144, again.b_info.target_memkb)
    assert.equal("vif", again.nics[1].nictype)
  end)

  it("writes a negative number as a string xl reads as that number", function()
    local c = convert.to_libxl({ name = "t", kernel = "/k", rtc_timeoffset = -3600 }, opts)
    local again, text = round_trip(c)
    assert.matches('\nrtc_timeoffset = "-3600"\n', text, 1, true)
    assert.equal(-3600, again.b_info.rtc_timeoffset)
  end)

  it("writes every vif it can when one vif's rate cannot be written", function()
    local c = convert.to_libxl({ name = "t", kernel = "/k",
      vif = { "bridge=br0", "bridge=br1,rate=10Mb/s", "bridge=br2" } }, opts)
    c.nics[2].rate_bytes_per_interval = 100000 -- 10^11 bytes/s: more than libxlutil takes
    c.nics[2].rate_interval_usecs = 1
    local text = xlcfg.render(c)
    assert.matches('vif = [ "bridge=br0", "bridge=br1", "bridge=br2" ]', text, 1, true)
    assert.matches("#   nics[1].rate_bytes_per_interval = 100000\n", text, 1, true)
    assert.matches("#   nics[1].rate_interval_usecs = 1\n", text, 1, true)
    -- a vif that cannot be written at all leaves the others where they are (devid=)
    c.nics[1].devid = nil
    text = xlcfg.render(c)
    assert.matches('vif = [ "bridge=br1, devid=1", "bridge=br2, devid=2" ]', text, 1, true)
    assert.matches('#   nics[0].bridge = "br0"', text, 1, true)
  end)

  it("turns NUMA placement off without vcpus (an empty cpus list)", function()
    local c = convert.to_libxl({ name = "t", kernel = "/k", cpus = { "0" } }, opts)
    assert.equal("False", c.b_info.numa_placement)
    local again, text = round_trip(c)
    assert.matches("\ncpus = [ ]\n", text, 1, true)
    assert.equal("False", again.b_info.numa_placement)
    assert.falsy(text:find("Not expressible", 1, true), text)
  end)

  it("writes the device kinds of issue 13 rather than listing them", function()
    local c = assert(convert.to_libxl({ name = "t", kernel = "/k", type = "pvh",
      vtpm = { "backend=0" }, channel = { "name=a,connection=pty" },
      vkb = { "backend-type=linux" }, dtdev = { "/soc/x" }, irqs = { 4 } }, opts))
    local _, text = round_trip(c)
    assert.matches('vtpm = [ "backend=0" ]', text, 1, true)
    assert.matches('channel = [ "name=a,connection=pty" ]', text, 1, true)
    assert.matches('vkb = [ "backend-type=linux" ]', text, 1, true)
    assert.matches('dtdev = [ "/soc/x" ]', text, 1, true)
    assert.matches("irqs = [ 4 ]", text, 1, true)
    assert.falsy(text:find("Not expressible", 1, true), text)
  end)

  it("keeps what a device spec cannot carry for the comments, not a half device", function()
    local c = assert(convert.to_libxl({ name = "t", kernel = "/k",
      channel = { "name=a,connection=pty", "name=b,connection=pty" } }, opts))
    c.channels[1].name = "x=y" -- xl splits at '='
    local text = xlcfg.render(c)
    -- (channels have no devid= option: the second cannot move up either)
    assert.falsy(text:find("channel =", 1, true), text)
    assert.matches('#   channels[0].connection.pty = {}\n#   channels[0].devid = 0\n'
      .. '#   channels[0].name = "x=y"\n', text, 1, true)
    assert.matches('#   channels[1].name = "b"\n', text, 1, true)
  end)

  it("raises on a non-table", function()
    assert.has_error(function() xlcfg.render("x") end)
  end)
end)

describe("xlcfg.ranges", function()
  it("compresses cpu lists", function()
    assert.equal("0-3,5,7-8", xlcfg.ranges({ 0, 1, 2, 3, 5, 7, 8 }))
    assert.equal("", xlcfg.ranges({}))
  end)
end)
