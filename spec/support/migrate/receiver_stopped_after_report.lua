-- xlua migrate-receive stopped by SIGTERM right after its report went out, for the specs (run
-- as `xlua THIS [migrate-receive options]` from the top of the tree): the interruption is
-- raised as the host's stop hook raises it, at the first instruction after the write, the
-- window a real signal can only hit by chance.
local migration = require("xlua.migration")
local transport = require("xlua.transport")

local write = transport.write
function transport.write(fd, bytes)
  local ok, err, code = write(fd, bytes)
  if ok and bytes:sub(1, #migration.REPORT) == migration.REPORT then
    error("interrupted by SIGTERM!", 0)
  end
  return ok, err, code
end

return dofile("scripts/migrate-receive.lua")
