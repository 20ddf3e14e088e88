-- Send a sysrq key to a guest, as xl sysrq does ("c" crashes a Linux guest).
local cli = require("xlua.cli")

return cli.main({
  name = "sysrq",
  usage = "xlua sysrq DOMAIN KEY",
  help = "Sends the magic sysrq KEY (one character) to DOMAIN (a name or domid).",
  options = { ["--backend"] = { "backend", value = true } },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  if #args[2] ~= 1 then
    return cli.fail(cli.BAD_INPUT, "a sysrq key is one character, not '%s'", args[2])
  end
  return cli.domain_command(opts, args[1], function(h, info)
    return cli.check("sysrq failed: ", h:sysrq(info.domid, args[2]))
  end, { changes = true })
end)
