-- Restore every image save-all left in a directory, then start the autostart domains (boot).
-- What a host does at boot (xlua-domains.service), as xendomains does.
local cli = require("xlua.cli")
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local hostsave = require("xlua.hostsave")
local json = require("xlua.json")
local printable = require("xlua.printable")
local progress = require("xlua.progress")

local esc = printable.escape

-- --one FILE: one restore, in a child of restore-all; its result as the last line. The
-- domain's monitor is started once the image is gone (unless -e).
local function one(opts)
  local workers = require("xlua.workers")
  local path = opts.one
  local rules, err, code = compat.site_rules(opts.site_dir)
  if not rules then
    workers.emit({ ok = false, path = path, kept = true, code = code, message = err })
    return cli.BAD_INPUT
  end
  local h
  h, err, code = domains.open(opts.backend)
  if not h then
    workers.emit({ ok = false, path = path, kept = true, code = code, message = err })
    return domains.status(code)
  end
  local result, signal
  result, err, code, signal = cli.interruptible(hostsave.restore_one, h, path, { site_rules = rules })
  if not result then
    workers.emit({ ok = false, path = path, kept = true, code = code, message = err })
    return cli.status(code, signal)
  end
  if result.ok and not opts.no_monitor then
    h:close()
    local status = require("xlua.life").start_monitor(opts.backend, result, false)
    if status ~= cli.OK then
      result.message = "restored, but its monitor did not start"
    end
  end
  workers.emit(result)
  return result.ok and cli.OK or cli.FAILED
end

local function print_result(r, dry_run)
  local file = esc(r.path:match("[^/]*$"))
  if dry_run then
    io.stdout:write(string.format("%s: would %s %s%s\n", file, r.would or "refuse", esc(tostring(r.name or "?")),
      r.ok and "" or string.format(" (%s): %s", tostring(r.code), esc(r.message or ""))))
  elseif r.ok then
    io.stdout:write(string.format("%s: restored %s as domain %s%s\n", file, esc(tostring(r.name)), tostring(r.domid),
      r.message and ("; " .. esc(r.message)) or ", image removed"))
  else
    io.stdout:write(string.format("%s: REFUSED (%s): %s; the image is kept\n", file, tostring(r.code),
      esc(r.message or "")))
  end
  if r.report then
    io.stdout:write(esc(r.report, { multiline = true }))
  end
end

local function print_autostart(a)
  local what = esc(tostring(a.name or a.path))
  if a.action == "failed" then
    io.stdout:write(string.format("autostart %s: FAILED (%s): %s\n", what, tostring(a.code), esc(a.message or "")))
  elseif a.action == "running" then
    io.stdout:write(string.format("autostart %s: already running (domain %s)\n", what, tostring(a.domid)))
  elseif a.action == "created" then
    io.stdout:write(string.format("autostart %s: created as domain %s\n", what, tostring(a.domid)))
  else
    io.stdout:write(string.format("autostart %s: %s\n", what, a.action))
  end
end

return cli.main({
  name = "restore-all",
  usage = "xlua restore-all [-j N] [-n|--dry-run] [-e] [--json] [--site-dir DIR] [--auto-dir DIR] [--no-auto] [DIR]",
  help = "Restores every image (*.xlsave) in DIR (default " .. hostsave.DEFAULT_DIR .. "), each verified and\n"
    .. "compat-checked against this host (site rules, its domains, its free memory); an image is\n"
    .. "removed once its domain runs, and one refused or damaged is kept and reported. An image\n"
    .. "whose domain's name or uuid already runs is refused. Then the configs of the autostart\n"
    .. "directory whose domains do not run are created (as xendomains does with /etc/xen/auto).\n"
    .. "  -j N            restore N images at once (N child processes; default 1)\n"
    .. "  -n, --dry-run   verify and check everything, say what would happen, change nothing\n"
    .. "  -e              start no monitors for the domains restored or created\n"
    .. "  --json          print the report as JSON instead of lines\n"
    .. "  --site-dir DIR  site rules (default $XLUA_SITE_DIR, else /etc/xlua/site.d)\n"
    .. "  --auto-dir DIR  autostart configs (default $XLUA_AUTO_DIR, else " .. hostsave.AUTO_DIR .. ")\n"
    .. "  --no-auto       no autostart\n"
    .. "  --one FILE      restore one image and print its result as JSON (what -j runs)\n"
    .. "Exit 0 when every image was restored and every autostart domain runs, 1 otherwise,\n"
    .. "2 on bad usage.",
  options = {
    ["-n"] = "dry_run", ["--dry-run"] = "dry_run", ["-e"] = "no_monitor", ["--json"] = "json",
    ["--no-auto"] = "no_auto",
    ["-j"] = { "jobs", value = true }, ["--jobs"] = { "jobs", value = true },
    ["--site-dir"] = { "site_dir", value = true },
    ["--auto-dir"] = { "auto_dir", value = true },
    ["--one"] = { "one", value = true },
    ["--backend"] = { "backend", value = true },
  },
  max_args = 1,
}, function(opts, args)
  if opts.one then
    return one(opts)
  end
  local jobs = math.tointeger(tonumber(opts.jobs or "1"))
  if not jobs or jobs < 1 then
    return cli.fail(cli.BAD_INPUT, "-j needs a whole number above 0, not '%s'", tostring(opts.jobs))
  end
  -- the site rules are checked here once (an unsafe directory stops everything, exit 2); the
  -- children load them again
  local rules, err, code = compat.site_rules(opts.site_dir)
  if not rules then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  local dir = args[1] or hostsave.DEFAULT_DIR
  local h
  h, err, code = domains.open(opts.backend, { changes = not opts.dry_run })
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local tty = progress.isatty(2) and not opts.json
  local report
  report, err, code = hostsave.restore_all(h, dir, {
    jobs = jobs,
    dry_run = opts.dry_run,
    site_rules = rules,
    site_dir = opts.site_dir,
    no_monitor = opts.no_monitor,
    auto = not opts.no_auto,
    auto_dir = opts.auto_dir,
    on_start = tty and function(path) io.stderr:write("Restoring ", esc(path), " ...\n") end or nil,
  })
  if not report then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  -- the domains autostart created get their monitors as create gives them; the daemons must
  -- not inherit this process's backend (a libxl context is not shared across a fork)
  h:close()
  local auto_failed = report.autostart_error ~= nil
  for _, a in ipairs(report.autostart or {}) do
    if a.action == "failed" then
      auto_failed = true
    elseif a.action == "created" and not opts.no_monitor then
      if require("xlua.life").start_monitor(opts.backend, a, false) ~= cli.OK then
        a.message = "created, but its monitor did not start"
      end
    end
  end
  if opts.json then
    report.results = table.move(report.results, 1, #report.results, 1, json.array())
    if report.autostart then
      report.autostart = table.move(report.autostart, 1, #report.autostart, 1, json.array())
    end
    io.stdout:write(json.encode(report, { indent = "  " }), "\n")
  else
    for _, r in ipairs(report.results) do
      print_result(r, opts.dry_run)
    end
    for _, a in ipairs(report.autostart or {}) do
      print_autostart(a)
    end
    local auto = report.autostart or {}
    local created, running = 0, 0
    for _, a in ipairs(auto) do
      created = created + ((a.action == "created" or a.action == "would create") and 1 or 0)
      running = running + (a.action == "running" and 1 or 0)
    end
    io.stdout:write(string.format("restore-all: %d %s, %d refused, of %d image%s in %s; autostart: %d %s, %d running"
      .. " (%.1f s, -j %d)\n", report.restored, opts.dry_run and "would be restored" or "restored", report.refused,
      #report.results, #report.results == 1 and "" or "s", esc(dir), created,
      opts.dry_run and "would be created" or "created", running, report.seconds, jobs))
  end
  if report.autostart_error then
    cli.fail(cli.FAILED, "autostart: %s", report.autostart_error.message)
  end
  return (report.refused == 0 and not auto_failed) and cli.OK or cli.FAILED
end)
