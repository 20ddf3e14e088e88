/* spec/c/test_dom_libxl_relay.c: the save relay's write side without Xen: the savefile writer
 * on an fd that someone else made non-blocking, with signals (libxl's SIGCHLD) landing in the
 * middle of its writes, must put out every byte, in order, under a trailer that matches. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <xxhash.h>

#include "savefile/sf_format.h"
#include "savefile/sf_writer.h"

#define STREAM_BYTES (24u << 20)
#define CHUNK 65536u

static int failures;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
    (void)sig;
    ticks++;
}

/* The stream bytes: position-dependent, so a lost, doubled or reordered block shows. */
static void fill(unsigned char *p, size_t n, uint64_t at)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (at + i) * 0x9E3779B97F4A7C15ull;
        p[i] = (unsigned char)(x >> 56);
    }
}

struct sink {
    int fd;
    unsigned char *buf;
    size_t len, cap;
};

/* A slow reader: small reads, so the writer meets a full pipe again and again. */
static void *drain(void *arg)
{
    struct sink *s = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the writer's thread takes the signals */
    for (;;) {
        if (s->len + 4096 > s->cap) {
            s->cap = s->cap ? 2 * s->cap : (1u << 20);
            s->buf = realloc(s->buf, s->cap);
            if (!s->buf)
                abort();
        }
        ssize_t n = read(s->fd, s->buf + s->len, 4096);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            usleep(100);
            continue;
        }
        if (n <= 0)
            break;
        s->len += (size_t)n;
    }
    return NULL;
}

static void run(int zstd)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    /* As a stdout pipe made non-blocking by another process: writes may give EAGAIN. */
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    struct sink s = { .fd = p[0] };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, drain, &s) == 0, "pthread_create");

    /* A signal every 200 us without SA_RESTART, as a SIGCHLD can land: writes come back
     * short or with EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 200 }, { 0, 200 } };
    setitimer(ITIMER_REAL, &it, NULL);

    struct xerr e = { 0 };
    struct sf_writer *w = sf_writer_new(p[1], "relay test", &e);
    CHECK(w != NULL, "sf_writer_new: %s", e.message);
    static const char config[] = "{\"c_info\": {\"name\": \"relay\"}}";
    struct sf_write_options o = { .config = config, .config_len = sizeof config - 1,
                                  .json = 1, .streamv2 = 1, .zstd = zstd };
    CHECK(sf_writer_header(w, &o, &e) == 0, "header: %s", e.message);
    unsigned char *chunk = malloc(CHUNK);
    uint64_t at = 0;
    while (at < STREAM_BYTES) {
        fill(chunk, CHUNK, at);
        if (sf_writer_write(w, chunk, CHUNK, &e) < 0) {
            CHECK(0, "write at %llu: %s (%s)", (unsigned long long)at, e.message, e.code);
            break;
        }
        at += CHUNK;
    }
    uint64_t total = 0;
    CHECK(sf_writer_finish(w, 1, &total, &e) == 0, "finish: %s (%s)", e.message, e.code);
    sf_writer_free(w);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    close(p[1]);
    pthread_join(t, NULL);
    close(p[0]);
    free(chunk);

    CHECK(s.len == total, "zstd=%d: %zu bytes arrived, the writer wrote %llu", zstd, s.len,
          (unsigned long long)total);
    CHECK(ticks > 0, "no signal landed");
    if (s.len == total && total > SF_TRAILER_LEN) {
        const unsigned char *tr = s.buf + total - SF_TRAILER_LEN;
        uint64_t before;
        memcpy(&before, tr + 8, 8);
        CHECK(memcmp(tr, SF_TRAILER_MAGIC, 8) == 0, "zstd=%d: no trailer magic", zstd);
        CHECK(before == total - SF_TRAILER_LEN, "zstd=%d: trailer length %llu", zstd,
              (unsigned long long)before);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(s.buf, total - SF_TRAILER_LEN));
        CHECK(memcmp(tr + 16, c.digest, SF_HASH_LEN) == 0,
              "zstd=%d: the trailer hash does not match the bytes that arrived", zstd);
        if (!zstd) {
            /* The raw stream sits right before the trailer: every byte in place. */
            const unsigned char *st = s.buf + total - SF_TRAILER_LEN - STREAM_BYTES;
            unsigned char *want = malloc(CHUNK);
            for (uint64_t a = 0; a < STREAM_BYTES; a += CHUNK) {
                fill(want, CHUNK, a);
                if (memcmp(st + a, want, CHUNK) != 0) {
                    CHECK(0, "stream bytes differ in the block at %llu", (unsigned long long)a);
                    break;
                }
            }
            free(want);
        }
    }
    free(s.buf);
}

int main(void)
{
    run(0);
    run(1);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ok: the writer survives EAGAIN, EINTR and short writes (%d signals)\n", (int)ticks);
    return 0;
}
