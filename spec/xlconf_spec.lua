-- xl.conf: the defaults xl applies to every domain, as xlua reads and applies them.
local convert = require("xlua.convert")
local json = require("xlua.json")
local sim = require("support.sim")
local xlconf = require("xlua.xlconf")

local PV = 'name = "g"\nmemory = 512\nvcpus = 2\nkernel = "/k"\nvif = [ "mac=00:16:3e:00:00:01" ]\n'

local function uuid()
  return "00000000-0000-0000-0000-000000000001"
end

-- convert.to_libxl on a config's values with xl.conf's text applied
local function with_conf(conf, vals, extra)
  local settings = assert(xlconf.parse(conf, "xl.conf"))
  local opts = xlconf.options(settings, { uuid_generator = uuid })
  for k, v in pairs(extra or {}) do
    opts[k] = v
  end
  return convert.to_libxl(vals, opts)
end

local function pv(more)
  local v = { name = "g", memory = 512, vcpus = 2, kernel = "/k" }
  for k, x in pairs(more or {}) do
    v[k] = x
  end
  return v
end

describe("xl.conf", function()
  it("sets the vif defaults, each vif's own options winning", function()
    local c = assert(with_conf('vif.default.script = "vif-nat"\nvif.default.bridge = "br9"\n'
      .. 'vif.default.gatewaydev = "eth1"\nvif.default.backend = "netdom"\n',
      pv({ vif = { "mac=00:16:3e:00:00:01", "bridge=br0" } })))
    assert.same({ devid = 0, mac = "00:16:3e:00:00:01", script = "vif-nat", bridge = "br9",
      gatewaydev = "eth1", backend_domname = "netdom" }, c.nics[1])
    assert.equal("br0", c.nics[2].bridge)
  end)

  it("takes the deprecated vifscript and defaultbridge with xl's warning; the new names win", function()
    local settings, warnings = xlconf.parse('vifscript = "a"\ndefaultbridge = "b"\n'
      .. 'vif.default.bridge = "c"\n', "xl.conf")
    assert.same({ script = "a", bridge = "c" }, settings.nic_defaults)
    assert.equal(2, #warnings)
    assert.matches("^xl.conf:1: vifscript: .*deprecated", warnings[1])
  end)

  it("gives grant limits the config does not set, and claim_mode and run_hotplug_scripts", function()
    local conf = "max_grant_frames = 64\nmax_maptrack_frames = 1024\nmax_grant_version = 1\n"
      .. "claim_mode = 0\nrun_hotplug_scripts = 0\n"
    local c = assert(with_conf(conf, pv({ max_grant_frames = 32 })))
    assert.equal(32, c.b_info.max_grant_frames)
    assert.equal(1024, c.b_info.max_maptrack_frames)
    assert.equal(1, c.b_info.max_grant_version)
    assert.equal("False", c.b_info.claim_mode)
    assert.equal("False", c.c_info.run_hotplug_scripts)
  end)

  it("refuses a bad grant limit (xl exits) and warns about a bad claim_mode (xl ignores it)", function()
    local ok, err, code = xlconf.parse("max_grant_frames = \"lots\"\n", "xl.conf")
    assert.is_nil(ok)
    assert.equal("BADVALUE", code)
    assert.matches("max_grant_frames", err)
    local settings, warnings = xlconf.parse('claim_mode = "yes"\n', "xl.conf")
    assert.is_nil(settings.claim_mode)
    assert.equal(1, #warnings)
    local _, _, scode = xlconf.parse("x = \n", "xl.conf")
    assert.equal("SYNTAX", scode)
  end)

  it("knows the keys that only steer xl, and warns about the others", function()
    local settings, warnings = xlconf.parse('autoballoon = "off"\nblkdev_start = "xvdb"\n'
      .. 'lockfile = "/x"\ndomid_policy = "random"\nbogus = 1\n', "xl.conf")
    assert.equal("off", settings.others.autoballoon)
    assert.same({ "xl.conf:5: bogus: unknown to xl.conf, ignored" }, warnings)
  end)

  describe("cpu masks (xl create's apply_global_affinity_masks)", function()
    local host = { max_cpus = 8, online_cpus = 8, nr_nodes = 2,
      nodes = { [0] = { 0, 1, 2, 3 }, [1] = { 4, 5, 6, 7 } } }

    it("give every vcpu the masked host cpus when the config has no cpus=", function()
      local c = assert(with_conf('vm.cpumask = "0-5"\nvm.pv.cpumask = "2-7"\n', pv(), { host = host }))
      assert.same({ { 2, 3, 4, 5 }, { 2, 3, 4, 5 } }, c.b_info.vcpu_hard_affinity)
    end)

    it("narrow the config's own cpus=, the type's mask only for its type", function()
      local conf = 'vm.hvm.cpumask = "node:1"\nvm.pv.cpumask = "0-1"\n'
      local c = assert(with_conf(conf, pv({ cpus = { "0-3", "1,6" } }), { host = host }))
      assert.same({ { 0, 1 }, { 1 } }, c.b_info.vcpu_hard_affinity)
      local h = pv({ type = "hvm", cpus = "2-5" })
      h.kernel = nil
      c = assert(with_conf(conf, h, { host = host }))
      assert.same({ 4, 5 }, c.b_info.vcpu_hard_affinity[1])
    end)

    it("leave a domain alone when the masks hold every cpu", function()
      local c = assert(with_conf('vm.cpumask = "all"\n', pv(), { host = host }))
      assert.is_nil(c.b_info.vcpu_hard_affinity)
    end)

    it("refuse a vcpu left with no cpu, and keep the ranges before a bad one", function()
      local _, err, code = with_conf('vm.cpumask = "0-1"\n', pv({ cpus = "4-7" }), { host = host })
      assert.equal("BADVALUE", code)
      assert.matches("empty", err)
      local c, warnings = assert(with_conf('vm.cpumask = "0-1,x,5"\n', pv(), { host = host }))
      assert.same({ 0, 1 }, c.b_info.vcpu_hard_affinity[1])
      assert.equal(1, #warnings)
    end)

    it("need the host's layout", function()
      local _, _, code = with_conf('vm.cpumask = "0-1"\n', pv())
      assert.equal("NEEDHOST", code)
    end)
  end)

  describe("the host's layout from a backend", function()
    -- a handle that counts what it is asked
    local function handle(layout)
      local h = { asked = 0 }
      function h.backend() return "sim" end
      function h.host()
        h.asked = h.asked + 1
        return layout
      end
      return h
    end
    local host = { max_cpus = 8, online_cpus = 8, nr_nodes = 1,
      cpu_nodes = { [0] = 0, 0, 0, 0, 0, 0, 0, 0 } }

    it("is asked for only when the conversion looks at it, and once", function()
      local h = handle(host)
      local opts = assert(xlconf.for_backend(h))
      opts.uuid_generator = uuid
      assert(convert.to_libxl(pv(), opts))
      assert.equal(0, h.asked)
      local c = assert(convert.to_libxl(pv({ cpus = "all" }), opts))
      assert.same({ 0, 1, 2, 3, 4, 5, 6, 7 }, c.b_info.vcpu_hard_affinity[1])
      assert(convert.to_libxl(pv({ cpus = "node:0" }), opts))
      assert.equal(1, h.asked)
    end)

    it("is unknown (NEEDHOST) when the backend cannot tell", function()
      local h = handle(nil)
      local opts = assert(xlconf.for_backend(h))
      opts.uuid_generator = uuid
      local _, _, code = convert.to_libxl(pv({ cpus = "all" }), opts)
      assert.equal("NEEDHOST", code)
      assert.equal(1, h.asked)
    end)
  end)

  describe("--xl-conf", function()
    local s = sim.new()
    local cfg = s.file("g.cfg", PV)
    local conf = s.file("xl.conf", 'vif.default.bridge = "br7"\nmax_grant_frames = 40\n')

    it("is read by convert; without it the sim uses none", function()
      local out, err, code = s.x({ "convert", "--xl-conf", conf, cfg })
      assert.equal(0, code, err)
      local c = json.decode(out)
      assert.equal("br7", c.nics[1].bridge)
      assert.equal(40, c.b_info.max_grant_frames)
      out = s.x({ "convert", cfg })
      assert.is_nil(json.decode(out).nics[1].bridge)
    end)

    it("is read by create, and a missing or bad one refuses (exit 2)", function()
      local out, err, code = s.x({ "create", "-n", "--xl-conf", conf, cfg })
      assert.equal(0, code, err)
      assert.equal("br7", json.decode(out).nics[1].bridge)
      _, err, code = s.x({ "create", "-n", "--xl-conf", s.root .. "/none", cfg })
      assert.equal(2, code)
      assert.matches("none", err)
      local bad = s.file("bad.conf", "max_maptrack_frames = \"-3\"\n")
      _, err, code = s.x({ "convert", "--xl-conf", bad, cfg })
      assert.equal(2, code)
      assert.matches("max_maptrack_frames", err)
    end)

    it("is read by restore for its CONFIG", function()
      local _, err, code = s.x({ "create", "-p", "-e", cfg })
      assert.equal(0, code, err)
      local sav = s.root .. "/g.sav"
      _, err, code = s.x({ "save", "g", sav })
      assert.equal(0, code, err)
      local out
      out, err, code = s.x({ "restore", "-n", "--xl-conf", conf, cfg, sav })
      assert.equal(0, code, err)
      assert.matches("br7", out)
    end)
  end)
end)
