-- xlua.domain through the host: backend choice (XLUA_BACKEND, --backend, NOXEN here), the sim
-- backend's lifecycle and config store, save into a savefile and restore from it, argument
-- mistakes that raise. Each case runs in a child xlua with its own sim state directory, so
-- nothing touches the real one.
local helper = require("support.helper")

local NO_XEN = "/nonexistent/xen/capabilities"

-- Run chunk in a child xlua; env adds to a sim-only, Xen-less environment.
local function run(chunk, env, args)
  local e = { XLUA_SIM_DIR = env and env.XLUA_SIM_DIR or helper.tmpdir(), XLUA_BACKEND = "",
              XLUA_XEN_CAPABILITIES = NO_XEN }
  for k, v in pairs(env or {}) do
    e[k] = v
  end
  local argv = {}
  for _, a in ipairs(args or {}) do
    argv[#argv + 1] = a
  end
  argv[#argv + 1] = "-e"
  argv[#argv + 1] = "domain = require('xlua.domain'); savefile = require('xlua.savefile')\n" .. chunk
  return helper.run(argv, { env = e })
end

-- The chunk's lines "key=value" as a table; fails the test with stderr when it failed.
local function results(chunk, env, args)
  local out, err, status = run(chunk, env, args)
  assert.equal(0, status, "child failed: " .. err .. out)
  local t = {}
  for k, v in out:gmatch("([%w_]+)=([^\t\n]*)") do
    t[k] = v
  end
  return t
end

describe("xlua.domain", function()
  describe("backend choice", function()
    it("is sim where there is no Xen", function()
      local r = results([[
        print("choose=" .. domain.choose())
        local h = assert(domain.open())
        print("backend=" .. h:backend())]])
      assert.same({ choose = "sim", backend = "sim" }, r)
    end)

    it("refuses libxl without Xen with NOXEN and one sentence, never falling back", function()
      local r = results([[
        local n, msg, code = domain.choose("libxl")
        print("choose=" .. tostring(n), "code1=" .. code)
        local h, msg2, code2 = domain.open("libxl")
        print("open=" .. tostring(h), "code2=" .. code2)
        print("msg=" .. msg2)]])
      assert.equal("nil", r.choose)
      assert.equal("NOXEN", r.code1)
      assert.equal("nil", r.open)
      assert.equal("NOXEN", r.code2)
      assert.matches("^no Xen control domain here: %S+ is missing", r.msg)
      assert.is_nil(r.msg:find("\n"))
    end)

    it("follows XLUA_BACKEND, and --backend through the host", function()
      local chunk = [[
        local n, msg, code = domain.choose()
        print("choose=" .. tostring(n), "code=" .. tostring(code))
        print("explicit=" .. tostring(domain.choose("sim")))]]
      local r = results(chunk, { XLUA_BACKEND = "libxl" })
      assert.same({ choose = "nil", code = "NOXEN", explicit = "sim" }, r)
      r = results(chunk, { XLUA_BACKEND = "sim" })
      assert.same({ choose = "sim", code = "nil", explicit = "sim" }, r)
      r = results(chunk, nil, { "--backend", "libxl" })
      assert.same({ choose = "nil", code = "NOXEN", explicit = "sim" }, r)
      r = results(chunk, { XLUA_BACKEND = "xend" })
      assert.same({ choose = "nil", code = "EINVAL", explicit = "sim" }, r)
    end)

    it("picks libxl where the capabilities say control_d, and fails cleanly without libxl",
      function()
        local dir = helper.tmpdir()
        helper.spit(dir .. "/caps", "control_d\n")
        local r = results([[
          print("choose=" .. tostring(domain.choose()))
          local h, msg, code = domain.open()
          print("open=" .. tostring(h), "code=" .. tostring(code))
          print("msg=" .. tostring(msg))]], { XLUA_XEN_CAPABILITIES = dir .. "/caps" })
        assert.equal("libxl", r.choose)
        assert.equal("nil", r.open)
        assert.equal("LIBXL", r.code)
        assert.is_true(#r.msg > 10)
        helper.spit(dir .. "/caps", "\n")
        r = results([[
          local h, msg, code = domain.open("libxl")
          print("code=" .. code, "msg=" .. msg)]], { XLUA_XEN_CAPABILITIES = dir .. "/caps" })
        assert.equal("NOXEN", r.code)
        assert.matches("does not say control_d", r.msg)
      end)

    it("keeps its sim state under XDG_STATE_HOME by default", function()
      local id = io.popen("id -u")
      local root = id:read("l") == "0"
      id:close()
      if root then
        -- root's default is /var/lib/xlua/sim: not a place for a spec to write
        return pending("running as root")
      end
      local dir = helper.tmpdir()
      results([[assert(assert(domain.open()):create{name = "x", memory_kb = 64})]],
        { XLUA_SIM_DIR = "", XDG_STATE_HOME = dir })
      local f = io.open(dir .. "/xlua/sim/domains/1/meta")
      assert.is_not_nil(f)
      f:close()
    end)
  end)

  describe("the sim backend", function()
    it("lists Domain-0 and the domains it creates, across processes", function()
      local env = { XLUA_SIM_DIR = helper.tmpdir() }
      local r = results([[
        local h = assert(domain.open())
        print("a=" .. assert(h:create{name = "alpha", memory_kb = 1024, vcpus = 2}))
        print("b=" .. assert(h:create{name = "bravo", type = "hvm", memory_kb = 2048,
                                      max_memory_kb = 4096, paused = true,
                                      uuid = "12345678-9abc-4def-8123-456789abcdef"}))]], env)
      assert.same({ a = "1", b = "2" }, r)
      r = results([[
        local h = assert(domain.open())
        local l = h:list()
        print("n=" .. #l, "first=" .. l[1].name, "dom0id=" .. l[1].domid)
        local b = l[3]
        print("name=" .. b.name, "state=" .. b.state, "type=" .. b.type, "mem=" .. b.memory_kb,
              "max=" .. b.max_memory_kb, "uuid=" .. b.uuid, "vcpus=" .. l[2].vcpus,
              "digest=" .. b.digest, "dom0digest=" .. tostring(l[1].digest))]], env)
      assert.equal("3", r.n)
      assert.equal("Domain-0", r.first)
      assert.equal("0", r.dom0id)
      assert.same({ "bravo", "paused", "hvm", "2048", "4096", "12345678-9abc-4def-8123-456789abcdef", "2" },
        { r.name, r.state, r.type, r.mem, r.max, r.uuid, r.vcpus })
      assert.matches("^%x+$", r.digest)
      assert.equal(32, #r.digest)
      assert.equal("nil", r.dom0digest)
    end)

    it("finds, pauses, unpauses, renames and destroys, with stable codes", function()
      local r = results([[
        local h = assert(domain.open())
        local id = assert(h:create{name = "web", memory_kb = 512})
        local function code(...) local ok, _, c = ...; return ok and "ok" or c end
        print("find_name=" .. h:find("web").domid, "find_id=" .. h:find(tostring(id)).name)
        print("find_none=" .. code(h:find("nope")), "info_none=" .. code(h:info(99)))
        print("clash=" .. code(h:create{name = "web", memory_kb = 512}))
        print("badname=" .. code(h:create{name = "a/b", memory_kb = 512}))
        print("unpause_running=" .. code(h:unpause(id)))
        print("pause=" .. code(h:pause(id)), "state1=" .. h:info(id).state)
        print("unpause=" .. code(h:unpause(id)), "state2=" .. h:info(id).state)
        local other = assert(h:create{name = "db", memory_kb = 512})
        print("rename_clash=" .. code(h:rename(id, "db")))
        print("rename=" .. code(h:rename(id, "www")), "renamed=" .. h:info(id).name)
        print("config_name=" .. tostring(h:config(id):match('"name": "(%w+)"')))
        print("dom0=" .. code(h:destroy(0)))
        print("shutdown=" .. code(h:request(other, "poweroff")), "state3=" .. h:info(other).state)
        print("destroy=" .. code(h:destroy(id)), "again=" .. code(h:destroy(id)))
        print("left=" .. #h:list())]])
      assert.same({
        find_name = "1", find_id = "web", find_none = "NODOMAIN", info_none = "NODOMAIN",
        clash = "EXISTS", badname = "EINVAL", unpause_running = "BADSTATE",
        pause = "ok", state1 = "paused", unpause = "ok", state2 = "running",
        rename_clash = "EXISTS", rename = "ok", renamed = "www", config_name = "www",
        dom0 = "EPERM", shutdown = "ok", state3 = "shutdown",
        destroy = "ok", again = "NODOMAIN", left = "2",
      }, r)
    end)

    it("keeps a config given as libxl JSON, with the current name", function()
      local r = results([[
        local h = assert(domain.open())
        local json = '{"c_info": {"type": "pv", "name": "p1"}, "b_info": {"max_memkb": 262144}}'
        local id = assert(h:create{json = json, name = "p1", memory_kb = 256})
        assert(h:rename(id, "p2"))
        local c = h:config(id)
        print("name=" .. c:match('"name": "(%w+)"'), "mem=" .. c:match('"max_memkb": (%d+)'))]])
      assert.same({ name = "p2", mem = "262144" }, r)
    end)

    it("keeps a config store per domain", function()
      local r = results([[
        local h = assert(domain.open())
        local id = assert(h:create{name = "s", memory_kb = 64})
        assert(h:store_put(id, "source", "memory = 64\n"))
        assert(h:store_put(id, "json", "{}"))
        assert(h:store_put(id, "bin", "a\0b"))
        print("get=" .. (h:store_get(id, "source"):gsub("\n", "|")), "bin=" .. #h:store_get(id, "bin"))
        print("keys=" .. table.concat(h:store_keys(id), ","))
        assert(h:store_remove(id, "json"))
        local v, msg, code = h:store_get(id, "json")
        print("missing=" .. code, "keys2=" .. table.concat(h:store_keys(id), ","))
        local ok, err = pcall(h.store_put, h, id, "../x", "v")
        print("badkey_raises=" .. tostring(not ok))
        assert(h:destroy(id))
        print("gone=" .. select(3, h:store_keys(id)))]])
      assert.same({ get = "memory = 64|", bin = "3", keys = "bin,json,source", missing = "ENOENT",
        keys2 = "bin,source", badkey_raises = "true", gone = "NODOMAIN" }, r)
    end)

    it("reads and writes several store keys at once (set, remove, absent)", function()
      local r = results([[
        local h = assert(domain.open())
        local id = assert(h:create{name = "m", memory_kb = 64})
        assert(h:store_put(id, "old", "x"))
        assert(h:store_put_many(id, {source = "a\0b", json = "{}", old = false, never = false}))
        print("keys=" .. table.concat(h:store_keys(id), ","))
        local got = assert(h:store_get_many(id, {"source", "json", "old", "never"}))
        print("source=" .. #got.source, "json=" .. got.json, "old=" .. tostring(got.old))
        print("empty=" .. tostring(next(assert(h:store_get_many(id, {}))) == nil))
        local function raises(f, ...) return tostring(not pcall(f, ...)) end
        print("badkey=" .. raises(h.store_put_many, h, id, {["../x"] = "v"}),
          "badvalue=" .. raises(h.store_put_many, h, id, {k = true}),
          "badlist=" .. raises(h.store_get_many, h, id, {"ok", 3}),
          "badgetkey=" .. raises(h.store_get_many, h, id, {"a/b"}))
        print("unchanged=" .. table.concat(h:store_keys(id), ","))
        local _, _, code = h:store_get_many(4242, {"source"})
        local _, _, pcode = h:store_put_many(4242, {source = "x"})
        print("none=" .. tostring(code), "pnone=" .. tostring(pcode))]])
      assert.same({ keys = "json,source", source = "3", json = "{}", old = "nil", empty = "true",
        badkey = "true", badvalue = "true", badlist = "true", badgetkey = "true",
        unchanged = "json,source", none = "NODOMAIN", pnone = "NODOMAIN" }, r)
    end)

    it("raises on argument mistakes and on a closed handle", function()
      local r = results([[
        local h = assert(domain.open())
        local function raises(f, ...) return tostring(not pcall(f, ...)) end
        print("domid=" .. raises(h.info, h, -1), "domid_type=" .. raises(h.info, h, "x"))
        print("type=" .. raises(h.create, h, {name = "x", memory_kb = 64, type = "xen"}))
        print("mem=" .. raises(h.create, h, {name = "x", memory_kb = "lots"}))
        print("paused=" .. raises(h.create, h, {name = "x", memory_kb = 64, paused = 1}))
        print("writer=" .. raises(h.save, h, 0, {}))
        local w = assert(savefile.writer(assert(io.open("/dev/null", "wb"))))
        print("debug=" .. raises(h.save, h, 0, w, {live = true, debug = "yes"}))
        print("reader=" .. raises(h.restore, h, {name = "x", memory_kb = 64}))
        do local h2 <close> = assert(domain.open()); h = h2 end
        print("closed=" .. raises(h.list, h), "str=" .. tostring(h))
        local h3 = assert(domain.open())
        h3:close()
        h3:close()
        print("closed_twice=" .. raises(h3.info, h3, 0))]])
      assert.same({ domid = "true", domid_type = "true", type = "true", mem = "true",
        paused = "true", writer = "true", debug = "true", reader = "true", closed = "true",
        str = "domain backend (closed)", closed_twice = "true" }, r)
    end)
  end)

  describe("a progress function that closes what a save or restore holds", function()
    local CHUNK = [[
      local which = "%s"
      local h = assert(domain.open())
      local id = assert(h:create{name = "p", memory_kb = 16384})
      local w = assert(savefile.create("%s/p.sav"))
      assert(w:header{config = "{}"})
      local ok, err = pcall(h.save, h, id, w, {progress = function()
        if which == "writer" then w:close() else h:close() end
      end})
      print("raised=" .. tostring(not ok), "inuse=" .. tostring(tostring(err):find("in use") ~= nil))
      assert(h:unpause(id) or true)
      w = assert(savefile.create("%s/q.sav"))
      assert(w:header{config = "{}"})
      assert(h:save(id, w))
      assert(w:finish())
      local r = assert(savefile.open("%s/q.sav"))
      assert(r:config())
      ok, err = pcall(h.restore, h, {name = "q", memory_kb = 16384, reader = r, progress = function()
        if which == "writer" then r:close() else h:close() end
      end})
      print("rraised=" .. tostring(not ok), "rinuse=" .. tostring(tostring(err):find("in use") ~= nil))
      print("usable=" .. tostring(#h:list() >= 2))]]

    for _, which in ipairs({ "writer", "handle" }) do
      it("is refused (the " .. which .. " is in use) and nothing is freed under the call", function()
        local dir = helper.tmpdir()
        local r = results(CHUNK:format(which, dir, dir, dir))
        assert.same({ "true", "true", "true", "true", "true" }, { r.raised, r.inuse, r.rraised, r.rinuse, r.usable })
      end)
    end
  end)

  describe("save and restore", function()
    local env = { XLUA_SIM_DIR = helper.tmpdir() }
    local dir = helper.tmpdir()
    local path = dir .. "/web.sav"
    local SAVE = [[
      local h = assert(domain.open())
      local id = assert(h:create{name = "web", type = "%s", memory_kb = 16384})
      local f = assert(io.open("%s", "wb"))
      local w = assert(savefile.writer(f))
      assert(w:header{config = h:config(id), json = true, streamv2 = true, zstd = %s})
      local calls, last, total = 0
      assert(h:save(id, w, {live = true, progress = function(d, t) calls = calls + 1; last, total = d, t end}))
      assert(w:finish(true))
      f:close()
      print("state=" .. h:info(id).state, "calls=" .. calls, "last=" .. last, "total=" .. total)
      print("digest=" .. h:info(id).digest)]]
    local RESTORE = [[
      local h = assert(domain.open())
      local r = assert(savefile.open("%s"))
      assert(r:config())
      local id, msg, code = h:restore{name = "%s", type = "%s", memory_kb = 16384, reader = r,
                                      paused = %s}
      print("id=" .. tostring(id), "code=" .. tostring(code), "msg=" .. tostring(msg))
      if id then print("digest=" .. h:info(id).digest, "state=" .. h:info(id).state) end
      print("count=" .. #h:list())]]

    for _, case in ipairs({ { "pv", "false" }, { "hvm", "true" } }) do
      local type, zstd = case[1], case[2]
      it("moves a " .. type .. " domain's memory through a savefile (zstd " .. zstd .. ")", function()
        local e = { XLUA_SIM_DIR = helper.tmpdir() }
        local s = results(SAVE:format(type, path, zstd), e)
        assert.same({ "paused", "16777216", "16777216" }, { s.state, s.last, s.total })
        assert.is_true(tonumber(s.calls) >= 2)
        -- the savefile reads like a real one
        local out, err, status = helper.run({ "verify", path })
        assert.equal(0, status, err .. out)
        out, err, status = helper.run({ "inspect", "--json", path })
        assert.equal(0, status, err)
        assert.matches("PAGE_DATA", out)
        -- restore: same memory; the name is taken while the saved domain lives
        local r = results(RESTORE:format(path, "web", type, "false"), e)
        assert.equal("EXISTS", r.code)
        r = results(RESTORE:format(path, "web2", type, "true"), e)
        assert.equal(s.digest, r.digest)
        assert.equal("paused", r.state)
        assert.equal("3", r.count)
        r = results(RESTORE:format(path, "web3", type, "false"), e)
        assert.equal("running", r.state)
        -- a config of the other type is refused
        r = results(RESTORE:format(path, "web4", type == "pv" and "hvm" or "pv", "false"), e)
        assert.equal("BADSTREAM", r.code)
        assert.equal("4", r.count)
      end)
    end

    it("refuses a damaged savefile and leaves no domain behind", function()
      results(SAVE:format("pv", path, "false"), env)
      local bytes = helper.slurp(path)
      local at = #bytes * 3 // 5   -- inside page data, not on a record header
      local bad = dir .. "/bad.sav"
      helper.spit(bad, bytes:sub(1, at) .. string.char(bytes:byte(at + 1) ~ 0xff) .. bytes:sub(at + 2))
      local r = results(RESTORE:format(bad, "bad", "pv", "false"), env)
      assert.equal("BADTRAILER", r.code)
      assert.equal("2", r.count)
      helper.spit(bad, bytes:sub(1, at))
      r = results(RESTORE:format(bad, "cut", "pv", "false"), env)
      assert.equal("TRUNCATED", r.code)
      assert.equal("2", r.count)
    end)

    it("cancels on an error in the progress function, raises it, and restores the state", function()
      local r = results(([[
        local h = assert(domain.open())
        local id = assert(h:create{name = "c", memory_kb = 16384})
        local w = assert(savefile.writer(assert(io.open("%s", "wb"))))
        assert(w:header{streamv2 = true})
        local ok, err = pcall(h.save, h, id, w, {progress = function() error("stop here") end})
        print("raised=" .. tostring(not ok), "err=" .. tostring(err):match("stop here"))
        print("state=" .. h:info(id).state)
        local r = assert(savefile.open("%s"))
        assert(r:config())
        ok, err = pcall(h.restore, h, {name = "d", memory_kb = 16384, reader = r,
                                        progress = function() error("stop again") end})
        print("raised2=" .. tostring(not ok), "count=" .. #h:list())]]):format(dir .. "/c.sav", path), env)
      assert.same({ raised = "true", err = "stop here", state = "running", raised2 = "true",
        count = "3" }, r)
    end)

    it("destroy: the ledger says the save left it suspended; resume_saved gives it the save's pause", function()
      local r = results(([[
        local h = assert(domain.open())
        local id = assert(h:create{name = "d", memory_kb = 1024})
        local w = assert(savefile.writer(assert(io.open("%s", "wb"))))
        assert(w:header{streamv2 = true})
        local ledger = {paused = false, suspended = false}
        assert(h:save(id, w, {destroy = true, ledger = ledger}))
        print("paused=" .. tostring(ledger.paused), "suspended=" .. tostring(ledger.suspended))
        -- the sim leaves it paused as without destroy; the ledger still asks for the resume
        print("unpause=" .. tostring(h:unpause(id, ledger)), "state=" .. h:info(id).state)
        assert(h:resume_saved(id, ledger))
        print("paused2=" .. tostring(ledger.paused), "suspended2=" .. tostring(ledger.suspended))
        assert(h:resume_saved(id, ledger))   -- nothing recorded: nothing done
        assert(h:unpause(id, ledger))
        print("after=" .. h:info(id).state, "released=" .. tostring(not ledger.paused))
        local ok, _, code = h:resume_saved(id)
        print("running=" .. tostring(code))
        ok, _, code = h:resume_saved(4242)
        print("none=" .. tostring(code))]]):format(dir .. "/d.sav"), env)
      assert.same({ paused = "false", suspended = "true", unpause = "true", state = "paused",
        paused2 = "true", suspended2 = "false", after = "running", released = "true",
        running = "BADSTATE", none = "NODOMAIN" }, r)
    end)

    it("puts the domain back as it was when the writer fails", function()
      local r = results([[
        local h = assert(domain.open())
        local id = assert(h:create{name = "full", memory_kb = 1024, paused = true})
        local w = assert(savefile.writer(assert(io.open("/dev/full", "wb"))))
        assert(w:header{streamv2 = true})
        local ok, msg, code = h:save(id, w)
        print("code=" .. code, "state=" .. h:info(id).state)
        assert(h:unpause(id))
        print("after=" .. h:info(id).state)]])
      assert.same({ code = "ENOSPC", state = "paused", after = "running" }, r)
    end)
  end)
end)
