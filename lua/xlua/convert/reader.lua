-- The config being converted: its values, which of them were read, and the warnings so far.
-- The getters treat a value of the wrong shape as libxlutil's getters do (xlu_cfg_get_string,
-- xlu_cfg_get_long, xlu_cfg_get_defbool, xlu_cfg_get_list): a warning, and the key counts as
-- not set. With strict, every warning is a refusal instead (BADVALUE).
local values = require("xlua.convert.values")

local reader = {}

-- reader.new(vals, warnings [, opts]) -> r. opts.strict: warnings refuse;
-- opts.where(key) -> "file:line" or nil, put in front of a warning about that key.
function reader.new(vals, warnings, opts)
  opts = opts or {}
  local r = { used = {}, strict = opts.strict == true }
  function r.get(key)
    r.used[key] = true
    return vals[key]
  end
  function r.has(key)
    return vals[key] ~= nil
  end
  -- warn(fmt, ...): the text starts with the key it is about ("key: ..."), as every caller
  -- writes it; where() then names the line that set that key.
  function r.warn(fmt, ...)
    local text = select("#", ...) > 0 and string.format(fmt, ...) or fmt
    local key = text:match("^([%w_.]+):")
    if r.strict then
      values.fail_msg(key or "config", (text:gsub("^[%w_.]+: ", "")) .. " (refused: strict)")
    end
    local at = key and opts.where and opts.where(key)
    warnings[#warnings + 1] = at and (at .. ": " .. text) or text
  end
  -- Run f(v); a BadValue it raises becomes a warning and nil (xl's warn-and-ignore).
  local function soft(key, f, v, ...)
    local ok, result = pcall(f, key, v, ...)
    if ok then
      return result
    end
    if getmetatable(result) ~= values.BadValue then
      error(result, 0)
    end
    r.warn("%s: %s, ignored", key, (result.message:gsub("^[%w_.]+: ", "")))
    return nil
  end
  r.soft = soft
  function r.string(key)
    local v = r.get(key)
    return v ~= nil and soft(key, values.string, v) or nil
  end
  function r.long(key, min, max)
    local v = r.get(key)
    if v == nil then
      return nil
    end
    return soft(key, values.long, v, min, max)
  end
  -- A number xl reads with xlu_cfg_get_bounded_long and exits on when it is bad.
  function r.long_or_fail(key, min, max)
    local v = r.get(key)
    return v ~= nil and values.long(key, v, min, max) or nil
  end
  function r.defbool(key)
    local v = r.get(key)
    return v ~= nil and soft(key, values.defbool, v) or nil
  end
  -- A list xl reads with xlu_cfg_get_list(.., dont_warn = 0): a single value warns.
  function r.list(key)
    local v = r.get(key)
    if v == nil then
      return nil
    end
    if type(v) ~= "table" then
      r.warn("%s: a single value but should be a list, ignored", key)
      return nil
    end
    return values.list(key, v)
  end
  -- Mark a key as read but not meaningful for this domain, with a warning.
  function r.ignore(key, why)
    if vals[key] ~= nil and not r.used[key] then
      r.used[key] = true
      r.warn("%s: %s", key, why)
    end
  end
  -- Mark a key as read, silently (xl reads it and does nothing visible with it).
  function r.skip(key)
    r.used[key] = true
  end
  function r.unused()
    local keys = {}
    for k in pairs(vals) do
      if not r.used[k] then
        keys[#keys + 1] = tostring(k)
      end
    end
    table.sort(keys)
    return keys
  end
  return r
end

return reader
