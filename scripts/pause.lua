-- Pause a domain, as xl pause does.
local cli = require("xlua.cli")

return cli.main({
  name = "pause",
  usage = "xlua pause DOMAIN",
  help = "DOMAIN is a name or a domid.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  return cli.domain_command(opts, args[1], function(h, info)
    return cli.check("pause failed: ", h:pause(info.domid))
  end, { changes = true })
end)
