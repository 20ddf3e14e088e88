-- The stored config kept true after a runtime change (mem-set, block-attach, ...): the stored
-- libxl JSON takes the changed part from the backend's live view (libxl's own record: what
-- libxl_retrieve_domain_configuration reports), and a change log in the config store (key
-- "runtime") says what changed since the config was written, for `xlua config`. The text as
-- written is never rewritten.
local domains = require("xlua.domains")
local json = require("xlua.json")

local record = {}

record.KEY = "runtime"

-- What each kind of change refreshes in the stored JSON, as libxl's retrieve does.
record.PATHS = {
  memory = { "b_info", "target_memkb" },
  max_memory = { "b_info", "max_memkb" },
  vcpus = { "b_info", "avail_vcpus" },
  sched = { "b_info", "sched_params" },
  disk = { "disks" },
  nic = { "nics" },
  pci = { "pcidevs" },
}

local function get(t, path)
  for _, k in ipairs(path) do
    if type(t) ~= "table" then
      return nil
    end
    t = t[k]
  end
  return t
end

-- An empty list is no list: libxl's JSON leaves out an empty array.
local function empty(v)
  return type(v) == "table" and next(v) == nil
end

local function set(t, path, v)
  for i = 1, #path - 1 do
    local k = path[i]
    if type(t[k]) ~= "table" then
      t[k] = {}
    end
    t = t[k]
  end
  t[path[#path]] = not empty(v) and v or nil
end

-- The change log: a list of {at = "2026-...Z", change = "memory 262144 KiB -> 131072 KiB"}.
function record.entries(h, domid)
  return record.decode(h:store_get(domid, record.KEY))
end

-- The change log of the stored text (nil: none).
function record.decode(text)
  local list = type(text) == "string" and json.decode(text)
  return type(list) == "table" and list or {}
end

-- A log that came with a savefile (its META "runtime"), to keep with the restored domain:
-- {[record.KEY] = text} for domains.store_config's extra, or nil when there is none.
function record.stored(entries)
  if type(entries) ~= "table" or #entries == 0 then
    return nil
  end
  return { [record.KEY] = json.encode(json.array(entries)) }
end

-- record.changed(h, domid, kind, text) -> true | nil, msg, code: the change (a key of
-- record.PATHS) is done; bring the stored JSON in line and log text.
function record.changed(h, domid, kind, text)
  local live_text, err, code = h:config(domid)
  if not live_text then
    return nil, "changed, but its config cannot be read back: " .. tostring(err), code
  end
  local config = require("xlua.config")
  local live
  live, err, code = config.from_json(live_text)
  if not live then
    return nil, "changed, but its config read back is not libxl JSON: " .. tostring(err), code
  end
  local stored_text = h:store_get(domid, domains.KEY_JSON)
  local stored = type(stored_text) == "string" and config.from_json(stored_text)
  if stored then
    local path = record.PATHS[kind]
    set(stored, path, get(live, path))
    local ok
    ok, err, code = h:store_put(domid, domains.KEY_JSON, json.encode(stored, { indent = "    " }))
    if not ok then
      return nil, "changed, but its stored config could not be updated: " .. tostring(err), code
    end
  end
  local entries = record.entries(h, domid)
  entries[#entries + 1] = { at = os.date("!%Y-%m-%dT%H:%M:%SZ"), change = text }
  local ok
  ok, err, code = h:store_put(domid, record.KEY, json.encode(json.array(entries)))
  if not ok then
    return nil, "changed, but the change could not be logged: " .. tostring(err), code
  end
  return true
end

-- The note `xlua config` prints under the text as written: nil when nothing changed.
function record.note(entries, comment)
  if #entries == 0 then
    return nil
  end
  comment = comment or "#"
  local lines = { comment .. " xlua: changed at runtime since this config was written; the domain",
    comment .. " runs, saves and restores with the changes (xlua config --current shows them all):" }
  for _, e in ipairs(entries) do
    lines[#lines + 1] = string.format("%s   %s  %s", comment, tostring(e.at), tostring(e.change))
  end
  return table.concat(lines, "\n") .. "\n"
end

return record
