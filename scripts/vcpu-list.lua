-- List the vcpus of domains, as xl vcpu-list does.
local cli = require("xlua.cli")

return cli.main({
  name = "vcpu-list",
  usage = "xlua vcpu-list [DOMAIN...]",
  help = "One line per vcpu of each DOMAIN (every domain when none is named): its host cpu,\n"
    .. "state (r running, b blocked, p offline), time and affinity (hard / soft).",
  options = { ["--backend"] = { "backend", value = true } },
}, function(opts, args)
  local runtime = require("xlua.runtime")
  return require("xlua.runtime.command").listing(opts, args, runtime.vcpu_lines,
    runtime.VCPU_HEADER)
end)
