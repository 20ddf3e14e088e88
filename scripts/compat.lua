-- Compare two domain configs (config files or savefiles) the way restore does, with site rules.
local check = require("xlua.compat.check")
local cli = require("xlua.cli")
local log = require("xlua.log")
local report = require("xlua.compat.report")
local site = require("xlua.compat.site")

local config = require("xlua.config")
local savefile = require("xlua.savefile")

-- A savefile's stored config -> libxl table.
local function from_savefile(path)
  local r, err, code = savefile.open(path)
  if not r then
    return nil, err, code
  end
  local c
  c, err, code = r:config()
  r:close()
  if not c then
    return nil, err, code
  end
  if not c.present or not c.text then
    return nil, path .. ": the savefile holds no config", "NOCONFIG"
  end
  return config.from_text(c.text, c.format, path)
end

-- An argument -> libxl table: a savefile (by its magic), a libxl JSON file, or a config file
-- (xl.cfg or Lua).
local function load_input(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err, "ENOENT"
  end
  local head, rerr = f:read(64)
  f:close()
  if head == nil and rerr then
    return nil, path .. ": " .. tostring(rerr), "EISDIR" -- a directory opens, then fails to read
  end
  head = head or ""
  if head:sub(1, #savefile.MAGIC) == savefile.MAGIC then
    return from_savefile(path)
  end
  if not path:match("%.lua$") and head:match("^%s*{") then
    local text = io.open(path, "rb"):read("a")
    return config.from_text(text, "json", path)
  end
  local loaded, lerr, code = config.load(path)
  if not loaded then
    return nil, lerr, code
  end
  return loaded.libxl
end

-- The host's domains, for the "name in use" warning; nothing when no backend opens.
local function context()
  local ok, domains = pcall(require, "xlua.domains")
  if not ok then
    return {}
  end
  local h, err = domains.open()
  if not h then
    log.debug("compat: no domain list: %s", tostring(err))
    return {}
  end
  local list
  ok, list = pcall(h.list, h)
  if not ok or type(list) ~= "table" then
    log.debug("compat: no domain list: %s", tostring(list))
    return {}
  end
  return { domains = list }
end

return cli.main({
  name = "compat",
  usage = "xlua compat [--json] [--site-dir DIR] OLD NEW",
  help = "Checks whether a domain saved with OLD can be restored with NEW. OLD and NEW are config\n"
    .. "files (xl.cfg, Lua, libxl JSON) or savefiles (their stored config is used). Prints one\n"
    .. "line per difference (verdict, path, old -> new, reason) and a summary.\n"
    .. "  --json          the report as JSON\n"
    .. "  --site-dir DIR  site rules from DIR (default $XLUA_SITE_DIR, else " .. site.DEFAULT_DIR .. ")\n"
    .. "Exit 0 when compatible, 1 when not, 2 on bad input.",
  options = {
    ["--json"] = "json",
    ["--site-dir"] = { "site_dir", value = true },
  },
  min_args = 2,
  max_args = 2,
}, function(opts, args)
  local configs = {}
  for i = 1, 2 do
    local t, err, code = load_input(args[i])
    if not t then
      return cli.fail(cli.BAD_INPUT, "%s", err)
    end
    configs[i] = t
  end
  local dir, explicit = site.dir(opts.site_dir)
  local rules, err = site.load(dir, explicit)
  if not rules then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  local r = check.check(configs[1], configs[2], { site_rules = rules, context = context() })
  io.stdout:write(opts.json and report.json(r) or report.text(r))
  return r.compatible and cli.OK or cli.FAILED
end)
