-- Command-line plumbing shared by every script in scripts/: option parsing in xl's style,
-- --help, and turning a failure into one stderr line and an exit status.
local cli = {}

cli.OK = 0         -- success
cli.FAILED = 1     -- the operation failed
cli.BAD_INPUT = 2  -- bad usage or a bad input file
cli.INTERRUPTED = 130 -- Ctrl-C, as a shell reports SIGINT

-- The signals that stop a command (the host raises "interrupted!" for SIGINT, as lua.c does,
-- and "interrupted by SIGTERM!" / "interrupted by SIGHUP!"), with their numbers on Linux.
local SIGNALS = { SIGHUP = 1, SIGINT = 2, SIGTERM = 15 }

local command = "xlua"

-- The running command's name, "xlua CMD".
function cli.name()
  return command
end

-- Print "xlua CMD: message" on stderr and return status.
function cli.fail(status, fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  -- names and messages may come from files: nothing raw reaches the terminal
  msg = require("xlua.printable").escape(msg)
  -- one write: a line from another process sharing stderr (the two ends of a migration) cannot
  -- land inside it
  io.stderr:write(command .. ": " .. msg .. "\n")
  io.stderr:flush()
  return status
end

-- The exit status for a failure code: 128 + the signal for INTERRUPTED (130 for Ctrl-C), else
-- domains.status (2 for a bad input, 1 for a failed operation).
function cli.status(code, signal)
  if code == "INTERRUPTED" then
    return 128 + (SIGNALS[signal] or SIGNALS.SIGINT)
  end
  return require("xlua.domains").status(code)
end

-- cli.interruptible(fn, ...) -> fn(...), or nil, "interrupted[ by SIGNAL]", "INTERRUPTED",
-- SIGNAL when a signal stopped it (the host raises "interrupted!" or "interrupted by
-- SIGTERM!"); other errors go on. Give the fourth result to cli.status.
function cli.interruptible(fn, ...)
  local results = table.pack(pcall(fn, ...))
  if results[1] then
    return table.unpack(results, 2, results.n)
  end
  local e = results[2]
  if type(e) == "string" then
    -- a policy may have said what was done before the signal: "web1 was saved to F, then
    -- interrupted by SIGTERM!"
    if e:match("interrupted!$") then
      return nil, e:sub(1, -2), "INTERRUPTED", "SIGINT"
    end
    local signal = e:match("interrupted by (SIG%u+)!$")
    if signal then
      return nil, e:sub(1, -2), "INTERRUPTED", signal
    end
  end
  error(e, 0)
end

-- For a command reading a savefile from FILE|-: nil when path can be read, else the status
-- after one line (a savefile is binary: standard input on a terminal is a mistake, as save
-- refuses to write one to a terminal).
function cli.refuse_terminal(path)
  if path == "-" and require("xlua.progress").isatty(0) then
    return cli.fail(cli.BAD_INPUT, "refusing to read a savefile from a terminal")
  end
  return nil
end

-- The body of a command that acts on one domain: open the backend (opts.backend, open_opts as
-- domains.open), find the domain which (a name or domid), then return act(h, info) (an exit status). A failure to open
-- or find is one line, with its code's status (domains.status).
function cli.domain_command(opts, which, act, open_opts)
  local domains = require("xlua.domains")
  local h, info, code = domains.open_find(opts.backend, which, open_opts)
  if not h then
    return cli.fail(domains.status(code), "%s", info)
  end
  return act(h, info)
end

-- The conversion options of a command that reads a config (create, convert, restore): xl.conf's
-- defaults and the host's layout from the open backend h (or nil), with strict. Its warnings
-- are shown. -> options | nil, the exit status after one line.
function cli.conversion_options(h, xl_conf, strict)
  local printable = require("xlua.printable")
  local copts, warnings = require("xlua.xlconf").for_backend(h, xl_conf, { strict = strict })
  if not copts then
    return nil, cli.fail(cli.BAD_INPUT, "%s", printable.escape(warnings))
  end
  for _, w in ipairs(warnings) do
    require("xlua.log").warn("%s", printable.escape(w))
  end
  return copts
end

-- ok, err, code of a domain operation -> cli.OK, or one line ("prefix: err") and the status
-- of code.
function cli.check(prefix, ok, err, code)
  if ok then
    return cli.OK
  end
  return cli.fail(require("xlua.domains").status(code), "%s%s", prefix, tostring(err))
end

-- Parse argv against spec.options: { ["--json"] = "json", ["-c"] = "checkpoint",
-- ["--site-dir"] = { "site_dir", value = true } }. Single-letter flags combine (-cp).
-- Returns opts, positional arguments, or nil and a message.
function cli.parse(spec, argv)
  local opts, args = {}, {}
  local options = spec.options or {}
  local i = 1
  local function take(name, def)
    if type(def) == "table" then
      if i + 1 > #argv then
        return nil, "option " .. name .. " needs an argument"
      end
      i = i + 1
      opts[def[1]] = argv[i]
    else
      opts[def] = true
    end
    return true
  end
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      table.move(argv, i + 1, #argv, #args + 1, args)
      break
    elseif a == "-h" or a == "--help" then
      opts.help = true
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local eq_name, eq_value = a:match("^(%-%-[^=]+)=(.*)$")
      if eq_name and type(options[eq_name]) == "table" then
        opts[options[eq_name][1]] = eq_value
      elseif options[a] then
        local ok, err = take(a, options[a])
        if not ok then
          return nil, err
        end
      elseif a:match("^%-%a%a+$") then
        for letter in a:sub(2):gmatch(".") do
          local def = options["-" .. letter]
          if type(def) ~= "string" then
            return nil, "unknown option -" .. letter
          end
          opts[def] = true
        end
      else
        return nil, "unknown option " .. a
      end
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
  if not opts.help then
    local min, max = spec.min_args or 0, spec.max_args or math.huge
    if #args < min then
      return nil, "missing argument"
    elseif #args > max then
      return nil, "too many arguments"
    end
  end
  return opts, args
end

-- The body of a command script: parse arg, handle --help and usage errors, run
-- body(opts, args), which returns an exit status. Returns the exit status.
-- spec.raw: body(argv) parses the arguments itself (commands with another tool's syntax).
function cli.main(spec, body)
  command = "xlua " .. spec.name
  if spec.raw then
    return body(arg or {})
  end
  local opts, args = cli.parse(spec, arg or {})
  if not opts then
    cli.fail(cli.BAD_INPUT, "%s", args)
    io.stderr:write("usage: ", spec.usage, "\n")
    return cli.BAD_INPUT
  end
  if opts.help then
    io.stdout:write("usage: ", spec.usage, "\n", spec.help or "", spec.help and "\n" or "")
    return cli.OK
  end
  return body(opts, args)
end

return cli
