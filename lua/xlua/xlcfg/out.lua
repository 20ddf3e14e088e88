-- The pieces every part of the renderer shares: xl.cfg atoms and lists, cpu ranges, and the
-- renderer's state (the lines so far, and what is left of the config for the closing comment).
local json = require("xlua.json")

local out = {}

function out.quote(s)
  return '"' .. s:gsub('[\\"\n\t]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\t"] = "\\t" })
    .. '"'
end
local quote = out.quote

-- An xl.cfg number is [0-9][0-9a-fx]*: a negative or fractional number is written as a string,
-- which xl's number getters (strtol) read the same.
function out.atom(v)
  if type(v) == "number" then
    local n = math.tointeger(v)
    if n and n >= 0 then
      return string.format("%d", n)
    end
    return quote(n and string.format("%d", n) or string.format("%.17g", v))
  end
  return quote(tostring(v))
end
local atom = out.atom

-- items: atoms, or (nested) lists of atoms.
function out.list(items, indent)
  indent = indent or ""
  if #items == 0 then
    return "[ ]"
  end
  local parts, nested = {}, false
  for i, v in ipairs(items) do
    if type(v) == "table" then
      nested = true
      parts[i] = out.list(v, indent .. "    ")
    else
      parts[i] = atom(v)
    end
  end
  local one = "[ " .. table.concat(parts, ", ") .. " ]"
  if not nested and #one <= 72 and #items <= 3 then
    return one
  end
  local sep = ",\n" .. indent .. "    "
  return "[\n" .. indent .. "    " .. table.concat(parts, sep) .. ",\n" .. indent .. "]"
end

function out.deep_copy(v)
  if type(v) ~= "table" then
    return v
  end
  local copy = {}
  for k, x in pairs(v) do
    copy[k] = out.deep_copy(x)
  end
  return copy
end

-- "0-3,6" for a sorted list of cpu numbers.
function out.ranges(cpus)
  local parts, i = {}, 1
  while i <= #cpus do
    local j = i
    while j < #cpus and cpus[j + 1] == cpus[j] + 1 do
      j = j + 1
    end
    parts[#parts + 1] = j > i and (cpus[i] .. "-" .. cpus[j]) or tostring(cpus[i])
    i = j + 1
  end
  return table.concat(parts, ",")
end

function out.bool01(defbool)
  return defbool == "True" and 1 or 0
end

-- A value that can stand in a "k=v,k=v" device spec: no separator in it, no blank in front
-- (xl skips leading blanks of each token), and (sep) none of the extra separators.
function out.spec_safe(v, extra)
  v = tostring(v)
  if v:find(",", 1, true) or v:match("^%s") then
    return false
  end
  if extra and v:find("[" .. extra .. "]") then
    return false
  end
  return true
end

-- The renderer's state: the lines so far and what is left of the config.
function out.new(config)
  local o = { lines = {}, rest = out.deep_copy(config) }
  function o.add(name, text)
    o.lines[#o.lines + 1] = name .. " = " .. text
  end
  function o.comment(text)
    o.lines[#o.lines + 1] = "# " .. text
  end
  function o.blank()
    if #o.lines > 0 and o.lines[#o.lines] ~= "" then
      o.lines[#o.lines + 1] = ""
    end
  end
  -- Take a field out of the rest (it has been rendered) and return its value.
  function o.take(...)
    local path = { ... }
    local t = o.rest
    for i = 1, #path - 1 do
      t = type(t) == "table" and t[path[i]] or nil
    end
    if type(t) ~= "table" then
      return nil
    end
    local v = t[path[#path]]
    t[path[#path]] = nil
    return v
  end
  -- Put back what a rendering could not say (a device's unrendered fields).
  function o.put(value, ...)
    local path = { ... }
    local t = o.rest
    for i = 1, #path - 1 do
      t[path[i]] = type(t[path[i]]) == "table" and t[path[i]] or {}
      t = t[path[i]]
    end
    t[path[#path]] = value
  end
  function o.peek(...)
    local t = o.rest
    for _, k in ipairs({ ... }) do
      t = type(t) == "table" and t[k] or nil
    end
    return t
  end
  return o
end

-- Simple fields: the xl key, how to render it. kind: "string" (an atom), "defbool", "memkb"
-- (KiB -> MiB), "strlist".
function out.field(o, key, kind, ...)
  local v = o.peek(...)
  if v == nil then
    return
  end
  if kind == "memkb" then
    v = math.tointeger(v)
    if not v or v % 1024 ~= 0 or v < 0 then
      return -- not a whole MiB: left for the comments
    end
    o.add(key, atom(v // 1024))
  elseif kind == "defbool" then
    if v ~= "True" and v ~= "False" then
      return
    end
    o.add(key, atom(out.bool01(v)))
  elseif kind == "strlist" then
    if type(v) ~= "table" then
      return
    end
    o.add(key, out.list(v))
  else
    if type(v) == "table" then
      return
    end
    o.add(key, atom(v))
  end
  o.take(...)
end

-- An empty table the closing comment shows ("= {}"): an empty struct inside a device left whole
-- says something (a channel's "connection.pty"), while the empty structs libxl always has do not.
local SHOWN_EMPTY = { __name = "xlua.xlcfg.empty" }

local function mark_empties(v)
  if type(v) ~= "table" then
    return v
  end
  if next(v) == nil then
    return setmetatable({}, SHOWN_EMPTY)
  end
  local copy = {}
  for k, x in pairs(v) do
    copy[k] = mark_empties(x)
  end
  return copy
end

-- A device list (field_name: a field of the config, or a path to one), one spec per device: spec(item, position) -> text [, dropped] where dropped
-- holds the item's fields the text cannot say (they go to the closing comment, under the
-- item's index), or nil when the item cannot be written at all (then it is left whole).
-- position counts the items written so far (their devids, where a kind numbers them).
function out.devices(o, key, field_name, spec, wrap)
  local path = type(field_name) == "table" and field_name or { field_name }
  local items = o.peek(table.unpack(path))
  if type(items) ~= "table" or #items == 0 then
    return
  end
  local specs, left = {}, {}
  for i, item in ipairs(items) do
    local text, dropped = spec(item, #specs, i - 1)
    if text then
      specs[#specs + 1] = text
      if dropped and next(dropped) ~= nil then
        left[i] = dropped
      end
    else
      left[i] = mark_empties(item)
    end
  end
  if #specs > 0 then
    o.add(key, (wrap or out.list)(specs))
  end
  o.take(table.unpack(path))
  if next(left) ~= nil then
    o.put(left, table.unpack(path))
  end
end

-- The closing comment's lines: every field left, as a JSON path and its JSON value.
function out.leftovers(prefix, v, lines)
  if type(v) ~= "table" or getmetatable(v) == SHOWN_EMPTY then
    lines[#lines + 1] = prefix .. " = " .. (type(v) == "table" and "{}" or json.encode(v))
    return
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and type(a) == "number" then
      return a < b
    end
    return tostring(a) < tostring(b)
  end)
  local is_array = #v > 0 and #keys == #v
  if is_array then
    local all_atoms = true
    for _, x in ipairs(v) do
      all_atoms = all_atoms and type(x) ~= "table"
    end
    if all_atoms then
      lines[#lines + 1] = prefix .. " = " .. json.encode(v)
      return
    end
  end
  for _, k in ipairs(keys) do
    local name = type(k) == "number" and (prefix .. "[" .. (k - 1) .. "]") or
      (prefix == "" and k or prefix .. "." .. k)
    out.leftovers(name, v[k], lines)
  end
end

return out
