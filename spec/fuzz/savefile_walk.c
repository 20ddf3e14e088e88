/* spec/fuzz/savefile_walk.c: the reader's whole API on one fuzzed savefile, with its promises
 * checked (see savefile_walk.h), and the two input shapes the savefile targets build. */
#include "savefile_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "savefile/sf_reader.h"

#define NAME "fuzz.sav"

static volatile unsigned sink;

__attribute__((noreturn, format(printf, 1, 2)))
static void broken(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("savefile reader broke a promise: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Read every byte, so ASan sees any that lie outside what the reader owns. */
static void touch(const unsigned char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    sink += s;
}

static const char *const codes[] = {
    "SHORTHEADER", "BADMAGIC", "BYTEORDER", "BADFLAGS", "BADOPTLEN", "BADCONFIGLEN", "NONUL",
    "BADEXT", "LEGACYSTREAM", "BADSTREAM", "TRUNCATED", "RECLEN", "BADRECTYPE", "BADPAGE",
    "BADZSTD", "BADTRAILER", NULL,
};

/* A failed step: a documented code, a message naming the file, and the same error from
 * sf_reader_error (it is sticky). */
static void check_error(const struct sf_reader *r, const struct xerr *e, const char *step)
{
    int known = 0;
    for (int i = 0; codes[i]; i++)
        known |= e->code && strcmp(e->code, codes[i]) == 0;
    if (!known)
        broken("%s failed with code %s: %s", step, e->code ? e->code : "(none)", e->message);
    if (strncmp(e->message, NAME ": ", strlen(NAME ": ")) != 0)
        broken("%s: the message does not start with the file's name: %s", step, e->message);
    const struct xerr *sticky = sf_reader_error(r);
    if (!sticky || strcmp(sticky->code, e->code) != 0 || strcmp(sticky->message, e->message) != 0)
        broken("%s failed with %s, but the sticky error is %s", step, e->code,
               sticky ? sticky->code : "(none)");
}

/* Once failed, every step that needs more of the file fails the same way. */
static void check_sticky(struct sf_reader *r)
{
    const struct xerr *first = sf_reader_error(r);
    struct xerr e = {0};
    struct sf_record rec;
    struct sf_trailer t;
    if (!first)
        return;
    if (sf_reader_next(r, &rec, 1, &e) != -1 || !e.code || strcmp(e.code, first->code) != 0)
        broken("after %s, sf_reader_next gave %s", first->code, e.code ? e.code : "success");
    e.code = NULL;
    if (sf_reader_trailer(r, &t, &e) != -1 || !e.code || strcmp(e.code, first->code) != 0)
        broken("after %s, sf_reader_trailer gave %s", first->code, e.code ? e.code : "success");
}

static void walk_records(struct sf_reader *r, struct walk_result *w)
{
    struct xerr e = {0};
    struct sf_record rec;
    uint64_t last = 0;
    int rc;
    XXH64_state_t *h = XXH64_createState();
    if (!h || XXH64_reset(h, 0) != XXH_OK)
        broken("out of memory");
    while ((rc = sf_reader_next(r, &rec, 1, &e)) > 0) {
        if (!rec.name || !rec.body)
            broken("a %u record at byte %llu has no name or no body", rec.type,
                   (unsigned long long)rec.offset);
        if (rec.offset < last || rec.length > SF_REC_LENGTH_MAX || rec.data_pages > rec.pages)
            broken("record %s at byte %llu: length %u, %u of %u pages (previous at %llu)",
                   rec.name, (unsigned long long)rec.offset, rec.length, rec.data_pages,
                   rec.pages, (unsigned long long)last);
        last = rec.offset;
        touch(rec.body, rec.length);
        touch((const unsigned char *)rec.name, strlen(rec.name));
        uint64_t place[6] = { rec.layer, rec.type, rec.offset, rec.length, rec.pages,
                              rec.data_pages };
        XXH64_update(h, place, sizeof place);
        XXH64_update(h, rec.body, rec.length);
        w->records++;
    }
    w->walked = 1;
    w->digest = XXH64_digest(h);
    XXH64_freeState(h);
    if (rc < 0)
        check_error(r, &e, "sf_reader_next");
}

void walk_savefile(int fd, int bodies, struct walk_result *out)
{
    struct walk_result w = {0};
    struct xerr e = {0};
    struct sf_reader *r = sf_reader_new(fd, NAME, 0, &e);
    if (!r)
        broken("sf_reader_new: %s", e.message);

    const struct sf_header *h;
    if (sf_reader_header(r, &h, &e) < 0)
        check_error(r, &e, "sf_reader_header");

    const struct sf_optdata *o;
    if (sf_reader_optdata(r, &o, &e) == 0) {
        if (o->has_config) {
            touch(o->config, o->config_len);
            if (o->config_json && (o->config_len == 0 || o->config[o->config_len - 1]))
                broken("a JSON config of %u bytes without its NUL", o->config_len);
        }
        for (size_t i = 0; i < o->ext_count; i++)
            touch(o->ext[i].data, o->ext[i].length);
    } else {
        check_error(r, &e, "sf_reader_optdata");
    }

    const struct sf_stream_info *si;
    if (sf_reader_stream(r, &si, &e) < 0)
        check_error(r, &e, "sf_reader_stream");
    else if (si->have_libxc && (si->page_shift < 12 || si->page_shift > 21))
        broken("page shift %u accepted", si->page_shift);

    if (bodies)
        walk_records(r, &w);
    struct sf_summary sum;
    if (sf_reader_summary(r, &sum, &e) < 0) {
        check_error(r, &e, "sf_reader_summary");
    } else {
        if (!sum.complete)
            broken("summary of a stream without its END record");
        if (bodies && sum.record_count != w.records)
            broken("summary counts %llu records, the walk saw %llu",
                   (unsigned long long)sum.record_count, (unsigned long long)w.records);
        w.summary_done = 1;
        w.summary.record_count = sum.record_count;
        w.summary.pages = sum.pages;
        w.summary.data_pages = sum.data_pages;
        w.summary.stream_bytes = sum.stream_bytes;
    }

    struct sf_trailer t;
    int have_trailer = sf_reader_trailer(r, &t, &e) == 0;
    if (!have_trailer)
        check_error(r, &e, "sf_reader_trailer");
    int verified = sf_reader_verify(r, &e) == 0;
    if (have_trailer && verified != (!t.found || t.matches))
        broken("verify says %s, the trailer says found %d, matches %d",
               verified ? "whole" : e.code, t.found, t.matches);
    if (!verified && have_trailer && (strcmp(e.code, "BADTRAILER") != 0 ||
                                      strncmp(e.message, NAME ": ", strlen(NAME ": ")) != 0))
        broken("verify failed with %s on a file whose trailer was read: %s", e.code, e.message);
    if (!verified && !have_trailer)
        check_error(r, &e, "sf_reader_verify");
    check_sticky(r);
    if (have_trailer) {
        w.trailer_done = 1;
        w.trailer_found = t.found;
        w.trailer_matches = t.matches;
    }
    w.sticky = sf_reader_error(r) ? sf_reader_error(r)->code : NULL;
    w.verdict = verified ? NULL : e.code;
    sf_reader_free(r);
    if (out)
        *out = w;
}

static int same_code(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

void same_walk(const struct walk_result *a, const struct walk_result *b, int whole,
               const char *what)
{
    /* By text: one code can be two string literals in two files. */
    if (!same_code(a->sticky, b->sticky))
        broken("%s: %s, but %s", what, a->sticky ? a->sticky : "no error",
               b->sticky ? b->sticky : "no error");
    if (a->walked && b->walked && (a->records != b->records || a->digest != b->digest))
        broken("%s: %llu records, but %llu (or their bytes differ)", what,
               (unsigned long long)a->records, (unsigned long long)b->records);
    if (whole && !same_code(a->verdict, b->verdict))
        broken("%s: verify says %s, but %s", what, a->verdict ? a->verdict : "whole",
               b->verdict ? b->verdict : "whole");
    if (whole && (a->summary_done != b->summary_done || a->trailer_done != b->trailer_done ||
                  memcmp(&a->summary, &b->summary, sizeof a->summary) != 0 ||
                  a->trailer_found != b->trailer_found ||
                  a->trailer_matches != b->trailer_matches))
        broken("%s: the summaries or trailers differ", what);
}

int memfd_with(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.sav", MFD_CLOEXEC);
    size_t off = 0;
    while (fd >= 0 && off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            broken("cannot fill a memfd");
        off += (size_t)w;
    }
    if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0)
        broken("cannot make a memfd");
    return fd;
}

uint8_t *compress_stream_part(const uint8_t *data, size_t size, size_t *out_size,
                              int *had_trailer)
{
    if (size < SF_HEADER_LEN)
        return NULL;
    uint32_t flags = sf_get_host32(data + 36), optlen = sf_get_host32(data + 44);
    if ((flags & SF_FLAG_ZSTD) || optlen > size - SF_HEADER_LEN)
        return NULL;
    size_t prefix = SF_HEADER_LEN + optlen, end = size;
    int trailer = size - prefix >= SF_TRAILER_LEN &&
                  memcmp(data + size - SF_TRAILER_LEN, SF_TRAILER_MAGIC, 8) == 0;
    if (trailer)
        end -= SF_TRAILER_LEN;
    *had_trailer = trailer;
    size_t bound = ZSTD_compressBound(end - prefix);
    uint8_t *out = malloc(prefix + bound + SF_TRAILER_LEN);
    if (!out)
        broken("out of memory");
    memcpy(out, data, prefix);
    sf_put_host32(out + 36, flags | SF_FLAG_ZSTD);
    size_t z = ZSTD_compress(out + prefix, bound, data + prefix, end - prefix, 1);
    if (ZSTD_isError(z))
        broken("ZSTD_compress: %s", ZSTD_getErrorName(z));
    size_t n = prefix + z;
    if (trailer) {
        uint64_t before = n;
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(out, n));
        memcpy(out + n, SF_TRAILER_MAGIC, 8);
        memcpy(out + n + 8, &before, 8);
        memcpy(out + n + 16, c.digest, SF_HASH_LEN);
        n += SF_TRAILER_LEN;
    }
    *out_size = n;
    return out;
}
