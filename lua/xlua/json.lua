-- JSON for xlua: decoding through lua-cjson, and encoding with sorted keys and stable
-- indentation so that every --json output is byte-for-byte reproducible.
-- lua-cjson is loaded on first use (0.15 ms of a command's start): a create or a save only
-- encodes, and a plain string, an integer or a boolean needs no cjson.
local cjson_module
local function cjson()
  cjson_module = cjson_module or require("cjson")
  return cjson_module
end
local printable = require("xlua.printable")

local json = {}

-- Mark a table so that it encodes as an array even when empty.
json.array_mt = { __name = "json.array" }

function json.array(t)
  return setmetatable(t or {}, json.array_mt)
end

-- json.is_null(v): is v what decode gives for a JSON null? (without loading cjson: before it
-- is loaded, nothing can be its null)
function json.is_null(v)
  return cjson_module ~= nil and v == cjson_module.null
end

-- json.null: cjson.null, what decode gives for a JSON null (loads cjson when first read)
setmetatable(json, { __index = function(t, k)
  if k == "null" then
    rawset(t, "null", cjson().null)
    return rawget(t, "null")
  end
end })

-- Returns the decoded value, or nil, message, "BADJSON".
function json.decode(text)
  local ok, value = pcall(cjson().decode, text)
  if not ok then
    return nil, tostring(value), "BADJSON"
  end
  return value
end

-- json.is_array(t): does t encode as a JSON array? (marked with json.array, or a non-empty
-- sequence with no other keys)
local function is_array(t)
  if type(t) ~= "table" then
    return false
  end
  if getmetatable(t) == json.array_mt then
    return true
  end
  local n = #t
  if n == 0 then
    return false
  end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
  end
  return count == n
end

json.is_array = is_array

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    return ta < tb
  end
  return a < b
end

local function u_escape(seq)
  return string.format("\\u%04x", utf8.codepoint(seq))
end

-- A string token (quotes included) made safe to print and valid UTF-8, as every --json output
-- must be: each byte that is not part of a valid UTF-8 sequence (a domain name of bytes
-- \xff\xfe, a source text in Latin-1) becomes U+FFFD, as a decoder replaces what it cannot
-- read (the string is then valid but no longer byte-exact; list --json adds name_hex for such
-- a name). Control characters (C0, DEL, C1), U+2028/2029 and the bidirectional controls are
-- written as \uXXXX: the same string to every JSON reader, and nothing a terminal obeys.
local function safe_string_token(tok)
  return (printable.to_utf8(tok):gsub("[\0-\31\127]", u_escape)
    :gsub("\194[\128-\159]", u_escape)
    :gsub("\226\128[\168-\174]", u_escape)
    :gsub("\226\129[\166-\169]", u_escape))
end

-- Debian's lua-cjson 2.1.0 escapes every "/" as "\/" and has no switch for it; libxl writes
-- "/" plainly. Every "\/" in cjson's output is that escape (a literal backslash is "\\").
-- Printable ASCII without '"' and '\' (nearly every key and value) is the token as it is:
-- what that way gives for it, without its seven passes over the string.
local function encode_string(s)
  if not s:find('[%c"\\\128-\255]') then
    return '"' .. s .. '"'
  end
  return safe_string_token((cjson().encode(s):gsub("\\/", "/")))
end

local encode_value

local function encode_table(t, indent, depth, seen, out)
  if seen[t] then
    error("json: cannot encode a table that contains itself", 0)
  end
  seen[t] = true
  local pad = indent and "\n" .. string.rep(indent, depth + 1) or ""
  local close = indent and "\n" .. string.rep(indent, depth) or ""
  local sep = indent and ": " or ":"
  if is_array(t) then
    if #t == 0 then
      out[#out + 1] = "[]"
    else
      out[#out + 1] = "["
      for i = 1, #t do
        out[#out + 1] = (i > 1 and "," or "") .. pad
        encode_value(t[i], indent, depth + 1, seen, out)
      end
      out[#out + 1] = close .. "]"
    end
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" and type(k) ~= "number" then
        error("json: cannot encode a key of type " .. type(k), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys, key_order)
    if #keys == 0 then
      out[#out + 1] = "{}"
    else
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        out[#out + 1] = (i > 1 and "," or "") .. pad .. encode_string(tostring(k)) .. sep
        encode_value(t[k], indent, depth + 1, seen, out)
      end
      out[#out + 1] = close .. "}"
    end
  end
  seen[t] = nil
end

function encode_value(v, indent, depth, seen, out)
  local tv = type(v)
  if tv == "table" then
    encode_table(v, indent, depth, seen, out)
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif cjson_module and v == cjson_module.null then
    out[#out + 1] = "null"
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("json: cannot encode " .. tostring(v), 0)
    end
    out[#out + 1] = math.type(v) == "integer" and string.format("%d", v) or cjson().encode(v)
  elseif v == nil then
    out[#out + 1] = "null"
  else
    error("json: cannot encode a " .. tv, 0)
  end
end

-- json.encode(value [, {indent = "  "}]) -> text; objects have their keys sorted.
function json.encode(value, opts)
  local out = {}
  encode_value(value, opts and opts.indent, 0, {}, out)
  return table.concat(out)
end

-- Re-indent JSON text without decoding it, so the key order of the original is kept
-- (libxl's own order, for a config read from a savefile). Its strings are made safe as
-- encode's are (invalid UTF-8 as U+FFFD, controls as \u escapes: cjson accepts raw control
-- characters inside strings, a savefile's config may hold them). Invalid JSON is returned as
-- is: escape it before printing.
function json.pretty(text, indent)
  if not json.decode(text) then
    return text
  end
  indent = indent or "  "
  local out, depth, i, n = {}, 0, 1, #text
  local function newline()
    out[#out + 1] = "\n" .. string.rep(indent, depth)
  end
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local q = text:find('["\\]', j)
        if text:sub(q, q) == "\\" then
          j = q + 2
        else
          j = q
          break
        end
      end
      out[#out + 1] = safe_string_token(text:sub(i, j))
      i = j
    elseif c == "{" or c == "[" then
      local closer = c == "{" and "}" or "]"
      local k = text:find("%S", i + 1)
      if text:sub(k, k) == closer then
        out[#out + 1] = c .. closer
        i = k
      else
        out[#out + 1] = c
        depth = depth + 1
        newline()
      end
    elseif c == "}" or c == "]" then
      depth = depth - 1
      newline()
      out[#out + 1] = c
    elseif c == "," then
      out[#out + 1] = ","
      newline()
    elseif c == ":" then
      out[#out + 1] = ": "
    elseif not c:match("%s") then
      local j = text:find("[%s,%]}]", i) or n + 1
      out[#out + 1] = text:sub(i, j - 1)
      i = j - 1
    end
    i = i + 1
  end
  return table.concat(out)
end

return json
