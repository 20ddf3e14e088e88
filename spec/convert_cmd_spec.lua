-- `xlua convert` as a person runs it, on the configs in spec/fixtures/convert/.
local helper = require("support.helper")
local json = require("xlua.json")

local FIX = "spec/fixtures/convert/"

local run = helper.run

local function convert(path, ...)
  local out, err, code = run({ "convert", path, ... })
  assert.equal(0, code, err)
  return assert(json.decode(out)), err, out
end

describe("xlua convert", function()
  it("prints the libxl JSON xl gives for a PV config", function()
    local c, err = convert(FIX .. "pv.cfg")
    assert.equal("", err)
    -- Derived by hand from parse_config_data: root+extra make cmdline; maxmem/maxvcpus;
    -- disk through xlu_disk_parse; vif devids by position; rate 10Mb/s over 50ms.
    assert.same({
      c_info = { type = "pv", name = "web1", uuid = "6a8b0c1e-2f3d-4a5b-8c7d-9e0f1a2b3c4d",
        run_hotplug_scripts = "True" },
      b_info = {
        max_vcpus = 4, avail_vcpus = { 0, 1 }, max_memkb = 2097152, target_memkb = 1048576,
        sched_params = {}, claim_mode = "True", kernel = "/boot/vmlinuz-6.1",
        ramdisk = "/boot/initrd.img-6.1", cmdline = "root=/dev/xvda1 ro console=hvc0",
        ["type.pv"] = {}, arch_arm = {}, arch_x86 = {},
      },
      disks = {
        { pdev_path = "/dev/vg0/web1", vdev = "xvda", format = "raw", readwrite = 1 },
        { pdev_path = "/srv/data.qcow2", vdev = "xvdb", format = "qcow2" },
      },
      nics = {
        { devid = 0, mac = "00:16:3e:12:34:56", bridge = "xenbr0" },
        { devid = 1, bridge = "xenbr1", rate_bytes_per_interval = 62500, rate_interval_usecs = 50000 },
      },
      on_reboot = "restart", on_crash = "preserve", on_soft_reset = "soft_reset",
    }, c)
  end)

  it("converts a PVH config", function()
    local c = convert(FIX .. "pvh.cfg")
    assert.equal("pvh", c.c_info.type)
    assert.same({}, c.b_info["type.pvh"])
    assert.equal("root=/dev/xvda1 console=hvc0", c.b_info.cmdline)
    assert.same({ { pdev_path = "/dev/vg0/pvh1", vdev = "xvda", format = "raw", readwrite = 1 } }, c.disks)
  end)

  it("converts an HVM config", function()
    local c = convert(FIX .. "hvm.cfg")
    local hvm = c.b_info["type.hvm"]
    assert.equal("hvm", c.c_info.type)
    assert.equal("True", c.c_info.hap)
    assert.equal("seabios", hvm.bios)
    assert.equal("std", hvm.vga.kind)
    assert.same({ enable = "True", listen = "127.0.0.1", display = 3 }, hvm.vnc)
    assert.equal("qemu_xen", c.b_info.device_model_version)
    assert.equal(16384, c.b_info.video_memkb)
    assert.equal(8192, c.b_info.shadow_memkb)
    assert.equal("empty", c.disks[2].format)
    assert.equal("vif_ioemu", c.nics[1].nictype)
    assert.same({ { bus = 3, vfunc_mask = 1 } }, c.pcidevs)
    assert.is_nil(c.on_reboot) -- destroy, libxl's default
  end)

  it("converts a pygrub config", function()
    local c = convert(FIX .. "pygrub.cfg")
    assert.equal("pygrub", c.b_info.bootloader)
    assert.same({ "--kernel=/vmlinuz", "--ramdisk=/initrd.img" }, c.b_info.bootloader_args)
    assert.is_nil(c.b_info.kernel)
  end)

  it("converts both styles of Lua config to the same JSON", function()
    local a, _, out_a = convert(FIX .. "returns.lua")
    local _, _, out_b = convert(FIX .. "globals.lua")
    assert.equal(out_a, out_b)
    assert.equal(1048576, a.b_info.target_memkb)
    assert.equal("/dev/vg0/lua1", a.disks[1].pdev_path)
    assert.equal(0, a.disks[2].readwrite or 0)
    assert.equal("00:16:3e:00:00:01", a.nics[1].mac)
  end)

  it("takes key=value overrides as xl create does", function()
    local c = convert(FIX .. "pv.cfg", "memory=512", 'name="web2"')
    assert.equal(524288, c.b_info.target_memkb)
    assert.equal("web2", c.c_info.name)
    c = convert(FIX .. "returns.lua", "vcpus=1")
    assert.same({ 0 }, c.b_info.avail_vcpus)
  end)

  it("warns on stderr about keys it does not know, and still converts", function()
    local dir = helper.tmpdir()
    helper.spit(dir .. "/w.cfg", 'name = "w"\nkernel = "/k"\nfrobnicate = 3\n')
    local out, err, code = run({ "convert", dir .. "/w.cfg" })
    assert.equal(0, code)
    assert.truthy(json.decode(out))
    assert.matches("frobnicate", err)
  end)

  it("prints the xl.cfg rendering of libxl JSON with --cfg, which converts back the same", function()
    local dir = helper.tmpdir()
    for _, f in ipairs({ "pv.cfg", "pvh.cfg", "hvm.cfg", "pygrub.cfg", "returns.lua" }) do
      local _, _, out = convert(FIX .. f)
      helper.spit(dir .. "/c.json", out)
      local text, err, code = run({ "convert", "--cfg", dir .. "/c.json" })
      assert.equal(0, code, err)
      assert.matches("\nmemory = %d+\n", text)
      helper.spit(dir .. "/c.cfg", text)
      local _, _, again = convert(dir .. "/c.cfg")
      assert.equal(out, again, f)
    end
  end)

  it("reads the JSON for --cfg from standard input with -", function()
    local _, _, out = convert(FIX .. "pv.cfg")
    local text, _, code = run({ "convert", "--cfg", "-" }, { stdin = out })
    assert.equal(0, code)
    assert.matches('name = "web1"', text, 1, true)
  end)

  it("names the file and the line in a warning, and carries on as xl does", function()
    local dir = helper.tmpdir()
    local path = dir .. "/warn.cfg"
    helper.spit(path, 'name = "b"\nkernel = "/k"\n\nmemory = "lots"\n')
    local out, err, code = run({ "convert", path })
    assert.equal(0, code)
    assert.truthy(err:find(path .. ":4: memory:", 1, true), err)
    assert.is_nil(require("xlua.json").decode(out).b_info.target_memkb)
  end)

  describe("exits 2 with one line", function()
    local dir = helper.tmpdir()
    helper.spit(dir .. "/bad.cfg", 'name = "b"\nkernel = "/k"\non_crash = "explode"\n')
    helper.spit(dir .. "/noname.cfg", 'kernel = "/k"\n')
    helper.spit(dir .. "/warn.cfg", 'name = "b"\nkernel = "/k"\nmemory = "lots"\n')
    helper.spit(dir .. "/syntax.cfg", 'name = \n')
    helper.spit(dir .. "/bad.json", "{not json")
    helper.spit(dir .. "/other.json", '{"a": 1}')
    local cases = {
      { "an invalid value", { "convert", dir .. "/bad.cfg" }, "on_crash" },
      { "a warning under --strict", { "convert", "--strict", dir .. "/warn.cfg" }, "memory" },
      { "a missing name", { "convert", dir .. "/noname.cfg" }, "name" },
      { "a syntax error", { "convert", dir .. "/syntax.cfg" } },
      { "a missing file", { "convert", dir .. "/none.cfg" } },
      { "bad JSON", { "convert", "--cfg", dir .. "/bad.json" } },
      { "JSON that is not a domain config", { "convert", "--cfg", dir .. "/other.json" } },
      { "no arguments", { "convert" } },
    }
    for _, case in ipairs(cases) do
      it("for " .. case[1], function()
        local out, err, code = run(case[2])
        assert.equal(2, code)
        assert.equal("", out)
        assert.matches("^xlua convert: [^\n]+\n", err)
        if case[3] then
          assert.matches(case[3], err, 1, true)
        end
      end)
    end
  end)
end)
