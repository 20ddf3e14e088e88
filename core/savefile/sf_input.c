/* core/savefile/sf_input.c: buffered, hashing, optionally inflating reads from a savefile fd.
 * Hashing covers exactly the raw bytes consumed, so bytes buffered past the stream stay out. */
#include "sf_input.h"

#include "base/cancel.h"
#include "base/xxh3_fast.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#define RAW_BUF (128u << 10)

struct sf_input {
    int fd;
    char *name;
    unsigned char *buf;
    size_t pos, len;
    int eof;
    uint64_t raw_off;

    XXH3_state_t *hash;
    int hashing;
    uint64_t hashed;

    ZSTD_DCtx *dctx;
    int inflating, frame_done, out_full;
    unsigned char *zbuf;
    size_t zpos, zlen, zcap;
    uint64_t stream_start;     /* logical offset where inflating began */
    uint64_t inflated;         /* decompressed bytes handed out */
};

struct sf_input *sf_input_new(int fd, const char *name, struct xerr *err)
{
    struct sf_input *in = calloc(1, sizeof *in);
    if (!in) {
        xerr_errno(err, ENOMEM, "%s: cannot allocate a reader", name);
        return NULL;
    }
    in->fd = fd;
    in->name = strdup(name);
    in->buf = malloc(RAW_BUF);
    in->hash = XXH3_createState();
    if (!in->name || !in->buf || !in->hash || XXH3_128bits_reset(in->hash) != XXH_OK) {
        sf_input_free(in);
        xerr_errno(err, ENOMEM, "%s: cannot allocate a reader", name);
        return NULL;
    }
    in->hashing = 1;
    return in;
}

void sf_input_free(struct sf_input *in)
{
    if (!in)
        return;
    free(in->name);
    free(in->buf);
    free(in->zbuf);
    if (in->hash)
        XXH3_freeState(in->hash);
    if (in->dctx)
        ZSTD_freeDCtx(in->dctx);
    free(in);
}

const char *sf_input_name(const struct sf_input *in)
{
    return in->name;
}

uint64_t sf_input_raw_offset(const struct sf_input *in)
{
    return in->raw_off;
}

uint64_t sf_input_offset(const struct sf_input *in)
{
    return in->inflating ? in->stream_start + in->inflated : in->raw_off;
}

int sf_input_inflating(const struct sf_input *in)
{
    return in->inflating;
}

uint64_t sf_input_hashed(const struct sf_input *in)
{
    return in->hashed;
}

void sf_input_digest(const struct sf_input *in, unsigned char out[SF_HASH_LEN])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(in->hash));
    memcpy(out, c.digest, SF_HASH_LEN);
}

/* Bytes available in the raw buffer: >0, 0 at end of file, -1 on a read error. */
static int fill(struct sf_input *in, struct xerr *err)
{
    if (in->pos < in->len)
        return 1;
    if (in->eof)
        return 0;
    ssize_t r;
    do
        r = read(in->fd, in->buf, RAW_BUF);
    while (r < 0 && xcancel_retry(errno));
    if (r < 0)
        return xerr_errno(err, errno, "%s: read failed at byte %llu", in->name,
                          (unsigned long long)in->raw_off);
    if (r == 0) {
        in->eof = 1;
        return 0;
    }
    in->pos = 0;
    in->len = (size_t)r;
    return 1;
}

static void take_raw(struct sf_input *in, size_t n)
{
    if (in->hashing && n) {
        xxh3_update(in->hash, in->buf + in->pos, n);
        in->hashed += n;
    }
    in->pos += n;
    in->raw_off += n;
}

int sf_input_raw(struct sf_input *in, void *dst, size_t n, size_t *got, struct xerr *err)
{
    size_t done = 0;
    while (done < n) {
        if (dst && in->pos == in->len && !in->eof && n - done >= RAW_BUF) {
            /* A large read with the buffer empty goes straight to dst: no copy. */
            ssize_t r = read(in->fd, (unsigned char *)dst + done, n - done);
            if (r < 0 && xcancel_retry(errno))
                continue;
            if (r < 0)
                return xerr_errno(err, errno, "%s: read failed at byte %llu", in->name,
                                  (unsigned long long)in->raw_off);
            if (r == 0) {
                in->eof = 1;
                break;
            }
            if (in->hashing) {
                xxh3_update(in->hash, (unsigned char *)dst + done, (size_t)r);
                in->hashed += (uint64_t)r;
            }
            in->raw_off += (uint64_t)r;
            done += (size_t)r;
            continue;
        }
        int avail = fill(in, err);
        if (avail < 0)
            return -1;
        if (avail == 0)
            break;
        size_t k = in->len - in->pos;
        if (k > n - done)
            k = n - done;
        if (dst)
            memcpy((unsigned char *)dst + done, in->buf + in->pos, k);
        take_raw(in, k);
        done += k;
    }
    *got = done;
    return 0;
}

static int truncated(struct sf_input *in, const char *what, struct xerr *err)
{
    if (!in->inflating)
        return xerr_set(err, "TRUNCATED", "%s: truncated at byte %llu, inside %s", in->name,
                        (unsigned long long)in->raw_off, what);
    return xerr_set(err, "TRUNCATED",
                    "%s: compressed stream ends at byte %llu (byte %llu decompressed), inside %s",
                    in->name, (unsigned long long)in->raw_off,
                    (unsigned long long)sf_input_offset(in), what);
}

/* Refill the decompressed buffer: 1 = bytes there, 0 = the frame is over or the raw input
 * ended (eof_r tells which), -1 = error. */
static int inflate_more(struct sf_input *in, int *eof_r, struct xerr *err)
{
    *eof_r = 0;
    while (!in->frame_done) {
        if (in->pos == in->len && !in->out_full) {
            int avail = fill(in, err);
            if (avail < 0)
                return -1;
            if (avail == 0) {
                *eof_r = 1;
                return 0;
            }
        }
        ZSTD_inBuffer ib = { in->buf + in->pos, in->len - in->pos, 0 };
        ZSTD_outBuffer ob = { in->zbuf, in->zcap, 0 };
        size_t ret = ZSTD_decompressStream(in->dctx, &ob, &ib);
        if (ZSTD_isError(ret))
            return xerr_set(err, "BADZSTD", "%s: zstd decompression failed near byte %llu: %s",
                            in->name, (unsigned long long)(in->raw_off + ib.pos),
                            ZSTD_getErrorName(ret));
        take_raw(in, ib.pos);
        in->out_full = ob.pos == ob.size;
        in->zpos = 0;
        in->zlen = ob.pos;
        if (ret == 0)
            in->frame_done = 1;
        if (ob.pos)
            return 1;
    }
    return 0;
}

int sf_input_read(struct sf_input *in, void *dst, size_t n, const char *what, struct xerr *err)
{
    if (!in->inflating) {
        size_t got;
        if (sf_input_raw(in, dst, n, &got, err) < 0)
            return -1;
        return got == n ? 0 : truncated(in, what, err);
    }
    size_t done = 0;
    while (done < n) {
        if (in->zpos == in->zlen) {
            int eof;
            int r = inflate_more(in, &eof, err);
            if (r < 0)
                return -1;
            if (r == 0)
                return truncated(in, what, err);
        }
        size_t k = in->zlen - in->zpos;
        if (k > n - done)
            k = n - done;
        if (dst)
            memcpy((unsigned char *)dst + done, in->zbuf + in->zpos, k);
        in->zpos += k;
        in->inflated += k;
        done += k;
    }
    return 0;
}

int sf_input_start_zstd(struct sf_input *in, struct xerr *err)
{
    in->zcap = ZSTD_DStreamOutSize();
    in->zbuf = malloc(in->zcap);
    in->dctx = ZSTD_createDCtx();
    if (!in->zbuf || !in->dctx)
        return xerr_errno(err, ENOMEM, "%s: cannot allocate a zstd decoder", in->name);
    in->stream_start = in->raw_off;
    in->inflating = 1;
    return 0;
}

int sf_input_end_stream(struct sf_input *in, struct xerr *err)
{
    if (in->inflating) {
        for (;;) {
            if (in->zpos < in->zlen)
                return xerr_set(err, "BADTRAILER",
                                "%s: data after the libxl END record, at byte %llu of the "
                                "decompressed stream", in->name,
                                (unsigned long long)sf_input_offset(in));
            if (in->frame_done)
                break;
            int eof;
            if (inflate_more(in, &eof, err) < 0)
                return -1;
            if (eof)
                return xerr_set(err, "TRUNCATED",
                                "%s: truncated at byte %llu, inside the zstd frame after the "
                                "libxl END record", in->name, (unsigned long long)in->raw_off);
        }
    }
    in->hashing = 0;
    return 0;
}
