-- Print the config a domain was created or restored with, as written (or its libxl JSON).
local cli = require("xlua.cli")
local domains = require("xlua.domains")

return cli.main({
  name = "config",
  usage = "xlua config [--json] DOMAIN",
  help = "Prints the stored config text as it was written (xl.cfg or Lua);\n"
    .. "  --json  its libxl JSON instead (the live view when none was stored)",
  options = { ["--json"] = "json", ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  return cli.domain_command(opts, args[1], function(h, info)
    local stored = domains.stored_config(h, info.domid)
    local text = not opts.json and stored.source or stored.json
    if not text then
      local err, code
      text, err, code = h:config(info.domid)
      if not text then
        return cli.fail(domains.status(code), "%s", err)
      end
    end
    io.stdout:write(text, text:sub(-1) == "\n" and "" or "\n")
    return cli.OK
  end)
end)
