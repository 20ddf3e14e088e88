-- Gathering every fact a savefile holds into one plain table, reading as far as the file
-- allows: a damaged file still yields everything before the damage, plus the error.
local savefile = require("xlua.savefile")
local json = require("xlua.json")

local inspect = {}

local function file_size(path)
  if path == "-" then
    return nil
  end
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local size = f:seek("end")
  f:close()
  return size
end

-- Returns facts, and on damage also message and code (facts.error holds them too).
-- facts: file, size, header, config, extensions (a list), extension_version, stream, summary,
-- trailer.
function inspect.read(path)
  local facts = { file = path, size = file_size(path) }
  local reader, err, code = savefile.open(path)
  if not reader then
    facts.error = { message = err, code = code }
    return facts, err, code
  end
  for _, step in ipairs({ "header", "config", "extensions", "stream", "summary", "trailer" }) do
    local value
    value, err, code = reader[step](reader)
    if value == nil then
      facts.error = { message = err, code = code }
      break
    end
    facts[step] = value
  end
  if facts.extensions then
    -- A plain list for JSON; the block's version beside it.
    facts.extension_version = facts.extensions.version
    facts.extensions = json.array(table.move(facts.extensions, 1, #facts.extensions, 1, {}))
    for _, entry in ipairs(facts.extensions) do
      if entry.name == "META" then
        entry.meta = json.decode(entry.data)
      end
    end
  end
  reader:close()
  if facts.error then
    return facts, facts.error.message, facts.error.code
  end
  return facts
end

-- The trailer verdict in words.
function inspect.trailer_text(trailer)
  if not trailer.found then
    return "none (a file written by xl has none)"
  end
  return (trailer.matches and "found, matches" or "found, DOES NOT MATCH")
    .. string.format(" (%d bytes, XXH3-128 %s)", trailer.length, trailer.hash)
end

return inspect
