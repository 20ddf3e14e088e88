-- The save policy: a domain's libxl JSON, its config as written and a META record go into the
-- savefile's optional data, then the backend streams the memory; the file is written to a
-- temporary file and renamed over the target only when whole. Then the domain is destroyed,
-- or left running (checkpoint) or paused, as xl save does.
local domains = require("xlua.domains")
local json = require("xlua.json")
local savefile = require("xlua.savefile")
local xlua = require("xlua")

local save = {}

-- The optional data: {config = JSON text, extensions = {...}, meta = table, source, format}.
-- config (xl save's CONFIG argument, as config.load returned it) replaces the domain's JSON
-- and its stored text.
function save.contents(h, info, config)
  local libxl_json, source, format
  if config then
    -- a config without a uuid describes this domain: it keeps its identity
    require("xlua.config").keep_identity(config, info.uuid)
    libxl_json = json.encode(config.libxl, { indent = "    " })
    source, format = config.source, config.format
  else
    local err, code
    libxl_json, err, code = h:config(info.domid)
    if not libxl_json then
      return nil, "unable to retrieve domain configuration: " .. tostring(err), code
    end
    local stored = domains.stored_config(h, info.domid)
    source, format = stored.source, stored.format
  end
  local meta = {
    saved_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    host = domains.hostname(),
    xlua_version = xlua.version,
    name = info.name,
    uuid = info.uuid,
    domid = info.domid,
    memory_kb = info.memory_kb,
  }
  local extensions = {}
  if source then
    extensions[#extensions + 1] = { tag = savefile.EXT_SOURCE, data = source }
    if format then
      extensions[#extensions + 1] = { tag = savefile.EXT_SOURCE_FORMAT, data = format }
    end
  end
  extensions[#extensions + 1] = { tag = savefile.EXT_META, data = json.encode(meta) }
  return { config = libxl_json, extensions = extensions, meta = meta, source = source, format = format }
end

-- Put the domain back the way it was before the save (the backend leaves it paused).
local function put_back(h, info)
  if info.state == "running" then
    return h:unpause(info.domid)
  end
  return true
end

-- A target that is a directory (EISDIR) is refused before the domain is paused, not after
-- its whole memory was streamed (the temporary file is created beside it; only the final
-- rename would fail). "DIR/." opens only when DIR is a directory, and never blocks on a fifo.
local function check_target(path)
  local f = io.open(path .. "/.", "rb")
  if f then
    f:close()
    return nil, path .. ": Is a directory", "EISDIR"
  end
  return true
end

-- save.save(h, domain, path, opts) -> result | nil, msg, code
-- domain: a name or domid; path: a file, or "-" for standard output (opts.out: a Lua file to
-- write to instead). opts: checkpoint (-c: leave it running), pause (-p: leave it paused),
-- zstd (-z), zstd_level, config (a config file replacing the stored one), progress
-- (function(done, total)), on_header (function{mandatory_flags, optional_flags,
-- optional_data_len}, called once the header is written), mode (default 0600).
-- result: {name, domid, path, bytes, action = "destroyed" | "running" | "paused", meta}.
-- On failure the domain is as it was and the target path is untouched.
function save.save(h, domain, path, opts)
  opts = opts or {}
  local cfg, err, code
  if opts.config then
    -- a bad CONFIG is found first, as bad input, before anything else is looked at
    cfg, err, code = require("xlua.config").load(opts.config)
    if not cfg then
      return nil, err, code
    end
  end
  local info
  info, err, code = domains.find(h, domain)
  if not info then
    return nil, err, code
  end
  if info.domid == 0 then
    return nil, "Domain-0 cannot be saved", "EPERM"
  end
  if info.state ~= "running" and info.state ~= "paused" then
    return nil, string.format("domain %s is %s, it cannot be saved", info.name, info.state), "BADSTATE"
  end
  if path ~= "-" and not opts.out then
    local ok
    ok, err, code = check_target(path)
    if not ok then
      return nil, err, code
    end
  end
  local contents
  contents, err, code = save.contents(h, info, cfg)
  if not contents then
    return nil, err, code
  end

  local w
  if path == "-" or opts.out then
    w = savefile.writer(opts.out or io.stdout)
  else
    w, err, code = savefile.create(path, opts.mode or tonumber("600", 8))
    if not w then
      return nil, err, code
    end
  end
  local function abandon(msg, c)
    w:close() -- removes the temporary file of savefile.create
    return nil, msg, c
  end
  -- An error raised from here on (Ctrl-C, or an error from opts.progress, which cancels the
  -- backend's save) goes on once the temporary file is gone and the domain is put back.
  local _ <close> = setmetatable({}, { __close = function(_, raised)
    if raised ~= nil then
      w:close()
      put_back(h, info)
    end
  end })

  local ok
  ok, err, code = w:header({
    config = contents.config,
    json = true,
    streamv2 = true,
    zstd = opts.zstd and true or false,
    zstd_level = opts.zstd_level,
    extensions = contents.extensions,
  })
  if not ok then
    return abandon(err, code)
  end
  if opts.on_header then
    local flags = savefile.FLAG_JSON | savefile.FLAG_STREAMV2 | (opts.zstd and savefile.FLAG_ZSTD or 0)
    opts.on_header({ mandatory_flags = flags, optional_flags = 0, optional_data_len = w:bytes() - 48 })
  end

  -- Not live, even for -c: xl save uses no suspend flags; a live save is what migration does.
  ok, err, code = h:save(info.domid, w, { progress = opts.progress })
  if not ok then
    -- the backend has put the domain back as it was
    return abandon(err, code)
  end
  local bytes
  bytes, err, code = w:finish()
  if not bytes then
    put_back(h, info)
    return abandon(err, code)
  end
  w:close()

  local result = { name = info.name, domid = info.domid, path = path, bytes = bytes, meta = contents.meta }
  if opts.pause then
    result.action = "paused"
  elseif opts.checkpoint then
    put_back(h, info)
    result.action = info.state == "running" and "running" or "paused"
  else
    ok, err, code = h:destroy(info.domid)
    if not ok then
      -- the savefile is whole; the domain must not be left paused without a word
      local back = put_back(h, info)
      return nil, string.format("saved, but the domain could not be destroyed (%s); it was %s",
        tostring(err), back and (info.state == "running" and "unpaused" or "left paused")
          or "left paused, and could not be unpaused"), code
    end
    result.action = "destroyed"
  end
  return result
end

return save
