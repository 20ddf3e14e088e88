-- Print a xenstore tree with values, as xenstore-ls does.
-- xenstore-ls [-f] [-p] [PATH]: the tree below PATH (default /) as xenstore-utils prints it:
-- one node a line, indented by depth (-f: full paths), its value quoted and escaped, cut to
-- the line width (the terminal's $COLUMNS - 2, else 80; -f: never cut); -p adds permissions.
local cli = require("xlua.cli")
local xs_cli = require("xlua.xs_cli")

local TAG_LEN = #' = "..."'

return xs_cli.main("ls", function(conn, opts, args)
  local root = args[1] or "/"
  local max_width, desired_width = 80, 60
  if require("xlua.progress").isatty(1) then
    max_width = (tonumber(os.getenv("COLUMNS")) or 80) - 2
  end
  if opts.f then
    max_width, desired_width = math.maxinteger // 2, 0
  end
  local out = io.stdout
  local function cut(s, n)
    return n >= 0 and s:sub(1, n) or s
  end
  local function ls(path, depth)
    local names, err = conn:directory(path)
    if not names then
      if depth > 0 then
        return true      -- gone while we walked: move on, as xenstore-ls does
      end
      return nil, string.format("xs_directory (%s): %s", path, err)
    end
    for _, name in ipairs(names) do
      local full = path .. (path:sub(-1) == "/" and "" or "/") .. name
      local width
      if opts.f then
        out:write(full)
        width = 0
      else
        local shown = cut(name, max_width - TAG_LEN - depth)
        out:write(string.rep(" ", depth), shown)
        width = depth + #shown
      end
      local value = conn:read(full)
      if not value then
        out:write(":\n")
      elseif max_width < width + #value + TAG_LEN then
        out:write(' = "', cut(xs_cli.sanitise(value), max_width - TAG_LEN - width), '\\..."')
      else
        local text = ' = "' .. xs_cli.sanitise(value) .. '"'
        out:write(text)
        width = width + #text
        if opts.p then
          out:write(" ")
          width = width + 1
          local pad = {}
          while width < math.min(desired_width, max_width) do
            pad[#pad + 1] = (width & 1) == 1 and "." or " "
            width = width + 1
          end
          out:write(table.concat(pad))
        end
      end
      if opts.p then
        local perms = conn:get_perms(full)
        if perms then
          out:write("  (", table.concat(perms, ","), ")")
        end
      end
      out:write("\n")
      local ok, e = ls(full, depth + 1)
      if not ok then
        return nil, e
      end
    end
    return true
  end
  local ok, err = ls(root, 0)
  if not ok then
    return cli.fail(cli.FAILED, "%s", err)
  end
  return cli.OK
end)
