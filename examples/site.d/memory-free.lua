-- Site rule: never restore a domain that needs more memory than the host has free.
-- Copy to /etc/xlua/site.d/ (or $XLUA_SITE_DIR). The restore policy hands the host's free
-- memory to the check as context.host.free_memory_kb; without it this rule only warns.
rule {
  name = "memory-free",
  check = function(_, wanted, api)
    local b = wanted.b_info
    -- what the domain takes from the host: its memory plus the shadow (paging) and IOMMU
    -- page-table memory libxl reserves with it; both are filled in by the defaults.
    local needed = (b.target_memkb or 0) + (b.shadow_memkb or 0) + (b.iommu_memkb or 0)
    local host = api.context.host or {}
    local free = host.free_memory_kb
    if type(free) ~= "number" then
      api.warn("b_info.target_memkb", "The host's free memory is not known, so the memory-free rule could not check it.")
    elseif needed > free then
      api.incompatible("b_info.target_memkb", string.format(
        "The domain needs %d KiB but the host has only %d KiB free.", needed, free))
    end
  end,
}
