-- compare-json.lua XL.json XLUA.json: the libxl domain config `xl create -n` printed against
-- the one `xlua convert` printed for the same xl.cfg. Prints each difference with its path;
-- exit 0 when there is none. Run by xlua itself in dom0 (no jq there).
local json = require("xlua.json")

local function load(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local value, err = json.decode(text)
  if value == nil then
    io.stderr:write(path, ": ", tostring(err), "\n")
    os.exit(2)
  end
  -- xl create -n prints { "domid": null, "config": { ... } }.
  if type(value) == "table" and value.config ~= nil and value.c_info == nil then
    value = value.config
  end
  return value
end

local differences, fields = 0, 0

local function show(v)
  if type(v) == "table" then
    return json.encode(v)
  end
  return tostring(math.type(v) == "float" and math.tointeger(v) or v)
end

local function compare(a, b, path)
  if type(a) == "table" and type(b) == "table" then
    local keys = {}
    for k in pairs(a) do keys[k] = true end
    for k in pairs(b) do keys[k] = true end
    local sorted = {}
    for k in pairs(keys) do sorted[#sorted + 1] = k end
    table.sort(sorted, function(x, y) return tostring(x) < tostring(y) end)
    for _, k in ipairs(sorted) do
      compare(a[k], b[k], path .. (type(k) == "number" and ("[" .. (k - 1) .. "]") or ("." .. k)))
    end
  else
    fields = fields + 1
  end
  if type(a) ~= "table" or type(b) ~= "table" then
    if a == b then
      return
    end
    differences = differences + 1
    print(string.format("  %s: xl %s, xlua %s", path, show(a), show(b)))
  end
end

compare(load(arg[1]), load(arg[2]), "")
if differences == 0 then
  print(string.format("same, %d fields", fields))
  return 0
end
print(string.format("%d of %d fields differ", differences, fields))
return 1
