-- xlua.savefile from Lua: reading what xl writes, round trips through the writer, and a
-- stable error code for every kind of damage.
local savefile = require("xlua.savefile")
local helper = require("support.helper")
local sf = require("support.savefiles")

local dir = helper.tmpdir()
local n = 0
local function file_with(bytes)
  n = n + 1
  local path = dir .. "/f" .. n .. ".sav"
  helper.spit(path, bytes)
  return path
end

-- Everything a reader can say about path: the error of the first failing step.
local function read_all(path)
  local r, err, code = savefile.open(path)
  if not r then
    return nil, err, code
  end
  local ok
  ok, err, code = r:verify()
  r:close()
  return ok, err, code
end

describe("xlua.savefile", function()
  it("exposes the format's constants", function()
    assert.equal(sf.MAGIC, savefile.MAGIC)
    assert.equal(1, savefile.FLAG_JSON)
    assert.equal(2, savefile.FLAG_STREAMV2)
    assert.equal(0x80000000, savefile.FLAG_ZSTD)
    assert.equal("PAGE_DATA", savefile.record_names.libxc[1])
    assert.equal("LIBXC_CONTEXT", savefile.record_names.libxl[1])
  end)

  describe("reading a file as xl writes it", function()
    local path = file_with(sf.xl_file({ pages = 10, batch = 4 }))

    it("reads the header, the JSON config and no extensions", function()
      local r = assert(savefile.open(path))
      local h = assert(r:header())
      assert.equal(0x01020304, h.byteorder)
      assert.equal(3, h.mandatory_flags)
      assert.same({ "JSON", "STREAMv2" }, h.flags)
      assert.equal(0, h.optional_flags)
      assert.equal(4 + #sf.XL_CONFIG + 1, h.optional_data_len)
      local c = assert(r:config())
      assert.equal("json", c.format)
      assert.equal(sf.XL_CONFIG, c.text)
      assert.equal(#sf.XL_CONFIG + 1, c.length)
      assert.equal(0, #assert(r:extensions()))
      r:close()
    end)

    it("walks the stream: versions, domain type, records by type, pages", function()
      local r = assert(savefile.open(path))
      local s = assert(r:stream())
      assert.equal(2, s.libxl_version)
      assert.equal(3, s.libxc_version)
      assert.equal("little", s.endianness)
      assert.equal(1, s.domain_type)
      assert.equal(4096, s.page_size)
      assert.equal("4.17", s.xen_version)
      local sum = assert(r:summary())
      -- 10 pages in batches of 4: 3 records, each with one extra XTAB entry
      assert.equal(3, sum.records.libxc.PAGE_DATA)
      assert.equal(13, sum.pages)
      assert.equal(1, sum.records.libxc.END)
      assert.equal(1, sum.records.libxl.LIBXC_CONTEXT)
      assert.equal(1, sum.records.libxl.END)
      assert.equal(1, sum.records.libxl.EMULATOR_XENSTORE_DATA)
      assert.equal(#sf.stream({ pages = 10, batch = 4 }), sum.stream_bytes)
      assert.is_false(sum.compressed)
      local t = assert(r:trailer())
      assert.is_false(t.found)
      assert.is_true(r:verify())
      r:close()
    end)

    it("iterates records in order with their offsets", function()
      local r = assert(savefile.open(path))
      local seen = {}
      for rec in r:records() do
        seen[#seen + 1] = rec.layer .. ":" .. rec.name
        assert.is_number(rec.offset)
      end
      assert.is_nil(r:error())
      assert.equal("libxl:LIBXC_CONTEXT", seen[1])
      assert.equal("libxc:X86_PV_INFO", seen[2])
      assert.equal("libxl:END", seen[#seen])
      r:close()
    end)
  end)

  describe("the writer", function()
    it("writes a file whose trailer matches, with the extensions read back", function()
      local path = dir .. "/written.sav"
      sf.write(path, {
        extensions = {
          { tag = savefile.EXT_SOURCE, data = 'name = "guest1"\nmemory = 128\n' },
          { tag = savefile.EXT_SOURCE_FORMAT, data = "xl" },
          { tag = 77, data = "future" },
        },
      })
      local r = assert(savefile.open(path))
      local ext = assert(r:extensions())
      assert.equal(1, ext.version)
      assert.equal("SOURCE", ext[1].name)
      assert.equal('name = "guest1"\nmemory = 128\n', ext[1].data)
      assert.equal("SOURCE_FORMAT", ext[2].name)
      assert.equal("xl", ext[2].data)
      assert.equal(77, ext[3].tag)
      assert.equal("future", ext[3].data)
      assert.is_true(r:verify())
      local t = assert(r:trailer())
      assert.is_true(t.found)
      assert.is_true(t.matches)
      assert.equal(t.hash, t.computed)
      assert.equal(32, #t.hash)
      r:close()
    end)

    it("writes the same header and optional data bytes as the independent Lua builder", function()
      local path = dir .. "/same.sav"
      sf.write(path, {})
      local bytes = helper.slurp(path)
      local expected = sf.xl_file({})
      assert.equal(expected, bytes:sub(1, #expected))
      assert.equal("XLUA-END", bytes:sub(#expected + 1, #expected + 8))
      assert.equal(#expected + 32, #bytes)
    end)

    it("compresses the stream with zstd and reads it back the same", function()
      local path = dir .. "/z.sav"
      sf.write(path, { zstd = true, pages = 64 })
      local r = assert(savefile.open(path))
      assert.same({ "JSON", "STREAMv2", "ZSTD" }, assert(r:header()).flags)
      local sum = assert(r:summary())
      assert.is_true(sum.compressed)
      assert.equal(#sf.stream({ pages = 64 }), sum.stream_bytes)
      assert.is_true(assert(r:trailer()).matches)
      r:close()
      assert.is_true(#helper.slurp(path) < #sf.stream({ pages = 64 }))
    end)

    it("writes xl.cfg text configs without the JSON flag", function()
      local path = dir .. "/cfg.sav"
      sf.write(path, { json = false, config = "name = 'g'\n" })
      local r = assert(savefile.open(path))
      assert.same({ "STREAMv2" }, assert(r:header()).flags)
      local c = assert(r:config())
      assert.equal("xl", c.format)
      assert.equal("name = 'g'\n", c.text)
      r:close()
    end)
  end)

  describe("writer arguments", function()
    local function new_writer()
      local w = savefile.writer(io.tmpfile())
      return w
    end

    it("reads header options raw: fields from __index are not seen", function()
      local mt = { __index = function(_, k)
        collectgarbage()
        if k == "data" then return ("D"):rep(1000) end
        if k == "tag" then return 1 end
      end }
      local w = new_writer()
      local exts = { setmetatable({}, mt) }
      local ok, err = pcall(w.header, w, { config = "{}", extensions = exts })
      assert.is_false(ok)
      assert.matches("extensions[1].tag must be a u32", err, 1, true)
      local opts = setmetatable({}, { __index = function() error("__index ran") end })
      w = new_writer()
      assert.is_true(w:header(opts))
      w:close()
    end)

    it("keeps many extension strings alive through the write, collected or not", function()
      local path = dir .. "/many-ext.sav"
      local f = assert(io.open(path, "wb"))
      local w = savefile.writer(f)
      local exts = {}
      for i = 1, 200 do
        exts[i] = { tag = 100 + i, data = ("%d:"):format(i) .. ("x"):rep(i) }
      end
      assert.is_true(w:header({ config = "{}", extensions = exts }))
      exts = nil
      collectgarbage()
      assert(w:libxl_header())
      assert(w:record(0, ""))
      assert(w:finish())
      f:close()
      local r = assert(savefile.open(path))
      local e = assert(r:extensions())
      assert.equal(200, #e)
      for i = 1, 200 do
        assert.equal(100 + i, e[i].tag)
        assert.equal(("%d:"):format(i) .. ("x"):rep(i), e[i].data)
      end
      r:close()
    end)

    it("raises on options of the wrong type", function()
      for _, opts in ipairs({
        { json = "yes" }, { streamv2 = 1 }, { zstd = "false" }, { config = 5 },
        { zstd_level = "3" }, { zstd_level = 1.5 }, { extensions = "x" },
        { extensions = { { tag = -1, data = "" } } }, { extensions = { { tag = 1, data = 2 } } },
      }) do
        assert.has_error(function() new_writer():header(opts) end)
      end
    end)

    it("raises on a zstd level zstd does not have, and takes one it has", function()
      assert.has_error(function() new_writer():header({ zstd = true, zstd_level = 1e9 }) end)
      assert.has_error(function() new_writer():header({ zstd = true, zstd_level = 23 }) end)
      assert.has_error(function() new_writer():header({ zstd = true, zstd_level = -(1 << 40) }) end)
      local w = new_writer()
      assert.is_true(w:header({ zstd = true, zstd_level = 19 }))
      assert.is_true(w:write("abc"))
      assert.is_number(w:finish())
    end)

    it("raises on libxc header fields the reader would refuse or a u32 cannot hold", function()
      local function headers(t)
        local w = new_writer()
        assert(w:header({}))
        return w:libxc_headers(t)
      end
      for _, t in ipairs({
        { page_shift = 11 }, { page_shift = 22 }, { page_shift = 40 }, { version = 1 }, { version = 4 },
        { domain_type = -1 }, { domain_type = 1 << 32 }, { xen_major = -1 }, { xen_minor = 1 << 32 },
        { page_shift = "12" },
      }) do
        assert.has_error(function() headers(t) end)
      end
      assert.is_true(headers({ page_shift = 12, version = 2 }))
      assert.is_true(headers({ page_shift = 21, domain_type = 0xFFFFFFFF, xen_major = 0xFFFFFFFF }))
    end)

    it("writes to its own copy of the fd: closing the file and reusing its number is safe", function()
      local a, victim = dir .. "/fd-a.sav", dir .. "/fd-victim.txt"
      local f = assert(io.open(a, "wb"))
      local w = savefile.writer(f)
      assert(w:header({ config = "{}" }))
      f:close()
      local g = assert(io.open(victim, "wb"))       -- likely gets f's old fd number
      g:write("important\n")
      g:flush()
      assert(w:libxl_header())
      assert(w:record(0, ""))
      assert.is_number(w:finish())
      w:close()
      g:close()
      assert.equal("important\n", helper.slurp(victim))
      assert.is_true(read_all(a))
    end)

    it("fails with nil, msg, code for an fd that is not open", function()
      local w, err, code = savefile.writer(999)
      assert.is_nil(w)
      assert.is_string(err)
      assert.equal("EBADF", code)
      assert.has_error(function() savefile.writer(-1) end)
      -- open only for reading (what xlua puts on a closed stdout): refused before any write
      local f = assert(io.open("/dev/null", "rb"))
      w, err, code = savefile.writer(f)
      f:close()
      assert.is_nil(w)
      assert.equal("EBADF", code)
    end)
  end)

  describe("atomic files (savefile.create)", function()
    local function listing(d)
      local p = io.popen("ls -A " .. helper.shell_quote(d))
      local names = p:read("a")
      p:close()
      return names
    end

    local function write_atomic(path, pages)
      local w = assert(savefile.create(path))
      assert(w:header({ config = sf.XL_CONFIG }))
      assert(w:write(sf.stream({ pages = pages })))
      return w
    end

    it("shows nothing at the path until finish, then the whole file, mode 0600", function()
      local d = helper.tmpdir()
      local path = d .. "/a.sav"
      local w = write_atomic(path, 4)
      assert.is_nil(io.open(path, "rb"))
      assert.matches("^%.a%.sav%.xlua%-tmp%.%d+%.%w+\n$", listing(d))
      assert.is_number(w:finish())
      w:close()
      assert.equal("a.sav\n", listing(d))
      local p = io.popen("stat -c %a " .. helper.shell_quote(path))
      assert.equal("600", p:read("l"))
      p:close()
      local r = assert(savefile.open(path))
      assert.is_true(r:verify())
      r:close()
    end)

    it("keeps the old file and removes the temporary one when the writer is dropped unfinished", function()
      local d = helper.tmpdir()
      local path = d .. "/b.sav"
      helper.spit(path, "old contents")
      local w = write_atomic(path, 4)
      w:close()
      assert.equal("old contents", helper.slurp(path))
      assert.equal("b.sav\n", listing(d))
      write_atomic(path, 4) -- never closed: the garbage collector discards it
      collectgarbage()
      collectgarbage()
      assert.equal("b.sav\n", listing(d))
    end)

    it("removes a stale temporary file left by a killed writer, and leaves a live one", function()
      local d = helper.tmpdir()
      helper.spit(d .. "/.c.sav.xlua-tmp.999999999", "torn")
      local live = d .. "/.c.sav.xlua-tmp.1" -- pid 1 is alive
      helper.spit(live, "someone else's")
      local w = write_atomic(d .. "/c.sav", 2)
      assert(w:finish())
      w:close()
      assert.equal(".c.sav.xlua-tmp.1\nc.sav\n", listing(d))
    end)

    it("keeps two writers to one path apart: the last to finish wins, whole", function()
      local d = helper.tmpdir()
      local path = d .. "/t.sav"
      local w1 = write_atomic(path, 4)
      local w2 = write_atomic(path, 2)
      assert(w1:finish())
      w1:close()
      local r = assert(savefile.open(path))
      assert.equal(5, assert(r:summary()).pages)
      r:close()
      assert(w2:finish())
      w2:close()
      r = assert(savefile.open(path))
      assert.is_true(r:verify())
      assert.equal(3, assert(r:summary()).pages)
      r:close()
      assert.equal("t.sav\n", listing(d))
    end)

    it("fails cleanly where the directory does not exist", function()
      local w, err, code = savefile.create("/nonexistent-dir/x.sav")
      assert.is_nil(w)
      assert.equal("ENOENT", code)
      assert.matches("x.sav", err, 1, true)
    end)
  end)

  describe("bad input: each kind of damage has its own code", function()
    local good = sf.xl_file({})
    local config = sf.optional_data(sf.XL_CONFIG, true)
    local stream = sf.stream({})
    local cases = {
      { "a file shorter than the header", good:sub(1, 47), "SHORTHEADER" },
      { "an empty file", "", "SHORTHEADER" },
      { "a wrong magic", "Xen saved domain, xm format\n \0 \r" .. good:sub(33), "BADMAGIC" },
      { "the other byte order", sf.header(3, 0, #config, 0x04030201) .. config .. stream, "BYTEORDER" },
      { "unknown mandatory flags", sf.header(3 | 0x30, 0, #config) .. config .. stream, "BADFLAGS" },
      { "optional data longer than the file", sf.header(3, 0, 1 << 30) .. config, "BADOPTLEN" },
      { "config length past the optional data", sf.header(3, 0, 8) .. string.pack("<I4", 100) .. "abcd" .. stream,
        "BADCONFIGLEN" },
      { "a JSON config without its NUL", sf.header(3, 0, 4 + 2) .. string.pack("<I4", 2) .. "{}" .. stream, "NONUL" },
      { "a bad extension block", sf.header(3, 0, #config + 5) .. config .. "XLUA!" .. stream, "BADEXT" },
      { "an extension entry claiming 4 GiB - 7 bytes (its padding used to wrap to 0)",
        sf.header(3, 0, #config + 16) .. config .. "XLUA" .. string.pack("<I4I4I4", 1, 3, 0xFFFFFFF9)
          .. stream, "BADEXT" },
      { "an extension entry claiming 4 GiB - 1 byte",
        sf.header(3, 0, #config + 16) .. config .. "XLUA" .. string.pack("<I4I4I4", 1, 3, 0xFFFFFFFF)
          .. stream, "BADEXT" },
      { "a bad libxl stream header", sf.header(3, 0, #config) .. config .. "LibxlFmX" .. stream:sub(9), "BADSTREAM" },
      { "an absurd record length",
        sf.header(3, 0, #config) .. config .. stream:sub(1, 16) .. string.pack("<I4I4", 1, 0x7fffffff), "RECLEN" },
      { "an unknown record type",
        sf.header(3, 0, #config) .. config .. stream:sub(1, 16) .. sf.record(0x1234, ""), "BADRECTYPE" },
      { "garbage after the stream", good .. "NOT-A-TRAILER-AT-ALL-32-BYTES!!!", "BADTRAILER" },
      { "no STREAMv2 flag", sf.header(1, 0, #config) .. config .. stream, "LEGACYSTREAM" },
    }
    for _, case in ipairs(cases) do
      it("refuses " .. case[1] .. " with " .. case[3], function()
        local path = file_with(case[2])
        local ok, err, code = read_all(path)
        assert.is_nil(ok)
        assert.equal(case[3], code)
        assert.matches(path, err, 1, true)
      end)
    end

    it("refuses a missing file with ENOENT", function()
      local ok, err, code = read_all(dir .. "/missing.sav")
      assert.is_nil(ok)
      assert.equal("ENOENT", code)
      assert.matches("missing.sav", err, 1, true)
    end)

    it("refuses a trailer whose hash does not match", function()
      local path = dir .. "/flip.sav"
      sf.write(path, {})
      local bytes = helper.slurp(path)
      local flipped = bytes:sub(1, 100) .. string.char(bytes:byte(101) ~ 1) .. bytes:sub(102)
      local ok, _, code = read_all(file_with(flipped))
      assert.is_nil(ok)
      assert.equal("BADTRAILER", code)
    end)

    it("refuses a trailer whose length does not match", function()
      local path = dir .. "/len.sav"
      sf.write(path, {})
      local bytes = helper.slurp(path)
      local at = #bytes - 32 + 9
      local wrong = bytes:sub(1, at - 1) .. string.pack("<I8", 1) .. bytes:sub(at + 8)
      local ok, _, code = read_all(file_with(wrong))
      assert.is_nil(ok)
      assert.equal("BADTRAILER", code)
    end)

    it("reports a cut at every byte of the stream as TRUNCATED, with the offset", function()
      local small = sf.xl_file({ pages = 2, batch = 2 })
      local header_len = 48 + #config
      for cut = header_len, #small - 1, 7 do
        local ok, err, code = read_all(file_with(small:sub(1, cut)))
        assert.is_nil(ok, "a file cut at " .. cut .. " verified")
        assert.equal("TRUNCATED", code, "cut at " .. cut .. ": " .. tostring(err))
        assert.matches("%d", err)
      end
    end)

    it("keeps failing with the same error once damaged (sticky)", function()
      local r = assert(savefile.open(file_with(good:sub(1, #good - 100))))
      local _, _, c1 = r:verify()
      local _, _, c2 = r:summary()
      assert.equal("TRUNCATED", c1)
      assert.equal(c1, c2)
      r:close()
    end)
  end)
end)
