-- Receive a domain sent by xl migrate or xlua migrate, run by the sender (xlua.migrate_receive).
-- The stream comes on standard input, the answers go to standard output: never run by hand.
local cli = require("xlua.cli")
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local progress = require("xlua.progress")
local receive = require("xlua.migrate_receive")

return cli.main({
  name = "migrate-receive",
  usage = "xlua migrate-receive [-e] [-F] [-d] [-p] [--site-dir DIR]",
  help = "The receiving end of xl migrate / xlua migrate (their SSHCMD runs it): the stream on\n"
    .. "standard input, the answers on standard output, messages on standard error.\n"
    .. "  -e  start no monitor for the domain      -F  run its monitor in the foreground\n"
    .. "  -d  debug (accepted, as xl)              -p  leave the domain paused\n"
    .. "  --site-dir DIR  site rules for the compatibility check (default $XLUA_SITE_DIR, else\n"
    .. "                  /etc/xlua/site.d)\n"
    .. "Exit 0 when the domain runs here, 1 when it was refused or failed (nothing is left here).",
  options = {
    ["-e"] = "no_monitor", ["-F"] = "foreground", ["-d"] = "debug", ["-p"] = "paused",
    ["--site-dir"] = { "site_dir", value = true },
    ["--backend"] = { "backend", value = true },
  },
  min_args = 0,
  max_args = 0,
}, function(opts)
  local rules, err, code = compat.site_rules(opts.site_dir)
  if not rules then
    return cli.fail(cli.FAILED, "%s", err)
  end
  local h
  h, err, code = domains.open(opts.backend, { changes = true })
  if not h then
    return cli.fail(cli.FAILED, "%s", err)
  end
  local reporter = progress.new({ label = "Receiving" })
  local result, report
  result, err, code, report = cli.interruptible(receive.receive, h, {
    paused = opts.paused,
    site_rules = rules,
    context = domains.context(h),
    progress = reporter.update,
    say = function(line)
      reporter.finish()
      io.stderr:write(line .. "\n")
      io.stderr:flush()
    end,
  })
  reporter.finish()
  if not result then
    -- the fourth result: the compatibility report of a refusal, or the signal that INTERRUPTED
    if code == "INTERRUPTED" then
      return cli.fail(cli.status(code, report), "migration target: %s", err)
    end
    if type(report) == "string" then
      io.stderr:write(report)
    end
    return cli.fail(cli.FAILED, "migration target: %s", err)
  end
  h:close()
  return require("xlua.life").after_start(opts, result)
end)
