-- xlua.repl: the interactive loop (lua.c's algorithm in Lua, so busted can drive it).
-- Line input, history and the completion hook come from xlua.readline or an injected fake.

local pretty = require "xlua.pretty"

local M = {}

local PROMPT, PROMPT2 = "> ", ">> "
local EOFMARK = "<eof>"

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
  "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

--- new_env(globals) -> table
-- The REPL's global environment: opts.globals on top of _G. Assignments stay in it, so
-- the REPL never changes the globals that modules see.
function M.new_env(globals)
  local env = {}
  for k, v in pairs(globals or {}) do env[k] = v end
  return setmetatable(env, { __index = _G })
end

-- lua.c's incomplete(): a syntax error at the end of the input means "read more".
local function incomplete(msg)
  return type(msg) == "string" and msg:sub(-#EOFMARK) == EOFMARK
end

--- compile(source, env) -> fn | nil, message, incomplete
-- `=expr` is `return expr`; an expression is tried as `return <source>` first. Unlike
-- lua.c, an unfinished expression (`{1,` or `1 +`) also asks for a continuation line.
function M.compile(source, env)
  if source:sub(1, 1) == "=" then source = "return " .. source:sub(2) end
  local fn = load("return " .. source .. ";", "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(source, "=stdin", "t", env)
  if fn then return fn end
  if incomplete(err) then return nil, err, true end
  local _, expr_err = load("return " .. source, "=stdin", "t", env)
  if incomplete(expr_err) then return nil, expr_err, true end
  return nil, err, false
end

local getmetatable_raw = debug and debug.getmetatable or getmetatable

-- Metatable fields are looked up raw and only through tables: completing a name must not
-- run an __index function.
local function index_table(v)
  if type(v) == "table" then return v end
  local mt = getmetatable_raw(v)
  if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
    return rawget(mt, "__index")
  end
end

local function safe_get(v, key)
  for _ = 1, 32 do  -- __index chains are short; loops are not followed forever
    if type(v) == "table" then
      local found = rawget(v, key)
      if found ~= nil then return found end
    end
    local mt = getmetatable_raw(v)
    local nxt = type(mt) == "table" and rawget(mt, "__index")
    if type(nxt) ~= "table" then return nil end
    v = nxt
  end
end

-- Every string key reachable from v directly or through __index tables.
local function each_field(v, fn)
  local seen = {}
  local t = index_table(v)
  for _ = 1, 32 do
    if type(t) ~= "table" or seen[t] then return end
    seen[t] = true
    for k, val in next, t do
      if type(k) == "string" then fn(k, val) end
    end
    local mt = getmetatable_raw(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
  end
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable_raw(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

--- complete(env, word, line, start) -> sorted list of candidates for word
-- A bare word completes globals (the REPL's and _G's) and keywords; `a.b.pre` completes
-- fields of a.b; `a:pre` completes methods, including a string's through its metatable.
function M.complete(env, word)
  local seen, out = {}, {}
  local function add(s)
    if not seen[s] then seen[s] = true; out[#out + 1] = s end
  end

  local base, sep, partial = word:match("^(.-)([.:])([%w_]*)$")
  if not base then
    if not word:match("^[%a_]?[%w_]*$") then return out end
    each_field(env, function(k)
      if k:sub(1, #word) == word and pretty.is_identifier(k) then add(k) end
    end)
    for _, k in ipairs(KEYWORDS) do
      if k:sub(1, #word) == word then add(k) end
    end
  else
    local v = env
    for name in (base .. "."):gmatch("(.-)%.") do
      if not pretty.is_identifier(name) then return out end
      v = safe_get(v, name)
      if v == nil then return out end
    end
    each_field(v, function(k, val)
      if k:sub(1, #partial) == partial and pretty.is_identifier(k)
        and (sep == "." or is_callable(val)) then
        add(base .. sep .. k)
      end
    end)
  end
  table.sort(out)
  return out
end

local function verbose_wanted(opts)
  if opts.verbose ~= nil then return opts.verbose end
  local ok, xlua = pcall(require, "xlua")
  if not ok or type(xlua) ~= "table" then return false end
  local v = xlua.verbose
  if type(v) == "function" then
    local ok2, r = pcall(v)
    return ok2 and r
  end
  return v
end

-- One line for people: the message, or a description of a non-string error object.
local function error_text(e)
  if type(e) == "string" then return e end
  local mt = getmetatable(e)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
  end
  if type(e) == "table" then
    local text = pretty.format(e, { depth = 2, max_items = 10, width = math.huge })
    return "(error object is a table value) " .. text
  end
  return ("(error object is a %s value)"):format(type(e))
end

--- run(opts)
-- opts.banner: printed first; opts.history: history file path; opts.globals: name -> value
-- visible in the REPL only; opts.io: the line reader (default xlua.readline);
-- opts.output / opts.errors: where results / errors go (io.stdout / io.stderr);
-- opts.verbose: tracebacks with errors (default: require("xlua").verbose);
-- opts.env: a ready environment instead of new_env(opts.globals).
function M.run(opts)
  opts = opts or {}
  local rio = opts.io or require "xlua.readline"
  local out = opts.output or io.stdout
  local errout = opts.errors or io.stderr
  local env = opts.env or M.new_env(opts.globals)

  local function say_error(msg)
    if out.flush then out:flush() end
    errout:write(msg, "\n")
    if errout.flush then errout:flush() end
  end

  if opts.banner then out:write(opts.banner, "\n") end

  if opts.history and rio.read_history then
    local ok, msg, code = rio.read_history(opts.history)
    if not ok and code ~= "ENOENT" then say_error("warning: " .. tostring(msg)) end
  end
  if rio.set_completer then
    rio.set_completer(function(word, line, start) return M.complete(env, word, line, start) end)
  end

  local last_history
  local function remember(source)
    if source:match("%S") and source ~= last_history and rio.add_history then
      rio.add_history(source)
      last_history = source
    end
  end

  -- Read one complete chunk: nil at end of input, false when the user gave up (Ctrl-C);
  -- otherwise the compiled function or nil plus the syntax error.
  local function read_chunk()
    local line, interrupted = rio.readline(PROMPT)
    if line == nil then return nil end
    if interrupted then return false end
    local source = line
    while true do
      local fn, err, more = M.compile(source, env)
      if fn or not more then
        remember(source)
        return true, fn, err
      end
      line, interrupted = rio.readline(PROMPT2)
      if interrupted then return false end
      if line == nil then  -- end of input inside a chunk: report the syntax error
        remember(source)
        return true, nil, err
      end
      source = source .. "\n" .. line
    end
  end

  local function print_results(res)
    if res.n == 0 then return end
    local texts, multiline = {}, false
    for i = 1, res.n do
      texts[i] = pretty.format(res[i])
      if texts[i]:find("\n", 1, true) then multiline = true end
    end
    out:write(table.concat(texts, multiline and "\n" or "\t"), "\n")
  end

  local function handler(e)
    if verbose_wanted(opts) then
      -- The frames below the user's chunk are the REPL's own: leave them out.
      local tb = debug.traceback(error_text(e), 2)
      return tb:match("^(.-)\n\t%[C%]: in function 'xpcall'") or tb
    end
    return error_text(e)
  end

  -- One input: read, compile, run, print. Protected as a whole, so an error anywhere
  -- (an interrupt hook firing while printing, a broken __tostring) never ends the loop.
  local function step()
    local got, fn, err = read_chunk()
    if got == nil then return false end
    if not got then return true end
    if not fn then
      say_error(error_text(err))
      return true
    end
    local res = table.pack(xpcall(fn, handler))
    if not res[1] then
      say_error(res[2])
      return true
    end
    print_results(table.pack(table.unpack(res, 2, res.n)))
    return true
  end

  local failures = 0  -- in a row: a reader that always fails must not spin forever
  while true do
    local ok, continue = xpcall(step, handler)
    if ok and not continue then break end
    if ok then
      failures = 0
    else
      say_error(continue)
      failures = failures + 1
      if failures >= 10 then break end
    end
  end
  if rio.is_tty and rio.is_tty() then out:write("\n") end
  if out.flush then out:flush() end

  if opts.history and rio.write_history then
    local ok, msg = rio.write_history(opts.history)
    if not ok then say_error("warning: " .. tostring(msg)) end
  end
end

return M
