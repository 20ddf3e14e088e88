-- Ask a guest to shut down, as xl shutdown does: its monitor then applies on_poweroff.
local cli = require("xlua.cli")
local life = require("xlua.life")

return cli.main({
  name = "shutdown",
  usage = "xlua shutdown [-a] [-w] [-F] [DOMAIN]",
  help = "Asks DOMAIN (a name or domid) to shut down, through its PV control interface.\n"
    .. "  -a  every domain but Domain-0\n  -w  wait until it has shut down (or is gone)\n"
    .. "  -F  an HVM guest without PV drivers gets an ACPI power button event instead",
  options = {
    ["-a"] = "all", ["-w"] = "wait", ["-F"] = "fallback",
    ["--backend"] = { "backend", value = true },
  },
  max_args = 1,
}, function(opts, args)
  return life.shutdown_or_reboot("poweroff", opts, args)
end)
