-- Parse an xl.cfg file as libxlutil does and print its settings (xl.cfg syntax or JSON).
local cli = require("xlua.cli")
local cfg = require("xlua.cfg")
local json = require("xlua.json")
local printable = require("xlua.printable")

local escapes = {
  ["\\"] = "\\\\", ['"'] = '\\"', ["\a"] = "\\a", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\v"] = "\\v",
}

-- Double quotes, with the escapes xl.cfg knows; other control bytes, C1 and bidirectional
-- controls and bytes that are not UTF-8 as \xHH (safe to print, and read back as the same
-- bytes).
local function quote(s)
  return '"' .. printable.escape((s:gsub('[%c\\"]', function(c)
    return escapes[c] or string.format("\\x%02x", c:byte())
  end)), { bytes = true }) .. '"'
end

-- A list item has no kind of its own: one that reads as a number token is written bare
-- (libxlutil makes no difference between 5 and "5").
local function format_value(v, bare)
  if type(v) == "table" then
    if #v == 0 then
      return "[]"
    end
    local items = {}
    for i, item in ipairs(v) do
      items[i] = format_value(item, type(item) == "string" and item:match("^%d[%dabcdefx]*$") ~= nil)
    end
    return "[ " .. table.concat(items, ", ") .. " ]"
  end
  return bare and v or quote(v)
end

-- Lists become JSON arrays, the empty one included.
local function as_json(v)
  if type(v) ~= "table" then
    return v
  end
  local out = json.array()
  for i, item in ipairs(v) do
    out[i] = as_json(item)
  end
  return out
end

-- A file is read by the C parser; standard input as config.read reads a config: once, and
-- TOOBIG past the same 1 MiB cap.
local function read(path)
  if path == "-" then
    local text, err, code = require("xlua.config").read(io.stdin, "<stdin>")
    if not text then
      return nil, err, code
    end
    return cfg.parse(text, "<stdin>")
  end
  return cfg.parse_file(path)
end

return cli.main({
  name = "parse",
  usage = "xlua parse [--json] FILE|-",
  help = "Print the settings of an xl.cfg file as written, one `name = value` a line in the\n"
    .. "order they take effect (--json: one object, numbers as the strings written, lists as\n"
    .. "arrays). A syntax error is one line FILE:LINE:COL: expected ..., and exit status 2.",
  options = { ["--json"] = "json" },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  local parsed, err = read(args[1])
  if not parsed then
    return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
  end
  if opts.json then
    local obj = {}
    for name, value in pairs(parsed.values) do
      obj[name] = as_json(value)
    end
    io.stdout:write(json.encode(obj, { indent = "  " }), "\n")
  else
    local out = {}
    for i, s in ipairs(parsed.settings) do
      out[i] = s.name .. " = " .. format_value(s.value, s.kind == "number") .. "\n"
    end
    io.stdout:write(table.concat(out))
  end
  return cli.OK
end)
