-- Pass a host PCI device through to a running domain, as xl pci-attach does.
local cli = require("xlua.cli")

return cli.main({
  name = "pci-attach",
  usage = "xlua pci-attach DOMAIN PCI-SPEC",
  help = "Adds the PCI device PCI-SPEC (xl.cfg's pci= syntax: BDF[@VSLOT][,OPTION...]) to DOMAIN.\n"
    .. "A malformed spec exits 2, as xl does. The domain's stored config follows.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").pci_attach(h, info, args[2])
  end)
end)
