-- Unplug a network interface from a running domain, as xl network-detach does.
local cli = require("xlua.cli")

return cli.main({
  name = "network-detach",
  usage = "xlua network-detach DOMAIN DEVID|MAC",
  help = "Removes the nic with that devid (or mac) from DOMAIN. The domain's stored config follows.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").network_detach(h, info, args[2])
  end)
end)
