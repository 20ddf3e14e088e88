-- Savefiles built by the specs themselves, byte by byte with string.pack: an implementation
-- of the layout independent of the C codec, so each checks the other. No binary fixtures.
local savefiles = {}

savefiles.MAGIC = "Xen saved domain, xl format\n \0 \r"
savefiles.JSON, savefiles.STREAMV2, savefiles.ZSTD = 1, 2, 0x80000000
savefiles.LIBXL = { END = 0, LIBXC_CONTEXT = 1, EMULATOR_XENSTORE_DATA = 2, EMULATOR_CONTEXT = 3 }
savefiles.LIBXC = { END = 0, PAGE_DATA = 1, X86_PV_INFO = 2, X86_PV_VCPU_BASIC = 4, SHARED_INFO = 7,
                    X86_TSC_INFO = 8, HVM_CONTEXT = 9, HVM_PARAMS = 10, STATIC_DATA_END = 16 }
local XTAB = 0xf << 60

function savefiles.header(mandatory, optional_flags, optional_len, byteorder)
  return savefiles.MAGIC .. string.pack("<I4I4I4I4", byteorder or 0x01020304, mandatory, optional_flags, optional_len)
end

local function pad8(s)
  return s .. string.rep("\0", (8 - #s % 8) % 8)
end

function savefiles.record(rtype, body)
  return string.pack("<I4I4", rtype, #body) .. pad8(body)
end

-- u32 config length + config (+ NUL for JSON) + optional XLUA block of {tag, data}.
function savefiles.optional_data(config, is_json, extensions)
  local c = is_json and config .. "\0" or config
  local data = string.pack("<I4", #c) .. c
  if extensions then
    local block = { "XLUA", string.pack("<I4", 1) }
    for _, e in ipairs(extensions) do
      block[#block + 1] = string.pack("<I4I4", e.tag, #e.data) .. pad8(e.data)
    end
    data = data .. table.concat(block)
  end
  return data
end

-- A page of 4096 bytes, deterministic from its pfn, zero for every third page.
local function page(pfn)
  if pfn % 3 == 0 then
    return string.rep("\0", 4096)
  end
  return string.rep(string.pack("<I8", pfn * 0x9E3779B97F4A7C15), 512)
end

-- PAGE_DATA records for pages 0..npages-1 in batches, each batch ending with one XTAB entry.
local function page_records(npages, batch)
  local out, pfn = {}, 0
  while pfn < npages do
    local n = math.min(batch, npages - pfn)
    local pfns, pages = {}, {}
    for i = 0, n - 1 do
      pfns[#pfns + 1] = string.pack("<I8", pfn + i)
      pages[#pages + 1] = page(pfn + i)
    end
    pfns[#pfns + 1] = string.pack("<I8", XTAB | (npages + pfn))
    local body = string.pack("<I4I4", n + 1, 0) .. table.concat(pfns) .. table.concat(pages)
    out[#out + 1] = savefiles.record(savefiles.LIBXC.PAGE_DATA, body)
    pfn = pfn + n
  end
  return table.concat(out)
end

-- A whole libxl v2 stream as libxl would write it for a PV guest of opts.pages pages.
function savefiles.stream(opts)
  opts = opts or {}
  local L, C = savefiles.LIBXL, savefiles.LIBXC
  return table.concat({
    "LibxlFmt", string.pack(">I4I4", 2, 0),
    savefiles.record(L.LIBXC_CONTEXT, ""),
    string.pack(">I8I4I4I2", -1, 0x58454E46, 3, 0), string.rep("\0", 6),
    string.pack("<I4I2I2I4I4", opts.domain_type or 1, 12, 0, 4, 17),
    savefiles.record(C.X86_PV_INFO, string.pack("<BBI2I4", 8, 4, 0, 0)),
    savefiles.record(C.STATIC_DATA_END, ""),
    page_records(opts.pages or 10, opts.batch or 4),
    savefiles.record(C.X86_TSC_INFO, string.rep("\1", 24)),
    savefiles.record(C.SHARED_INFO, string.rep("\2", 4096)),
    savefiles.record(C.END, ""),
    savefiles.record(L.EMULATOR_XENSTORE_DATA, "physmap\0"),
    savefiles.record(L.END, ""),
  })
end

-- The config real xl puts in a savefile (abridged, same shape).
savefiles.XL_CONFIG = [[{
    "c_info": {
        "type": "pv",
        "name": "guest1",
        "uuid": "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
    },
    "b_info": {
        "max_vcpus": 1,
        "max_memkb": 131072,
        "target_memkb": 131072
    }
}]]

-- A file the way xl 4.17 writes it: JSON config, STREAMv2, no extensions, no trailer.
function savefiles.xl_file(opts)
  opts = opts or {}
  local optional = savefiles.optional_data(opts.config or savefiles.XL_CONFIG, true)
  return savefiles.header(savefiles.JSON | savefiles.STREAMV2, 0, #optional) .. optional
    .. savefiles.stream(opts)
end

-- The same content written through the C writer (xlua.savefile.writer), with a trailer.
function savefiles.write(path, opts)
  opts = opts or {}
  local savefile = require("xlua.savefile")
  local f = assert(io.open(path, "wb"))
  local w = savefile.writer(f)
  assert(w:header({
    config = opts.config or savefiles.XL_CONFIG,
    json = opts.json ~= false,
    zstd = opts.zstd,
    extensions = opts.extensions,
  }))
  assert(w:write(savefiles.stream(opts)))
  assert(w:finish())
  f:close()
end

return savefiles
