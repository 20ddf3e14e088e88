-- Helpers shared by the domain policies and commands: opening the backend, finding a domain
-- by name or id, the facts a backend needs from a libxl config, and the config store.
local domains = {}

-- Config store keys: the text as written, its format ("xl" | "lua"), the libxl JSON.
domains.KEY_SOURCE, domains.KEY_FORMAT, domains.KEY_JSON = "source", "format", "json"

-- Codes that mean "the input was bad" (exit 2) rather than "the operation failed" (exit 1):
-- the savefile reader's; those of reading a config file, of the xl.cfg parser and the Lua
-- sandbox (xlua.cfg, xlua.sandbox), of converting it (xlua.xlutil, xlua.convert) and of
-- checking libxl JSON (xlua.config); an unknown backend name; a closed standard output.
-- Not EIO: a read or write that fails is the operation failing.
local INPUT_CODES = {}
for code in ([[ENOENT EACCES EISDIR ENOTDIR SHORTHEADER BADMAGIC BYTEORDER BADFLAGS BADOPTLEN
  BADCONFIGLEN NONUL BADEXT LEGACYSTREAM BADSTREAM TRUNCATED RECLEN BADRECTYPE BADPAGE BADZSTD
  BADTRAILER
  SYNTAX RUNTIME LIMIT_INSTRUCTIONS LIMIT_MEMORY LIMIT_TIME LIMIT_RESULT CRASHED BINARY TOOBIG
  BADVALUE ESPIPE UNSAFE
  BADDISK BADPCI BADRATE NEEDHOST
  BADJSON BADCONFIG NOCONFIG
  BADBACKEND EBADF]]):gmatch("%S+") do
  INPUT_CODES[code] = true
end
domains.INPUT_CODES = INPUT_CODES

-- The exit status for a failure code: 2 for a bad input file, 1 otherwise.
function domains.status(code)
  return INPUT_CODES[code] and 2 or 1
end

-- The domain module (the real xlua.domain, or what a spec put in package.loaded).
function domains.module()
  local ok, mod = pcall(require, "xlua.domain")
  if not ok then
    return nil, "the xlua.domain module is not built into this xlua", "NOMODULE"
  end
  return mod
end

-- domains.open([backend]) -> handle | nil, msg, code. backend "sim" | "libxl"; nil follows
-- $XLUA_BACKEND (which `xlua --backend` sets), then the machine (libxl on a Xen dom0).
-- What the compatibility check may know of the host: its domains (for a name already in use)
-- and its memory (for site rules such as examples/site.d/memory-free.lua). h may be nil.
function domains.context(h)
  if not h then
    return {}
  end
  return { domains = h:list() or nil, host = h:host() or nil }
end

-- domains.layout(h) -> the host's CPU and NUMA layout as convert.to_libxl takes it
-- ({max_cpus, online_cpus, nr_nodes, nodes = {[node] = {cpu, ...}}}), or nil when the
-- backend cannot tell.
function domains.layout(h)
  local host = h and h:host()
  if not host or not host.max_cpus then
    return nil
  end
  local nodes = {}
  for cpu, node in pairs(host.cpu_nodes or {}) do
    nodes[node] = nodes[node] or {}
    table.insert(nodes[node], cpu)
  end
  for _, cpus in pairs(nodes) do
    table.sort(cpus)
  end
  return { max_cpus = host.max_cpus, online_cpus = host.online_cpus or host.cpus,
    nr_nodes = host.nr_nodes, nodes = nodes }
end

-- domains.lazy_layout(h) -> nil without h, else a table that asks h for domains.layout(h) the
-- first time one of its fields is read and then holds its fields (all nil when the backend
-- cannot tell): most configs never look at the host, and asking costs the backend a look at
-- every domain (the sim's host facts count their memory). h must stay open until then.
function domains.lazy_layout(h)
  if not h then
    return nil
  end
  return setmetatable({}, { __index = function(t, k)
    setmetatable(t, nil)
    for key, v in pairs(domains.layout(h) or {}) do
      t[key] = v
    end
    return rawget(t, k)
  end })
end

-- opts.changes: the command changes domains. On the simulator chosen implicitly (no --backend,
-- no $XLUA_BACKEND: this machine is no Xen dom0) such a command says so once, on a terminal,
-- so nobody takes a simulated domain for a real one.
local told_sim = false
function domains.open(backend, opts)
  local mod, err, code = domains.module()
  if not mod then
    return nil, err, code
  end
  local h
  h, err, code = mod.open(backend)
  if not h and code == "EINVAL" then
    -- an unknown backend name (--backend or $XLUA_BACKEND) is a usage mistake
    code = "BADBACKEND"
  end
  local implicit = (backend or "") == "" and (os.getenv("XLUA_BACKEND") or "") == ""
  if h and opts and opts.changes and implicit and not told_sim and h:backend() == "sim" then
    told_sim = true
    if require("xlua.progress").isatty(2) then
      io.stderr:write("xlua: note: no Xen dom0 here, so this is the simulated hypervisor "
        .. "(--backend sim or XLUA_BACKEND=sim to say you mean it)\n")
    end
  end
  return h, err, code
end

-- domains.open_find(backend, which [, opts]) -> h, info | nil, msg, code: open the backend
-- (opts as domains.open) and find the domain a command names, for the commands that act on one.
function domains.open_find(backend, which, opts)
  local h, err, code = domains.open(backend, opts)
  if not h then
    return nil, err, code
  end
  local info
  info, err, code = domains.find(h, which)
  if not info then
    return nil, err, code
  end
  return h, info
end

-- domains.find(h, name_or_id) -> info | nil, msg, "NODOMAIN". Digits are a domid.
function domains.find(h, which)
  local info, err, code = h:find(tostring(which))
  if not info then
    return nil, err or (tostring(which) .. " is an invalid domain identifier"), code or "NODOMAIN"
  end
  return info
end

-- A positive whole number (cjson decodes numbers as floats), else nil.
local function positive(n)
  n = type(n) == "number" and math.tointeger(n) or nil
  return n and n > 0 and n or nil
end

-- The plain fields create and restore hand to the backend, from a libxl_domain_config table:
-- {name, uuid, type, memory_kb, max_memory_kb, vcpus}. Missing fields follow libxl's defaults
-- (max memory = memory, one vcpu).
function domains.facts(libxl)
  local c, b = libxl.c_info or {}, libxl.b_info or {}
  local memory = positive(b.target_memkb) or positive(b.max_memkb)
  local facts = {
    name = c.name,
    uuid = c.uuid,
    type = c.type or (type(b.type) == "table" and b.type.kind) or "pv",
    memory_kb = memory,
    max_memory_kb = positive(b.max_memkb) or memory,
    vcpus = positive(b.max_vcpus) or 1,
  }
  if facts.uuid == "00000000-0000-0000-0000-000000000000" then
    facts.uuid = nil
  end
  return facts
end

-- A name from a config or a savefile that the backend would cut (at a NUL) or misread is a bad
-- config, found before anything runs. -> true | nil, msg, "BADCONFIG"
function domains.check_name(name)
  if name == nil then
    return true
  end
  if type(name) ~= "string" then
    return nil, "the domain name must be a string, not " .. type(name), "BADCONFIG"
  end
  if name:find("\0", 1, true) then
    return nil, "the domain name contains a NUL byte", "BADCONFIG"
  end
  return true
end

-- The create/restore argument table for h:create / h:restore.
function domains.create_args(json_text, facts, paused)
  return {
    json = json_text,
    name = facts.name,
    uuid = facts.uuid,
    type = facts.type,
    memory_kb = facts.memory_kb,
    max_memory_kb = facts.max_memory_kb,
    vcpus = facts.vcpus,
    paused = paused and true or false,
  }
end

-- Store {source, format, json} (absent fields are removed, so nothing stale stays), and
-- extra ({key = value}, more keys) with them, in one write of the store.
-- -> true | nil, msg, code
function domains.store_config(h, domid, stored, extra)
  local changes = {
    [domains.KEY_SOURCE] = stored.source or false,
    [domains.KEY_FORMAT] = stored.format or false,
    [domains.KEY_JSON] = stored.json or false,
  }
  for key, value in pairs(extra or {}) do
    changes[key] = value
  end
  return h:store_put_many(domid, changes)
end

-- The stored config: {source, format, json}, each nil when not stored. extra: more keys read
-- in the same load of the store, their values in stored.extra.
function domains.stored_config(h, domid, extra)
  local keys = { domains.KEY_SOURCE, domains.KEY_FORMAT, domains.KEY_JSON }
  for _, key in ipairs(extra or {}) do
    keys[#keys + 1] = key
  end
  local values = h:store_get_many(domid, keys) or {}
  local stored = { extra = {} }
  for i, key in ipairs(keys) do
    if type(values[key]) == "string" then
      if i <= 3 then
        stored[key] = values[key]
      else
        stored.extra[key] = values[key]
      end
    end
  end
  return stored
end

-- domains.rename(h, domid, name) -> true | nil, msg, code: rename the domain and its stored
-- libxl JSON with it, so that `xlua config --json` and a later save see the new name.
function domains.rename(h, domid, name)
  local ok, err, code = h:rename(domid, name)
  if not ok then
    return nil, err, code
  end
  local stored = h:store_get(domid, domains.KEY_JSON)
  local libxl = type(stored) == "string" and require("xlua.json").decode(stored)
  if type(libxl) == "table" and type(libxl.c_info) == "table" then
    libxl.c_info.name = name
    local json = require("xlua.json")
    ok, err, code = h:store_put(domid, domains.KEY_JSON, json.encode(libxl, { indent = "    " }))
    if not ok then
      return nil, "renamed, but its stored config still has the old name: " .. tostring(err), code
    end
  end
  return true
end

-- The six state letters of `xl list` (running, blocked, paused, shutdown, reason, dying).
-- The backends report one state, so "running" shows as r and the reason letter stays "-".
function domains.state_letters(info)
  local s = info.state
  return (s == "running" and "r" or "-") .. "-" .. (s == "paused" and "p" or "-")
    .. (s == "shutdown" and "s" or "-") .. (s == "shutdown" and info.reason == "crash" and "c" or "-")
    .. (s == "dying" and "d" or "-")
end

-- This host's name (for META).
function domains.hostname()
  for _, path in ipairs({ "/proc/sys/kernel/hostname", "/etc/hostname" }) do
    local f = io.open(path, "r")
    if f then
      local name = f:read("l")
      f:close()
      if name and name ~= "" then
        return name
      end
    end
  end
  return os.getenv("HOSTNAME") or "localhost"
end

return domains
