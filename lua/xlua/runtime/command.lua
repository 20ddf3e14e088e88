-- What the runtime commands (scripts/mem-set.lua, block-attach.lua, ...) share: acting on one
-- domain with xl's exit statuses (1 for every failure, 2 for a malformed PCI spec as xl exits;
-- usage mistakes are 2 through cli.main), and the domains a listing command names.
local cli = require("xlua.cli")
local domains = require("xlua.domains")

local command = {}

local function status(code)
  return code == "BADPCI" and cli.BAD_INPUT or cli.FAILED
end

-- command.on_domain(opts, which, act) -> exit status: act(h, info) -> true | nil, msg, code.
-- The change holds the domain's lock (as save and migrate do), so that it is not lost under
-- a save or migration that holds it: then it is refused at once (BUSY, exit 1).
function command.on_domain(opts, which, act)
  return cli.domain_command(opts, which, function(h, info)
    local what = cli.name():gsub("^xlua ", "") .. " of " .. info.name
    local lock <close>, err, code = h:lock(info.uuid, what)
    if not lock then
      return cli.fail(status(code), "%s", err)
    end
    local now = h:info(info.domid) -- what it is now that it is ours
    if not now or now.uuid ~= info.uuid then
      return cli.fail(cli.FAILED, "domain %s is gone", info.name)
    end
    local ok
    ok, err, code = act(h, now)
    if ok then
      return cli.OK
    end
    return cli.fail(status(code), "%s", err)
  end, { changes = true })
end

-- command.listing(opts, names, lines_of, header) -> exit status: print header (when not nil),
-- then lines_of(h, info) for each named domain (every domain when names is empty).
-- A name that is no domain is one line on stderr and exit 1, as xl's find_domain exits.
function command.listing(opts, names, lines_of, header)
  local h, err, code = domains.open(opts.backend)
  if not h then
    return cli.fail(domains.status(code), "%s", err)
  end
  local infos = {}
  if #names == 0 then
    infos = h:list() or {}
  end
  for _, which in ipairs(names) do
    local info
    info, err, code = domains.find(h, which)
    if not info then
      return cli.fail(domains.status(code), "%s", err)
    end
    infos[#infos + 1] = info
  end
  local out = {}
  if header then
    out[1] = header
  end
  for _, info in ipairs(infos) do
    local lines
    lines, err, code = lines_of(h, info)
    if not lines then
      return cli.fail(status(code), "%s", err)
    end
    table.move(lines, 1, #lines, #out + 1, out)
  end
  if #out > 0 then
    io.stdout:write(table.concat(out, "\n"), "\n")
  end
  return cli.OK
end

return command
