-- Set a running domain's maximum memory, as xl mem-max does.
local cli = require("xlua.cli")

return cli.main({
  name = "mem-max",
  usage = "xlua mem-max DOMAIN MEMORY",
  help = "Sets the maximum memory of DOMAIN (a name or domid), the most mem-set may give it.\n"
    .. "MEMORY is a number with an optional unit b, k, m, g or t (none: MiB); not below the\n"
    .. "domain's memory target. The domain's stored config follows.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime").mem_max(h, info, args[2])
  end)
end)
