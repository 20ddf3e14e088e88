/* core/savefile/sf_format.c: the one table of libxl and libxc record-type names, domain types,
 * extension tags and page types, so readers, writers and bindings all agree. */
#include "sf_format.h"

static const char *const libxl_names[SF_LIBXL_NTYPES] = {
    "END", "LIBXC_CONTEXT", "EMULATOR_XENSTORE_DATA", "EMULATOR_CONTEXT",
    "CHECKPOINT_END", "CHECKPOINT_STATE",
};

static const char *const libxc_names[SF_LIBXC_NTYPES] = {
    "END", "PAGE_DATA", "X86_PV_INFO", "X86_PV_P2M_FRAMES", "X86_PV_VCPU_BASIC",
    "X86_PV_VCPU_EXTENDED", "X86_PV_VCPU_XSAVE", "SHARED_INFO", "X86_TSC_INFO",
    "HVM_CONTEXT", "HVM_PARAMS", "TOOLSTACK", "X86_PV_VCPU_MSRS", "VERIFY", "CHECKPOINT",
    "CHECKPOINT_DIRTY_PFN_LIST", "STATIC_DATA_END", "X86_CPUID_POLICY", "X86_MSR_POLICY",
};

const char *sf_record_name(enum sf_layer layer, uint32_t type)
{
    if (type & SF_REC_OPTIONAL)
        return "OPTIONAL";
    if (type < sf_record_ntypes(layer))
        return layer == SF_LAYER_LIBXL ? libxl_names[type] : libxc_names[type];
    return NULL;
}

unsigned sf_record_ntypes(enum sf_layer layer)
{
    return layer == SF_LAYER_LIBXL ? SF_LIBXL_NTYPES : SF_LIBXC_NTYPES;
}

const char *sf_layer_name(enum sf_layer layer)
{
    return layer == SF_LAYER_LIBXL ? "libxl" : "libxc";
}

const char *sf_domain_type_name(uint32_t type)
{
    switch (type) {
    case SF_DOMAIN_X86_PV: return "x86 PV";
    case SF_DOMAIN_X86_HVM: return "x86 HVM";
    default: return "unknown";
    }
}

const char *sf_ext_tag_name(uint32_t tag)
{
    switch (tag) {
    case SF_EXT_SOURCE: return "SOURCE";
    case SF_EXT_SOURCE_FORMAT: return "SOURCE_FORMAT";
    case SF_EXT_META: return "META";
    default: return NULL;
    }
}

int sf_page_type_known(unsigned type)
{
    return type <= 4 || type >= 9;
}

int sf_page_type_has_data(unsigned type)
{
    return type != SF_PAGE_BROKEN && type != SF_PAGE_XALLOC && type != SF_PAGE_XTAB;
}
