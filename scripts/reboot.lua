-- Ask a guest to reboot, as xl reboot does: its monitor then applies on_reboot.
local cli = require("xlua.cli")
local life = require("xlua.life")

return cli.main({
  name = "reboot",
  usage = "xlua reboot [-a] [-w] [-F] [DOMAIN]",
  help = "Asks DOMAIN (a name or domid) to reboot, through its PV control interface.\n"
    .. "  -a  every domain but Domain-0\n  -w  wait until it has shut down (or is gone)\n"
    .. "  -F  an HVM guest without PV drivers gets an ACPI reset event instead",
  options = {
    ["-a"] = "all", ["-w"] = "wait", ["-F"] = "fallback",
    ["--backend"] = { "backend", value = true },
  },
  max_args = 1,
}, function(opts, args)
  return life.shutdown_or_reboot("reboot", opts, args)
end)
