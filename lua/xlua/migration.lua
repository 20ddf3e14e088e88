-- xl's migration protocol (Xen 4.17, tools/xl/xl_migrate.c), the messages both ends of
-- `xlua migrate` / `xlua migrate-receive` exchange, and xlua's additions between two xlua ends.
--
--   receiver -> sender   BANNER (without its NUL)
--   sender -> receiver   the savefile header and optional data (config), then the libxl stream
--   receiver -> sender   READY (with its NUL), once the domain is built, paused
--   sender -> receiver   GO (with its NUL), once the sender renamed its copy NAME--migratedaway
--   receiver -> sender   REPORT (with its NUL), then one byte: 0 the domain runs, else failure;
--                        on failure the receiver destroys its copy, then sends GO (the sender
--                        may resume)
--
-- xlua's additions never reach an xl peer: an xlua sender announces itself in an extension
-- entry of the optional data (EXT_MIGRATE, which xl skips); only an xlua receiver answers it,
-- right after reading the header, with an ANSWER message (accepted, or refused with the
-- reason and its compatibility report) on the back channel, and only after an accept does the
-- sender append the stream's trailer (XXH3-128, as in a savefile), which the receiver checks
-- before it says READY.
local json = require("xlua.json")
local transport = require("xlua.transport")

local migration = {}

migration.BANNER = "xl migration receiver ready, send binary domain data.\n"
migration.READY = "domain received, ready to unpause\0"
migration.GO = "domain is yours, you are cleared to unpause\0"
migration.REPORT = "my copy unpause results are as follows\0"

-- The extension tag of the sender's announcement (core/savefile/sf_format.h reserves it): JSON
-- {protocol = 1, name, original = the running domain's libxl JSON when -C replaced it}.
migration.EXT_MIGRATE = 4
migration.PROTOCOL = 1

-- ANSWER: "XLUA-MIG", one letter ("A" accepted, "R" refused), a big-endian u32 length, then
-- JSON {message, code, report (compat.text)} for a refusal, {} for an accept. Its first 8
-- bytes differ from READY's, so the sender tells the two apart.
local ANSWER_MAGIC = "XLUA-MIG"
local ANSWER_MAX = 1 << 20

-- The temporary names, as xl's, cut so that they fit the 128 bytes a name may have.
local NAME_MAX = 128
local function suffixed(name, suffix)
  return name:sub(1, NAME_MAX - #suffix) .. suffix
end
function migration.incoming_name(name)
  return suffixed(name, "--incoming")
end
function migration.away_name(name)
  return suffixed(name, "--migratedaway")
end

-- migration.rune(ssh, host, flags) -> the transport command: `-s ''` makes HOST the command.
function migration.rune(ssh, host, flags)
  if ssh == "" then
    return host
  end
  return string.format("exec %s %s xlua migrate-receive%s", ssh, host, flags)
end

function migration.announcement(name, original)
  return { tag = migration.EXT_MIGRATE,
    data = json.encode({ protocol = migration.PROTOCOL, name = name, original = original }) }
end

-- The announcement among a reader's extensions, decoded, or nil (an xl sender).
function migration.announced(extensions)
  for _, e in ipairs(extensions or {}) do
    if e.tag == migration.EXT_MIGRATE then
      local t = json.decode(e.data)
      return type(t) == "table" and t or { protocol = 0 }
    end
  end
  return nil
end

function migration.answer(fd, refusal)
  local body = json.encode(refusal or {})
  return transport.write(fd, ANSWER_MAGIC .. (refusal and "R" or "A") .. string.pack(">I4", #body) .. body)
end

-- migration.expect(fd, what, message) -> true | nil, msg, code: read exactly message.
function migration.expect(fd, what, message)
  local got, err, code = transport.read(fd, #message)
  if not got then
    return nil, string.format("%s: %s instead of the %s", err, code == "EOF" and "the peer left" or code, what),
      code == "EOF" and "PEERGONE" or code
  end
  if got ~= message then
    return nil, string.format("the migration stream contained unexpected data (%q) instead of the %s",
      got:sub(1, 16), what), "PROTOCOL"
  end
  return true
end

-- migration.next_message(fd) -> {kind = "ready"} | {kind = "accepted"} | {kind = "refused",
-- message, code, report} | nil, msg, code (PEERGONE when the peer left, PROTOCOL): what an
-- xlua sender reads on the back channel, where an xl receiver only ever sends READY.
function migration.next_message(fd)
  local head, err, code = transport.read(fd, #ANSWER_MAGIC)
  if not head then
    if code == "EOF" then
      return nil, "the receiver ended without a word", "PEERGONE"
    end
    return nil, err, code
  end
  if head == migration.READY:sub(1, #head) then
    local rest
    rest, err, code = transport.read(fd, #migration.READY - #head)
    if not rest then
      return nil, "the receiver ended inside its ready message", code == "EOF" and "PEERGONE" or code
    end
    if head .. rest ~= migration.READY then
      return nil, string.format("the migration receiver stream contained unexpected data (%q) instead of "
        .. "the ready message", (head .. rest):sub(1, 16)), "PROTOCOL"
    end
    return { kind = "ready" }
  end
  if head ~= ANSWER_MAGIC then
    return nil, string.format("the migration receiver stream contained unexpected data (%q) instead of the "
      .. "ready message", head), "PROTOCOL"
  end
  local frame
  frame, err, code = transport.read(fd, 5)
  if not frame then
    return nil, "the receiver ended inside its answer", code == "EOF" and "PEERGONE" or code
  end
  local kind, length = frame:sub(1, 1), string.unpack(">I4", frame, 2)
  if (kind ~= "A" and kind ~= "R") or length > ANSWER_MAX then
    return nil, "the receiver's answer is malformed", "PROTOCOL"
  end
  local body = ""
  if length > 0 then
    body, err, code = transport.read(fd, length)
    if not body then
      return nil, "the receiver ended inside its answer", code == "EOF" and "PEERGONE" or code
    end
  end
  if kind == "A" then
    return { kind = "accepted" }
  end
  local t = json.decode(body)
  t = type(t) == "table" and t or {}
  return { kind = "refused", message = tostring(t.message or "refused"), code = t.code, report = t.report }
end

return migration
