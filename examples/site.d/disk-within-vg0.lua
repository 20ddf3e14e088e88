-- Site rule: a disk's backing may only move within the volume group /dev/vg0. Copy to
-- /etc/xlua/site.d/ (or $XLUA_SITE_DIR) and change VG for another volume group.
local VG = "/dev/vg0/"

local function within(path)
  return type(path) == "string" and path:sub(1, #VG) == VG and not path:find("/../", 1, true)
end

rule {
  name = "disk-within-vg0",
  check = function(saved, wanted, api)
    for i = 1, math.min(#(saved.disks or {}), #(wanted.disks or {})) do
      local path = "disks[" .. (i - 1) .. "].pdev_path"
      local d = api.difference(path)
      if d and not (within(d.old) and within(d.new)) then
        api.incompatible(path, "A disk may only move within " .. VG:sub(1, -2) .. ".")
      end
    end
  end,
}
