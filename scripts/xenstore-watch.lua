-- Watch xenstore nodes and print each change, as xenstore-watch does.
-- xenstore-watch [-n NR] KEY...: print the path of each change at or below KEY, one a line,
-- as it comes (xenstore-utils' command; the watch fires once when it is set). -n: stop after
-- NR events; --timeout SECONDS (xlua's own): stop after that long without an event.
local cli = require("xlua.cli")
local xs_cli = require("xlua.xs_cli")

return xs_cli.main("watch", function(conn, opts, keys)
  local count = opts.n and math.tointeger(tonumber(opts.n)) or nil
  if opts.n and not count then
    count = 0     -- atoi of something that is no number
  end
  if count and count < 0 then
    count = nil   -- xenstore-watch: -1 is for ever
  end
  local c = conn.c
  for _, key in ipairs(keys) do
    if not c:watch(key, key) then
      return cli.fail(cli.FAILED, "Unable to add watch on %s", key)
    end
  end
  local timeout = opts.timeout and math.floor(opts.timeout * 1000) or -1
  local seen = 0
  while not count or seen < count do
    local path, err = c:read_watch(timeout)
    if path == false then
      break
    elseif not path then
      return cli.fail(cli.FAILED, "%s", err)
    end
    io.stdout:write(path, "\n")
    io.stdout:flush()
    seen = seen + 1
  end
  return cli.OK
end)
