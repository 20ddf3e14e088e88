-- xlua.xs on the sim: the layout create writes (Xen's), read/write/ls/rm/perms, transactions
-- (a conflicting one is run again), watches that see another process's write, what destroy
-- and rename do to the tree, bad paths, and NOXEN where there is no xenstore. Each case runs
-- in child xlua processes against a sim state directory of its own.
local helper = require("support.helper")
local sim = require("support.sim")

local XLUA = helper.xlua

-- Run chunk (with xs = require "xlua.xs") in a child xlua on s; its "key=value" lines as a
-- table. Fails the test when the child failed.
local function results(s, chunk)
  local out, err, status = s.x({ "-e", "xs = require('xlua.xs'); domain = require('xlua.domain')\n" .. chunk })
  assert.equal(0, status, "child failed: " .. err .. out)
  local t = {}
  for k, v in out:gmatch("([%w_%./%-]+)=([^\n]*)") do
    t[k] = v
  end
  return t
end

local CFG = 'name = "web"\nkernel = "/boot/vmlinuz"\nmemory = 64\nvcpus = 2\n'
  .. 'disk = [ "/srv/web.img,raw,xvda,rw", "/srv/cd.iso,raw,xvdc,r,devtype=cdrom" ]\n'
  .. 'vif = [ "mac=00:16:3e:00:00:01,bridge=xenbr0" ]\n'

-- A sim with the domain "web" created from CFG; -> s, its domid.
local function with_web()
  local s = sim.new()
  local out, err, status = s.x({ "create", s.file("web.cfg", CFG) })
  assert.equal(0, status, err)
  local domid = tonumber(out:match("web (%d+)"))
  assert.is_number(domid)
  return s, domid
end

describe("xlua.xs on the sim", function()
  local s, domid
  setup(function()
    s, domid = with_web()
  end)
  teardown(function()
    s.x({ "destroy", "web" })
  end)

  it("holds what libxl writes for a new domain", function()
    local r = results(s, string.format([[
      local c = assert(xs.open())
      local d = xs.domain_path(%d)
      print("path=" .. d)
      for _, k in ipairs({ "name", "domid", "memory/target", "memory/static-max",
                           "cpu/0/availability", "cpu/1/availability", "control/shutdown" }) do
        print(k .. "=" .. assert(c:read(d .. "/" .. k)))
      end
      local vm = assert(c:read(d .. "/vm"))
      print("vm=" .. vm)
      print("vm.name=" .. assert(c:read(vm .. "/name")))
      print("vm.uuid=" .. assert(c:read(vm .. "/uuid")))
      print("uuid=" .. assert(domain.open()):info(%d).uuid)
      print("vbd=" .. table.concat(assert(c:ls(d .. "/device/vbd")), ","))
      print("vif=" .. table.concat(assert(c:ls(d .. "/device/vif")), ","))
      local be = assert(c:read(d .. "/device/vbd/51712/backend"))
      print("be=" .. be)
      print("be.params=" .. assert(c:read(be .. "/params")))
      print("be.mode=" .. assert(c:read(be .. "/mode")))
      print("be.frontend=" .. assert(c:read(be .. "/frontend")))
      print("cd.type=" .. assert(c:read(d .. "/device/vbd/51744/device-type")))
      print("cd.mode=" .. assert(c:read("/local/domain/0/backend/vbd/%d/51744/mode")))
      print("mac=" .. assert(c:read("/local/domain/0/backend/vif/%d/0/mac")))
      print("bridge=" .. assert(c:read("/local/domain/0/backend/vif/%d/0/bridge")))
      print("perms=" .. table.concat(assert(c:get_perms(d)), ","))
      print("libxl.type=" .. assert(c:read("/libxl/%d/type")))
    ]], domid, domid, domid, domid, domid, domid))
    assert.equal("/local/domain/" .. domid, r.path)
    assert.equal("web", r.name)
    assert.equal(tostring(domid), r.domid)
    assert.equal("65536", r["memory/target"])
    assert.equal("65536", r["memory/static-max"])
    assert.equal("online", r["cpu/0/availability"])
    assert.equal("online", r["cpu/1/availability"])
    assert.equal("", r["control/shutdown"])
    assert.equal("/vm/" .. r.uuid, r.vm)
    assert.equal("web", r["vm.name"])
    assert.equal(r.uuid, r["vm.uuid"])
    assert.equal("51712,51744", r.vbd)
    assert.equal("0", r.vif)
    assert.equal("/local/domain/0/backend/vbd/" .. domid .. "/51712", r.be)
    assert.equal("/srv/web.img", r["be.params"])
    assert.equal("w", r["be.mode"])
    assert.equal("/local/domain/" .. domid .. "/device/vbd/51712", r["be.frontend"])
    assert.equal("cdrom", r["cd.type"])
    assert.equal("r", r["cd.mode"])
    assert.equal("00:16:3e:00:00:01", r.mac)
    assert.equal("xenbr0", r.bridge)
    assert.equal("n0,r" .. domid, r.perms)
    assert.equal("pv", r["libxl.type"])
  end)

  it("writes, reads, lists and removes nodes, creating missing parents", function()
    local r = results(s, [[
      local c = assert(xs.open())
      assert(c:write("/test/a/b", "one"))
      assert(c:write("/test/a/c", "two\n\0three"))
      print("b=" .. c:read("/test/a/b"))
      print("c.len=" .. #c:read("/test/a/c"))
      print("parent=[" .. c:read("/test/a") .. "]")
      print("ls=" .. table.concat(c:ls("/test/a"), ","))
      assert(c:mkdir("/test/a/d"))
      assert(c:mkdir("/test/a/d"))
      print("ls2=" .. table.concat(c:directory("/test/a"), ","))
      print("exists=" .. tostring(c:exists("/test/a/d")))
      assert(c:rm("/test/a"))
      local v, err, code = c:read("/test/a/b")
      print("gone=" .. tostring(v) .. " " .. code)
      print("rm_missing=" .. tostring(c:rm("/test/a")))
      v, err, code = c:rm("/test/nothing/below")
      print("rm_no_parent=" .. tostring(v) .. " " .. code)
      v, err, code = c:ls("/test/a")
      print("ls_missing=" .. code)
      print("relative=" .. tostring(c:write("data/x", "rel")) .. " " .. c:read("/local/domain/0/data/x"))
      assert(c:rm("/test"))
    ]])
    assert.equal("one", r.b)
    assert.equal("10", r["c.len"])
    assert.equal("[]", r.parent)
    assert.equal("b,c", r.ls)
    assert.equal("b,c,d", r.ls2)
    assert.equal("true", r.exists)
    assert.equal("nil ENOENT", r.gone)
    assert.equal("true", r.rm_missing)        -- gone already, its parent is there: xenstored's ok
    assert.equal("nil ENOENT", r.rm_no_parent)
    assert.equal("ENOENT", r.ls_missing)
    assert.equal("true rel", r.relative)
  end)

  it("keeps and returns permissions, refusing bad ones", function()
    local r = results(s, [[
      local c = assert(xs.open())
      assert(c:write("/p/node", "v"))
      print("default=" .. table.concat(c:get_perms("/p/node"), ","))
      assert(c:set_perms("/p/node", { "n5", "r0", "b7" }))
      print("set=" .. table.concat(c:get_perms("/p/node"), ","))
      assert(c:write("/p/node/child", "w"))
      print("inherited=" .. table.concat(c:get_perms("/p/node/child"), ","))
      local ok, err, code = c:set_perms("/p/node", { "x5" })
      print("bad=" .. code)
      ok, err, code = c:set_perms("/p/missing", { "n0" })
      print("missing=" .. code)
      assert(c:rm("/p"))
    ]])
    assert.equal("n0", r.default)
    assert.equal("n5,r0,b7", r.set)
    assert.equal("n5,r0,b7", r.inherited)
    assert.equal("EINVAL", r.bad)
    assert.equal("ENOENT", r.missing)
  end)

  it("refuses bad paths with EINVAL", function()
    local r = results(s, [[
      local c = assert(xs.open())
      for i, p in ipairs({ "/a//b", "/a b", "/a/", "", ("/x"):rep(2000) }) do
        local ok, err, code = c:write(p, "v")
        print("p" .. i .. "=" .. tostring(ok) .. " " .. code)
      end
      print("nil_value=" .. tostring(pcall(c.write, c, "/x", nil)))
      print("number=" .. tostring(c:write("/num", 42)) .. " " .. c:read("/num"))
      c:rm("/num")
    ]])
    assert.equal("false", r.nil_value)
    assert.equal("true 42", r.number)
    for i = 1, 5 do
      assert.equal("nil EINVAL", r["p" .. i])
    end
  end)

  it("commits a transaction, and runs a conflicting one again", function()
    local r = results(s, [[
      local c = assert(xs.open())
      local other = assert(xs.open())
      assert(c:write("/counter", "1"))
      local runs = 0
      local v = assert(c:transaction(function(t)
        runs = runs + 1
        local n = tonumber(assert(t:read("/counter")))
        if runs == 1 then
          assert(other:write("/counter", "10"))   -- a change in between: this run conflicts
        end
        assert(t:write("/counter", tostring(n + 1)))
        assert(t:write("/counter-seen", tostring(n)))
        return n + 1
      end))
      print("runs=" .. runs)
      print("result=" .. v)
      print("counter=" .. c:read("/counter"))
      -- nil, msg from the function: aborted, nothing written
      local ok, err, code = c:transaction(function(t)
        assert(t:write("/aborted", "x"))
        return nil, "changed my mind", "MINE"
      end)
      print("abort=" .. tostring(ok) .. " " .. code .. " " .. tostring(c:exists("/aborted")))
      -- an error in the function: aborted, and raised again
      local pok, perr = pcall(c.transaction, c, function(t)
        assert(t:write("/raised", "x"))
        error("boom")
      end)
      print("raised=" .. tostring(pok) .. " " .. tostring(c:exists("/raised")))
      -- inside a transaction, its own writes are seen; outside, not until the commit
      local t = assert(c:transaction_start())
      assert(t:write("/inside", "1"))
      print("inside=" .. tostring(t:exists("/inside")) .. " " .. tostring(c:exists("/inside")))
      assert(t:commit())
      print("committed=" .. tostring(c:exists("/inside")))
      -- a conflict that never ends: EAGAIN after the retries
      local n = 0
      ok, err, code = c:transaction(function(t2)
        n = n + 1
        assert(t2:write("/loop", "x"))
        assert(other:write("/loop-other", tostring(n)))
      end, { retries = 2 })
      print("forever=" .. tostring(ok) .. " " .. code .. " " .. n)
      for _, p in ipairs({ "/counter", "/counter-seen", "/inside", "/loop-other" }) do c:rm(p) end
    ]])
    assert.equal("2", r.runs)
    assert.equal("11", r.result)
    assert.equal("11", r.counter)
    assert.equal("nil MINE false", r.abort)
    assert.equal("false false", r.raised)
    assert.equal("true false", r.inside)
    assert.equal("true", r.committed)
    assert.equal("nil EAGAIN 3", r.forever)
  end)

  it("fires a watch when set, on another process's write, and ends on its timeout", function()
    local r = results(s, string.format([[
      local c = assert(xs.open())
      local events = {}
      for path, token in c:watch("/w", { timeout = 5000, count = 3 }) do
        events[#events + 1] = path
        if #events == 1 then
          assert(os.execute(%q .. " xenstore-write /w/k v >/dev/null"))
        elseif #events == 2 then
          assert(os.execute(%q .. " xenstore-rm /w >/dev/null"))
        end
      end
      print("events=" .. table.concat(events, ","))
      -- the callback form; a quiet path ends on the timeout
      local seen = {}
      local n = c:watch("/quiet", function(path) seen[#seen + 1] = path end, { timeout = 100 })
      print("quiet=" .. n .. " " .. table.concat(seen, ","))
      -- a callback returning false stops it
      n = c:watch("/quiet", function() return false end, { timeout = 5000 })
      print("stopped=" .. n)
      -- domains come and go: @introduceDomain
      local intro = {}
      for path in c:watch("@introduceDomain", { timeout = 5000, count = 2 }) do
        intro[#intro + 1] = path
        if #intro == 1 then
          local h = assert(domain.open())
          local id = assert(h:create{ name = "watched", memory_kb = 4096 })
          assert(h:destroy(id))
        end
      end
      print("intro=" .. table.concat(intro, ","))
    ]], XLUA, XLUA))
    assert.equal("/w,/w/k,/w", r.events)
    assert.equal("1 /quiet", r.quiet)
    assert.equal("1", r.stopped)
    assert.equal("@introduceDomain,@introduceDomain", r.intro)
  end)

  it("loses no write when several processes write at once", function()
    local cmds = {}
    for p = 1, 4 do
      local writes = {}
      for k = 1, 10 do
        writes[#writes + 1] = string.format("/race/p%d/k%d v", p, k)
      end
      cmds[#cmds + 1] = string.format("env XLUA_SIM_DIR=%s XLUA_BACKEND=sim %s xenstore-write %s &",
        helper.shell_quote(s.env.XLUA_SIM_DIR), helper.shell_quote(XLUA), table.concat(writes, " "))
    end
    assert(os.execute(table.concat(cmds, " ") .. " wait"))
    local r = results(s, [[
      local c = assert(xs.open())
      local n = 0
      for _, p in ipairs(assert(c:ls("/race"))) do
        n = n + #assert(c:ls("/race/" .. p))
      end
      print("n=" .. n)
      assert(c:rm("/race"))
    ]])
    assert.equal("40", r.n)
  end)
end)

describe("the sim's xenstore over a domain's life", function()
  it("follows a rename and removes everything of a destroyed domain", function()
    local s, domid = with_web()
    local _, err, status = s.x({ "rename", "web", "shop" })
    assert.equal(0, status, err)
    local r = results(s, string.format([[
      local c = assert(xs.open())
      local d = xs.domain_path(%d)
      print("name=" .. c:read(d .. "/name"))
      print("vm.name=" .. c:read(c:read(d .. "/vm") .. "/name"))
    ]], domid))
    assert.equal("shop", r.name)
    assert.equal("shop", r["vm.name"])
    _, err, status = s.x({ "destroy", "shop" })
    assert.equal(0, status, err)
    r = results(s, string.format([[
      local c = assert(xs.open())
      print("domains=" .. table.concat(c:ls("/local/domain"), ","))
      print("vms=" .. #c:ls("/vm"))
      print("libxl=" .. #c:ls("/libxl"))
      print("vbd=" .. tostring(c:exists("/local/domain/0/backend/vbd/%d")))
      print("vif=" .. tostring(c:exists("/local/domain/0/backend/vif/%d")))
    ]], domid, domid))
    assert.equal("0", r.domains)
    assert.equal("0", r.vms)
    assert.equal("0", r.libxl)
    assert.equal("false", r.vbd)
    assert.equal("false", r.vif)
  end)

  it("writes a restored domain's nodes again", function()
    local s, domid = with_web()
    local file = s.root .. "/web.save"
    local _, err, status = s.x({ "save", "web", file })
    assert.equal(0, status, err)
    local out
    out, err, status = s.x({ "restore", file })
    assert.equal(0, status, err)
    local r = results(s, [[
      local c = assert(xs.open())
      local h = assert(domain.open())
      local info = assert(h:find("web"))
      print("name=" .. c:read(xs.domain_path(info.domid) .. "/name"))
      print("vbd=" .. table.concat(c:ls(xs.domain_path(info.domid) .. "/device/vbd"), ","))
      print("old=" .. tostring(c:exists(xs.domain_path(]] .. domid .. [[))))
    ]])
    assert.equal("web", r.name)
    assert.equal("51712,51744", r.vbd)
    assert.equal("false", r.old)
    s.x({ "destroy", "web" })
  end)
end)

describe("xlua.xs without a xenstore", function()
  it("loads, and fails with NOXEN where there is no Xen", function()
    local s = sim.new()
    local r = results(s, [[
      local c, err, code = xs.open("libxl")
      print("code=" .. tostring(code))
      print("path=" .. xs.domain_path(7))
      local v, err2, code2 = xs.read("/local/domain/0/name")
      print("sim=" .. tostring(v))
    ]])
    assert.equal("Domain-0", r.sim)
    assert.equal("NOXEN", r.code)
    assert.equal("/local/domain/7", r.path)
  end)
end)
