/* core/savefile/sf_input.h: the byte source under the savefile reader: a buffered fd (works on
 * pipes, never seeks) that counts and hashes the raw bytes it consumes and can inflate a zstd
 * frame. */
#ifndef XLUA_SF_INPUT_H
#define XLUA_SF_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sf_format.h"

struct sf_input;

/* name is copied; it starts every error message. */
struct sf_input *sf_input_new(int fd, const char *name, struct xerr *err);
void sf_input_free(struct sf_input *in);
const char *sf_input_name(const struct sf_input *in);

/* Raw bytes of the file consumed so far (compressed bytes when inflating). */
uint64_t sf_input_raw_offset(const struct sf_input *in);
/* Bytes of the logical file consumed: raw bytes before the stream, plus decompressed bytes
 * of the stream once inflating. Equals the raw offset for an uncompressed file. */
uint64_t sf_input_offset(const struct sf_input *in);
int sf_input_inflating(const struct sf_input *in);

/* Read up to n raw bytes (hashed while hashing is on); *got < n only at end of file. */
int sf_input_raw(struct sf_input *in, void *dst, size_t n, size_t *got, struct xerr *err);

/* Read exactly n logical bytes, or fail: TRUNCATED (naming `what`), BADZSTD, EIO.
 * dst may be NULL to skip the bytes. */
int sf_input_read(struct sf_input *in, void *dst, size_t n, const char *what, struct xerr *err);

/* From here on the logical bytes come out of one zstd frame. */
int sf_input_start_zstd(struct sf_input *in, struct xerr *err);

/* The logical stream is over: for zstd, finish the frame (trailing data inside it is
 * BADTRAILER). Stops hashing: what follows is the trailer. */
int sf_input_end_stream(struct sf_input *in, struct xerr *err);

/* XXH3-128 of the raw bytes hashed so far, canonical (big-endian) form. */
void sf_input_digest(const struct sf_input *in, unsigned char out[SF_HASH_LEN]);
/* Raw bytes hashed so far. */
uint64_t sf_input_hashed(const struct sf_input *in);

#endif
