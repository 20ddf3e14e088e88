-- The demo behind `./dev.sh demo`: a savefile carrying its domain's config, written,
-- inspected, verified, then damaged by one byte and caught.
-- Run it with: xlua examples/demo.lua [DIR]
local savefile = require("xlua.savefile")

local xlua_bin = arg[-1] or "xlua"
local dir = arg[1] or io.popen("mktemp -d"):read("l")
os.execute("mkdir -p '" .. dir .. "'")
local path = dir .. "/web1.sav"

local function sh(cmd)
  io.write("\n$ ", cmd, "\n")
  io.flush()
  local ok, _, code = os.execute(cmd)
  io.write("(exit status ", tostring(code), ")\n")
  return ok
end

-- A small PV guest's savefile: config, source text, and a stream of 256 pages (1 MiB).
local source = 'name = "web1"\nmemory = 1\nvcpus = 1\nkernel = "/boot/vmlinuz"\n'
local config = '{"c_info":{"type":"pv","name":"web1"},"b_info":{"max_memkb":1024,"target_memkb":1024,"max_vcpus":1}}'
local f = assert(io.open(path, "wb"))
local w = savefile.writer(f)
assert(w:header({
  config = config,
  extensions = {
    { tag = savefile.EXT_SOURCE, data = source },
    { tag = savefile.EXT_SOURCE_FORMAT, data = "xl" },
    { tag = savefile.EXT_META, data = '{"name":"web1","saved_at":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '"}' },
  },
}))
assert(w:libxl_header())
assert(w:record(1, "")) -- LIBXC_CONTEXT: the libxc stream follows
assert(w:libxc_headers({ domain_type = 1, page_shift = 12, xen_major = 4, xen_minor = 17, version = 3 }))
for batch = 0, 3 do
  local pfns, pages = {}, {}
  for i = 0, 63 do
    local pfn = batch * 64 + i
    pfns[#pfns + 1] = string.pack("<I8", pfn)
    pages[#pages + 1] = pfn % 4 == 0 and string.rep("\0", 4096) or string.rep(string.pack("<I8", pfn), 512)
  end
  assert(w:record(1, string.pack("<I4I4", 64, 0) .. table.concat(pfns) .. table.concat(pages))) -- PAGE_DATA
end
assert(w:record(0, "")) -- libxc END
assert(w:record(0, "")) -- libxl END
assert(w:finish())
f:close()

print("Wrote " .. path)
sh(xlua_bin .. " inspect " .. path)
sh(xlua_bin .. " verify " .. path)
-- Flip one byte in the middle of the page data: the trailer's XXH3-128 no longer matches.
sh(("printf '\\377' | dd of=%s bs=1 seek=200000 conv=notrunc status=none"):format(path))
sh(xlua_bin .. " verify " .. path)
os.execute("rm -rf '" .. dir .. "'")
