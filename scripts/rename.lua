-- Rename a domain, as xl rename does.
local cli = require("xlua.cli")
local domains = require("xlua.domains")

return cli.main({
  name = "rename",
  usage = "xlua rename DOMAIN NEW_NAME",
  help = "DOMAIN is a name or a domid; NEW_NAME must not be taken.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  return cli.domain_command(opts, args[1], function(h, info)
    return cli.check("Can't rename domain '" .. args[1] .. "': ", domains.rename(h, info.domid, args[2]))
  end, { changes = true })
end)
