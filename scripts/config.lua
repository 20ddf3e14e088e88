-- Print the config a domain was created or restored with, as written (or its libxl JSON).
local cli = require("xlua.cli")
local domains = require("xlua.domains")
local json = require("xlua.json")
local printable = require("xlua.printable")

-- The text to print, safe for a terminal: the stored config may come from a savefile someone
-- handed over (restore stores its text). JSON that needs it is re-indented with its strings'
-- controls as \u escapes, so it stays valid JSON; anything else is escaped (printable).
local function shown(text, is_json)
  local multiline = { multiline = true }
  if printable.escape(text, multiline) == text then
    return text
  end
  return printable.escape(is_json and json.pretty(text, "    ") or text, multiline)
end

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
    text = shown(text, opts.json or not stored.source)
    io.stdout:write(text, text:sub(-1) == "\n" and "" or "\n")
    return cli.OK
  end)
end)
