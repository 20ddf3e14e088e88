-- A fake of xlua.domain (the C module): the same functions and handle methods over plain Lua
-- tables, so the policies can be specced without a backend. Stateful (one state per fake.reset),
-- and able to fail on demand: fake.fail("save", "disk full", "ENOSPC", {after = 2}) makes the
-- next h:save fail, here after writing two page records. spec/fakes_parity_spec.lua keeps its
-- functions in step with the real module.
local savefile = require("xlua.savefile")
local json = require("xlua.json")

local fake = {}

local PAGES = 4
local state

-- Forget every domain; Domain-0 is domid 0.
function fake.reset()
  state = { domains = {}, next_domid = 1, failures = {}, calls = {}, locks = {} }
  state.domains[0] = {
    domid = 0, name = "Domain-0", uuid = "00000000-0000-0000-0000-000000000000", state = "running",
    type = "pv", memory_kb = 1048576, max_memory_kb = 1048576, vcpus = 1, store = {}, pages = {},
    json = "{}",
  }
  return fake
end

-- The next call of method fails with msg, code. opts.after: for save, the number of page
-- records written first (a stream cut short); for restore, read that far first. opts.whole:
-- for save, the stream is written whole first (code SUSPENDED: the domain stays suspended).
function fake.fail(method, msg, code, opts)
  state.failures[method] = { msg = msg, code = code, opts = opts or {} }
end

-- How many times each handle method was called.
function fake.calls(method)
  return state.calls[method] or 0
end

-- The fake's domain table (a spec may look, or set fields).
function fake.domain(domid)
  return state.domains[domid]
end

local function take_failure(method)
  state.calls[method] = (state.calls[method] or 0) + 1
  local f = state.failures[method]
  state.failures[method] = nil
  return f
end

-- A 64-bit FNV-1a of the memory image, as hex.
local function digest(pages)
  local h = 0xcbf29ce484222325
  for pfn = 0, #pages - 1 do
    local p = pages[pfn + 1]
    for i = 1, #p, 64 do
      h = ((h ~ p:byte(i)) * 0x100000001b3) & 0xffffffffffffffff
    end
  end
  return string.format("%016x", h)
end

local function make_pages(seed)
  local pages = {}
  for pfn = 0, PAGES - 1 do
    local word = string.pack("<I8", (seed * 0x9E3779B97F4A7C15 + pfn * 0x1000193) & 0xffffffffffffffff)
    pages[pfn + 1] = string.rep(word, 512)
  end
  return pages
end

local function info(d)
  return {
    domid = d.domid, name = d.name, uuid = d.uuid, state = d.state, type = d.type,
    memory_kb = d.memory_kb, max_memory_kb = d.max_memory_kb, vcpus = d.vcpus,
    digest = digest(d.pages), reason = d.state == "shutdown" and d.reason or nil,
  }
end

local function lookup(domid)
  local d = state.domains[domid]
  if not d or d.state == "dying" then
    return nil, "domain " .. tostring(domid) .. " does not exist", "NODOMAIN"
  end
  return d
end

local function name_taken(name)
  for _, d in pairs(state.domains) do
    if d.name == name then
      return true
    end
  end
  return false
end

function fake.choose(name)
  name = name or os.getenv("XLUA_BACKEND")
  if name == nil or name == "" or name == "sim" then
    return "sim"
  elseif name == "libxl" then
    return nil, "libxl backend: no Xen here (/proc/xen/capabilities is missing)", "NOXEN"
  end
  return nil, "unknown backend '" .. tostring(name) .. "'", "EINVAL"
end

local Handle = {}
Handle.__index = Handle
Handle.__name = "xlua.domain.handle"

function fake.open(name)
  local backend, err, code = fake.choose(name)
  if not backend then
    return nil, err, code
  end
  local f = state.failures.open
  if f then
    state.failures.open = nil
    return nil, f.msg, f.code
  end
  return setmetatable({ name = backend }, Handle)
end

function Handle:backend()
  return self.name
end

function Handle:host()
  local used = 0
  for domid, d in pairs(state.domains) do
    if domid ~= 0 and d.state ~= "dying" then
      used = used + (d.memory_kb or 0)
    end
  end
  local total = state.host_memory_kb or 16 * 1024 * 1024
  -- two cpus on one node, as the real module shapes it (cpu_nodes counts cpus from 0)
  return { total_memory_kb = total, free_memory_kb = math.max(0, total - used), cpus = 2,
    online_cpus = 2, max_cpus = 2, nr_nodes = 1, cpu_nodes = { [0] = 0, [1] = 0 } }
end

function Handle:close()
  self.closed = true
end

function Handle:list()
  local ids = {}
  for domid, d in pairs(state.domains) do
    if d.state ~= "dying" then
      ids[#ids + 1] = domid
    end
  end
  table.sort(ids)
  local out = {}
  for i, domid in ipairs(ids) do
    out[i] = info(state.domains[domid])
  end
  return out
end

function Handle:info(domid)
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  return info(d)
end

function Handle:find(which)
  local f = take_failure("find")
  if f then
    return nil, f.msg, f.code
  end
  if which:match("^%d+$") then
    local d = lookup(tonumber(which))
    if d then
      return info(d)
    end
  else
    for _, d in pairs(state.domains) do
      if d.name == which and d.state ~= "dying" then
        return info(d)
      end
    end
  end
  return nil, which .. " is an invalid domain identifier", "NODOMAIN"
end

local function new_domain(c, pages)
  if type(c.name) ~= "string" or c.name == "" then
    return nil, "a domain needs a name", "EINVAL"
  end
  if name_taken(c.name) then
    return nil, "domain name " .. c.name .. " is taken", "EXISTS"
  end
  local domid = state.next_domid
  state.next_domid = domid + 1
  local d = {
    domid = domid, name = c.name, uuid = c.uuid or string.format("00000000-0000-4000-8000-%012x", domid),
    state = c.paused and "paused" or "running", pauses = c.paused and 1 or 0, type = c.type or "pv",
    memory_kb = c.memory_kb, max_memory_kb = c.max_memory_kb or c.memory_kb, vcpus = c.vcpus or 1,
    json = c.json, store = {}, pages = pages or make_pages(domid),
  }
  state.domains[domid] = d
  return d
end

function Handle:create(c)
  local f = take_failure("create")
  if f then
    return nil, f.msg, f.code
  end
  local d, err, code = new_domain(c)
  if not d then
    return nil, err, code
  end
  return d.domid
end

local function simple(method, want, to)
  return function(_, domid)
    local f = take_failure(method)
    if f then
      return nil, f.msg, f.code
    end
    local d, err, code = lookup(domid)
    if not d then
      return nil, err, code
    end
    if want and d.state ~= want then
      return nil, "domain " .. d.name .. " is " .. d.state, "BADSTATE"
    end
    if to then
      d.state = to
    else
      state.domains[domid] = nil
    end
    return true
  end
end

Handle.destroy = simple("destroy")

-- As Xen (and both backends): toolstack pauses are counted, so pausing a paused domain
-- succeeds and each unpause undoes one; unpausing a domain with none is BADSTATE.
function Handle:pause(domid)
  local f = take_failure("pause")
  if f then
    return nil, f.msg, f.code
  end
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  d.pauses = (d.pauses or 0) + 1
  d.state = "paused"
  return true
end

-- With a ledger ({paused = bool}), only the pause it records is undone, once.
function Handle:unpause(domid, ledger)
  if ledger and not ledger.paused then
    return true
  end
  local f = take_failure("unpause")
  if f then
    return nil, f.msg, f.code
  end
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  if (d.pauses or 0) == 0 then
    return nil, "domain " .. d.name .. " is not paused", "BADSTATE"
  end
  d.pauses = d.pauses - 1
  if d.pauses == 0 then
    d.state = "running"
  end
  if ledger then
    ledger.paused = false
  end
  return true
end

-- Per-domain locks, one per uuid in this fake's state.
local Lock = {}
Lock.__index = Lock
function Lock:unlock()
  if self.uuid then
    state.locks[self.uuid] = nil
    self.uuid = nil
  end
end
function Lock:note(what)
  if self.uuid then
    state.locks[self.uuid] = "xlua " .. what
  end
end
Lock.__close = Lock.unlock
Lock.__gc = Lock.unlock

function Handle:lock(uuid, what)
  local f = take_failure("lock")
  if f then
    return nil, f.msg, f.code
  end
  if state.locks[uuid] then
    return nil, "domain " .. uuid .. " is busy: " .. state.locks[uuid] .. " holds it", "BUSY"
  end
  state.locks[uuid] = "xlua " .. what
  return setmetatable({ uuid = uuid }, Lock)
end

-- Whether a spec's domain uuid is locked now.
function fake.locked(uuid)
  return state.locks[uuid] ~= nil
end

function Handle:rename(domid, name)
  local f = take_failure("rename")
  if f then
    return nil, f.msg, f.code
  end
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  if d.name ~= name and name_taken(name) then
    return nil, "domain name " .. name .. " is taken", "EXISTS"
  end
  d.name = name
  return true
end

function Handle:config(domid)
  local f = take_failure("config")
  if f then
    return nil, f.msg, f.code
  end
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  local cfg = d.json and json.decode(d.json) or { c_info = {}, b_info = {} }
  cfg.c_info = cfg.c_info or {}
  cfg.c_info.name = d.name
  return json.encode(cfg)
end

-- The stream as the sim writes it: libxl header, LIBXC_CONTEXT, libxc headers, PAGE_DATA
-- (one record per page), libxc END, libxl END.
function Handle:save(domid, w, opts)
  opts = opts or {}
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  local f = take_failure("save")
  local before = d.state
  d.state = "paused"
  local function fail(msg, c)
    d.state = before
    return nil, msg, c
  end
  -- like the backends: on success the domain holds one more pause, the save's
  if f and not f.opts.after and not f.opts.whole then
    return fail(f.msg, f.code)
  end
  local ok
  ok, err, code = w:libxl_header()
  if ok then ok, err, code = w:record(1, "") end
  if ok then
    ok, err, code = w:libxc_headers({ domain_type = 1, page_shift = 12, xen_major = 4, xen_minor = 17, version = 3 })
  end
  for pfn = 0, #d.pages - 1 do
    if not ok then
      break
    end
    if f and pfn == f.opts.after then
      return fail(f.msg, f.code)
    end
    ok, err, code = w:record(1, string.pack("<I4I4I8", 1, 0, pfn) .. d.pages[pfn + 1])
    if opts.progress then
      -- as the binding: an error from progress cancels, puts the domain back, and goes on
      local called, e = pcall(opts.progress, (pfn + 1) * 4096, #d.pages * 4096)
      if not called then
        d.state = before
        error(e, 0)
      end
    end
  end
  if ok then ok, err, code = w:record(0, "") end
  if ok then ok, err, code = w:record(0, "") end
  if not ok then
    return fail(err, code)
  end
  -- like libxl: with destroy the domain stays suspended (shut down, reason suspend), and a
  -- stream that is whole but whose domain cannot be resumed fails with SUSPENDED
  if opts.destroy or (f and f.opts.whole and f.code == "SUSPENDED") then
    d.state, d.reason, d.suspended = "shutdown", "suspend", before
    if opts.ledger then
      opts.ledger.suspended = true
    end
    if f then
      return nil, f.msg, f.code
    end
    return true
  end
  if f and f.opts.whole then
    return fail(f.msg, f.code)
  end
  d.pauses = (d.pauses or 0) + 1
  if opts.ledger then
    opts.ledger.paused = true
  end
  return true
end

-- A domain a save left suspended gets the save's pause instead (ledger: only when it says
-- suspended).
function Handle:resume_saved(domid, ledger)
  if ledger and not ledger.suspended then
    return true
  end
  local f = take_failure("resume_saved")
  local d, err, code = lookup(domid)
  if not d then
    return nil, err, code
  end
  if f then
    return nil, f.msg, f.code
  end
  if not d.suspended then
    return nil, "domain " .. d.name .. " was not suspended by a save", "BADSTATE"
  end
  d.state, d.reason, d.suspended = "paused", nil, nil
  d.pauses = (d.pauses or 0) + 1
  if ledger then
    ledger.suspended, ledger.paused = false, true
  end
  return true
end

-- Reads the stream, checks the trailer, and only then creates the domain.
function Handle:restore(c)
  local f = take_failure("restore")
  if f and not f.opts.after then
    return nil, f.msg, f.code
  end
  local r = c.reader
  local pages = {}
  while true do
    local rec, err, code = r:next_record(true)
    if rec == nil then
      return nil, err, code
    elseif rec == false then
      break
    end
    if rec.layer == "libxc" and rec.name == "PAGE_DATA" then
      local count = string.unpack("<I4", rec.body)
      local data = 8 + 8 * count
      for i = 0, count - 1 do
        local pfn = string.unpack("<I8", rec.body, 9 + 8 * i)
        pages[pfn + 1] = rec.body:sub(data + 1, data + 4096)
        data = data + 4096
      end
      if f and #pages >= f.opts.after then
        return nil, f.msg, f.code
      end
      if c.progress then
        c.progress(#pages * 4096, 0)
      end
    end
  end
  local ok, err, code = r:verify()
  if not ok then
    return nil, err, code
  end
  local d
  d, err, code = new_domain(c, pages)
  if not d then
    return nil, err, code
  end
  if c.ledger then
    c.ledger.domid = d.domid
  end
  return d.domid
end

-- A method on one domain: a failure asked for with fake.fail first, then the domain looked up,
-- then body(d, ...).
local function on_domain(method, body)
  return function(_, domid, ...)
    local f = take_failure(method)
    if f then
      return nil, f.msg, f.code
    end
    local d, err, code = lookup(domid)
    if not d then
      return nil, err, code
    end
    return body(d, ...)
  end
end

Handle.store_put = on_domain("store_put", function(d, key, value)
  d.store[key] = value
  return true
end)

Handle.store_get = on_domain("store_get", function(d, key)
  if d.store[key] == nil then
    return nil, "no store key " .. key, "ENOENT"
  end
  return d.store[key]
end)

Handle.store_remove = on_domain("store_remove", function(d, key)
  d.store[key] = nil
  return true
end)

Handle.store_get_many = on_domain("store_get_many", function(d, keys)
  local out = {}
  for _, key in ipairs(keys) do
    out[key] = d.store[key]
  end
  return out
end)

-- All or nothing, as one write of the store.
Handle.store_put_many = on_domain("store_put_many", function(d, changes)
  for key, value in pairs(changes) do
    d.store[key] = value or nil
  end
  return true
end)

Handle.store_keys = on_domain("store_keys", function(d)
  local keys = {}
  for k in pairs(d.store) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end)

-- A domain's life: the fake guest does at once what it is asked, as the sim's does.
local function down(d, reason)
  d.state, d.reason, d.pauses = "shutdown", reason, 0
end

Handle.request = on_domain("request", function(d, what)
  down(d, what == "reboot" and "reboot" or "poweroff")
  return true
end)

Handle.trigger = on_domain("trigger", function(d, what)
  if what == "power" then
    down(d, "poweroff")
  elseif what == "reset" then
    down(d, "reboot")
  end
  return true
end)

Handle.sysrq = on_domain("sysrq", function(d, key)
  if key == "c" then
    down(d, "crash")
  end
  return true
end)

-- Returns at once: the domain's state now (false while it runs, as a timeout would).
function Handle:wait_shutdown(domid)
  local f = take_failure("wait_shutdown")
  if f then
    return nil, f.msg, f.code
  end
  local d = state.domains[domid]
  if not d then
    return nil, "domain " .. domid .. " is gone", "NODOMAIN"
  end
  if d.state == "shutdown" then
    local i = info(d)
    i.reason = d.reason
    return i
  end
  return false
end

Handle.preserve = on_domain("preserve", function(d, suffix, uuid)
  d.name, d.uuid = d.name .. suffix, uuid
  return true
end)

Handle.core_dump = on_domain("core_dump", function(d, path)
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(d.pages))
  f:close()
  return true
end)

Handle.console = on_domain("console", function()
  return true
end)

Handle.soft_reset = on_domain("soft_reset", function(d)
  if d.state ~= "shutdown" or d.reason ~= "soft_reset" then
    return nil, "not shut down for a soft reset", "BADSTATE"
  end
  d.state, d.reason = "running", nil
  return true
end)

function Handle:run_dir()
  return "/nonexistent/fake-run"
end

-- xenstore: the fake has none (policies over xenstore are specced against the sim).
function Handle:xs()
  return nil, "the fake backend has no xenstore", "NOXEN"
end

-- runtime changes (mem_set, vcpu_set, device_add, ...)
require("fakes.domain_runtime").install(Handle, on_domain)

fake.Handle = Handle
fake.reset()
-- Put the fake where require("xlua.domain") finds it (busted insulates each spec file, so the
-- real module is back for the next file).
function fake.install()
  package.loaded["xlua.domain"] = fake
  return fake
end

return fake
