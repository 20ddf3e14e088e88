-- The config stored inside a savefile: reading it (xlua config FILE), and replacing it (xlua
-- set-config, as virsh save-image-define does) after the compatibility check, the file
-- rewritten atomically around its unchanged stream with a new trailer (savefile.rewrite).
local compat = require("xlua.compat")
local config = require("xlua.config")
local domains = require("xlua.domains")
local json = require("xlua.json")
local savefile = require("xlua.savefile")

local saved_config = {}

-- saved_config.read(path) -> {libxl, json, source, format, meta}, extensions | nil, msg, code:
-- what the savefile at path stores (NOCONFIG when it holds no config), read up to its stream.
function saved_config.read(path)
  local reader, err, code = savefile.open(path)
  if not reader then
    return nil, err, code
  end
  local saved, exts
  saved, err, code = config.saved(reader, path)
  if saved then
    exts, err, code = reader:extensions()
  end
  reader:close()
  if not saved or not exts then
    return nil, err, code
  end
  return saved, exts
end

-- The extension entries of the new file: the old ones (META, and tags xlua does not know,
-- kept as they are), with the config as written replaced (or dropped: a JSON config has no
-- text of its own, and the old text would no longer describe the file), and META noting when.
local function new_extensions(exts, wanted)
  local out = {}
  for _, e in ipairs(exts) do
    if e.tag == savefile.EXT_META then
      local meta = json.decode(e.data)
      if type(meta) == "table" then
        meta.config_set_at = os.date("!%Y-%m-%dT%H:%M:%SZ")
        meta.runtime = nil -- the runtime changes were since the old text; the new one is whole
        out[#out + 1] = { tag = e.tag, data = json.encode(meta) }
      else
        out[#out + 1] = { tag = e.tag, data = e.data }
      end
    elseif e.tag ~= savefile.EXT_SOURCE and e.tag ~= savefile.EXT_SOURCE_FORMAT then
      out[#out + 1] = { tag = e.tag, data = e.data }
    end
  end
  if wanted.source then
    table.insert(out, 1, { tag = savefile.EXT_SOURCE, data = wanted.source })
    if wanted.format then
      table.insert(out, 2, { tag = savefile.EXT_SOURCE_FORMAT, data = wanted.format })
    end
  end
  return out
end

-- saved_config.replace(path, config_path [, {force, site_rules, context}]) -> {path, bytes,
-- report} | nil, msg, code [, report]. config_path: an xl.cfg, Lua or libxl JSON config, or
-- another savefile (its stored config); without a uuid it keeps the saved domain's. The check
-- is restore's (site rules included): an incompatible config is refused (INCOMPATIBLE, with
-- the report) unless force. The file must verify whole (the reader's codes otherwise); it is
-- replaced atomically, its stream copied byte for byte, so a failure leaves it as it was.
function saved_config.replace(path, config_path, opts)
  opts = opts or {}
  local saved, exts, rcode = saved_config.read(path)
  if not saved then
    return nil, exts, rcode
  end
  local wanted, err, code = config.load_any(config_path)
  if not wanted then
    return nil, err, code
  end
  config.keep_identity(wanted, saved.libxl and type(saved.libxl.c_info) == "table" and saved.libxl.c_info.uuid)
  local named
  named, err, code = domains.check_name(type(wanted.libxl.c_info) == "table" and wanted.libxl.c_info.name)
  if not named then
    return nil, err, code
  end
  local report = compat.check(saved.libxl or wanted.libxl, wanted.libxl,
    { site_rules = opts.site_rules, context = opts.context, force = opts.force })
  if not report.compatible and not opts.force then
    local n = report.counts.incompatible
    return nil, string.format("%s is not compatible with the config saved in %s: %d incompatible difference%s",
      config_path, path, n, n == 1 and "" or "s"), "INCOMPATIBLE", report
  end
  local bytes
  bytes, err, code = savefile.rewrite(path, {
    config = wanted.json or json.encode(wanted.libxl, { indent = "    " }),
    json = true,
    extensions = new_extensions(exts, wanted),
  })
  if not bytes then
    return nil, err, code
  end
  return { path = path, bytes = bytes, report = report }
end

return saved_config
