-- spec/fuzz/seeds.lua: the savefile fuzz targets' seed corpora, written by xlua itself: domains of
-- the sim backend, created by the create policy from real xl.cfg files (Lua configs would need
-- the sandbox process) and saved by the save policy (plain and -z), with their memory cut to a
-- few pages so that each seed is a few KiB; and one file as xl writes them (config only, no
-- xlua block, no trailer).
-- Run by the xlua host, with $XLUA_SIM_DIR set to a scratch directory:
--   xlua spec/fuzz/seeds.lua OUTDIR SOURCE_DIR
-- writes OUTDIR/savefile/*.sav (read by fuzz_savefile and fuzz_savefile_zstd) and
-- OUTDIR/savefile_pipe/* (the same files behind fuzz_savefile_pipe's two chunking bytes).
local create = require("xlua.create")
local domains = require("xlua.domains")
local json = require("xlua.json")
local save = require("xlua.save")
local savefile = require("xlua.savefile")

local out, src = arg[1], arg[2]
assert(out and src, "usage: xlua spec/fuzz/seeds.lua OUTDIR SOURCE_DIR")
assert(os.getenv("XLUA_SIM_DIR"), "set XLUA_SIM_DIR to a scratch directory")

local function check(ok, err, code)
  if not ok then
    error(string.format("seeds: %s (%s)", tostring(err), tostring(code)), 2)
  end
  return ok
end

local h = check(domains.open("sim"))
local files = {}

-- A domain from a config file, with 2 pages of memory and 4 of maxmem (2 without data).
local function small_domain(path)
  local plan = check(create.prepare(path))
  plan.libxl.b_info.target_memkb, plan.libxl.b_info.max_memkb = 8, 16
  plan.facts.memory_kb, plan.facts.max_memory_kb = 8, 16
  plan.json = json.encode(plan.libxl, { indent = "    " })
  return check(create.run(h, plan))
end

for _, c in ipairs({
  { "pv", src .. "/spec/fixtures/cfg/pv-basic.cfg" },
  { "pvh", src .. "/spec/fixtures/cfg/pvh-basic.cfg" },
  { "hvm", src .. "/spec/fixtures/cfg/hvm-linux.cfg" },
  { "win", src .. "/spec/fixtures/cfg/hvm-windows.cfg" },
}) do
  local name, path = c[1], c[2]
  local dom = small_domain(path)
  for _, z in ipairs({ false, true }) do
    local file = string.format("%s/savefile/%s%s.sav", out, name, z and "-z" or "")
    check(save.save(h, dom.domid, file, { zstd = z, checkpoint = true }))
    files[#files + 1] = file
  end
  check(h:destroy(dom.domid))
end

-- As xl writes a savefile: the JSON config alone in the optional data, no trailer.
local dom = small_domain(src .. "/spec/fixtures/cfg/pv-basic.cfg")
local file = out .. "/savefile/xl.sav"
local w = check(savefile.create(file))
check(w:header({ config = check(h:config(dom.domid)), json = true, streamv2 = true }))
check(h:save(dom.domid, w))
check(w:finish(false))
w:close()
check(h:destroy(dom.domid))
files[#files + 1] = file

-- fuzz_savefile_pipe's input: mode byte (bits 0-2 the largest chunk, bit 3 compress), seed byte.
for i, file in ipairs(files) do
  local f = assert(io.open(file, "rb"))
  local bytes = f:read("a")
  f:close()
  for _, mode in ipairs({ 0x00, 0x04, 0x07, 0x0b, 0x0e }) do
    local base = file:match("([^/]+)%.sav$")
    local o = assert(io.open(string.format("%s/savefile_pipe/%s-%02x.in", out, base, mode), "wb"))
    o:write(string.char(mode, 0x5a + i), bytes)
    o:close()
  end
end
print(string.format("seeds: %d savefiles in %s/savefile", #files, out))
