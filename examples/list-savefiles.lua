-- List the savefiles in a directory: each one's domain, size, date and whether it verifies.
--   xlua examples/list-savefiles.lua DIR
-- Exit status: 0 when every file verifies, 1 when any does not, 2 on bad usage or a DIR that
-- is not a directory.
local config = require("xlua.config")
local json = require("xlua.json")
local savefile = require("xlua.savefile")

local dir = arg[1]
if not dir then
  io.stderr:write("usage: xlua examples/list-savefiles.lua DIR\n")
  return 2
end
local probe, err = io.open(dir .. "/.", "rb") -- opens only when dir is a directory
if not probe then
  io.stderr:write("list-savefiles: ", dir, ": ", (err and err:match(": ([^:]*)$")) or "not a directory", "\n")
  return 2
end
probe:close()
local quoted = "'" .. dir:gsub("'", "'\\''") .. "'"

-- name, size, mtime of each regular *.sav file, without a dependency beyond the shell
local files = {}
local p = io.popen("cd " .. quoted .. " && find . -maxdepth 1 -type f -name '*.sav' -printf '%f\\t%s\\t%TY-%Tm-%Td %TH:%TM\\n' | sort")
for line in p:lines() do
  local name, size, date = line:match("^(.-)\t(%d+)\t(.*)$")
  files[#files + 1] = { name = name, size = tonumber(size), date = date }
end
p:close()

local bad = 0
print(string.format("%-28s %-20s %12s  %-16s  %s", "FILE", "DOMAIN", "SIZE", "DATE", "VERIFIES"))
for _, f in ipairs(files) do
  local domain, verdict = "?", "no"
  local r
  r, err = savefile.open(dir .. "/" .. f.name)
  if r then
    local exts = r:extensions() or {}
    for _, e in ipairs(exts) do
      if e.name == "META" then
        local meta = json.decode(e.data)
        domain = meta and meta.name or domain
        f.date = meta and meta.saved_at and meta.saved_at:gsub("T", " "):sub(1, 16) or f.date
      end
    end
    if domain == "?" then
      local cfg = r:config()
      -- config.from_json checks the shape: a config without an object c_info has no name
      local c = cfg and cfg.format == "json" and config.from_json(cfg.text)
      domain = c and c.c_info and c.c_info.name or domain
    end
    local ok
    ok, err = r:verify()
    verdict = ok and "yes" or ("NO: " .. err)
    r:close()
  else
    verdict = "NO: " .. err
  end
  if verdict ~= "yes" then
    bad = bad + 1
  end
  print(string.format("%-28s %-20s %12d  %-16s  %s", f.name, domain, f.size, f.date, verdict))
end
return bad == 0 and 0 or 1
