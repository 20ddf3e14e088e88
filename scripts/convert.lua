-- Print a config file's libxl JSON, or (--cfg) a libxl JSON config as an xl.cfg.
local cli = require("xlua.cli")
local config = require("xlua.config")
local json = require("xlua.json")
local log = require("xlua.log")
local xlcfg = require("xlua.xlcfg")

local function read(path)
  local f, err
  if path == "-" then
    f = io.stdin
  else
    f, err = io.open(path, "rb")
    if not f then
      return nil, err
    end
  end
  local text, rerr = f:read("a")
  if f ~= io.stdin then
    f:close()
  end
  if not text then
    return nil, path .. ": " .. tostring(rerr or "cannot read") -- a directory opens, then fails here
  end
  return text
end

return cli.main({
  name = "convert",
  usage = "xlua convert FILE [KEY=VALUE...] | xlua convert --cfg FILE.json|-",
  help = "FILE is an xl.cfg, or a Lua config when it ends in .lua; KEY=VALUE lines are added\n"
    .. "as `xl create` adds them. Prints the libxl domain config JSON; warnings go to stderr.\n"
    .. "With --strict, every warning (a value xl would warn about and ignore) refuses the config.\n"
    .. "With --cfg, reads libxl JSON (as xl keeps in savefiles) and prints it as an xl.cfg.",
  options = { ["--cfg"] = "cfg", ["--strict"] = "strict" },
  min_args = 1,
}, function(opts, args)
  if opts.cfg then
    if #args > 1 then
      return cli.fail(cli.BAD_INPUT, "too many arguments")
    end
    local text, err = read(args[1])
    if not text then
      return cli.fail(cli.BAD_INPUT, "%s", err)
    end
    local c
    c, err = config.from_json(text)
    if not c then
      return cli.fail(cli.BAD_INPUT, "%s: %s", args[1], err)
    end
    io.stdout:write(xlcfg.render(c))
    return cli.OK
  end
  local overrides = table.move(args, 2, #args, 1, {})
  local loaded, err = config.load(args[1], overrides, { strict = opts.strict })
  if not loaded then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  for _, w in ipairs(loaded.warnings) do
    log.warn("%s", w:sub(1, #args[1] + 1) == args[1] .. ":" and w or (args[1] .. ": " .. w))
  end
  io.stdout:write(json.encode(loaded.libxl, { indent = "    " }), "\n")
  return cli.OK
end)
