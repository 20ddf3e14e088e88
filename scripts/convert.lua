-- Print a config file's libxl JSON, or (--cfg) a libxl JSON config as an xl.cfg.
local cli = require("xlua.cli")
local config = require("xlua.config")
local json = require("xlua.json")
local log = require("xlua.log")
local printable = require("xlua.printable")
local xlcfg = require("xlua.xlcfg")

-- FILE.json or "-", read as every config is read: once, TOOBIG past config.MAX_SIZE.
local function read(path)
  if path == "-" then
    return config.read(io.stdin, "<stdin>")
  end
  return config.read(path)
end

return cli.main({
  name = "convert",
  usage = "xlua convert [--strict] [--xl-conf FILE] FILE [KEY=VALUE...] | xlua convert --cfg FILE.json|-",
  help = "FILE is an xl.cfg, or a Lua config when it ends in .lua; KEY=VALUE lines are added\n"
    .. "as `xl create` adds them. Prints the libxl domain config JSON; warnings go to stderr.\n"
    .. "With --strict, every warning (a value xl would warn about and ignore) refuses the config.\n"
    .. "--xl-conf FILE: xl.conf's defaults (default /etc/xen/xl.conf on libxl, none on the sim).\n"
    .. "With --cfg, reads libxl JSON (as xl keeps in savefiles) and prints it as an xl.cfg.",
  options = { ["--cfg"] = "cfg", ["--strict"] = "strict",
    ["--xl-conf"] = { "xl_conf", value = true } },
  min_args = 1,
}, function(opts, args)
  if opts.cfg then
    if #args > 1 then
      return cli.fail(cli.BAD_INPUT, "too many arguments")
    end
    local text, err = read(args[1])
    if not text then
      return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
    end
    local c
    c, err = config.from_json(text)
    if not c then
      return cli.fail(cli.BAD_INPUT, "%s: %s", printable.escape(args[1]), printable.escape(err))
    end
    -- the file's strings are in the rendering: a control character in one is written as an
    -- xl.cfg \xHH escape, which reads back as the same byte
    io.stdout:write(printable.escape(xlcfg.render(c), { multiline = true, bytes = true }))
    return cli.OK
  end
  local overrides = table.move(args, 2, #args, 1, {})
  -- the backend convert would create on: its xl.conf default and its host's layout
  local h = require("xlua.domains").open(nil)
  local copts, status = cli.conversion_options(h, opts.xl_conf, opts.strict)
  if not copts then
    return status
  end
  -- the host's layout is asked for during the conversion, if at all
  local loaded, err = config.load(args[1], overrides, copts)
  if h then
    h:close()
  end
  if not loaded then
    return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
  end
  for _, w in ipairs(loaded.warnings) do
    local shown = w:sub(1, #args[1] + 1) == args[1] .. ":" and w or (args[1] .. ": " .. w)
    log.warn("%s", printable.escape(shown))
  end
  io.stdout:write(json.encode(loaded.libxl, { indent = "    " }), "\n")
  return cli.OK
end)
