-- Save every running domain into a directory, compressed, one file per domain, then a summary.
-- A failure on one domain does not stop the others.
--   xlua examples/save-all.lua [-c] DIR      (-c: leave the domains running, as xl save -c)
-- Exit status: 0 when every domain was saved, 1 when any failed, 2 on bad usage.
local domains = require("xlua.domains")
local save = require("xlua.save")

local checkpoint = arg[1] == "-c"
local dir = arg[checkpoint and 2 or 1]
if not dir then
  io.stderr:write("usage: xlua examples/save-all.lua [-c] DIR\n")
  return 2
end
os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")

local h, err, code = domains.open()
if not h then
  io.stderr:write("save-all: ", err, "\n")
  return domains.status(code)
end

local saved, failed = {}, {}
for _, info in ipairs(assert(h:list())) do
  if info.domid ~= 0 and (info.state == "running" or info.state == "paused") then
    local path = dir .. "/" .. info.name .. ".sav"
    local result, msg, code = save.save(h, tostring(info.domid), path, { zstd = true, checkpoint = checkpoint })
    if result then
      saved[#saved + 1] = string.format("  %-24s -> %s (%d bytes, %s)", info.name, path, result.bytes, result.action)
    else
      failed[#failed + 1] = string.format("  %-24s %s (%s)", info.name, msg, code)
    end
  end
end

print(string.format("saved %d domain(s), %d failed", #saved, #failed))
for _, line in ipairs(saved) do print(line) end
if #failed > 0 then
  print("failed:")
  for _, line in ipairs(failed) do print(line) end
end
return #failed == 0 and 0 or 1
