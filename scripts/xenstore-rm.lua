-- Remove xenstore nodes, as xenstore-rm does.
-- xenstore-rm [-t] KEY...: remove each node and what is below it (xenstore-utils' command);
-- -t also removes parents left empty (no value, no children).
local cli = require("xlua.cli")
local xs_cli = require("xlua.xs_cli")

return xs_cli.main("rm", function(conn, opts, keys)
  return xs_cli.run(conn, true, function(t)
    for _, key in ipairs(keys) do
      local path = key
      while true do
        if not t:rm(path) then
          return cli.FAILED, "could not remove path " .. path
        end
        local parent = opts.t and path:match("^(.+)/[^/]*$")
        local value = parent and t:read(parent)
        local children = value == "" and t:directory(parent)
        if not (children and #children == 0) then
          break
        end
        path = parent
      end
    end
    return cli.OK
  end)
end)
