-- Child processes for the commands that work on many domains at once (save-all, restore-all
-- -j N): each child is the xlua program itself running one command, N at a time, its output
-- captured. A child ends its output with one line "XLUA-RESULT <json>", its result as a table;
-- everything before that line is what it printed (stdout and stderr together).
--
-- Why processes and io.popen: a save or a restore is one long C call, so one process does one
-- at a time; a child of its own also keeps a crash, a hang or a signal to one domain's work
-- from touching the others', and its per-domain lock dies with it. The pool reads its children
-- in the order they started (io.popen offers no "wait for any"), so a slot stays idle while an
-- older child is still working: enough for domains of similar sizes, and simple.
--
-- A time limit is timeout(1)'s (coreutils, or busybox in a small dom0): SIGTERM when it runs
-- out, which every xlua command turns into a clean stop (a save puts its domain back as it
-- was), then SIGKILL KILL_GRACE seconds later.
local json = require("xlua.json")
local xlua = require("xlua")

local workers = {}

workers.RESULT = "XLUA-RESULT "
workers.KILL_GRACE = 10

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The xlua program to run children with: this very executable, by the name /proc/PID/exe
-- links to (so ps shows it), else by that link (xlua resolves it to find its Lua library),
-- else the program as it was invoked (arg's lowest index).
function workers.program()
  local ok, process = pcall(require, "xlua.process")
  if ok then
    local exe = "/proc/" .. process.getpid() .. "/exe"
    if xlua.stat(exe) then
      local p = io.popen("readlink " .. exe .. " 2>/dev/null")
      local target = p and p:read("l")
      if p then
        p:close()
      end
      if target and target:sub(1, 1) == "/" and xlua.stat(target) then
        return target
      end
      return exe
    end
  end
  local i = -1
  while arg and arg[i - 1] do
    i = i - 1
  end
  return arg and arg[i] or "xlua"
end

-- In a child: write its result (a plain table) as the last line of its output.
function workers.emit(result)
  io.stderr:flush()
  io.stdout:write(workers.RESULT, json.encode(result), "\n")
  io.stdout:flush()
end

-- The shell command of a task: {args = {...}, timeout = seconds | nil}.
local function command(program, task)
  local parts = { "exec" }
  if task.timeout then
    parts[#parts + 1] = string.format("timeout -k %d %s", workers.KILL_GRACE, tostring(task.timeout))
  end
  parts[#parts + 1] = quote(program)
  for _, a in ipairs(task.args) do
    parts[#parts + 1] = quote(a)
  end
  parts[#parts + 1] = "</dev/null 2>&1"
  return table.concat(parts, " ")
end

-- What a finished child left: {value (its result table, or nil), output (the rest), status
-- (exit status, or 128 + signal), seconds, timed_out}.
local function finished(task, text, how, code, seconds)
  local out, value = {}, nil
  for line in (text or ""):gmatch("[^\n]*") do
    if line:sub(1, #workers.RESULT) == workers.RESULT then
      value = json.decode(line:sub(#workers.RESULT + 1)) or value
    elseif line ~= "" then
      out[#out + 1] = line
    end
  end
  local status = how == "signal" and 128 + (code or 0) or code
  -- coreutils' timeout exits 124 (137 after its SIGKILL); busybox's passes the child's status
  -- on, so a failure that lasted the whole time limit counts as running out of it too
  local timed_out = task.timeout ~= nil and status ~= 0
    and (status == 124 or status == 137 or seconds >= task.timeout)
  return { value = type(value) == "table" and value or nil, output = table.concat(out, "\n"),
    status = status, seconds = seconds, timed_out = timed_out or false }
end

-- workers.run(tasks [, {jobs = N, program, on_start = fn(task), on_done = fn(task, result)}])
-- -> results, in the order of tasks. Each task: {args = {xlua's arguments}, timeout = seconds}.
-- A child that cannot be started gets {status = nil, output = why}.
function workers.run(tasks, opts)
  opts = opts or {}
  local jobs = math.max(1, math.tointeger(opts.jobs) or 1)
  local program = opts.program or workers.program()
  local results, running, next_task = {}, {}, 1
  while next_task <= #tasks or #running > 0 do
    while #running < jobs and next_task <= #tasks do
      local i, task = next_task, tasks[next_task]
      next_task = next_task + 1
      if opts.on_start then
        opts.on_start(task)
      end
      local pipe, err = io.popen(command(program, task), "r")
      if pipe then
        running[#running + 1] = { i = i, task = task, pipe = pipe, started = xlua.clock() }
      else
        results[i] = { status = nil, output = "cannot start a child: " .. tostring(err), seconds = 0,
          timed_out = false }
        if opts.on_done then
          opts.on_done(task, results[i])
        end
      end
    end
    local child = table.remove(running, 1)
    if child then
      local text = child.pipe:read("a")
      local _, how, code = child.pipe:close()
      local result = finished(child.task, text, how, code, xlua.clock() - child.started)
      results[child.i] = result
      if opts.on_done then
        opts.on_done(child.task, result)
      end
    end
  end
  return results
end

return workers
