-- Restore a domain from a savefile, with its stored config or a checked replacement.
local cli = require("xlua.cli")
local printable = require("xlua.printable")
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local log = require("xlua.log")
local progress = require("xlua.progress")
local restore = require("xlua.restore")

return cli.main({
  name = "restore",
  usage = "xlua restore [-p] [-n] [-e] [-F] [-c] [--force] [--strict] [--xl-conf FILE] [--site-dir DIR] [CONFIG] FILE|-",
  help = "Restores the domain saved in FILE (\"-\": standard input) with the config stored in it,\n"
    .. "or with CONFIG after checking it is compatible with the stored one. Prints name and domid.\n"
    .. "  -p       leave the domain paused\n  -n       check and report, restore nothing\n"
    .. "  -e       start no monitor for the domain\n  -F       run its monitor in the foreground\n"
    .. "  -c       attach to its console once it runs\n"
    .. "  --force  restore even when CONFIG is not compatible\n"
    .. "  --strict refuse a CONFIG xl would warn about\n"
    .. "  --xl-conf FILE  xl.conf's defaults for CONFIG (default /etc/xen/xl.conf on libxl,\n"
    .. "                  none on the sim)\n"
    .. "  --site-dir DIR  site rules for the compatibility check (default $XLUA_SITE_DIR,\n"
    .. "                  else /etc/xlua/site.d)",
  options = {
    ["-p"] = "paused", ["-n"] = "dry_run", ["--force"] = "force", ["-e"] = "no_monitor",
    ["-F"] = "foreground", ["-c"] = "console", ["--strict"] = "strict",
    ["--backend"] = { "backend", value = true },
    ["--site-dir"] = { "site_dir", value = true },
    ["--xl-conf"] = { "xl_conf", value = true },
  },
  min_args = 1,
  max_args = 2,
}, function(opts, args)
  local config, path = nil, args[1]
  if #args == 2 then
    config, path = args[1], args[2]
  end
  local refused = cli.refuse_terminal(path)
  if refused then
    return refused
  end
  local rules, err, code = compat.site_rules(opts.site_dir)
  if not rules then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  -- The backend is opened first: the check warns about a name another domain already has.
  local h
  h, err, code = domains.open(opts.backend, { changes = true })
  if not h and (not opts.dry_run or code == "BADBACKEND") then
    return cli.fail(domains.status(code), "%s", err)
  end
  -- xl.conf's defaults and the host's layout are for converting a CONFIG; the host's domains
  -- and facts for site rules and a CONFIG: without them the saved config is checked against
  -- itself and looks at neither (they cost a round of hypercalls and xenstore reads).
  local copts, status
  if config or opts.xl_conf then
    copts, status = cli.conversion_options(h, opts.xl_conf)
    if not copts then
      return status
    end
  end
  local context = {}
  if config or #rules.rules > 0 or #rules.failures > 0 then
    context = domains.context(h)
  end
  local plan
  plan, err, code = restore.prepare(path, {
    convert = copts,
    config = config,
    site_rules = rules,
    context = context,
    force = opts.force,
    strict = opts.strict,
  })
  if not plan then
    -- the file, the config or the site rules: every failure here is a bad input
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  local hdr = plan.header
  io.stderr:write(string.format("Loading new save file %s (new xl fmt info 0x%x/0x%x/%d)\n",
    path == "-" and "<stdin>" or path, hdr.mandatory_flags, hdr.optional_flags, hdr.optional_data_len))
  if plan.saved.json then
    io.stderr:write(" Savefile contains xl domain config in JSON format\n")
  end
  io.stderr:write("Parsing config from ", printable.escape(plan.wanted.from), "\n")
  for _, w in ipairs(plan.wanted.warnings or {}) do
    log.warn("%s", printable.escape(w))
  end
  if config or #plan.report.differences > 0 then
    local out = opts.dry_run and io.stdout or io.stderr
    out:write(compat.text(plan.report))
  end

  if opts.dry_run then
    local ok
    ok, err, code = restore.verify(plan)
    if not ok then
      return cli.fail(domains.status(code), "%s", err)
    end
    -- as the restore would: refuse a uuid that runs already, or a taken name
    local conflict = h and restore.conflict(h, plan)
    local verdict = plan.report.compatible and "compatible" or "INCOMPATIBLE"
    io.stdout:write(string.format("%s: would restore %s (%s, %d KiB, %d vcpus), config %s\n", path,
      printable.escape(tostring(plan.facts.name)), plan.facts.type, plan.facts.memory_kb or 0, plan.facts.vcpus, verdict))
    if conflict then
      return cli.fail(cli.FAILED, "%s", conflict)
    end
    if not plan.report.compatible and not opts.force then
      return cli.fail(cli.FAILED, "not compatible: %d incompatible difference%s (use --force to restore anyway)",
        plan.report.counts.incompatible, plan.report.counts.incompatible == 1 and "" or "s")
    end
    return cli.OK
  end

  local reporter = progress.new({ label = "Restoring " .. tostring(plan.facts.name) })
  local result, signal
  result, err, code, signal = cli.interruptible(restore.run, h, plan, {
    paused = opts.paused,
    force = opts.force,
    progress = reporter.update,
  })
  reporter.finish()
  if not result then
    if code == "INCOMPATIBLE" then
      err = err .. " (use --force to restore anyway)"
    end
    return cli.fail(cli.status(code, signal), "%s", err)
  end
  io.stdout:write(printable.escape(result.name), " ", result.domid, "\n")
  io.stdout:flush()
  h:close()
  return require("xlua.life").after_start(opts, result)
end)
