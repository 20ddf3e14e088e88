-- Attach to a domain's console, as xl console does.
-- On libxl xenconsole takes over; on the sim it prints what the guest has written so far.
local cli = require("xlua.cli")

return cli.main({
  name = "console",
  usage = "xlua console [-t pv|serial] [-n N] DOMAIN",
  help = "Attaches to the console of DOMAIN (a name or domid); Ctrl-] leaves it (xenconsole).\n"
    .. "  -t pv|serial  which console (default: the guest's primary one)\n"
    .. "  -n N          which console of that type (default 0)",
  options = {
    ["-t"] = { "type", value = true }, ["-n"] = { "num", value = true },
    ["--backend"] = { "backend", value = true },
  },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  if opts.type and opts.type ~= "pv" and opts.type ~= "serial" then
    return cli.fail(cli.BAD_INPUT, "console type must be pv or serial, not '%s'", opts.type)
  end
  local num = opts.num and math.tointeger(tonumber(opts.num))
  if opts.num and (not num or num < 0 or num >= 1024) then
    return cli.fail(cli.BAD_INPUT, "'%s' is not a console number", opts.num)
  end
  return cli.domain_command(opts, args[1], function(h, info)
    return cli.check("console failed: ", h:console(info.domid, opts.type or "primary", num or 0))
  end)
end)
