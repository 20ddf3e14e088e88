-- The compatibility rule table: which differences between a saved and a wanted libxl domain
-- config are incompatible, which are allowed, as data. check.lua applies it; site rules add.
--
-- A rule: { path = PATTERN, verdict = "incompatible"|"warning"|"allowed", reason = SENTENCE,
--           count = true | whole = true | subtree = true }
-- PATTERN is a path in the libxl JSON: keys joined by ".", list items as [N] (0-based, as in
-- JSON), "[*]" for any item and "*" for any one key. libxl's keyed unions keep their JSON key,
-- dot included: the HVM part of b_info is "b_info.type.hvm" (the key "type.hvm").
--   count    the rule is about the length of the list at PATH (disks, nics, ...)
--   whole    the value at PATH is compared as one value, not field by field (bitmaps, cpuid)
--   subtree  the rule also covers everything below PATH
--   judge    function(old, new, saved, wanted) -> verdict, reason: for a verdict that depends
--            on the values (both configs defaulted); verdict and reason are the fallback
-- The first rule that matches a path decides. A difference no rule matches is a warning,
-- "unknown difference", so that the list can grow from what people see.
local rules = {}

rules.VERDICTS = { "allowed", "warning", "incompatible" }
rules.RANK = { allowed = 1, warning = 2, incompatible = 3 }

rules.UNKNOWN_REASON = "unknown difference"

-- The device lists of libxl_domain_config: their lengths are compared before their items,
-- and items are compared index by index.
rules.DEVICE_LISTS = {
  "disks", "nics", "pcidevs", "rdms", "dtdevs", "vfbs", "vkbs", "vtpms", "p9s", "pvcallsifs",
  "vdispls", "vsnds", "channels", "usbctrls", "usbdevs", "consoles",
}

local I, A = "incompatible", "allowed"

local BACKEND = "The domain serving the device is host-side: the guest sees the same device."
local GUEST_SEES = "The guest reads this from the device; it must stay the same."
local EMULATED_USB = "The HVM guest's emulated USB controller and devices are guest-visible "
  .. "hardware, and part of the saved device model state."
local NEXT_BOOT = "Only read when the guest boots: the restored guest keeps running what it "
  .. "booted, and the change takes effect at its next boot."

local function count(list, what)
  return { path = list, verdict = I, count = true,
    reason = "The number of " .. what .. " is guest-visible: the guest would lose or gain one." }
end

rules.list = {
  -- the domain type
  { path = "c_info.type", verdict = I,
    reason = "The domain type (pv, pvh, hvm) decides how the saved image was built; it cannot change." },
  { path = "b_info.type", verdict = I,
    reason = "The domain type (pv, pvh, hvm) decides how the saved image was built; it cannot change." },

  -- identity
  { path = "c_info.uuid", verdict = I,
    reason = "The uuid is the domain's identity: an HVM guest sees it in its SMBIOS tables, and "
      .. "xenstore paths and management tools follow it." },

  -- memory
  { path = "b_info.max_memkb", verdict = I,
    reason = "The maximum memory is part of the saved guest; it must stay the same." },
  { path = "b_info.target_memkb", verdict = I,
    reason = "The balloon target cannot be above the maximum memory.",
    judge = function(_, new, _, wanted)
      local max = wanted.b_info and wanted.b_info.max_memkb
      if math.type(new) == "integer" and math.type(max) == "integer" and new <= max then
        return "warning", "The balloon target only asks the guest's balloon driver to give back or "
          .. "take memory up to the maximum (as libvirt lets currentMemory change); the guest "
          .. "keeps the memory it had until its driver acts."
      end
    end },
  { path = "b_info.shadow_memkb", verdict = I,
    reason = "The shadow (paging) memory must match the saved domain's." },

  -- vcpus
  { path = "b_info.max_vcpus", verdict = I,
    reason = "The maximum number of vcpus is fixed when the domain is built; the saved vcpu state needs the same." },
  { path = "b_info.avail_vcpus", verdict = I, whole = true,
    reason = "The set of online vcpus is guest state: the saved image expects the same vcpus online." },

  -- what is only read when the guest boots: a restored guest is running already
  { path = "b_info.kernel", verdict = A, reason = NEXT_BOOT },
  { path = "b_info.ramdisk", verdict = A, reason = NEXT_BOOT },
  { path = "b_info.cmdline", verdict = A, reason = NEXT_BOOT },
  { path = "b_info.bootloader", verdict = A, reason = NEXT_BOOT },
  { path = "b_info.bootloader_args", verdict = A, whole = true, reason = NEXT_BOOT },
  { path = "b_info.type.hvm.boot", verdict = A, reason = NEXT_BOOT },

  -- disks
  count("disks", "disks"),
  { path = "disks[*].vdev", verdict = I,
    reason = "A disk's virtual device name is how the guest knows it." },
  { path = "disks[*].is_cdrom", verdict = I,
    reason = "Whether a disk is a cdrom is guest-visible." },
  { path = "disks[*].pdev_path", verdict = A,
    reason = "The disk's backing path is host-side: the guest sees the same disk." },
  { path = "disks[*].format", verdict = A,
    reason = "The backing file's format is host-side: the guest sees the same disk." },
  { path = "disks[*].backend", verdict = A,
    reason = "The disk's backend is host-side: the guest sees the same disk." },
  { path = "disks[*].backend_domid", verdict = A,
    reason = "The domain serving the disk is host-side: the guest sees the same disk." },
  { path = "disks[*].backend_domname", verdict = A,
    reason = "The domain serving the disk is host-side: the guest sees the same disk." },
  { path = "disks[*].script", verdict = A,
    reason = "The script that prepares the disk's backing is host-side." },

  -- nics
  count("nics", "network interfaces"),
  { path = "nics[*].mac", verdict = I,
    reason = "A nic's MAC address is guest-visible." },
  { path = "nics[*].model", verdict = I,
    reason = "A nic's emulated model is guest-visible hardware." },
  { path = "nics[*].bridge", verdict = A,
    reason = "The bridge a nic is plugged into is host-side." },
  { path = "nics[*].script", verdict = A,
    reason = "The nic's hotplug script is host-side." },
  { path = "nics[*].ip", verdict = A,
    reason = "A nic's ip setting is only read by the host's scripts." },
  { path = "nics[*].gatewaydev", verdict = A,
    reason = "A nic's routing setting is only read by the host's scripts." },
  { path = "nics[*].ifname", verdict = A,
    reason = "The vif's name in the backend domain is host-side." },
  { path = "nics[*].backend_domid", verdict = A,
    reason = "The domain serving the nic is host-side." },
  { path = "nics[*].backend_domname", verdict = A,
    reason = "The domain serving the nic is host-side." },

  -- PCI passthrough
  count("pcidevs", "PCI passthrough devices"),
  { path = "pcidevs[*]", verdict = I, whole = true,
    reason = "PCI passthrough devices are guest-visible hardware and cannot change." },

  -- HVM platform
  { path = "c_info.hap", verdict = I,
    reason = "Hardware-assisted paging (hap) is part of how the saved domain's memory is managed." },
  { path = "b_info.type.hvm.firmware", verdict = I,
    reason = "The firmware is part of the saved HVM guest." },
  { path = "b_info.type.hvm.bios", verdict = I,
    reason = "The firmware (bios) is part of the saved HVM guest." },
  { path = "b_info.type.hvm.system_firmware", verdict = I,
    reason = "The firmware is part of the saved HVM guest." },
  { path = "b_info.device_model_version", verdict = I,
    reason = "The saved device model state can only be read by the same device model version." },
  { path = "b_info.type.hvm.viridian", verdict = I,
    reason = "Viridian (Hyper-V) enlightenments are guest-visible." },
  { path = "b_info.type.hvm.viridian_enable", verdict = I, whole = true,
    reason = "Viridian (Hyper-V) enlightenments are guest-visible." },
  { path = "b_info.type.hvm.viridian_disable", verdict = I, whole = true,
    reason = "Viridian (Hyper-V) enlightenments are guest-visible." },
  { path = "b_info.acpi", verdict = I,
    reason = "ACPI is guest-visible firmware." },
  { path = "b_info.type.hvm.acpi", verdict = I,
    reason = "ACPI is guest-visible firmware." },
  { path = "b_info.apic", verdict = I,
    reason = "The APIC is guest-visible." },
  { path = "b_info.type.hvm.pae", verdict = I,
    reason = "PAE is a CPU feature the guest has seen." },
  { path = "b_info.type.hvm.nx", verdict = I,
    reason = "NX is a CPU feature the guest has seen." },
  { path = "b_info.type.hvm.vga.kind", verdict = I,
    reason = "The emulated graphics card is guest-visible hardware." },
  { path = "b_info.video_memkb", verdict = I,
    reason = "Video memory is part of the saved guest's memory and device model state." },
  { path = "b_info.timer_mode", verdict = I,
    reason = "The timer mode is part of the saved platform state." },

  -- CPUID
  { path = "b_info.cpuid", verdict = I, whole = true,
    reason = "The CPUID policy is what the guest's kernel saw; changing it can crash the guest." },

  -- HVM emulated USB: the device model's state
  { path = "b_info.type.hvm.usb", verdict = I, reason = EMULATED_USB },
  { path = "b_info.type.hvm.usbversion", verdict = I, reason = EMULATED_USB },
  { path = "b_info.type.hvm.usbdevice", verdict = I, reason = EMULATED_USB },
  { path = "b_info.type.hvm.usbdevice_list", verdict = I, whole = true, reason = EMULATED_USB },

  -- passthrough of host resources and the machine's layout
  { path = "b_info.iomem", verdict = I, whole = true,
    reason = "Passed-through memory ranges are guest-visible hardware and cannot change." },
  { path = "b_info.ioports", verdict = I, whole = true,
    reason = "Passed-through I/O ports are guest-visible hardware and cannot change." },
  { path = "b_info.irqs", verdict = I, whole = true,
    reason = "Passed-through IRQs are guest-visible hardware and cannot change." },
  { path = "b_info.vnuma_nodes", verdict = I, whole = true,
    reason = "The virtual NUMA topology (nodes, their memory, vcpus and distances) is what the "
      .. "guest's kernel saw at boot." },
  { path = "b_info.type.hvm.ms_vm_genid", verdict = "warning", whole = true,
    reason = "A new VM generation ID tells the guest it was restored from a copy: Windows then "
      .. "resets what must not be reused (such as its domain controller state)." },

  -- other device counts, and each device's guest-visible identity
  count("vfbs", "virtual framebuffers"),
  count("vkbs", "virtual keyboards"),
  { path = "vkbs[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "vkbs[*].backend_domid", verdict = A, reason = BACKEND },
  { path = "vkbs[*].unique_id", verdict = I,
    reason = "A virtual keyboard's unique id is how the guest tells it apart." },
  { path = "vkbs[*].feature_*", verdict = I, reason = GUEST_SEES },
  { path = "vkbs[*].width", verdict = I, reason = GUEST_SEES },
  { path = "vkbs[*].height", verdict = I, reason = GUEST_SEES },
  { path = "vkbs[*].multi_touch_*", verdict = I, reason = GUEST_SEES },
  count("consoles", "consoles"),
  count("channels", "channels"),
  { path = "channels[*].name", verdict = I,
    reason = "A channel's name is how the guest finds it (org.qemu.guest_agent.0 ...)." },
  { path = "channels[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "channels[*].backend_domid", verdict = A, reason = BACKEND },
  { path = "channels[*].connection", verdict = A, subtree = true,
    reason = "Where the host end of a channel is connected (pty, socket path) is host-side." },
  { path = "channels[*].connection.pty", verdict = A, subtree = true,
    reason = "Where the host end of a channel is connected (pty, socket path) is host-side." },
  { path = "channels[*].connection.socket", verdict = A, subtree = true,
    reason = "Where the host end of a channel is connected (pty, socket path) is host-side." },
  count("vtpms", "virtual TPMs"),
  { path = "vtpms[*].uuid", verdict = I,
    reason = "A vTPM's uuid chooses the TPM state the guest gets (its sealed keys); without one "
      .. "libxl makes a new, empty one." },
  { path = "vtpms[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "vtpms[*].backend_domid", verdict = A, reason = BACKEND },
  count("usbctrls", "USB controllers"),
  { path = "usbctrls[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "usbctrls[*].backend_domid", verdict = A, reason = BACKEND },
  { path = "usbctrls[*]", verdict = I, subtree = true,
    reason = "A USB controller's kind, version and ports are guest-visible hardware." },
  count("usbdevs", "USB devices"),
  { path = "usbdevs[*]", verdict = I, whole = true,
    reason = "A passed-through USB device, and the controller and port it is on, are guest-visible." },
  count("p9s", "9pfs shares"),
  { path = "p9s[*].tag", verdict = I,
    reason = "A 9pfs share's tag is what the guest mounts." },
  { path = "p9s[*].path", verdict = A,
    reason = "The host directory behind a 9pfs share is host-side: the guest mounts the same tag." },
  { path = "p9s[*].security_model", verdict = "warning",
    reason = "The security model changes how the guest's file owners and modes map to the host "
      .. "directory: files may look different to the guest." },
  { path = "p9s[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "p9s[*].backend_domid", verdict = A, reason = BACKEND },
  count("pvcallsifs", "PV calls interfaces"),
  { path = "pvcallsifs[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "pvcallsifs[*].backend_domid", verdict = A, reason = BACKEND },
  count("vdispls", "virtual displays"),
  { path = "vdispls[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "vdispls[*].backend_domid", verdict = A, reason = BACKEND },
  { path = "vdispls[*]", verdict = I, subtree = true,
    reason = "A virtual display's connectors (ids and sizes) and buffer allocation are guest-visible." },
  count("vsnds", "virtual sound cards"),
  { path = "vsnds[*].backend_domname", verdict = A, reason = BACKEND },
  { path = "vsnds[*].backend_domid", verdict = A, reason = BACKEND },
  { path = "vsnds[*]", verdict = I, subtree = true,
    reason = "A virtual sound card's names, PCMs, streams and their parameters are guest-visible." },
  count("dtdevs", "passed-through device tree nodes"),
  { path = "dtdevs[*]", verdict = I, subtree = true,
    reason = "Passed-through device tree nodes are guest-visible hardware and cannot change." },

  -- host-side settings
  { path = "c_info.name", verdict = A,
    reason = "The domain name is host-side." },
  { path = "on_poweroff", verdict = A, reason = "Lifecycle actions are host-side policy." },
  { path = "on_reboot", verdict = A, reason = "Lifecycle actions are host-side policy." },
  { path = "on_watchdog", verdict = A, reason = "Lifecycle actions are host-side policy." },
  { path = "on_crash", verdict = A, reason = "Lifecycle actions are host-side policy." },
  { path = "on_soft_reset", verdict = A, reason = "Lifecycle actions are host-side policy." },
  { path = "b_info.type.hvm.vnc", verdict = A, subtree = true,
    reason = "VNC settings are host-side." },
  { path = "b_info.type.hvm.sdl", verdict = A, subtree = true,
    reason = "SDL settings are host-side." },
  { path = "vfbs[*].vnc", verdict = A, subtree = true,
    reason = "VNC settings are host-side." },
  { path = "vfbs[*].sdl", verdict = A, subtree = true,
    reason = "SDL settings are host-side." },
  { path = "b_info.cpumap", verdict = A, whole = true,
    reason = "CPU affinity only decides where the vcpus run." },
  { path = "b_info.vcpu_hard_affinity", verdict = A, whole = true,
    reason = "CPU affinity only decides where the vcpus run." },
  { path = "b_info.vcpu_soft_affinity", verdict = A, whole = true,
    reason = "CPU affinity only decides where the vcpus run." },
  { path = "b_info.numa_placement", verdict = A,
    reason = "Automatic NUMA placement only chooses the CPU affinity." },
  { path = "b_info.sched_params.weight", verdict = A,
    reason = "The scheduler weight only shares CPU time between domains." },
  { path = "b_info.sched_params.cap", verdict = A,
    reason = "The scheduler cap only limits CPU time." },
}

-- A pattern to a Lua pattern anchored at both ends ("[*]" any item, "*" any one key).
local function compile(pattern)
  local out = {}
  local i = 1
  while i <= #pattern do
    if pattern:sub(i, i + 2) == "[*]" then
      out[#out + 1] = "%[%d+%]"
      i = i + 3
    elseif pattern:sub(i, i) == "*" then
      out[#out + 1] = "[^%.%[]+"
      i = i + 1
    else
      out[#out + 1] = pattern:sub(i, i):gsub("%p", "%%%0")
      i = i + 1
    end
  end
  return "^" .. table.concat(out) .. "$"
end

local compiled = {}

-- Does path match pattern? With subtree, paths below it match too.
function rules.match(pattern, path, subtree)
  local lp = compiled[pattern]
  if not lp then
    lp = compile(pattern)
    compiled[pattern] = lp
  end
  if path:match(lp) then
    return true
  end
  if subtree then
    for pos in path:gmatch("()[%.%[]") do
      if path:sub(1, pos - 1):match(lp) then
        return true
      end
    end
  end
  return false
end

-- The first rule of list (default rules.list) for path, or nil. want_count selects count
-- rules (the length of a list) instead of value rules.
function rules.find(path, want_count, list)
  for _, r in ipairs(list or rules.list) do
    if (r.count or false) == (want_count or false) and rules.match(r.path, path, r.subtree) then
      return r
    end
  end
  return nil
end

return rules
