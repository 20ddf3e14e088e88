-- The commands around a domain's life that act on running domains, as xl does them:
-- shutdown and reboot (one domain or -a all, -w wait, -F the ACPI fallback).
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local printable = require("xlua.printable")

local life = {}

-- life.shutdown_or_reboot(what, opts, args) -> exit status. what: "poweroff" | "reboot".
-- As xl: "Shutting down domain N" / "Rebooting domain N" on stderr for each; -w waits until
-- each has shut down or is gone (xl's -ww, wait until gone, is not taken).
function life.shutdown_or_reboot(what, opts, args)
  if not args[1] and not opts.all then
    return cli.fail(cli.BAD_INPUT, "You must specify -a or a domain id.")
  end
  local h, err, code = domains.open(opts.backend, { changes = true })
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local targets = {}
  if opts.all then
    for _, d in ipairs(h:list() or {}) do
      if d.domid ~= 0 and d.state ~= "shutdown" and d.state ~= "dying" then
        targets[#targets + 1] = d
      end
    end
  else
    local info
    info, err, code = domains.find(h, args[1])
    if not info then
      return cli.fail(domains.status(code), "%s", err)
    end
    targets[1] = info
  end
  for _, d in ipairs(targets) do
    io.stderr:write(what == "reboot" and "Rebooting" or "Shutting down", " domain ", d.domid, "\n")
    local ok
    ok, err, code = h:request(d.domid, what, opts.fallback)
    if not ok then
      if code == "NOPARAVIRT" then
        io.stderr:write("PV control interface not available: external graceful ",
          what == "reboot" and "reboot" or "shutdown", " not possible.\n")
      end
      return cli.fail(cli.FAILED, "%s failed: %s", what == "reboot" and "reboot" or "shutdown", err)
    end
  end
  if not opts.wait then
    return cli.OK
  end
  io.stderr:write("Waiting for ", #targets, " domains\n")
  for _, d in ipairs(targets) do
    while true do
      local info
      info, err, code = cli.interruptible(h.wait_shutdown, h, d.domid, 1000)
      if info == nil then
        if code == "NODOMAIN" then
          io.stderr:write("Domain ", d.domid, " has been destroyed\n")
          break
        end
        return cli.fail(cli.status(code), "waiting for %s failed: %s", printable.escape(d.name), err)
      elseif info then
        io.stderr:write("Domain ", d.domid, " has been shut down, reason ", info.reason, "\n")
        break
      end
    end
  end
  return cli.OK
end

-- life.start_monitor(backend, info, foreground [, fresh = true]) -> exit status: the monitor of the domain
-- info ({domid, name}) as a daemon (one line on stderr with its pid and log) or, foreground,
-- until it ends. A site hook that is unsafe or broken is refused (exit 2).
function life.start_monitor(backend, info, foreground, fresh)
  local monitor = require("xlua.monitor")
  local hook, err, code = monitor.load_hook()
  if err then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  local result
  result, err, code = monitor.start(backend, info.domid, { foreground = foreground, hook = hook,
    fresh = fresh ~= false })
  if not result then
    return cli.fail(domains.status(code), "%s", err)
  end
  if not foreground then
    io.stderr:write(string.format("xlua: monitor of %s running as pid %d\n", printable.escape(info.name), result))
  end
  return cli.OK
end

-- life.after_start(opts, info) -> exit status: what create and restore do once the domain
-- runs: its monitor (unless opts.no_monitor, -e; in the foreground with opts.foreground, -F),
-- then its console with opts.console (-c).
function life.after_start(opts, info)
  if not opts.no_monitor then
    local status = life.start_monitor(opts.backend, info, opts.foreground)
    if status ~= cli.OK then
      return status
    end
  end
  return opts.console and life.console(opts.backend, info) or cli.OK
end

-- life.console(backend, info) -> exit status: attach to the domain's primary console (create
-- -c, restore -c).
function life.console(backend, info)
  local h, err, code = domains.open(backend)
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  return cli.check("console failed: ", h:console(info.domid))
end

return life
