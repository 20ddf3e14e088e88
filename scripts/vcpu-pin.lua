-- Pin a running domain's vcpus to host cpus, as xl vcpu-pin does.
local cli = require("xlua.cli")

return cli.main({
  name = "vcpu-pin",
  usage = "xlua vcpu-pin DOMAIN VCPU|all HARD|- [SOFT|-]",
  help = "Sets the hard (and soft) affinity of one vcpu of DOMAIN, or of all. HARD and SOFT are\n"
    .. "cpu lists as xl reads them (\"0-3,^2\", \"all\", \"node:1\"); \"-\" leaves one as it is.\n"
    .. "A cpu the host lacks is refused. vcpu-list shows the result.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 3,
  max_args = 4,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime").vcpu_pin(h, info, args[2], args[3], args[4])
  end)
end)
