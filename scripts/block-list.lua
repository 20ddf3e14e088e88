-- List the disks of domains, as xl block-list does.
local cli = require("xlua.cli")

return cli.main({
  name = "block-list",
  usage = "xlua block-list DOMAIN...",
  help = "One line per disk of each DOMAIN: its devid (Vdev), backend domain, frontend domain\n"
    .. "(handle), xenbus state, event channel, ring reference and backend path.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
}, function(opts, args)
  local devices = require("xlua.runtime.devices")
  return require("xlua.runtime.command").listing(opts, args, devices.block_lines,
    devices.BLOCK_HEADER)
end)
