-- Show every field of a savefile: header, flags, config, extensions, stream summary.
local cli = require("xlua.cli")
local inspect = require("xlua.inspect")
local json = require("xlua.json")

local out = {}
local function line(label, fmt, ...)
  out[#out + 1] = string.format("%-16s", label) .. string.format(fmt, ...)
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

local function render_text(f)
  line("file", "%s%s", f.file, f.size and string.format(" (%d bytes)", f.size) or "")
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
          shown = " " .. e.data
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
    out[#out + 1] = ""
    out[#out + 1] = "--- config (" .. f.config.format .. ") ---"
    out[#out + 1] = f.config.format == "json" and json.pretty(f.config.text) or f.config.text
  end
  for _, e in ipairs(f.extensions or {}) do
    if e.name == "SOURCE" then
      out[#out + 1] = ""
      out[#out + 1] = "--- source as written ---"
      out[#out + 1] = e.data
    end
  end
  return (table.concat(out, "\n"):gsub("\n*$", "\n"))
end

return cli.main({
  name = "inspect",
  usage = "xlua inspect [--json] FILE|-",
  help = "Prints what a savefile holds; a damaged file shows what could be read, then the error (exit 2).",
  options = { ["--json"] = "json" },
  min_args = 1,
  max_args = 1,
}, function(opts, args)
  local refused = cli.refuse_terminal(args[1])
  if refused then
    return refused
  end
  local facts, err = inspect.read(args[1])
  if opts.json then
    io.stdout:write(json.encode(facts, { indent = "  " }), "\n")
  elseif facts.header then
    io.stdout:write(render_text(facts))
  end
  io.stdout:flush()
  if err then
    return cli.fail(cli.BAD_INPUT, "%s", err)
  end
  return cli.OK
end)
