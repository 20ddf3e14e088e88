-- A compatibility report for people (one line per difference and a summary) and for programs
-- (JSON with sorted keys and a fixed shape, so the same report is always the same bytes).
local json = require("xlua.json")
local printable = require("xlua.printable")

local report = {}

-- A value as it appears in the text report: JSON, compact; "(absent)" for a missing field.
function report.value(v)
  if v == nil or v == json.null then
    return "(absent)"
  end
  local ok, text = pcall(json.encode, v)
  return ok and text or tostring(v)
end

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end

-- The summary line: "compatible: ..." or "not compatible: ..." with the counts.
function report.summary(r)
  local c = r.counts or {}
  local counts = string.format("%s, %s, %d allowed", plural(c.incompatible or 0, "incompatible difference"),
    plural(c.warning or 0, "warning"), c.allowed or 0)
  if r.compatible then
    return "compatible: " .. counts
  elseif r.forced then
    return "not compatible, forced: " .. counts .. "; overriding "
      .. plural(#(r.overridden or {}), "incompatible difference")
  end
  return "not compatible: " .. counts
end

-- report.text(r [, opts]) -> text: one line per difference,
--   VERDICT      PATH: OLD -> NEW (REASON)
-- then the summary line. opts.quiet_allowed leaves the allowed ones out. Paths and reasons can
-- come from the configs and from site rules: each line is escaped (xlua.printable), so a
-- crafted config cannot act on the terminal or break the one-line-per-difference layout.
function report.text(r, opts)
  opts = opts or {}
  local lines = {}
  for _, d in ipairs(r.differences or {}) do
    if not (opts.quiet_allowed and d.verdict == "allowed") then
      lines[#lines + 1] = printable.escape(string.format("%-12s %s: %s -> %s (%s)", d.verdict,
        tostring(d.path), report.value(d.old), report.value(d.new), tostring(d.reason)))
    end
  end
  if r.forced then
    for _, d in ipairs(r.overridden or {}) do
      lines[#lines + 1] = printable.escape(string.format("overriding   %s (--force)", tostring(d.path)))
    end
  end
  lines[#lines + 1] = report.summary(r)
  return table.concat(lines, "\n") .. "\n"
end

local function difference_json(d)
  return {
    path = d.path,
    old = d.old == nil and json.null or d.old,
    new = d.new == nil and json.null or d.new,
    verdict = d.verdict,
    reason = d.reason,
    source = d.source or json.null,
  }
end

-- The JSON form: {compatible, forced, counts, differences: [{path, old, new, verdict, reason,
-- source}], overridden: [path, ...]} (overridden only when forced). Absent values are null.
function report.json_value(r)
  local diffs = json.array()
  for i, d in ipairs(r.differences or {}) do
    diffs[i] = difference_json(d)
  end
  local out = {
    compatible = r.compatible and true or false,
    forced = r.forced and true or false,
    counts = {
      allowed = (r.counts or {}).allowed or 0,
      warning = (r.counts or {}).warning or 0,
      incompatible = (r.counts or {}).incompatible or 0,
    },
    differences = diffs,
  }
  if r.forced then
    local paths = json.array()
    for i, d in ipairs(r.overridden or {}) do
      paths[i] = d.path
    end
    out.overridden = paths
  end
  return out
end

function report.json(r)
  return json.encode(report.json_value(r), { indent = "  " }) .. "\n"
end

return report
