-- Gathering every fact a savefile holds into one plain table, reading as far as the file
-- allows: a damaged file still yields everything before the damage, plus the error; and the
-- text `xlua inspect` prints from them.
local savefile = require("xlua.savefile")
local json = require("xlua.json")
local printable = require("xlua.printable")

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
-- trailer. A trailer that does not match the file is damage too (BADTRAILER), after every
-- other fact has been read.
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
  if facts.trailer and facts.trailer.found and not facts.trailer.matches then
    local _
    _, err, code = reader:verify()
    facts.error = { message = err, code = code or "BADTRAILER" }
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

local function counts_text(counts)
  local names = {}
  for name in pairs(counts or {}) do
    names[#names + 1] = name
  end
  table.sort(names)
  for i, name in ipairs(names) do
    names[i] = name .. " " .. counts[name]
  end
  return #names > 0 and table.concat(names, ", ") or "none"
end

-- inspect.text(facts) -> the report `xlua inspect` prints: one "label  value" line per fact,
-- then the config and the source as written. Everything that comes from the file (the
-- config, the extension entries) or from the person (the file name) goes through
-- printable.escape: a crafted file cannot act on the terminal.
function inspect.text(f)
  local out = {}
  local function line(label, fmt, ...)
    out[#out + 1] = string.format("%-16s", label) .. string.format(fmt, ...)
  end
  local function block(title, text)
    out[#out + 1] = ""
    out[#out + 1] = title
    out[#out + 1] = printable.escape(text, { multiline = true })
  end
  line("file", "%s%s", printable.escape(f.file), f.size and string.format(" (%d bytes)", f.size) or "")
  local h = f.header
  if h then
    line("magic", "xl savefile")
    line("byte order", "0x%08x (same as this host)", h.byteorder)
    line("mandatory flags", "0x%08x %s", h.mandatory_flags, table.concat(h.flags, " "))
    line("optional flags", "0x%08x", h.optional_flags)
    line("optional data", "%d bytes", h.optional_data_len)
  end
  if f.config then
    line("config", "%s, %d bytes", f.config.format == "json" and "libxl JSON" or "xl.cfg text", f.config.length)
  end
  if f.extensions then
    if #f.extensions == 0 then
      line("extensions", "none")
    else
      line("extensions", "XLUA block version %d", f.extension_version)
      for _, e in ipairs(f.extensions) do
        local shown = ""
        if e.name == "SOURCE_FORMAT" then
          shown = " " .. printable.escape(e.data)
        elseif e.name == "META" and e.meta then
          shown = " " .. json.encode(e.meta)
        end
        line("", "%s (%d bytes)%s", e.name or ("tag " .. e.tag), #e.data, shown)
      end
    end
  end
  local s = f.stream
  if s then
    line("stream", "libxl v%d (%s), libxc v%s, %s, page size %d, Xen %s",
      s.libxl_version, s.endianness, tostring(s.libxc_version), tostring(s.domain_type_name),
      s.page_size or 0, tostring(s.xen_version))
  end
  local sum = f.summary
  if sum then
    line("libxl records", "%s", counts_text(sum.records.libxl))
    line("libxc records", "%s", counts_text(sum.records.libxc))
    line("pages", "%d", sum.pages)
    line("stream bytes", "%d%s", sum.stream_bytes, sum.compressed and " (after zstd decompression)" or "")
  end
  if f.trailer then
    line("trailer", "%s", inspect.trailer_text(f.trailer))
  end
  if f.config then
    -- JSON re-indented in its own key order (json.pretty writes its strings' controls as \u
    -- escapes, so valid JSON stays valid); anything else as written, escaped
    block("--- config (" .. f.config.format .. ") ---",
      f.config.format == "json" and json.pretty(f.config.text) or f.config.text)
  end
  for _, e in ipairs(f.extensions or {}) do
    if e.name == "SOURCE" then
      block("--- source as written ---", e.data)
    end
  end
  return (table.concat(out, "\n"):gsub("\n*$", "\n"))
end

return inspect
