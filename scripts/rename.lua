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
  local h, err, code = domains.open(opts.backend)
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local info
  info, err, code = domains.find(h, args[1])
  if not info then
    return cli.fail(domains.status(code), "%s", err)
  end
  local ok
  ok, err, code = h:rename(info.domid, args[2])
  if not ok then
    return cli.fail(domains.status(code), "Can't rename domain '%s': %s", args[1], err)
  end
  return cli.OK
end)
