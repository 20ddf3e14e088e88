-- Save a domain, its config and its config as written into one savefile (atomically).
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local progress = require("xlua.progress")
local save = require("xlua.save")

return cli.main({
  name = "save",
  usage = "xlua save [-c] [-p] [-z] DOMAIN FILE|- [CONFIG]",
  help = "Saves DOMAIN into FILE (\"-\": standard output); CONFIG replaces the stored config.\n"
    .. "The domain is destroyed after a successful save unless:\n"
    .. "  -c  leave it running (checkpoint)\n  -p  leave it paused\n"
    .. "  -z  compress the memory stream with zstd (xl cannot read such a file)",
  options = {
    ["-c"] = "checkpoint", ["-p"] = "pause", ["-z"] = "zstd",
    ["--backend"] = { "backend", value = true },
  },
  min_args = 2,
  max_args = 3,
}, function(opts, args)
  local domain, path, config = args[1], args[2], args[3]
  if path == "-" and progress.isatty(1) then
    return cli.fail(cli.BAD_INPUT, "refusing to write a savefile to a terminal")
  end
  if config then
    -- a bad CONFIG is a bad input (exit 2); every later failure is the save's (exit 1)
    local ok, err = require("xlua.config").load(config)
    if not ok then
      return cli.fail(cli.BAD_INPUT, "%s", err)
    end
  end
  local h, err = domains.open(opts.backend)
  if not h then
    return cli.fail(cli.FAILED, "%s", err)
  end
  local shown = path == "-" and "<stdout>" or path
  local reporter = progress.new({ label = "Saving " .. domain })
  local result
  result, err = save.save(h, domain, path, {
    checkpoint = opts.checkpoint,
    pause = opts.pause,
    zstd = opts.zstd,
    config = config,
    progress = reporter.update,
    on_header = function(hdr)
      io.stderr:write(string.format("Saving to %s new xl format (info 0x%x/0x%x/%d)\n",
        shown, hdr.mandatory_flags, hdr.optional_flags, hdr.optional_data_len))
      io.stderr:flush()
    end,
  })
  reporter.finish()
  if not result then
    return cli.fail(cli.FAILED, "Failed to save domain %s: %s", domain, err)
  end
  return cli.OK
end)
