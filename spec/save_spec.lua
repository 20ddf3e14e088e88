-- The save policy against the fake backend: the file's contents, what happens to the domain,
-- and that every failure leaves the domain as it was and the target path untouched.
local helper = require("support.helper")
local fake = require("fakes.domain").install()
local create = require("xlua.create")
local save = require("xlua.save")
local savefile = require("xlua.savefile")
local json = require("xlua.json")

local dir = helper.tmpdir()
local web1 = dir .. "/web1.cfg"
helper.spit(web1, 'name = "web1"\nkernel = "/boot/vmlinuz"\nmemory = 256\nvcpus = 2\ndisk = [ "vdev=xvda,target=/srv/web1.img" ]\n')
local replacement = dir .. "/web1-new.cfg"
helper.spit(replacement, 'name = "web1"\nkernel = "/boot/vmlinuz"\nmemory = 256\nvcpus = 2\ndisk = [ "vdev=xvda,target=/new/web1.img" ]\n')

local h, domid, n = nil, nil, 0
local function target()
  n = n + 1
  return string.format("%s/t%d/web1.sav", dir, n)
end
local function mkdir_for(path)
  os.execute("mkdir -p " .. helper.shell_quote(path:match("^(.*)/")))
  return path
end
local function entries(path)
  local p = io.popen("ls -A " .. helper.shell_quote(path:match("^(.*)/")))
  local out = {}
  for line in p:lines() do
    out[#out + 1] = line
  end
  p:close()
  return out
end
local function read(path)
  local r = assert(savefile.open(path))
  local facts = { header = assert(r:header()), config = assert(r:config()), ext = {} }
  for _, e in ipairs(assert(r:extensions())) do
    facts.ext[e.name] = e.data
  end
  facts.verified = r:verify()
  r:close()
  return facts
end

before_each(function()
  fake.reset()
  h = assert(fake.open())
  domid = assert(create.create(h, web1)).domid
end)

describe("save policy", function()
  it("writes header, JSON config, source, format, META and a stream that verifies; destroys the domain", function()
    local path = mkdir_for(target())
    local r = assert(save.save(h, "web1", path))
    assert.equal("destroyed", r.action)
    assert.is_nil(h:info(domid))
    local f = read(path)
    assert.is_true(f.verified)
    assert.same({ "JSON", "STREAMv2" }, f.header.flags)
    assert.equal("web1", json.decode(f.config.text).c_info.name)
    assert.equal(helper.slurp(web1), f.ext.SOURCE)
    assert.equal("xl", f.ext.SOURCE_FORMAT)
    local meta = json.decode(f.ext.META)
    assert.same({ "web1", domid, 262144 }, { meta.name, meta.domid, meta.memory_kb })
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", meta.saved_at)
    assert.is_string(meta.host)
    assert.equal(require("xlua").version, meta.xlua_version)
    assert.equal(r.bytes, #helper.slurp(path))
  end)

  it("finds the domain by domid too", function()
    assert(save.save(h, tostring(domid), mkdir_for(target())))
  end)

  it("creates the file mode 0600 and leaves no temporary file", function()
    local path = mkdir_for(target())
    assert(save.save(h, "web1", path))
    local p = io.popen("stat -c %a " .. helper.shell_quote(path))
    assert.equal("600", p:read("l"))
    p:close()
    assert.same({ "web1.sav" }, entries(path))
  end)

  it("-c leaves the domain running, -p paused, -c on a paused domain paused", function()
    local r = assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true }))
    assert.equal("running", r.action)
    assert.equal("running", h:info(domid).state)
    r = assert(save.save(h, "web1", mkdir_for(target()), { pause = true }))
    assert.equal("paused", r.action)
    assert.equal("paused", h:info(domid).state)
    r = assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true }))
    assert.equal("paused", h:info(domid).state)
  end)

  it("saves to a file name close to NAME_MAX (the temporary name stays within it)", function()
    local path = mkdir_for(target():gsub("web1%.sav$", string.rep("n", 246) .. ".sav"))
    assert(save.save(h, "web1", path, { checkpoint = true }))
    assert.is_true(read(path).verified)
    assert.same({ string.rep("n", 246) .. ".sav" }, entries(path))
  end)

  it("-z compresses the stream and sets the ZSTD flag; the file still verifies", function()
    local path = mkdir_for(target())
    assert(save.save(h, "web1", path, { zstd = true, checkpoint = true }))
    local f = read(path)
    assert.same({ "JSON", "STREAMv2", "ZSTD" }, f.header.flags)
    assert.is_true(f.verified)
  end)

  it("a CONFIG replaces the stored config, as in xl save", function()
    local path = mkdir_for(target())
    assert(save.save(h, "web1", path, { config = replacement }))
    local f = read(path)
    assert.equal("/new/web1.img", json.decode(f.config.text).disks[1].pdev_path)
    assert.equal(helper.slurp(replacement), f.ext.SOURCE)
  end)

  it("writes to an open file instead of a path (the \"-\" case), and never destroys the domain then", function()
    local path = dir .. "/out.sav"
    local out = assert(io.open(path, "wb"))
    local r = assert(save.save(h, "web1", "-", { out = out }))
    out:close()
    assert.is_true(read(path).verified)
    assert.equal("paused", r.action)
    assert.is_true(r.kept_for_stream)
    assert.equal("paused", h:info(domid).state)
    assert.equal(0, fake.calls("destroy"))
    out = assert(io.open(path, "wb"))
    r = assert(save.save(h, "web1", "-", { out = out, checkpoint = true }))
    out:close()
    assert.equal("paused", r.action) -- it was paused (by the first save) before this one
    assert(h:unpause(domid))
    assert.equal("running", h:info(domid).state)
  end)

  describe("pause accounting", function()
    it("releases exactly the pause it took: pause; save -c; unpause leaves the domain running", function()
      assert(h:pause(domid))
      assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true }))
      assert.equal("paused", h:info(domid).state)
      assert(h:unpause(domid))
      assert.equal("running", h:info(domid).state)
      assert.equal(0, fake.domain(domid).pauses)
    end)

    it("two checkpoints in a row leak no pause", function()
      assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true }))
      assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true }))
      assert.equal(0, fake.domain(domid).pauses)
    end)

    it("an error (a signal) raised after the stream is written: the file is whole, the pause released", function()
      local path = mkdir_for(target())
      local destroy = fake.Handle.destroy
      fake.Handle.destroy = function()
        error("interrupted by SIGTERM!", 0)
      end
      local ok, e = pcall(save.save, h, "web1", path)
      fake.Handle.destroy = destroy
      assert.is_false(ok)
      assert.equal("web1 was saved to " .. path .. ", then interrupted by SIGTERM!", e)
      assert.equal("running", h:info(domid).state)
      assert.equal(0, fake.domain(domid).pauses)
      assert.equal(1, fake.calls("resume_saved")) -- it was left suspended for the destroy
      assert.is_true(read(path).verified)
    end)
  end)

  describe("a save the domain is destroyed after (no pause and resume, as xl save)", function()
    local function spy()
      local seen, real = {}, fake.Handle.save
      fake.Handle.save = function(self, id, w, o)
        seen[#seen + 1] = o.destroy and true or false
        return real(self, id, w, o)
      end
      return seen, function() fake.Handle.save = real end
    end

    it("a plain save tells the backend, leaves it suspended and destroys it; nothing resumes it", function()
      local seen, restore = spy()
      local r = assert(save.save(h, "web1", mkdir_for(target())))
      restore()
      assert.same({ true }, seen)
      assert.equal("destroyed", r.action)
      assert.is_nil(h:info(domid))
      assert.equal(0, fake.calls("resume_saved"))
    end)

    it("-c, -p and a stream keep the domain: the backend is not told, the domain is resumed by it", function()
      local seen, restore = spy()
      assert.equal("running", assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true })).action)
      assert.equal("paused", assert(save.save(h, "web1", mkdir_for(target()), { pause = true })).action)
      assert(h:unpause(domid))
      local out = assert(io.open(dir .. "/kept.sav", "wb"))
      assert.is_true(assert(save.save(h, "web1", "-", { out = out })).kept_for_stream)
      out:close()
      restore()
      assert.same({ false, false, false }, seen)
      assert.equal(0, fake.calls("resume_saved"))
      assert.equal("paused", h:info(domid).state)
      assert.equal(1, fake.domain(domid).pauses)
    end)

    it("the file cannot be finished: no file, the suspended domain resumed and running as before", function()
      local path = mkdir_for(target())
      local real = savefile.create
      savefile.create = function(...)
        local w = real(...)
        return setmetatable({ finish = function() return nil, "No space left on device", "ENOSPC" end },
          { __index = function(_, k) return function(_, ...) return w[k](w, ...) end end })
      end
      local r, _, code = save.save(h, "web1", path)
      savefile.create = real
      assert.is_nil(r)
      assert.equal("ENOSPC", code)
      assert.equal(1, fake.calls("resume_saved"))
      assert.equal("running", h:info(domid).state)
      assert.equal(0, fake.domain(domid).pauses)
      assert.same({}, entries(path))
    end)

    it("cannot be destroyed nor resumed: says it stays suspended, the file whole", function()
      local path = mkdir_for(target())
      fake.fail("destroy", "busy", "LIBXL")
      fake.fail("resume_saved", "libxl_domain_resume failed", "SUSPENDED")
      local r, msg, code = save.save(h, "web1", path)
      assert.is_nil(r)
      assert.equal("LIBXL", code)
      assert.matches("left suspended, and could not be resumed", msg)
      assert.same({ "shutdown", "suspend" }, { h:info(domid).state, h:info(domid).reason })
      assert.is_true(read(path).verified)
    end)
  end)

  describe("the stream is whole but the backend cannot resume the domain (SUSPENDED)", function()
    it("-c: the file is kept and verifies; a second try resumes it and the save succeeds", function()
      local path = mkdir_for(target())
      fake.fail("save", "libxl_domain_resume failed", "SUSPENDED", { whole = true })
      local r = assert(save.save(h, "web1", path, { checkpoint = true }))
      assert.equal("running", r.action)
      assert.equal("running", h:info(domid).state)
      assert.equal(0, fake.domain(domid).pauses)
      assert.is_true(read(path).verified)
    end)

    it("-p: when the second try fails too, SUSPENDED, the domain as it is (suspended), the file kept", function()
      local path = mkdir_for(target())
      fake.fail("save", "libxl_domain_resume failed", "SUSPENDED", { whole = true })
      fake.fail("resume_saved", "libxl_domain_resume failed again", "SUSPENDED")
      local r, msg, code = save.save(h, "web1", path, { pause = true })
      assert.is_nil(r)
      assert.equal("SUSPENDED", code)
      assert.matches("stays suspended", msg)
      assert.same({ "shutdown", "suspend" }, { h:info(domid).state, h:info(domid).reason })
      assert.equal(0, fake.domain(domid).pauses)
      assert.is_true(read(path).verified)
      -- the lock is free again (a suspended domain is refused for its state, not BUSY)
      local _, _, again = save.save(h, "web1", mkdir_for(target()), { checkpoint = true })
      assert.equal("BADSTATE", again)
    end)

    it("another failure after a whole stream (not SUSPENDED) still removes the file, domain as before", function()
      local path = mkdir_for(target())
      fake.fail("save", "I/O error", "EIO", { whole = true })
      local r, _, code = save.save(h, "web1", path, { checkpoint = true })
      assert.is_nil(r)
      assert.equal("EIO", code)
      assert.equal("running", h:info(domid).state)
      assert.same({}, entries(path))
    end)
  end)

  describe("the domain's lock", function()
    it("is held while the save runs; a second save of the domain is refused at once (BUSY)", function()
      local uuid = h:info(domid).uuid
      local held
      assert(save.save(h, "web1", mkdir_for(target()), { checkpoint = true,
        progress = function() held = fake.locked(uuid) end }))
      assert.is_true(held)
      assert.is_false(fake.locked(uuid))
      local lock = assert(h:lock(uuid, "save of web1"))
      local path = mkdir_for(target())
      local r, msg, code = save.save(h, "web1", path)
      lock:unlock()
      assert.is_nil(r)
      assert.equal("BUSY", code)
      assert.matches("save of web1", msg)
      assert.equal(1, fake.calls("save"))
      assert.equal("running", h:info(domid).state)
      assert.same({}, entries(path))
    end)
  end)

  describe("a CONFIG is checked against the running domain before anything is paused", function()
    local bigger = dir .. "/web1-big.cfg"
    helper.spit(bigger, 'name = "web1"\nkernel = "/boot/vmlinuz"\nmemory = 512\nvcpus = 2\ndisk = [ "vdev=xvda,target=/srv/web1.img" ]\n')

    it("refuses an incompatible one (INCOMPATIBLE, with the report), writing nothing", function()
      local path = mkdir_for(target())
      local r, msg, code, report = save.save(h, "web1", path, { config = bigger })
      assert.is_nil(r)
      assert.equal("INCOMPATIBLE", code)
      assert.matches("web1%-big.cfg", msg)
      assert.is_false(report.compatible)
      assert.equal(0, fake.calls("save"))
      assert.equal("running", h:info(domid).state)
      assert.same({}, entries(path))
    end)

    it("writes it anyway with force, and the result carries the report of what it overrode", function()
      local path = mkdir_for(target())
      local r = assert(save.save(h, "web1", path, { config = bigger, force = true, checkpoint = true }))
      assert.is_false(r.report.compatible)
      assert.is_true(r.report.counts.incompatible > 0)
      assert.equal(512 * 1024, json.decode(read(path).config.text).b_info.max_memkb)
    end)

    it("takes a compatible one (a disk moved on the host) without a word", function()
      local r = assert(save.save(h, "web1", mkdir_for(target()), { config = replacement }))
      assert.is_true(r.report.compatible)
    end)
  end)

  it("reports progress and the header it wrote", function()
    local calls, hdr = 0, nil
    assert(save.save(h, "web1", mkdir_for(target()), {
      progress = function(done, total)
        calls = calls + 1
        assert.is_true(done <= total)
      end,
      on_header = function(x) hdr = x end,
    }))
    assert.is_true(calls > 0)
    assert.equal(3, hdr.mandatory_flags)
    assert.is_true(hdr.optional_data_len > 0)
  end)

  it("replaces an existing file only when the new one is whole", function()
    local path = mkdir_for(target())
    assert(save.save(h, "web1", path, { checkpoint = true }))
    local old = helper.slurp(path)
    fake.fail("save", "disk full", "ENOSPC", { after = 2 })
    local r, _, code = save.save(h, "web1", path)
    assert.is_nil(r)
    assert.equal("ENOSPC", code)
    assert.is_true(old == helper.slurp(path), "the old file was changed")
    assert.same({ "web1.sav" }, entries(path))
    assert(save.save(h, "web1", path, { pause = true, config = replacement }))
    assert.is_true(old ~= helper.slurp(path), "the new file did not replace the old one")
  end)

  describe("on failure", function()
    it("no such domain: NODOMAIN, nothing written", function()
      local path = mkdir_for(target())
      local r, _, code = save.save(h, "nosuch", path)
      assert.is_nil(r)
      assert.equal("NODOMAIN", code)
      assert.same({}, entries(path))
    end)

    it("Domain-0 cannot be saved", function()
      local _, _, code = save.save(h, "0", mkdir_for(target()))
      assert.equal("EPERM", code)
    end)

    it("a domain that has shut down cannot be saved", function()
      h:request(domid, "poweroff")
      local _, _, code = save.save(h, "web1", mkdir_for(target()))
      assert.equal("BADSTATE", code)
    end)

    for _, case in ipairs({
      { "before the stream", nil },
      { "in the middle of the stream", { after = 2 } },
    }) do
      it("the backend fails " .. case[1] .. ": domain running as before, no file, no temporary file", function()
        local path = mkdir_for(target())
        fake.fail("save", "I/O error", "EIO", case[2])
        local r, _, code = save.save(h, "web1", path)
        assert.is_nil(r)
        assert.equal("EIO", code)
        assert.equal("running", h:info(domid).state)
        assert.same({}, entries(path))
      end)
    end

    it("a paused domain stays paused when the save fails", function()
      h:pause(domid)
      fake.fail("save", "I/O error", "EIO", { after = 1 })
      assert.is_nil(save.save(h, "web1", mkdir_for(target())))
      assert.equal("paused", h:info(domid).state)
    end)

    it("a target directory that does not exist: the code of the open, domain untouched", function()
      local r, _, code = save.save(h, "web1", dir .. "/no/such/dir/web1.sav")
      assert.is_nil(r)
      assert.equal("ENOENT", code)
      assert.equal("running", h:info(domid).state)
    end)

    it("a CONFIG without a uuid keeps the domain's uuid", function()
      local path = mkdir_for(target())
      local uuid = h:info(domid).uuid
      assert(save.save(h, "web1", path, { config = replacement }))
      assert.equal(uuid, json.decode(read(path).config.text).c_info.uuid)
    end)

    it("a bad CONFIG: its code, nothing written, domain untouched", function()
      local path = mkdir_for(target())
      local _, _, code = save.save(h, "web1", path, { config = dir .. "/missing.cfg" })
      assert.equal("ENOENT", code)
      assert.same({}, entries(path))
      assert.equal("running", h:info(domid).state)
      assert.equal(0, fake.calls("save"))
    end)

    it("the domain's config cannot be retrieved", function()
      fake.fail("config", "no config", "LIBXL")
      local path = mkdir_for(target())
      local _, _, code = save.save(h, "web1", path)
      assert.equal("LIBXL", code)
      assert.same({}, entries(path))
    end)

    it("the domain cannot be destroyed after the save: failure, the file is whole, the domain running again", function()
      local path = mkdir_for(target())
      fake.fail("destroy", "busy", "LIBXL")
      local r, _, code = save.save(h, "web1", path)
      assert.is_nil(r)
      assert.equal("LIBXL", code)
      assert.is_true(read(path).verified)
      assert.equal("running", h:info(domid).state)
    end)

    it("a paused domain that cannot be destroyed after the save stays paused", function()
      h:pause(domid)
      fake.fail("destroy", "busy", "LIBXL")
      assert.is_nil(save.save(h, "web1", mkdir_for(target())))
      assert.equal("paused", h:info(domid).state)
    end)

    it("a target that is a directory: EISDIR before the domain is paused", function()
      local path = mkdir_for(target())
      os.execute("mkdir -p " .. helper.shell_quote(path))
      local r, _, code = save.save(h, "web1", path)
      assert.is_nil(r)
      assert.equal("EISDIR", code)
      assert.equal(0, fake.calls("save"))
      assert.equal("running", h:info(domid).state)
      assert.same({ "web1.sav" }, entries(path))
    end)

    for _, state in ipairs({ "running", "paused" }) do
      it("an error raised by the progress callback (Ctrl-C) goes on; the " .. state
        .. " domain is put back, nothing written", function()
        if state == "paused" then
          h:pause(domid)
        end
        local path = mkdir_for(target())
        helper.spit(path, "old contents")
        local ok, e = pcall(save.save, h, "web1", path, {
          progress = function(done)
            if done >= 4096 then
              error("interrupted!", 0)
            end
          end,
        })
        assert.is_false(ok)
        assert.equal("interrupted!", e)
        assert.equal(state, h:info(domid).state)
        assert.equal("old contents", helper.slurp(path))
        assert.same({ "web1.sav" }, entries(path))
      end)
    end
  end)

  it("saves a domain that has no stored source (created by another tool) with JSON and META only", function()
    h:store_remove(domid, "source")
    h:store_remove(domid, "format")
    local path = mkdir_for(target())
    assert(save.save(h, "web1", path))
    local f = read(path)
    assert.is_nil(f.ext.SOURCE)
    assert.is_string(f.ext.META)
  end)
end)

describe("the progress line", function()
  local progress = require("xlua.progress")

  it("shows bytes, percent, rate and ETA", function()
    assert.equal("Saving: 64.0 MiB / 256.0 MiB (25%), 32.0 MiB/s, ETA 0:06",
      progress.format("Saving", 64 * 2 ^ 20 // 1, 256 * 2 ^ 20 // 1, 2))
    assert.equal("Restoring: 1.0 KiB", progress.format("Restoring", 1024, 0, 0))
  end)

  it("rewrites one line on a terminal and ends it; writes nothing elsewhere", function()
    local written = {}
    local out = { write = function(self, ...) for _, s in ipairs({ ... }) do written[#written + 1] = s end return self end,
                  flush = function() end }
    local t = 0
    local r = progress.new({ label = "Saving", out = out, enabled = true, clock = function() return t end })
    r.update(0, 100)
    t = 0.1
    r.update(50, 100) -- too soon: skipped
    t = 1
    r.update(100, 100)
    r.finish()
    local text = table.concat(written)
    assert.equal(2, select(2, text:gsub("\r", "")))
    assert.matches("100 B / 100 B %(100%%%)", text)
    assert.equal("\n", text:sub(-1))
    written = {}
    local quiet = progress.new({ out = out, enabled = false })
    quiet.update(1, 2)
    quiet.finish()
    assert.same({}, written)
  end)
end)
