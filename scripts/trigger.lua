-- Send an event to an HVM guest, as xl trigger does.
local cli = require("xlua.cli")

local EVENTS = { power = true, sleep = true, nmi = true, init = true, reset = true, s3resume = true }

return cli.main({
  name = "trigger",
  usage = "xlua trigger DOMAIN nmi|reset|init|power|sleep|s3resume [VCPU]",
  help = "Sends the event to DOMAIN (a name or domid, an HVM guest): power and sleep are the ACPI\n"
    .. "buttons, reset resets it, nmi and init go to VCPU (default 0).",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 3,
}, function(opts, args)
  if not EVENTS[args[2]] then
    return cli.fail(cli.BAD_INPUT, "Invalid trigger \"%s\"", args[2])
  end
  local vcpu = math.tointeger(tonumber(args[3] or "0"))
  if not vcpu or vcpu < 0 then
    return cli.fail(cli.BAD_INPUT, "'%s' is not a vcpu", args[3])
  end
  return cli.domain_command(opts, args[1], function(h, info)
    return cli.check("trigger failed: ", h:trigger(info.domid, args[2], vcpu))
  end, { changes = true })
end)
