-- The demo behind `./dev.sh demo`: the main job end to end on the sim backend, in a temporary
-- state directory: create from an xl.cfg and from a Lua config, list, save (plain and -z),
-- inspect, verify, restore from the file alone and with a replacement config that moves a
-- disk, check the memory digest survived, destroy.
-- Run it with: xlua examples/demo.lua [DIR]
local xlua_bin = arg[-1] or "xlua"
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local dir = arg[1] or io.popen("mktemp -d"):read("l")
os.execute("mkdir -p " .. q(dir .. "/sim"))
local x = string.format("XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s", q(dir .. "/sim"), q(xlua_bin))

local function sh(cmd, shown)
  io.write("\n$ ", shown or cmd, "\n")
  io.flush()
  local ok, _, code = os.execute(cmd)
  io.write("(exit status ", tostring(code), ")\n")
  return ok
end
local function xlua(args)
  return sh(x .. " " .. args, "xlua " .. args)
end
local function digest(name)
  local p = io.popen(x .. " list --json " .. q(name) .. " 2>/dev/null")
  local out = p:read("a")
  p:close()
  return out:match('"digest": "(%x+)"')
end

local web1, db1 = here .. "/web1.cfg", here .. "/db1.lua"
local sav, zsav = dir .. "/web1.sav", dir .. "/db1.sav"

xlua("create " .. q(web1))
xlua("create " .. q(db1))
xlua("list")
local before = digest("web1")
xlua("save web1 " .. q(sav))
xlua("save -z db1 " .. q(zsav))
xlua("list")
xlua("inspect " .. q(sav))
xlua("verify " .. q(sav))
xlua("verify " .. q(zsav))
xlua("restore " .. q(sav))
xlua("restore " .. q(zsav))
print(("\nweb1's memory digest before the save: %s\n                         after restore: %s  %s"):format(
  before, digest("web1"), before == digest("web1") and "(the same)" or "(DIFFERENT)"))

-- A replacement config: web1's disk moved to another place (a host-side change, allowed).
xlua("save web1 " .. q(sav))
local moved = dir .. "/web1-moved.cfg"
local f = assert(io.open(web1))
local text = f:read("a"):gsub("/srv/xen/", "/mnt/newdisk/")
f:close()
f = assert(io.open(moved, "w"))
f:write(text)
f:close()
xlua("restore -n " .. q(moved) .. " " .. q(sav))
xlua("restore " .. q(moved) .. " " .. q(sav))
xlua("config web1")
print(("\nweb1's memory digest now: %s (before the first save: %s) %s"):format(digest("web1"), before,
  before == digest("web1") and "(still the same)" or "(DIFFERENT)"))
xlua("destroy web1")
xlua("destroy db1")
xlua("list")
if not arg[1] then
  os.execute("rm -rf " .. q(dir))
end
