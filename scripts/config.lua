-- Print the config a domain was created or restored with, or a savefile's (as written, or JSON).
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

-- The config as it is now (libxl JSON text) rendered as xl.cfg. -> text | nil, msg
local function current(json_text)
  local libxl, err = require("xlua.config").from_json(json_text)
  if not libxl then
    return nil, "the config cannot be rendered: " .. tostring(err)
  end
  local text = require("xlua.xlcfg").render(libxl)
  return text:sub(-1) == "\n" and text or text .. "\n"
end

-- The note under a config as written that was changed at runtime since (nil: none).
local function runtime_note(entries, format)
  return require("xlua.runtime.record").note(entries or {}, format == "lua" and "--" or "#")
end

-- The config stored in the savefile at path, printed as a domain's is. -> exit status
local function from_savefile(path, as_json, as_current)
  local saved, err, code = require("xlua.saved_config").read(path)
  if not saved then
    return cli.fail(domains.status(code), "%s", err)
  end
  if as_current and saved.json then
    local text
    text, err = current(saved.json)
    if not text then
      return cli.fail(cli.FAILED, "%s: %s", path, err)
    end
    io.stdout:write(shown(text, false))
    return cli.OK
  end
  local text = not as_json and saved.source or saved.json
  if not text then
    return cli.fail(cli.FAILED, "%s: the savefile holds no config", path)
  end
  text = shown(text, as_json or not saved.source)
  io.stdout:write(text, text:sub(-1) == "\n" and "" or "\n")
  local note = not as_json and saved.source and saved.meta and runtime_note(saved.meta.runtime,
    saved.format)
  if note then
    io.stdout:write(shown(note, false))
  end
  return cli.OK
end

-- A path (it has a "/"), or a name that is no domain's but a file's, is a savefile.
local function is_file(which)
  local st = require("xlua").stat(which)
  return st and st.type ~= "directory"
end

return cli.main({
  name = "config",
  usage = "xlua config [--json|--current] DOMAIN|SAVEFILE",
  help = "Prints the stored config text as it was written (xl.cfg or Lua) of DOMAIN, or the one\n"
    .. "stored in SAVEFILE (a path with a \"/\", or a file when no domain has that name), with a\n"
    .. "note of the runtime changes since (mem-set, block-attach, ...);\n"
    .. "  --json     its libxl JSON instead, as it is now (the live view when none was stored)\n"
    .. "  --current  the config as it is now, runtime changes included, as xl.cfg",
  options = { ["--json"] = "json", ["--current"] = "current",
    ["--backend"] = { "backend", value = true } },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  local which = args[1]
  if opts.json and opts.current then
    return cli.fail(cli.BAD_INPUT, "--json and --current do not go together")
  end
  if which:find("/", 1, true) then
    return from_savefile(which, opts.json, opts.current)
  end
  local h, info, code = domains.open_find(opts.backend, which)
  if not h and is_file(which) then
    return from_savefile(which, opts.json, opts.current)
  elseif not h then
    return cli.fail(domains.status(code), "%s", info)
  end
  local stored = domains.stored_config(h, info.domid)
  local text = not (opts.json or opts.current) and stored.source or stored.json
  if not text then
    local err
    text, err, code = h:config(info.domid)
    if not text then
      return cli.fail(domains.status(code), "%s", err)
    end
  end
  if opts.current then
    local err
    text, err = current(text)
    if not text then
      return cli.fail(cli.FAILED, "%s", err)
    end
    io.stdout:write(shown(text, false))
    return cli.OK
  end
  text = shown(text, opts.json or not stored.source)
  io.stdout:write(text, text:sub(-1) == "\n" and "" or "\n")
  local note = not opts.json and stored.source and
    runtime_note(require("xlua.runtime.record").entries(h, info.domid), stored.format)
  if note then
    io.stdout:write(shown(note, false))
  end
  return cli.OK
end)
