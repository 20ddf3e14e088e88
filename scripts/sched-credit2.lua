-- Show or set the credit2 scheduler's parameters of domains, as xl sched-credit2 does.
local cli = require("xlua.cli")

local HEADER = string.format("%-33s %4s %6s %4s", "Name", "ID", "Weight", "Cap")

local function row(info, params)
  return string.format("%-33s %4d %6d %4d", info.name, info.domid, params.weight, params.cap)
end

-- A whole number option value (xl reads it with strtol). -> n | nil
local function int_option(text)
  return text and math.tointeger(tonumber(text:match("^%s*([+-]?%d+)")))
end

return cli.main({
  name = "sched-credit2",
  usage = "xlua sched-credit2 [-d DOMAIN [-w WEIGHT] [-c CAP]]",
  help = "Without options: the weight and cap of every domain. -d DOMAIN: of that one; with\n"
    .. "-w (1-65535) and/or -c (0 to 100 per vcpu, 0: no cap) they are set, and the domain's\n"
    .. "stored config follows (b_info.sched_params).",
  options = {
    ["-d"] = { "domain", value = true }, ["--domain"] = { "domain", value = true },
    ["-w"] = { "weight", value = true }, ["--weight"] = { "weight", value = true },
    ["-c"] = { "cap", value = true }, ["--cap"] = { "cap", value = true },
    ["--backend"] = { "backend", value = true },
  },
  max_args = 0,
}, function(opts)
  local runtime = require("xlua.runtime")
  local command = require("xlua.runtime.command")
  if not opts.domain and (opts.weight or opts.cap) then
    return cli.fail(cli.FAILED, "Must specify a domain.")
  end
  local set
  if opts.weight or opts.cap then
    set = { weight = int_option(opts.weight), cap = int_option(opts.cap) }
    if (opts.weight and not set.weight) or (opts.cap and not set.cap) then
      return cli.fail(cli.FAILED, "invalid weight or cap: %s", opts.weight or opts.cap)
    end
    return command.on_domain(opts, opts.domain, function(h, info)
      return runtime.sched_credit2(h, info, set)
    end)
  end
  return command.listing(opts, { opts.domain }, function(h, info)
    local params, err, code = runtime.sched_credit2(h, info)
    if not params then
      return nil, err, code
    end
    return { row(info, params) }
  end, HEADER)
end)
