-- Text from files and from domains made safe to print: a savefile, a config or a domain name
-- may hold bytes that a terminal obeys (clear the screen, retitle the window, hide text) or
-- that are not UTF-8 at all. Everything xlua prints from such a source goes through here.
--
-- printable.escape(s [, {multiline = true, bytes = true}]) -> text
--   Returns s with every byte or character a terminal could act on written as a visible
--   escape, everything else unchanged (so plain text, and any valid UTF-8 letter, is shown as
--   it is):
--     C0 controls (0x00-0x1f)   \n \t \r, the others \xHH (ESC is \x1b); with multiline,
--                               newline and tab are kept as they are (config text)
--     DEL (0x7f)                \x7f
--     invalid UTF-8             each byte that is not part of a valid sequence: \xHH
--                               (overlong forms, surrogates and code points past U+10FFFF
--                               are invalid)
--     C1 controls (U+0080-009F) \u0085 (a terminal may take them as ESC sequences)
--     U+2028, U+2029 and the bidirectional embeddings, overrides and isolates (U+202A-202E,
--     U+2066-2069), which reorder or break what is shown around them: \u202e
--   With bytes = true, such a character is written as the \xHH of each of its bytes instead
--   of \uXXXX: the form an xl.cfg string reads back as the same bytes (for printing xl.cfg).
--   A backslash is not escaped: the result is for people to read, not to be parsed back, and
--   escaping twice changes nothing (escape(escape(s)) == escape(s)). A number is taken as its
--   string form; anything else is an argument error.
--
-- printable.is_utf8(s) -> boolean: s is valid UTF-8 (strict, as above).
-- printable.to_utf8(s) -> s with each byte that is not part of a valid UTF-8 sequence replaced
--   by U+FFFD (what JSON output does, since a JSON text must be UTF-8).
local printable = {}

local byte, char, format = string.byte, string.char, string.format

-- The length and code point of the UTF-8 sequence at s[i] (a byte >= 0x80), or nil when the
-- byte does not start a valid one (RFC 3629's table: no overlongs, no surrogates, <= U+10FFFF).
local function decode(s, i)
  local b1 = byte(s, i)
  local lo, hi, len -- the range of the second byte, and the length
  if b1 >= 0xc2 and b1 <= 0xdf then
    lo, hi, len = 0x80, 0xbf, 2
  elseif b1 == 0xe0 then
    lo, hi, len = 0xa0, 0xbf, 3
  elseif b1 == 0xed then
    lo, hi, len = 0x80, 0x9f, 3
  elseif b1 >= 0xe1 and b1 <= 0xef then
    lo, hi, len = 0x80, 0xbf, 3
  elseif b1 == 0xf0 then
    lo, hi, len = 0x90, 0xbf, 4
  elseif b1 >= 0xf1 and b1 <= 0xf3 then
    lo, hi, len = 0x80, 0xbf, 4
  elseif b1 == 0xf4 then
    lo, hi, len = 0x80, 0x8f, 4
  else
    return nil
  end
  local b2 = byte(s, i + 1)
  if not b2 or b2 < lo or b2 > hi then
    return nil
  end
  local cp = ((b1 & (0xff >> (len + 1))) << 6) | (b2 & 0x3f)
  for k = 2, len - 1 do
    local b = byte(s, i + k)
    if not b or b < 0x80 or b > 0xbf then
      return nil
    end
    cp = (cp << 6) | (b & 0x3f)
  end
  return len, cp
end

-- Characters that are valid UTF-8 but act on the terminal or reorder the line.
local function unsafe(cp)
  return (cp >= 0x80 and cp <= 0x9f) or cp == 0x2028 or cp == 0x2029
    or (cp >= 0x202a and cp <= 0x202e) or (cp >= 0x2066 and cp <= 0x2069)
end

local NAMED = { [0x0a] = "\\n", [0x09] = "\\t", [0x0d] = "\\r" }

local function check_string(s, fname)
  local t = type(s)
  if t == "number" then
    return tostring(s)
  end
  if t ~= "string" then
    error(format("bad argument #1 to '%s' (string expected, got %s)", fname, t), 3)
  end
  return s
end

function printable.escape(s, opts)
  s = check_string(s, "escape")
  if opts ~= nil and type(opts) ~= "table" then
    error(format("bad argument #2 to 'escape' (table expected, got %s)", type(opts)), 2)
  end
  local bytes = opts and opts.bytes
  local bad = (opts and opts.multiline) and "[^\t\n\32-\126]" or "[^\32-\126]"
  local i = s:find(bad)
  if not i then
    return s
  end
  local out, from = {}, 1
  while i do
    out[#out + 1] = s:sub(from, i - 1)
    local b = byte(s, i)
    local len, cp = 1, nil
    if b < 0x80 then
      out[#out + 1] = NAMED[b] or format("\\x%02x", b)
    else
      len, cp = decode(s, i)
      if not len then
        len = 1
        out[#out + 1] = format("\\x%02x", b)
      elseif unsafe(cp) and bytes then
        out[#out + 1] = (s:sub(i, i + len - 1):gsub(".", function(c) return format("\\x%02x", byte(c)) end))
      elseif unsafe(cp) then
        out[#out + 1] = format("\\u%04x", cp)
      else
        out[#out + 1] = s:sub(i, i + len - 1)
      end
    end
    from = i + len
    i = s:find(bad, from)
  end
  out[#out + 1] = s:sub(from)
  return table.concat(out)
end

function printable.is_utf8(s)
  s = check_string(s, "is_utf8")
  local i = s:find("[\128-\255]")
  while i do
    local len = decode(s, i)
    if not len then
      return false
    end
    i = s:find("[\128-\255]", i + len)
  end
  return true
end

local REPLACEMENT = char(0xef, 0xbf, 0xbd) -- U+FFFD

function printable.to_utf8(s)
  s = check_string(s, "to_utf8")
  local i = s:find("[\128-\255]")
  if not i then
    return s
  end
  local out, from = {}, 1
  while i do
    local len = decode(s, i)
    if not len then
      out[#out + 1] = s:sub(from, i - 1)
      out[#out + 1] = REPLACEMENT
      from = i + 1
      i = s:find("[\128-\255]", from)
    else
      i = s:find("[\128-\255]", i + len)
    end
  end
  out[#out + 1] = s:sub(from)
  return table.concat(out)
end

return printable
