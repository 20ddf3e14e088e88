-- The runtime commands end to end on the sim backend (mem-set, mem-max, vcpu-set, vcpu-pin,
-- vcpu-list, block-*, network-*, cd-*, pci-*, sched-credit2): each change shows in list, the
-- *-list commands and the stored config (config --json, --current, the note of config), and
-- survives save, inspect and restore; each refusal is exit 1 (2 for usage and a malformed PCI
-- spec, as xl), one line, and nothing changed.
local helper = require("support.helper")
local json = require("xlua.json")

local s = require("support.sim").new()
local x, file = s.x, s.file

local CFG = [[
name = "%s"
type = "pv"
kernel = "/boot/vmlinuz"
memory = 256
maxmem = 512
vcpus = 1
maxvcpus = 64
disk = [ "%s,raw,xvda,rw" ]
vif = [ "bridge=xenbr0" ]
]]

local disk_a = file("a.img", "")
local disk_b = file("b.img", "")
local iso = file("cd.iso", "")

local function domain(name)
  local _, err, code = x({ "create", file(name .. ".cfg", CFG:format(name, disk_a)) })
  assert.equal(0, code, err)
end

local function info(name)
  local out = x({ "list", "--json" })
  for _, i in ipairs(json.decode(out)) do
    if i.name == name then
      return i
    end
  end
end

local function config(name)
  local out, err, code = x({ "config", "--json", name })
  assert.equal(0, code, err)
  return json.decode(out)
end

-- The whole observable state of a domain: what a refused command must leave as it was.
local function snapshot(name)
  local list = json.decode(x({ "list", "--json" }))
  for _, i in ipairs(list) do
    i.cpu_time = nil -- it runs
  end
  return { list = list, json = x({ "config", "--json", name }), text = x({ "config", name }),
    disks = x({ "block-list", name }), nics = x({ "network-list", name }) }
end

-- Runs a command expected to fail: its status, exactly one stderr line, nothing changed.
local function refused(name, args, status)
  local before = snapshot(name)
  local out, err, code = x(args)
  assert.equal(status or 1, code, err)
  assert.equal("", out)
  local lines = 0
  for _ in err:gmatch("[^\n]+") do
    lines = lines + 1
  end
  assert.equal(1, lines, err)
  assert.matches("^xlua " .. args[1]:gsub("%-", "%%-") .. ": ", err)
  assert.same(before, snapshot(name))
  return err
end

local function ok(args)
  local out, err, code = x(args)
  assert.equal(0, code, err)
  return out
end

-- A node of the sim's xenstore, or nil when it is not there.
local function xs_read(path)
  local out, _, code = x({ "xenstore-read", path })
  return code == 0 and out:gsub("\n$", "") or nil
end

local function domid(name)
  return math.tointeger(info(name).domid)
end

local function host_cpus()
  local p = io.popen("nproc")
  local n = tonumber(p:read("l"))
  p:close()
  return n
end

describe("mem-set and mem-max", function()
  domain("m1")

  it("set the balloon target, seen by list and the stored config", function()
    ok({ "mem-set", "m1", "128m" })
    assert.equal(131072, info("m1").memory_kb)
    assert.equal(131072, config("m1").b_info.target_memkb)
    ok({ "mem-set", "m1", "200" }) -- no unit: MiB, as xl reads it
    assert.equal(204800, config("m1").b_info.target_memkb)
    assert.equal("204800", xs_read("/local/domain/" .. domid("m1") .. "/memory/target"))
  end)

  it("refuses a target above the maximum, then takes it once mem-max raised that", function()
    local err = refused("m1", { "mem-set", "m1", "1g" })
    assert.matches("maximum", err)
    ok({ "mem-max", "m1", "1g" })
    assert.equal(1048576, config("m1").b_info.max_memkb)
    assert.equal(1048576, info("m1").max_memory_kb)
    ok({ "mem-set", "m1", "1g" })
    assert.equal(1048576, info("m1").memory_kb)
  end)

  it("refuses a maximum below the target, a bad size, no domain, and Domain-0 on the sim", function()
    refused("m1", { "mem-max", "m1", "64m" })
    refused("m1", { "mem-set", "m1", "12q" })
    -- sizes that would wrap: one line, nothing changed (not a maximum of 1 GiB, no Lua error)
    assert.matches("invalid memory size", refused("m1", { "mem-max", "m1", "17592186044417g" }))
    assert.matches("invalid memory size", refused("m1", { "mem-set", "m1", "8589934592t" }))
    refused("m1", { "mem-set", "m1", "99999999999999999999999" })
    refused("m1", { "mem-set", "nosuch", "64m" })
    local err = refused("m1", { "mem-set", "0", "64m" })
    assert.equal("xlua mem-set: cannot set the memory of Domain-0: the sim's Domain-0 only "
      .. "stands for the host, it is not changed\n", err) -- said once, with its reason
    local _, _, code = x({ "mem-set", "m1" }) -- a usage mistake, as xl's
    assert.equal(2, code)
  end)
end)

describe("a runtime change during a save", function()
  domain("l1")

  it("is refused at once (BUSY, exit 1, one line), nothing changed, the save unharmed", function()
    local dir = s.root .. "/lock"
    os.execute("mkdir -p " .. helper.shell_quote(dir))
    local envs = string.format("XLUA_SIM_DIR=%s XLUA_BACKEND=sim", helper.shell_quote(s.env.XLUA_SIM_DIR))
    local before = snapshot("l1")
    -- the save holds the domain's lock while its reader sleeps
    local script = string.format("%s %s save -c l1 - 2>/dev/null | (sleep 1.5; cat >/dev/null) & "
      .. "sleep 0.5; %s %s mem-set l1 128m 2>%s/err; echo $? >%s/status; wait", envs,
      helper.shell_quote(helper.xlua), envs, helper.shell_quote(helper.xlua), dir, dir)
    os.execute("bash -c " .. helper.shell_quote(script))
    local err = helper.slurp(dir .. "/err")
    assert.equal(1, tonumber(helper.slurp(dir .. "/status")), err)
    assert.matches("^xlua mem%-set: [^\n]*busy[^\n]*\n$", err)
    assert.same(before, snapshot("l1"))
    ok({ "mem-set", "l1", "128m" }) -- once the save is done
    assert.equal(131072, info("l1").memory_kb)
  end)
end)

describe("vcpu-set", function()
  domain("v1")

  it("brings vcpus online, seen by list, vcpu-list and avail_vcpus", function()
    ok({ "vcpu-set", "v1", "2" })
    assert.equal(2, info("v1").vcpus)
    assert.same({ 0, 1 }, config("v1").b_info.avail_vcpus)
    local lines = 0
    for line in ok({ "vcpu-list", "v1" }):gmatch("[^\n]+") do
      if line:match("^v1 ") then
        lines = lines + 1
      end
    end
    assert.equal(64, lines) -- every vcpu up to maxvcpus, the offline ones too
    local cpu = "/local/domain/" .. domid("v1") .. "/cpu/"
    assert.equal("online", xs_read(cpu .. "1/availability"))
    assert.equal("offline", xs_read(cpu .. "2/availability"))
  end)

  it("refuses 0, more than maxvcpus, and more than the host's cpus without -i", function()
    refused("v1", { "vcpu-set", "v1", "0" })
    refused("v1", { "vcpu-set", "v1", "65" })
    refused("v1", { "vcpu-set", "v1", "many" })
    -- past what a backend takes: one line, not a Lua error
    assert.matches("at most 4096 vcpus", refused("v1", { "vcpu-set", "-i", "0", "99999" }))
    refused("v1", { "vcpu-set", "-i", "v1", "99999" })
    local n = host_cpus() + 1
    if n <= 64 then
      local err = refused("v1", { "vcpu-set", "v1", tostring(n) })
      assert.matches("ignore%-host", err)
      ok({ "vcpu-set", "-i", "v1", tostring(n) })
      assert.equal(n, info("v1").vcpus)
    end
  end)
end)

describe("vcpu-pin and vcpu-list", function()
  domain("p1")

  it("pins one vcpu's hard affinity, shown by vcpu-list", function()
    ok({ "vcpu-pin", "p1", "0", "0" })
    local line = ok({ "vcpu-list", "p1" }):match("\n(p1[^\n]*)")
    assert.matches(" 0 / all$", line)
  end)

  it("refuses a cpu the host lacks, a vcpu the domain lacks, and a bad list", function()
    local err = refused("p1", { "vcpu-pin", "p1", "0", tostring(host_cpus() + 7) })
    assert.matches("no cpu", err)
    refused("p1", { "vcpu-pin", "p1", "64", "0" })
    refused("p1", { "vcpu-pin", "p1", "x", "0" })
    refused("p1", { "vcpu-pin", "p1", "0", "3-1" })
    assert.matches("no vcpu 4096", refused("p1", { "vcpu-pin", "p1", "4096", "0" }))
    -- a range past any host is refused at once (it was a loop of 1e11 steps)
    assert.matches("past the most", refused("p1", { "vcpu-pin", "p1", "0", "0-99999999999" }))
    refused("p1", { "vcpu-pin", "p1", "0", "node:0-99999999999" })
  end)

  it("creates a domain with cpus= past the host's cpus: the host's cpus, at once", function()
    local cfg = CFG:format("p2", disk_a) .. 'cpus = "0-99999999999"\n'
    local _, err, code = x({ "create", file("p2.cfg", cfg) })
    assert.equal(0, code, err)
    assert.matches(" all / all", ok({ "vcpu-list", "p2" }))
    x({ "destroy", "p2" })
  end)

  it("lets a signal through the cpu list's check: no bad input but the interrupt", function()
    local runtime = require("xlua.runtime")
    local cpus = require("xlua.convert.cpus")
    local real = cpus.cpu_set
    cpus.cpu_set = function()
      error("interrupted by SIGTERM!", 0)
    end
    local h = { host = function() return { max_cpus = 4, cpus = 4 } end }
    local ok, e = pcall(runtime.cpu_list, h, "0-3")
    cpus.cpu_set = real
    assert.is_false(ok)
    assert.equal("interrupted by SIGTERM!", e)
    assert.equal("interrupted!", select(2, pcall(runtime.pass_interrupt, "interrupted!")))
    assert.equal("bad", runtime.pass_interrupt("bad"))
  end)
end)

describe("block-attach, block-detach, block-list", function()
  domain("b1")

  it("hotplugs a disk: block-list, the stored config and config --current show it", function()
    ok({ "block-attach", "b1", disk_b .. ",raw,xvdb,rw" })
    local listed = ok({ "block-list", "b1" })
    assert.matches("^Vdev  BE  handle state", listed)
    assert.matches("\n51712 ", listed) -- xvda
    assert.matches("\n51728 ", listed) -- xvdb
    local disks = config("b1").disks
    assert.equal(2, #disks)
    assert.equal("xvdb", disks[2].vdev)
    assert.equal(disk_b, disks[2].pdev_path)
    assert.matches("vdev=xvdb", ok({ "config", "--current", "b1" }))
    local text = ok({ "config", "b1" })
    assert.matches('disk = %[ "' .. disk_a:gsub("%p", "%%%0"), text) -- as written
    assert.matches("# xlua: changed at runtime", text)
    assert.matches("attached disk xvdb", text)
    local id = domid("b1")
    assert.equal("/local/domain/0/backend/vbd/" .. id .. "/51728",
      xs_read("/local/domain/" .. id .. "/device/vbd/51728/backend"))
    assert.equal(disk_b, xs_read("/local/domain/0/backend/vbd/" .. id .. "/51728/params"))
  end)

  it("refuses a vdev that is there, a bad spec, a missing vdev to detach", function()
    refused("b1", { "block-attach", "b1", disk_b .. ",raw,xvdb,rw" })
    refused("b1", { "block-attach", "b1", "a,b,c,d,e,f,g" })
    refused("b1", { "block-attach", "b1", disk_b .. ",raw,floppy9,rw" })
    local err = refused("b1", { "block-detach", "b1", "xvdz" })
    assert.matches("not connected", err)
    refused("b1", { "block-attach", "Domain-0", disk_b .. ",raw,xvdc,rw" })
  end)

  it("knows a disk by its device number: the same number under another name is refused", function()
    for _, taken in ipairs({ "51728", "d1p0", "0xca10" }) do -- xvdb
      local err = refused("b1", { "block-attach", "b1", disk_b .. ",raw," .. taken .. ",rw" })
      assert.matches("already has a disk xvdb", err)
    end
    -- beyond libxl's limits (and no overflow): refused as libxl refuses them
    for _, bad in ipairs({ "xvdzzzzzzzzzzzzzzzzzz", "xvdaaaaaa", "xvdb0", "xvdb256", "sdq",
        "hde", "4294967296" }) do
      refused("b1", { "block-attach", "b1", disk_b .. ",raw," .. bad .. ",rw" })
    end
    local vdev = require("xlua.runtime.vdev")
    assert.equal(51776, vdev.devid("xvde"))
    assert.equal((1 << 28) | (16 << 8) | 3, vdev.devid("xvdq3"))
    assert.equal((1 << 28) | (((1 << 20) - 1) << 8) | 255, vdev.devid("d1048575p255"))
    assert.equal((22 << 8) | (1 << 6) | 63, vdev.devid("hdd63"))
    assert.equal(0x7fffffff, vdev.devid("2147483647"))
  end)

  it("refuses a disk whose file is not there, as libxl stats it; an empty cdrom needs none", function()
    local err = refused("b1", { "block-attach", "b1", s.root .. "/no-such.img,raw,xvdd,rw" })
    assert.matches("no%-such%.img", err)
    ok({ "block-attach", "b1", "vdev=xvde,devtype=cdrom,access=r,target=" })
    ok({ "block-detach", "b1", "xvde" })
  end)

  it("detaches a disk", function()
    ok({ "block-detach", "b1", "51728" }) -- xvdb by its number, as xl takes it
    assert.equal(1, #config("b1").disks)
    assert.not_matches("\n51728 ", ok({ "block-list", "b1" }))
    local id = domid("b1")
    assert.is_nil(xs_read("/local/domain/" .. id .. "/device/vbd/51728/backend"))
    assert.is_nil(xs_read("/local/domain/0/backend/vbd/" .. id .. "/51728/params"))
    assert.is_not_nil(xs_read("/local/domain/0/backend/vbd/" .. id .. "/51712/params"))
  end)
end)

describe("save, inspect and restore after runtime changes", function()
  domain("s1")

  it("carry the new memory, vcpus and disk, and the note of the changes", function()
    ok({ "mem-set", "s1", "128m" })
    ok({ "vcpu-set", "s1", "2" })
    ok({ "block-attach", "s1", disk_b .. ",raw,xvdb,rw" })
    local path = s.root .. "/s1.save"
    ok({ "save", "s1", path })
    assert.is_nil(info("s1"))
    local shown = ok({ "inspect", "--json", path })
    local saved = json.decode(json.decode(shown).config.text)
    assert.equal(131072, saved.b_info.target_memkb)
    assert.same({ 0, 1 }, saved.b_info.avail_vcpus)
    assert.equal("xvdb", saved.disks[2].vdev)
    assert.matches("mem%-set", ok({ "config", path }))
    ok({ "restore", path })
    local i = info("s1")
    assert.equal(131072, i.memory_kb)
    assert.equal(2, i.vcpus)
    assert.matches("\n51728 ", ok({ "block-list", "s1" }))
    assert.equal(131072, config("s1").b_info.target_memkb)
    local text = ok({ "config", "s1" })
    assert.matches("vcpu%-set", text)
    assert.matches("attached disk xvdb", text)
    local id = domid("s1")
    assert.equal("/local/domain/0/backend/vbd/" .. id .. "/51728",
      xs_read("/local/domain/" .. id .. "/device/vbd/51728/backend"))
    assert.equal(disk_b, xs_read("/local/domain/0/backend/vbd/" .. id .. "/51728/params"))
  end)
end)

describe("a restore with the config as first written, after a block-attach", function()
  domain("o1")

  it("is refused as incompatible: the savefile's config is the one that describes the domain", function()
    ok({ "block-attach", "o1", disk_b .. ",raw,xvdb,rw" })
    local path = s.root .. "/o1.save"
    ok({ "save", "o1", path })
    local _, err, code = x({ "restore", s.root .. "/o1.cfg", path })
    assert.equal(1, code, err)
    assert.matches("disks", err)
    assert.is_nil(info("o1"))
    ok({ "restore", path })
    assert.equal(2, #config("o1").disks)
  end)
end)

describe("set-config after runtime changes", function()
  domain("t1")

  it("drops the note: the new config as written is whole", function()
    ok({ "mem-set", "t1", "128m" })
    local path = s.root .. "/t1.save"
    ok({ "save", "t1", path })
    assert.matches("changed at runtime", ok({ "config", path }))
    local cfg = file("t1-new.cfg", CFG:format("t1", disk_a):gsub("memory = 256", "memory = 128"))
    ok({ "set-config", "--force", path, cfg })
    local text = ok({ "config", path })
    assert.matches("memory = 128", text)
    assert.not_matches("changed at runtime", text)
  end)
end)

describe("network-attach, network-detach, network-list", function()
  domain("n1")

  it("adds a nic with the next devid and a mac of Xen's range, and removes it", function()
    ok({ "network-attach", "n1", "bridge=xenbr1" })
    local nics = config("n1").nics
    assert.equal(2, #nics)
    assert.equal(1, nics[2].devid)
    assert.matches("^00:16:3e:", nics[2].mac)
    assert.matches("\n1   0  00:16:3e:", ok({ "network-list", "n1" }))
    ok({ "network-attach", "n1", "bridge=xenbr1", "mac=00:16:3e:00:00:42" })
    ok({ "network-detach", "n1", "00:16:3e:00:00:42" })
    ok({ "network-detach", "n1", "1" })
    assert.equal(1, #config("n1").nics)
  end)

  it("refuses an unknown nic and a devid that is taken", function()
    refused("n1", { "network-detach", "n1", "7" })
    refused("n1", { "network-attach", "n1", "devid=0" })
    -- xl's network-attach exits 1 on what parse_nic_config refuses (vif= in a file only warns)
    assert.matches("mac", refused("n1", { "network-attach", "n1", "mac=zz:zz" }))
    assert.matches("foo", refused("n1", { "network-attach", "n1", "foo=bar" }))
    refused("n1", { "network-attach", "n1", "bridge=xenbr1", "type=bogus" })
    refused("n1", { "network-attach", "n1", "bridge=xenbr1", "loose" })
  end)
end)

describe("cd-insert and cd-eject", function()
  domain("c1")

  it("change the medium of a cdrom, refuse a disk that is no cdrom or a missing file", function()
    ok({ "block-attach", "c1", "vdev=xvdc,devtype=cdrom,access=r,target=" })
    ok({ "cd-insert", "c1", "xvdc", iso })
    assert.equal(iso, config("c1").disks[2].pdev_path)
    ok({ "cd-eject", "c1", "xvdc" })
    assert.equal("empty", config("c1").disks[2].format)
    refused("c1", { "cd-insert", "c1", "xvda", iso })
    refused("c1", { "cd-insert", "c1", "xvdc", s.root .. "/no-such.iso" })
    refused("c1", { "cd-insert", "c1", "xvdq", iso })
  end)
end)

describe("pci-attach, pci-detach, pci-list", function()
  domain("d1")

  it("pass a device through and take it back", function()
    ok({ "pci-attach", "d1", "0000:03:00.1" })
    assert.matches("^Vdev Device\n00%.0 0000:03:00%.1\n$", ok({ "pci-list", "d1" }))
    assert.equal(3, config("d1").pcidevs[1].bus)
    refused("d1", { "pci-attach", "d1", "03:00.1" })
    ok({ "pci-detach", "d1", "03:00.1" })
    assert.equal("", ok({ "pci-list", "d1" }))
    assert.is_nil(config("d1").pcidevs)
  end)

  it("refuses a malformed spec (exit 2, as xl) and a device that is not there", function()
    refused("d1", { "pci-attach", "d1", "zz:zz" }, 2)
    refused("d1", { "pci-detach", "d1", "0000:09:00.0" })
  end)
end)

describe("sched-credit2", function()
  domain("w1")

  it("lists every domain, sets weight and cap, kept in sched_params", function()
    assert.matches("^Name%s+ID Weight  Cap\nDomain%-0%s+0    256    0\n", ok({ "sched-credit2" }))
    ok({ "sched-credit2", "-d", "w1", "-w", "512", "-c", "50" })
    assert.matches("\nw1%s+%d+    512   50\n$", ok({ "sched-credit2", "-d", "w1" }))
    local p = config("w1").b_info.sched_params
    assert.equal(512, p.weight)
    assert.equal(50, p.cap)
  end)

  it("refuses a weight out of range, a cap over 100 per vcpu, and -w without -d", function()
    refused("w1", { "sched-credit2", "-d", "w1", "-w", "0" })
    refused("w1", { "sched-credit2", "-d", "w1", "-c", "6401" })
    refused("w1", { "sched-credit2", "-w", "5" })
  end)
end)

describe("the fake domain handle", function()
  it("models the runtime changes as the sim does", function()
    local fake = require("fakes.domain").reset()
    local h = fake.open("sim")
    local domid = h:create({ name = "f", memory_kb = 4096, max_memory_kb = 8192, vcpus = 2,
      json = '{"c_info": {"name": "f"}, "b_info": {"max_vcpus": 2}}' })
    assert.is_true(h:mem_set(domid, 8192))
    assert.is_nil(h:mem_set(domid, 9000))
    assert.is_true(h:device_add(domid, "disk", '{"vdev": "xvda"}'))
    local _, _, code = h:device_add(domid, "disk", '{"vdev": "xvda"}')
    assert.equal("EXISTS", code)
    assert.equal(1, #json.decode(h:device_list(domid, "disk")))
    fake.fail("vcpu_set", "no", "LIBXL")
    _, _, code = h:vcpu_set(domid, 1)
    assert.equal("LIBXL", code)
  end)
end)

teardown(function()
  for _, name in ipairs({ "m1", "l1", "v1", "p1", "b1", "s1", "o1", "n1", "c1", "d1", "w1" }) do
    x({ "destroy", name })
  end
  helper.run({ "-e", "" })
end)
