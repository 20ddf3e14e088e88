-- xl.conf, the defaults xl applies to every domain (parse_global_config in xl.c, Xen 4.17),
-- read with the xl.cfg parser and turned into convert.to_libxl options.
local reader = require("xlua.convert.reader")
local values = require("xlua.convert.values")

local xlconf = {}

-- Where xl reads it (XL_GLOBAL_CONFIG).
xlconf.DEFAULT = "/etc/xen/xl.conf"

-- Keys xl reads that change nothing in a domain's libxl JSON (they steer xl itself: memory
-- ballooning, block-attach's first device, its lock, its output, domids chosen at creation,
-- Remus and COLO helpers). Read and kept, so that none of them is "unknown".
local NOT_IN_JSON = { "autoballoon", "blkdev_start", "lockfile", "output_format", "domid_policy",
  "remus.default.netbufscript", "colo.default.proxyscript" }

-- xlconf.parse(text, name) -> settings, warnings | nil, message, code.
-- settings: the convert.to_libxl options xl.conf sets (run_hotplug_scripts, claim_mode,
-- nic_defaults, grant_defaults, cpumasks = {vm =, pv =, hvm =} as range texts) and the keys
-- that only steer xl (others). A syntax error refuses, as xl exits on one.
function xlconf.parse(text, name)
  local parsed, err, code = require("xlua.cfg").parse(text, name)
  if not parsed then
    return nil, err, code
  end
  local lines = {}
  for _, s in ipairs(parsed.settings or {}) do
    lines[s.name] = s.line
  end
  local warnings = {}
  local r = reader.new(parsed.values, warnings, {
    where = function(key)
      return lines[key] and (name .. ":" .. lines[key]) or nil
    end,
  })
  local ok, result = pcall(function()
    local s = { nic_defaults = {}, grant_defaults = {}, cpumasks = {}, others = {} }
    local l = r.long("run_hotplug_scripts")
    if l then
      s.run_hotplug_scripts = l ~= 0
    end
    l = r.long("claim_mode")
    if l then
      s.claim_mode = l ~= 0
    end
    -- the deprecated spellings first: the new ones win when both are set
    for _, k in ipairs({ { "vifscript", "vif.default.script", "script" },
      { "defaultbridge", "vif.default.bridge", "bridge" } }) do
      local old = r.string(k[1])
      if old then
        r.warn("%s: the global config option %s is deprecated, please switch to %s",
          k[1], k[1], k[2])
        s.nic_defaults[k[3]] = old
      end
    end
    for key, field in pairs({ ["vif.default.script"] = "script", ["vif.default.bridge"] = "bridge",
      ["vif.default.gatewaydev"] = "gatewaydev", ["vif.default.backend"] = "backend_domname" }) do
      s.nic_defaults[field] = r.string(key) or s.nic_defaults[field]
    end
    -- xl exits on a bad one of these (xlu_cfg_get_bounded_long then exit(1))
    for _, key in ipairs({ "max_grant_frames", "max_maptrack_frames", "max_grant_version" }) do
      s.grant_defaults[key] = r.long_or_fail(key, 0, 0x7fffffff)
    end
    for key, which in pairs({ ["vm.cpumask"] = "vm", ["vm.pv.cpumask"] = "pv",
      ["vm.hvm.cpumask"] = "hvm" }) do
      s.cpumasks[which] = r.string(key)
    end
    for _, key in ipairs(NOT_IN_JSON) do
      s.others[key] = r.get(key)
    end
    for _, key in ipairs(r.unused()) do
      r.warn("%s: unknown to xl.conf, ignored", key)
    end
    return s
  end)
  if not ok then
    if getmetatable(result) == values.BadValue then
      return nil, name .. ": " .. result.message, result.code
    end
    error(result, 0)
  end
  return result, warnings
end

-- xlconf.load(path) -> settings, warnings | nil, message, code: read as configs are read (once,
-- TOOBIG past config.MAX_SIZE), then xlconf.parse.
function xlconf.load(path)
  local text, err, code = require("xlua.config").read(path)
  if not text then
    return nil, err, code
  end
  return xlconf.parse(text, path)
end

-- xlconf.find(path, backend) -> settings, warnings | nil, message, code. path: --xl-conf's
-- value (it must exist); without one, xl's own file on the libxl backend when it exists, and
-- nothing on the sim (a test run must not pick up the machine's xl.conf).
function xlconf.find(path, backend)
  if path then
    return xlconf.load(path)
  end
  if backend == "libxl" then
    local f = io.open(xlconf.DEFAULT, "r")
    if f then
      f:close()
      return xlconf.load(xlconf.DEFAULT)
    end
  end
  return { nic_defaults = {}, grant_defaults = {}, cpumasks = {}, others = {} }, {}
end

-- xlconf.options(settings [, opts]) -> a copy of opts with what xl.conf sets for
-- convert.to_libxl (run_hotplug_scripts, claim_mode, nic_defaults, grant_defaults, cpumasks).
function xlconf.options(settings, opts)
  local out = {}
  for k, v in pairs(opts or {}) do
    out[k] = v
  end
  out.run_hotplug_scripts = settings.run_hotplug_scripts
  out.claim_mode = settings.claim_mode
  out.nic_defaults = next(settings.nic_defaults) and settings.nic_defaults or nil
  out.grant_defaults = settings.grant_defaults
  out.cpumasks = settings.cpumasks
  return out
end

-- xlconf.for_backend(h, path [, opts]) -> convert options, warnings | nil, message, code:
-- opts with xl.conf's defaults (path, or the backend's default file) and the host's layout
-- from h (an open backend handle, or nil when none could be opened: no host then, and the
-- backend is the one $XLUA_BACKEND names), asked for only if the conversion looks at it: keep
-- h open until the conversion is done.
function xlconf.for_backend(h, path, opts)
  local backend = h and h:backend() or os.getenv("XLUA_BACKEND")
  local settings, warnings, code = xlconf.find(path, backend)
  if not settings then
    return nil, warnings, code
  end
  local out = xlconf.options(settings, opts)
  out.host = out.host or require("xlua.domains").lazy_layout(h)
  return out, warnings
end

return xlconf
