-- A database guest as a Lua config: the chunk returns a table of xl.cfg keys, so values can be
-- computed. It runs in a sandbox (no io, no os): `xlua create examples/db1.lua`.
local gib = 1024
return {
  name = "db1",
  type = "pvh",
  kernel = "/boot/vmlinuz",
  memory = gib // 2,
  vcpus = 2,
  disk = {
    "format=raw, vdev=xvda, access=rw, target=/srv/xen/db1.img",
    "format=raw, vdev=xvdb, access=rw, target=/srv/xen/db1-data.img",
  },
  vif = { "mac=00:16:3e:00:00:02, bridge=xenbr0" },
}
