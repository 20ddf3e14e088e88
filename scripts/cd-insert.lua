-- Put a medium into a domain's virtual cdrom drive, as xl cd-insert does.
local cli = require("xlua.cli")

return cli.main({
  name = "cd-insert",
  usage = "xlua cd-insert DOMAIN VDEV TARGET",
  help = "Inserts TARGET ([FORMAT:]PATH, a file that exists) into the cdrom VDEV of DOMAIN (a disk\n"
    .. "with devtype=cdrom). The domain's stored config follows.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 3,
  max_args = 3,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").cd_insert(h, info, args[2], args[3])
  end)
end)
