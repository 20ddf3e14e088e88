-- Save every running domain (or those named) into one directory, N at a time (shutdown).
-- What a host does at shutdown (xlua-domains.service), as xendomains does with `xl save`.
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local hostsave = require("xlua.hostsave")
local json = require("xlua.json")
local printable = require("xlua.printable")
local progress = require("xlua.progress")

local function size(bytes)
  return string.format("%.1f MiB", (bytes or 0) / 1048576)
end

-- A positive number from an option, or nil.
local function positive(text, integer)
  local n = tonumber(text or "")
  if not n or n <= 0 or n ~= n or n == math.huge or (integer and math.tointeger(n) == nil) then
    return nil
  end
  return integer and math.tointeger(n) or n
end

-- --one DOMAIN PATH: one save, in a child of save-all; its result as the last line.
local function one(opts, args)
  local workers = require("xlua.workers")
  if #args ~= 1 then
    return cli.fail(cli.BAD_INPUT, "--one DOMAIN takes one PATH")
  end
  local h, err, code = domains.open(opts.backend)
  if not h then
    workers.emit({ ok = false, code = code, message = err })
    return domains.status(code)
  end
  local result, signal
  result, err, code, signal = cli.interruptible(hostsave.save_one, h, opts.one, args[1], { zstd = opts.zstd })
  if not result then -- a signal (timeout's SIGTERM): the save put the domain back
    workers.emit({ ok = false, code = code, message = err })
    return cli.status(code, signal)
  end
  workers.emit(result)
  return result.ok and cli.OK or cli.FAILED
end

return cli.main({
  name = "save-all",
  usage = "xlua save-all [-z] [-j N] [--timeout S] [--destroy-on-timeout] [--json] [DIR] [DOMAIN...]",
  help = "Saves every running or paused domain (or the DOMAINs named) into DIR (default "
    .. hostsave.DEFAULT_DIR .. ",\n"
    .. "created mode 0700), each atomically as NAME.xlsave, then destroys it, as xl save does.\n"
    .. "One line per domain and a summary; a failure on one domain does not stop the others,\n"
    .. "and a domain that was not saved is left as it was.\n"
    .. "  -z                    compress the memory streams (xl cannot read such files)\n"
    .. "  -j N                  save N domains at once (N child processes; default 1)\n"
    .. "  --timeout S           a domain not saved within S seconds is shut down instead\n"
    .. "  --destroy-on-timeout  ... destroyed instead (as xendomains does)\n"
    .. "  --json                print the report as JSON instead of lines\n"
    .. "  --one DOMAIN PATH     save one domain and print its result as JSON (what -j runs)\n"
    .. "Exit 0 when every domain was saved, 1 when any was not, 2 on bad usage.",
  options = {
    ["-z"] = "zstd", ["--json"] = "json", ["--destroy-on-timeout"] = "destroy_on_timeout",
    ["-j"] = { "jobs", value = true }, ["--jobs"] = { "jobs", value = true },
    ["--timeout"] = { "timeout", value = true },
    ["--one"] = { "one", value = true },
    ["--backend"] = { "backend", value = true },
  },
}, function(opts, args)
  if opts.one then
    return one(opts, args)
  end
  local jobs = opts.jobs and positive(opts.jobs, true)
  if opts.jobs and not jobs then
    return cli.fail(cli.BAD_INPUT, "-j needs a whole number above 0, not '%s'", opts.jobs)
  end
  local timeout = opts.timeout and positive(opts.timeout)
  if opts.timeout and not timeout then
    return cli.fail(cli.BAD_INPUT, "--timeout needs a number of seconds above 0, not '%s'", opts.timeout)
  end
  local dir = args[1] or hostsave.DEFAULT_DIR
  local names = table.move(args, 2, #args, 1, {})
  local h, err, code = domains.open(opts.backend, { changes = true })
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local tty = progress.isatty(2)
  local report
  report, err, code = hostsave.save_all(h, dir, {
    domains = names,
    zstd = opts.zstd,
    jobs = jobs or 1,
    timeout = timeout,
    destroy_on_timeout = opts.destroy_on_timeout,
    on_start = tty and not opts.json and function(t)
      io.stderr:write("Saving ", printable.escape(t.info.name), " to ", printable.escape(t.path), " ...\n")
    end or nil,
  })
  if not report then
    return cli.fail(code == "NODOMAIN" and cli.FAILED or cli.BAD_INPUT, "%s", err)
  end
  if opts.json then
    local out = json.array()
    for i, r in ipairs(report.results) do
      out[i] = r
    end
    report.results = out
    io.stdout:write(json.encode(report, { indent = "  " }), "\n")
  else
    for _, r in ipairs(report.results) do
      local name = printable.escape(r.name)
      if r.ok then
        io.stdout:write(string.format("%s: saved to %s (%s, %.1f s)\n", name, printable.escape(r.path),
          size(r.bytes), r.seconds or 0))
      elseif r.timed_out then
        io.stdout:write(string.format("%s: FAILED: %s; %s\n", name, printable.escape(r.message), r.after or ""))
      else
        io.stdout:write(string.format("%s: FAILED (%s): %s\n", name, tostring(r.code), printable.escape(r.message)))
      end
    end
    io.stdout:write(string.format("save-all: %d saved, %d failed%s, of %d domain%s in %s (%.1f s, -j %d)\n",
      report.saved, report.failed, report.timed_out > 0 and (" (" .. report.timed_out .. " timed out)") or "",
      #report.results, #report.results == 1 and "" or "s", printable.escape(dir), report.seconds, jobs or 1))
  end
  return report.failed == 0 and cli.OK or cli.FAILED
end)
