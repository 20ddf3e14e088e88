-- The guest xlua creates from a Lua config: 96 MiB, two vcpus, no disk.
return {
  name = "xb",
  type = "pv",
  memory = 96,
  vcpus = 2,
  kernel = "/xen-tests/vmlinuz",
  ramdisk = "/xen-tests/guest.cpio.gz",
  extra = "console=hvc0 rdinit=/init quiet",
}
