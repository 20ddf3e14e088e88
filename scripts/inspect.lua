-- Show every field of a savefile: header, flags, config, extensions, stream summary.
local cli = require("xlua.cli")
local inspect = require("xlua.inspect")
local json = require("xlua.json")
local printable = require("xlua.printable")

return cli.main({
  name = "inspect",
  usage = "xlua inspect [--json] FILE|-",
  help = "Prints what a savefile holds; a damaged file shows what could be read, then the error (exit 2).",
  options = { ["--json"] = "json" },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  local refused = cli.refuse_terminal(args[1])
  if refused then
    return refused
  end
  local facts, err = inspect.read(args[1])
  if opts.json then
    io.stdout:write(json.encode(facts, { indent = "  " }), "\n")
  elseif facts.header then
    io.stdout:write(inspect.text(facts))
  end
  io.stdout:flush()
  if err then
    return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
  end
  return cli.OK
end)
