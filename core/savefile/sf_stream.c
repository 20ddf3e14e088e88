/* core/savefile/sf_stream.c: walking the libxl stream v2 and the libxc stream inside it record by
 * record, the running summary, and the xlua trailer after the libxl END record. */
#include "sf_reader_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bodies are read (and their buffer grown) in steps, so a lying length costs no memory. */
#define BODY_STEP (1u << 20)
#define PFN_BATCH 512u

static unsigned long long here(const struct sf_reader *r)
{
    return (unsigned long long)sf_input_offset(r->in);
}

/* Offsets inside a zstd stream count decompressed bytes; say so. */
static const char *dz(const struct sf_reader *r)
{
    return r->sum.compressed ? " (decompressed)" : "";
}

static int read_exact(struct sf_reader *r, void *dst, size_t n, const char *what)
{
    if (sf_input_read(r->in, dst, n, what, &r->err) < 0)
        return sf_reader_failed(r);
    return 0;
}

static int begin_stream(struct sf_reader *r)
{
    if (r->state >= SF_ST_LIBXL)
        return 0;
    if (r->failed || sf_reader_read_optdata(r) < 0)
        return -1;
    r->stream_start = sf_input_raw_offset(r->in);
    if (!(r->header.mandatory_flags & SF_FLAG_STREAMV2)) {
        xerr_set(&r->err, "LEGACYSTREAM", "%s: no STREAMv2 flag: the stream at byte %llu is "
                 "in the legacy (Xen < 4.6) format, which xlua cannot walk", name_of(r),
                 (unsigned long long)r->stream_start);
        return sf_reader_failed(r);
    }
    if (r->header.mandatory_flags & SF_FLAG_ZSTD) {
        if (sf_input_start_zstd(r->in, &r->err) < 0)
            return sf_reader_failed(r);
        r->sum.compressed = 1;
    }
    unsigned char h[SF_LIBXL_HEADER_LEN];
    char what[96];
    unsigned long long at = here(r);
    snprintf(what, sizeof what, "the libxl stream header at byte %llu%s", at, dz(r));
    if (read_exact(r, h, sizeof h, what) < 0)
        return -1;
    if (memcmp(h, SF_LIBXL_IDENT, 8) != 0) {
        xerr_set(&r->err, "BADSTREAM", "%s: no libxl stream header at byte %llu%s "
                 "(\"LibxlFmt\" expected)", name_of(r), at, dz(r));
        return sf_reader_failed(r);
    }
    uint32_t version = sf_get32(h + 8, 1);
    if (version != SF_LIBXL_VERSION) {
        xerr_set(&r->err, "BADSTREAM", "%s: libxl stream version %u at byte %llu%s "
                 "(version %u expected)", name_of(r), version, at + 8, dz(r),
                 SF_LIBXL_VERSION);
        return sf_reader_failed(r);
    }
    r->info.libxl_version = version;
    r->info.libxl_options = sf_get32(h + 12, 1);
    r->info.libxl_big_endian = !!(r->info.libxl_options & SF_LIBXL_OPT_BIG_ENDIAN);
    r->state = SF_ST_LIBXL;
    return 0;
}

static int read_libxc_headers(struct sf_reader *r)
{
    unsigned char ih[SF_LIBXC_IHDR_LEN], dh[SF_LIBXC_DHDR_LEN];
    char what[96];
    unsigned long long at = here(r);
    snprintf(what, sizeof what, "the libxc image header at byte %llu%s", at, dz(r));
    if (read_exact(r, ih, sizeof ih, what) < 0)
        return -1;
    uint64_t marker = sf_get64(ih, 1);
    uint32_t id = sf_get32(ih + 8, 1), version = sf_get32(ih + 12, 1);
    if (marker != SF_LIBXC_MARKER || id != SF_LIBXC_ID) {
        xerr_set(&r->err, "BADSTREAM", "%s: no libxc image header at byte %llu%s (marker "
                 "0x%016llx, id 0x%08x)", name_of(r), at, dz(r), (unsigned long long)marker,
                 id);
        return sf_reader_failed(r);
    }
    if (version != 2 && version != 3) {
        xerr_set(&r->err, "BADSTREAM", "%s: libxc stream version %u at byte %llu%s "
                 "(2 or 3 expected)", name_of(r), version, at + 12, dz(r));
        return sf_reader_failed(r);
    }
    uint16_t options = sf_get16(ih + 16, 1);
    int big = !!(options & SF_LIBXC_OPT_BIG_ENDIAN);
    at = here(r);
    snprintf(what, sizeof what, "the libxc domain header at byte %llu%s", at, dz(r));
    if (read_exact(r, dh, sizeof dh, what) < 0)
        return -1;
    uint16_t page_shift = sf_get16(dh + 4, big);
    if (page_shift < 12 || page_shift > 21) {
        xerr_set(&r->err, "BADSTREAM", "%s: page shift %u in the libxc domain header at "
                 "byte %llu%s (12 to 21 expected)", name_of(r), page_shift, at + 4, dz(r));
        return sf_reader_failed(r);
    }
    struct sf_stream_info *i = &r->info;
    i->have_libxc = 1;
    i->libxc_version = version;
    i->libxc_options = options;
    i->libxc_big_endian = big;
    i->domain_type = sf_get32(dh, big);
    i->page_shift = page_shift;
    i->xen_major = sf_get32(dh + 8, big);
    i->xen_minor = sf_get32(dh + 12, big);
    r->libxc_need_headers = 0;
    return 0;
}

static int read_rec_header(struct sf_reader *r, enum sf_layer layer,
                           unsigned char h[SF_REC_HEADER_LEN], uint64_t *offset)
{
    if (r->pending) {
        memcpy(h, r->pending_hdr, SF_REC_HEADER_LEN);
        *offset = r->pending_offset;
        r->pending = 0;
        return 0;
    }
    char what[96];
    *offset = sf_input_offset(r->in);
    snprintf(what, sizeof what, "a %s record header at byte %llu%s", sf_layer_name(layer),
             (unsigned long long)*offset, dz(r));
    return read_exact(r, h, SF_REC_HEADER_LEN, what);
}

static int body_reserve(struct sf_reader *r, size_t need)
{
    if (need <= r->body_cap)
        return 0;
    size_t cap = r->body_cap ? r->body_cap : 65536;
    while (cap < need)
        cap *= 2;
    unsigned char *b = realloc(r->body, cap);
    if (!b) {
        xerr_errno(&r->err, ENOMEM, "%s: cannot allocate %zu bytes for a record body",
                   name_of(r), cap);
        return sf_reader_failed(r);
    }
    r->body = b;
    r->body_cap = cap;
    return 0;
}

/* Read n body bytes at body offset off: kept in r->body, else into scratch, else skipped.
 * *out points at them (NULL when skipped). */
static int body_part(struct sf_reader *r, size_t off, size_t n, int keep, void *scratch,
                     const char *what, const unsigned char **out)
{
    if (!keep) {
        *out = scratch;
        return read_exact(r, scratch, n, what);
    }
    size_t start = off;
    if (body_reserve(r, 1) < 0)
        return -1;
    while (n > 0) {
        size_t k = n < BODY_STEP ? n : BODY_STEP;
        if (body_reserve(r, off + k) < 0 || read_exact(r, r->body + off, k, what) < 0)
            return -1;
        off += k;
        n -= k;
    }
    *out = r->body + start;
    return 0;
}

static int page_data(struct sf_reader *r, struct sf_record *rec, int keep, const char *what)
{
    int big = r->info.libxc_big_endian;
    uint32_t len = rec->length;
    unsigned long long at = (unsigned long long)rec->offset;
    const unsigned char *p;
    unsigned char scratch[PFN_BATCH * 8];
    if (len < SF_PAGE_DATA_HEADER_LEN) {
        xerr_set(&r->err, "RECLEN", "%s: the PAGE_DATA record at byte %llu%s is %u bytes, too "
                 "short for its count", name_of(r), at, dz(r), len);
        return sf_reader_failed(r);
    }
    if (body_part(r, 0, SF_PAGE_DATA_HEADER_LEN, keep, scratch, what, &p) < 0)
        return -1;
    uint32_t count = sf_get32(p, big);
    if (count == 0 || SF_PAGE_DATA_HEADER_LEN + (uint64_t)count * 8 > len) {
        xerr_set(&r->err, "RECLEN", "%s: the PAGE_DATA record at byte %llu%s counts %u pfns, "
                 "which do not fit its %u bytes", name_of(r), at, dz(r), count, len);
        return sf_reader_failed(r);
    }
    uint64_t data_pages = 0;
    size_t off = SF_PAGE_DATA_HEADER_LEN;
    for (uint32_t done = 0; done < count;) {
        uint32_t n = count - done < PFN_BATCH ? count - done : PFN_BATCH;
        if (body_part(r, off, (size_t)n * 8, keep, scratch, what, &p) < 0)
            return -1;
        for (uint32_t i = 0; i < n; i++) {
            unsigned type = (unsigned)(sf_get64(p + 8 * i, big) >> SF_PFN_TYPE_SHIFT);
            if (!sf_page_type_known(type)) {
                xerr_set(&r->err, "BADPAGE", "%s: pfn entry %u of the PAGE_DATA record at "
                         "byte %llu%s has the reserved page type %u", name_of(r), done + i,
                         at, dz(r), type);
                return sf_reader_failed(r);
            }
            data_pages += sf_page_type_has_data(type);
        }
        off += (size_t)n * 8;
        done += n;
    }
    uint64_t page_size = (uint64_t)1 << r->info.page_shift;
    uint64_t expected = SF_PAGE_DATA_HEADER_LEN + (uint64_t)count * 8 + data_pages * page_size;
    if (expected != len) {
        xerr_set(&r->err, "RECLEN", "%s: the PAGE_DATA record at byte %llu%s is %u bytes, but "
                 "%u pfns with %llu pages of data make %llu", name_of(r), at, dz(r), len,
                 count, (unsigned long long)data_pages, (unsigned long long)expected);
        return sf_reader_failed(r);
    }
    if (body_part(r, off, len - off, keep, NULL, what, &p) < 0)
        return -1;
    rec->pages = count;
    rec->data_pages = (uint32_t)data_pages;
    r->sum.pages += count;
    r->sum.data_pages += data_pages;
    return 0;
}

static void count_record(struct sf_reader *r, enum sf_layer layer, uint32_t type)
{
    struct sf_summary *s = &r->sum;
    if (type & SF_REC_OPTIONAL)
        *(layer == SF_LAYER_LIBXL ? &s->libxl_optional : &s->libxc_optional) += 1;
    else if (layer == SF_LAYER_LIBXL)
        s->libxl_counts[type]++;
    else
        s->libxc_counts[type]++;
    s->record_count++;
    s->stream_bytes = sf_input_offset(r->in) - r->stream_start;
}

static int close_stream(struct sf_reader *r)
{
    if (sf_input_end_stream(r->in, &r->err) < 0)
        return sf_reader_failed(r);
    r->raw_stream_end = sf_input_raw_offset(r->in);
    r->state = SF_ST_DONE;
    return 0;
}

static int walk_next(struct sf_reader *r, struct sf_record *rec, int want_body)
{
    if (begin_stream(r) < 0 || r->failed)
        return -1;
    if (r->state == SF_ST_DONE)
        return 0;
    if (r->state == SF_ST_END)
        return close_stream(r) < 0 ? -1 : 0;
    if (r->state == SF_ST_LIBXC && r->libxc_need_headers && read_libxc_headers(r) < 0)
        return -1;
    enum sf_layer layer = r->state == SF_ST_LIBXC ? SF_LAYER_LIBXC : SF_LAYER_LIBXL;
    int big = layer == SF_LAYER_LIBXC ? r->info.libxc_big_endian : r->info.libxl_big_endian;
    unsigned char h[SF_REC_HEADER_LEN];
    uint64_t offset;
    if (read_rec_header(r, layer, h, &offset) < 0)
        return -1;
    memset(rec, 0, sizeof *rec);
    rec->layer = layer;
    rec->type = sf_get32(h, big);
    rec->length = sf_get32(h + 4, big);
    rec->offset = offset;
    unsigned long long at = (unsigned long long)offset;
    const char *name = sf_record_name(layer, rec->type);
    if (!name) {
        xerr_set(&r->err, "BADRECTYPE", "%s: unknown %s record type %u (0x%08x) at byte %llu%s",
                 name_of(r), sf_layer_name(layer), rec->type, rec->type, at, dz(r));
        return sf_reader_failed(r);
    }
    if (rec->length > SF_REC_LENGTH_MAX) {
        xerr_set(&r->err, "RECLEN", "%s: the %s %s record at byte %llu%s claims %u bytes "
                 "(the limit is %u)", name_of(r), sf_layer_name(layer), name, at, dz(r),
                 rec->length, SF_REC_LENGTH_MAX);
        return sf_reader_failed(r);
    }
    rec->name = name;
    char what[112];
    snprintf(what, sizeof what, "the %s %s record at byte %llu%s", sf_layer_name(layer), name,
             at, dz(r));
    const unsigned char *p;
    if (layer == SF_LAYER_LIBXC && rec->type == SF_LIBXC_PAGE_DATA) {
        if (page_data(r, rec, want_body, what) < 0)
            return -1;
    } else if (body_part(r, 0, rec->length, want_body, NULL, what, &p) < 0) {
        return -1;
    }
    if (read_exact(r, NULL, sf_rec_padded(rec->length) - rec->length, what) < 0)
        return -1;
    if (want_body)
        rec->body = r->body ? r->body : (const unsigned char *)"";
    count_record(r, layer, rec->type);
    if (layer == SF_LAYER_LIBXL && rec->type == SF_LIBXL_LIBXC_CONTEXT) {
        r->state = SF_ST_LIBXC;
        r->libxc_need_headers = !r->info.have_libxc || !r->libxc_prefetched;
        r->libxc_prefetched = 0;
    } else if (layer == SF_LAYER_LIBXC && rec->type == SF_LIBXC_END) {
        r->state = SF_ST_LIBXL;
    } else if (layer == SF_LAYER_LIBXL && rec->type == SF_LIBXL_END) {
        r->state = SF_ST_END;
        r->sum.complete = 1;
    }
    return 1;
}

int sf_reader_next(struct sf_reader *r, struct sf_record *rec, int want_body,
                   struct xerr *err)
{
    int rc = walk_next(r, rec, want_body);
    return rc < 0 ? sf_reader_report(r, err) : rc;
}

int sf_reader_stream(struct sf_reader *r, const struct sf_stream_info **out,
                     struct xerr *err)
{
    if (begin_stream(r) < 0)
        return sf_reader_report(r, err);
    /* libxl writes LIBXC_CONTEXT first: look ahead so the stream info is complete. */
    if (!r->failed && r->state == SF_ST_LIBXL && r->sum.record_count == 0 && !r->pending &&
        !r->info.have_libxc) {
        if (read_rec_header(r, SF_LAYER_LIBXL, r->pending_hdr, &r->pending_offset) < 0)
            return sf_reader_report(r, err);
        r->pending = 1;
        int big = r->info.libxl_big_endian;
        if (sf_get32(r->pending_hdr, big) == SF_LIBXL_LIBXC_CONTEXT &&
            sf_get32(r->pending_hdr + 4, big) == 0) {
            if (read_libxc_headers(r) < 0)
                return sf_reader_report(r, err);
            r->libxc_prefetched = 1;
        }
    }
    *out = &r->info;
    return 0;
}

static int walk_rest(struct sf_reader *r)
{
    struct sf_record rec;
    int rc;
    while ((rc = walk_next(r, &rec, 0)) > 0)
        ;
    return rc;
}

int sf_reader_summary(struct sf_reader *r, struct sf_summary *out, struct xerr *err)
{
    if (walk_rest(r) < 0)
        return sf_reader_report(r, err);
    *out = r->sum;
    out->raw_stream_bytes = r->raw_stream_end - r->stream_start;
    return 0;
}

static int read_trailer(struct sf_reader *r)
{
    if (r->trailer_done)
        return 0;
    if (walk_rest(r) < 0)
        return -1;
    struct sf_trailer *t = &r->trailer;
    unsigned char b[SF_TRAILER_LEN + 1];
    size_t got;
    unsigned long long at = (unsigned long long)sf_input_raw_offset(r->in);
    t->computed_length = sf_input_hashed(r->in);
    sf_input_digest(r->in, t->computed);
    if (r->trailer_mode == SF_TRAILER_NONE) {
        r->trailer_done = 1;
        return 0;
    }
    /* A file is read to its end (nothing may follow the trailer); a migration stream only up
     * to the trailer's last byte, since the peer's next message comes after it. */
    size_t want = r->trailer_mode == SF_TRAILER_REQUIRED ? SF_TRAILER_LEN : sizeof b;
    if (sf_input_raw(r->in, b, want, &got, &r->err) < 0)
        return sf_reader_failed(r);
    if (got == 0 && r->trailer_mode == SF_TRAILER_REQUIRED) {
        xerr_set(&r->err, "BADTRAILER", "%s: no trailer after the stream's END record at byte "
                 "%llu", name_of(r), at);
        return sf_reader_failed(r);
    }
    if (got > 0) {
        size_t m = got < 8 ? got : 8;
        if (memcmp(b, SF_TRAILER_MAGIC, m) != 0) {
            xerr_set(&r->err, "BADTRAILER", "%s: unexpected bytes after the stream's END "
                     "record at byte %llu (not an xlua trailer)", name_of(r), at);
            return sf_reader_failed(r);
        }
        if (got < SF_TRAILER_LEN) {
            xerr_set(&r->err, "BADTRAILER", "%s: partial trailer at byte %llu: %zu of %d "
                     "bytes", name_of(r), at, got, SF_TRAILER_LEN);
            return sf_reader_failed(r);
        }
        if (got > SF_TRAILER_LEN) {
            xerr_set(&r->err, "BADTRAILER", "%s: bytes after the trailer, at byte %llu",
                     name_of(r), at + SF_TRAILER_LEN);
            return sf_reader_failed(r);
        }
        t->found = 1;
        memcpy(&t->length, b + 8, 8);
        memcpy(t->hash, b + 16, SF_HASH_LEN);
        t->length_matches = t->length == t->computed_length;
        t->hash_matches = memcmp(t->hash, t->computed, SF_HASH_LEN) == 0;
        t->matches = t->length_matches && t->hash_matches;
    }
    r->trailer_done = 1;
    return 0;
}

int sf_reader_trailer(struct sf_reader *r, struct sf_trailer *out, struct xerr *err)
{
    if (read_trailer(r) < 0)
        return sf_reader_report(r, err);
    *out = r->trailer;
    return 0;
}

int sf_reader_verify(struct sf_reader *r, struct xerr *err)
{
    if (read_trailer(r) < 0)
        return sf_reader_report(r, err);
    const struct sf_trailer *t = &r->trailer;
    if (!t->found || t->matches)
        return 0;
    if (!t->length_matches)
        return xerr_set(err, "BADTRAILER", "%s: the trailer records %llu bytes before it, "
                        "but there are %llu", name_of(r), (unsigned long long)t->length,
                        (unsigned long long)t->computed_length);
    return xerr_set(err, "BADTRAILER", "%s: the XXH3-128 hash in the trailer at byte %llu does "
                    "not match the file's bytes", name_of(r),
                    (unsigned long long)t->computed_length);
}
