-- The fakes in spec/fakes/ must offer what the real modules offer, function for function, so
-- a policy that passes against a fake cannot call something the real module lacks.
local helper = require("support.helper")

local function functions(t)
  local names = {}
  for k, v in pairs(t) do
    if type(v) == "function" then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

-- Names in real missing from fake (extra helpers of a fake, such as reset and fail, are fine).
local function missing(real, fake)
  local have, out = {}, {}
  for _, name in ipairs(functions(fake)) do
    have[name] = true
  end
  for _, name in ipairs(functions(real)) do
    if not have[name] then
      out[#out + 1] = name
    end
  end
  return out
end

local function real_module(name)
  package.loaded[name] = nil
  return require(name)
end

describe("spec/fakes/domain.lua", function()
  local fake = require("fakes.domain")
  local real = real_module("xlua.domain")

  it("has every function of xlua.domain", function()
    assert.same({}, missing(real, fake))
  end)

  it("has every method of a real handle", function()
    -- a child xlua with its own sim state directory lists the real handle's methods
    local out, err = helper.run({ "-e", [[
      local h = assert(require("xlua.domain").open("sim"))
      local mt = getmetatable(h)
      local idx = type(mt.__index) == "table" and mt.__index or mt
      local names = {}
      for k, v in pairs(idx) do
        if type(v) == "function" and not k:match("^__") then names[#names + 1] = k end
      end
      io.write(table.concat(names, " "))
      os.exit(0)]] }, { env = { XLUA_SIM_DIR = helper.tmpdir(), XLUA_BACKEND = "sim" } })
    assert.is_true(#out > 0, "could not list the real handle's methods: " .. err)
    local real_methods = {}
    for name in out:gmatch("%S+") do
      real_methods[name] = function() end
    end
    assert.same({}, missing(real_methods, fake.Handle))
  end)

  it("offers the methods the policies call", function()
    for _, name in ipairs({ "backend", "list", "info", "find", "create", "destroy", "pause", "unpause",
      "rename", "config", "save", "restore", "store_put", "store_get", "store_remove", "store_keys",
      "lock", "request", "sysrq", "trigger", "wait_shutdown", "preserve", "core_dump", "soft_reset",
      "console", "run_dir" }) do
      assert.is_function(fake.Handle[name], name)
    end
    for _, name in ipairs({ "choose", "open" }) do
      assert.is_function(fake[name], name)
    end
  end)
end)
