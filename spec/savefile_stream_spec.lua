-- The savefile codec on a migration stream: a reader over an fd it does not own, that reads up
-- to the stream's end and never past it (the peer's next message follows), and a writer that
-- hands its bytes over without ending the stream.
local helper = require("support.helper")
local savefiles = require("support.savefiles")
local savefile = require("xlua.savefile")
local transport = require("xlua.transport")

-- A pipe holding data and kept open, as the sender keeps it while it waits for the
-- receiver's answer: a reader that wanted more than the stream would wait for ever here.
-- `after` ("the next protocol message") is written only once the caller read the stream.
local function pipe_with(data, after)
  local peer = assert(transport.spawn("cat"))
  assert(transport.write(peer.send, data))
  peer.after = after
  return peer
end

-- The next message reaches whoever reads the fd after the reader.
local function next_message(peer)
  assert(transport.write(peer.send, peer.after))
  return transport.read(peer.recv, #peer.after)
end

local function finish(peer)
  if peer.send then
    transport.close(peer.send)
  end
  transport.close(peer.recv)
  transport.wait(peer.pid, 5)
end

local NEXT = "domain is yours, you are cleared to unpause\0"

describe("a savefile reader on a migration stream", function()
  local dir = helper.tmpdir()
  local with_trailer = dir .. "/t.sav"
  savefiles.write(with_trailer, {})
  local file = helper.slurp(with_trailer)
  local bare = file:sub(1, -33)

  it("with a required trailer reads it, checks it and leaves the next message", function()
    local peer = pipe_with(file, NEXT)
    local r = assert(savefile.open(peer.recv, "<incoming>"))
    r:expect_trailer("required")
    local t = assert(r:trailer())
    assert.is_true(t.found)
    assert.is_true(t.matches)
    r:close()
    assert.equal(NEXT, next_message(peer))
    finish(peer)
  end)

  it("refuses a stream whose required trailer is missing (BADTRAILER)", function()
    local peer = pipe_with(bare, "")
    transport.close(peer.send)   -- the sender left after the stream
    peer.send = nil
    local r = assert(savefile.open(peer.recv))
    r:expect_trailer("required")
    local ok, _, code = r:verify()
    assert.is_nil(ok)
    assert.equal("BADTRAILER", code)
    r:close()
    finish(peer)
  end)

  it("finds a damaged stream by its required trailer", function()
    local pos = #file - 32 - 5000
    local damaged = file:sub(1, pos - 1) .. string.char((file:byte(pos) + 1) % 256) .. file:sub(pos + 1)
    local peer = pipe_with(damaged, NEXT)
    local r = assert(savefile.open(peer.recv))
    r:expect_trailer("required")
    local ok, _, code = r:verify()
    assert.is_nil(ok)
    assert.equal("BADTRAILER", code)
    r:close()
    finish(peer)
  end)

  it("with no trailer (an xl sender) stops at the END record", function()
    local peer = pipe_with(bare, NEXT)
    local r = assert(savefile.open(peer.recv))
    r:expect_trailer("none")
    assert.is_true(r:verify())
    r:close()
    assert.equal(NEXT, next_message(peer))
    finish(peer)
  end)

  it("leaves the fd it was given open", function()
    local peer = pipe_with(bare, NEXT)
    local r = assert(savefile.open(peer.recv))
    r:expect_trailer("none")
    assert.is_true(r:verify())
    r:close()
    -- still readable: the reader's close did not close it
    assert.equal(NEXT, next_message(peer))
    finish(peer)
  end)

  it("rejects an unknown trailer mode", function()
    local r = assert(savefile.open(with_trailer))
    assert.has_error(function() r:expect_trailer("sometimes") end)
    r:close()
  end)
end)

describe("a savefile writer on a pipe", function()
  it("hands over what it wrote with flush(), before the stream ends", function()
    local peer = assert(transport.spawn("cat"))
    local w = assert(savefile.writer(peer.send))
    assert(w:header({ config = savefiles.XL_CONFIG }))
    assert(w:flush())
    local head = assert(transport.read(peer.recv, 48))
    assert.equal(savefiles.MAGIC, head:sub(1, 32))
    assert(w:write("LibxlFmt"))
    assert(w:flush())
    local optional_len = string.unpack("<I4", head, 45)
    assert.equal(optional_len + 8, #assert(transport.read(peer.recv, optional_len + 8)))
    w:close()
    transport.close(peer.send)
    transport.close(peer.recv)
    transport.wait(peer.pid, 5)
  end)
end)

describe("xlua.transport", function()
  it("reads exactly, says EOF with what it got, and reports the child's exit", function()
    local peer = assert(transport.spawn("printf abc; exit 3"))
    transport.close(peer.send)
    assert.equal("ab", transport.read(peer.recv, 2))
    local got, _, code, partial = transport.read(peer.recv, 5)
    assert.is_nil(got)
    assert.equal("EOF", code)
    assert.equal("c", partial)
    assert.is_true(transport.readable(peer.recv, 0))
    transport.close(peer.recv)
    local how, status = transport.wait(peer.pid, 5)
    assert.equal("exited", how)
    assert.equal(3, status)
  end)

  it("fails a write to a peer that left with EPIPE", function()
    local peer = assert(transport.spawn("exit 0"))
    transport.close(peer.recv)
    transport.wait(peer.pid, 5)
    local ok, _, code = transport.write(peer.send, string.rep("x", 70000))
    assert.is_nil(ok)
    assert.equal("EPIPE", code)
    transport.close(peer.send)
  end)
end)
