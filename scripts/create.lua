-- Create a domain from an xl.cfg or Lua config, and remember the config it was created with.
local cli = require("xlua.cli")
local printable = require("xlua.printable")
local create = require("xlua.create")
local domains = require("xlua.domains")
local log = require("xlua.log")

return cli.main({
  name = "create",
  usage = "xlua create [-p] [-n] [-e] [-F] [-c] [--strict] [--xl-conf FILE] CONFIG [key=value ...]",
  help = "Creates a domain from CONFIG (xl.cfg, or Lua when it ends in .lua); key=value lines\n"
    .. "override the file, as with xl. Prints the name and domid.\n"
    .. "  -p  leave the domain paused\n  -n  dry run: print the libxl JSON, create nothing\n"
    .. "  -e  start no monitor (nothing then acts on the domain's on_poweroff/on_reboot/on_crash)\n"
    .. "  -F  run the monitor in the foreground until the domain is gone\n"
    .. "  -c  attach to its console once it runs\n"
    .. "  --strict  refuse the config on any warning\n"
    .. "  --xl-conf FILE  xl.conf's defaults (default /etc/xen/xl.conf on libxl, none on the sim)",
  options = {
    ["-p"] = "paused", ["-n"] = "dry_run", ["-e"] = "no_monitor", ["-F"] = "foreground",
    ["-c"] = "console",
    ["--strict"] = "strict", ["--backend"] = { "backend", value = true },
    ["--xl-conf"] = { "xl_conf", value = true },
  },
  min_args = 1,
}, function(opts, args)
  local path = args[1]
  local overrides = table.move(args, 2, #args, 1, {})
  -- The backend first: its xl.conf default and its host's layout go into the conversion. A
  -- dry run goes on without one (the layout is then unknown: NEEDHOST where it matters).
  local h, err, code = domains.open(opts.backend, { changes = not opts.dry_run })
  if not h and (not opts.dry_run or code == "BADBACKEND") then
    return cli.fail(domains.status(code), "%s", err)
  end
  local copts, status = cli.conversion_options(h, opts.xl_conf, opts.strict)
  if not copts then
    return status
  end
  io.stderr:write("Parsing config from ", path, "\n")
  local plan
  plan, err, code = create.prepare(path, overrides, copts)
  if not plan then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  for _, w in ipairs(plan.warnings) do
    log.warn("%s", printable.escape(w))
  end
  if opts.dry_run then
    if h then
      h:close()
    end
    io.stdout:write(plan.json, "\n")
    return cli.OK
  end
  local result
  result, err, code = create.run(h, plan, { paused = opts.paused })
  if not result then
    return cli.fail(domains.status(code), "%s", err)
  end
  io.stdout:write(printable.escape(result.name), " ", result.domid, "\n")
  io.stdout:flush()
  h:close()
  return require("xlua.life").after_start(opts, result)
end)
