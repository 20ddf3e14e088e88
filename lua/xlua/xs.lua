-- xlua.xs: xenstore for scripts (api level 2), over a domain handle's connection (h:xs(), in C:
-- libxenstore on real Xen, the sim's own xenstore elsewhere).
--
--   local xs = require("xlua.xs")
--   local c = assert(xs.open())            -- or xs.open("sim"), xs.open(h)
--   c:read(path) -> value | nil, msg, "ENOENT"     c:write(path, value) -> true | nil, msg, code
--   c:ls(path) / c:directory(path) -> {name, ...}  c:mkdir(path)  c:rm(path)  c:exists(path)
--   c:get_perms(path) -> {"n0", "r5"}              c:set_perms(path, {"n0", "r5"})
--   c:transaction(function(t) ... t:read/t:write/t:ls ... return value end [, {retries = 16}])
--       -> value (true when fn returned nothing) | nil, msg, code. Started again on EAGAIN (a
--       conflicting change); fn returning nil, msg aborts it; an error in fn aborts and goes on.
--   c:watch(path, fn [, {timeout = ms, count = n}]) -> events seen: fn(path, token) per event
--       until it returns false, count events were seen or timeout ms pass without one.
--   for path, token in c:watch(path [, {timeout = ms, count = n}]) do ... end  (an iterator; the
--       watch goes when the loop ends, a break too)
--   A watch fires once when it is set, as xenstored's do. Paths not starting with "/" are
--   relative to /local/domain/0. "@introduceDomain" / "@releaseDomain" are watchable.
--   xs.domain_path(domid) -> "/local/domain/<domid>"
--   xs.read(path), xs.write(...) ... : the same on a connection opened on first use.
local domains = require("xlua.domains")

local xs = {}

local Conn = {}
Conn.__index = Conn

local Tx = {}
Tx.__index = Tx

-- Numbers are written as their text; anything else but a string raises in the C side.
local function text(value)
  return type(value) == "number" and tostring(value) or value
end

function xs.domain_path(domid)
  assert(math.type(domid) == "integer" and domid >= 0, "a domid")
  return "/local/domain/" .. domid
end

-- xs.open([backend]) -> conn | nil, msg, code. backend: a name ("sim", "libxl"), a handle of
-- xlua.domain, or nil for the usual choice (domains.open).
function xs.open(backend)
  local h, err, code = backend, nil, nil
  if type(backend) ~= "userdata" then
    h, err, code = domains.open(backend)
    if not h then
      return nil, err, code
    end
  end
  local c
  c, err, code = h:xs()
  if not c then
    return nil, err, code
  end
  return setmetatable({ c = c, h = h }, Conn)
end

function Conn:read(path) return self.c:read(path) end
function Conn:write(path, value) return self.c:write(path, text(value)) end
function Conn:mkdir(path) return self.c:mkdir(path) end
function Conn:rm(path) return self.c:rm(path) end
function Conn:directory(path) return self.c:directory(path) end
Conn.ls = Conn.directory
Conn.list = Conn.directory
function Conn:get_perms(path) return self.c:get_perms(path) end
function Conn:set_perms(path, perms) return self.c:set_perms(path, perms) end
function Conn:exists(path) return self.c:read(path) ~= nil end
function Conn:close() self.c:close() end
Conn.__close = Conn.close

function Tx:read(path) return self.c:read(path, self.id) end
function Tx:write(path, value) return self.c:write(path, text(value), self.id) end
function Tx:mkdir(path) return self.c:mkdir(path, self.id) end
function Tx:rm(path) return self.c:rm(path, self.id) end
function Tx:directory(path) return self.c:directory(path, self.id) end
Tx.ls = Tx.directory
Tx.list = Tx.directory
function Tx:get_perms(path) return self.c:get_perms(path, self.id) end
function Tx:set_perms(path, perms) return self.c:set_perms(path, perms, self.id) end
function Tx:exists(path) return self.c:read(path, self.id) ~= nil end

-- The low level, for those who want it: start, then t:commit() / t:abort().
function Conn:transaction_start()
  local id, err, code = self.c:tx_start()
  if not id then
    return nil, err, code
  end
  return setmetatable({ c = self.c, id = id }, Tx)
end

function Tx:commit() return self.c:tx_end(self.id, false) end
function Tx:abort() return self.c:tx_end(self.id, true) end

function Conn:transaction(fn, opts)
  local retries = opts and opts.retries or 16
  local last_err
  for _ = 1, retries + 1 do
    local t, err, code = self:transaction_start()
    if not t then
      return nil, err, code
    end
    local results = table.pack(pcall(fn, t))
    if not results[1] then
      t:abort()
      error(results[2], 0)
    end
    if results[2] == nil and results[3] ~= nil then
      t:abort()
      return nil, results[3], results[4]
    end
    local ok
    ok, err, code = t:commit()
    if ok then
      if results[2] == nil then
        return true
      end
      return table.unpack(results, 2, results.n)
    end
    if code ~= "EAGAIN" then
      return nil, err, code
    end
    last_err = err
  end
  return nil, string.format("%s (tried %d times)", last_err, retries + 1), "EAGAIN"
end

local tokens = 0

-- The iterator form, or the callback form when fn is a function.
function Conn:watch(path, fn, opts)
  if type(fn) == "table" or fn == nil then
    fn, opts = nil, fn
  end
  opts = opts or {}
  local timeout, count = opts.timeout or -1, opts.count
  tokens = tokens + 1
  local token = opts.token or string.format("xlua-%d", tokens)
  local ok, err, code = self.c:watch(path, token)
  if not ok then
    if fn then
      return nil, err, code
    end
    error(err, 2)
  end
  local c, seen, done = self.c, 0, false
  local function stop()
    if not done then
      done = true
      c:unwatch(path, token)
    end
  end
  local function next_event()
    if done or (count and seen >= count) then
      stop()
      return nil
    end
    local p, t = c:read_watch(timeout)
    if not p then
      stop()
      if p == nil then
        error(t, 2)
      end
      return nil
    end
    seen = seen + 1
    return p, t
  end
  if not fn then
    return next_event, nil, nil, setmetatable({}, { __close = stop })
  end
  local run_ok, run_err = pcall(function()
    for p, t in next_event do
      if fn(p, t) == false then
        break
      end
    end
  end)
  stop()
  if not run_ok then
    error(run_err, 0)
  end
  return seen
end

-- Module-level functions on a connection opened on first use.
local default
local function conn()
  if not default then
    local c, err, code = xs.open()
    if not c then
      return nil, err, code
    end
    default = c
  end
  return default
end

for _, name in ipairs({ "read", "write", "mkdir", "rm", "directory", "ls", "list", "get_perms",
  "set_perms", "exists", "transaction", "transaction_start", "watch" }) do
  xs[name] = function(...)
    local c, err, code = conn()
    if not c then
      return nil, err, code
    end
    return c[name](c, ...)
  end
end

return xs
