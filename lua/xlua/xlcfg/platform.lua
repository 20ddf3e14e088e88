-- The machine the guest sees, written back: I/O port, IRQ and memory passthrough, the
-- virtual NUMA layout, the CPUID policy, the Arm and TEE enums (the reverse of
-- xlua.convert.platform), and the HVM keys added with them (spice, gfx_passthru, mca_caps,
-- ms_vm_genid, altp2mhvm).
local out = require("xlua.xlcfg.out")

local platform = {}

local function uint(n)
  return math.type(n) == "integer" and n >= 0
end

local function only(t, ...)
  local known = {}
  for _, k in ipairs({ ... }) do
    known[k] = true
  end
  for k in pairs(t) do
    if not known[k] then
      return false
    end
  end
  return true
end

-- ioports: "first-last" in hex, "first" for one port.
local function ioport_spec(r)
  local first, number = r.first or 0, r.number or 0
  if not uint(first) or not uint(number) or number == 0 or not only(r, "first", "number") then
    return nil
  end
  local last = first + number - 1
  if last >= 0xffffffff then
    return nil
  end
  return number == 1 and string.format("%x", first) or string.format("%x-%x", first, last)
end

-- iomem: "start,number[@gfn]" in hex (no gfn: libxl's default, LIBXL_INVALID_GFN).
local function iomem_spec(r)
  local start, number = r.start or 0, r.number or 0
  if not uint(start) or not uint(number) or not only(r, "start", "number", "gfn") then
    return nil
  end
  local text = string.format("%x,%x", start, number)
  if r.gfn ~= nil then
    if not uint(r.gfn) then
      return nil
    end
    text = text .. string.format("@%x", r.gfn)
  end
  return text
end

function platform.passthrough(o)
  out.devices(o, "ioports", { "b_info", "ioports" }, ioport_spec)
  out.devices(o, "iomem", { "b_info", "iomem" }, iomem_spec)
  local irqs = o.peek("b_info", "irqs")
  if type(irqs) == "table" and #irqs > 0 then
    for _, n in ipairs(irqs) do
      if not uint(n) or n >= 0xffffffff then
        return
      end
    end
    o.add("irqs", out.list(irqs))
    o.take("b_info", "irqs")
  end
end

-- vnuma = [ [ "pnode=P", "size=MiB", "vcpus=R", "vdistances=D,D" ], ... ]: the items, or nil
-- when the layout cannot be written. Every node's vcpus add up to max_vcpus (then maxvcpus=
-- is written, so the count needs no host), and distances are one per node.
function platform.vnuma_items(b_info)
  local nodes = b_info.vnuma_nodes
  if type(nodes) ~= "table" or #nodes == 0 then
    return nil
  end
  local items, total = {}, 0
  for i, node in ipairs(nodes) do
    if type(node) ~= "table" or not only(node, "memkb", "pnode", "vcpus", "distances") then
      return nil
    end
    local item = {}
    if node.pnode ~= nil then
      if not uint(node.pnode) then
        return nil
      end
      item[#item + 1] = "pnode=" .. node.pnode
    end
    if node.memkb ~= nil then
      if not uint(node.memkb) or node.memkb % 1024 ~= 0 then
        return nil
      end
      item[#item + 1] = "size=" .. (node.memkb >> 10)
    end
    local vcpus = node.vcpus or {}
    for j, v in ipairs(vcpus) do
      if not uint(v) or (j > 1 and v <= vcpus[j - 1]) then
        return nil
      end
    end
    if #vcpus > 0 then
      item[#item + 1] = "vcpus=" .. out.ranges(vcpus)
    end
    total = total + #vcpus
    local d = node.distances or {}
    if #d ~= #nodes then
      return nil
    end
    local any = false
    for _, x in ipairs(d) do
      if not uint(x) then
        return nil
      end
      any = any or x ~= 0
    end
    if any then
      local parts = {}
      for j, x in ipairs(d) do
        parts[j] = tostring(x)
      end
      item[#item + 1] = "vdistances=" .. table.concat(parts, ",")
    end
    items[i] = item
  end
  if total ~= b_info.max_vcpus then
    return nil
  end
  return items
end

---------------------------------------------------------------- cpuid

local REGS = { "eax", "ebx", "ecx", "edx" }

-- The policy as xend-style items, "leaf[,subleaf]:reg=bits,...", which libxl's parser turns
-- back into the same policy; nil when it holds anything else (MSR entries).
local function cpuid_items(policy)
  if type(policy) ~= "table" or not only(policy, "cpuid", "msr") then
    return nil
  end
  if type(policy.msr) == "table" and #policy.msr > 0 then
    return nil
  end
  local items = {}
  for i, leaf in ipairs(policy.cpuid or {}) do
    if type(leaf) ~= "table" or not only(leaf, "leaf", "subleaf", "eax", "ebx", "ecx", "edx")
      or not uint(leaf.leaf) or leaf.leaf >= 0xffffffff then
      return nil
    end
    local text = leaf.leaf >= 0x40000000 and string.format("0x%x", leaf.leaf) or tostring(leaf.leaf)
    if leaf.subleaf ~= nil then
      if not uint(leaf.subleaf) or leaf.subleaf >= 0xffffffff then
        return nil
      end
      text = text .. "," .. leaf.subleaf
    end
    local regs = {}
    for _, r in ipairs(REGS) do
      local bits = leaf[r]
      if bits ~= nil then
        if type(bits) ~= "string" or not bits:match("^[01xks]+$") or #bits ~= 32 then
          return nil
        end
        regs[#regs + 1] = r .. "=" .. bits
      end
    end
    items[i] = text .. ":" .. table.concat(regs, ",")
  end
  return items
end

function platform.cpuid(o)
  local items = cpuid_items(o.peek("b_info", "cpuid"))
  if items then
    o.add("cpuid", out.list(items))
    o.take("b_info", "cpuid")
  end
end

---------------------------------------------------------------- arch, tee

function platform.arch(o)
  out.field(o, "vuart", "string", "b_info", "arch_arm", "vuart")
  out.field(o, "gic_version", "string", "b_info", "arch_arm", "gic_version")
  out.field(o, "tee", "string", "b_info", "tee")
end

---------------------------------------------------------------- HVM additions

local function hex_bytes(list)
  local parts = {}
  for i, b in ipairs(type(list) == "table" and list or {}) do
    parts[i] = string.format("%02x", math.tointeger(b) or 0)
  end
  return table.concat(parts)
end

-- o: the renderer; tkey: "type.hvm".
function platform.hvm(o, tkey)
  local field = out.field
  field(o, "altp2mhvm", "defbool", "b_info", tkey, "altp2m")
  if o.peek("b_info", tkey, "mca_caps") == 1 then
    o.add("mca_caps", out.list({ "lmce" }))
    o.take("b_info", tkey, "mca_caps")
  end
  local genid = o.peek("b_info", tkey, "ms_vm_genid")
  if type(genid) == "table" and #genid == 16 then
    -- xl.cfg can only ask for a new ID; a guest restored from this rendering gets one.
    o.comment("the saved VM generation ID was " .. hex_bytes(genid) .. "; \"generate\" makes a new one")
    o.add("ms_vm_genid", out.quote("generate"))
    o.take("b_info", tkey, "ms_vm_genid")
  end
  local gfx, kind = o.peek("b_info", tkey, "gfx_passthru"), o.peek("b_info", tkey, "gfx_passthru_kind")
  if kind == nil and (gfx == "True" or gfx == "False") then
    field(o, "gfx_passthru", "defbool", "b_info", tkey, "gfx_passthru")
  elseif gfx == "True" and kind == "igd" then
    o.add("gfx_passthru", out.quote(kind))
    o.take("b_info", tkey, "gfx_passthru")
    o.take("b_info", tkey, "gfx_passthru_kind")
  end
  local sp = { "b_info", tkey, "spice" }
  local function spice(key, kind, name)
    field(o, key, kind, sp[1], sp[2], sp[3], name)
  end
  spice("spice", "defbool", "enable")
  spice("spiceport", "string", "port")
  spice("spicetls_port", "string", "tls_port")
  spice("spicehost", "string", "host")
  spice("spicedisable_ticketing", "defbool", "disable_ticketing")
  spice("spicepasswd", "string", "passwd")
  spice("spiceagent_mouse", "defbool", "agent_mouse")
  spice("spicevdagent", "defbool", "vdagent")
  spice("spice_clipboard_sharing", "defbool", "clipboard_sharing")
  spice("spiceusbredirection", "string", "usbredirection")
  spice("spice_image_compression", "string", "image_compression")
  spice("spice_streaming_video", "string", "streaming_video")
end

return platform
