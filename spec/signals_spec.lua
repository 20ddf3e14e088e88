-- Signals, closed pipes and closed descriptors during save and restore, end to end on the sim:
-- SIGINT, SIGTERM and SIGHUP end as Ctrl-C does (the domain put back as it was, no temporary
-- file, one line, exit 128+N), a closed pipe is EPIPE (exit 1), a restore stopped at any point
-- leaves no domain, and a second save of a busy domain is refused at once.
local helper = require("support.helper")
local json = require("xlua.json")
local q = helper.shell_quote

local s = require("support.sim").new()
local root, env, x = s.root, s.env, s.x
local envs = string.format("XLUA_SIM_DIR=%s XLUA_BACKEND=sim", q(env.XLUA_SIM_DIR))
local SIGNALS = { SIGHUP = 1, SIGINT = 2, SIGTERM = 15 }

local function state(name)
  local out = x({ "list", "--json" })
  for _, d in ipairs(json.decode(out)) do
    if d.name == name then
      return d.state
    end
  end
  return nil
end
local function entries(dir)
  local p = io.popen("ls -A " .. q(dir) .. " 2>/dev/null")
  local out = {}
  for line in p:lines() do
    out[#out + 1] = line
  end
  p:close()
  table.sort(out)
  return out
end
local function domain(name, mib)
  local cfg = s.file(name .. ".cfg", string.format('name = "%s"\nkernel = "/k"\nmemory = %d\n', name, mib or 64))
  local _, err, code = x({ "create", cfg })
  assert.equal(0, code, err)
end

-- Runs `start` in bash ($X is the xlua program, $F a fifo, $E its stderr), which must start xlua
-- in the background as its last command; once `ready` (a shell command) succeeds, or after 5 s,
-- sends signal to that xlua and returns its exit status and stderr.
local function signal_when(start, ready, signal)
  local dir = helper.tmpdir()
  local script = string.format([[
export XLUA_SIM_DIR=%s XLUA_BACKEND=sim
X=%s; F=%s/fifo; mkfifo $F; E=%s/err
%s
pid=$!
for i in $(seq 250); do %s && break; sleep 0.02; done
kill -%s $pid
wait $pid; echo $? >%s/status
kill $(jobs -p) 2>/dev/null
]], q(env.XLUA_SIM_DIR), q(helper.xlua), q(dir), q(dir), start, ready, signal, q(dir))
  os.execute("bash -c " .. q(script) .. " 2>/dev/null")
  return tonumber(helper.slurp(dir .. "/status")), helper.slurp(dir .. "/err")
end

describe("a signal during a save", function()
  for name, number in pairs(SIGNALS) do
    it(name .. " while it streams into a pipe nobody reads yet: the domain runs again, exit " .. 128 + number, function()
      local d = "s" .. number
      domain(d)
      -- the reader never reads: the save is blocked in a write when the signal lands
      local status, err = signal_when(string.format("sleep 5 <$F & $X save %s - >$F 2>$E &", d), "sleep 0.3", name)
      assert.equal(128 + number, status, err)
      assert.equal("running", state(d))
      assert.matches("xlua save: Failed to save domain " .. d .. ": interrupted" .. (name == "SIGINT" and "" or " by " .. name) .. "\n$", err)
    end)
  end

  it("SIGTERM while it writes a file: no temporary file, the target untouched, a paused domain stays paused", function()
    domain("big", 512)
    x({ "pause", "big" })
    local dir = root .. "/out"
    os.execute("mkdir -p " .. q(dir))
    helper.spit(dir .. "/big.sav", "old")
    local status, err = signal_when("$X save big " .. q(dir .. "/big.sav") .. " 2>$E &",
      "[ $(ls -A " .. q(dir) .. " | wc -l) -gt 1 ]", "TERM")
    assert.equal(143, status, err)
    assert.equal("old", helper.slurp(dir .. "/big.sav"))
    assert.same({ "big.sav" }, entries(dir))
    assert.equal("paused", state("big"))
    local _, uerr, code = x({ "unpause", "big" })
    assert.equal(0, code, uerr)
    assert.equal("running", state("big"))
    x({ "destroy", "big" })
  end)

  it("a reader that goes away (EPIPE): one line, exit 1, the domain runs again", function()
    domain("e1")
    local cmd = string.format("%s %s save e1 - 2>%s | head -c 1000 >/dev/null; echo ${PIPESTATUS[0]} >%s", envs,
      q(helper.xlua), q(root .. "/epipe.err"), q(root .. "/epipe.status"))
    os.execute("bash -c " .. q(cmd))
    local err = helper.slurp(root .. "/epipe.err")
    assert.equal(1, tonumber(helper.slurp(root .. "/epipe.status")), err)
    assert.matches("Broken pipe", err)
    assert.equal("running", state("e1"))
  end)

  it("a second save of a busy domain is refused at once (exit 1), the first one unharmed", function()
    domain("b1")
    local first = root .. "/first"
    os.execute("mkdir -p " .. q(first))
    -- the first save holds the domain while its reader sleeps
    local script = string.format("%s %s save -c b1 - 2>%s | (sleep 1.5; cat >%s) & sleep 0.5; %s %s save -c b1 %s 2>%s; echo $? >%s; wait",
      envs, q(helper.xlua), q(first .. "/err"), q(first .. "/b1.sav"), envs, q(helper.xlua),
      q(root .. "/second.sav"), q(first .. "/second.err"), q(first .. "/second.status"))
    os.execute("bash -c " .. q(script))
    local err = helper.slurp(first .. "/second.err")
    assert.equal(1, tonumber(helper.slurp(first .. "/second.status")), err)
    assert.matches("busy", err)
    assert.equal("running", state("b1"))
    assert.equal(0, select(3, x({ "verify", first .. "/b1.sav" })))
    local _, uerr, code = x({ "unpause", "b1" })
    assert.equal(1, code, uerr) -- no pause leaked: it is running, not paused
  end)

  it("with standard output closed: EBADF before the domain is paused, exit 2, nothing written elsewhere", function()
    domain("c1")
    local cmd = string.format("%s %s save -c c1 - >&- 2>%s; echo $? >%s", envs, q(helper.xlua),
      q(root .. "/closed.err"), q(root .. "/closed.status"))
    os.execute("bash -c " .. q(cmd))
    local err = helper.slurp(root .. "/closed.err")
    assert.equal(2, tonumber(helper.slurp(root .. "/closed.status")), err)
    assert.matches("EBADF", (err:gsub("not open for writing", "EBADF")))
    assert.equal("running", state("c1"))
    assert.equal("", helper.slurp(env.XLUA_SIM_DIR .. "/lock"))
  end)
end)

describe("a signal during a restore", function()
  it("stops it before the domain is kept: no domain is left behind, exit 143", function()
    domain("r1")
    local sav = root .. "/r1.sav"
    assert.equal(0, select(3, x({ "save", "r1", sav })))
    local before = #json.decode((x({ "list", "--json" })))
    -- part of the file, then nothing: the restore waits in a read when the signal lands
    local status, err = signal_when(string.format("(head -c 20000000 %s; sleep 5) >$F & $X restore - <$F 2>$E &", q(sav)),
      "sleep 0.3", "TERM")
    assert.equal(143, status, err)
    assert.is_nil(state("r1"))
    assert.equal(before, #json.decode((x({ "list", "--json" }))))
  end)
end)
