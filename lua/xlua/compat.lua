-- The compatibility check between the config a domain was saved with and the one it is to be
-- restored with, in the class of libvirt's ABI-stability check: both sides get libxl's
-- defaults, then the rule table (xlua.compat.rules) and the site rules judge every difference.
-- The engine lives in lua/xlua/compat/: defaults, rules, check, site, report.
-- Each part is loaded when used: a restore of a saved config as it is, with no site rules,
-- needs only the site part, to find there are no site rules.
local function report() return require("xlua.compat.report") end

local compat = {}

-- compat.check(saved, wanted [, opts]) -> report {compatible, forced, counts, differences =
-- {{path, old, new, verdict = "allowed"|"warning"|"incompatible", reason, source}, ...},
-- overridden (with opts.force)}. opts: site_rules (compat.site_rules), context ({domains =
-- h:list(), domid, host = {free_memory_kb, ...}}), force.
function compat.check(...)
  return require("xlua.compat.check").check(...)
end

-- compat.site_rules([dir]) -> loaded rules | nil, msg, "ENOENT": dir (--site-dir), else
-- $XLUA_SITE_DIR, else /etc/xlua/site.d (which may be missing).
function compat.site_rules(dir)
  local site = require("xlua.compat.site")
  return site.load(site.dir(dir))
end

-- The report as text (one line per difference and a summary) and as stable JSON.
function compat.text(...) return report().text(...) end
function compat.json(...) return report().json(...) end

-- One difference in one line.
function compat.describe(d)
  return string.format("%s: %s -> %s (%s)", d.path, report().value(d.old), report().value(d.new), d.reason)
end

return compat
