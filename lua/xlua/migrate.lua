-- The sending side of a migration (xlua migrate): xl's protocol (xlua.migration), with the
-- savefile header of xlua.save and the backend's live stream. The domain is destroyed only
-- once the receiver reports that its copy runs, and then at once (as xl); on any failure
-- before that it is renamed back and resumed here.
local domains = require("xlua.domains")
local json = require("xlua.json")
local migration = require("xlua.migration")
local save = require("xlua.save")
local savefile = require("xlua.savefile")
local transport = require("xlua.transport")

local migrate = {}

-- How long the sender waits for an xlua receiver's early answer before streaming anyway (an
-- xl receiver never answers). A later answer is still read, after the stream.
migrate.ANSWER_WAIT = 2

-- -D: the config asks for the domain's own domid at the receiver (as xl -D).
local function keep_domid(libxl_json, domid)
  local t = json.decode(libxl_json)
  if type(t) ~= "table" or type(t.c_info) ~= "table" then
    return libxl_json
  end
  t.c_info.domid = domid
  return json.encode(t, { indent = "    " })
end

-- The running config, for the receiver's check when -C replaces it.
local function running_config(h, info)
  local text, err, code = h:config(info.domid)
  if not text then
    return nil, "unable to retrieve domain configuration: " .. tostring(err), code
  end
  return text
end

-- migrate.migrate(h, domain, opts) -> {name, domid, peer = "xl" | "xlua"}
--   | nil, msg, code, extra
-- opts: rune (the transport command), config (-C: a config file replacing the stored one),
-- preserve_domid (-D), zstd (-z: only an xlua receiver takes it), debug (--debug: the backend's
-- suspend debugging, as xl's LIBXL_SUSPEND_DEBUG), answer_wait (seconds),
-- progress (function(done, total)), say (function(line): xl's progress lines).
-- Codes: the save's and the backend's; REFUSED (the receiver refused: extra.report holds its
-- compatibility report), PEERGONE (the receiver or its transport ended), PROTOCOL, TARGETFAILED
-- (the receiver could not start its copy), UNDEFINED (the final handshake broke after GO: the
-- domain may run at both ends or at none; it is left paused as NAME--migratedaway here).
-- extra.resumed: the domain runs here again (or never stopped). The domain's lock is held
-- throughout; an error raised (a signal) before GO puts the domain back as it was, one after
-- the receiver's success report still destroys the old copy.
-- opts.outcome (a table): filled as it goes, read it whether this returns or raises:
--   where = "here" (the domain is here; resumed = whether it was put back running, nil while
--   the migration had not touched it),
--   "undefined" (GO was sent and no verdict came: it is left paused here as away),
--   "there" (it runs at the receiver; away = the name of its old copy here when that could
--   not be destroyed, nil when it was).
function migrate.migrate(h, domain, opts)
  opts = opts or {}
  local outcome = opts.outcome or {}
  outcome.where, outcome.resumed, outcome.away = "here", nil, nil
  local say = opts.say or function() end
  local cfg, err, code
  if opts.config then
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
    return nil, "Domain-0 cannot be migrated", "EPERM"
  end
  local claimed, lock, lcode = save.claim(h, info, "migration", "migrated")
  if not claimed then
    return nil, lock, lcode
  end
  local _ <close> = lock
  info = claimed
  local original
  if cfg then
    original, err, code = running_config(h, info)
    if not original then
      return nil, err, code
    end
  end
  local contents
  contents, err, code = save.contents(h, info, cfg)
  if not contents then
    return nil, err, code
  end
  if opts.preserve_domid then
    contents.config = keep_domid(contents.config, info.domid)
  end
  table.insert(contents.extensions, migration.announcement(info.name, original))

  local peer
  peer, err, code = transport.spawn(opts.rune)
  if not peer then
    return nil, err, code
  end
  local w
  local ledger = { paused = false, suspended = false }
  local name, away = info.name, nil
  -- "go": GO may have reached the receiver; "moved": its copy runs, ours goes; "done": nothing
  -- left to undo
  local stage = "start"
  local function hang_up()
    if w then
      w:close()
      w = nil
    end
    if peer.send then
      transport.close(peer.send)
      peer.send = nil
    end
  end
  local function finish_transport()
    hang_up()
    if peer.recv then
      transport.close(peer.recv)
      peer.recv = nil
    end
    -- as xl: the transport child is given a moment to exit, then left alone
    transport.wait(peer.pid, 2)
  end
  -- Put the domain back: its name, then the pause the save took (and its suspend, when the
  -- backend could not cancel it: SUSPENDED).
  local function resume()
    if away then
      domains.rename(h, info.domid, name)
      away = nil
    end
    local ok, uerr, ucode = save.release(h, info.domid, ledger)
    outcome.resumed = ok and true or false
    return ok, uerr, ucode
  end
  -- The receiver's copy runs: ours goes. Destroyed, or gone already (a signal may have cut in
  -- after the backend destroyed it).
  local function destroy_old()
    local ok, derr, dcode = h:destroy(info.domid)
    if not ok then
      local still = h:info(info.domid)
      if still and still.uuid == info.uuid then
        return nil, derr, dcode
      end
    end
    outcome.away = nil
    return true
  end
  local function failed(msg, c, extra)
    hang_up()
    extra = extra or {}
    -- the receiver's last word, when the stream broke because it left (a refusal that came
    -- after the answer wait); any other failure is this end's own, and said as such
    if c == "EPIPE" and peer.recv and transport.readable(peer.recv, 5) then
      local m = migration.next_message(peer.recv)
      if m and m.kind == "refused" then
        msg, c, extra.report = m.message, "REFUSED", m.report
      end
    end
    extra.resumed = resume() and true or false
    finish_transport()
    stage = "done"
    return nil, msg, c, extra
  end
  local _ <close> = setmetatable({}, { __close = function(_, raised)
    if raised == nil or stage == "done" then
      return
    end
    hang_up()
    local old_gone, derr = true, nil
    if stage == "moved" then
      if outcome.away then
        old_gone, derr = destroy_old()
      end
    elseif stage ~= "go" then
      resume()
    end
    finish_transport()
    if type(raised) ~= "string" then
      return
    end
    if stage == "go" then
      error(string.format("%s may run at the receiver already (GO was sent; it is left paused here "
        .. "as %s): check both ends, then %s", name, tostring(away), raised), 0)
    elseif stage == "moved" and old_gone then
      error("the domain runs at the receiver and its old copy here was destroyed; " .. raised, 0)
    elseif stage == "moved" then
      error(string.format("the domain runs at the receiver, but its old copy here (%s, paused: never "
        .. "unpause it) could not be destroyed (%s); %s", away, tostring(derr), raised), 0)
    end
  end })

  local ok
  ok, err, code = migration.expect(peer.recv, "banner", migration.BANNER)
  if not ok then
    return failed("the receiver did not start: " .. err, code)
  end
  w, err, code = savefile.writer(peer.send)
  if not w then
    return failed(err, code)
  end
  ok, err, code = w:header({
    config = contents.config, json = true, streamv2 = true, zstd = opts.zstd and true or false,
    extensions = contents.extensions,
  })
  if ok then
    ok, err, code = w:flush()
  end
  if not ok then
    return failed(err, code)
  end
  say(string.format("Saving to migration stream new xl format (info 0x%x/0x0/%d)",
    savefile.FLAG_JSON | savefile.FLAG_STREAMV2 | (opts.zstd and savefile.FLAG_ZSTD or 0), w:bytes() - 48))

  -- An xlua receiver answers the header at once; with -z the sender must know before the
  -- stream (an xl receiver refuses the zstd flag and leaves).
  local answer
  if opts.zstd or transport.readable(peer.recv, opts.answer_wait or migrate.ANSWER_WAIT) then
    answer, err, code = migration.next_message(peer.recv)
    if not answer then
      if opts.zstd and code == "PEERGONE" then
        err = err .. " (-z needs an xlua receiver: xl refuses a compressed stream)"
      end
      return failed(err, code)
    end
    if answer.kind == "refused" then
      return failed(answer.message, "REFUSED", { report = answer.report })
    elseif answer.kind ~= "accepted" then
      return failed("the receiver said it was ready before the stream", "PROTOCOL")
    end
  end

  ok, err, code = h:save(info.domid, w, { live = true, debug = opts.debug, progress = opts.progress, ledger = ledger })
  if not ok then
    return failed(err, code)
  end
  -- The stream is out; an xl receiver now answers READY, an xlua one has answered already.
  if not answer then
    ok, err, code = w:flush()
    if not ok then
      return failed(err, code)
    end
    answer, err, code = migration.next_message(peer.recv)
    if not answer then
      return failed(err, code)
    end
    if answer.kind == "refused" then
      return failed(answer.message, "REFUSED", { report = answer.report })
    end
  end
  local ready = answer.kind == "ready"
  local peer_kind = ready and "xl" or "xlua"
  ok, err, code = w:finish(not ready)   -- the trailer, for an xlua receiver only
  if not ok then
    return failed(err, code)
  end
  if not ready then
    local m
    m, err, code = migration.next_message(peer.recv)
    if not m then
      return failed(err, code)
    elseif m.kind == "refused" then
      return failed(m.message, "REFUSED", { report = m.report })
    elseif m.kind ~= "ready" then
      return failed("the receiver answered twice", "PROTOCOL")
    end
  end
  say("migration sender: Target has acknowledged transfer" .. (ready and "." or " (xlua: stream verified end to end)."))

  -- Rename ours away before the receiver may take the name.
  local away_name = migration.away_name(name)
  ok, err, code = domains.rename(h, info.domid, away_name)
  if not ok then
    return failed("cannot rename the domain away: " .. tostring(err), code)
  end
  away = away_name
  say("migration sender: Giving target permission to start.")
  stage, outcome.where = "go", "undefined"
  ok, err, code = transport.write(peer.send, migration.GO)
  if not ok then
    -- a pipe write of GO is all or nothing: a receiver that is gone never got it
    stage, outcome.where = "start", "here"
    return failed("the receiver left before it was given permission to start: " .. err, "PEERGONE")
  end
  ok, err, code = migration.expect(peer.recv, "success/failure report message", migration.REPORT)
  local status
  if ok then
    status, err, code = transport.read(peer.recv, 1)
  end
  if not ok or not status then
    hang_up()
    finish_transport()
    stage = "done"
    return nil, "the final handshake failed (" .. tostring(err) .. ")", "UNDEFINED", { resumed = false }
  end
  if status ~= "\0" then
    say(string.format("migration sender: Target reports startup failure (status code %d).", status:byte()))
    ok, err, code = migration.expect(peer.recv, "permission for sender to resume", migration.GO)
    if not ok then
      hang_up()
      finish_transport()
      stage = "done"
      return nil, "the receiver failed to start its copy and did not confirm it destroyed it ("
        .. tostring(err) .. ")", "UNDEFINED", { resumed = false }
    end
    stage, outcome.where = "start", "here"
    say("migration sender: Trying to resume at our end.")
    return failed("the receiver could not start its copy", "TARGETFAILED")
  end
  -- From here the old copy goes whatever happens, before the transport's end is awaited.
  stage, outcome.where, outcome.away = "moved", "there", away_name
  say("migration sender: Target reports successful startup.")
  ok, err, code = destroy_old()
  finish_transport()
  stage = "done"
  if not ok then
    return nil, string.format("the domain runs at the receiver, but its old copy here (%s, paused: never "
      .. "unpause it) could not be destroyed: %s", away_name, tostring(err)), code, { resumed = false, moved = true }
  end
  return { name = name, domid = info.domid, peer = peer_kind }
end

return migrate
