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
--
-- Site files run as trusted code (as root, in dom0), so they are treated as sudo treats
-- sudoers.d: the directory and each *.lua file must be owned by root or by the user running
-- xlua and writable by no one else (not group- or world-writable), else site.load refuses
-- them all (UNSAFE). Symbolic links are followed: what is checked is what would be run.
-- Loading each file and running each rule has a time limit (site.TIME_LIMIT seconds, or
-- $XLUA_SITE_TIME_LIMIT); one that takes longer fails closed like one that raises.
local printable = require("xlua.printable")
local xlua = require("xlua")
-- Needed only where rules run: a restore without site rules reads the directory and stops.
local function defaults() return require("xlua.compat.defaults") end
local function rules() return require("xlua.compat.rules") end

local site = {}

site.API_LEVEL = 1
site.DEFAULT_DIR = "/etc/xlua/site.d"
-- Seconds of (monotonic) time that loading one site file, or running one rule, may take.
site.TIME_LIMIT = 5

local GROUP_WRITE, OTHER_WRITE = 16, 2 -- 0020, 0002

-- site.unsafe(st, euid [, want_type]) -> nil, or why a path with the stat facts st (what
-- xlua.stat gives) may not hold site rules for a process of effective uid euid: it is not of
-- type want_type ("directory", "file"), or someone other than root or euid owns it or can
-- write it (group- or world-writable).
function site.unsafe(st, euid, want_type)
  if want_type and st.type ~= want_type then
    return want_type == "file" and "not a regular file (" .. st.type .. ")" or "not a " .. want_type
  end
  if st.uid ~= 0 and st.uid ~= euid then
    return string.format("owned by uid %d, neither root nor the user running xlua (uid %d)", st.uid, euid)
  end
  if st.mode & OTHER_WRITE ~= 0 then
    return string.format("writable by everyone (mode %04o)", st.mode)
  end
  if st.mode & GROUP_WRITE ~= 0 then
    return string.format("writable by its group, gid %d (mode %04o)", st.gid, st.mode)
  end
  return nil
end

-- nil when path is safe to take site rules from, else message, "UNSAFE" (or stat's code).
local function check_path(path, want_type)
  local st, err, code = xlua.stat(path)
  if not st then
    return printable.escape(err), code
  end
  local why = site.unsafe(st, xlua.geteuid(), want_type)
  if why then
    return string.format("%s: refusing site rules: %s; they run as trusted code, so only root or "
      .. "the user running xlua may be able to change them", printable.escape(path), why), "UNSAFE"
  end
  return nil
end

-- The time limit in seconds: opts.time_limit, else $XLUA_SITE_TIME_LIMIT, else TIME_LIMIT.
local function time_limit(given)
  local limit = given or tonumber(os.getenv("XLUA_SITE_TIME_LIMIT") or "")
  if type(limit) ~= "number" or limit ~= limit or limit <= 0 then
    return site.TIME_LIMIT
  end
  return limit
end

-- run_limited(seconds, fn, ...) -> true, result | false, message: fn(...) under
-- xlua.timed_pcall (which leaves Ctrl-C alone: the interruption goes on up), its error as one
-- line of text whatever the error value is: a string, what its __tostring gives when that is
-- a string (run under the same limit: it is site code too), else its type.
local function run_limited(seconds, fn, ...)
  local ok, result, expired = xlua.timed_pcall(seconds, fn, ...)
  if ok then
    return true, result
  elseif expired then
    return false, "took longer than " .. seconds .. " s"
  elseif type(result) == "string" then
    return false, result
  end
  local tok, text = xlua.timed_pcall(seconds, tostring, result)
  if tok and type(text) == "string" then
    return false, text
  end
  return false, "an error object (a " .. type(result) .. ") that cannot be shown as text"
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

-- site.load(dir, explicit [, {time_limit = seconds}]) -> { dir, time_limit, rules = {{name,
-- file, check}}, failures = {{name, file, message}} } | nil, message, code. A missing
-- directory is no site rules when it is the default, and an error (ENOENT) when the person
-- named it. A directory or a *.lua file that someone other than root or the user running
-- xlua could change is an error (UNSAFE): none of its rules run. A file that does not load
-- (or takes longer than the time limit) is a failure (reported by check as incompatible),
-- not an error of the load.
function site.load(dir, explicit, opts)
  local loaded = { dir = dir, rules = {}, failures = {}, time_limit = time_limit(opts and opts.time_limit) }
  if dir == nil then
    return loaded
  end
  local st = xlua.stat(dir)
  if not st or st.type ~= "directory" then
    if explicit then
      return nil, printable.escape(dir) .. ": no such site directory", "ENOENT"
    end
    return loaded
  end
  local err, code = check_path(dir, "directory")
  if err then
    return nil, err, code
  end
  local names = lua_files(dir)
  for _, name in ipairs(names) do
    err, code = check_path(dir .. "/" .. name, "file")
    if err then
      return nil, err, code
    end
  end
  for _, name in ipairs(names) do
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
    local chunk, lerr = loadfile(file, "t", env)
    local ok, result = false, lerr
    if chunk then
      ok, result = run_limited(loaded.time_limit, chunk)
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
    path = d.path, old = defaults().copy(d.old), new = defaults().copy(d.new),
    verdict = d.verdict, reason = d.reason, source = d.source,
  }
end

-- Apply the loaded rules to differences (changed in place). saved and wanted are the
-- defaulted configs; each rule gets its own copies. A rule that raises (whatever the error
-- value) or runs past the time limit adds an incompatible difference "site:NAME". Ctrl-C
-- goes on up as the host's "interrupted!" error.
function site.run(loaded, saved, wanted, differences, context)
  local rank = rules().RANK
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
          if rules().match(path, d.path) then
            targets[#targets + 1] = d
          end
        end
      else
        targets[1] = find(path)
        if not targets[1] and verdict ~= "allowed" then
          differences[#differences + 1] = {
            path = path, old = defaults().copy(get(saved, path)), new = defaults().copy(get(wanted, path)),
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
      context = defaults().copy(context or {}),
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
    local ok, err = run_limited(loaded.time_limit or time_limit(), r.check, defaults().copy(saved),
      defaults().copy(wanted), api)
    if not ok then
      differences[#differences + 1] = {
        path = source, verdict = "incompatible", source = source,
        reason = "site rule " .. r.name .. " failed: " .. err,
      }
    end
  end
end

return site
