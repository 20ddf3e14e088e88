-- The HVM branches of parse_config_data (xl_parse.c, Xen 4.17): firmware, the platform
-- flags, viridian, the device model's display and devices, spice.
local json = require("xlua.json")
local values = require("xlua.convert.values")

local M = {}


local VIRIDIAN = {
  "base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush", "apic_assist",
  "crash_ctl", "synic", "stimer", "hcall_ipi", "ex_processor_masks", "no_vp_limit", "cpu_hotplug",
}
local VIRIDIAN_WIDTH = 64 -- LIBXL_BUILDINFO_HVM_VIRIDIAN_ENABLE_DISABLE_WIDTH

-- xl's type= and builder= compare with strncmp(buf, name, strlen(buf)): any prefix of a
-- name (even "") selects it, the first in xl's order winning.
local function prefix_of(s, name)
  return name:sub(1, #s) == s
end

local function viridian(r, hvm)
  local v = r.get("viridian")
  if v == nil then
    return
  end
  if type(v) ~= "table" then
    hvm.viridian = r.soft("viridian", values.defbool, v)
    return
  end
  local enable, disable = {}, {}
  for _, item in ipairs(values.string_list("viridian", v)) do
    if item == "all" then
      for bit = 0, VIRIDIAN_WIDTH - 1 do
        enable[bit] = true
      end
    elseif item == "defaults" then
      hvm.viridian = "True"
    else
      local s, rset = enable, disable
      local name = item
      if name:sub(1, 1) == "!" then
        s, rset, name = disable, enable, name:sub(2)
      end
      local bit
      for i, n in ipairs(VIRIDIAN) do
        if n == name:lower() then
          bit = i - 1
        end
      end
      if not bit then
        values.fail("viridian", item, "unknown viridian enlightenment")
      end
      s[bit], rset[bit] = true, nil
    end
  end
  local function bitmap(set)
    local out = {}
    for bit in pairs(set) do
      out[#out + 1] = bit
    end
    table.sort(out)
    return #out > 0 and json.array(out) or nil
  end
  hvm.viridian_enable, hvm.viridian_disable = bitmap(enable), bitmap(disable)
end

-- The top-level vnc/sdl keys (parse_top_level_vnc_options, parse_top_level_sdl_options).
function M.top_level_vnc(r, vnc, sdl)
  vnc.enable = r.defbool("vnc")
  vnc.listen = r.string("vnclisten")
  vnc.passwd = r.string("vncpasswd")
  local display = r.long("vncdisplay")
  vnc.display = display ~= 0 and display or nil
  vnc.findunused = r.defbool("vncunused")
  sdl.enable = r.defbool("sdl")
  sdl.opengl = r.defbool("opengl")
  sdl.display = r.string("display")
  sdl.xauthority = r.string("xauthority")
end

-- The spice keys (HVM only).
local function spice(r, sp)
  sp.enable = r.defbool("spice")
  sp.port = r.long("spiceport")
  sp.tls_port = r.long("spicetls_port")
  sp.host = r.string("spicehost")
  sp.disable_ticketing = r.defbool("spicedisable_ticketing")
  sp.passwd = r.string("spicepasswd")
  sp.agent_mouse = r.defbool("spiceagent_mouse")
  sp.vdagent = r.defbool("spicevdagent")
  sp.clipboard_sharing = r.defbool("spice_clipboard_sharing")
  sp.usbredirection = r.long("spiceusbredirection")
  sp.image_compression = r.string("spice_image_compression")
  sp.streaming_video = r.string("spice_streaming_video")
  for _, k in ipairs({ "port", "tls_port", "usbredirection" }) do
    sp[k] = sp[k] ~= 0 and sp[k] or nil
  end
end

-- A fresh VM generation ID (libxl_ms_vm_genid_generate: 16 random bytes, not all zero).
function M.genid()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(16)
  if f then
    f:close()
  end
  local out = {}
  for i = 1, 16 do
    out[i] = bytes and #bytes == 16 and bytes:byte(i) or math.random(0, 255)
  end
  out[1] = out[1] == 0 and 1 or out[1]
  return json.array(out)
end

-- rdm = "strategy=host,policy=relaxed" (xlu_rdm_parse).
local function rdm(_, text)
  local out = {}
  for part in text:gmatch("[^,]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    if k == "strategy" and v == "host" then
      out.strategy = "host"
    elseif k == "policy" and (v == "strict" or v == "relaxed") then
      out.policy = v
    else
      values.fail("rdm", text, "expected strategy=host and/or policy=strict|relaxed")
    end
  end
  return out
end

function M.keys(r, b_info, hvm, opts)
  -- parse_config_data's HVM case: a kernel named hvmloader is ignored.
  if b_info.kernel and b_info.kernel:match("[^/]*$") == "hvmloader" then
    r.warn("kernel: ignoring hvmloader as kernel; use firmware_override for a non-default firmware")
    b_info.kernel = nil
  end
  hvm.firmware = r.string("firmware_override")
  hvm.system_firmware = r.string("bios_path_override")
  if r.has("bios") then
    hvm.bios = values.enum("bios", r.get("bios"), { "rombios", "seabios", "ovmf" })
  elseif hvm.system_firmware then
    r.warn("bios_path_override: given without a bios name")
  end
  for key, field in pairs({ pae = "pae", acpi_s3 = "acpi_s3", acpi_s4 = "acpi_s4",
    acpi_laptop_slate = "acpi_laptop_slate", nx = "nx", hpet = "hpet", vpt_align = "vpt_align" }) do
    hvm[field] = r.defbool(key)
  end
  b_info.apic = r.defbool("apic")
  viridian(r, hvm)
  local hole = r.long("mmio_hole")
  if hole then
    local bytes = hole * 1024 * 1024
    if bytes < 0x10000000 or bytes > 0xF0000000 then
      values.fail("mmio_hole", r.get("mmio_hole"), "must be between 256 and 3840 (MB)")
    end
    hvm.mmio_hole_memkb = hole * 1024
  end
  local altp2mhvm = r.defbool("altp2mhvm")
  if altp2mhvm then
    hvm.altp2m = altp2mhvm
    r.warn("altp2mhvm: deprecated, use altp2m instead")
  end
  hvm.smbios_firmware = r.string("smbios_firmware")
  hvm.acpi_firmware = r.string("acpi_firmware")
  local genid = r.string("ms_vm_genid")
  if genid == "generate" then
    hvm.ms_vm_genid = (opts.genid_generator or M.genid)()
  elseif genid and genid ~= "none" then
    values.fail("ms_vm_genid", genid, "must be generate or none")
  end
  local boundary = r.long("rdm_mem_boundary")
  if boundary then
    hvm.rdm_mem_boundary_memkb = boundary * 1024
  end
  -- mca_caps: a list of capability names; xl exits on anything else, a single value too.
  local caps = r.get("mca_caps")
  if caps ~= nil then
    if type(caps) ~= "table" then
      values.fail("mca_caps", caps, "should be a list, such as [ \"lmce\" ]")
    end
    local bits = 0
    for _, cap in ipairs(values.list("mca_caps", caps)) do
      if cap ~= "lmce" then
        values.fail("mca_caps", cap, "unrecognized MCA capability")
      end
      bits = bits | 1 -- XEN_HVM_MCA_CAP_LMCE
    end
    hvm.mca_caps = bits ~= 0 and bits or nil
  end
  -- firmware=: a bios name, "uefi" (ovmf), "bios" (libxl picks), else a firmware path.
  local fw = r.string("firmware")
  if fw then
    local lower = fw:lower()
    if lower == "rombios" or lower == "seabios" or lower == "ovmf" then
      hvm.bios = lower
    elseif prefix_of(fw, "uefi") then
      hvm.bios = "ovmf"
    elseif not prefix_of(fw, "bios") then
      hvm.firmware = fw
    end
  end
end

-- The HVM device-model keys after the device lists (vga .. vendor_device).
function M.dm_keys(r, hvm)
  if r.has("vga") then
    local vga = values.string("vga", r.get("vga"))
    local kinds = { stdvga = "std", cirrus = "cirrus", none = "none", qxl = "qxl" }
    if not kinds[vga] then
      values.fail("vga", vga, "expected stdvga, cirrus, none or qxl")
    end
    hvm.vga.kind = kinds[vga]
    r.ignore("stdvga", "ignored because vga is given")
  elseif r.has("stdvga") then
    local on = r.soft("stdvga", values.flag, r.get("stdvga"))
    if on ~= nil then
      hvm.vga.kind = on and "std" or "cirrus"
    end
  end
  if r.has("hdtype") then
    local hd = values.enum("hdtype", r.get("hdtype"), { "ide", "ahci" })
    if hd ~= "ide" then
      hvm.hdtype = hd
    end
  end
  hvm.keymap = r.string("keymap")
  spice(r, hvm.spice)
  hvm.nographic = r.defbool("nographic")
  -- gfx_passthru: a number is the defbool; otherwise a kind name, which turns it on.
  local gfx = r.get("gfx_passthru")
  if gfx ~= nil then
    local n = type(gfx) == "boolean" and (gfx and 1 or 0)
      or (type(gfx) ~= "table" and values.strtol0(values.string("gfx_passthru", gfx)))
    if n then
      hvm.gfx_passthru = n ~= 0 and "True" or "False"
    elseif type(gfx) ~= "table" then
      local kind = values.enum("gfx_passthru", gfx, { "default", "igd" })
      hvm.gfx_passthru = "True"
      hvm.gfx_passthru_kind = kind ~= "default" and kind or nil
    end
  end
  local serial = r.get("serial")
  if type(serial) == "table" then
    hvm.serial_list = values.string_list("serial", serial)
    if #hvm.serial_list == 0 then
      hvm.serial_list = nil
    end
  elseif serial ~= nil then
    hvm.serial = values.string("serial", serial)
  end
  hvm.boot = r.string("boot")
  hvm.usb = r.defbool("usb")
  local usbversion = r.long("usbversion")
  hvm.usbversion = usbversion ~= 0 and usbversion or nil
  local usbdevice = r.get("usbdevice")
  if type(usbdevice) == "table" then
    hvm.usbdevice_list = values.string_list("usbdevice", usbdevice)
    if #hvm.usbdevice_list == 0 then
      hvm.usbdevice_list = nil
    end
  elseif usbdevice ~= nil then
    hvm.usbdevice = values.string("usbdevice", usbdevice)
  end
  hvm.vkb_device = r.defbool("vkb_device")
  hvm.soundhw = r.string("soundhw")
  hvm.xen_platform_pci = r.defbool("xen_platform_pci")
  if hvm.vnc.listen and hvm.vnc.display and hvm.vnc.listen:find(":", 1, true) then
    values.fail_msg("vncdisplay", "display specified both in vnclisten and vncdisplay")
  end
  if r.has("vendor_device") then
    local d = values.enum("vendor_device", r.get("vendor_device"), { "none", "xenserver" })
    hvm.vendor_device = d ~= "none" and d or nil
  end
end
M.rdm = rdm
M.prefix_of = prefix_of

return M
