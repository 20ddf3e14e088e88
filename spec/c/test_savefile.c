/* spec/c/test_savefile.c: the savefile codec in C: pinned xl header bytes, round trips through
 * pipes (plain and zstd), and a clean, coded error for every kind of damage and every cut. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "savefile/sf_format.h"
#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#include "check.h"

/* A growable byte buffer. */
struct buf {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* An fd holding bytes as a regular (memory) file, at offset 0. */
static int memfile(const unsigned char *p, size_t n)
{
    int fd = memfd_create("sf-test", MFD_CLOEXEC);
    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    return fd;
}

static struct buf slurp_fd(int fd)
{
    struct buf b = { 0 };
    unsigned char tmp[65536];
    ssize_t r;
    lseek(fd, 0, SEEK_SET);
    while ((r = read(fd, tmp, sizeof tmp)) > 0)
        put(&b, tmp, (size_t)r);
    return b;
}

/* The read end of a pipe that a child process fills with bytes. */
static int pipe_with(const unsigned char *p, size_t n, pid_t *child)
{
    int fds[2];
    if (pipe(fds) < 0)
        abort();
    *child = fork();
    if (*child == 0) {
        close(fds[0]);
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fds[1], p + off, n - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

static void reap(pid_t child)
{
    int status;
    waitpid(child, &status, 0);
}

/* ---- a synthetic savefile ---- */

#define NPAGES 5
static const char CONFIG[] = "{\n    \"c_info\": { \"type\": \"pv\", \"name\": \"guest1\" }\n}";
static const char SOURCE[] = "name = \"guest1\"\nmemory = 128\n";

struct spec {
    int zstd;
    int trailer;
    int json;
};

static void page_fill(unsigned char *p, uint64_t pfn)
{
    for (int i = 0; i < 4096; i++)
        p[i] = (unsigned char)(pfn * 31 + (uint64_t)i * 7);
}

/* A PAGE_DATA body: pfns first..first+n-1 with data, then one XTAB entry. */
static struct buf page_data_body(uint64_t first, uint32_t n)
{
    struct buf b = { 0 };
    unsigned char u[8];
    sf_put32(u, n + 1, sf_host_big_endian());
    sf_put32(u + 4, 0, sf_host_big_endian());
    put(&b, u, 8);
    for (uint32_t i = 0; i < n; i++) {
        sf_put64(u, first + i, sf_host_big_endian());
        put(&b, u, 8);
    }
    sf_put64(u, (uint64_t)SF_PAGE_XTAB << SF_PFN_TYPE_SHIFT | 0x1000, sf_host_big_endian());
    put(&b, u, 8);
    unsigned char page[4096];
    for (uint32_t i = 0; i < n; i++) {
        page_fill(page, first + i);
        put(&b, page, sizeof page);
    }
    return b;
}

/* Writes the synthetic file to fd; returns 0 or the failing call's error. */
static int write_file(int fd, const struct spec *s, struct xerr *e)
{
    struct sf_writer *w = sf_writer_new(fd, "test.sav", e);
    if (!w)
        return -1;
    struct sf_ext_entry ext[] = {
        { SF_EXT_SOURCE, sizeof SOURCE - 1, (const unsigned char *)SOURCE },
        { SF_EXT_SOURCE_FORMAT, 2, (const unsigned char *)"xl" },
        { 77, 6, (const unsigned char *)"future" },
    };
    struct sf_write_options o = {
        .config = CONFIG, .config_len = sizeof CONFIG - 1, .json = s->json, .streamv2 = 1,
        .zstd = s->zstd, .ext = ext, .ext_count = 3,
    };
    unsigned char pv_info[8] = { 8, 4 };
    unsigned char shared[4096];
    memset(shared, 2, sizeof shared);
    struct buf pd1 = page_data_body(0, 3), pd2 = page_data_body(3, 2);
    int rc = sf_writer_header(w, &o, e);
    rc = rc ? rc : sf_writer_libxl_header(w, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXL_LIBXC_CONTEXT, NULL, 0, e);
    rc = rc ? rc : sf_writer_libxc_headers(w, 3, SF_DOMAIN_X86_PV, 12, 4, 17, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXC_X86_PV_INFO, pv_info, sizeof pv_info, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXC_STATIC_DATA_END, NULL, 0, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXC_PAGE_DATA, pd1.p, pd1.n, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXC_PAGE_DATA, pd2.p, pd2.n, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXC_SHARED_INFO, shared, sizeof shared, e);
    rc = rc ? rc : sf_writer_record(w, SF_REC_OPTIONAL | 5, "opt", 3, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXC_END, NULL, 0, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXL_EMULATOR_XENSTORE_DATA, "\0\0\0\0\0\0\0\0k\0v", 11, e);
    rc = rc ? rc : sf_writer_record(w, SF_LIBXL_END, NULL, 0, e);
    uint64_t total = 0;
    rc = rc ? rc : sf_writer_finish(w, s->trailer, &total, e);
    if (!rc && total != sf_writer_bytes(w))
        rc = -1;
    sf_writer_free(w);
    free(pd1.p);
    free(pd2.p);
    return rc;
}

static struct buf make_file(const struct spec *s)
{
    int fd = memfd_create("sf-out", MFD_CLOEXEC);
    struct xerr e = { 0 };
    if (fd < 0 || write_file(fd, s, &e) < 0) {
        fprintf(stderr, "cannot write the test file: %s\n", e.message);
        exit(1);
    }
    struct buf b = slurp_fd(fd);
    close(fd);
    return b;
}

/* Byte offsets of the parts, for the uncompressed layout. */
static size_t optdata_len(void)
{
    size_t ext = 8 + (8 + 32) + (8 + 8) + (8 + 8);   /* SOURCE is 29 bytes, padded to 32 */
    return 4 + sizeof CONFIG + ext;
}

/* ---- tests ---- */

static void test_names(void)
{
    CHECK(streq(sf_record_name(SF_LAYER_LIBXC, 1), "PAGE_DATA"));
    CHECK(streq(sf_record_name(SF_LAYER_LIBXC, 18), "X86_MSR_POLICY"));
    CHECK(sf_record_name(SF_LAYER_LIBXC, 19) == NULL);
    CHECK(streq(sf_record_name(SF_LAYER_LIBXL, 5), "CHECKPOINT_STATE"));
    CHECK(sf_record_name(SF_LAYER_LIBXL, 6) == NULL);
    CHECK(streq(sf_record_name(SF_LAYER_LIBXL, 0x80000001u), "OPTIONAL"));
    CHECK(streq(sf_domain_type_name(2), "x86 HVM"));
    CHECK(sf_page_type_known(0) && sf_page_type_known(4) && !sf_page_type_known(5) &&
          !sf_page_type_known(8) && sf_page_type_known(9) && sf_page_type_known(15));
    CHECK(sf_rec_padded(0) == 0 && sf_rec_padded(1) == 8 && sf_rec_padded(8) == 8 &&
          sf_rec_padded(0xFFFFFFF8u) == 0xFFFFFFF8u);
    /* 64-bit: a length near 4 GiB pads past 2^32 instead of wrapping to 0 */
    CHECK(sf_rec_padded(0xFFFFFFF9u) == UINT64_C(0x100000000) &&
          sf_rec_padded(0xFFFFFFFFu) == UINT64_C(0x100000000));
}

/* What xl 4.17 writes: mandatory 3, optional 0, optional_data_len 862, config_len 858. */
static void test_xl_header_bytes(void)
{
    static const unsigned char want[52] = {
        0x58, 0x65, 0x6e, 0x20, 0x73, 0x61, 0x76, 0x65, 0x64, 0x20, 0x64, 0x6f, 0x6d, 0x61,
        0x69, 0x6e, 0x2c, 0x20, 0x78, 0x6c, 0x20, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74, 0x0a,
        0x20, 0x00, 0x20, 0x0d, 0x04, 0x03, 0x02, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x5e, 0x03, 0x00, 0x00, 0x5a, 0x03, 0x00, 0x00,
    };
    char config[857];
    memset(config, 'x', sizeof config);
    int fd = memfd_create("sf-hdr", MFD_CLOEXEC);
    struct xerr e = { 0 };
    struct sf_writer *w = sf_writer_new(fd, "hdr", &e);
    struct sf_write_options o = { .config = config, .config_len = sizeof config, .json = 1,
                                  .streamv2 = 1 };
    CHECK(w && sf_writer_header(w, &o, &e) == 0 && sf_writer_finish(w, 0, NULL, &e) == 0);
    sf_writer_free(w);
    struct buf b = slurp_fd(fd);
    close(fd);
    CHECK(b.n == 48 + 862);
    if (sf_host_big_endian())
        fprintf(stderr, "note: big-endian host, pinned bytes skipped\n");
    else
        CHECK(b.n >= sizeof want && memcmp(b.p, want, sizeof want) == 0);
    CHECK(memcmp(b.p, SF_MAGIC, SF_MAGIC_LEN) == 0);
    CHECK(b.p[48 + 4 + 857] == 0);
    free(b.p);
}

/* Read everything back from fd and check every field. */
static void read_back(int fd, const struct spec *s, size_t file_len)
{
    struct xerr e = { 0 };
    struct sf_reader *r = sf_reader_new(fd, "back.sav", 0, &e);
    CHECK(r != NULL);
    if (!r)
        return;
    const struct sf_header *h;
    CHECK(sf_reader_header(r, &h, &e) == 0);
    uint32_t flags = SF_FLAG_STREAMV2 | (s->json ? SF_FLAG_JSON : 0) | (s->zstd ? SF_FLAG_ZSTD : 0);
    CHECKM(h->mandatory_flags == flags, "flags 0x%x", h->mandatory_flags);
    CHECK(h->byteorder == SF_BYTEORDER && h->optional_flags == 0);
    size_t want_opt = optdata_len() - (s->json ? 0 : 1);
    CHECKM(h->optional_data_len == want_opt, "%u vs %zu", h->optional_data_len, want_opt);

    const struct sf_optdata *o;
    CHECK(sf_reader_optdata(r, &o, &e) == 0);
    CHECK(o->has_config && o->config_json == s->json);
    CHECK(o->config_len == sizeof CONFIG - (s->json ? 0 : 1));
    CHECK(memcmp(o->config, CONFIG, sizeof CONFIG - 1) == 0);
    CHECK(o->has_ext && o->ext_version == 1 && o->ext_count == 3);
    CHECK(o->ext[0].tag == SF_EXT_SOURCE && o->ext[0].length == sizeof SOURCE - 1 &&
          memcmp(o->ext[0].data, SOURCE, sizeof SOURCE - 1) == 0);
    CHECK(o->ext[1].tag == SF_EXT_SOURCE_FORMAT && o->ext[1].length == 2 &&
          memcmp(o->ext[1].data, "xl", 2) == 0);
    CHECK(o->ext[2].tag == 77 && o->ext[2].length == 6 && sf_ext_tag_name(77) == NULL);

    const struct sf_stream_info *si;
    CHECK(sf_reader_stream(r, &si, &e) == 0);
    CHECK(si->libxl_version == 2 && si->have_libxc && si->libxc_version == 3);
    CHECK(si->domain_type == SF_DOMAIN_X86_PV && si->page_shift == 12);
    CHECK(si->xen_major == 4 && si->xen_minor == 17);
    CHECK(si->libxl_big_endian == sf_host_big_endian());

    static const struct { enum sf_layer layer; uint32_t type; uint32_t len; } want[] = {
        { SF_LAYER_LIBXL, 1, 0 }, { SF_LAYER_LIBXC, 2, 8 }, { SF_LAYER_LIBXC, 16, 0 },
        { SF_LAYER_LIBXC, 1, 8 + 4 * 8 + 3 * 4096 }, { SF_LAYER_LIBXC, 1, 8 + 3 * 8 + 2 * 4096 },
        { SF_LAYER_LIBXC, 7, 4096 }, { SF_LAYER_LIBXC, SF_REC_OPTIONAL | 5, 3 },
        { SF_LAYER_LIBXC, 0, 0 }, { SF_LAYER_LIBXL, 2, 11 }, { SF_LAYER_LIBXL, 0, 0 },
    };
    size_t nwant = sizeof want / sizeof want[0];
    struct sf_record rec;
    size_t i = 0;
    uint64_t stream_start = 48 + want_opt, expect_off = stream_start + 16;
    int rc;
    while ((rc = sf_reader_next(r, &rec, 1, &e)) == 1) {
        if (i < nwant) {
            CHECKM(rec.layer == want[i].layer && rec.type == want[i].type &&
                   rec.length == want[i].len, "record %zu: %s %u len %u", i,
                   sf_layer_name(rec.layer), rec.type, rec.length);
            CHECKM(rec.offset == expect_off, "record %zu at %llu, expected %llu", i,
                   (unsigned long long)rec.offset, (unsigned long long)expect_off);
        }
        CHECK(rec.name != NULL && rec.body != NULL);
        if (rec.layer == SF_LAYER_LIBXC && rec.type == SF_LIBXC_PAGE_DATA) {
            uint32_t first = i == 3 ? 0 : 3, n = i == 3 ? 3 : 2;
            CHECK(rec.pages == n + 1 && rec.data_pages == n);
            unsigned char page[4096];
            page_fill(page, first + n - 1);
            size_t at = 8 + (size_t)(n + 1) * 8 + (size_t)(n - 1) * 4096;
            CHECK(memcmp(rec.body + at, page, 4096) == 0);
        }
        if (rec.type == SF_LIBXL_EMULATOR_XENSTORE_DATA && rec.layer == SF_LAYER_LIBXL)
            CHECK(memcmp(rec.body + 8, "k\0v", 3) == 0);
        expect_off += 8 + sf_rec_padded(rec.length);
        if (rec.layer == SF_LAYER_LIBXL && rec.type == SF_LIBXL_LIBXC_CONTEXT)
            expect_off += 24 + 16;
        i++;
    }
    CHECKM(rc == 0, "next: %s", e.message);
    CHECK(i == nwant);
    CHECK(sf_reader_next(r, &rec, 0, &e) == 0);  /* stays at the end */

    struct sf_summary sum;
    CHECK(sf_reader_summary(r, &sum, &e) == 0);
    CHECK(sum.libxl_counts[SF_LIBXL_END] == 1 && sum.libxl_counts[SF_LIBXL_LIBXC_CONTEXT] == 1);
    CHECK(sum.libxl_counts[SF_LIBXL_EMULATOR_XENSTORE_DATA] == 1);
    CHECK(sum.libxc_counts[SF_LIBXC_PAGE_DATA] == 2 && sum.libxc_counts[SF_LIBXC_END] == 1);
    CHECK(sum.libxc_optional == 1 && sum.libxl_optional == 0);
    CHECK(sum.record_count == nwant);
    CHECK(sum.pages == 7 && sum.data_pages == 5);
    CHECKM(sum.stream_bytes == expect_off - stream_start, "stream bytes %llu",
           (unsigned long long)sum.stream_bytes);
    CHECK(sum.compressed == s->zstd && sum.complete);
    size_t raw_stream = file_len - stream_start - (s->trailer ? SF_TRAILER_LEN : 0);
    CHECK(sum.raw_stream_bytes == raw_stream);
    if (s->zstd)
        CHECK(sum.raw_stream_bytes < sum.stream_bytes);

    struct sf_trailer t;
    CHECK(sf_reader_trailer(r, &t, &e) == 0);
    CHECK(t.found == s->trailer);
    CHECK(t.computed_length == file_len - (s->trailer ? SF_TRAILER_LEN : 0));
    if (s->trailer)
        CHECK(t.matches && t.length == t.computed_length &&
              memcmp(t.hash, t.computed, SF_HASH_LEN) == 0);
    CHECK(sf_reader_verify(r, &e) == 0);
    CHECK(sf_reader_raw_offset(r) == file_len);
    CHECK(sf_reader_error(r) == NULL);
    sf_reader_free(r);
}

static void test_round_trip(int zstd, int trailer, int json)
{
    struct spec s = { zstd, trailer, json };
    struct buf b = make_file(&s);
    pid_t child;
    int fd = pipe_with(b.p, b.n, &child);
    read_back(fd, &s, b.n);
    close(fd);
    reap(child);
    fd = memfile(b.p, b.n);
    read_back(fd, &s, b.n);
    close(fd);
    free(b.p);
}

/* The writer on a pipe: a child writes, this process reads. */
static void test_writer_on_pipe(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    struct spec s = { 1, 1, 1 };
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        struct xerr e;
        _exit(write_file(fds[1], &s, &e) == 0 ? 0 : 1);
    }
    close(fds[1]);
    struct buf b = slurp_fd(fds[0]);
    close(fds[0]);
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct buf ref = make_file(&s);
    CHECK(b.n == ref.n);
    int fd = memfile(b.p, b.n);
    read_back(fd, &s, b.n);
    close(fd);
    free(b.p);
    free(ref.p);
}

/* Run all steps on bytes; returns the error code of the first failure, or NULL. */
static const char *code_of(const unsigned char *p, size_t n, struct xerr *e)
{
    int fd = memfile(p, n);
    struct sf_reader *r = sf_reader_new(fd, "bad.sav", 1, e);
    if (!r)
        return e->code;
    int rc = sf_reader_verify(r, e);
    sf_reader_free(r);
    return rc == 0 ? NULL : e->code;
}

static void expect_code(const char *what, const unsigned char *p, size_t n, const char *code)
{
    struct xerr e = { 0 };
    const char *got = code_of(p, n, &e);
    CHECKM(got == code || streq(got, code), "%s: expected %s, got %s (%s)", what, code, got ? got : "success",
           got ? e.message : "");
    if (got)
        CHECKM(strstr(e.message, "bad.sav") != NULL, "%s: message names no file: %s", what,
               e.message);
}

/* A copy of b with n bytes at off replaced. */
static struct buf patched(const struct buf *b, size_t off, const void *bytes, size_t n)
{
    struct buf c = { 0 };
    put(&c, b->p, b->n);
    memcpy(c.p + off, bytes, n);
    return c;
}

static void expect_patched(const char *what, const struct buf *b, size_t off, const void *bytes,
                           size_t n, const char *code)
{
    struct buf c = patched(b, off, bytes, n);
    expect_code(what, c.p, c.n, code);
    free(c.p);
}

static void put32h(struct buf *b, uint32_t v)
{
    unsigned char u[4];
    sf_put_host32(u, v);
    put(b, u, 4);
}

static void test_bad_inputs(void)
{
    struct spec s = { 0, 1, 1 };
    struct buf b = make_file(&s);
    size_t S = 48 + optdata_len();          /* stream start */
    size_t X = S + 16 + 8;                  /* libxc image header */
    size_t R1 = X + 24 + 16;                /* first libxc record (X86_PV_INFO) */
    size_t PD = R1 + 16 + 8;                /* first PAGE_DATA record */
    unsigned char u[8];

    expect_code("valid", b.p, b.n, NULL);
    expect_code("empty", b.p, 0, "SHORTHEADER");
    expect_code("47 bytes", b.p, 47, "SHORTHEADER");
    expect_patched("magic", &b, 5, "X", 1, "BADMAGIC");
    expect_code("short with bad magic", (const unsigned char *)"hello", 5, "BADMAGIC");
    sf_put_host32(u, SF_BYTEORDER_SWAPPED);
    expect_patched("swapped byte order", &b, 32, u, 4, "BYTEORDER");
    sf_put_host32(u, 0x11111111);
    expect_patched("garbage byte order", &b, 32, u, 4, "BYTEORDER");
    sf_put_host32(u, 3 | 0x30);
    expect_patched("unknown flags", &b, 36, u, 4, "BADFLAGS");
    {
        struct xerr e = { 0 };
        struct buf c = patched(&b, 36, u, 4);
        code_of(c.p, c.n, &e);
        CHECKM(strstr(e.message, "bit 4") && strstr(e.message, "bit 5"), "%s", e.message);
        free(c.p);
    }
    sf_put_host32(u, SF_OPTDATA_MAX + 1);
    expect_patched("optional data over the cap", &b, 44, u, 4, "BADOPTLEN");
    sf_put_host32(u, (uint32_t)b.n);
    expect_patched("optional data past the file", &b, 44, u, 4, "BADOPTLEN");
    {   /* the same on a pipe (no file size to compare with) */
        struct buf c = patched(&b, 44, u, 4);
        pid_t child;
        int fd = pipe_with(c.p, c.n, &child);
        struct xerr e = { 0 };
        struct sf_reader *r = sf_reader_new(fd, "pipe.sav", 1, &e);
        const struct sf_optdata *o;
        CHECK(sf_reader_optdata(r, &o, &e) < 0 && streq(e.code, "BADOPTLEN"));
        sf_reader_free(r);
        reap(child);
        free(c.p);
    }
    {   /* a bare header on a pipe claiming the largest optional data: no 16 MiB buffer */
        struct buf c = { 0 };
        put(&c, b.p, 44);
        put32h(&c, SF_OPTDATA_MAX);
        pid_t child;
        int fd = pipe_with(c.p, c.n, &child);
        struct xerr e = { 0 };
        struct mallinfo2 before = mallinfo2();
        struct sf_reader *r = sf_reader_new(fd, "pipe.sav", 1, &e);
        const struct sf_optdata *o;
        CHECK(sf_reader_optdata(r, &o, &e) < 0 && streq(e.code, "BADOPTLEN"));
        struct mallinfo2 after = mallinfo2();
        size_t grew = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
        CHECKM(after.uordblks + after.hblkhd < before.uordblks + before.hblkhd ||
               grew < (1u << 20), "a 48-byte pipe cost %zu bytes", grew);
        sf_reader_free(r);
        reap(child);
        free(c.p);
    }
    sf_put_host32(u, (uint32_t)optdata_len());
    expect_patched("config length past optional data", &b, 48, u, 4, "BADCONFIGLEN");
    expect_patched("JSON config without NUL", &b, 48 + 4 + sizeof CONFIG - 1, "}", 1, "NONUL");
    expect_patched("extension magic", &b, 48 + 4 + sizeof CONFIG, "XLUB", 4, "BADEXT");
    sf_put_host32(u, 2);
    expect_patched("extension version", &b, 48 + 4 + sizeof CONFIG + 4, u, 4, "BADEXT");
    sf_put_host32(u, 1000);
    expect_patched("extension entry length", &b, 48 + 4 + sizeof CONFIG + 12, u, 4, "BADEXT");
    for (uint32_t len = 0xFFFFFFF8u; len != 0; len++) {   /* padding used to wrap to 0 */
        char what[64];
        snprintf(what, sizeof what, "extension entry length 0x%08x", len);
        sf_put_host32(u, len);
        expect_patched(what, &b, 48 + 4 + sizeof CONFIG + 12, u, 4, "BADEXT");
    }
    {   /* an extension block cut inside an entry header, and one with no XLUA at all */
        struct buf c = { 0 };
        put(&c, b.p, 44);
        put32h(&c, 4 + 2 + 11);
        put32h(&c, 2);
        put(&c, "{\0XLUA\1\0\0\0abc", 2 + 11);
        put(&c, b.p + S, b.n - S - 32);
        expect_code("extension entry header cut", c.p, c.n, "BADEXT");
        free(c.p);
        c = (struct buf){ 0 };
        put(&c, b.p, 44);
        put32h(&c, 4 + 2 + 4);
        put32h(&c, 2);
        put(&c, "{\0junk", 6);
        put(&c, b.p + S, b.n - S - 32);
        expect_code("foreign optional data", c.p, c.n, "BADEXT");
        free(c.p);
        /* the last entry header claims ~4 GiB: its padded length must not wrap to 0 */
        for (uint32_t len = 0xFFFFFFF9u; len != 0; len++) {
            c = (struct buf){ 0 };
            put(&c, b.p, 44);
            put32h(&c, 4 + 2 + 16);
            put32h(&c, 2);
            put(&c, "{\0XLUA\1\0\0\0", 2 + 8);
            put32h(&c, SF_EXT_META);
            put32h(&c, len);
            put(&c, b.p + S, b.n - S - 32);
            expect_code("extension entry of ~4 GiB", c.p, c.n, "BADEXT");
            free(c.p);
        }
    }
    sf_put_host32(u, SF_FLAG_JSON);
    expect_patched("no STREAMv2", &b, 36, u, 4, "LEGACYSTREAM");
    expect_patched("libxl ident", &b, S, "LibxlFmX", 8, "BADSTREAM");
    sf_put32(u, 3, 1);
    expect_patched("libxl version", &b, S + 8, u, 4, "BADSTREAM");
    expect_patched("libxc marker", &b, X, "\xff\xff\xff\x00", 4, "BADSTREAM");
    expect_patched("libxc id", &b, X + 8, "XENG", 4, "BADSTREAM");
    sf_put32(u, 4, 1);
    expect_patched("libxc version", &b, X + 12, u, 4, "BADSTREAM");
    sf_put16(u, 40, sf_host_big_endian());
    expect_patched("page shift", &b, X + 24 + 4, u, 2, "BADSTREAM");
    int big = sf_host_big_endian();
    sf_put32(u, 0x1234, big);
    expect_patched("unknown libxc type", &b, R1, u, 4, "BADRECTYPE");
    sf_put32(u, 6, big);
    expect_patched("unknown libxl type", &b, S + 16, u, 4, "BADRECTYPE");
    sf_put32(u, 0x7fffffff, big);
    expect_patched("absurd libxl length", &b, S + 16 + 4, u, 4, "RECLEN");
    sf_put32(u, SF_REC_LENGTH_MAX + 1, big);
    expect_patched("libxc length over the cap", &b, R1 + 4, u, 4, "RECLEN");
    sf_put32(u, 0, big);
    expect_patched("PAGE_DATA count 0", &b, PD + 8, u, 4, "RECLEN");
    sf_put32(u, 100000, big);
    expect_patched("PAGE_DATA count past length", &b, PD + 8, u, 4, "RECLEN");
    sf_put32(u, 3, big);
    expect_patched("PAGE_DATA count short of the data", &b, PD + 8, u, 4, "RECLEN");
    sf_put32(u, 7, big);
    expect_patched("PAGE_DATA length too short", &b, PD + 4, u, 4, "RECLEN");
    sf_put64(u, (uint64_t)6 << 60, big);
    expect_patched("reserved page type", &b, PD + 16, u, 8, "BADPAGE");
    sf_put64(u, (uint64_t)SF_PAGE_XALLOC << 60, big);
    expect_patched("a data page turned XALLOC", &b, PD + 16, u, 8, "RECLEN");

    /* The trailer. */
    size_t E = b.n - 32;
    expect_patched("trailer magic", &b, E, "XLUA-ENX", 8, "BADTRAILER");
    uint64_t len = 12;
    expect_patched("trailer length", &b, E + 8, &len, 8, "BADTRAILER");
    u[0] = b.p[E + 20] ^ 1;
    expect_patched("trailer hash", &b, E + 20, u, 1, "BADTRAILER");
    u[0] = b.p[PD + 100] ^ 0x80;
    expect_patched("a flipped page byte", &b, PD + 100, u, 1, "BADTRAILER");
    {
        struct buf c = { 0 };
        put(&c, b.p, b.n);
        put(&c, "x", 1);
        expect_code("a byte after the trailer", c.p, c.n, "BADTRAILER");
        c.n = E;
        put(&c, "garbage", 7);
        expect_code("garbage after END", c.p, c.n, "BADTRAILER");
        free(c.p);
    }
    {   /* a hash mismatch is data for sf_reader_trailer, an error for verify */
        u[0] = b.p[E + 20] ^ 1;
        struct buf c = patched(&b, E + 20, u, 1);
        int fd = memfile(c.p, c.n);
        struct xerr e = { 0 };
        struct sf_reader *r = sf_reader_new(fd, "t.sav", 1, &e);
        struct sf_trailer t;
        CHECK(sf_reader_trailer(r, &t, &e) == 0 && t.found && t.length_matches &&
              !t.hash_matches && !t.matches);
        CHECK(sf_reader_verify(r, &e) < 0 && streq(e.code, "BADTRAILER"));
        sf_reader_free(r);
        free(c.p);
    }
    /* An optional (bit 31) libxl record is counted, not refused. */
    sf_put32(u, SF_REC_OPTIONAL | 9, big);
    expect_patched("optional libxl type", &b, b.n - 32 - 8 - 24, u, 4, "BADTRAILER");
    free(b.p);

    /* zstd: garbage instead of a frame, and data after END inside the frame. */
    struct spec z = { 1, 1, 1 };
    b = make_file(&z);
    expect_code("zstd valid", b.p, b.n, NULL);
    expect_patched("not a zstd frame", &b, S, "\0\0\0\0", 4, "BADZSTD");
    free(b.p);
}

/* Every cut of a valid file fails cleanly, with the code its position calls for. */
static void test_every_cut(int zstd)
{
    struct spec s = { zstd, 1, 1 };
    struct buf b = make_file(&s);
    size_t S = 48 + optdata_len(), E = b.n - SF_TRAILER_LEN;
    int bad = 0;
    for (size_t cut = 0; cut <= b.n; cut++) {
        const char *want = cut < 48 ? "SHORTHEADER" : cut < S ? "BADOPTLEN"
                         : cut < E ? "TRUNCATED" : cut == E || cut == b.n ? NULL : "BADTRAILER";
        struct xerr e = { 0 };
        const char *got = code_of(b.p, cut, &e);
        if ((want || got) && !streq(want, got)) {
            if (bad++ < 5)
                CHECKM(0, "zstd=%d cut at %zu of %zu: expected %s, got %s (%s)", zstd, cut, b.n,
                       want ? want : "success", got ? got : "success", got ? e.message : "");
        } else {
            checks++;
        }
        if (got && streq(got, "TRUNCATED") && !strstr(e.message, "byte"))
            CHECKM(0, "no offset in: %s", e.message);
    }
    CHECKM(bad == 0, "%d cuts went wrong", bad);
    free(b.p);
}

/* Errors are sticky; what was read before the damage stays readable. */
static void test_sticky(void)
{
    struct spec s = { 0, 1, 1 };
    struct buf b = make_file(&s);
    int fd = memfile(b.p, 48 + optdata_len() + 100);
    struct xerr e1 = { 0 }, e2 = { 0 }, e3 = { 0 };
    struct sf_reader *r = sf_reader_new(fd, "sticky.sav", 1, &e1);
    const struct sf_header *h;
    const struct sf_optdata *o;
    const struct sf_stream_info *si;
    struct sf_summary sum;
    struct sf_trailer t;
    CHECK(sf_reader_summary(r, &sum, &e1) < 0 && streq(e1.code, "TRUNCATED"));
    CHECK(sf_reader_trailer(r, &t, &e2) < 0 && streq(e2.code, "TRUNCATED"));
    CHECK(strcmp(e1.message, e2.message) == 0);
    CHECK(sf_reader_verify(r, &e3) < 0 && strcmp(e1.message, e3.message) == 0);
    CHECK(sf_reader_header(r, &h, &e3) == 0 && h->mandatory_flags == 3);
    CHECK(sf_reader_optdata(r, &o, &e3) == 0 && o->ext_count == 3);
    CHECK(sf_reader_stream(r, &si, &e3) == 0 && si->have_libxc);
    CHECK(sf_reader_error(r) && streq(sf_reader_error(r)->code, "TRUNCATED"));
    sf_reader_free(r);
    free(b.p);
}

/* A file without optional data at all, as xl writes for a config-less save. */
static void test_no_optdata(void)
{
    int fd = memfd_create("sf-bare", MFD_CLOEXEC);
    struct xerr e = { 0 };
    struct sf_writer *w = sf_writer_new(fd, "bare", &e);
    struct sf_write_options o = { .streamv2 = 1 };
    CHECK(sf_writer_header(w, &o, &e) == 0);
    CHECK(sf_writer_libxl_header(w, &e) == 0);
    CHECK(sf_writer_record(w, SF_LIBXL_END, NULL, 0, &e) == 0);
    CHECK(sf_writer_record(w, SF_LIBXL_END, NULL, 0, &e) == 0);
    CHECK(sf_writer_finish(w, 0, NULL, &e) == 0);
    CHECK(sf_writer_write(w, "x", 1, &e) < 0 && streq(e.code, "EINVAL"));
    sf_writer_free(w);
    struct buf b = slurp_fd(fd);
    close(fd);
    CHECK(b.n == 48 + 16 + 8 + 8);
    /* the second END is data after the stream's end */
    struct xerr e2 = { 0 };
    CHECK(streq(code_of(b.p, b.n, &e2), "BADTRAILER"));
    CHECK(code_of(b.p, b.n - 8, &e2) == NULL);
    fd = memfile(b.p, b.n - 8);
    struct sf_reader *r = sf_reader_new(fd, "bare", 1, &e);
    const struct sf_optdata *od;
    const struct sf_stream_info *si;
    CHECK(sf_reader_optdata(r, &od, &e) == 0 && !od->has_config && !od->has_ext);
    CHECK(sf_reader_stream(r, &si, &e) == 0 && !si->have_libxc);
    CHECK(sf_reader_verify(r, &e) == 0);
    sf_reader_free(r);
    free(b.p);
}

/* Optional data bigger than the reader's first buffer arrives whole through a pipe. */
static void test_big_optdata_on_pipe(void)
{
    int fd = memfd_create("sf-bigopt", MFD_CLOEXEC);
    struct xerr e = { 0 };
    struct sf_writer *w = sf_writer_new(fd, "bigopt", &e);
    size_t n = 300000 + 3;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + 1);
    struct sf_ext_entry x = { SF_EXT_META, (uint32_t)n, data };
    struct sf_write_options o = { .config = "{}", .config_len = 2, .json = 1, .streamv2 = 1,
                                  .ext = &x, .ext_count = 1 };
    CHECK(sf_writer_header(w, &o, &e) == 0);
    CHECK(sf_writer_libxl_header(w, &e) == 0);
    CHECK(sf_writer_record(w, SF_LIBXL_END, NULL, 0, &e) == 0);
    CHECK(sf_writer_finish(w, 1, NULL, &e) == 0);
    sf_writer_free(w);
    struct buf f = slurp_fd(fd);
    close(fd);
    pid_t child;
    fd = pipe_with(f.p, f.n, &child);
    struct sf_reader *r = sf_reader_new(fd, "bigopt", 1, &e);
    const struct sf_optdata *od;
    CHECKM(sf_reader_optdata(r, &od, &e) == 0, "%s", e.message);
    CHECK(od->ext_count == 1 && od->ext[0].length == n && memcmp(od->ext[0].data, data, n) == 0);
    CHECK(sf_reader_verify(r, &e) == 0);
    sf_reader_free(r);
    reap(child);
    free(data);
    free(f.p);
}

/* A big-endian stream (both layers say so in their headers) walks the same. */
static void test_big_endian_stream(void)
{
    int fd = memfd_create("sf-be", MFD_CLOEXEC);
    struct xerr e = { 0 };
    struct sf_writer *w = sf_writer_new(fd, "be", &e);
    struct sf_write_options o = { .streamv2 = 1 };
    unsigned char b[64] = { 0 }, pd[8 + 8 + 4096] = { 0 };
    CHECK(sf_writer_header(w, &o, &e) == 0);
    memcpy(b, "LibxlFmt", 8);
    sf_put32(b + 8, 2, 1);
    sf_put32(b + 12, SF_LIBXL_OPT_BIG_ENDIAN, 1);
    sf_put32(b + 16, SF_LIBXL_LIBXC_CONTEXT, 1);         /* length 0 */
    CHECK(sf_writer_write(w, b, 24, &e) == 0);
    memset(b, 0, sizeof b);
    sf_put64(b, SF_LIBXC_MARKER, 1);
    sf_put32(b + 8, SF_LIBXC_ID, 1);
    sf_put32(b + 12, 2, 1);
    sf_put16(b + 16, SF_LIBXC_OPT_BIG_ENDIAN, 1);
    sf_put32(b + 24, SF_DOMAIN_X86_HVM, 1);
    sf_put16(b + 28, 12, 1);
    sf_put32(b + 32, 4, 1);
    sf_put32(b + 36, 19, 1);
    sf_put32(b + 40, SF_LIBXC_PAGE_DATA, 1);
    sf_put32(b + 44, sizeof pd, 1);
    CHECK(sf_writer_write(w, b, 48, &e) == 0);
    sf_put32(pd, 1, 1);
    sf_put64(pd + 8, 42, 1);
    CHECK(sf_writer_write(w, pd, sizeof pd, &e) == 0);
    memset(b, 0, 16);                                     /* libxc END, libxl END */
    CHECK(sf_writer_write(w, b, 16, &e) == 0);
    CHECK(sf_writer_finish(w, 1, NULL, &e) == 0);
    sf_writer_free(w);
    struct buf f = slurp_fd(fd);
    close(fd);
    fd = memfile(f.p, f.n);
    struct sf_reader *r = sf_reader_new(fd, "be", 1, &e);
    const struct sf_stream_info *si;
    struct sf_summary sum;
    CHECK(sf_reader_stream(r, &si, &e) == 0 && si->libxl_big_endian && si->libxc_big_endian);
    CHECK(si->domain_type == SF_DOMAIN_X86_HVM && si->xen_minor == 19 && si->libxc_version == 2);
    CHECKM(sf_reader_summary(r, &sum, &e) == 0, "%s", e.message);
    CHECK(sum.pages == 1 && sum.data_pages == 1 && sum.record_count == 4);
    CHECK(sf_reader_verify(r, &e) == 0);
    sf_reader_free(r);
    free(f.p);
}

int main(void)
{
    test_names();
    test_xl_header_bytes();
    test_round_trip(0, 1, 1);
    test_round_trip(0, 0, 1);
    test_round_trip(0, 1, 0);
    test_round_trip(1, 1, 1);
    test_round_trip(1, 0, 1);
    test_writer_on_pipe();
    test_bad_inputs();
    test_every_cut(0);
    test_every_cut(1);
    test_sticky();
    test_no_optdata();
    test_big_endian_stream();
    test_big_optdata_on_pipe();
    return check_summary("test_savefile");
}
