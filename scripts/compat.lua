-- Compare two domain configs (config files or savefiles) the way restore does, with site rules.
local check = require("xlua.compat.check")
local cli = require("xlua.cli")
local config = require("xlua.config")
local log = require("xlua.log")
local printable = require("xlua.printable")
local report = require("xlua.compat.report")
local site = require("xlua.compat.site")

-- The host's domains and memory, when a backend opens here; nothing otherwise.
local function context()
  local domains = require("xlua.domains")
  local h, err = domains.open()
  if not h then
    log.debug("compat: no host context: %s", tostring(err))
    return {}
  end
  return domains.context(h)
end

return cli.main({
  name = "compat",
  usage = "xlua compat [--json] [--site-dir DIR] OLD NEW",
  help = "Checks whether a domain saved with OLD can be restored with NEW. OLD and NEW are config\n"
    .. "files (xl.cfg, Lua, libxl JSON) or savefiles (their stored config is used). Prints one\n"
    .. "line per difference (verdict, path, old -> new, reason) and a summary.\n"
    .. "  --json          the report as JSON\n"
    .. "  --site-dir DIR  site rules from DIR (default $XLUA_SITE_DIR, else " .. site.DEFAULT_DIR .. ")\n"
    .. "Exit 0 when compatible, 1 when not, 2 on bad input.",
  options = {
    ["--json"] = "json",
    ["--site-dir"] = { "site_dir", value = true },
  },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  local configs = {}
  for i = 1, 2 do
    local loaded, err = config.load_any(args[i])
    if not loaded then
      return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
    end
    configs[i] = loaded
  end
  -- NEW without a uuid describes OLD's domain, as a replacement config does for restore
  local old_c_info = configs[1].libxl.c_info
  config.keep_identity(configs[2], type(old_c_info) == "table" and old_c_info.uuid or nil)
  local dir, explicit = site.dir(opts.site_dir)
  -- site files run when loaded and when checking: Ctrl-C stops them (exit 130; 128+N for
  -- another stop signal)
  local rules, err, code, signal = cli.interruptible(site.load, dir, explicit)
  if not rules then
    local status = code == "INTERRUPTED" and cli.status(code, signal) or cli.BAD_INPUT
    return cli.fail(status, "%s", printable.escape(err))
  end
  local r
  r, err, code, signal = cli.interruptible(check.check, configs[1].libxl, configs[2].libxl,
    { site_rules = rules, context = context() })
  if not r then
    return cli.fail(cli.status(code, signal), "%s", err)
  end
  io.stdout:write(opts.json and report.json(r) or report.text(r))
  return r.compatible and cli.OK or cli.FAILED
end)
