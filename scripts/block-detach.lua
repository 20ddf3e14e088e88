-- Unplug a disk from a running domain, as xl block-detach does.
local cli = require("xlua.cli")

return cli.main({
  name = "block-detach",
  usage = "xlua block-detach [-f|--force] DOMAIN VDEV",
  help = "Removes the disk VDEV (e.g. xvdb) from DOMAIN; -f does not wait for the guest to let go.\n"
    .. "The domain's stored config follows.",
  options = { ["-f"] = "force", ["--force"] = "force", ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime.devices").block_detach(h, info, args[2], opts.force)
  end)
end)
