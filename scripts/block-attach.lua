-- Hotplug a disk into a running domain, as xl block-attach does.
local cli = require("xlua.cli")

return cli.main({
  name = "block-attach",
  usage = "xlua block-attach DOMAIN DISK-SPEC...",
  help = "Adds a disk to DOMAIN; DISK-SPEC is xl.cfg's disk= syntax (\"/images/d.img,raw,xvdb,rw\"\n"
    .. "or key=value items). A vdev the domain has already is refused. The domain's stored\n"
    .. "config follows: save, restore and xlua config --json see the disk.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = math.huge,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").block_attach(h, info, table.move(args, 2, #args, 1, {}))
  end)
end)
