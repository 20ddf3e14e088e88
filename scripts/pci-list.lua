-- List the PCI devices passed through to a domain, as xl pci-list does.
local cli = require("xlua.cli")

return cli.main({
  name = "pci-list",
  usage = "xlua pci-list DOMAIN",
  help = "The PCI devices of DOMAIN: the guest's slot.function (Vdev) and the host's BDF.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  local devices = require("xlua.runtime.devices")
  return require("xlua.runtime.command").listing(opts, args, devices.pci_lines)
end)
