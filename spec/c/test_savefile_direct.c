/* spec/c/test_savefile_direct.c: the writer's direct mode (another writer, as libxl does on a
 * real save, appends the stream to the file itself): the trailer covers those bytes as if the
 * writer had written them, a writer slower than the hash thread is waited for, a failed one
 * fails the save, and a pipe or -z refuses the mode. The reader's handoff (libxl reads the
 * stream itself on a real restore): at the stream's first byte, the trailer checked against
 * the whole file, refused for a pipe, -z or a file without a trailer. Also records written in
 * parts. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "savefile/sf_format.h"
#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#include "check.h"

static char dir[] = "/tmp/xlua-test-direct.XXXXXX";
static struct xerr err;

static int new_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/* A libxl-like stream: header, libxc headers, PAGE_DATA records, ENDs. */
static size_t make_stream(unsigned char **out, unsigned pages)
{
    size_t cap = 1024 + (size_t)pages * 4200, n = 0;
    unsigned char *p = calloc(1, cap);
    int big = sf_host_big_endian();
    memcpy(p, SF_LIBXL_IDENT, 8);
    sf_put32(p + 8, SF_LIBXL_VERSION, 1);
    n = SF_LIBXL_HEADER_LEN;
    sf_put32(p + n, SF_LIBXL_LIBXC_CONTEXT, big);       /* empty LIBXC_CONTEXT record */
    n += 8;
    sf_put64(p + n, SF_LIBXC_MARKER, 1);
    sf_put32(p + n + 8, SF_LIBXC_ID, 1);
    sf_put32(p + n + 12, 3, 1);
    n += SF_LIBXC_IHDR_LEN;
    sf_put32(p + n, SF_DOMAIN_X86_PV, big);
    sf_put16(p + n + 4, 12, big);
    sf_put32(p + n + 8, 4, big);
    sf_put32(p + n + 12, 17, big);
    n += SF_LIBXC_DHDR_LEN;
    sf_put32(p + n, SF_LIBXC_PAGE_DATA, big);
    sf_put32(p + n + 4, 8 + pages * 8 + pages * 4096, big);
    sf_put32(p + n + 8, pages, big);
    n += 16;
    for (unsigned i = 0; i < pages; i++, n += 8)
        sf_put64(p + n, i, big);
    for (unsigned i = 0; i < pages * 4096; i++)
        p[n + i] = (unsigned char)(i * 7 + i / 4096);
    n += (size_t)pages * 4096;
    sf_put32(p + n, SF_LIBXC_END, big);
    n += 8;
    sf_put32(p + n, SF_LIBXL_END, big);
    n += 8;
    *out = p;
    return n;
}

static struct sf_writer *start(int fd, int zstd)
{
    struct sf_writer *w = sf_writer_new(fd, "direct.sav", &err);
    struct sf_write_options o = { .config = "{}", .config_len = 2, .json = 1, .streamv2 = 1,
                                  .zstd = zstd };
    CHECK(w && sf_writer_header(w, &o, &err) == 0);
    return w;
}

struct slow {
    int fd;
    const unsigned char *p;
    size_t n;
};

/* Writes in small steps with pauses: the hash thread catches up and waits more than once. */
static void *slow_writer(void *arg)
{
    struct slow *s = arg;
    for (size_t at = 0; at < s->n;) {
        size_t k = s->n - at < 50000 ? s->n - at : 50000;
        if (write(s->fd, s->p + at, k) != (ssize_t)k)
            abort();
        at += k;
        nanosleep(&(struct timespec){ 0, 3000000 }, NULL);
    }
    return NULL;
}

static void verify(int fd, size_t file_len)
{
    struct sf_reader *r = sf_reader_new(fd, "direct.sav", 0, &err);
    struct sf_trailer t;
    CHECK(r && lseek(fd, 0, SEEK_SET) == 0);
    CHECKM(r && sf_reader_verify(r, &err) == 0, "%s", err.message);
    CHECK(r && sf_reader_trailer(r, &t, &err) == 0 && t.found && t.matches);
    CHECK(t.computed_length + SF_TRAILER_LEN == file_len);
    sf_reader_free(r);
}

static void test_direct(int slowly)
{
    unsigned char *stream;
    size_t n = make_stream(&stream, 300);
    int fd = new_file(slowly ? "slow.sav" : "fast.sav");
    struct sf_writer *w = start(fd, 0);
    uint64_t before = sf_writer_bytes(w);
    int dfd = -1;
    CHECK(sf_writer_direct_begin(w, &dfd, &err) == 1 && dfd == fd);
    if (slowly) {
        struct slow s = { fd, stream, n };
        pthread_t t;
        CHECK(pthread_create(&t, NULL, slow_writer, &s) == 0);
        pthread_join(t, NULL);
    } else {
        CHECK(write(fd, stream, n) == (ssize_t)n);
    }
    CHECK(sf_writer_direct_progress(w) == n);
    CHECKM(sf_writer_direct_end(w, 1, &err) == 0, "%s", err.message);
    CHECK(sf_writer_bytes(w) == before + n);
    uint64_t total;
    CHECK(sf_writer_finish(w, 1, &total, &err) == 0);
    sf_writer_free(w);
    CHECK(total == before + n + SF_TRAILER_LEN);
    verify(fd, (size_t)total);
    close(fd);
    free(stream);
}

/* The other writer failed: so does the save, with a message; nothing more is written. */
static void test_direct_failed(void)
{
    int fd = new_file("failed.sav");
    struct sf_writer *w = start(fd, 0);
    int dfd;
    CHECK(sf_writer_direct_begin(w, &dfd, &err) == 1);
    CHECK(write(fd, "LibxlFmt", 8) == 8);
    CHECK(sf_writer_direct_end(w, 0, &err) == -1 && err.code && err.message[0]);
    CHECK(sf_writer_finish(w, 1, NULL, &err) == -1);
    sf_writer_free(w);
    close(fd);
}

/* A pipe, zstd, or a file open only for writing (nothing can read it back): the bytes must go
 * through the writer, and are hashed there. */
static void test_direct_refused(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/wronly.sav", dir);
    int wo = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct sf_writer *ww = start(wo, 0);
    int wfd = -1;
    CHECK(sf_writer_direct_begin(ww, &wfd, &err) == 0 && wfd == -1);
    CHECK(sf_writer_hash_behind(ww) == 0);
    sf_writer_free(ww);
    close(wo);
    int p[2];
    CHECK(pipe(p) == 0);
    struct sf_writer *w = start(p[1], 0);
    int dfd = -1;
    CHECK(sf_writer_direct_begin(w, &dfd, &err) == 0 && dfd == -1);
    sf_writer_free(w);
    close(p[0]);
    close(p[1]);
    int fd = new_file("zstd.sav");
    w = start(fd, 1);
    CHECK(sf_writer_direct_begin(w, &dfd, &err) == 0);
    sf_writer_free(w);
    close(fd);
}

/* A record in parts, some large enough to go straight to the fd, some copied from another
 * file by the kernel: the same bytes as one sf_writer_record. */
static void test_record_parts(void)
{
    size_t len = 300000;
    unsigned char *body = malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (unsigned char)(i * 13 + 1);
    int src = new_file("src.bin");
    CHECK(write(src, body, len) == (ssize_t)len);
    int a = new_file("whole.sav"), b = new_file("parts.sav");
    struct sf_writer *wa = start(a, 0), *wb = start(b, 0);
    CHECK(sf_writer_record(wa, 99, body, len - 3, &err) == 0);
    CHECK(sf_writer_record_begin(wb, 99, len - 3, &err) == 0);
    CHECK(sf_writer_record_body(wb, body, 100, &err) == 0);
    CHECK(sf_writer_record_body_copy(wb, body + 100, 200000, src, 100, &err) == 0);
    CHECK(sf_writer_record_body(wb, body + 200100, len - 3 - 200100, &err) == 0);
    CHECK(sf_writer_record_body(wb, body, 1, &err) == -1);     /* past its length */
    uint64_t ta, tb;
    CHECK(sf_writer_finish(wa, 1, &ta, &err) == 0);
    sf_writer_free(wb);
    wb = NULL;
    CHECK(ta > len);
    /* again, without the stray byte, to compare whole files */
    close(b);
    b = new_file("parts.sav");
    wb = start(b, 0);
    CHECK(sf_writer_record_begin(wb, 99, len - 3, &err) == 0);
    CHECK(sf_writer_record_body(wb, body, 100, &err) == 0);
    CHECK(sf_writer_record_body_copy(wb, body + 100, 200000, src, 100, &err) == 0);
    CHECK(sf_writer_record_body(wb, body + 200100, len - 3 - 200100, &err) == 0);
    CHECK(sf_writer_finish(wb, 1, &tb, &err) == 0);
    CHECK(ta == tb);
    unsigned char *x = malloc(ta), *y = malloc(tb);
    CHECK(pread(a, x, ta, 0) == (ssize_t)ta && pread(b, y, tb, 0) == (ssize_t)tb);
    CHECK(memcmp(x, y, ta) == 0);
    sf_writer_free(wa);
    sf_writer_free(wb);
    free(x);
    free(y);
    free(body);
    close(a);
    close(b);
    close(src);
}

/* A whole savefile (stream + trailer unless told not to) in a new file; its length. */
static size_t saved_file(int fd, int zstd, int trailer)
{
    unsigned char *stream;
    size_t n = make_stream(&stream, 40);
    struct sf_writer *w = start(fd, zstd);
    uint64_t total = 0;
    CHECK(sf_writer_write(w, stream, n, &err) == 0);
    CHECK(sf_writer_finish(w, trailer, &total, &err) == 0);
    sf_writer_free(w);
    free(stream);
    return (size_t)total;
}

static struct sf_reader *reader_at_stream(int fd)
{
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    struct sf_reader *r = sf_reader_new(fd, "handoff.sav", 0, &err);
    const struct sf_stream_info *si;
    CHECK(r && sf_reader_stream(r, &si, &err) == 0);
    return r;
}

static void test_handoff(void)
{
    int fd = new_file("handoff.sav");
    size_t len = saved_file(fd, 0, 1);
    struct sf_reader *r = reader_at_stream(fd);
    int hfd = -1;
    CHECK(sf_reader_handoff(r, &hfd, &err) == 1 && hfd == fd);
    off_t at = lseek(fd, 0, SEEK_CUR);
    char ident[8];
    CHECK(read(fd, ident, 8) == 8 && memcmp(ident, SF_LIBXL_IDENT, 8) == 0);  /* the stream */
    CHECK(sf_reader_handoff_progress(r) == 8);
    CHECK(sf_reader_handoff_check(r, &err) == 0);
    struct sf_record rec;
    CHECK(sf_reader_next(r, &rec, 1, &err) == -1);    /* the reader reads no more */
    sf_reader_free(r);
    /* one byte of the stream changed: the check says so */
    unsigned char b;
    CHECK(pread(fd, &b, 1, at + 100) == 1);
    b ^= 1;
    CHECK(pwrite(fd, &b, 1, at + 100) == 1);
    r = reader_at_stream(fd);
    CHECK(sf_reader_handoff(r, &hfd, &err) == 1);
    CHECK(sf_reader_handoff_check(r, &err) == -1 && streq(err.code, "BADTRAILER"));
    sf_reader_free(r);
    /* a trailer whose length is not the file's (a cut file): the walk reports it instead */
    CHECK(ftruncate(fd, (off_t)len - 1) == 0);
    r = reader_at_stream(fd);
    CHECK(sf_reader_handoff(r, &hfd, &err) == 0);
    sf_reader_free(r);
    close(fd);
    /* no trailer; zstd; a pipe: never handed off */
    fd = new_file("notrailer.sav");
    saved_file(fd, 0, 0);
    r = reader_at_stream(fd);
    CHECK(sf_reader_handoff(r, &hfd, &err) == 0);
    sf_reader_free(r);
    close(fd);
    fd = new_file("zstd.sav");
    saved_file(fd, 1, 1);
    r = reader_at_stream(fd);
    CHECK(sf_reader_handoff(r, &hfd, &err) == 0);
    sf_reader_free(r);
    close(fd);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 99;
    }
    test_direct(0);
    test_direct(1);
    test_direct_failed();
    test_direct_refused();
    test_record_parts();
    test_handoff();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", dir);
    return check_summary("test_savefile_direct");
}
