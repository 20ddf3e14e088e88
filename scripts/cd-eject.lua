-- Eject the medium of a domain's virtual cdrom drive, as xl cd-eject does.
local cli = require("xlua.cli")

return cli.main({
  name = "cd-eject",
  usage = "xlua cd-eject DOMAIN VDEV",
  help = "Empties the cdrom VDEV of DOMAIN. The domain's stored config follows.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").cd_insert(h, info, args[2], nil)
  end)
end)
