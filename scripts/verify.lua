-- Check that a savefile is whole: header, config, complete stream and matching trailer.
local cli = require("xlua.cli")
local printable = require("xlua.printable")
local savefile = require("xlua.savefile")

return cli.main({
  name = "verify",
  usage = "xlua verify FILE|-",
  help = "Exit 0 when the file is whole; otherwise one line saying what is wrong and where, exit 2.",
  min_args = 1,
  max_args = 1,
}, function(_, args)
  local refused = cli.refuse_terminal(args[1])
  if refused then
    return refused
  end
  local reader, err = savefile.open(args[1])
  if not reader then
    return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
  end
  local ok
  ok, err = reader:verify()
  local trailer = ok and reader:trailer()
  reader:close()
  if not ok then
    return cli.fail(cli.BAD_INPUT, "%s", printable.escape(err))
  end
  io.stdout:write(printable.escape(args[1]), ": ok", trailer and trailer.found and " (trailer matches)" or " (no trailer)", "\n")
  return cli.OK
end)
