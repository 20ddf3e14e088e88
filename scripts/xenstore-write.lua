-- Write xenstore values, as xenstore-write does.
-- xenstore-write [-R] KEY VALUE...: set each node (xenstore-utils' command); values take the
-- escapes \t \n \r \\ \xHH \OOO unless -R.
local cli = require("xlua.cli")
local xs_cli = require("xlua.xs_cli")

return xs_cli.main("write", function(conn, opts, args)
  return xs_cli.run(conn, #args > 2, function(t)
    for i = 1, #args, 2 do
      local value = opts.R and args[i + 1] or xs_cli.unsanitise(args[i + 1])
      if not t:write(args[i], value) then
        return cli.FAILED, "could not write path " .. args[i]
      end
    end
    return cli.OK
  end)
end)
