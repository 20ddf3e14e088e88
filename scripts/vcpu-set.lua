-- Set how many vcpus of a running domain are online, as xl vcpu-set does.
local cli = require("xlua.cli")

return cli.main({
  name = "vcpu-set",
  usage = "xlua vcpu-set [-i|--ignore-host] DOMAIN VCPUS",
  help = "Brings vcpus 0..VCPUS-1 of DOMAIN online and the others offline; VCPUS is 1 to the\n"
    .. "domain's maxvcpus. More vcpus than the host has cpus only with -i (--ignore-host).\n"
    .. "The domain's stored config follows (avail_vcpus).",
  options = { ["-i"] = "ignore_host", ["--ignore-host"] = "ignore_host",
    ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return require("xlua.runtime.command").on_domain(opts, args[1], function(h, info)
    return require("xlua.runtime").vcpu_set(h, info, args[2], opts.ignore_host)
  end)
end)
