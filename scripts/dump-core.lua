-- Write a domain's memory to a file, as xl dump-core does (atomically, mode 0600).
local cli = require("xlua.cli")

return cli.main({
  name = "dump-core",
  usage = "xlua dump-core DOMAIN FILE",
  help = "Writes the core of DOMAIN (a name or domid) to FILE: an ELF core on libxl, the memory\n"
    .. "image on the sim. FILE only ever holds the old file or the whole new one; mode 0600.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return cli.domain_command(opts, args[1], function(h, info)
    return cli.check("dump-core failed: ", h:core_dump(info.domid, args[2]))
  end)
end)
