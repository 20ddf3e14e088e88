-- Loading a domain config file of either kind (xl.cfg, or Lua through the sandbox), with
-- xl's command-line "key=value" overrides, into its values and its libxl JSON.
local convert = require("xlua.convert")
local json = require("xlua.json")

local config = {}

local function read_file(path)
  local f, err, errno = io.open(path, "rb")
  if not f then
    local codes = { [2] = "ENOENT", [13] = "EACCES", [21] = "EISDIR" }
    return nil, err, codes[errno] or "EIO"
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then
    -- reading a directory fails here rather than in open
    return nil, path .. ": " .. tostring(rerr), "EISDIR"
  end
  return text
end

-- The format a path names: Lua for *.lua, xl.cfg for anything else.
function config.format_of(path)
  return path:match("%.lua$") and "lua" or "xl"
end

-- Overrides are xl.cfg lines; xl appends them to the file's text, so the last one wins.
local function override_values(overrides)
  local cfg = require("xlua.cfg")
  local text = table.concat(overrides, "\n") .. "\n"
  local parsed, err, code = cfg.parse(text, "<command line>")
  if not parsed then
    return nil, err, code
  end
  return parsed.values
end

-- config.load(path [, overrides [, opts]]) -> { format, source, values, libxl, warnings }
-- | nil, message, code. opts are handed to convert.to_libxl.
function config.load(path, overrides, opts)
  overrides = overrides or {}
  for i, o in ipairs(overrides) do
    if type(o) ~= "string" or not o:match("^%s*[%a_][%w_]*%s*%+?=") then
      return nil, "override " .. i .. " is not key=value: " .. tostring(o), "BADVALUE"
    end
  end
  local text, err, code = read_file(path)
  if not text then
    return nil, err, code
  end
  local format = config.format_of(path)
  local vals
  if format == "lua" then
    local sandbox = require("xlua.sandbox")
    vals, err, code = sandbox.run(text, "@" .. path, { env = {} })
    if not vals then
      return nil, err, code
    end
    if #overrides > 0 then
      local extra
      extra, err, code = override_values(overrides)
      if not extra then
        return nil, err, code
      end
      for k, v in pairs(extra) do
        vals[k] = v
      end
    end
  else
    local cfg = require("xlua.cfg")
    local full = text
    if #overrides > 0 then
      -- exactly what `xl create FILE key=value` does: the lines follow the file's text
      full = text .. "\n" .. table.concat(overrides, "\n") .. "\n"
    end
    local parsed
    parsed, err, code = cfg.parse(full, path)
    if not parsed then
      return nil, err, code
    end
    vals = parsed.values
  end
  local libxl, warnings, ccode = convert.to_libxl(vals, opts)
  if not libxl then
    return nil, path .. ": " .. warnings, ccode
  end
  return { format = format, source = text, values = vals, libxl = libxl, warnings = warnings }
end

-- cjson decodes every number as a float; libxl's JSON numbers are all integers.
local function integers(v)
  if type(v) == "table" then
    for k, x in pairs(v) do
      v[k] = integers(x)
    end
    return v
  end
  return type(v) == "number" and math.tointeger(v) or v
end

-- config.from_json(text) -> table | nil, message, code: a libxl_domain_config in JSON,
-- its numbers as Lua integers.
function config.from_json(text)
  local value, err, code = json.decode(text)
  if value == nil then
    return nil, err, code
  end
  value = integers(value)
  if type(value) ~= "table" or (value.c_info == nil and value.b_info == nil) then
    return nil, "not a libxl domain config (no c_info or b_info)", "BADCONFIG"
  end
  return value
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
      libxl, err, code = convert.to_libxl(parsed.values)
    end
  end
  if not libxl then
    return nil, name .. ": " .. tostring(err), code
  end
  return libxl
end

return config
