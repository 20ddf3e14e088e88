-- Save a domain, its config and its config as written into one savefile (atomically).
local cli = require("xlua.cli")
-- the compatibility check only runs for a replacement CONFIG: loaded then, not on every save
local function compat() return require("xlua.compat") end
local domains = require("xlua.domains")
local progress = require("xlua.progress")
local save = require("xlua.save")

return cli.main({
  name = "save",
  usage = "xlua save [-c] [-p] [-z] [--force] [--site-dir DIR] DOMAIN FILE|- [CONFIG]",
  help = "Saves DOMAIN into FILE (\"-\": standard output); CONFIG replaces the stored config.\n"
    .. "The domain is destroyed after a successful save to FILE unless:\n"
    .. "  -c  leave it running (checkpoint)\n  -p  leave it paused\n"
    .. "  -z  compress the memory stream with zstd (xl cannot read such a file)\n"
    .. "A save to \"-\" never destroys the domain: it is left paused (running with -c), since\n"
    .. "nothing tells it the other end has the domain (xlua migrate moves a domain).\n"
    .. "CONFIG is checked against the running domain's config first (as restore would):\n"
    .. "  --force         write an incompatible CONFIG anyway (the report says what it overrode)\n"
    .. "  --site-dir DIR  site rules for that check (default $XLUA_SITE_DIR, else /etc/xlua/site.d)\n"
    .. "Exit 2 for a bad CONFIG or a FILE that cannot be written (a directory, no such directory,\n"
    .. "a closed standard output), found before the domain is paused; 1 when the save fails, the\n"
    .. "domain is busy (another save or restore holds it) or CONFIG is incompatible; 128+N when\n"
    .. "signal N (SIGINT, SIGTERM, SIGHUP) stopped it: the domain is then put back as it was.",
  options = {
    ["-c"] = "checkpoint", ["-p"] = "pause", ["-z"] = "zstd", ["--force"] = "force",
    ["--backend"] = { "backend", value = true },
    ["--site-dir"] = { "site_dir", value = true },
  },
  min_args = 2,
  max_args = 3,
}, function(opts, args)
  local domain, path, config = args[1], args[2], args[3]
  if path == "-" and progress.isatty(1) then
    return cli.fail(cli.BAD_INPUT, "refusing to write a savefile to a terminal")
  end
  local rules, err, code
  if config then
    rules, err, code = compat().site_rules(opts.site_dir)
    if not rules then
      return cli.fail(cli.BAD_INPUT, "%s", err)
    end
  end
  local h
  h, err, code = domains.open(opts.backend, { changes = true })
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local shown = path == "-" and "<stdout>" or path
  local reporter = progress.new({ label = "Saving " .. domain })
  -- the fourth result: the report of an INCOMPATIBLE config, or the signal that INTERRUPTED
  local result, extra
  result, err, code, extra = cli.interruptible(save.save, h, domain, path, {
    checkpoint = opts.checkpoint,
    pause = opts.pause,
    zstd = opts.zstd,
    config = config,
    force = opts.force,
    site_rules = rules,
    context = config and domains.context(h) or nil,
    progress = reporter.update,
    on_header = function(hdr)
      io.stderr:write(string.format("Saving to %s new xl format (info 0x%x/0x%x/%d)\n",
        shown, hdr.mandatory_flags, hdr.optional_flags, hdr.optional_data_len))
      io.stderr:flush()
    end,
  })
  reporter.finish()
  if not result then
    if code == "INCOMPATIBLE" then
      io.stderr:write(compat().text(extra))
      err = err .. " (use --force to save it anyway)"
    end
    -- a bad CONFIG or a target that is a directory is a bad input (exit 2), the rest the
    -- save's failure (exit 1); a signal 128+N
    return cli.fail(cli.status(code, extra), "Failed to save domain %s: %s", domain, err)
  end
  if result.report and #result.report.differences > 0 then
    io.stderr:write(compat().text(result.report))
  end
  if result.kept_for_stream then
    cli.fail(cli.OK, "domain %s left paused: a save to a stream never destroys it (destroy it once "
      .. "the savefile is safe, or use xlua migrate to move it)", result.name)
  end
  return cli.OK
end)
