/* core/savefile/sf_writer.h: writing a savefile to any fd (pipes too): xl header and optional data,
 * raw or framed stream bytes (optionally one zstd frame), and the hashed xlua trailer. */
#ifndef XLUA_SF_WRITER_H
#define XLUA_SF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sf_format.h"

struct sf_writer;

struct sf_write_options {
    const void *config;          /* NULL: no config (no optional data unless ext_count) */
    size_t config_len;           /* without the NUL */
    int json;                    /* append a NUL and set SF_FLAG_JSON */
    int streamv2;                /* set SF_FLAG_STREAMV2 */
    int zstd;                    /* set SF_FLAG_ZSTD: the stream part is one zstd frame */
    int zstd_level;              /* 0: xlua's default (-1, sf_writer.c) */
    const struct sf_ext_entry *ext;
    size_t ext_count;            /* > 0: an "XLUA" block follows the config */
};

/* The fd is not closed by the writer; name starts every message. */
struct sf_writer *sf_writer_new(int fd, const char *name, struct xerr *err);
void sf_writer_free(struct sf_writer *w);

/* Must come first; computes optional_data_len. */
int sf_writer_header(struct sf_writer *w, const struct sf_write_options *o, struct xerr *err);
/* Raw stream bytes (compressed when the header said zstd). */
int sf_writer_write(struct sf_writer *w, const void *p, size_t n, struct xerr *err);
/* libxl stream header: "LibxlFmt", version 2, this host's endianness. */
int sf_writer_libxl_header(struct sf_writer *w, struct xerr *err);
/* libxc image header (version 2 or 3) and domain header, this host's endianness. */
int sf_writer_libxc_headers(struct sf_writer *w, uint32_t version, uint32_t domain_type,
                            uint16_t page_shift, uint32_t xen_major, uint32_t xen_minor,
                            struct xerr *err);
/* {type, length, body, zero padding to 8}, the same framing in both layers. */
int sf_writer_record(struct sf_writer *w, uint32_t type, const void *body, size_t length,
                     struct xerr *err);
/* Hand everything written so far to the fd (a zstd flush, not the frame's end): a peer on a
 * pipe can then read it all while the writer waits for its answer. */
int sf_writer_flush(struct sf_writer *w, struct xerr *err);

/* A record written in parts: the header now, then exactly `length` body bytes through any
 * number of sf_writer_record_body calls (the padding follows the last by itself). Large parts
 * go to the fd without a copy. */
int sf_writer_record_begin(struct sf_writer *w, uint32_t type, uint64_t length,
                           struct xerr *err);
int sf_writer_record_body(struct sf_writer *w, const void *p, size_t n, struct xerr *err);
/* Body bytes that are also at src_off in src_fd (a regular file), p mapping or holding them:
 * without zstd, into a regular file, the kernel copies them file to file (copy_file_range)
 * and p is only hashed; otherwise as sf_writer_record_body. p may be NULL once
 * sf_writer_hash_behind said 1: then 1 means the copy could not be made (nothing was written:
 * give the bytes to sf_writer_record_body). */
int sf_writer_record_body_copy(struct sf_writer *w, const void *p, size_t n, int src_fd,
                               uint64_t src_off, struct xerr *err);

/* For a regular file open O_RDWR, without zstd: from here on a thread reads back what it wrote
 * (its pages are in the cache) and hashes it there, beside the writer instead of in its way,
 * and starts its writeback. 1 started, 0 not such a file (hashing stays in line). */
int sf_writer_hash_behind(struct sf_writer *w);

/* Direct mode, for a stream another writer (libxl) appends to the fd itself, as xl has it
 * write: 1 with *fd when the writer can (a regular file open for reading too, no zstd; its buffer is flushed), 0
 * when it cannot (relay the bytes through sf_writer_write). A thread reads the bytes back
 * behind that writer (its pages are in the cache) for the hash and starts their writeback.
 * _end once it is done (ok 0: it failed; the writer fails too): its bytes are from the start
 * to the fd's offset. _progress: bytes it wrote so far. */
int sf_writer_direct_begin(struct sf_writer *w, int *fd, struct xerr *err);
uint64_t sf_writer_direct_progress(struct sf_writer *w);
int sf_writer_direct_end(struct sf_writer *w, int ok, struct xerr *err);

/* End the zstd frame, append the trailer if asked, flush. *total: bytes written in all. */
int sf_writer_finish(struct sf_writer *w, int trailer, uint64_t *total, struct xerr *err);
/* Bytes written so far (file bytes, compressed). */
uint64_t sf_writer_bytes(const struct sf_writer *w);

#endif
