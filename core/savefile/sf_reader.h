/* core/savefile/sf_reader.h: reading a savefile front to back from any fd (pipes too): the xl
 * header, optional data (config, xlua extensions), the libxl/libxc record walk, and the trailer.
 * Every step reads what the earlier steps need first, so a caller may jump to any of them. Errors
 * are sticky: once a read fails, every later step that needs more bytes returns the same error,
 * while results already read stay available. */
#ifndef XLUA_SF_READER_H
#define XLUA_SF_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sf_format.h"

struct sf_reader;

struct sf_header {
    uint32_t byteorder;
    uint32_t mandatory_flags;
    uint32_t optional_flags;
    uint32_t optional_data_len;
};

struct sf_optdata {
    int has_config;              /* optional data holds a config_len (xl writes none when 0) */
    int config_json;             /* SF_FLAG_JSON: config ends in a NUL */
    uint32_t config_len;         /* as stored, including the NUL for JSON */
    const unsigned char *config; /* owned by the reader */
    int has_ext;                 /* an "XLUA" block follows the config */
    uint32_t ext_version;
    size_t ext_count;
    const struct sf_ext_entry *ext;
};

struct sf_stream_info {
    uint32_t libxl_version, libxl_options;
    int libxl_big_endian;
    int have_libxc;              /* the libxc image and domain headers were read */
    uint32_t libxc_version;
    uint16_t libxc_options;
    int libxc_big_endian;
    uint32_t domain_type;
    uint16_t page_shift;
    uint32_t xen_major, xen_minor;
};

struct sf_record {
    enum sf_layer layer;
    uint32_t type;
    const char *name;            /* from sf_record_name: never NULL here */
    uint64_t offset;             /* logical offset of the record header (see sf_reader_offset) */
    uint32_t length;             /* body length without padding */
    uint32_t pages;              /* PAGE_DATA: pfn entries; 0 otherwise */
    uint32_t data_pages;         /* PAGE_DATA: entries carrying page contents */
    const unsigned char *body;   /* when asked for: length bytes, valid until the next call */
};

struct sf_summary {
    uint64_t libxl_counts[SF_LIBXL_NTYPES];
    uint64_t libxl_optional;
    uint64_t libxc_counts[SF_LIBXC_NTYPES];
    uint64_t libxc_optional;
    uint64_t record_count;
    uint64_t pages, data_pages;
    uint64_t stream_bytes;       /* logical (decompressed) bytes of the stream part so far */
    uint64_t raw_stream_bytes;   /* file bytes of the stream part so far */
    int compressed;
    int complete;                /* the libxl END record was read */
};

struct sf_trailer {
    int found;
    uint64_t length;             /* stored */
    unsigned char hash[SF_HASH_LEN];      /* stored */
    uint64_t computed_length;    /* bytes before the trailer */
    unsigned char computed[SF_HASH_LEN];
    int length_matches, hash_matches, matches;
};

/* What may follow the stream's END record. A file: a trailer or nothing, up to the end of the
 * file (bytes after the trailer are BADTRAILER). A migration stream is followed by the
 * protocol's next message, so the reader must not read past the stream: NONE reads nothing
 * after END (an xl sender sends no trailer), REQUIRED reads exactly one trailer (a missing or
 * partial one is BADTRAILER) and nothing after it. */
enum sf_trailer_mode { SF_TRAILER_OPTIONAL, SF_TRAILER_NONE, SF_TRAILER_REQUIRED };

/* The stream part of a regular, uncompressed file with a trailer, handed to another reader
 * (libxl) as xl hands it the file: 1 with *fd positioned at the stream's first byte, and a
 * thread checks the trailer against the whole file meanwhile; 0 for any other file (walk the
 * stream with sf_reader_next). The reader itself reads no more after a 1. _progress: bytes the
 * other reader consumed. _check: wait for the check: 0 the file is whole, -1 BADTRAILER or a
 * read error. */
int sf_reader_handoff(struct sf_reader *r, int *fd, struct xerr *err);
uint64_t sf_reader_handoff_progress(const struct sf_reader *r);
int sf_reader_handoff_check(struct sf_reader *r, struct xerr *err);

/* Reader over fd; name starts every message. close_fd: sf_reader_free closes fd. */
struct sf_reader *sf_reader_new(int fd, const char *name, int close_fd, struct xerr *err);
void sf_reader_free(struct sf_reader *r);
/* Before the trailer is read; a new reader is SF_TRAILER_OPTIONAL. */
void sf_reader_set_trailer_mode(struct sf_reader *r, enum sf_trailer_mode mode);

int sf_reader_header(struct sf_reader *r, const struct sf_header **out, struct xerr *err);
int sf_reader_optdata(struct sf_reader *r, const struct sf_optdata **out, struct xerr *err);
/* Reads the libxl header, and the libxc headers when LIBXC_CONTEXT comes before any
 * other record with a body (as libxl writes it): the stream info is then complete. */
int sf_reader_stream(struct sf_reader *r, const struct sf_stream_info **out, struct xerr *err);

/* 1 = *rec filled, 0 = past the libxl END record (the stream part is complete), -1 = error.
 * want_body: rec->body holds the body (up to SF_REC_LENGTH_MAX, kept in a reused buffer). */
int sf_reader_next(struct sf_reader *r, struct sf_record *rec, int want_body,
                   struct xerr *err);

/* Walk what is left of the stream (no bodies kept) and fill *out with the running summary. */
int sf_reader_summary(struct sf_reader *r, struct sf_summary *out, struct xerr *err);
/* Walk what is left, then read the trailer. A mismatch is reported in *out, not an error;
 * a partial trailer or bytes after it is BADTRAILER. */
int sf_reader_trailer(struct sf_reader *r, struct sf_trailer *out, struct xerr *err);
/* Walk everything and check the trailer (if present); mismatch is BADTRAILER. */
int sf_reader_verify(struct sf_reader *r, struct xerr *err);

/* Logical bytes consumed: file bytes, except inside a zstd stream, where stream bytes count
 * decompressed. sf_reader_raw_offset always counts file bytes. */
uint64_t sf_reader_offset(const struct sf_reader *r);
uint64_t sf_reader_raw_offset(const struct sf_reader *r);
/* The name given to sf_reader_new: messages about the file's contents start with it. */
const char *sf_reader_name(const struct sf_reader *r);
/* The sticky error, or NULL. */
const struct xerr *sf_reader_error(const struct sf_reader *r);

#endif
