-- Read xenstore values, as xenstore-read does.
-- xenstore-read [-p] [-R] KEY...: each node's value (xenstore-utils' command).
local cli = require("xlua.cli")
local xs_cli = require("xlua.xs_cli")

return xs_cli.main("read", function(conn, opts, keys)
  return xs_cli.run(conn, #keys > 1, function(t, out)
    for _, key in ipairs(keys) do
      local v = t:read(key)
      if not v then
        return cli.FAILED, "couldn't read path " .. key
      end
      if opts.p then
        out[#out + 1] = key .. ": "
      end
      out[#out + 1] = opts.R and v or xs_cli.sanitise(v) .. "\n"
    end
    return cli.OK
  end)
end)
