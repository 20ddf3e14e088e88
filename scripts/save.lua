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
    .. "  -z  compress the memory stream with zstd (xl cannot read such a file)\n"
    .. "Exit 2 for a bad CONFIG or a FILE that cannot be written (a directory, no such directory),\n"
    .. "found before the domain is paused; 1 when the save fails; 130 on Ctrl-C.",
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
  local h, err, code = domains.open(opts.backend)
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local shown = path == "-" and "<stdout>" or path
  local reporter = progress.new({ label = "Saving " .. domain })
  local result
  result, err, code = cli.interruptible(save.save, h, domain, path, {
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
    -- a bad CONFIG or a target that is a directory is a bad input (exit 2), the rest the
    -- save's failure (exit 1); Ctrl-C is 130
    return cli.fail(cli.status(code), "Failed to save domain %s: %s", domain, err)
  end
  return cli.OK
end)
