-- Take a passed-through PCI device from a running domain, as xl pci-detach does.
local cli = require("xlua.cli")

return cli.main({
  name = "pci-detach",
  usage = "xlua pci-detach [-f] DOMAIN PCI-SPEC",
  help = "Removes the PCI device PCI-SPEC (its BDF) from DOMAIN; -f forces it. The domain's stored\n"
    .. "config follows.",
  options = { ["-f"] = "force", ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").pci_detach(h, info, args[2], opts.force)
  end)
end)
