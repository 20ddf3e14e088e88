-- Hotplug a network interface into a running domain, as xl network-attach does.
local cli = require("xlua.cli")

return cli.main({
  name = "network-attach",
  usage = "xlua network-attach DOMAIN [VIF-OPTION...]",
  help = "Adds a nic to DOMAIN; each VIF-OPTION is one of xl.cfg's vif= items (bridge=xenbr0,\n"
    .. "mac=00:16:3e:..., model=..., ...). Without devid= it takes the next free one, without mac=\n"
    .. "a random one of 00:16:3e. The domain's stored config follows.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = math.huge,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").network_attach(h, info, table.move(args, 2, #args, 1, {}), function(fmt, ...)
      require("xlua.log").warn(fmt, ...)
    end)
  end)
end)
