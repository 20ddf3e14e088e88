-- Replace the config stored in a savefile once it passes the compatibility check.
-- As virsh save-image-define does: the file is rewritten atomically, its stream unchanged.
local cli = require("xlua.cli")
local compat = require("xlua.compat")
local printable = require("xlua.printable")
local saved_config = require("xlua.saved_config")

return cli.main({
  name = "set-config",
  usage = "xlua set-config [--force] [--site-dir DIR] SAVEFILE CONFIG",
  help = "Replaces the config stored in SAVEFILE (its libxl JSON and the config as written) with\n"
    .. "CONFIG (xl.cfg, Lua, libxl JSON, or another savefile's), once it passed the check restore\n"
    .. "runs against the saved config; a CONFIG without a uuid keeps the saved domain's. SAVEFILE\n"
    .. "must verify whole; it is rewritten atomically with a new trailer, its stream unchanged.\n"
    .. "  --force         replace it even when CONFIG is not compatible\n"
    .. "  --site-dir DIR  site rules for the check (default $XLUA_SITE_DIR, else /etc/xlua/site.d)\n"
    .. "Exit 0 when replaced, 1 when CONFIG is not compatible (the report says why), 2 for a\n"
    .. "damaged SAVEFILE or a bad CONFIG.",
  options = { ["--force"] = "force", ["--site-dir"] = { "site_dir", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  local path, config_path = args[1], args[2]
  local rules, err, code = compat.site_rules(opts.site_dir)
  if not rules then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  local result, report
  result, err, code, report = saved_config.replace(path, config_path, { force = opts.force, site_rules = rules })
  if not result then
    if code == "INCOMPATIBLE" then
      io.stdout:write(compat.text(report))
      return cli.fail(cli.FAILED, "%s (use --force to replace it anyway)", err)
    end
    return cli.fail(require("xlua.domains").status(code), "%s", err)
  end
  io.stdout:write(compat.text(result.report))
  io.stdout:write(string.format("%s: config replaced from %s (%d bytes)\n", printable.escape(path),
    printable.escape(config_path), result.bytes))
  return cli.OK
end)
