-- Reading one config value the way libxlutil's getters read it (xlu_cfg_get_string,
-- xlu_cfg_get_long, xlu_cfg_get_defbool, xlu_cfg_get_list), accepting both the strings an
-- xl.cfg gives and the Lua types a Lua config gives. A bad value raises a BadValue that
-- convert.to_libxl turns into nil, message, "BADVALUE".
local values = {}

local BadValue = { __name = "xlua.convert.BadValue" }
BadValue.__tostring = function(e)
  return e.message
end
values.BadValue = BadValue

-- A value as a person would write it in a message.
function values.show(v)
  if type(v) == "string" then
    return string.format("%q", v):gsub("\\\n", "\\n")
  elseif type(v) == "table" then
    local parts = {}
    for i, item in ipairs(v) do
      parts[i] = values.show(item)
    end
    if #parts == 0 and next(v) ~= nil then
      local keys = {}
      for k in pairs(v) do
        keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      for _, k in ipairs(keys) do
        parts[#parts + 1] = k .. "=" .. values.show(v[k])
      end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  return tostring(v)
end

-- Raise the error every invalid value gets: the key, the value, and why.
function values.fail(key, value, why)
  local msg = string.format("%s: invalid value %s", key, values.show(value))
  if why then
    msg = msg .. " (" .. why .. ")"
  end
  error(setmetatable({ key = key, value = value, message = msg, code = "BADVALUE" }, BadValue), 0)
end

-- A failure that is not about one value's syntax (a missing key, two keys that disagree).
function values.fail_msg(key, message, code)
  error(setmetatable({ key = key, message = key .. ": " .. message, code = code or "BADVALUE" },
    BadValue), 0)
end

-- An atom as text: strings as they are, numbers as written (integers without ".0").
function values.string(key, v)
  local t = type(v)
  if t == "string" then
    return v
  elseif t == "number" then
    if math.type(v) == "integer" then
      return string.format("%d", v)
    end
    return string.format("%.17g", v)
  elseif t == "table" then
    values.fail(key, v, "a list, but should be a single value")
  end
  values.fail(key, v, "expected a string")
end

local LONG_MAX = math.maxinteger

-- strtol(s, &end, 0) over the whole string, as xlu_cfg_get_long does: leading blanks and
-- a sign allowed, 0x for hex, a leading 0 for octal, nothing left over.
local function strtol0(s)
  local sign, body = s:match("^[ \t\n\v\f\r]*([+-]?)(.*)$")
  local n
  if body:match("^0[xX]%x+$") then
    local digits = body:sub(3):gsub("^0+", "")
    if #digits > 16 or (#digits == 16 and tonumber(digits:sub(1, 1), 16) >= 8) then
      return nil, "out of range"
    end
    n = #digits == 0 and 0 or tonumber(digits, 16)
  elseif body:match("^0[0-7]*$") then
    local digits = body:gsub("^0+", "")
    if #digits > 21 or (#digits == 21 and tonumber(digits:sub(1, 1)) > 0) then
      return nil, "out of range"
    end
    n = #digits == 0 and 0 or tonumber(digits, 8)
  elseif body:match("^[1-9]%d*$") then
    n = math.tointeger(tonumber(body))
    if not n then
      return nil, "out of range"
    end
  else
    return nil, "not a valid number"
  end
  if sign == "-" then
    n = -n
  end
  return n
end
values.strtol0 = strtol0

-- An integer: a Lua integer (or an integral float), or a string strtol reads entirely.
function values.long(key, v, min, max)
  local n
  local t = type(v)
  if t == "number" then
    n = math.tointeger(v)
    if not n then
      values.fail(key, v, "expected a whole number")
    end
  elseif t == "string" then
    local why
    n, why = strtol0(v)
    if not n then
      values.fail(key, v, why)
    end
  elseif t == "table" then
    values.fail(key, v, "a list, but should be a single value")
  else
    values.fail(key, v, "expected a number")
  end
  if min and n < min then
    values.fail(key, v, "smaller than " .. min)
  end
  if max and n > max then
    values.fail(key, v, "greater than " .. max)
  end
  return n
end

-- A libxl defbool ("True"/"False"): a Lua boolean, or a number that is nonzero or zero
-- (xlu_cfg_get_defbool reads the value as a long).
function values.defbool(key, v)
  if type(v) == "boolean" then
    return v and "True" or "False"
  end
  return values.long(key, v) ~= 0 and "True" or "False"
end

-- A plain truth value (xl reads pci_permissive and friends as longs).
function values.flag(key, v)
  if type(v) == "boolean" then
    return v
  end
  return values.long(key, v) ~= 0
end

function values.is_list(v)
  return type(v) == "table"
end

-- A list's items; a single value where a list belongs is an error.
function values.list(key, v)
  if type(v) ~= "table" then
    values.fail(key, v, "a single value, but should be a list")
  end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      values.fail(key, v, "a table with named fields, but should be a list")
    end
  end
  return v
end

-- A list of atoms as strings (xlu_cfg_get_list_as_string_list).
function values.string_list(key, v)
  local out = {}
  for i, item in ipairs(values.list(key, v)) do
    if type(item) == "table" then
      values.fail(key, v, "item " .. i .. " is a list, but should be a single value")
    end
    out[i] = values.string(key, item)
  end
  return out
end

-- Find name in a list of enum spellings; libxl's *_from_string ignore case.
function values.enum(key, v, names)
  local s = values.string(key, v)
  local lower = s:lower()
  for _, name in ipairs(names) do
    if name == lower then
      return name
    end
  end
  values.fail(key, v, "expected one of: " .. table.concat(names, ", "))
end

-- C's strtoul(s, &end, base) for base 0, 10 or 16: leading blanks, a sign (a minus wraps, as
-- in C), 0x for hex, a leading 0 for octal under base 0. Returns the value (ULONG_MAX,
-- math.maxinteger here, on overflow), the text after the number, and whether any digit was read.
function values.strtoul(s, base)
  local pos = s:match("^[ \t\n\v\f\r]*()")
  local sign = s:sub(pos, pos)
  if sign == "+" or sign == "-" then
    pos = pos + 1
  end
  if (base == 0 or base == 16) and s:match("^0[xX]%x", pos) then
    base, pos = 16, pos + 2
  elseif base == 0 then
    base = s:match("^0", pos) and 8 or 10
  end
  local class = base == 16 and "^%x+" or (base == 8 and "^[0-7]+" or "^%d+")
  local digits = s:match(class, pos)
  if not digits then
    return 0, s, false
  end
  local n = 0
  for i = 1, #digits do
    n = n * base + tonumber(digits:sub(i, i), 16)
    if n > 0xffffffffffffff then
      n = math.maxinteger
      break
    end
  end
  if sign == "-" and n ~= math.maxinteger then
    n = -n
  end
  return n, s:sub(pos + #digits), true
end

-- C's atoi: strtol base 10, 0 when there is no number.
function values.atoi(s)
  local n = s:match("^[ \t\n\v\f\r]*([+-]?%d+)")
  return n and math.tointeger(tonumber(n)) or 0
end

return values
