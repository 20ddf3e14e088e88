-- Device lists of a config (disk, vif, pci, vfb) to libxl's device tables, following
-- xl_parse.c; the disk, PCI and rate syntaxes go to libxlutil itself through xlua.xlutil.
-- Each list item is either xl's spec string or, in a Lua config, a table of the same
-- key=value options ({ target = "/dev/vg/a", vdev = "xvda" }).
local values = require("xlua.convert.values")
-- xlua.xlutil brings libxlutil and libxenlight into the process: loaded on the first spec
-- parsed, not by every create (most configs here have no disk, rate or PCI device).
local xlutil = setmetatable({}, { __index = function(_, k) return require("xlua.xlutil")[k] end })

local devices = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      return nil
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- A table item as xl's "k=v,k=v" spec. flag(k, bool) spells a boolean option; first and
-- last name keys that must come first (a positional BDF) or last (disk's target=, which
-- swallows the rest of the string).
local function table_spec(key, item, flag, order)
  local keys = sorted_keys(item)
  if not keys then
    values.fail(key, item, "a device table has only named options")
  end
  local head, tail, parts = {}, {}, {}
  for _, k in ipairs(keys) do
    local v = item[k]
    local text
    if type(v) == "boolean" then
      text = flag(k, v)
    elseif type(v) == "string" or type(v) == "number" then
      text = k .. "=" .. values.string(key, v)
    else
      values.fail(key, item, "option " .. k .. " should be a single value")
    end
    if order and order.last == k then
      tail[#tail + 1] = text
    elseif order and order.first == k then
      head[#head + 1] = text
    else
      parts[#parts + 1] = text
    end
  end
  table.move(parts, 1, #parts, #head + 1, head)
  table.move(tail, 1, #tail, #head + 1, head)
  return table.concat(head, ",")
end

local function items(key, v)
  local list = values.list(key, v)
  for i, item in ipairs(list) do
    if type(item) ~= "string" and type(item) ~= "table" and type(item) ~= "number" then
      values.fail(key, item, "item " .. i .. " should be a spec string")
    end
  end
  return list
end

---------------------------------------------------------------- disk

local function disk_flag(k, v)
  k = k:gsub("_", "-")
  if k == "trusted" then
    return v and "trusted" or "untrusted"
  elseif k == "cdrom" then
    return v and "devtype=cdrom" or "devtype=disk"
  end
  return v and k or "no-" .. k
end

-- The spec string of one disk item (tables use the key=value syntax, target last).
function devices.disk_spec(item)
  if type(item) ~= "table" then
    return values.string("disk", item)
  end
  local spec = {}
  for k, v in pairs(item) do
    spec[type(k) == "string" and k:gsub("_", "-") or k] = v
  end
  return table_spec("disk", spec, disk_flag, { last = "target" })
end

-- disk = [ ... ]: each through xlu_disk_parse (parse_disk_config); no devid (xl uses
-- ARRAY_EXTEND_INIT_NODEVID for disks).
function devices.disks(v)
  local out = {}
  for i, item in ipairs(items("disk", v)) do
    local spec = devices.disk_spec(item)
    local disk, err = xlutil.disk(spec, "disk")
    if not disk then
      values.fail("disk", spec, err)
    end
    out[i] = disk
  end
  return out
end

---------------------------------------------------------------- vif

local nic_strings = {
  bridge = "bridge", ip = "ip", script = "script", backend = "backend_domname",
  vifname = "ifname", model = "model", gatewaydev = "gatewaydev", forwarddev = "coloft_forwarddev",
}

-- The COLO options are copied under their own names (parse_nic_config).
for _, name in ipairs({
  "colo_sock_mirror_id", "colo_sock_mirror_ip", "colo_sock_mirror_port",
  "colo_sock_compare_sec_in_id", "colo_sock_compare_sec_in_ip", "colo_sock_compare_sec_in_port",
  "colo_sock_redirector0_id", "colo_sock_redirector0_ip", "colo_sock_redirector0_port",
  "colo_sock_redirector1_id", "colo_sock_redirector1_ip", "colo_sock_redirector1_port",
  "colo_sock_redirector2_id", "colo_sock_redirector2_ip", "colo_sock_redirector2_port",
  "colo_sock_compare_pri_in_id", "colo_sock_compare_pri_in_ip", "colo_sock_compare_pri_in_port",
  "colo_sock_compare_notify_id", "colo_sock_compare_notify_ip", "colo_sock_compare_notify_port",
  "colo_filter_mirror_queue", "colo_filter_mirror_outdev", "colo_filter_redirector0_queue",
  "colo_filter_redirector0_indev", "colo_filter_redirector0_outdev",
  "colo_filter_redirector1_queue", "colo_filter_redirector1_indev",
  "colo_filter_redirector1_outdev", "colo_compare_pri_in", "colo_compare_sec_in",
  "colo_compare_out", "colo_compare_notify_dev", "colo_sock_sec_redirector0_id",
  "colo_sock_sec_redirector0_ip", "colo_sock_sec_redirector0_port",
  "colo_sock_sec_redirector1_id", "colo_sock_sec_redirector1_ip",
  "colo_sock_sec_redirector1_port", "colo_filter_sec_redirector0_queue",
  "colo_filter_sec_redirector0_indev", "colo_filter_sec_redirector0_outdev",
  "colo_filter_sec_redirector1_queue", "colo_filter_sec_redirector1_indev",
  "colo_filter_sec_redirector1_outdev", "colo_filter_sec_rewriter0_queue",
  "colo_checkpoint_host", "colo_checkpoint_port",
}) do
  nic_strings[name] = name
end

-- xl's mac=: six groups read with strtoul(.., 16), each at most 255, one separator each.
-- A bad group ends the reading with a warning; the bytes read before it stay (as in xl).
local function parse_mac(spec, text, warn)
  local bytes, pos = { 0, 0, 0, 0, 0, 0 }, 1
  for i = 1, 6 do
    local n, rest, ok = values.strtoul(text:sub(pos), 16)
    if not ok or n > 255 or n < 0 then
      warn("vif: invalid mac= in %s (xl keeps the bytes before the bad one)", values.show(spec))
      break
    end
    bytes[i] = n
    pos = #text - #rest + 2
  end
  local any = false
  for i = 1, 6 do
    any = any or bytes[i] ~= 0
    bytes[i] = string.format("%02x", bytes[i])
  end
  return any and table.concat(bytes, ":") or nil
end

local function parse_ulong(spec, name, text)
  local n = text:match("^%s*%+?(%d+)")
  n = n and math.tointeger(tonumber(n))
  if not n or n > 0xffffffff then
    values.fail("vif", spec, name .. " is not a number")
  end
  return n
end

local function vif_flag(k, v)
  if k == "trusted" then
    return v and "trusted" or "untrusted"
  end
  return k .. "=" .. (v and "1" or "0")
end

function devices.vif_spec(item)
  if type(item) ~= "table" then
    return values.string("vif", item)
  end
  return table_spec("vif", item, vif_flag)
end

-- One vif spec (parse_nic_config over strtok(",") tokens, leading blanks skipped).
function devices.nic(spec, devid, warn, defaults)
  local nic = { devid = devid }
  for k, v in pairs(defaults or {}) do
    nic[k] = v
  end
  for token in spec:gmatch("[^,]+") do
    token = token:gsub("^ +", "")
    local k, v = token:match("^([^=]*)=(.*)$")
    if token == "trusted" then
      nic.trusted = "True"
    elseif token == "untrusted" then
      nic.trusted = "False"
    elseif not k then
      warn("vif: unknown option `%s' in %s, ignored", token, values.show(spec))
    elseif k == "type" then
      if v == "vif" then
        nic.nictype = "vif"
      elseif v == "ioemu" then
        nic.nictype = "vif_ioemu"
      else
        warn("vif: invalid type= in %s (vif or ioemu), ignored", values.show(spec))
      end
    elseif k == "mac" then
      nic.mac = parse_mac(spec, v, warn)
    elseif k == "netdev" then
      warn("vif: netdev= is deprecated, use gatewaydev=")
      nic.gatewaydev = v
    elseif nic_strings[k] then
      nic[nic_strings[k]] = v
    elseif k == "rate" then
      local bytes, usecs = xlutil.vif_rate(v)
      if not bytes then
        values.fail("vif", spec, usecs)
      end
      nic.rate_bytes_per_interval, nic.rate_interval_usecs = bytes, usecs
    elseif k == "accel" then
      warn("vif: accel= is not supported (xl ignores it too)")
    elseif k == "devid" then
      nic.devid = parse_ulong(spec, k, v)
    elseif k == "mtu" then
      nic.mtu = parse_ulong(spec, k, v)
      if nic.mtu == 0 then
        nic.mtu = nil
      end
    else
      warn("vif: unknown option `%s' in %s, ignored", k, values.show(spec))
    end
  end
  return nic
end

-- vif = [ ... ]: devid is the position (ARRAY_EXTEND_INIT), defaults as xl.conf would
-- set them (set_default_nic_values).
function devices.nics(v, warn, defaults)
  local out = {}
  for i, item in ipairs(items("vif", v)) do
    out[i] = devices.nic(devices.vif_spec(item), i - 1, warn, defaults)
  end
  return out
end

---------------------------------------------------------------- pci

local function pci_flag(k, v)
  return k .. "=" .. (v and "1" or "0")
end

function devices.pci_spec(item)
  if type(item) ~= "table" then
    return values.string("pci", item)
  end
  return table_spec("pci", item, pci_flag, { first = "bdf" })
end

-- pci = [ ... ]: xlu_pci_parse_spec_string, after presetting each device from the global
-- pci_* keys and the domain's rdm policy (parse_config_data does this before parsing).
function devices.pcis(v, presets)
  local out = {}
  for i, item in ipairs(items("pci", v)) do
    local spec = devices.pci_spec(item)
    local pci, err = xlutil.pci(spec, presets)
    if not pci then
      values.fail("pci", spec, err)
    end
    out[i] = pci
  end
  return out
end

---------------------------------------------------------------- vfb

local vfb_options = {
  vnc = { "vnc", "enable", "bool" },
  vnclisten = { "vnc", "listen" },
  vncpasswd = { "vnc", "passwd" },
  vncdisplay = { "vnc", "display", "int" },
  vncunused = { "vnc", "findunused", "bool" },
  keymap = { nil, "keymap" },
  sdl = { "sdl", "enable", "bool" },
  opengl = { "sdl", "opengl", "bool" },
  display = { "sdl", "display" },
  xauthority = { "sdl", "xauthority" },
}

-- atoi: leading blanks, a sign, digits; anything else is 0.
local function atoi(s)
  local n = s:match("^%s*([+-]?%d+)")
  return n and math.tointeger(tonumber(n)) or 0
end

function devices.vfb_spec(item)
  if type(item) ~= "table" then
    return values.string("vfb", item)
  end
  return table_spec("vfb", item, pci_flag)
end

-- One vfb spec: k=v tokens; a token without '=' ends the spec (xl breaks out there).
function devices.vfb(spec, devid, warn)
  local vfb = { devid = devid, vnc = {}, sdl = {} }
  for token in spec:gmatch("[^,]+") do
    token = token:gsub("^ +", "")
    local k, v = token:match("^([^=]*)=(.*)$")
    if not k then
      warn("vfb: `%s' in %s has no '=': the rest of the spec is ignored (as xl does)",
        token, values.show(spec))
      break
    end
    local opt = vfb_options[k]
    if not opt then
      warn("vfb: unknown option `%s' in %s, ignored", k, values.show(spec))
    else
      local target = opt[1] and vfb[opt[1]] or vfb
      if opt[3] == "bool" then
        target[opt[2]] = atoi(v) ~= 0 and "True" or "False"
      elseif opt[3] == "int" then
        local n = atoi(v)
        target[opt[2]] = n ~= 0 and n or nil
      else
        target[opt[2]] = v
      end
    end
  end
  return vfb
end

-- vfb = [ ... ]: each vfb brings a vkb with the same devid.
function devices.vfbs(v, warn)
  local vfbs, vkbs = {}, {}
  for i, item in ipairs(items("vfb", v)) do
    vfbs[i] = devices.vfb(devices.vfb_spec(item), i - 1, warn)
    vkbs[i] = { devid = i - 1 }
  end
  return vfbs, vkbs
end

return devices
