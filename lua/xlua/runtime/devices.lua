-- The runtime policies for a running domain's devices (xl block-attach / -detach / -list,
-- network-attach / -detach / -list, cd-insert / cd-eject, pci-attach / -detach / -list): the
-- spec strings parsed as xl parses them (libxlutil through xlua.xlutil, xl's vif syntax through
-- xlua.convert.devices), a clear refusal when the device is there already or not there, the
-- change through the backend, then the stored config kept true (xlua.runtime.record).
local json = require("xlua.json")
-- xlua.xlutil brings libxlutil and libxenlight into the process: loaded on the first spec
-- parsed, not by every create (most configs here have no disk, rate or PCI device).
local xlutil = setmetatable({}, { __index = function(_, k) return require("xlua.xlutil")[k] end })
local runtime = require("xlua.runtime")
local vdev_of = require("xlua.runtime.vdev")

local devices = {}

local function name(info)
  return string.format("%s (id %d)", info.name, info.domid)
end

-- devices.list(h, domid, kind) -> { {device = {...}, info = {...}}, ... } | nil, msg, code
function devices.list(h, domid, kind)
  local text, err, code = h:device_list(domid, kind)
  if not text then
    return nil, err, code
  end
  local list
  list, err = json.decode(text)
  if type(list) ~= "table" then
    return nil, "the backend's device list is not JSON: " .. tostring(err), "BADJSON"
  end
  return list
end

-- A value as text to compare: numbers as integers (cjson decodes 1 as 1.0), strings lowercase.
local function key(v)
  return tostring(type(v) == "number" and math.tointeger(v) or v):lower()
end

-- The listed device whose field equals value (case-insensitive), or nil.
local function find(list, field, value)
  for _, item in ipairs(list) do
    local v = item.device and item.device[field]
    if v ~= nil and key(v) == key(value) then
      return item
    end
  end
  return nil
end

-- The listed disk with device number devid (by its vdev, as libxl numbers it), or nil.
local function find_disk(list, devid)
  for _, item in ipairs(list) do
    if item.device and item.device.vdev and vdev_of.devid(item.device.vdev) == devid then
      return item
    end
  end
  return nil
end

local function attach(h, info, kind, device, what)
  local ok, err, code = h:device_add(info.domid, kind, json.encode(device))
  if not ok then
    return runtime.failed(string.format("cannot add %s to %s", what, name(info)), err, code)
  end
  return runtime.changed(h, info, kind, "attached " .. what)
end

-- The twin of attach: id as the backend takes it (vdev, devid or mac, BDF); what names it.
local function detach(h, info, kind, id, what, force)
  local ok, err, code = h:device_remove(info.domid, kind, id, force)
  if not ok then
    return runtime.failed(string.format("cannot remove %s from %s", what, name(info)), err, code)
  end
  return runtime.changed(h, info, kind, "detached " .. what)
end

---------------------------------------------------------------- disks

-- devices.block_attach(h, info, specs) -> true | nil, msg, code: specs are the disk spec
-- strings of xl block-attach (xl.cfg's disk= syntax, as several arguments or one).
function devices.block_attach(h, info, specs)
  local spec = table.concat(specs, ",")
  local disk, err, code = xlutil.disk(spec, "command line")
  if not disk then
    return nil, "invalid disk specification " .. spec .. ": " .. tostring(err), code
  end
  if not disk.vdev then
    return nil, "invalid disk specification " .. spec .. ": no vdev", "BADDISK"
  end
  local list
  list, err, code = devices.list(h, info.domid, "disk")
  if not list then
    return nil, err, code
  end
  local devid = vdev_of.devid(disk.vdev)
  if not devid then
    return nil, string.format("invalid disk specification %s: %s is not a virtual disk libxl "
      .. "can number", spec, disk.vdev), "EINVAL"
  end
  local taken = find_disk(list, devid)
  if taken then
    return nil, string.format("%s already has a disk %s (device %d)", name(info),
      taken.device.vdev, devid), "EXISTS"
  end
  if disk.format ~= "empty" and disk.pdev_path and not require("xlua").stat(disk.pdev_path) then
    return nil, "Cannot stat file: " .. disk.pdev_path, "ENOENT"
  end
  return attach(h, info, "disk", disk, string.format("disk %s (%s)", disk.vdev,
    disk.pdev_path or "empty"))
end

-- devices.block_detach(h, info, vdev, force) -> true | nil, msg, code: vdev a name or a device
-- number, as libxl_vdev_to_device_disk takes it.
function devices.block_detach(h, info, vdev, force)
  local list, err, code = devices.list(h, info.domid, "disk")
  if not list then
    return nil, err, code
  end
  local devid = vdev_of.devid(vdev)
  if not devid or not find_disk(list, devid) then
    return nil, string.format("Device %s not connected to %s", vdev, name(info)), "ENODEV"
  end
  return detach(h, info, "disk", vdev, "disk " .. vdev, force)
end

-- xl block-list's lines for one domain (no header).
function devices.block_lines(h, info)
  local list, err, code = devices.list(h, info.domid, "disk")
  if not list then
    return nil, err, code
  end
  local lines = {}
  for _, item in ipairs(list) do
    local i = item.info or {}
    lines[#lines + 1] = string.format("%-5d %-3d %-6d %-5d %-6d %-8d %-30s", i.devid or 0,
      i.backend_id or 0, i.frontend_id or 0, i.state or 0, i.evtch or 0, i.rref or 0,
      i.backend or "")
  end
  return lines
end

devices.BLOCK_HEADER = string.format("%-5s %-3s %-6s %-5s %-6s %-8s %-30s", "Vdev", "BE",
  "handle", "state", "evt-ch", "ring-ref", "BE-path")

---------------------------------------------------------------- cdroms

-- devices.cd_insert(h, info, vdev, target) -> true | nil, msg, code; target nil ejects.
-- A target of a file must exist (xl stats it).
function devices.cd_insert(h, info, vdev, target)
  local spec = string.format("vdev=%s,access=r,devtype=cdrom,target=%s", vdev, target or "")
  local disk, err, code = xlutil.disk(spec, "command line")
  if not disk then
    return nil, "invalid cdrom: " .. tostring(err), code
  end
  if disk.format ~= "empty" and disk.pdev_path and not require("xlua").stat(disk.pdev_path) then
    return nil, "Cannot stat file: " .. disk.pdev_path, "ENOENT"
  end
  local list
  list, err, code = devices.list(h, info.domid, "disk")
  if not list then
    return nil, err, code
  end
  local current = find(list, "vdev", vdev)
  if not current then
    return nil, string.format("%s has no disk %s", name(info), vdev), "ENODEV"
  elseif (tonumber(current.device.is_cdrom) or 0) == 0 then
    return nil, string.format("disk %s of %s is not a cdrom", vdev, name(info)), "EINVAL"
  end
  local ok
  ok, err, code = h:cd_insert(info.domid, json.encode(disk))
  if not ok then
    return nil, string.format("cannot change cdrom %s of %s: %s", vdev, name(info), err), code
  end
  return runtime.changed(h, info, "disk", target and string.format("cd-insert %s %s", vdev, target)
    or "cd-eject " .. vdev)
end

---------------------------------------------------------------- nics

-- What xl network-attach only warns about (parse_nic_config goes on); every other complaint of
-- the vif parser (a bad mac or type, an unknown option) refuses the nic, as xl exits 1 there.
-- Only vif= in a config file is read leniently.
local VIF_WARNINGS = {
  ["vif: netdev= is deprecated, use gatewaydev="] = true,
  ["vif: accel= is not supported (xl ignores it too)"] = true,
}

-- devices.network_attach(h, info, specs [, warn]) -> true | nil, msg, code: specs are xl's
-- vif options (bridge=..., mac=..., ...), one per argument.
function devices.network_attach(h, info, specs, warn)
  warn = warn or function() end
  local function strict(fmt, ...)
    if VIF_WARNINGS[fmt] then
      return warn(fmt, ...)
    end
    -- what the file reading keeps or ignores does not apply here: the nic is refused
    local msg = string.format(fmt, ...):gsub("^vif: ", ""):gsub(", ignored$", "")
    error((msg:gsub(" %(xl keeps the bytes before the bad one%)$", "")), 0)
  end
  local ok, nic = pcall(require("xlua.convert.devices").nic, table.concat(specs, ","), nil, strict)
  if not ok then
    runtime.pass_interrupt(nic)
    return nil, "invalid vif: " .. (type(nic) == "table" and nic.message or tostring(nic)),
      "BADVALUE"
  end
  local list, err, code = devices.list(h, info.domid, "nic")
  if not list then
    return nil, err, code
  end
  if nic.devid and find(list, "devid", nic.devid) then
    return nil, string.format("%s already has a nic %d", name(info), nic.devid), "EXISTS"
  elseif nic.mac and find(list, "mac", nic.mac) then
    return nil, string.format("%s already has a nic with mac %s", name(info), nic.mac), "EXISTS"
  end
  return attach(h, info, "nic", nic, "nic " .. table.concat(specs, ","))
end

-- devices.network_detach(h, info, id) -> true | nil, msg, code: id a devid or a mac (with ":").
function devices.network_detach(h, info, id)
  local list, err, code = devices.list(h, info.domid, "nic")
  if not list then
    return nil, err, code
  end
  local by_mac = id:find(":", 1, true)
  local devid = not by_mac and math.tointeger(tonumber(id:match("^%s*(%d+)")) or 0)
  if not find(list, by_mac and "mac" or "devid", by_mac and id or devid) then
    return nil, string.format("Unknown device %s of %s", id, name(info)), "ENODEV"
  end
  return detach(h, info, "nic", by_mac and id or tostring(devid), "nic " .. id)
end

function devices.network_lines(h, info)
  local list, err, code = devices.list(h, info.domid, "nic")
  if not list then
    return nil, err, code
  end
  local lines = {}
  for _, item in ipairs(list) do
    local i = item.info or {}
    lines[#lines + 1] = string.format("%-3d %-2d ", i.devid or 0, i.backend_id or 0)
      .. string.format("%-17s", item.device.mac or "00:00:00:00:00:00")
      .. string.format("%6d %5d %6d %5d/%-11d %-30s", i.devid or 0, i.state or 0, i.evtch or 0,
        i.rref_tx or 0, i.rref_rx or 0, i.backend or "")
  end
  return lines
end

devices.NETWORK_HEADER = string.format("%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s", "Idx",
  "BE", "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path")

---------------------------------------------------------------- PCI

local function bdf(p)
  return string.format("%04x:%02x:%02x.%x", p.domain or 0, p.bus or 0, p.dev or 0, p.func or 0)
end

-- A PCI_SPEC_STRING as xl reads it. -> device | nil, msg, "BADPCI"
local function pci_spec(command, spec)
  local pci, err = xlutil.pci(spec)
  if not pci then
    return nil, string.format("%s: malformed PCI_SPEC_STRING \"%s\" (%s)", command, spec,
      tostring(err)), "BADPCI"
  end
  return pci
end

local function find_pci(list, id)
  for _, item in ipairs(list) do
    if bdf(item.device or {}) == id then
      return item
    end
  end
  return nil
end

-- devices.pci_attach(h, info, spec) -> true | nil, msg, code
function devices.pci_attach(h, info, spec)
  local pci, err, code = pci_spec("pci-attach", spec)
  if not pci then
    return nil, err, code
  end
  local list
  list, err, code = devices.list(h, info.domid, "pci")
  if not list then
    return nil, err, code
  end
  if find_pci(list, bdf(pci)) then
    return nil, string.format("%s already has the PCI device %s", name(info), bdf(pci)), "EXISTS"
  end
  return attach(h, info, "pci", pci, "PCI device " .. bdf(pci))
end

-- devices.pci_detach(h, info, spec, force) -> true | nil, msg, code
function devices.pci_detach(h, info, spec, force)
  local pci, err, code = pci_spec("pci-detach", spec)
  if not pci then
    return nil, err, code
  end
  local list
  list, err, code = devices.list(h, info.domid, "pci")
  if not list then
    return nil, err, code
  end
  if not find_pci(list, bdf(pci)) then
    return nil, string.format("%s has no PCI device %s", name(info), bdf(pci)), "ENODEV"
  end
  return detach(h, info, "pci", bdf(pci), "PCI device " .. bdf(pci), force)
end

-- xl pci-list's lines ("Vdev Device" first), or an empty list when there is none.
function devices.pci_lines(h, info)
  local list, err, code = devices.list(h, info.domid, "pci")
  if not list then
    return nil, err, code
  end
  if #list == 0 then
    return {}
  end
  local lines = { "Vdev Device" }
  for _, item in ipairs(list) do
    local p = item.device or {}
    local vdevfn = p.vdevfn or 0
    lines[#lines + 1] = string.format("%02x.%01x %s", (vdevfn >> 3) & 0x1f, vdevfn & 7, bdf(p))
  end
  return lines
end

return devices
