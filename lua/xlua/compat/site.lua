-- Site rules for the compatibility check: the *.lua files of a site directory, trusted admin
-- code, each able to add differences or tighten the built-in verdicts through a small API.
-- A rule that fails (at load or when run) becomes an incompatible difference: fails closed.
--
-- A site file is a Lua chunk run with the usual globals plus `rule`. It declares rules with
--   rule { name = "memory-free", check = function(saved, wanted, api) ... end }
-- (as many as it likes), or returns one check function (named after the file).
-- check gets the saved and the wanted config, both with libxl's defaults applied (private
-- copies), and api:
--   api.incompatible(path, reason)  refuse: raise the difference at path to incompatible, or
--                                   add one (old and new are the values at path) if none
--   api.warn(path, reason)          the same with verdict warning
--   api.allow(path, reason)         lower a warning at path to allowed; never an incompatible
--   api.difference(path)            the difference at path so far, or nil (a copy)
--   api.differences()               all differences so far (copies)
--   api.get(config, path)           the value at path in a config ("disks[0].pdev_path")
--   api.context                     opts.context of the check: domains, host (a copy)
--   api.level                       the API level, site.API_LEVEL
-- path is a JSON path as in the report; "[*]" and "*" in it select every existing difference
-- that matches, instead of one path.
local defaults = require("xlua.compat.defaults")
local rules = require("xlua.compat.rules")

local site = {}

site.API_LEVEL = 1
site.DEFAULT_DIR = "/etc/xlua/site.d"

local function is_dir(path)
  local ok, lfs = pcall(require, "lfs")
  if ok then
    return lfs.attributes(path, "mode") == "directory"
  end
  local f = io.open(path .. "/.", "r")
  if f then
    f:close()
    return true
  end
  return false
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function lua_files(dir)
  local names = {}
  local ok, lfs = pcall(require, "lfs")
  if ok then
    for name in lfs.dir(dir) do
      names[#names + 1] = name
    end
  else
    local p = io.popen("ls -1A -- " .. shell_quote(dir) .. " 2>/dev/null")
    for name in p:lines() do
      names[#names + 1] = name
    end
    p:close()
  end
  local out = {}
  for _, name in ipairs(names) do
    if name:match("%.lua$") and name:sub(1, 1) ~= "." then
      out[#out + 1] = name
    end
  end
  table.sort(out)
  return out
end

-- site.dir(given) -> dir, explicit: the --site-dir value, else $XLUA_SITE_DIR, else the default.
function site.dir(given)
  if given and given ~= "" then
    return given, true
  end
  local env = os.getenv("XLUA_SITE_DIR")
  if env and env ~= "" then
    return env, true
  end
  return site.DEFAULT_DIR, false
end

-- site.load(dir, explicit) -> { dir, rules = {{name, file, check}}, failures = {{name, file,
-- message}} } | nil, message, "ENOENT". A missing directory is no site rules when it is the
-- default, and an error when the person named it. A file that does not load is a failure
-- (reported by check as incompatible), not an error of the load.
function site.load(dir, explicit)
  local loaded = { dir = dir, rules = {}, failures = {} }
  if dir == nil then
    return loaded
  end
  if not is_dir(dir) then
    if explicit then
      return nil, dir .. ": no such site directory", "ENOENT"
    end
    return loaded
  end
  for _, name in ipairs(lua_files(dir)) do
    local file = dir .. "/" .. name
    local base = name:gsub("%.lua$", "")
    local declared = {}
    local function rule(spec)
      if type(spec) ~= "table" or type(spec.check) ~= "function" then
        error("rule{} needs a table with a check function", 2)
      end
      if spec.name ~= nil and type(spec.name) ~= "string" then
        error("rule{}: name must be a string", 2)
      end
      declared[#declared + 1] = { name = spec.name or base, file = file, check = spec.check }
    end
    local env = setmetatable({ rule = rule, SITE_API_LEVEL = site.API_LEVEL }, { __index = _G })
    local chunk, err = loadfile(file, "t", env)
    local ok, result = false, err
    if chunk then
      ok, result = pcall(chunk)
    end
    if ok and type(result) == "function" then
      declared[#declared + 1] = { name = base, file = file, check = result }
    elseif ok and result ~= nil then
      ok, result = false, "a site file returns nothing or a check function, not a " .. type(result)
    end
    if ok then
      table.move(declared, 1, #declared, #loaded.rules + 1, loaded.rules)
    else
      loaded.failures[#loaded.failures + 1] = { name = base, file = file, message = tostring(result) }
    end
  end
  return loaded
end

-- The value at path in config: keys may contain dots ("type.hvm"), so at each level the
-- longest key that fits is taken.
local function get(config, path)
  if type(path) ~= "string" then
    error("path must be a string", 3)
  end
  local v, rest = config, path
  while rest ~= "" do
    if type(v) ~= "table" then
      return nil
    end
    local index, after = rest:match("^%[(%d+)%](.*)$")
    if index then
      v, rest = v[tonumber(index) + 1], (after:gsub("^%.", ""))
    else
      local best
      for k in pairs(v) do
        if type(k) == "string" and rest:sub(1, #k) == k then
          local next_char = rest:sub(#k + 1, #k + 1)
          if (next_char == "" or next_char == "." or next_char == "[") and (not best or #k > #best) then
            best = k
          end
        end
      end
      if not best then
        return nil
      end
      v, rest = v[best], rest:sub(#best + 1):gsub("^%.", "")
    end
  end
  return v
end
site.get = get

local function copy_difference(d)
  return {
    path = d.path, old = defaults.copy(d.old), new = defaults.copy(d.new),
    verdict = d.verdict, reason = d.reason, source = d.source,
  }
end

-- Apply the loaded rules to differences (changed in place). saved and wanted are the
-- defaulted configs; each rule gets its own copies.
function site.run(loaded, saved, wanted, differences, context)
  local rank = rules.RANK
  for _, f in ipairs(loaded.failures or {}) do
    differences[#differences + 1] = {
      path = "site:" .. f.name, verdict = "incompatible", source = "site:" .. f.name,
      reason = "site rule " .. f.name .. " failed to load: " .. f.message,
    }
  end
  for _, r in ipairs(loaded.rules or {}) do
    local source = "site:" .. r.name
    local function find(path)
      for _, d in ipairs(differences) do
        if d.path == path then
          return d
        end
      end
    end
    local function judge(verdict, path, reason)
      if type(path) ~= "string" or path == "" then
        error("path must be a non-empty string", 3)
      end
      if reason ~= nil and type(reason) ~= "string" then
        error("reason must be a string", 3)
      end
      reason = reason or ("site rule " .. r.name)
      local targets = {}
      if path:find("*", 1, true) then
        for _, d in ipairs(differences) do
          if rules.match(path, d.path) then
            targets[#targets + 1] = d
          end
        end
      else
        targets[1] = find(path)
        if not targets[1] and verdict ~= "allowed" then
          differences[#differences + 1] = {
            path = path, old = defaults.copy(get(saved, path)), new = defaults.copy(get(wanted, path)),
            verdict = verdict, reason = reason, source = source,
          }
          return
        end
      end
      for _, d in ipairs(targets) do
        local tighter = rank[verdict] > rank[d.verdict]
        -- allow may turn a warning into allowed; nothing loosens an incompatible verdict
        local loosen = verdict == "allowed" and d.verdict == "warning"
        if tighter or loosen then
          d.verdict, d.reason, d.source = verdict, reason, source
        end
      end
    end
    local api = {
      level = site.API_LEVEL,
      context = defaults.copy(context or {}),
      incompatible = function(path, reason)
        judge("incompatible", path, reason)
      end,
      warn = function(path, reason)
        judge("warning", path, reason)
      end,
      allow = function(path, reason)
        judge("allowed", path, reason)
      end,
      difference = function(path)
        local d = find(path)
        return d and copy_difference(d) or nil
      end,
      differences = function()
        local out = {}
        for i, d in ipairs(differences) do
          out[i] = copy_difference(d)
        end
        return out
      end,
      get = function(config, path)
        return get(config, path)
      end,
    }
    local ok, err = pcall(r.check, defaults.copy(saved), defaults.copy(wanted), api)
    if not ok then
      differences[#differences + 1] = {
        path = source, verdict = "incompatible", source = source,
        reason = "site rule " .. r.name .. " failed: " .. tostring(err),
      }
    end
  end
end

return site
