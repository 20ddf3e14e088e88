/* core/savefile/sf_format.h: the savefile layout in numbers: the xl header, the xlua extension
 * block and trailer, the libxl and libxc stream v2 framing, and the one table of record-type
 * names. */
#ifndef XLUA_SF_FORMAT_H
#define XLUA_SF_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* xl header (tools/xl/xl.h: struct save_file_header), u32s in host byte order. */
#define SF_MAGIC "Xen saved domain, xl format\n \0 \r"
#define SF_MAGIC_LEN 32
#define SF_HEADER_LEN 48
#define SF_BYTEORDER 0x01020304u
#define SF_BYTEORDER_SWAPPED 0x04030201u

#define SF_FLAG_JSON 0x1u            /* config is libxl JSON, NUL-terminated */
#define SF_FLAG_STREAMV2 0x2u        /* a libxl migration stream v2 follows */
#define SF_FLAG_ZSTD 0x80000000u     /* xlua: the stream part is one zstd frame */
#define SF_FLAGS_KNOWN (SF_FLAG_JSON | SF_FLAG_STREAMV2 | SF_FLAG_ZSTD)

/* Optional data is read into memory whole; xl writes ~1 KiB of JSON, so 16 MiB is absurd. */
#define SF_OPTDATA_MAX (16u << 20)

/* xlua extension block, right after the config bytes inside optional data. */
#define SF_EXT_MAGIC "XLUA"
#define SF_EXT_VERSION 1u
#define SF_EXT_SOURCE 1u
#define SF_EXT_SOURCE_FORMAT 2u
#define SF_EXT_META 3u
/* xlua migrate: the sender announces itself to an xlua receiver (lua/xlua/migration.lua) */
#define SF_EXT_MIGRATE 4u

/* xlua trailer after the stream: magic, u64 length before the trailer, XXH3-128 canonical. */
#define SF_TRAILER_MAGIC "XLUA-END"
#define SF_TRAILER_LEN 32
#define SF_HASH_LEN 16

/* libxl stream v2 (docs/specs/libxl-migration-stream.pandoc), header big-endian. */
#define SF_LIBXL_IDENT "LibxlFmt"
#define SF_LIBXL_HEADER_LEN 16
#define SF_LIBXL_VERSION 2u
#define SF_LIBXL_OPT_BIG_ENDIAN 0x1u
#define SF_LIBXL_OPT_LEGACY 0x2u

enum sf_libxl_type {
    SF_LIBXL_END = 0,
    SF_LIBXL_LIBXC_CONTEXT = 1,
    SF_LIBXL_EMULATOR_XENSTORE_DATA = 2,
    SF_LIBXL_EMULATOR_CONTEXT = 3,
    SF_LIBXL_CHECKPOINT_END = 4,
    SF_LIBXL_CHECKPOINT_STATE = 5,
    SF_LIBXL_NTYPES = 6
};

/* libxc stream (docs/specs/libxc-migration-stream.pandoc): image header big-endian,
 * domain header and records in the stream's endianness. */
#define SF_LIBXC_IHDR_LEN 24
#define SF_LIBXC_DHDR_LEN 16
#define SF_LIBXC_MARKER UINT64_C(0xFFFFFFFFFFFFFFFF)
#define SF_LIBXC_ID 0x58454E46u      /* "XENF" */
#define SF_LIBXC_OPT_BIG_ENDIAN 0x1u

enum sf_libxc_type {
    SF_LIBXC_END = 0,
    SF_LIBXC_PAGE_DATA = 1,
    SF_LIBXC_X86_PV_INFO = 2,
    SF_LIBXC_X86_PV_P2M_FRAMES = 3,
    SF_LIBXC_X86_PV_VCPU_BASIC = 4,
    SF_LIBXC_X86_PV_VCPU_EXTENDED = 5,
    SF_LIBXC_X86_PV_VCPU_XSAVE = 6,
    SF_LIBXC_SHARED_INFO = 7,
    SF_LIBXC_X86_TSC_INFO = 8,
    SF_LIBXC_HVM_CONTEXT = 9,
    SF_LIBXC_HVM_PARAMS = 10,
    SF_LIBXC_TOOLSTACK = 11,
    SF_LIBXC_X86_PV_VCPU_MSRS = 12,
    SF_LIBXC_VERIFY = 13,
    SF_LIBXC_CHECKPOINT = 14,
    SF_LIBXC_CHECKPOINT_DIRTY_PFN_LIST = 15,
    SF_LIBXC_STATIC_DATA_END = 16,
    SF_LIBXC_X86_CPUID_POLICY = 17,
    SF_LIBXC_X86_MSR_POLICY = 18,
    SF_LIBXC_NTYPES = 19
};

/* Domain header types: Xen defines only these two (PVH guests travel as HVM). */
#define SF_DOMAIN_X86_PV 1u
#define SF_DOMAIN_X86_HVM 2u

/* Both layers: {u32 type, u32 length, body, zero padding to 8}. Bit 31 = optional record. */
#define SF_REC_HEADER_LEN 8
#define SF_REC_ALIGN 8
#define SF_REC_OPTIONAL 0x80000000u
/* libxc's REC_LENGTH_MAX (xg_sr_stream_format.h); libxl has no cap, we use the same one. */
#define SF_REC_LENGTH_MAX (128u << 20)

/* PAGE_DATA: u32 count, u32 reserved, count u64 {pfn bits 0-51, type bits 60-63}, then
 * one page of data per entry whose type carries data. */
#define SF_PAGE_DATA_HEADER_LEN 8
#define SF_PFN_MASK UINT64_C(0x000FFFFFFFFFFFFF)
#define SF_PFN_TYPE_SHIFT 60
#define SF_PAGE_BROKEN 0xDu
#define SF_PAGE_XALLOC 0xEu
#define SF_PAGE_XTAB 0xFu

enum sf_layer { SF_LAYER_LIBXL = 0, SF_LAYER_LIBXC = 1 };

/* One entry of the xlua extension block (data owned by whoever filled it). */
struct sf_ext_entry {
    uint32_t tag;
    uint32_t length;
    const unsigned char *data;
};

/* Record names ("PAGE_DATA"); "OPTIONAL" for bit-31 types, NULL for unknown mandatory ones. */
const char *sf_record_name(enum sf_layer layer, uint32_t type);
/* Number of named types in a layer (SF_LIBXL_NTYPES, SF_LIBXC_NTYPES). */
unsigned sf_record_ntypes(enum sf_layer layer);
const char *sf_layer_name(enum sf_layer layer);          /* "libxl" | "libxc" */
const char *sf_domain_type_name(uint32_t type);          /* "x86 PV", "x86 HVM", "unknown" */
const char *sf_ext_tag_name(uint32_t tag);               /* "SOURCE", ... or NULL */
/* Page types 5-8 are reserved: a restore must refuse them. */
int sf_page_type_known(unsigned type);
int sf_page_type_has_data(unsigned type);

/* 64-bit: a u32 length near 4 GiB pads to 2^32, which a u32 result would wrap to 0. */
static inline uint64_t sf_rec_padded(uint32_t length)
{
    return (length + (uint64_t)SF_REC_ALIGN - 1) & ~(uint64_t)(SF_REC_ALIGN - 1);
}

/* Byte order helpers: decode and encode without alignment assumptions. */
static inline uint32_t sf_get32(const unsigned char *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint16_t sf_get16(const unsigned char *p, int big)
{
    return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static inline uint64_t sf_get64(const unsigned char *p, int big)
{
    return big ? (uint64_t)sf_get32(p, 1) << 32 | sf_get32(p + 4, 1)
               : (uint64_t)sf_get32(p + 4, 0) << 32 | sf_get32(p, 0);
}

static inline void sf_put32(unsigned char *p, uint32_t v, int big)
{
    for (int i = 0; i < 4; i++)
        p[big ? 3 - i : i] = (unsigned char)(v >> (8 * i));
}

static inline void sf_put16(unsigned char *p, uint16_t v, int big)
{
    p[big ? 1 : 0] = (unsigned char)v;
    p[big ? 0 : 1] = (unsigned char)(v >> 8);
}

static inline void sf_put64(unsigned char *p, uint64_t v, int big)
{
    for (int i = 0; i < 8; i++)
        p[big ? 7 - i : i] = (unsigned char)(v >> (8 * i));
}

static inline int sf_host_big_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* The xl header's u32s are in host order. */
static inline uint32_t sf_get_host32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void sf_put_host32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#endif
