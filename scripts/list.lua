-- List domains as `xl list` does: name, id, memory, vcpus, state letters, cpu time.
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local json = require("xlua.json")
local printable = require("xlua.printable")

-- --json: a name that is not valid UTF-8 is written with U+FFFD for each bad byte (as every
-- JSON string xlua writes), so it also gets name_hex, its bytes in hex, to stay identifiable.
local function json_info(info)
  if type(info.name) ~= "string" or printable.is_utf8(info.name) then
    return info
  end
  local out = {}
  for k, v in pairs(info) do
    out[k] = v
  end
  out.name_hex = (info.name:gsub(".", function(c) return string.format("%02x", c:byte()) end))
  return out
end

return cli.main({
  name = "list",
  usage = "xlua list [-l] [--json] [DOMAIN...]",
  help = "Lists the domains (or only those named), as xl list does.\n"
    .. "  -l      each domain's libxl config, as xl list -l: [{domid, config}, ...]\n"
    .. "  --json  the list itself as JSON: [{domid, name, uuid, state, type, memory_kb, ...}]",
  options = { ["-l"] = "long", ["--long"] = "long", ["--json"] = "json", ["--backend"] = { "backend", value = true } },
}, function(opts, args)
  local h, err, code = domains.open(opts.backend)
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local infos
  if #args == 0 then
    infos, err, code = h:list()
    if not infos then
      return cli.fail(domains.status(code), "%s", err)
    end
  else
    infos = {}
    for _, which in ipairs(args) do
      local info = h:find(which)
      if not info then
        return cli.fail(cli.FAILED, "Error: Domain '%s' does not exist.", printable.escape(which))
      end
      infos[#infos + 1] = info
    end
  end
  if opts.long then
    local out = json.array()
    for _, info in ipairs(infos) do
      local text = h:config(info.domid)
      local config = text and json.decode(text)
      if config then
        out[#out + 1] = { domid = info.domid, config = config }
      end
    end
    io.stdout:write(json.encode(out, { indent = "    " }), "\n")
  elseif opts.json then
    local out = json.array()
    for i, info in ipairs(infos) do
      out[i] = json_info(info)
    end
    io.stdout:write(json.encode(out, { indent = "  " }), "\n")
  else
    io.stdout:write("Name                                        ID   Mem VCPUs\tState\tTime(s)\n")
    for _, info in ipairs(infos) do
      io.stdout:write(string.format("%-40s %5d %5d %5d     %s  %8.1f\n", printable.escape(info.name), info.domid,
        (info.memory_kb or 0) // 1024, info.vcpus or 0, domains.state_letters(info), info.cpu_time or 0))
    end
  end
  return cli.OK
end)
