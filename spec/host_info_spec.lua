-- xlua info and xlua.host on the sim: xl info's keys in xl's order, --json with the same
-- values as h:host() (which keeps the fields the policies use), NAME filtering, usage errors.
local helper = require("support.helper")
local sim = require("support.sim")
local json = require("xlua.json")

local XL_INFO_KEYS = {
  "host", "release", "version", "machine", "nr_cpus", "max_cpu_id", "nr_nodes",
  "cores_per_socket", "threads_per_core", "cpu_mhz", "hw_caps", "virt_caps", "total_memory",
  "free_memory", "sharing_freed_memory", "sharing_used_memory", "outstanding_claims",
  "free_cpus", "xen_major", "xen_minor", "xen_extra", "xen_version", "xen_caps",
  "xen_scheduler", "xen_pagesize", "platform_params", "xen_changeset", "xen_commandline",
  "cc_compiler", "cc_compile_by", "cc_compile_domain", "cc_compile_date", "build_id",
  "xend_config_format",
}

describe("xlua info", function()
  local s
  setup(function()
    s = sim.new()
    s.env.XLUA_SIM_HOST_MEMORY_KB = tostring(8 * 1024 * 1024)
    s.env.XLUA_SIM_XEN_CMDLINE = "dom0_mem=1024M loglvl=all"
  end)

  it("prints xl info's keys in xl's order and format", function()
    local out, err, status = s.x({ "info" })
    assert.equal(0, status, err)
    local keys, values = {}, {}
    for line in out:gmatch("[^\n]+") do
      local k, sep, v = line:match("^(%S+)(%s+:)(.*)$")
      assert.is_string(k, line)
      assert.equal(23, #k + #sep - 1, line)   -- the key padded to 23 columns, then ':'
      keys[#keys + 1] = k
      values[k] = v:gsub("^ ", "")
    end
    assert.same(XL_INFO_KEYS, keys)
    assert.equal("8192", values.total_memory)
    assert.equal("4.17-xlua-sim", values.xen_version)
    assert.equal("dom0_mem=1024M loglvl=all", values.xen_commandline)
    assert.equal("4", values.xend_config_format)
    assert.matches("^%d+%.%d%d%d$", values.cpu_mhz)
    assert.matches("^%x+:%x+:%x+:%x+:%x+:%x+:%x+:%x+$", values.hw_caps)
  end)

  it("takes the memory of the sim's domains off free_memory", function()
    local _, err, status = s.x({ "-e", "assert(require('xlua.domain').open():create{name='m', memory_kb=65536})" })
    assert.equal(0, status, err)
    local out = s.x({ "info", "free_memory" })
    assert.equal("8128\n", out)
    _, err, status = s.x({ "mem-set", "m", "32m" })   -- a balloon gives the host memory back
    assert.equal(0, status, err)
    assert.equal("8160\n", (s.x({ "info", "free_memory" })))
    local pools = "io.write(assert(require('xlua.domain').open():host()).cpupools[1].n_domains)"
    assert.equal("2", (s.x({ "-e", pools })))   -- Domain-0 and m, in Pool-0
    s.x({ "destroy", "m" })
    assert.equal("1", (s.x({ "-e", pools })))
  end)

  it("prints only the values of the keys NAME begins, as xl info NAME", function()
    local out, err, status = s.x({ "info", "xen_version" })
    assert.equal(0, status, err)
    assert.equal("4.17-xlua-sim\n", out)
    out = s.x({ "info", "xen_m" })
    assert.equal("4\n17\n", out)
    out, _, status = s.x({ "info", "no_such_key" })
    assert.equal(0, status)
    assert.equal("", out)
  end)

  it("prints --json with the same values as h:host() and xlua.host.info()", function()
    local out, err, status = s.x({ "info", "--json" })
    assert.equal(0, status, err)
    local j = assert(json.decode(out))
    local code = [[
      local json = require("xlua.json")
      local h = assert(require("xlua.domain").open())
      local a, b = assert(h:host()), assert(require("xlua.host").info())
      local same = true
      for k, v in pairs(a) do
        if type(v) ~= "table" and b[k] ~= v then same = false end
      end
      a.cpu_nodes, a.cpupools = nil, nil
      io.write(json.encode({ host = a, same = same }))
    ]]
    local hout, herr, hstatus = s.x({ "-e", code })
    assert.equal(0, hstatus, herr)
    local h = assert(json.decode(hout))
    assert.is_true(h.same)
    for k, v in pairs(h.host) do
      assert.equal(v, j[k], k)
    end
    for _, k in ipairs(XL_INFO_KEYS) do
      assert.is_not_nil(j[k], k)
    end
    -- the fields the policies already used are still there
    for _, k in ipairs({ "total_memory_kb", "free_memory_kb", "cpus", "online_cpus", "max_cpus",
                         "nr_nodes" }) do
      assert.is_number(h.host[k], k)
    end
    assert.equal(8 * 1024 * 1024, j.total_memory_kb)
    assert.equal("Pool-0", j.cpupools[1].name)
    assert.equal(j.nr_cpus, j.cpupools[1].n_cpus)
    assert.is_number(j.cpu_nodes["0"])
  end)

  it("refuses a second NAME and unknown options with status 2", function()
    local _, err, status = s.x({ "info", "a", "b" })
    assert.equal(2, status)
    assert.matches("too many arguments", err)
    _, _, status = s.x({ "info", "--bogus" })
    assert.equal(2, status)
  end)

  it("fails with one line where the backend cannot run", function()
    local out, err, status = helper.run({ "info" },
      { env = { XLUA_BACKEND = "libxl", XLUA_XEN_CAPABILITIES = "/nonexistent" } })
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^xlua info: [^\n]+\n$", err)
  end)
end)
