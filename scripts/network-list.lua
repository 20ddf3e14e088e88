-- List the network interfaces of domains, as xl network-list does.
local cli = require("xlua.cli")

return cli.main({
  name = "network-list",
  usage = "xlua network-list DOMAIN...",
  help = "One line per nic of each DOMAIN: devid, backend domain, mac, xenbus state, event\n"
    .. "channel, tx and rx ring references and backend path.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
}, function(opts, args)
  local devices = require("xlua.runtime.devices")
  return require("xlua.runtime.command").listing(opts, args, devices.network_lines,
    devices.NETWORK_HEADER)
end)
