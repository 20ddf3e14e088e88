-- disk, vif, pci and vfb specs written back from their libxl device tables (the reverse of
-- xlua.convert.devices). Each spec function follows out.devices' contract: text and the fields
-- it could not write, or nil when the device cannot be written at all.
local out = require("xlua.xlcfg.out")

local devices = {}

function devices.pci_spec(p, rdm_default)
  local parts = {}
  if p.name and not p.bus and not p.dev and not p.func and not p.domain then
    parts[1] = "name=" .. p.name
  else
    local mask = p.vfunc_mask or 0
    local bdf = string.format("%04x:%02x:%02x.", p.domain or 0, p.bus or 0, p.dev or 0)
    if mask == 0xffffffff then
      bdf = bdf .. "*"
    else
      bdf = bdf .. string.format("%x", p.func or 0)
    end
    if p.vdevfn and p.vdevfn ~= 0 then
      bdf = bdf .. string.format("@%x", p.vdevfn >> 3)
    end
    parts[1] = bdf
    if p.name then
      return nil -- both a BDF and a name: xl refuses that combination
    end
    if mask ~= 1 and mask ~= 0xffffffff then
      return nil
    end
    if p.vdevfn and p.vdevfn & 7 ~= 0 then
      return nil
    end
  end
  for _, k in ipairs({ "msitranslate", "power_mgmt", "permissive", "seize" }) do
    if p[k] then
      parts[#parts + 1] = k .. "=1"
    end
  end
  if p.rdm_policy ~= rdm_default then
    if not p.rdm_policy then
      return nil
    end
    parts[#parts + 1] = "rdm_policy=" .. p.rdm_policy
  end
  return table.concat(parts, ",")
end

local DISK_RENDERED = {
  pdev_path = true, vdev = true, format = true, readwrite = true, is_cdrom = true,
  removable = true, backend = true, backend_domname = true, script = true, direct_io_safe = true,
  discard_enable = true, specification = true, backend_domid = true, colo_enable = true,
  colo_host = true, colo_port = true, colo_export = true, active_disk = true, hidden_disk = true,
}

function devices.disk_spec(d)
  local dropped = {}
  for k, v in pairs(d) do
    if not DISK_RENDERED[k] then -- anything else is left for the comments
      dropped[k] = v
    end
  end
  if d.backend_domid and d.backend_domid ~= 0 then
    dropped.backend_domid = d.backend_domid
  end
  if (d.removable == 1) ~= (d.is_cdrom == 1) or not d.vdev or d.format == nil then
    return nil -- (xlu_disk_parse always sets a format)
  end
  if d.is_cdrom == 1 and d.readwrite == 1 then
    return nil
  end
  local parts = {}
  local function add(s)
    parts[#parts + 1] = s
  end
  add("format=" .. d.format)
  add("vdev=" .. d.vdev)
  add("access=" .. (d.readwrite == 1 and "rw" or "ro"))
  if d.is_cdrom == 1 then
    add("devtype=cdrom")
  end
  if d.backend then
    add("backendtype=" .. d.backend)
  end
  if d.backend_domname then
    add("backend=" .. d.backend_domname)
  end
  if d.specification then
    add("specification=" .. d.specification)
  end
  if d.script then
    add("script=" .. d.script)
  end
  if d.direct_io_safe then
    add("direct-io-safe")
  end
  if d.discard_enable then
    add(d.discard_enable == "True" and "discard" or "no-discard")
  end
  if d.colo_enable then
    add(d.colo_enable == "True" and "colo" or "no-colo")
  end
  for _, k in ipairs({ "colo_host", "colo_port", "colo_export", "active_disk", "hidden_disk" }) do
    if d[k] then
      add(k:gsub("_", "-") .. "=" .. d[k])
    end
  end
  -- (disk trusted/untrusted is not in the installed 4.17 libxlutil's disk syntax, so a
  -- disk with it is left for the comments)
  for _, p in ipairs(parts) do
    if p:find(",", 1, true) then
      return nil
    end
  end
  if d.pdev_path then
    add("target=" .. d.pdev_path) -- last: target= takes the rest of the spec
  end
  return table.concat(parts, ", "), dropped
end

-- A rate as xl's "<bytes>B/s@<usecs>us", the bytes rounded so libxlutil gives back the
-- same bytes per interval.
local function rate_spec(bpi, usecs)
  if math.type(bpi) ~= "integer" or math.type(usecs) ~= "integer" or usecs <= 0 or bpi < 0 then
    return nil
  end
  local bps = (bpi * 1000000 + usecs - 1) // usecs
  if bps == 0 or bps > 0xffffffff then
    return nil
  end
  if (bps * usecs) // 1000000 ~= bpi then
    return nil
  end
  return string.format("%dB/s@%dus", bps, usecs)
end
devices.rate_spec = rate_spec

local NIC_KEYS = {
  { "mac", "mac" }, { "bridge", "bridge" }, { "ip", "ip" }, { "script", "script" },
  { "model", "model" }, { "ifname", "vifname" }, { "backend_domname", "backend" },
  { "gatewaydev", "gatewaydev" }, { "coloft_forwarddev", "forwarddev" },
}

-- One vif; what cannot be said (a rate libxlutil cannot give back, a value with a comma, a
-- field with no vif option) is dropped to the comments, the rest is still written.
function devices.nic_spec(n, position)
  if math.type(n.devid) ~= "integer" or n.devid < 0 then
    return nil
  end
  local parts, dropped, left = {}, {}, {}
  for k, v in pairs(n) do
    left[k] = v
  end
  local function add(field, text)
    if out.spec_safe(text) then
      parts[#parts + 1] = text
    else
      dropped[field] = n[field]
    end
    left[field] = nil
  end
  for _, pair in ipairs(NIC_KEYS) do
    if n[pair[1]] then
      add(pair[1], pair[2] .. "=" .. tostring(n[pair[1]]))
    end
  end
  if n.nictype == "vif" or n.nictype == "vif_ioemu" then
    add("nictype", "type=" .. (n.nictype == "vif" and "vif" or "ioemu"))
  end
  if n.rate_bytes_per_interval or n.rate_interval_usecs then
    local rate = rate_spec(n.rate_bytes_per_interval or 0, n.rate_interval_usecs or 0)
    if rate then
      add("rate_bytes_per_interval", "rate=" .. rate)
      left.rate_interval_usecs = nil
    end
  end
  if math.type(n.mtu) == "integer" and n.mtu > 0 then
    add("mtu", "mtu=" .. n.mtu)
  end
  if n.trusted == "True" or n.trusted == "False" then
    add("trusted", n.trusted == "True" and "trusted" or "untrusted")
  end
  for k, v in pairs(n) do
    if k:match("^colo_") and type(v) == "string" then
      add(k, k .. "=" .. v)
    end
  end
  if n.devid ~= position then
    add("devid", "devid=" .. n.devid)
  end
  left.devid = nil
  for k, v in pairs(left) do
    dropped[k] = v
  end
  return table.concat(parts, ", "), dropped
end

function devices.vfb_spec(v, position)
  if v.devid ~= position then
    return nil
  end
  local parts = {}
  local function add(s)
    parts[#parts + 1] = s
  end
  local vnc, sdl = v.vnc or {}, v.sdl or {}
  for k in pairs(v) do
    if k ~= "devid" and k ~= "vnc" and k ~= "sdl" and k ~= "keymap" then
      return nil
    end
  end
  local bool01 = out.bool01
  if vnc.enable then add("vnc=" .. bool01(vnc.enable)) end
  if vnc.listen then add("vnclisten=" .. vnc.listen) end
  if vnc.passwd then add("vncpasswd=" .. vnc.passwd) end
  if vnc.display then add("vncdisplay=" .. vnc.display) end
  if vnc.findunused then add("vncunused=" .. bool01(vnc.findunused)) end
  if v.keymap then add("keymap=" .. v.keymap) end
  if sdl.enable then add("sdl=" .. bool01(sdl.enable)) end
  if sdl.opengl then add("opengl=" .. bool01(sdl.opengl)) end
  if sdl.display then add("display=" .. sdl.display) end
  if sdl.xauthority then add("xauthority=" .. sdl.xauthority) end
  for _, p in ipairs(parts) do
    if not out.spec_safe(p) or not p:find("=", 1, true) then
      return nil
    end
  end
  return table.concat(parts, ", ")
end

return devices
