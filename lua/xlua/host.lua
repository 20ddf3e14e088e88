-- xlua.host: what `xl info` shows about the host (api level 2): the same table as h:host()
-- (bindings/l_domain_host.c), and its rendering in xl info's format.
--
--   local host = require("xlua.host")
--   host.info([backend]) -> {host, release, ..., nr_cpus, total_memory (MiB), free_memory,
--       xen_version, xen_caps, xen_scheduler, cpupools = {{id, name, sched, n_cpus,
--       n_domains}}, total_memory_kb, free_memory_kb, cpu_nodes, ...} | nil, msg, code
--   host.lines(info) -> {"host                   : name", ...}  (xl info's keys and order)
--   host.KEYS: those keys in order
local domains = require("xlua.domains")

local host = {}

-- The keys of xl info (4.17) in its order: uname, physinfo, xen version info, then
-- xend_config_format.
host.KEYS = {
  "host", "release", "version", "machine",
  "nr_cpus", "max_cpu_id", "nr_nodes", "cores_per_socket", "threads_per_core", "cpu_mhz",
  "hw_caps", "virt_caps", "total_memory", "free_memory", "sharing_freed_memory",
  "sharing_used_memory", "outstanding_claims", "free_cpus",
  "xen_major", "xen_minor", "xen_extra", "xen_version", "xen_caps", "xen_scheduler",
  "xen_pagesize", "platform_params", "xen_changeset", "xen_commandline", "cc_compiler",
  "cc_compile_by", "cc_compile_domain", "cc_compile_date", "build_id",
  "xend_config_format",
}

function host.info(backend)
  local h, err, code = backend, nil, nil
  if type(backend) ~= "userdata" then
    h, err, code = domains.open(backend)
    if not h then
      return nil, err, code
    end
  end
  return h:host()
end

-- One line a key, "name" padded to 23 columns then ": value", as xl info prints them.
function host.lines(info)
  local out = {}
  for _, key in ipairs(host.KEYS) do
    local v = info[key]
    if key == "virt_caps" then
      -- xl prints each capability with a blank before it, right after the colon
      out[#out + 1] = string.format("%-23s:%s", key, (v or "") ~= "" and " " .. v or "")
    else
      out[#out + 1] = string.format("%-23s: %s", key, v == nil and "" or tostring(v))
    end
  end
  return out
end

return host
