-- Set a running domain's memory target (its balloon), as xl mem-set does.
local cli = require("xlua.cli")

return cli.main({
  name = "mem-set",
  usage = "xlua mem-set DOMAIN MEMORY",
  help = "Sets the memory target of DOMAIN (a name or domid). MEMORY is a number with an optional\n"
    .. "unit b, k, m, g or t (none: MiB, as xl reads it); it may not pass the domain's maximum\n"
    .. "(mem-max). The domain's stored config follows (xlua config shows the change).",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime").mem_set(h, info, args[2])
  end)
end)
