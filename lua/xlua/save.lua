-- The save policy: a domain's libxl JSON, its config as written and a META record go into the
-- savefile's optional data, then the backend streams the memory; the file is written to a
-- temporary file and renamed over the target only when whole. Then the domain is destroyed,
-- or left running (checkpoint) or paused, as xl save does; a save to a stream never destroys.
local domains = require("xlua.domains")
local json = require("xlua.json")
local savefile = require("xlua.savefile")
local xlua = require("xlua")

local save = {}

-- The optional data: {config = JSON text, extensions = {...}, meta = table, source, format}.
-- config (xl save's CONFIG argument, as config.load returned it) replaces the domain's JSON
-- and its stored text.
function save.contents(h, info, config)
  local libxl_json, source, format, changes
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
    local record = require("xlua.runtime.record")
    local stored = domains.stored_config(h, info.domid, { record.KEY })
    source, format = stored.source, stored.format
    changes = record.decode(stored.extra[record.KEY])
  end
  local meta = {
    saved_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    host = domains.hostname(),
    xlua_version = xlua.version,
    name = info.name,
    uuid = info.uuid,
    domid = info.domid,
    memory_kb = info.memory_kb,
    -- the runtime changes since source was written (mem-set, block-attach, ...)
    runtime = changes and #changes > 0 and changes or nil,
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

-- save.release(h, domid, ledger) -> true | nil, msg, code: release the pause the save took,
-- and only that one (Xen counts pauses: a domain paused before the save stays paused); a domain
-- the save left suspended (ledger.suspended: a save for a destroy, or SUSPENDED) is resumed
-- first. ledger.paused says whether the save still holds its pause; the binding updates both
-- in the same call that changes them. A failure with SUSPENDED: the domain stays suspended.
function save.release(h, domid, ledger)
  if ledger.suspended then
    local ok, err, code = h:resume_saved(domid, ledger)
    if not ok then
      return nil, err, code
    end
  end
  return h:unpause(domid, ledger)
end

local function release(h, info, ledger)
  return save.release(h, info.domid, ledger)
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

-- The compatibility check of a replacement CONFIG against the running domain's config, before
-- anything is paused: a config the domain could not be restored with is refused here, not found
-- deep in a restore. -> report | nil, msg, code
local function check_config(h, info, cfg, opts)
  local running_json, err, code = h:config(info.domid)
  if not running_json then
    return nil, "unable to retrieve domain configuration: " .. tostring(err), code
  end
  local running
  running, err = json.decode(running_json)
  if type(running) ~= "table" then
    return nil, "the running domain's config is not JSON: " .. tostring(err), "BADJSON"
  end
  return require("xlua.compat").check(running, cfg.libxl,
    { site_rules = opts.site_rules, context = opts.context, force = opts.force })
end

-- save.claim(h, info, noun, participle) -> info, lock | nil, msg, code: the domain's lock for
-- a save or a migration ("migration", "migrated"), and the domain as it is once the lock is
-- held (another command may have changed it meanwhile): NODOMAIN when it is gone, BADSTATE
-- unless it runs or is paused. Close the lock when done.
function save.claim(h, info, noun, participle)
  local lock, err, code = h:lock(info.uuid, noun .. " of " .. info.name)
  if not lock then
    return nil, err, code
  end
  local now = h:info(info.domid)
  if not now or now.uuid ~= info.uuid then
    lock:unlock()
    return nil, string.format("domain %s is gone", info.name), "NODOMAIN"
  end
  if now.state ~= "running" and now.state ~= "paused" then
    lock:unlock()
    return nil, string.format("domain %s is %s, it cannot be %s", now.name, now.state, participle),
      "BADSTATE"
  end
  return now, lock
end

-- save.save(h, domain, path, opts) -> result | nil, msg, code [, report]
-- domain: a name or domid; path: a file, or "-" for standard output (opts.out: a Lua file to
-- write to instead). opts: checkpoint (-c: leave it running), pause (-p: leave it paused),
-- zstd (-z), zstd_level, config (a config file replacing the stored one, checked against the
-- running domain's: INCOMPATIBLE with the report unless force), site_rules, context, force,
-- progress (function(done, total)), on_header (function{mandatory_flags, optional_flags,
-- optional_data_len}, called once the header is written), mode (default 0600).
-- result: {name, domid, path, bytes, action = "destroyed" | "running" | "paused", meta,
-- report (with a config), kept_for_stream (a save to a stream leaves the domain paused)}.
-- A save to a stream ("-" or opts.out) never destroys the domain: nothing tells it that the
-- other end has the domain (xlua migrate does that, with a handshake).
-- The domain's lock is held throughout: a second save (or a restore of it) is refused, BUSY.
-- On failure, or an error raised (a signal), the domain is as it was, its pause released, the
-- target path untouched and the temporary file removed; except SUSPENDED: the stream was
-- whole but the domain could not be resumed from its suspend, so the file is kept (it is the
-- domain now) and the domain stays suspended.
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
  local to_stream = path == "-" or opts.out ~= nil
  if not to_stream then
    local ok
    ok, err, code = check_target(path)
    if not ok then
      return nil, err, code
    end
  end
  local claimed, lock, lcode = save.claim(h, info, "save", "saved")
  if not claimed then
    return nil, lock, lcode
  end
  local _ <close> = lock
  info = claimed
  local report
  if cfg then
    require("xlua.config").keep_identity(cfg, info.uuid)
    report, err, code = check_config(h, info, cfg, opts)
    if not report then
      return nil, err, code
    end
    if not report.compatible and not opts.force then
      local n = report.counts.incompatible
      return nil, string.format("%s is not compatible with the running domain: %d incompatible difference%s",
        opts.config, n, n == 1 and "" or "s"), "INCOMPATIBLE", report
    end
  end
  local contents
  contents, err, code = save.contents(h, info, cfg)
  if not contents then
    return nil, err, code
  end

  local w
  if to_stream then
    w, err, code = savefile.writer(opts.out or io.stdout)
  else
    w, err, code = savefile.create(path, opts.mode or tonumber("600", 8))
  end
  if not w then
    return nil, err, code
  end
  local ledger = { paused = false, suspended = false }
  local function abandon(msg, c)
    w:close() -- removes the temporary file of savefile.create
    local back, berr = release(h, info, ledger)
    if not back and ledger.suspended then
      msg = string.format("%s; and %s could not be resumed (%s): it stays suspended", msg, info.name,
        tostring(berr))
    end
    return nil, msg, c
  end
  -- An error raised from here on (a signal, or an error from opts.progress, which cancels the
  -- backend's save) goes on once the temporary file is gone and the pause released. Raised after
  -- the file was written, it keeps the file, and says so: nothing is undone that was done.
  local _ <close> = setmetatable({}, { __close = function(_, raised)
    if raised == nil then
      return
    end
    w:close()
    release(h, info, ledger)
    if w:finished() and type(raised) == "string" then
      local now = h:info(info.domid)
      local gone = not now or now.uuid ~= info.uuid
      error(string.format("%s was saved to %s%s, then %s", info.name, path,
        gone and " and destroyed" or "", raised), 0)
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
  -- A domain destroyed next is left suspended by the backend (as xl save): no pause and resume.
  local destroy = not (opts.pause or opts.checkpoint or to_stream)
  ok, err, code = h:save(info.domid, w, { progress = opts.progress, ledger = ledger, destroy = destroy })
  if not ok and code ~= "SUSPENDED" then
    -- the backend has put the domain back as it was
    return abandon(err, code)
  end
  -- SUSPENDED: the stream is whole, but the domain could not be resumed: the file is kept
  local stuck = not ok and err
  local bytes
  bytes, err, code = w:finish()
  if not bytes then
    return abandon(err, code)
  end
  w:close()
  if stuck then
    ok, err = h:resume_saved(info.domid, ledger)
    if not ok then
      return nil, string.format("%s was saved to %s, but it could not be resumed (%s; then %s): it stays "
        .. "suspended; destroy it and restore the file", info.name, path, stuck, tostring(err)), "SUSPENDED"
    end
  end

  local result = { name = info.name, domid = info.domid, path = path, bytes = bytes, meta = contents.meta,
    report = report }
  if opts.pause then
    result.action = "paused"
  elseif opts.checkpoint then
    release(h, info, ledger)
    result.action = info.state
  elseif to_stream then
    result.action = "paused"
    result.kept_for_stream = true
  else
    ok, err, code = h:destroy(info.domid)
    if not ok then
      -- the savefile is whole; the domain must not be left paused without a word
      local back = release(h, info, ledger)
      return nil, string.format("saved, but the domain could not be destroyed (%s); it was %s",
        tostring(err), back and (info.state == "running" and "unpaused" or "left paused")
          or ledger.suspended and "left suspended, and could not be resumed"
          or "left paused, and could not be unpaused"), code
    end
    result.action = "destroyed"
  end
  return result
end

return save
