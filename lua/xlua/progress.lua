-- The progress line of save and restore: bytes, rate and ETA, rewritten in place on stderr,
-- shown only when stderr is a terminal (a pipe or a log file gets nothing).
local progress = {}

-- Seconds since boot with centisecond resolution; os.time() where /proc is missing.
function progress.clock()
  local f = io.open("/proc/uptime", "r")
  if f then
    local s = f:read("n")
    f:close()
    if s then
      return s
    end
  end
  return os.time()
end

-- True when file descriptor fd (default 2) is a terminal (isatty(3), no shell).
function progress.isatty(fd)
  return require("xlua.process").isatty(math.tointeger(fd or 2))
end

local function size(n)
  if n >= 1024 * 1024 * 1024 then
    return string.format("%.1f GiB", n / (1024 * 1024 * 1024))
  elseif n >= 1024 * 1024 then
    return string.format("%.1f MiB", n / (1024 * 1024))
  elseif n >= 1024 then
    return string.format("%.1f KiB", n / 1024)
  end
  return string.format("%d B", n)
end
progress.size = size

-- progress.format(label, done, total, elapsed) -> "Saving: 12.0 MiB / 512.0 MiB (2%), 4.0 MiB/s,
-- ETA 2:05". total may be 0 or nil (unknown).
function progress.format(label, done, total, elapsed)
  local parts = { label .. ": " .. size(done) }
  if total and total > 0 then
    parts[1] = parts[1] .. string.format(" / %s (%d%%)", size(total), math.floor(done * 100 / total))
  end
  if elapsed and elapsed > 0 then
    local rate = done / elapsed
    parts[#parts + 1] = size(math.floor(rate)) .. "/s"
    if total and total > done and rate > 0 then
      local eta = math.floor((total - done) / rate + 0.5)
      parts[#parts + 1] = string.format("ETA %d:%02d", eta // 60, eta % 60)
    end
  end
  return table.concat(parts, ", ")
end

-- progress.new{label = "Saving", out = io.stderr, enabled = isatty(2)} -> reporter, where
-- reporter.update(done, total) rewrites the line (at most 5 times a second; a plain function,
-- to hand to h:save / h:restore as `progress`) and reporter.finish() ends it. A disabled
-- reporter does nothing.
function progress.new(opts)
  opts = opts or {}
  local out = opts.out or io.stderr
  local enabled = opts.enabled
  if enabled == nil then
    enabled = progress.isatty(2)
  end
  local clock = opts.clock or progress.clock
  local start, last, shown = clock(), nil, false
  local reporter = {}
  function reporter.update(done, total)
    if not enabled then
      return
    end
    local now = clock()
    if last and now - last < 0.2 and not (total and done >= total) then
      return
    end
    last = now
    out:write("\r", progress.format(opts.label or "Progress", done, total, now - start), "\27[K")
    out:flush()
    shown = true
  end
  function reporter.finish()
    if shown then
      out:write("\n")
      out:flush()
      shown = false
    end
  end
  return reporter
end

return progress
