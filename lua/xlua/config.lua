-- Loading a domain config file of either kind (xl.cfg, or Lua through the sandbox), with
-- xl's command-line "key=value" overrides, into its values and its libxl JSON.
-- The conversion is loaded when a config is converted (a savefile's stored JSON is not).
local function convert() return require("xlua.convert") end
local json = require("xlua.json")

local config = {}

local ERRNO_CODES = { [2] = "ENOENT", [13] = "EACCES", [20] = "ENOTDIR", [21] = "EISDIR" }

-- The most a config may hold: the xl.cfg parser's own cap (1 MiB), for every kind of config.
-- Configs are a few KiB; the cap is what keeps `-n /dev/zero` from eating the memory.
config.MAX_SIZE = require("xlua.cfg").max_file_size

-- source: a path, or an open Lua file -> file, whether to close it | nil, message, code
local function open(source)
  if io.type(source) == "file" then
    return source, false
  end
  local f, err, errno = io.open(source, "rb")
  if not f then
    return nil, err, ERRNO_CODES[errno] or "EIO"
  end
  return f, true
end

-- At most n bytes more from f: text ("" at its end) | nil, message, code. Lua's read(n) loops
-- over fread, so a pipe gives n bytes unless it ends first.
local function read_up_to(f, n, name)
  if n <= 0 then
    return ""
  end
  local text, err, errno = f:read(n)
  if text then
    return text
  end
  if err then
    -- reading a directory fails here rather than in open
    return nil, name .. ": " .. tostring(err), ERRNO_CODES[errno] or "EIO"
  end
  return ""
end

local function too_big(name)
  return nil, string.format("%s: over %d bytes, far too big for a config (they are a few KiB)",
    name, config.MAX_SIZE), "TOOBIG"
end

-- Read the rest of f after head (bytes already read), closing f when asked: the whole config
-- | nil, message, code (TOOBIG past config.MAX_SIZE).
local function read_rest(f, close, head, name)
  local rest, err, code = read_up_to(f, config.MAX_SIZE + 1 - #head, name)
  if close then
    f:close()
  end
  if not rest then
    return nil, err, code
  end
  if #head + #rest > config.MAX_SIZE then
    return too_big(name)
  end
  return head .. rest
end

-- config.read(source [, name]) -> text | nil, message, code: a whole config file, read once
-- from start to end, so a pipe or a process substitution (`<(sed ... a.cfg)`, which cannot be
-- opened or read twice) works like a file; at most config.MAX_SIZE bytes (TOOBIG past that).
-- source: a path, or an open Lua file such as io.stdin (left open). name names it in messages
-- (default: the path). Codes: ENOENT, EACCES, ENOTDIR, EISDIR, EIO, TOOBIG.
function config.read(source, name)
  name = name or tostring(source)
  local f, close, code = open(source)
  if not f then
    return nil, close, code
  end
  return read_rest(f, close, "", name)
end

-- The format a path names: Lua for *.lua, xl.cfg for anything else.
function config.format_of(path)
  return path:match("%.lua$") and "lua" or "xl"
end

-- An override "key=value" or "key+=value" -> its parsed settings, each with append = true for
-- `+=`. Each is parsed alone as "<command line>", so that a mistake in one names it, not a line
-- of the file.
local function parse_override(i, o)
  local parsed, err, code = require("xlua.cfg").parse(o .. "\n", "<command line>")
  if not parsed then
    return nil, string.format("override %d (%s): %s", i, o, tostring(err)), code
  end
  local append = o:match("^%s*[%a_][%w_.]*%s*(%+?)=") == "+"
  for j, s in ipairs(parsed.settings) do
    -- "a+=x; b=y" is two statements: only the first is the `+=`
    s.append = append and j == 1
  end
  return parsed.settings
end

-- `name += value` as xl.cfg has it: two strings or two lists are joined, an unset name is set,
-- anything else is a mistake.
local function append_value(old, new)
  if old == nil then
    return new
  end
  if type(old) == "string" and type(new) == "string" then
    return old .. new
  end
  if type(old) == "table" and type(new) == "table" then
    local out = table.move(old, 1, #old, 1, {})
    return table.move(new, 1, #new, #out + 1, out)
  end
  return nil
end

-- Apply the overrides in order onto vals (a config's values), as xl applies the lines it adds
-- after the file's text: a setting replaces, `+=` appends; the last one wins.
local function apply_overrides(vals, overrides)
  for i, o in ipairs(overrides) do
    local settings, err, code = parse_override(i, o)
    if not settings then
      return nil, err, code
    end
    for _, s in ipairs(settings) do
      local value = s.value
      if s.append then
        value = append_value(vals[s.name], s.value)
        if value == nil then
          return nil, string.format("override %d (%s): cannot append a %s to the %s %s",
            i, o, s.kind, type(vals[s.name]) == "table" and "list" or type(vals[s.name]), s.name), "SYNTAX"
        end
      end
      vals[s.name] = value
    end
  end
  return vals
end

local function check_overrides(overrides)
  for i, o in ipairs(overrides) do
    if type(o) ~= "string" or not o:match("^%s*[%a_][%w_.]*%s*%+?=") then
      return nil, "override " .. i .. " is not key=value: " .. tostring(o), "BADVALUE"
    end
  end
  return overrides
end

-- A config file's text (as read from path) -> what config.load returns.
local function load_text(path, text, overrides, opts)
  local err, code
  local format = config.format_of(path)
  local vals
  if format == "lua" then
    local sandbox = require("xlua.sandbox")
    vals, err, code = sandbox.run(text, "@" .. path, { env = {} })
  else
    local parsed
    parsed, err, code = require("xlua.cfg").parse(text, path)
    vals = parsed and parsed.values
    opts = convert().with_lines(opts, parsed, path)
  end
  if not vals then
    return nil, err, code
  end
  vals, err, code = apply_overrides(vals, overrides)
  if not vals then
    return nil, err, code
  end
  local libxl, warnings, ccode = convert().to_libxl(vals, opts)
  if not libxl then
    return nil, path .. ": " .. warnings, ccode
  end
  return { format = format, source = text, values = vals, libxl = libxl, warnings = warnings }
end

-- config.load(path [, overrides [, opts]]) -> { format, source, values, libxl, warnings }
-- | nil, message, code. The file is read once (config.read: pipes work, TOOBIG past
-- config.MAX_SIZE). opts are handed to convert.to_libxl.
function config.load(path, overrides, opts)
  overrides = overrides or {}
  local ok, err, code = check_overrides(overrides)
  if not ok then
    return nil, err, code
  end
  local text
  text, err, code = config.read(path)
  if not text then
    return nil, err, code
  end
  return load_text(path, text, overrides, opts)
end

-- cjson decodes every number as a float; libxl's JSON numbers are all integers. A field
-- that is null is as good as absent (libxl's JSON leaves out what is unset), so it goes.
local function integers(v)
  if type(v) == "table" then
    local object = not json.is_array(v)
    for k, x in pairs(v) do
      if object and json.is_null(x) then
        v[k] = nil
      else
        v[k] = integers(x)
      end
    end
    return v
  end
  return type(v) == "number" and math.tointeger(v) or v
end

-- The shape of the libxl_domain_config fields xlua's policies read (domains.facts, the
-- compatibility check, xlcfg.render): "int", "string", "scalar", "object" (any keys),
-- {object = {field = shape}}, {array = shape}, {any = {shape, ...}}. null is as good as absent;
-- fields not listed are not checked.
local BITMAP = { array = "int" }
local OBJECT = { object = {} }
local DEVICE = OBJECT
local SHAPE = { object = {
  c_info = { object = { name = "string", uuid = "string", type = "string", pool_name = "string",
    ssid_label = "string" } },
  b_info = { object = {
    max_memkb = "int", target_memkb = "int", shadow_memkb = "int", video_memkb = "int",
    iommu_memkb = "int", max_vcpus = "int", event_channels = "int", max_grant_frames = "int",
    max_maptrack_frames = "int", device_model_version = "string",
    type = { any = { "string", OBJECT } },
    avail_vcpus = BITMAP, cpumap = BITMAP, nodemap = BITMAP,
    vcpu_hard_affinity = { array = BITMAP }, vcpu_soft_affinity = { array = BITMAP },
    sched_params = OBJECT, arch_x86 = OBJECT, cpuid = { any = { "scalar", OBJECT, { array = "scalar" }, { array = OBJECT } } },
    ["type.pv"] = { object = { slack_memkb = "int", kernel = "string", ramdisk = "string", cmdline = "string",
      bootloader = "string", bootloader_args = { array = "string" } } },
    ["type.pvh"] = OBJECT,
    ["type.hvm"] = { object = { mmio_hole_memkb = "int", vga = OBJECT, vnc = OBJECT, sdl = OBJECT,
      spice = OBJECT, viridian_enable = BITMAP, viridian_disable = BITMAP,
      serial_list = { array = "atom" }, usbdevice_list = { array = "atom" } } },
  } },
  on_poweroff = "string", on_reboot = "string", on_watchdog = "string", on_crash = "string",
  on_soft_reset = "string",
} }
local function fields(shape, names)
  local out = {}
  for name in names:gmatch("%S+") do
    out[name] = shape
  end
  return out
end
for _, list in ipairs(require("xlua.compat.rules").DEVICE_LISTS) do
  SHAPE.object[list] = { array = DEVICE }
end
local disk = fields("atom", "pdev_path vdev format backend backend_domname script specification "
  .. "colo_host colo_export active_disk hidden_disk discard_enable colo_enable")
for name, shape in pairs(fields("int", "backend_domid colo_port")) do disk[name] = shape end
SHAPE.object.disks = { array = { object = disk } }
local nic = fields("atom", "mac bridge ip script model ifname backend_domname gatewaydev "
  .. "coloft_forwarddev nictype trusted")
for name, shape in pairs(fields("int", "rate_bytes_per_interval rate_interval_usecs mtu devid")) do nic[name] = shape end
SHAPE.object.nics = { array = { object = nic } }
local pci = fields("int", "domain bus dev func vdevfn vfunc_mask")
pci.name, pci.rdm_policy = "atom", "atom"
SHAPE.object.pcidevs = { array = { object = pci } }
SHAPE.object.vfbs = { array = { object = {
  devid = "int", keymap = "atom",
  vnc = { object = fields("atom", "enable listen passwd display findunused") },
  sdl = { object = fields("atom", "enable opengl display xauthority") },
} } }

local function is_object(v)
  return type(v) == "table" and (next(v) == nil or not json.is_array(v))
end

local function is_array(v)
  return type(v) == "table" and (next(v) == nil or json.is_array(v))
end

local function below(key, where)
  if not where then
    return key
  end
  return key .. (where:sub(1, 1) == "[" and where or "." .. where)
end

-- nil when v has the shape, else what it should have been and where (a path below v).
local function shape_error(v, shape)
  if v == nil or json.is_null(v) then
    return nil
  end
  if shape == "int" then
    return math.type(v) ~= "integer" and "an integer" or nil
  elseif shape == "string" then
    return type(v) ~= "string" and "a string" or nil
  elseif shape == "atom" then
    return type(v) ~= "string" and math.type(v) ~= "integer" and "a string" or nil
  elseif shape == "scalar" then
    return type(v) == "table" and "a number, string or boolean" or nil
  elseif shape.object then
    if not is_object(v) then
      return "an object"
    end
    for key, sub in pairs(shape.object) do
      local want, where = shape_error(v[key], sub)
      if want then
        return want, below(key, where)
      end
    end
  elseif shape.array then
    if not is_array(v) then
      return "an array"
    end
    for i, x in ipairs(v) do
      local want, where = shape_error(x, shape.array)
      if json.is_null(x) then
        want = "not null"
      end
      if want then
        return want, below("[" .. (i - 1) .. "]", where)
      end
    end
  elseif shape.any then
    for _, alt in ipairs(shape.any) do
      if not shape_error(v, alt) then
        return nil
      end
    end
    return shape_error(v, shape.any[1])
  end
  return nil
end

-- config.validate(t) -> t | nil, message, "BADCONFIG": t (a decoded libxl_domain_config, its
-- numbers integers) has the shape the policies rely on, so that a wrong one is a bad input,
-- not a Lua error deep in a policy.
function config.validate(t)
  if not is_object(t) or (t.c_info == nil and t.b_info == nil) then
    return nil, "not a libxl domain config (no c_info or b_info)", "BADCONFIG"
  end
  local want, where = shape_error(t, SHAPE)
  if want then
    return nil, string.format("not a libxl domain config: %s should be %s", where or "it", want), "BADCONFIG"
  end
  return t
end

-- config.from_json(text) -> table | nil, message, code: a libxl_domain_config in JSON,
-- its numbers as Lua integers, its shape checked (config.validate).
function config.from_json(text)
  if not text:find("%S") then
    return nil, "not libxl JSON (empty)", "BADJSON"
  end
  local value, err, code = json.decode(text)
  if value == nil then
    return nil, "not libxl JSON (" .. tostring(err) .. ")", code
  end
  return config.validate(integers(value))
end

-- config.from_text(text, format, name) -> libxl table | nil, message, code: a config held as
-- text, as a savefile stores it: format "json" (libxl JSON) or "xl" (xl.cfg text, converted as
-- create converts it). name names it in messages.
function config.from_text(text, format, name)
  local libxl, err, code
  if format == "json" then
    libxl, err, code = config.from_json(text)
  else
    local parsed
    parsed, err, code = require("xlua.cfg").parse(text, name)
    if parsed then
      libxl, err, code = convert().to_libxl(parsed.values)
    end
  end
  if not libxl then
    return nil, name .. ": " .. tostring(err), code
  end
  return libxl
end

local function extension(exts, tag)
  for _, e in ipairs(exts) do
    if e.tag == tag then
      return e.data
    end
  end
end

-- config.saved(reader, name) -> saved | nil, message, code: what a savefile (an open
-- xlua.savefile reader) holds about its domain: {libxl, json, source, format, meta}. libxl and
-- json are nil when the file holds no config (xl can save without one). name names it in
-- messages.
function config.saved(reader, name)
  local savefile = require("xlua.savefile")
  local cfg, err, code = reader:config()
  if not cfg then
    return nil, err, code
  end
  local exts
  exts, err, code = reader:extensions()
  if not exts then
    return nil, err, code
  end
  local saved = {
    source = extension(exts, savefile.EXT_SOURCE),
    format = extension(exts, savefile.EXT_SOURCE_FORMAT),
  }
  local meta = extension(exts, savefile.EXT_META)
  saved.meta = meta and json.decode(meta) or nil
  if cfg.present and cfg.text and cfg.text ~= "" then
    saved.libxl, err, code = config.from_text(cfg.text, cfg.format, name .. " (its stored config)")
    if not saved.libxl then
      return nil, err, code or "BADCONFIG"
    end
    if cfg.format == "json" then
      saved.json = cfg.text
    else -- an old xl savefile holds xl.cfg text
      saved.json = json.encode(saved.libxl, { indent = "    " })
      saved.source, saved.format = saved.source or cfg.text, saved.format or "xl"
    end
  end
  return saved
end

-- config.load_any(path) -> {kind, libxl, json, source, format, values} | nil, message, code:
-- a domain config from a savefile (told by its magic; kind "savefile", its stored config), a
-- libxl JSON file (kind "json") or a config file (kind "xl" or "lua", as config.load; values
-- set). A config is read once, as config.load reads it (a pipe works; TOOBIG past
-- config.MAX_SIZE); a savefile is opened again by the savefile reader, so it must be a file
-- that can be (ESPIPE for a savefile on a pipe). Codes: ENOENT, EACCES, ENOTDIR, EISDIR, EIO,
-- TOOBIG, ESPIPE, the savefile reader's codes, BADJSON, BADCONFIG, NOCONFIG, the parsers'
-- codes. opts go to convert.to_libxl for an xl.cfg or Lua config (strict, ...).
function config.load_any(path, opts)
  local savefile = require("xlua.savefile")
  local f, close, code = open(path)
  if not f then
    return nil, close, code
  end
  local head, err
  head, err, code = read_up_to(f, #savefile.MAGIC, path)
  if not head then
    f:close()
    return nil, err, code
  end
  if head == savefile.MAGIC then
    local seekable = f:seek("cur") ~= nil
    f:close()
    if not seekable then
      return nil, path .. ": a savefile given as a config must be a regular file, not a pipe "
        .. "(its stored config is read by opening it again)", "ESPIPE"
    end
    local reader
    reader, err, code = savefile.open(path)
    if not reader then
      return nil, err, code
    end
    local saved
    saved, err, code = config.saved(reader, path)
    reader:close()
    if not saved then
      return nil, err, code
    end
    if not saved.libxl then
      return nil, path .. ": the savefile holds no config", "NOCONFIG"
    end
    return { kind = "savefile", libxl = saved.libxl, json = saved.json, source = saved.source,
      format = saved.format }
  end
  local text
  text, err, code = read_rest(f, true, head, path)
  if not text then
    return nil, err, code
  end
  if config.format_of(path) ~= "lua" and text:match("^%s*{") then
    local libxl
    libxl, err, code = config.from_text(text, "json", path)
    if not libxl then
      return nil, err, code
    end
    return { kind = "json", libxl = libxl, json = text }
  end
  local loaded
  loaded, err, code = load_text(path, text, {}, opts)
  if not loaded then
    return nil, err, code
  end
  loaded.kind = loaded.format
  loaded.json = json.encode(loaded.libxl, { indent = "    " })
  return loaded
end

-- config.keep_identity(wanted, uuid) -> wanted: a config file without a uuid gets a random one
-- from convert; when it is to describe an existing domain (save's CONFIG, restore's or compat's
-- replacement), it keeps that domain's uuid instead. wanted: what config.load or
-- config.load_any returned (its libxl and json are updated); uuid: the domain's, or nil.
function config.keep_identity(wanted, uuid)
  local own
  if wanted.values then
    own = wanted.values.uuid ~= nil
  else
    own = type(wanted.libxl.c_info) == "table" and wanted.libxl.c_info.uuid ~= nil
  end
  if own or type(uuid) ~= "string" then
    return wanted
  end
  wanted.libxl.c_info = wanted.libxl.c_info or {}
  wanted.libxl.c_info.uuid = uuid
  if wanted.json then
    wanted.json = json.encode(wanted.libxl, { indent = "    " })
  end
  return wanted
end

return config
