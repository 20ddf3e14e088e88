-- Move a running domain to another host with xl's migration protocol (xlua.migrate).
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local migrate = require("xlua.migrate")
local migration = require("xlua.migration")
local progress = require("xlua.progress")

local UNDEFINED = 3

return cli.main({
  name = "migrate",
  usage = "xlua migrate [-s SSHCMD] [-e] [-F] [-C CONFIG] [-p] [-D] [-z] [--debug] [--answer-wait SECONDS] DOMAIN HOST",
  help = "Moves DOMAIN, live, to HOST, where `SSHCMD HOST xlua migrate-receive` receives it\n"
    .. "(xl's protocol: the receiver may be xl migrate-receive too).\n"
    .. "  -s SSHCMD  the command that reaches HOST (default ssh); -s '' runs HOST itself as the\n"
    .. "             receiving command (e.g. \"xl migrate-receive\")\n"
    .. "  -e, -F     the receiver starts no monitor (as xl, -F passes -e on too)\n"
    .. "  -C CONFIG  send CONFIG instead of the domain's stored config (an xlua receiver checks it\n"
    .. "             against the running one)\n"
    .. "  -p         leave the domain paused at the receiver\n"
    .. "  -D         keep the domain's domid at the receiver\n"
    .. "  -z         compress the stream with zstd (xlua receivers only)\n"
    .. "  --debug    suspend with libxl's debugging here, and the receiver runs with -d\n"
    .. "  --answer-wait SECONDS  how long to wait for an xlua receiver's verdict before sending\n"
    .. "             the memory anyway (default 2; an xl receiver never answers)\n"
    .. "Exit 0 when the domain runs at HOST and is gone here; 1 when the migration failed and the\n"
    .. "domain runs here (resumed); 2 for bad input; 3 when the final handshake broke after the\n"
    .. "receiver was allowed to start the domain (check both hosts; it is left paused here as\n"
    .. "DOMAIN--migratedaway); 128+N when signal N stopped it (the message says where the domain\n"
    .. "runs: before the receiver was allowed to start it, here).",
  options = {
    ["-s"] = { "ssh", value = true }, ["-e"] = "no_monitor", ["-F"] = "foreground",
    ["-C"] = { "config", value = true }, ["-p"] = "paused", ["-D"] = "preserve_domid",
    ["-z"] = "zstd", ["--debug"] = "debug", ["--live"] = "live",
    ["--answer-wait"] = { "answer_wait", value = true },
    ["--backend"] = { "backend", value = true },
  },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  local domain, host = args[1], args[2]
  local wait = opts.answer_wait and tonumber(opts.answer_wait)
  if opts.answer_wait and not (wait and wait >= 0 and wait <= 3600) then
    return cli.fail(cli.BAD_INPUT, "--answer-wait needs a number of seconds")
  end
  local h, err, code = domains.open(opts.backend, { changes = true })
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local flags = ((opts.no_monitor or opts.foreground) and " -e" or "") .. (opts.debug and " -d" or "") .. (opts.paused and " -p" or "")
  local rune = migration.rune(opts.ssh or "ssh", host, flags)
  local reporter = progress.new({ label = "Migrating " .. domain })
  local result, extra, signal
  local outcome = {}   -- where the domain is, whether this returns or a signal stops it
  result, err, code, extra = cli.interruptible(migrate.migrate, h, domain, {
    outcome = outcome,
    rune = rune,
    config = opts.config,
    preserve_domid = opts.preserve_domid,
    zstd = opts.zstd,
    debug = opts.debug,
    answer_wait = wait,
    progress = reporter.update,
    say = function(line)
      reporter.finish()
      io.stderr:write(line .. "\n")
      io.stderr:flush()
    end,
  })
  reporter.finish()
  if result then
    io.stderr:write("Migration successful.\n")
    return cli.OK
  end
  if code == "INTERRUPTED" then
    signal, extra = extra, nil
  end
  extra = type(extra) == "table" and extra or {}
  if extra.report and extra.report ~= "" then
    io.stderr:write(extra.report)
  end
  local interrupted = code == "INTERRUPTED"
  if outcome.where == "undefined" then
    io.stderr:write("** Migration failed during final handshake **\n"
      .. "Domain state is now undefined !\n"
      .. "Please CHECK AT BOTH ENDS for running instances, before renaming and\n"
      .. " resuming at most one instance.\n")
    return cli.fail(interrupted and cli.status(code, signal) or UNDEFINED, "migration of %s: %s", domain, err)
  end
  if outcome.where == "there" then
    -- the domain moved: what failed or stopped after that is in the message
    return cli.fail(interrupted and cli.status(code, signal) or cli.FAILED, "migration of %s: %s", domain, err)
  end
  local where = outcome.resumed and "; the domain runs here" or ""
  return cli.fail(cli.status(code, signal), "migration of %s failed: %s%s", domain, err, where)
end)
