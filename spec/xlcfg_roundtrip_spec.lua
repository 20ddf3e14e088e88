-- The reverse direction on every config in the specs: config -> libxl JSON -> xl.cfg (xlcfg.render)
-- -> libxl JSON gives the same JSON, with nothing left in the closing comment. The configs: the
-- key table (spec/fixtures/convert/keys.lua), spec/fixtures/cfg, spec/fixtures/convert and the
-- real-Xen corpus (spec/xen/configs and its corpus/).
local cfg = require("xlua.cfg")
local config = require("xlua.config")
local convert = require("xlua.convert")
local json = require("xlua.json")
local xlcfg = require("xlua.xlcfg")
local keys = require("fixtures.convert.keys")

local GENID = {}
for i = 1, 16 do
  GENID[i] = 0xab
end

local OPTS = {
  uuid_generator = function() return "11111111-1111-1111-1111-111111111111" end,
  genid_generator = function() return json.array(table.move(GENID, 1, 16, 1, {})) end,
  host = { nr_nodes = 2, online_cpus = 8, max_cpus = 8,
    nodes = { [0] = { 0, 1, 2, 3 }, [1] = { 4, 5, 6, 7 } } },
}

local function same(a, b, text)
  assert.are.equal(json.encode(a, { indent = " " }), json.encode(b, { indent = " " }), text)
end

-- The rendering converts back to the same JSON; returns the rendering.
local function round_trip(c)
  local text = xlcfg.render(c)
  local parsed, err = cfg.parse(text, "rendered.cfg")
  assert(parsed, tostring(err) .. "\n" .. text)
  local again, warnings = convert.to_libxl(parsed.values, OPTS)
  assert(again, tostring(warnings) .. "\n" .. text)
  same(c, again, text)
  return text
end

local function check(c)
  local text = round_trip(c)
  assert.falsy(text:find("# Not expressible", 1, true), text)
end

local function files(dir, pattern)
  local out = {}
  local p = io.popen("ls " .. dir)
  for name in p:lines() do
    if name:match(pattern) then
      out[#out + 1] = dir .. "/" .. name
    end
  end
  p:close()
  return out
end

describe("JSON -> xl.cfg -> JSON", function()
  describe("the key table", function()
    for i, entry in ipairs(keys.keys) do
      if not entry.refused then
        it(("%d %s: %s"):format(i, entry.key, entry.cfg:gsub("\n", "; ")), function()
          local text = keys.bases[entry.base] .. entry.cfg .. "\n"
          local parsed = assert(cfg.parse(text, "keys.cfg"))
          local c = convert.to_libxl(parsed.values, OPTS)
          if c then -- (the one documented difference, rdm's policy, converts; xl's JSON does too)
            check(c)
          end
          check(entry.json)
        end)
      end
    end
  end)

  local paths = {}
  for _, dir in ipairs({ "spec/fixtures/cfg", "spec/fixtures/convert", "spec/xen/configs",
    "spec/xen/configs/corpus" }) do
    for _, path in ipairs(files(dir, "%.cfg$")) do
      paths[#paths + 1] = path
    end
    for _, path in ipairs(files(dir, "%.lua$")) do
      paths[#paths + 1] = path
    end
  end
  for _, path in ipairs(paths) do
    local loaded = config.load(path, {}, OPTS)
    if loaded then -- parser fixtures and refused configs have no JSON to round-trip
      it(path, function()
        check(loaded.libxl)
      end)
    end
  end

  it("covers the files it means to", function()
    local n = 0
    for _, path in ipairs(paths) do
      n = n + (config.load(path, {}, OPTS) and 1 or 0)
    end
    assert.is_true(n >= 30, n)
  end)
end)
