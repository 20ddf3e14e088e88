-- Show the host as `xl info` does: Xen's version, memory, cpus, scheduler (--json too).
-- xlua info [--json] [NAME]: the host as `xl info` shows it (xl 4.17's keys and order), from
-- the backend (libxl on Xen, the sim's host elsewhere). NAME prints only the values of the
-- keys it begins, as xl info NAME does; --json: the whole table of xlua.host.info.
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local host = require("xlua.host")
local json = require("xlua.json")

return cli.main({
  name = "info",
  usage = "xlua info [--json] [NAME]",
  help = "Prints the host's facts as xl info does: Xen's version and capabilities, memory\n"
    .. "(MiB), cpus and their topology, the scheduler. NAME: only the values of the keys\n"
    .. "starting with NAME. --json: everything as JSON (with cpupools and cpu_nodes).",
  options = { ["--json"] = "json", ["--backend"] = { "backend", value = true } },
  max_args = 1,
}, function(opts, args)
  local info, err, code = host.info(opts.backend)
  if not info then
    return cli.fail(domains.status(code), "%s", err)
  end
  if opts.json then
    local out = {}
    for k, v in pairs(info) do
      out[k] = v
    end
    -- cpu -> node, with the cpus as JSON object keys
    local nodes = {}
    for cpu, node in pairs(info.cpu_nodes or {}) do
      nodes[tostring(cpu)] = node
    end
    out.cpu_nodes = nodes
    out.cpupools = json.array(info.cpupools)
    io.stdout:write(json.encode(out, { indent = "  " }), "\n")
    return cli.OK
  end
  for _, line in ipairs(host.lines(info)) do
    if not args[1] then
      io.stdout:write(line, "\n")
    elseif line:sub(1, #args[1]) == args[1] then
      -- as xl: the value of every line whose text starts with NAME
      local value = line:match("^[^:]*: (.*)$")
      if value then
        io.stdout:write(value, "\n")
      end
    end
  end
  return cli.OK
end)
