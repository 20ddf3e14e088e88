-- The device lists xl parses itself, one spec string per device: vtpm, p9, pvcalls, vdispl,
-- vsnd, channel, usbctrl, usbdev, vkb, dtdev (parse_config_data and its parse_*_config
-- helpers, xl_parse.c, Xen 4.17). Where xl exits, these refuse (BADVALUE); where xl prints
-- and carries on, they warn.
local values = require("xlua.convert.values")

local vdevs = {}

-- A list's spec strings as xlu_cfg_get_listitem gives them: the list ends at its first item
-- that is not a single value (xl's loops stop there).
function vdevs.strings(r, key)
  local list = r.list(key)
  if not list then
    return nil
  end
  local out = {}
  for i, item in ipairs(list) do
    if type(item) == "table" or type(item) == "boolean" then
      r.warn("%s: item %d is not a spec string: it and the items after it are ignored, as xl does",
        key, i)
      break
    end
    out[i] = values.string(key, item)
  end
  return out
end

-- strtok(spec, ","), each token's leading blanks skipped (empty tokens vanish).
local function tokens(spec, sep)
  local out = {}
  for t in spec:gmatch("[^" .. (sep or ",") .. "]+") do
    out[#out + 1] = t:gsub("^ +", "")
  end
  return out
end
vdevs.tokens = tokens

-- MATCH_OPTION: the token starts with "name=".
local function option(token, name)
  if token:sub(1, #name + 1) == name .. "=" then
    return token:sub(#name + 2)
  end
end

-- split_string_into_pair(s, "=") then trim(isspace): strtok semantics, so "a==b" is a, b
-- and the part after a second "=" is dropped.
local function pair(key, spec, text)
  local parts = {}
  for p in text:gmatch("[^=]+") do
    parts[#parts + 1] = p
    if #parts == 2 then
      break
    end
  end
  if #parts < 2 then
    values.fail(key, spec, "`" .. text .. "' is not key=value")
  end
  local function trim(s)
    return (s:gsub("^%s+", ""):gsub("%s+$", ""))
  end
  return trim(parts[1]), trim(parts[2])
end

local function ulong(text)
  return (values.strtoul(text, 0))
end

local function enum(key, spec, text, names)
  local lower = text:lower()
  for _, n in ipairs(names) do
    if n == lower then
      return n
    end
  end
  values.fail(key, spec, "unknown " .. key .. " value `" .. text .. "'")
end

-- libxl_uuid_from_string: 36 characters, hex and dashes in the usual places.
local function uuid(key, spec, text)
  if #text ~= 36 or not text:match("^%x+%-%x+%-%x+%-%x+%-%x+$") or text:sub(9, 9) ~= "-" or
    text:sub(14, 14) ~= "-" or text:sub(19, 19) ~= "-" or text:sub(24, 24) ~= "-" then
    values.fail(key, spec, "bad uuid `" .. text .. "'")
  end
  return text:lower()
end

---------------------------------------------------------------- vtpm, p9, pvcalls

-- k=v tokens until the first one without '=' (xl breaks out of its loop there).
local function kv_tokens(spec)
  local out = {}
  for _, t in ipairs(tokens(spec)) do
    local k, v = t:match("^([^=]*)=(.*)$")
    if not k then
      break
    end
    out[#out + 1] = { k, v }
  end
  return out
end

function vdevs.vtpms(r)
  local list = vdevs.strings(r, "vtpm")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local vtpm = { devid = i - 1 }
    for _, kv in ipairs(kv_tokens(spec)) do
      if kv[1] == "backend" then
        vtpm.backend_domname = kv[2]
      elseif kv[1] == "uuid" then
        local u = uuid("vtpm", spec, kv[2])
        vtpm.uuid = u ~= "00000000-0000-0000-0000-000000000000" and u or nil
      else
        values.fail("vtpm", spec, "unknown option `" .. kv[1] .. "'")
      end
    end
    if not vtpm.backend_domname then
      values.fail("vtpm", spec, "backend= is required")
    end
    out[i] = vtpm
  end
  return out
end

-- p9: xl keeps tag, path, security_model and backend from one item to the next (they are
-- declared outside its loop), and every p9 loses its devid (initialised twice).
function vdevs.p9s(r)
  local list = vdevs.strings(r, "p9")
  if not list then
    return nil
  end
  local out, kept = {}, {}
  for i, spec in ipairs(list) do
    for _, kv in ipairs(kv_tokens(spec)) do
      local k = kv[1]
      if k == "security_model" or k == "path" or k == "tag" or k == "backend" then
        kept[k] = kv[2]
      else
        values.fail("p9", spec, "unknown option `" .. k .. "'")
      end
    end
    if not kept.path or not kept.security_model or not kept.tag then
      values.fail("p9", spec, "tag=, path= and security_model= are required")
    end
    out[i] = { tag = kept.tag, path = kept.path, security_model = kept.security_model,
      backend_domname = kept.backend }
  end
  return out
end

function vdevs.pvcallsifs(r)
  local list = vdevs.strings(r, "pvcalls")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local dev = { devid = i - 1 }
    for _, kv in ipairs(kv_tokens(spec)) do
      if kv[1] ~= "backend" then
        values.fail("pvcalls", spec, "unknown option `" .. kv[1] .. "'")
      end
      dev.backend_domname = kv[2]
    end
    out[i] = dev
  end
  return out
end

---------------------------------------------------------------- vdispl

local function connectors(r, spec, text)
  local out = {}
  for i, c in ipairs(tokens(text, ";")) do
    local id, res = c:match("^:*([^:]+):+([^:]+)")
    if not id then
      values.fail("vdispl", spec, "connector `" .. c .. "' is not id:WIDTHxHEIGHT")
    end
    local w, h = res:match("^%s*(%d+)x%s*(%d+)")
    out[i] = { unique_id = id }
    if not w then
      if res:match("^%s*%d") or res == "" then
        values.fail("vdispl", spec, "can't parse connector resolution `" .. res .. "'")
      end
      -- sscanf matched nothing: xl says so, stops reading connectors but keeps them all, the
      -- rest empty, and carries on.
      r.warn("vdispl: can't parse connector resolution `%s' in %s", res, values.show(spec))
      for j = i + 1, #tokens(text, ";") do
        out[j] = {}
      end
      return out
    end
    out[i].width, out[i].height = tonumber(w) & 0xffffffff, tonumber(h) & 0xffffffff
  end
  return out
end

function vdevs.vdispls(r)
  local list = vdevs.strings(r, "vdispl")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local d = { devid = i - 1 }
    for _, t in ipairs(tokens(spec)) do
      local v
      if option(t, "backend") then
        d.backend_domname = option(t, "backend")
      elseif option(t, "be-alloc") then
        v = ulong(option(t, "be-alloc"))
        d.be_alloc = v ~= 0 or nil
      elseif option(t, "connectors") then
        d.connectors = connectors(r, spec, option(t, "connectors"))
      else
        values.fail("vdispl", spec, "unknown option `" .. t .. "'")
      end
    end
    if not d.connectors or #d.connectors == 0 then
      values.fail("vdispl", spec, "at least one connector is needed")
    end
    out[i] = d
  end
  return out
end

---------------------------------------------------------------- vsnd

local PCM_FORMATS = {
  "s8", "u8", "s16_le", "s16_be", "u16_le", "u16_be", "s24_le", "s24_be", "u24_le", "u24_be",
  "s32_le", "s32_be", "u32_le", "u32_be", "f32_le", "f32_be", "f64_le", "f64_be",
  "iec958_subframe_le", "iec958_subframe_be", "mu_law", "a_law", "ima_adpcm", "mpeg", "gsm",
}

-- parse_vsnd_params: true when the token was one of the common parameters.
local function snd_param(params, spec, t)
  local v = option(t, "sample-rates")
  if v then
    local rates = {}
    for _, s in ipairs(tokens(v, ";")) do
      rates[#rates + 1] = ulong(s) & 0xffffffff
    end
    params.sample_rates = rates
    return true
  end
  v = option(t, "sample-formats")
  if v then
    local formats = {}
    for _, s in ipairs(tokens(v, ";")) do
      formats[#formats + 1] = enum("vsnd", spec, s, PCM_FORMATS)
    end
    params.sample_formats = formats
    return true
  end
  for opt, field in pairs({ ["channels-min"] = "channels_min", ["channels-max"] = "channels_max",
    ["buffer-size"] = "buffer_size" }) do
    v = option(t, opt)
    if v then
      local n = ulong(v) & 0xffffffff
      params[field] = n ~= 0 and n or nil
      return true
    end
  end
  return false
end

local function vsnd_card(spec_list)
  local card = { params = {} }
  for _, item in ipairs(spec_list) do
    local key
    for _, t in ipairs(tokens(item)) do
      if not key then
        key = t:lower()
        if key == "pcm" then
          card.pcms = card.pcms or {}
          card.pcms[#card.pcms + 1] = { params = {} }
        elseif key == "stream" then
          card.pcms = card.pcms or {}
          if #card.pcms == 0 then
            card.pcms[1] = { params = {} }
          end
          local pcm = card.pcms[#card.pcms]
          pcm.streams = pcm.streams or {}
          pcm.streams[#pcm.streams + 1] = { params = {} }
        elseif key ~= "card" then
          values.fail("vsnd", item, "expected card, pcm or stream, not `" .. t .. "'")
        end
      elseif key == "card" then
        if not snd_param(card.params, item, t) then
          if option(t, "backend") then
            card.backend_domname = option(t, "backend")
          elseif option(t, "short-name") then
            card.short_name = option(t, "short-name")
          elseif option(t, "long-name") then
            card.long_name = option(t, "long-name")
          else
            values.fail("vsnd", item, "invalid parameter `" .. t .. "'")
          end
        end
      elseif key == "pcm" then
        local pcm = card.pcms[#card.pcms]
        if not snd_param(pcm.params, item, t) then
          if not option(t, "name") then
            values.fail("vsnd", item, "invalid parameter `" .. t .. "'")
          end
          pcm.name = option(t, "name")
        end
      else
        local pcm = card.pcms[#card.pcms]
        local stream = pcm.streams[#pcm.streams]
        if not snd_param(stream.params, item, t) then
          if option(t, "unique-id") then
            stream.unique_id = option(t, "unique-id")
          elseif option(t, "type") then
            stream.type = enum("vsnd", item, option(t, "type"), { "p", "c" })
          else
            values.fail("vsnd", item, "invalid parameter `" .. t .. "'")
          end
        end
      end
    end
  end
  return card
end

-- vsnd = [ [ "card, ...", "pcm, ...", "stream, ..." ], ... ]: one list per sound card.
function vdevs.vsnds(r)
  local v = r.get("vsnd")
  if v == nil then
    return nil
  end
  if type(v) ~= "table" then
    r.warn("vsnd: a single value but should be a list, ignored")
    return nil
  end
  local out = {}
  for i, card in ipairs(values.list("vsnd", v)) do
    if type(card) ~= "table" then
      values.fail("vsnd", card, "each sound card is a list of card, pcm and stream specs")
    end
    local specs = {}
    for j, item in ipairs(values.list("vsnd", card)) do
      if type(item) == "table" then
        break
      end
      specs[j] = values.string("vsnd", item)
    end
    out[i] = vsnd_card(specs)
    out[i].devid = i - 1
  end
  return out
end

---------------------------------------------------------------- channel

function vdevs.channels(r)
  local list = vdevs.strings(r, "channel")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local ch = { devid = i - 1 }
    local path, connection
    local parts = {}
    for p in spec:gmatch("[^,]+") do
      parts[#parts + 1] = p
    end
    if #parts == 0 then
      values.fail("channel", spec, "an empty channel spec")
    end
    for _, p in ipairs(parts) do
      local k, v = pair("channel", spec, p)
      if k == "backend" then
        ch.backend_domname = v
      elseif k == "name" then
        ch.name = v
      elseif k == "path" then
        path = v
      elseif k == "connection" then
        if v ~= "pty" and v ~= "socket" then
          values.fail("channel", spec, "unknown connection `" .. v .. "'")
        end
        connection = v
      else
        r.warn("channel: unknown parameter `%s' in %s, ignored", k, values.show(spec))
      end
    end
    if not connection then
      values.fail("channel", spec, "connection= (pty or socket) is required")
    elseif connection == "socket" then
      if not path then
        values.fail("channel", spec, "connection=socket needs path=")
      end
      ch["connection.socket"] = { path = path }
    else
      ch["connection.pty"] = {}
    end
    out[i] = ch
  end
  return out
end

---------------------------------------------------------------- usbctrl, usbdev

function vdevs.usbctrls(r)
  local list = vdevs.strings(r, "usbctrl")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local c = { devid = i - 1 }
    for _, t in ipairs(tokens(spec)) do
      if option(t, "type") then
        local ty = enum("usbctrl", spec, option(t, "type"), { "auto", "pv", "devicemodel", "qusb" })
        c.type = ty ~= "auto" and ty or nil
      elseif option(t, "version") then
        local n = values.atoi(option(t, "version"))
        c.version = n ~= 0 and n or nil
      elseif option(t, "ports") then
        local n = values.atoi(option(t, "ports"))
        c.ports = n ~= 0 and n or nil
      else
        values.fail("usbctrl", spec, "unknown option `" .. t .. "'")
      end
    end
    out[i] = c
  end
  return out
end

-- usbdev: no devid; hostbus and hostaddr are bytes, and they only appear in the JSON under
-- "type.hostdev" when type=hostdev was given (without it the union has no member).
function vdevs.usbdevs(r)
  local list = vdevs.strings(r, "usbdev")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local d, host, typed = {}, {}, false
    for _, t in ipairs(tokens(spec)) do
      if option(t, "type") then
        enum("usbdev", spec, option(t, "type"), { "hostdev" })
        typed = true
      elseif option(t, "hostbus") then
        local n = ulong(option(t, "hostbus")) & 0xff
        host.hostbus = n ~= 0 and n or nil
      elseif option(t, "hostaddr") then
        local n = ulong(option(t, "hostaddr")) & 0xff
        host.hostaddr = n ~= 0 and n or nil
      elseif option(t, "controller") then
        local n = values.atoi(option(t, "controller"))
        d.ctrl = n ~= -1 and n or nil
      elseif option(t, "port") then
        local n = values.atoi(option(t, "port"))
        d.port = n ~= 0 and n or nil
      else
        values.fail("usbdev", spec, "unknown option `" .. t .. "'")
      end
    end
    if typed then
      d["type.hostdev"] = host
    elseif next(host) then
      r.warn("usbdev: %s has hostbus/hostaddr but no type=hostdev: xl drops them",
        values.show(spec))
    end
    out[i] = d
  end
  return out
end

---------------------------------------------------------------- vkb, dtdev

local VKB_NUMBERS = {
  ["width"] = "width", ["height"] = "height", ["multi-touch-width"] = "multi_touch_width",
  ["multi-touch-height"] = "multi_touch_height",
  ["multi-touch-num-contacts"] = "multi_touch_num_contacts",
}
local VKB_FLAGS = {
  ["feature-disable-keyboard"] = "feature_disable_keyboard",
  ["feature-disable-pointer"] = "feature_disable_pointer",
  ["feature-abs-pointer"] = "feature_abs_pointer",
  ["feature-raw-pointer"] = "feature_raw_pointer",
  ["feature-multi-touch"] = "feature_multi_touch",
}

-- vkb = [ ... ]: devids follow the vkbs vfb= (or a pv guest's vnc=1) already made.
function vdevs.vkbs(r, first_devid)
  local list = vdevs.strings(r, "vkb")
  if not list then
    return nil
  end
  local out = {}
  for i, spec in ipairs(list) do
    local k = { devid = first_devid + i - 1 }
    for _, t in ipairs(tokens(spec)) do
      local name, v = t:match("^([^=]*)=(.*)$")
      if name == "backend" then
        k.backend_domname = v
      elseif name == "backend-type" then
        local b = enum("vkb", spec, v, { "unknown", "qemu", "linux" })
        k.backend_type = b ~= "unknown" and b or nil
      elseif name == "unique-id" then
        k.unique_id = v
      elseif name and VKB_FLAGS[name] then
        k[VKB_FLAGS[name]] = ulong(v) ~= 0 or nil
      elseif name and VKB_NUMBERS[name] then
        local n = ulong(v) & 0xffffffff
        k[VKB_NUMBERS[name]] = n ~= 0 and n or nil
      else
        values.fail("vkb", spec, "unknown option `" .. t .. "'")
      end
    end
    if not k.backend_type then
      values.fail("vkb", spec, "backend-type= is required")
    end
    local mt = k.multi_touch_height or k.multi_touch_width or k.multi_touch_num_contacts
    if mt then
      k.feature_multi_touch = true
    elseif k.feature_multi_touch then
      values.fail("vkb", spec, "multi touch needs multi-touch-width, multi-touch-height and "
        .. "multi-touch-num-contacts")
    end
    out[i] = k
  end
  return out
end

function vdevs.dtdevs(r)
  local list = vdevs.strings(r, "dtdev")
  if not list then
    return nil
  end
  local out = {}
  for i, path in ipairs(list) do
    out[i] = { path = path }
  end
  return out
end

return vdevs
