-- Unpause a paused domain, as xl unpause does.
local cli = require("xlua.cli")
local domains = require("xlua.domains")

return cli.main({
  name = "unpause",
  usage = "xlua unpause DOMAIN",
  help = "DOMAIN is a name or a domid.",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
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
  ok, err, code = h:unpause(info.domid)
  if not ok then
    return cli.fail(domains.status(code), "unpause failed: %s", err)
  end
  return cli.OK
end)
