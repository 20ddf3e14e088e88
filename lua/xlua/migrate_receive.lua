-- The receiving side of a migration (xlua migrate-receive): xl's protocol (xlua.migration) on
-- standard input (the stream) and standard output (the back channel), with the read and
-- build steps of xlua.restore. The domain is built paused as NAME--incoming, and runs only
-- once the sender said GO; on any failure nothing of it is left here.
local compat = require("xlua.compat")
local domains = require("xlua.domains")
local json = require("xlua.json")
local migration = require("xlua.migration")
local restore = require("xlua.restore")
local savefile = require("xlua.savefile")
local transport = require("xlua.transport")

local receive = {}

-- The running domain named name, or nil.
local function named(h, name)
  for _, d in ipairs(h:list() or {}) do
    if d.name == name then
      return d
    end
  end
  return nil
end

-- Why the domain cannot come here: its name is another domain's (a domain of that name with
-- the same uuid is the sender itself, on this host), or its temporary name is taken.
-- -> nil | msg, code
local function conflict(h, name, incoming, uuid)
  local same = named(h, name)
  if same and not (uuid and same.uuid and same.uuid:lower() == uuid:lower()) then
    return string.format("a domain named '%s' already exists here (domid %d, another uuid)", name, same.domid),
      "EXISTS"
  end
  local temp = named(h, incoming)
  if temp then
    return string.format("a domain named '%s' already exists here (domid %d): another migration of it?",
      incoming, temp.domid), "EXISTS"
  end
  return nil
end

-- receive.receive(h, opts) -> {name, domid, report, peer = "xl" | "xlua"} | nil, msg, code
-- opts: recv, send (fds; default standard input and output), paused (-p: leave it paused),
-- site_rules, context (for the compatibility check), progress, say (function(line)).
-- An xlua sender gets the verdict (accepted, or refused with the reason and the compatibility
-- report) before the stream; an xl sender, which cannot read it, only sees this end leave.
function receive.receive(h, opts)
  opts = opts or {}
  local say = opts.say or function() end
  local recv, send = opts.recv or 0, opts.send or 1
  say("migration target: Ready to receive domain.")
  local ok, err, code = transport.write(send, migration.BANNER)
  if not ok then
    return nil, err, code
  end
  local reader
  reader, err, code = savefile.open(recv, "<incoming migration stream>")
  if not reader then
    return nil, err, code
  end
  local plan
  plan, err, code = restore.prepare(reader, { name = "<incoming migration stream>",
    site_rules = opts.site_rules, context = opts.context })
  if not plan then
    reader:close()
    return nil, err, code
  end
  local exts = reader:extensions() or {}
  local sender = migration.announced(exts)
  local function refuse(msg, c, report)
    if sender then
      migration.answer(send, { message = msg, code = c, report = report })
    end
    restore.close(plan)
    -- an xlua sender shows the report; for an xl sender this end's messages are all there is
    return nil, msg, c, not sender and report or nil
  end
  if sender and sender.original then
    -- -C at the sender: its config against the domain's running one, by this host's rules
    local original = json.decode(sender.original)
    if type(original) ~= "table" then
      return refuse("the sender's original config is not JSON", "BADJSON")
    end
    plan.saved.libxl = original
    plan.report = compat.check(original, plan.wanted.libxl, { site_rules = opts.site_rules, context = opts.context })
  end
  local name, uuid = plan.facts.name, plan.facts.uuid
  if type(name) ~= "string" or name == "" then
    return refuse("the incoming config names no domain", "BADCONFIG")
  end
  local incoming = migration.incoming_name(name)
  local why
  why, code = conflict(h, name, incoming, uuid)
  if why then
    return refuse(why, code)
  end
  if not plan.report.compatible then
    local n = plan.report.counts.incompatible
    return refuse(string.format("the config is not compatible here: %d incompatible difference%s", n,
      n == 1 and "" or "s"), "INCOMPATIBLE", compat.text(plan.report))
  end
  if sender then
    ok, err, code = migration.answer(send)
    if not ok then
      restore.close(plan)
      return nil, err, code
    end
    reader:expect_trailer("required")
  else
    reader:expect_trailer("none")
  end

  local domid
  local started = false
  -- Whatever stops this end before its copy was handed over (an error, a signal), the copy
  -- goes: the sender still has the domain, or gets it back. Once started, it stays.
  local _ <close> = setmetatable({}, { __close = function(_, raised)
    if domid and not started then
      h:destroy(domid)
    elseif started and type(raised) == "string" then
      error(string.format("%s runs here (domid %d); %s", name, domid, raised), 0)
    end
  end })
  local result
  result, err, code = restore.run(h, plan, {
    paused = true,
    name = incoming,
    lock_role = "incoming",
    progress = opts.progress,
    conflict = function(hh) return conflict(hh, name, incoming, uuid) end,
  })
  if not result then
    -- an xlua sender reads this instead of READY; an xl sender sees the stream end
    return refuse(err, code)
  end
  domid = result.domid
  say("migration target: Transfer complete, requesting permission to start domain.")
  ok, err, code = transport.write(send, migration.READY)
  if not ok then
    return nil, err, code
  end
  ok, err, code = migration.expect(recv, "GO message", migration.GO)
  if ok then
    say("migration target: Got permission, starting domain.")
    ok, err, code = domains.rename(h, domid, name)
    if ok and not opts.paused then
      ok, err, code = h:unpause(domid)
    end
  end
  -- Ours is the domain now, before the report says so: once the sender may have read it (and
  -- destroyed its copy), nothing here may take ours. A report lost to a signal leaves the
  -- sender its paused copy, the safe side.
  started = ok and true or false
  -- The report: one byte after it, 0 when the domain runs here.
  local sent = transport.write(send, migration.REPORT .. (ok and "\0" or "\1"))
  if ok then
    say("migration target: Domain started successsfully.")
    return { name = name, domid = domid, report = plan.report, peer = sender and "xlua" or "xl",
      reported = sent and true or false }
  end
  say("migration target: Failure, destroying our copy.")
  local destroyed, derr = h:destroy(domid)
  if not destroyed then
    return nil, "could not destroy the failed copy: " .. tostring(derr), "EIO"
  end
  domid = nil
  say("migration target: Cleanup OK, granting sender permission to resume.")
  transport.write(send, migration.GO)
  return nil, err, code
end

return receive
