-- Start a domain's monitor, which applies on_poweroff/on_reboot/on_crash when it shuts down.
-- As xl's per-domain monitor (create and restore start one themselves); on_watchdog and
-- on_soft_reset too.
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local life = require("xlua.life")

return cli.main({
  name = "monitor",
  usage = "xlua monitor [-F] DOMAIN",
  help = "Starts the monitor of DOMAIN (a name or domid), a daemon logging to\n"
    .. "/var/log/xlua/NAME.log (libxl) or beside the sim's state (sim). At most one per domain.\n"
    .. "  -F  stay in the foreground, logging on stderr, until the monitor ends",
  options = { ["-F"] = "foreground", ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  local h, info, code = domains.open_find(opts.backend, args[1])
  if not h then
    return cli.fail(domains.status(code), "%s", info)
  end
  h:close()
  return life.start_monitor(opts.backend, info, opts.foreground, false)
end)
