/* core/savefile/sf_reader.c: the reader's life cycle, the xl header and the optional data (config
 * and xlua extension block). Every length is checked against the file before anything is
 * allocated. */
#include "sf_reader_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Optional data on a pipe is read into a buffer that starts this big and doubles. */
#define OPTDATA_STEP (64u << 10)

struct sf_reader *sf_reader_new(int fd, const char *name, int close_fd, struct xerr *err)
{
    struct sf_reader *r = calloc(1, sizeof *r);
    if (!r) {
        xerr_errno(err, ENOMEM, "%s: cannot allocate a reader", name);
        return NULL;
    }
    r->in = sf_input_new(fd, name, err);
    if (!r->in) {
        free(r);
        return NULL;
    }
    r->fd = fd;
    r->close_fd = close_fd;
    return r;
}

void sf_reader_free(struct sf_reader *r)
{
    if (!r)
        return;
    sf_reader_handoff_free(r);
    if (r->close_fd && r->fd >= 0)
        close(r->fd);
    sf_input_free(r->in);
    free(r->optbuf);
    free(r->ext);
    free(r->body);
    free(r);
}

void sf_reader_set_trailer_mode(struct sf_reader *r, enum sf_trailer_mode mode)
{
    r->trailer_mode = mode;
}

int sf_reader_failed(struct sf_reader *r)
{
    r->failed = 1;
    if (!r->err.code)
        r->err.code = "EIO";
    return -1;
}

int sf_reader_report(const struct sf_reader *r, struct xerr *err)
{
    if (err)
        *err = r->err;
    return -1;
}

const struct xerr *sf_reader_error(const struct sf_reader *r)
{
    return r->failed ? &r->err : NULL;
}

uint64_t sf_reader_offset(const struct sf_reader *r)
{
    return sf_input_offset(r->in);
}

uint64_t sf_reader_raw_offset(const struct sf_reader *r)
{
    return sf_input_raw_offset(r->in);
}

const char *sf_reader_name(const struct sf_reader *r)
{
    return sf_input_name(r->in);
}

/* "0x10 (bit 4), 0x100 (bit 8)" for the unknown mandatory flags. */
static void describe_bits(uint32_t bits, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (unsigned b = 0; b < 32 && n < size; b++) {
        if (!(bits & (1u << b)))
            continue;
        int k = snprintf(out + n, size - n, "%sbit %u", n ? ", " : "", b);
        if (k < 0)
            break;
        n += (size_t)k;
    }
}

int sf_reader_read_header(struct sf_reader *r)
{
    if (r->state >= SF_ST_HEADER)
        return 0;
    if (r->failed)
        return -1;
    unsigned char h[SF_HEADER_LEN];
    size_t got;
    if (sf_input_raw(r->in, h, sizeof h, &got, &r->err) < 0)
        return sf_reader_failed(r);
    if (got >= SF_MAGIC_LEN && memcmp(h, SF_MAGIC, SF_MAGIC_LEN) != 0) {
        xerr_set(&r->err, "BADMAGIC", "%s: not an xl savefile (wrong magic at byte 0)",
                 name_of(r));
        return sf_reader_failed(r);
    }
    if (got < sizeof h) {
        if (memcmp(h, SF_MAGIC, got < SF_MAGIC_LEN ? got : SF_MAGIC_LEN) != 0)
            xerr_set(&r->err, "BADMAGIC", "%s: not an xl savefile (%zu bytes, wrong magic)",
                     name_of(r), got);
        else
            xerr_set(&r->err, "SHORTHEADER",
                     "%s: only %zu bytes, shorter than the %d-byte xl savefile header",
                     name_of(r), got, SF_HEADER_LEN);
        return sf_reader_failed(r);
    }
    struct sf_header *hd = &r->header;
    hd->byteorder = sf_get_host32(h + 32);
    hd->mandatory_flags = sf_get_host32(h + 36);
    hd->optional_flags = sf_get_host32(h + 40);
    hd->optional_data_len = sf_get_host32(h + 44);
    if (hd->byteorder == SF_BYTEORDER_SWAPPED) {
        xerr_set(&r->err, "BYTEORDER",
                 "%s: written on a host of the other byte order (byte order mark 0x%08x at "
                 "byte 32)", name_of(r), hd->byteorder);
        return sf_reader_failed(r);
    }
    if (hd->byteorder != SF_BYTEORDER) {
        xerr_set(&r->err, "BYTEORDER", "%s: bad byte order mark 0x%08x at byte 32",
                 name_of(r), hd->byteorder);
        return sf_reader_failed(r);
    }
    uint32_t unknown = hd->mandatory_flags & ~SF_FLAGS_KNOWN;
    if (unknown) {
        char bits[200];
        describe_bits(unknown, bits, sizeof bits);
        xerr_set(&r->err, "BADFLAGS",
                 "%s: unknown mandatory flags 0x%08x (%s) at byte 36; a newer tool wrote it",
                 name_of(r), unknown, bits);
        return sf_reader_failed(r);
    }
    r->state = SF_ST_HEADER;
    return 0;
}

int sf_reader_header(struct sf_reader *r, const struct sf_header **out, struct xerr *err)
{
    if (sf_reader_read_header(r) < 0)
        return sf_reader_report(r, err);
    *out = &r->header;
    return 0;
}

/* Parse the "XLUA" block at p[0..len): count the entries, then allocate and fill. */
static int parse_ext(struct sf_reader *r, const unsigned char *p, uint32_t len, uint64_t at)
{
    if (len < 8 || memcmp(p, SF_EXT_MAGIC, 4) != 0) {
        xerr_set(&r->err, "BADEXT",
                 "%s: %u bytes after the config at byte %llu are not an xlua extension block",
                 name_of(r), len, (unsigned long long)at);
        return sf_reader_failed(r);
    }
    uint32_t version = sf_get_host32(p + 4);
    if (version != SF_EXT_VERSION) {
        xerr_set(&r->err, "BADEXT", "%s: xlua extension block version %u at byte %llu "
                 "(this xlua reads version %u)", name_of(r), version,
                 (unsigned long long)at + 4, SF_EXT_VERSION);
        return sf_reader_failed(r);
    }
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t off = 8;
        size_t i = 0;
        while (off < len) {
            if (len - off < 8) {
                xerr_set(&r->err, "BADEXT", "%s: extension entry header cut at byte %llu",
                         name_of(r), (unsigned long long)(at + off));
                return sf_reader_failed(r);
            }
            uint32_t tag = sf_get_host32(p + off);
            uint32_t elen = sf_get_host32(p + off + 4);
            uint64_t padded = sf_rec_padded(elen);
            if (padded > (uint64_t)len - off - 8) {
                xerr_set(&r->err, "BADEXT", "%s: extension entry (tag %u) at byte %llu "
                         "claims %u bytes, past the end of optional data", name_of(r), tag,
                         (unsigned long long)(at + off), elen);
                return sf_reader_failed(r);
            }
            if (pass == 1) {
                r->ext[i].tag = tag;
                r->ext[i].length = elen;
                r->ext[i].data = p + off + 8;
            }
            i++;
            off += 8 + (uint32_t)padded;
        }
        if (pass == 0) {
            count = i;
            r->ext = calloc(count ? count : 1, sizeof *r->ext);
            if (!r->ext) {
                xerr_errno(&r->err, ENOMEM, "%s: cannot allocate extension entries",
                           name_of(r));
                return sf_reader_failed(r);
            }
        }
    }
    r->opt.has_ext = 1;
    r->opt.ext_version = version;
    r->opt.ext_count = count;
    r->opt.ext = r->ext;
    return 0;
}

int sf_reader_read_optdata(struct sf_reader *r)
{
    if (r->state >= SF_ST_OPTDATA)
        return 0;
    if (r->failed || sf_reader_read_header(r) < 0)
        return -1;
    uint32_t len = r->header.optional_data_len;
    uint64_t at = SF_HEADER_LEN;
    struct stat st;
    if (len > SF_OPTDATA_MAX) {
        xerr_set(&r->err, "BADOPTLEN", "%s: optional data length %u at byte 44 is over the "
                 "%u-byte limit", name_of(r), len, SF_OPTDATA_MAX);
        return sf_reader_failed(r);
    }
    int is_file = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
    if (is_file &&
        (uint64_t)len > (uint64_t)st.st_size - (st.st_size >= SF_HEADER_LEN ? SF_HEADER_LEN : 0)) {
        xerr_set(&r->err, "BADOPTLEN", "%s: optional data length %u at byte 44 is past the "
                 "end of the %lld-byte file", name_of(r), len, (long long)st.st_size);
        return sf_reader_failed(r);
    }
    r->opt.config_json = !!(r->header.mandatory_flags & SF_FLAG_JSON);
    /* On a pipe the length is only a claim: grow the buffer as the bytes arrive, so a lying
     * header costs no memory. A regular file's size was checked above. */
    size_t got = 0, cap = is_file ? len : (len < OPTDATA_STEP ? len : OPTDATA_STEP);
    for (;;) {
        unsigned char *b = realloc(r->optbuf, cap ? cap : 1);
        if (!b) {
            xerr_errno(&r->err, ENOMEM, "%s: cannot allocate %zu bytes of optional data",
                       name_of(r), cap);
            return sf_reader_failed(r);
        }
        r->optbuf = b;
        size_t k;
        if (sf_input_raw(r->in, r->optbuf + got, cap - got, &k, &r->err) < 0)
            return sf_reader_failed(r);
        got += k;
        if (got < cap || cap == len)
            break;
        cap = len - cap < cap ? len : cap * 2;
    }
    if (got < len) {
        xerr_set(&r->err, "BADOPTLEN", "%s: optional data length %u at byte 44 is past the "
                 "end of the file (it ends at byte %llu)", name_of(r), len,
                 (unsigned long long)sf_input_raw_offset(r->in));
        return sf_reader_failed(r);
    }
    const unsigned char *p = r->optbuf;
    if (len > 0) {
        if (len < 4) {
            xerr_set(&r->err, "BADCONFIGLEN", "%s: optional data of %u bytes at byte %llu "
                     "is too short for the config length", name_of(r), len,
                     (unsigned long long)at);
            return sf_reader_failed(r);
        }
        uint32_t clen = sf_get_host32(p);
        if (clen > len - 4) {
            xerr_set(&r->err, "BADCONFIGLEN", "%s: config length %u at byte %llu is past "
                     "the %u bytes of optional data", name_of(r), clen,
                     (unsigned long long)at, len);
            return sf_reader_failed(r);
        }
        if (r->opt.config_json && (clen == 0 || p[4 + clen - 1] != '\0')) {
            xerr_set(&r->err, "NONUL", "%s: the JSON config (%u bytes at byte %llu) does not "
                     "end in a NUL", name_of(r), clen, (unsigned long long)at + 4);
            return sf_reader_failed(r);
        }
        r->opt.has_config = 1;
        r->opt.config_len = clen;
        r->opt.config = p + 4;
        uint32_t rest = len - 4 - clen;
        if (rest && parse_ext(r, p + 4 + clen, rest, at + 4 + clen) < 0)
            return -1;
    }
    r->state = SF_ST_OPTDATA;
    return 0;
}

int sf_reader_optdata(struct sf_reader *r, const struct sf_optdata **out, struct xerr *err)
{
    if (sf_reader_read_optdata(r) < 0)
        return sf_reader_report(r, err);
    *out = &r->opt;
    return 0;
}
