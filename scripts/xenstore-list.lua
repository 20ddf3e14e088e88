-- List the children of xenstore nodes, as xenstore-list does.
-- xenstore-list [-p] KEY...: the names of each node's children (xenstore-utils' command).
local cli = require("xlua.cli")
local xs_cli = require("xlua.xs_cli")

return xs_cli.main("list", function(conn, opts, keys)
  return xs_cli.run(conn, true, function(t, out)
    for _, key in ipairs(keys) do
      local names = t:directory(key)
      if not names then
        return cli.FAILED, "could not list path " .. key
      end
      for _, name in ipairs(names) do
        out[#out + 1] = (opts.p and key .. "/" or "") .. name .. "\n"
      end
    end
    return cli.OK
  end)
end)
