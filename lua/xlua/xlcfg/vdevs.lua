-- The device kinds xl parses itself (vtpm, p9, pvcalls, vdispl, vsnd, channel, usbctrl,
-- usbdev, vkb, dtdev) written back as their xl.cfg specs: the reverse of
-- xlua.convert.vdevs. Spec functions follow out.devices' contract; a device whose fields the
-- spec syntax cannot carry is left whole for the closing comment.
local out = require("xlua.xlcfg.out")

local vdevs = {}

local safe = out.spec_safe

-- The fields of item not in known (nil when there are none).
local function unknown(item, known)
  for k in pairs(item) do
    if not known[k] then
      return true
    end
  end
  return false
end

local function set(...)
  local s = {}
  for _, k in ipairs({ ... }) do
    s[k] = true
  end
  return s
end

local function positive(n)
  return math.type(n) == "integer" and n > 0
end

function vdevs.vtpm_spec(v, position)
  if v.devid ~= position or unknown(v, set("devid", "backend_domname", "uuid"))
    or not v.backend_domname or not safe(v.backend_domname) then
    return nil
  end
  local parts = { "backend=" .. v.backend_domname }
  if v.uuid then
    parts[2] = "uuid=" .. v.uuid
  end
  return table.concat(parts, ",")
end

-- p9: xl carries tag, path, security_model and backend over from one item to the next, so an
-- item without a backend after one with a backend cannot be written.
function vdevs.p9_writer()
  local backend
  return function(p)
    if unknown(p, set("tag", "path", "security_model", "backend_domname")) then
      return nil
    end
    if backend and not p.backend_domname then
      return nil
    end
    local parts = {}
    for _, f in ipairs({ { "tag", "tag" }, { "path", "path" }, { "security_model", "security_model" },
      { "backend", "backend_domname" } }) do
      local v = p[f[2]]
      if v ~= nil then
        if not safe(v) then
          return nil
        end
        parts[#parts + 1] = f[1] .. "=" .. v
      elseif f[1] ~= "backend" then
        return nil
      end
    end
    backend = p.backend_domname or backend
    return table.concat(parts, ",")
  end
end

function vdevs.pvcalls_spec(p, position)
  if p.devid ~= position or unknown(p, set("devid", "backend_domname")) then
    return nil
  end
  if p.backend_domname == nil then
    return ""
  end
  return safe(p.backend_domname) and ("backend=" .. p.backend_domname) or nil
end

-- vdispl connectors "id:WxH;...". A connector with no size is the form xl stops reading at
-- (it warns): "id:?" and then a placeholder for each empty connector after it.
local function connectors(list)
  local parts, stopped = {}, false
  for i, c in ipairs(list) do
    if stopped then
      if next(c) ~= nil then
        return nil
      end
      parts[i] = "-"
    else
      local id = c.unique_id
      if not id or id == "" or id:find("[:;,]") or id:match("^%s") or
        unknown(c, set("unique_id", "width", "height")) then
        return nil
      end
      if c.width == nil and c.height == nil then
        parts[i], stopped = id .. ":?", true
      elseif math.type(c.width) == "integer" and math.type(c.height) == "integer" then
        parts[i] = string.format("%s:%dx%d", id, c.width, c.height)
      else
        return nil
      end
    end
  end
  return table.concat(parts, ";")
end

function vdevs.vdispl_spec(d, position)
  if d.devid ~= position or unknown(d, set("devid", "backend_domname", "be_alloc", "connectors"))
    or type(d.connectors) ~= "table" or #d.connectors == 0 then
    return nil
  end
  local parts = {}
  if d.backend_domname then
    if not safe(d.backend_domname) then
      return nil
    end
    parts[#parts + 1] = "backend=" .. d.backend_domname
  end
  if d.be_alloc then
    parts[#parts + 1] = "be-alloc=1"
  end
  local c = connectors(d.connectors)
  if not c then
    return nil
  end
  parts[#parts + 1] = "connectors=" .. c
  return table.concat(parts, ",")
end

---------------------------------------------------------------- vsnd

local PARAMS = set("sample_rates", "sample_formats", "channels_min", "channels_max", "buffer_size")

-- The common parameters as spec tokens appended to parts; false when they cannot be written.
local function params(p, parts)
  if p == nil then
    return true
  end
  if type(p) ~= "table" or unknown(p, PARAMS) then
    return false
  end
  for _, f in ipairs({ { "sample_rates", "sample-rates" }, { "sample_formats", "sample-formats" } }) do
    local list = p[f[1]]
    if list ~= nil then
      if type(list) ~= "table" or #list == 0 then
        return false
      end
      local items = {}
      for i, v in ipairs(list) do
        items[i] = tostring(v)
        if not safe(items[i], ";") or items[i] == "" then
          return false
        end
      end
      parts[#parts + 1] = f[2] .. "=" .. table.concat(items, ";")
    end
  end
  for _, f in ipairs({ { "channels_min", "channels-min" }, { "channels_max", "channels-max" },
    { "buffer_size", "buffer-size" } }) do
    local n = p[f[1]]
    if n ~= nil then
      if not positive(n) then
        return false
      end
      parts[#parts + 1] = f[2] .. "=" .. n
    end
  end
  return true
end

-- One card as its list of "card, ...", "pcm, ...", "stream, ..." specs.
function vdevs.vsnd_spec(card, position)
  if card.devid ~= position or
    unknown(card, set("devid", "backend_domname", "short_name", "long_name", "params", "pcms")) then
    return nil
  end
  local specs = {}
  local function spec(parts)
    for _, p in ipairs(parts) do
      if not safe(p) then
        return false
      end
    end
    specs[#specs + 1] = table.concat(parts, ", ")
    return true
  end
  local parts = { "card" }
  for _, f in ipairs({ { "backend_domname", "backend" }, { "short_name", "short-name" },
    { "long_name", "long-name" } }) do
    if card[f[1]] ~= nil then
      parts[#parts + 1] = f[2] .. "=" .. card[f[1]]
    end
  end
  if not params(card.params, parts) or not spec(parts) then
    return nil
  end
  for _, pcm in ipairs(card.pcms or {}) do
    if unknown(pcm, set("name", "params", "streams")) then
      return nil
    end
    parts = { "pcm" }
    if pcm.name ~= nil then
      parts[2] = "name=" .. pcm.name
    end
    if not params(pcm.params, parts) or not spec(parts) then
      return nil
    end
    for _, stream in ipairs(pcm.streams or {}) do
      if unknown(stream, set("unique_id", "type", "params")) then
        return nil
      end
      parts = { "stream" }
      if stream.unique_id ~= nil then
        parts[2] = "unique-id=" .. stream.unique_id
      end
      if stream.type ~= nil then
        parts[#parts + 1] = "type=" .. stream.type
      end
      if not params(stream.params, parts) or not spec(parts) then
        return nil
      end
    end
  end
  return specs
end

---------------------------------------------------------------- channel, usb

-- channel values are split at '=' and trimmed by xl: no '=', ',' or outer blanks in them.
local function channel_safe(v)
  return type(v) == "string" and v ~= "" and not v:find("[=,]") and not v:match("^%s")
    and not v:match("%s$")
end

function vdevs.channel_spec(c, position)
  if c.devid ~= position or
    unknown(c, set("devid", "backend_domname", "name", "connection.pty", "connection.socket")) then
    return nil
  end
  local parts = {}
  if c.name ~= nil then
    if not channel_safe(c.name) then
      return nil
    end
    parts[#parts + 1] = "name=" .. c.name
  end
  if c.backend_domname ~= nil then
    if not channel_safe(c.backend_domname) then
      return nil
    end
    parts[#parts + 1] = "backend=" .. c.backend_domname
  end
  local socket = c["connection.socket"]
  if type(socket) == "table" and c["connection.pty"] == nil then
    if not channel_safe(socket.path) or unknown(socket, set("path")) then
      return nil
    end
    parts[#parts + 1] = "connection=socket"
    parts[#parts + 1] = "path=" .. socket.path
  elseif type(c["connection.pty"]) == "table" and next(c["connection.pty"]) == nil then
    parts[#parts + 1] = "connection=pty"
  else
    return nil
  end
  return table.concat(parts, ",")
end

function vdevs.usbctrl_spec(c, position)
  if c.devid ~= position or unknown(c, set("devid", "type", "version", "ports")) then
    return nil
  end
  local parts = {}
  if c.type ~= nil then
    parts[#parts + 1] = "type=" .. c.type
  end
  for _, f in ipairs({ "version", "ports" }) do
    if c[f] ~= nil then
      if math.type(c[f]) ~= "integer" then
        return nil
      end
      parts[#parts + 1] = f .. "=" .. c[f]
    end
  end
  return table.concat(parts, ",")
end

-- usbdev: xl gives it no devid; the host address is under "type.hostdev" only with type=hostdev.
function vdevs.usbdev_spec(d)
  if unknown(d, set("ctrl", "port", "type.hostdev")) then
    return nil
  end
  local parts = {}
  local host = d["type.hostdev"]
  if host ~= nil then
    if type(host) ~= "table" or unknown(host, set("hostbus", "hostaddr")) then
      return nil
    end
    parts[1] = "type=hostdev"
    for _, f in ipairs({ "hostbus", "hostaddr" }) do
      if host[f] ~= nil then
        if not positive(host[f]) or host[f] > 255 then
          return nil
        end
        parts[#parts + 1] = f .. "=" .. host[f]
      end
    end
  end
  if d.ctrl ~= nil then
    if math.type(d.ctrl) ~= "integer" then
      return nil
    end
    parts[#parts + 1] = "controller=" .. d.ctrl
  end
  if d.port ~= nil then
    if math.type(d.port) ~= "integer" then
      return nil
    end
    parts[#parts + 1] = "port=" .. d.port
  end
  return table.concat(parts, ",")
end

---------------------------------------------------------------- vkb, dtdev

local VKB_FLAGS = {
  { "feature_disable_keyboard", "feature-disable-keyboard" },
  { "feature_disable_pointer", "feature-disable-pointer" },
  { "feature_abs_pointer", "feature-abs-pointer" },
  { "feature_raw_pointer", "feature-raw-pointer" },
  { "feature_multi_touch", "feature-multi-touch" },
}
local VKB_NUMBERS = {
  { "width", "width" }, { "height", "height" }, { "multi_touch_width", "multi-touch-width" },
  { "multi_touch_height", "multi-touch-height" },
  { "multi_touch_num_contacts", "multi-touch-num-contacts" },
}
local VKB_KNOWN = set("devid", "backend_domname", "backend_type", "unique_id")
for _, f in ipairs(VKB_FLAGS) do VKB_KNOWN[f[1]] = true end
for _, f in ipairs(VKB_NUMBERS) do VKB_KNOWN[f[1]] = true end

-- A vkb given by vkb= (its devid is position: the vfbs' own vkbs come first).
function vdevs.vkb_spec(k, position)
  if k.devid ~= position or unknown(k, VKB_KNOWN) or k.backend_type == nil then
    return nil
  end
  local mt = k.multi_touch_width or k.multi_touch_height or k.multi_touch_num_contacts
  if (mt ~= nil) ~= (k.feature_multi_touch == true) then
    return nil -- xl sets the flag exactly when a multi-touch size is given
  end
  local parts = {}
  for _, f in ipairs({ { "backend_domname", "backend" }, { "backend_type", "backend-type" },
    { "unique_id", "unique-id" } }) do
    local v = k[f[1]]
    if v ~= nil then
      if not safe(v) then
        return nil
      end
      parts[#parts + 1] = f[2] .. "=" .. v
    end
  end
  for _, f in ipairs(VKB_FLAGS) do
    if k[f[1]] ~= nil then
      if k[f[1]] ~= true then
        return nil
      end
      parts[#parts + 1] = f[2] .. "=1"
    end
  end
  for _, f in ipairs(VKB_NUMBERS) do
    if k[f[1]] ~= nil then
      if not positive(k[f[1]]) then
        return nil
      end
      parts[#parts + 1] = f[2] .. "=" .. k[f[1]]
    end
  end
  return table.concat(parts, ",")
end

function vdevs.dtdev_spec(d)
  if type(d.path) ~= "string" or unknown(d, set("path")) then
    return nil
  end
  return d.path
end

return vdevs
