-- The key table (spec/fixtures/convert/keys.lua): every key xl 4.17's parse_config_data
-- reads, with xl's own output for each snippet. xlua must give the same JSON, refuse where xl
-- exits, and warn where xl warns; and the same config written as a Lua config (numbers as
-- Lua numbers) must give the same JSON.
local cfg = require("xlua.cfg")
local convert = require("xlua.convert")
local json = require("xlua.json")
local table_ = require("fixtures.convert.keys")

local GENID = {}
for i = 1, 16 do
  GENID[i] = 0xab
end

local OPTS = {
  uuid_generator = function() return "11111111-1111-1111-1111-111111111111" end,
  genid_generator = function() return json.array(table.move(GENID, 1, 16, 1, {})) end,
  -- the host xl's parse_config_data saw when the table was made
  host = { nr_nodes = 2, online_cpus = 8, max_cpus = 8,
    nodes = { [0] = { 0, 1, 2, 3 }, [1] = { 4, 5, 6, 7 } } },
}

-- Where xlua knowingly differs from xl 4.17 (README, "What becomes of each key").
local KNOWN = {
  -- xlu_rdm_parse in 4.17 treats a valid policy= as a parse error (an inverted check) and
  -- xl then drops the whole rdm= silently; xlua reads it as documented.
  ['rdm = "strategy=host,policy=relaxed"'] = true,
}

local function values_of(text)
  local parsed, err = cfg.parse(text, "keys.cfg")
  return parsed and parsed.values, err
end

-- The values as a Lua config would give them: whole numbers as Lua integers.
local function as_lua(v)
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do
      out[k] = as_lua(x)
    end
    return out
  end
  if type(v) == "string" and v:match("^%-?[1-9]%d*$") or v == "0" then
    return math.tointeger(tonumber(v))
  end
  return v
end

local function same(expected, actual)
  assert.are.equal(json.encode(expected, { indent = " " }), json.encode(actual, { indent = " " }))
end

local function check(entry, vals, err)
  if not vals then
    assert.is_true(entry.refused, err) -- a syntax error: xl refuses the file too
    return
  end
  local config, warnings, code = convert.to_libxl(vals, OPTS)
  if entry.refused then
    assert.is_nil(config, "xl refuses this")
    assert.truthy(code == "BADVALUE", code)
    return
  end
  assert.is_table(config, warnings)
  same(entry.json, config)
  if entry.warns then
    assert.is_true(#warnings > 0, "xl warns here")
  end
end

describe("the key table: every key of xl 4.17's parse_config_data", function()
  local seen = {}
  for i, entry in ipairs(table_.keys) do
    seen[entry.key] = true
    local text = table_.bases[entry.base] .. entry.cfg .. "\n"
    local name = ("%d %s (%s): %s"):format(i, entry.key, entry.base, entry.cfg:gsub("\n", "; "))
    if not KNOWN[entry.cfg] then
      it(name, function()
        check(entry, values_of(text))
      end)
      if not values_of(text) then
        goto next
      end
      it(name .. " (Lua config)", function()
        check(entry, as_lua(values_of(text)))
      end)
    end
    ::next::
  end

  it("covers all 158 keys", function()
    local n = 0
    for _ in pairs(seen) do
      n = n + 1
    end
    -- the table also has two keys xl does not read, to show they are unknown
    assert.equal(158, n - (seen.timeoffset and 1 or 0))
  end)

  it("warns about timeoffset, which xl does not read, and leaves the clock alone", function()
    local config, warnings = convert.to_libxl(values_of(table_.bases.hvm .. 'timeoffset = "3600"\n'),
      OPTS)
    assert.is_nil(config.b_info.rtc_timeoffset)
    assert.is_nil(config.b_info["type.hvm"].timeoffset)
    assert.truthy(warnings[1]:find("timeoffset: unknown", 1, true), warnings[1])
  end)

  it("refuses every xl warning with strict", function()
    for _, entry in ipairs(table_.keys) do
      if entry.warns and not KNOWN[entry.cfg] then
        local vals = values_of(table_.bases[entry.base] .. entry.cfg .. "\n")
        local strict = setmetatable({ strict = true }, { __index = OPTS })
        local config, _, code = convert.to_libxl(vals, strict)
        assert.is_nil(config, entry.cfg)
        assert.equal("BADVALUE", code)
      end
    end
  end)

  it("says NEEDHOST for vnuma's host checks when the host is not known", function()
    local text = table_.bases.pv .. 'vnuma = [ [ "pnode=0", "size=512", "vcpus=0" ] ]\n'
    local _, _, code = convert.to_libxl(values_of(text),
      { uuid_generator = OPTS.uuid_generator })
    assert.equal("NEEDHOST", code)
    text = table_.bases.pv .. 'maxvcpus = 1\nvnuma = [ [ "size=512", "vcpus=0" ] ]\n'
    local config = convert.to_libxl(values_of(text), { uuid_generator = OPTS.uuid_generator })
    assert.equal(524288, config.b_info.max_memkb)
  end)
end)
