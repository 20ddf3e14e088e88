-- xlua.pretty: values as readable Lua-like text, for the REPL and for commands that show
-- tables to people. Output is meant for reading, not for loading back.

local M = {}

local DEFAULTS = { depth = 4, max_items = 100, width = 72, indent = "  " }

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not KEYWORDS[s]
end
M.is_identifier = is_identifier

local ESCAPES = {
  ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
  ["\a"] = "\\a", ["\b"] = "\\b", ["\f"] = "\\f", ["\v"] = "\\v",
}

-- A double-quoted literal that reads back as the same bytes. Unlike %q, a newline is "\n"
-- (the result stays on one line); UTF-8 text is kept as is, other high bytes escaped.
local function quote(s)
  local high = utf8.len(s) and "" or "\128-\255"
  return '"' .. s:gsub('[%c"\\' .. high .. ']', function(c)
    return ESCAPES[c] or ("\\%03d"):format(c:byte())
  end) .. '"'
end
M.quote = quote

-- tostring that survives a failing or misbehaving __tostring.
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return ("<%s: __tostring failed>"):format(type(v))
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return quote(v) end
  return safe_tostring(v)
end

-- Tables that describe themselves (objects with __tostring or a __name) are shown that way.
local function has_own_text(t)
  local mt = getmetatable(t)
  return type(mt) == "table" and (rawget(mt, "__tostring") ~= nil or rawget(mt, "__name") ~= nil)
end

local TYPE_ORDER = { number = 1, string = 2 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  local oa, ob = TYPE_ORDER[ta] or 3, TYPE_ORDER[tb] or 3
  if oa ~= ob then return oa < ob end
  if oa < 3 then return a < b end
  if ta ~= tb then return ta < tb end
  if ta == "boolean" then return (not a) and b end
  return safe_tostring(a) < safe_tostring(b)
end

local function key_text(k)
  if is_identifier(k) then return k end
  return "[" .. scalar(k) .. "]"
end

local format_value

-- The entries of t: the array part 1..n first, then the other keys sorted.
local function entries(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  return n, keys
end

local function format_table(t, o, level, path, avail)
  if path[t] then return "<cycle>" end
  if next(t) == nil then return "{}" end
  if level > o.depth then return "{...}" end

  path[t] = true
  local n, keys = entries(t)
  local total = n + #keys
  local shown = math.min(total, o.max_items)
  local pad = o.indent:rep(level)
  local inner = avail - #o.indent
  local items, multiline = {}, false
  for i = 1, shown do
    local k, text
    if i <= n then
      text = format_value(rawget(t, i), o, level + 1, path, inner)
    else
      k = keys[i - n]
      local prefix = key_text(k) .. " = "
      text = prefix .. format_value(rawget(t, k), o, level + 1, path, inner - #prefix)
    end
    if text:find("\n", 1, true) then multiline = true end
    items[i] = text
  end
  path[t] = nil

  local more = total - shown
  if not multiline then
    local line = "{" .. table.concat(items, ", ")
    if more > 0 then
      line = line .. (shown > 0 and ", " or "") .. ("--[[ %d more ]]"):format(more)
    end
    line = line .. "}"
    if #line <= avail then return line end
  end
  local out = { "{" }
  for i = 1, shown do out[#out + 1] = pad .. items[i] .. "," end
  if more > 0 then out[#out + 1] = pad .. ("-- %d more"):format(more) end
  out[#out + 1] = o.indent:rep(level - 1) .. "}"
  return table.concat(out, "\n")
end

function format_value(v, o, level, path, avail)
  if type(v) == "table" and not has_own_text(v) then
    return format_table(v, o, level, path, avail)
  end
  return scalar(v)
end

--- format(value [, opts]) -> string
-- opts.depth (4): tables nested deeper are shown as {...};
-- opts.max_items (100): entries shown per table before a "-- N more" note;
-- opts.width (72): a table fitting in this many columns is put on one line;
-- opts.indent ("  ").
function M.format(value, opts)
  local o = {}
  for k, d in pairs(DEFAULTS) do
    local v = opts and opts[k]
    if v == nil then v = d end
    o[k] = v
  end
  return format_value(value, o, 1, {}, o.width)
end

return M
