-- Destroy a domain at once (no shutdown), as xl destroy does.
local cli = require("xlua.cli")

return cli.main({
  name = "destroy",
  usage = "xlua destroy DOMAIN",
  help = "DOMAIN is a name or a domid.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  return cli.domain_command(opts, args[1], function(h, info)
    if info.domid == 0 then
      return cli.fail(cli.FAILED, "Not destroying domain 0")
    end
    return cli.check("destroy failed: ", h:destroy(info.domid))
  end, { changes = true })
end)
