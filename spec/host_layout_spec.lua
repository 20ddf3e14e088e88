-- cpus="all", node: ranges and vnuma's pnode= take the host's CPU and NUMA layout from the
-- backend (the sim's: this machine's cpus over $XLUA_SIM_HOST_NODES nodes).
local json = require("xlua.json")
local sim = require("support.sim")

local BASE = 'name = "g"\nmemory = 256\nvcpus = 1\nkernel = "/k"\n'

describe("the host's layout", function()
  local s = sim.new()
  local env = {}
  for k, v in pairs(s.env) do
    env[k] = v
  end
  env.XLUA_SIM_HOST_NODES = "2"

  -- what the sim host says of itself, through the binding
  local out = assert(s.x({ "-e", 'local t = require("xlua.domain").open("sim"):host() '
    .. 'local n = {} for c = 0, t.max_cpus - 1 do n[#n + 1] = t.cpu_nodes[c] end '
    .. 'print(t.max_cpus, t.nr_nodes, table.concat(n, ","))' }, { env = env }))
  local max_cpus, nr_nodes, list = out:match("^(%d+)%s+(%d+)%s+([%d,]*)")
  max_cpus, nr_nodes = tonumber(max_cpus), tonumber(nr_nodes)
  -- "all" is every bit of xl's cpu bitmap: max_cpus rounded up to whole bytes (set_any)
  local node_of, all, node0 = {}, {}, {}
  for cpu = 0, ((max_cpus + 7) // 8) * 8 - 1 do
    all[#all + 1] = cpu
  end
  for n in list:gmatch("%d+") do
    node_of[#node_of + 1] = tonumber(n)
    if tonumber(n) == 0 then
      node0[#node0 + 1] = #node_of - 1
    end
  end

  local function convert(text, e)
    local o, err, code = s.x({ "convert", s.file("g.cfg", BASE .. text) }, { env = e or env })
    return o ~= "" and json.decode(o) or nil, err, code
  end

  it("the sim host has this machine's cpus, on the nodes $XLUA_SIM_HOST_NODES asks for", function()
    assert.is_true(max_cpus >= 1)
    assert.equal(max_cpus, #node_of)
    assert.equal(math.min(2, max_cpus), nr_nodes)
    assert.equal(0, node_of[1])
    assert.equal(nr_nodes - 1, node_of[#node_of])
  end)

  it("gives convert cpus=\"all\" and node: ranges", function()
    local c, err, code = convert('cpus = "all"\n')
    assert.equal(0, code, err)
    assert.same({ all }, c.b_info.vcpu_hard_affinity)
    c, err, code = convert('cpus = "node:0"\n')
    assert.equal(0, code, err)
    assert.same({ node0 }, c.b_info.vcpu_hard_affinity)
    -- a node the host does not have has no cpus
    c = convert('cpus = "0,nodes:7"\n')
    assert.same({ { 0 } }, c.b_info.vcpu_hard_affinity)
  end)

  it("checks vnuma's pnode= against the host's nodes", function()
    local vnuma = 'vnuma = [ [ "pnode=%d", "size=256", "vcpus=0" ] ]\n'
    local c, err, code = convert(vnuma:format(nr_nodes - 1))
    assert.equal(0, code, err)
    assert.equal(1, #c.b_info.vnuma_nodes)
    _, err, code = convert(vnuma:format(nr_nodes))
    assert.equal(2, code)
    assert.matches("pnode", err)
  end)

  it("lets create use it: no NEEDHOST on the sim", function()
    local cfg = s.file("all.cfg", BASE .. 'cpus = "all"\n')
    local o, err, code = s.x({ "create", "-n", cfg }, { env = env })
    assert.equal(0, code, err)
    assert.same({ all }, json.decode(o).b_info.vcpu_hard_affinity)
    _, err, code = s.x({ "create", "-p", "-e", cfg }, { env = env })
    assert.equal(0, code, err)
  end)

  it("is unknown, and NEEDHOST stays, when no backend can be opened", function()
    local _, err, code = convert('cpus = "all"\n', { XLUA_BACKEND = "nosuch" })
    assert.equal(2, code)
    assert.matches("not known here", err)
  end)
end)
