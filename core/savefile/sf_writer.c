/* core/savefile/sf_writer.c: the savefile writer: buffered writes to any fd, the hash of every byte
 * before the trailer, and the zstd frame around the stream part. */
#include "sf_writer.h"

#include "base/cancel.h"
#include "base/xxh3_fast.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#define OUT_BUF (128u << 10)
/* Spans at least this long go straight from the caller's memory to write(2): no copy. */
#define DIRECT_MIN (64u << 10)
/* A regular file's dirty pages are handed to writeback every this many bytes, so the final
 * fsync finds most of the file on the disk already. */
#define WRITEBACK_STEP (32ull << 20)
/* -z: level -1 unless asked: on the sim's image (a third zero pages, a third random, a third
 * text) it writes 0.339 of the plain file at 1.2 GB/s on 2 threads, where level 3 (zstd's
 * default) writes 0.337 at 0.7 GB/s and level 1 0.339 at 0.7 GB/s (spec/bench, README). */
#define ZSTD_LEVEL_DEFAULT (-1)
/* Memory, not the CPU count, bounds the workers: each holds about two jobs (its input and
 * its output) and a compressor; they share ZSTD_BUDGET. At most one per online CPU (or
 * $XLUA_ZSTD_THREADS). */
#define ZSTD_JOB (2u << 20)
#define ZSTD_WORKER_COST (3u * ZSTD_JOB + (2u << 20))
#define ZSTD_BUDGET (24u << 20)

enum wstate { W_NEW, W_STREAM, W_DONE };

struct sf_writer {
    int fd;
    char *name;
    enum wstate state;
    int failed;
    struct xerr err;

    unsigned char *buf;
    size_t len;
    uint64_t total;             /* bytes handed to the buffer (= file bytes once flushed) */

    XXH3_state_t *hash;
    int hashing;

    int regular;                /* fd is a regular file: start writeback as the bytes go */
    int no_copy;                /* copy_file_range refused once: write from memory */
    int readable;               /* the fd reads too: a thread can read back what was written */
    off_t base;                 /* its offset when the writer started */
    uint64_t flushed;           /* bytes written to the fd */
    uint64_t writeback;         /* bytes handed to the writeback thread */
    pthread_t wb_thread;
    int wb_running, wb_stop;
    pthread_mutex_t wb_mu;
    pthread_cond_t wb_cv;
    uint64_t wb_target;         /* the thread writes back the file bytes up to here */

    /* Direct mode: another writer (libxl) appends stream bytes to fd from direct_at on; a
     * thread reads them back behind it for the hash and starts their writeback. */
    int direct;
    int behind;                 /* sf_writer_hash_behind: the thread hashes our own bytes */
    uint64_t direct_at;         /* fd offset where its bytes start */
    uint64_t direct_end;        /* UINT64_MAX while it writes; then where its bytes end */
    uint64_t direct_hashed;     /* fd offset the hash thread has reached */
    int direct_errno;
    pthread_t direct_thread;

    uint64_t body_left;         /* bytes still due in the record sf_writer_record_begin opened */
    size_t body_pad;

    ZSTD_CCtx *cctx;
    unsigned char *zbuf;
    size_t zcap;
};

static void writeback_stop(struct sf_writer *w);
static int behind_stop(struct sf_writer *w);

struct sf_writer *sf_writer_new(int fd, const char *name, struct xerr *err)
{
    /* Found here, not after a domain was paused and its memory streamed: an fd that is closed
     * or open only for reading (xlua's placeholder for a closed stdout). */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
        xerr_errno(err, EBADF, "%s: not open for writing", name);
        return NULL;
    }
    struct sf_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->fd = fd;
        w->name = strdup(name);
        w->buf = malloc(OUT_BUF);
        w->hash = XXH3_createState();
    }
    if (!w || !w->name || !w->buf || !w->hash || XXH3_128bits_reset(w->hash) != XXH_OK) {
        sf_writer_free(w);
        xerr_errno(err, ENOMEM, "%s: cannot allocate a writer", name);
        return NULL;
    }
    w->hashing = 1;
    pthread_mutex_init(&w->wb_mu, NULL);
    pthread_cond_init(&w->wb_cv, NULL);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        w->base = lseek(fd, 0, SEEK_CUR);
        w->regular = w->base >= 0;
        w->readable = (fl & O_ACCMODE) == O_RDWR;
    }
    return w;
}

void sf_writer_free(struct sf_writer *w)
{
    if (!w)
        return;
    if (w->behind)
        behind_stop(w);
    else if (w->direct)
        sf_writer_direct_end(w, 0, NULL);
    writeback_stop(w);
    free(w->name);
    free(w->buf);
    free(w->zbuf);
    if (w->hash)
        XXH3_freeState(w->hash);
    if (w->cctx)
        ZSTD_freeCCtx(w->cctx);
    free(w);
}

uint64_t sf_writer_bytes(const struct sf_writer *w)
{
    return w->total;
}

static int failed(struct sf_writer *w)
{
    w->failed = 1;
    return -1;
}

static int report(const struct sf_writer *w, struct xerr *err)
{
    if (err)
        *err = w->err;
    return -1;
}

/* The fd may be a pipe or socket someone else made non-blocking (a shared stdout), and signals
 * (SIGCHLD of libxl's helpers) may interrupt a write or cut it short: the whole buffer goes
 * out, in order, whatever the write returns. */
static int wait_writable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int r;
    do
        r = poll(&p, 1, -1);
    while (r < 0 && xcancel_retry(errno));
    return r < 0 ? -1 : 0;
}

/* A regular file's writeback runs in a thread of its own, WRITEBACK_STEP bytes behind the
 * writer: the disk writes while the stream is made, and a full device queue stalls that thread,
 * never the writer. Best effort: a file system without sync_file_range writes back later. */
static void *writeback_main(void *arg)
{
    struct sf_writer *w = arg;
    uint64_t done = 0;
    pthread_mutex_lock(&w->wb_mu);
    for (;;) {
        while (w->wb_target == done && !w->wb_stop)
            pthread_cond_wait(&w->wb_cv, &w->wb_mu);
        if (w->wb_target == done)
            break;
        uint64_t target = w->wb_target;
        pthread_mutex_unlock(&w->wb_mu);
        sync_file_range(w->fd, w->base + (off_t)done, (off_t)(target - done),
                        SYNC_FILE_RANGE_WRITE);
        done = target;
        pthread_mutex_lock(&w->wb_mu);
    }
    pthread_mutex_unlock(&w->wb_mu);
    return NULL;
}

static void writeback_stop(struct sf_writer *w)
{
    if (!w->wb_running)
        return;
    pthread_mutex_lock(&w->wb_mu);
    w->wb_stop = 1;
    pthread_cond_signal(&w->wb_cv);
    pthread_mutex_unlock(&w->wb_mu);
    pthread_join(w->wb_thread, NULL);
    w->wb_running = 0;
}

/* n more bytes are in the file: every WRITEBACK_STEP of them go to the writeback thread. */
static void written(struct sf_writer *w, uint64_t n)
{
    w->flushed += n;
    if (!w->regular || w->behind || w->flushed - w->writeback < WRITEBACK_STEP)
        return;
    if (!w->wb_running) {
        if (pthread_create(&w->wb_thread, NULL, writeback_main, w) != 0) {
            w->regular = 0;     /* no thread: the kernel writes back in its own time */
            return;
        }
        w->wb_running = 1;
    }
    pthread_mutex_lock(&w->wb_mu);
    w->wb_target = w->flushed;
    pthread_cond_signal(&w->wb_cv);
    pthread_mutex_unlock(&w->wb_mu);
    w->writeback = w->flushed;
}

/* Write p[0..n) whole; `at` is the file byte of p, for messages. */
static int write_all(struct sf_writer *w, const unsigned char *p, size_t n, uint64_t at)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = xcancel_requested() ? (errno = EINTR, -1) : write(w->fd, p + off, n - off);
        if (k < 0 && xcancel_retry(errno))
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable(w->fd) == 0)
            continue;
        if (k < 0) {
            xerr_errno(&w->err, errno, "%s: write failed at byte %llu", w->name,
                       (unsigned long long)(at + off));
            return failed(w);
        }
        off += (size_t)k;
    }
    written(w, n);
    return 0;
}

static int flush(struct sf_writer *w)
{
    if (w->len && write_all(w, w->buf, w->len, w->total - w->len) < 0)
        return -1;
    w->len = 0;
    return 0;
}

/* File bytes: hashed while before the trailer, buffered, flushed when the buffer fills. */
static int emit(struct sf_writer *w, const void *p, size_t n)
{
    const unsigned char *b = p;
    if (w->hashing && !w->behind && n)
        xxh3_update(w->hash, b, n);
    if (n >= DIRECT_MIN) {
        if (flush(w) < 0)
            return -1;
        w->total += n;
        return write_all(w, b, n, w->total - n);
    }
    while (n > 0) {
        size_t k = OUT_BUF - w->len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->len, b, k);
        w->len += k;
        w->total += k;
        b += k;
        n -= k;
        if (w->len == OUT_BUF && flush(w) < 0)
            return -1;
    }
    return 0;
}

static int compress(struct sf_writer *w, const void *p, size_t n, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer ib = { p, n, 0 };
    for (;;) {
        ZSTD_outBuffer ob = { w->zbuf, w->zcap, 0 };
        size_t left = ZSTD_compressStream2(w->cctx, &ob, &ib, mode);
        if (ZSTD_isError(left)) {
            xerr_set(&w->err, "BADZSTD", "%s: zstd compression failed at byte %llu: %s",
                     w->name, (unsigned long long)w->total, ZSTD_getErrorName(left));
            return failed(w);
        }
        if (emit(w, w->zbuf, ob.pos) < 0)
            return -1;
        if (mode == ZSTD_e_continue ? ib.pos == ib.size : left == 0)
            return 0;
    }
}

static int stream_bytes(struct sf_writer *w, const void *p, size_t n)
{
    if (w->cctx)
        return n ? compress(w, p, n, ZSTD_e_continue) : 0;
    return emit(w, p, n);
}

static int check_state(struct sf_writer *w, enum wstate want, const char *what)
{
    if (w->failed)
        return -1;
    if (w->state != want) {
        xerr_set(&w->err, "EINVAL", "%s: %s %s", w->name, what,
                 want == W_NEW ? "comes first, once" : w->state == W_NEW
                 ? "needs the header first" : "after finish");
        return failed(w);
    }
    return 0;
}

static int start_zstd(struct sf_writer *w, int level)
{
    w->cctx = ZSTD_createCCtx();
    w->zcap = ZSTD_CStreamOutSize();
    w->zbuf = malloc(w->zcap);
    if (!w->cctx || !w->zbuf) {
        xerr_errno(&w->err, ENOMEM, "%s: cannot allocate a zstd encoder", w->name);
        return failed(w);
    }
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level ? level : ZSTD_LEVEL_DEFAULT);
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("XLUA_ZSTD_THREADS");
    if (env && *env)
        threads = strtol(env, NULL, 10);
    long budget = ZSTD_BUDGET / ZSTD_WORKER_COST;
    if (threads > budget)
        threads = budget;
    if (threads > 1) { /* fails harmlessly when libzstd is built without threads */
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, (int)threads);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_jobSize, (int)ZSTD_JOB);
    }
    return 0;
}

int sf_writer_header(struct sf_writer *w, const struct sf_write_options *o, struct xerr *err)
{
    if (check_state(w, W_NEW, "the header") < 0)
        return report(w, err);
    uint64_t clen = o->config ? o->config_len + (o->json ? 1 : 0) : 0;
    uint64_t optlen = 0;
    if (o->config || o->ext_count)
        optlen = 4 + clen;
    if (o->ext_count)
        optlen += 8;
    for (size_t i = 0; i < o->ext_count; i++)
        optlen += 8 + sf_rec_padded(o->ext[i].length);
    if (optlen > SF_OPTDATA_MAX) {
        xerr_set(&w->err, "BADOPTLEN", "%s: %llu bytes of config and extensions are over the "
                 "%u-byte limit", w->name, (unsigned long long)optlen, SF_OPTDATA_MAX);
        return failed(w), report(w, err);
    }
    uint32_t flags = 0;
    if (o->config && o->json)
        flags |= SF_FLAG_JSON;
    if (o->streamv2)
        flags |= SF_FLAG_STREAMV2;
    if (o->zstd)
        flags |= SF_FLAG_ZSTD;
    unsigned char h[SF_HEADER_LEN], u[8];
    static const unsigned char zeros[8];
    memcpy(h, SF_MAGIC, SF_MAGIC_LEN);
    sf_put_host32(h + 32, SF_BYTEORDER);
    sf_put_host32(h + 36, flags);
    sf_put_host32(h + 40, 0);
    sf_put_host32(h + 44, (uint32_t)optlen);
    int rc = emit(w, h, sizeof h);
    if (optlen && !rc) {
        sf_put_host32(u, (uint32_t)clen);
        rc = emit(w, u, 4);
        if (!rc && o->config)
            rc = emit(w, o->config, o->config_len);
        if (!rc && o->config && o->json)
            rc = emit(w, zeros, 1);
    }
    if (o->ext_count && !rc) {
        memcpy(u, SF_EXT_MAGIC, 4);
        sf_put_host32(u + 4, SF_EXT_VERSION);
        rc = emit(w, u, 8);
        for (size_t i = 0; i < o->ext_count && !rc; i++) {
            const struct sf_ext_entry *e = &o->ext[i];
            sf_put_host32(u, e->tag);
            sf_put_host32(u + 4, e->length);
            rc = emit(w, u, 8);
            if (!rc)
                rc = emit(w, e->data, e->length);
            if (!rc)
                rc = emit(w, zeros, sf_rec_padded(e->length) - e->length);
        }
    }
    if (!rc && o->zstd)
        rc = start_zstd(w, o->zstd_level);
    if (rc)
        return report(w, err);
    w->state = W_STREAM;
    return 0;
}

int sf_writer_write(struct sf_writer *w, const void *p, size_t n, struct xerr *err)
{
    if (check_state(w, W_STREAM, "stream bytes") < 0 || stream_bytes(w, p, n) < 0)
        return report(w, err);
    return 0;
}

int sf_writer_libxl_header(struct sf_writer *w, struct xerr *err)
{
    unsigned char h[SF_LIBXL_HEADER_LEN];
    memcpy(h, SF_LIBXL_IDENT, 8);
    sf_put32(h + 8, SF_LIBXL_VERSION, 1);
    sf_put32(h + 12, sf_host_big_endian() ? SF_LIBXL_OPT_BIG_ENDIAN : 0, 1);
    return sf_writer_write(w, h, sizeof h, err);
}

int sf_writer_libxc_headers(struct sf_writer *w, uint32_t version, uint32_t domain_type,
                            uint16_t page_shift, uint32_t xen_major, uint32_t xen_minor,
                            struct xerr *err)
{
    int big = sf_host_big_endian();
    unsigned char h[SF_LIBXC_IHDR_LEN + SF_LIBXC_DHDR_LEN] = { 0 };
    sf_put64(h, SF_LIBXC_MARKER, 1);
    sf_put32(h + 8, SF_LIBXC_ID, 1);
    sf_put32(h + 12, version, 1);
    sf_put16(h + 16, big ? SF_LIBXC_OPT_BIG_ENDIAN : 0, 1);
    unsigned char *d = h + SF_LIBXC_IHDR_LEN;
    sf_put32(d, domain_type, big);
    sf_put16(d + 4, page_shift, big);
    sf_put32(d + 8, xen_major, big);
    sf_put32(d + 12, xen_minor, big);
    return sf_writer_write(w, h, sizeof h, err);
}

int sf_writer_record(struct sf_writer *w, uint32_t type, const void *body, size_t length,
                     struct xerr *err)
{
    static const unsigned char zeros[8];
    if (check_state(w, W_STREAM, "a record") < 0)
        return report(w, err);
    if (length > UINT32_MAX) {
        xerr_set(&w->err, "RECLEN", "%s: a record body of %zu bytes does not fit a u32 length",
                 w->name, length);
        return failed(w), report(w, err);
    }
    int big = sf_host_big_endian();
    unsigned char h[SF_REC_HEADER_LEN];
    sf_put32(h, type, big);
    sf_put32(h + 4, (uint32_t)length, big);
    if (stream_bytes(w, h, sizeof h) < 0 || stream_bytes(w, body, length) < 0 ||
        stream_bytes(w, zeros, sf_rec_padded((uint32_t)length) - length) < 0)
        return report(w, err);
    return 0;
}

int sf_writer_flush(struct sf_writer *w, struct xerr *err)
{
    if (w->failed)
        return report(w, err);
    if (w->state == W_STREAM && w->cctx && compress(w, NULL, 0, ZSTD_e_flush) < 0)
        return report(w, err);
    return flush(w) < 0 ? report(w, err) : 0;
}

int sf_writer_record_begin(struct sf_writer *w, uint32_t type, uint64_t length,
                           struct xerr *err)
{
    if (check_state(w, W_STREAM, "a record") < 0)
        return report(w, err);
    if (length > UINT32_MAX || w->body_left) {
        xerr_set(&w->err, length > UINT32_MAX ? "RECLEN" : "EINVAL", length > UINT32_MAX
                 ? "%s: a record body of %llu bytes does not fit a u32 length"
                 : "%s: a record begun before the last one's body was complete", w->name,
                 (unsigned long long)length);
        return failed(w), report(w, err);
    }
    int big = sf_host_big_endian();
    unsigned char h[SF_REC_HEADER_LEN];
    sf_put32(h, type, big);
    sf_put32(h + 4, (uint32_t)length, big);
    if (stream_bytes(w, h, sizeof h) < 0)
        return report(w, err);
    w->body_left = length;
    w->body_pad = sf_rec_padded((uint32_t)length) - (size_t)length;
    return 0;
}

int sf_writer_record_body(struct sf_writer *w, const void *p, size_t n, struct xerr *err)
{
    static const unsigned char zeros[8];
    if (check_state(w, W_STREAM, "a record body") < 0)
        return report(w, err);
    if (n > w->body_left) {
        xerr_set(&w->err, "EINVAL", "%s: %zu bytes more than the record's length", w->name,
                 (size_t)(n - w->body_left));
        return failed(w), report(w, err);
    }
    if (stream_bytes(w, p, n) < 0)
        return report(w, err);
    w->body_left -= n;
    if (w->body_left == 0 && w->body_pad) {
        size_t pad = w->body_pad;
        w->body_pad = 0;
        if (stream_bytes(w, zeros, pad) < 0)
            return report(w, err);
    }
    return 0;
}

/* The kernel copies n bytes at src_off of src_fd to the file: nothing passes through user
 * space. 0 done, 1 refused before any byte moved (the caller writes them itself), -1 failed. */
static int copy_range(struct sf_writer *w, int src_fd, uint64_t src_off, size_t n)
{
    loff_t off = (loff_t)src_off;
    size_t done = 0;
    while (done < n) {
        ssize_t k = xcancel_requested() ? (errno = EINTR, -1)
                                        : copy_file_range(src_fd, &off, w->fd, NULL, n - done, 0);
        if (k < 0 && xcancel_retry(errno))
            continue;
        if ((k < 0 || (k == 0 && done == 0)) && done == 0 &&
            (k == 0 || errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
             errno == EOPNOTSUPP || errno == EBADF || errno == EPERM)) {
            w->no_copy = 1;
            return 1;
        }
        if (k <= 0) {
            xerr_errno(&w->err, k < 0 ? errno : EIO, "%s: write failed at byte %llu", w->name,
                       (unsigned long long)(w->total - n + done));
            return failed(w);
        }
        done += (size_t)k;
        written(w, (uint64_t)k);
    }
    return 0;
}

int sf_writer_record_body_copy(struct sf_writer *w, const void *p, size_t n, int src_fd,
                               uint64_t src_off, struct xerr *err)
{
    if (w->cctx || !w->regular || w->no_copy || n < DIRECT_MIN || n > w->body_left ||
        w->failed || w->state != W_STREAM || (!p && !w->behind))
        return p ? sf_writer_record_body(w, p, n, err) : 1;
    if (flush(w) < 0)
        return report(w, err);
    w->total += n;
    int rc = copy_range(w, src_fd, src_off, n);
    if (rc < 0)
        return report(w, err);
    if (rc > 0) {               /* not this pair of files: the bytes go as any others */
        w->total -= n;
        return p ? sf_writer_record_body(w, p, n, err) : 1;
    }
    if (w->hashing && !w->behind)
        xxh3_update(w->hash, p, n);
    w->body_left -= n;
    return sf_writer_record_body(w, NULL, 0, err);  /* the padding, if that was the last */
}

/* ---- direct mode ---- */

#define DIRECT_PIECE (1u << 20)

/* Reads back what the other writer appended, as soon as the file's size shows it (its pages
 * are still in the cache), hashes it and hands it to writeback. */
static void *direct_main(void *arg)
{
    struct sf_writer *w = arg;
    unsigned char *buf = malloc(DIRECT_PIECE);
    uint64_t at = w->direct_at, synced = at;
    int e = buf ? 0 : ENOMEM;
    for (;;) {
        pthread_mutex_lock(&w->wb_mu);
        uint64_t end = w->direct_end;
        pthread_mutex_unlock(&w->wb_mu);
        struct stat st;
        uint64_t size = e == 0 && fstat(w->fd, &st) == 0 ? (uint64_t)st.st_size : at;
        uint64_t avail = size < end ? size : end;
        if (e == 0 && at < avail) {
            size_t n = avail - at < DIRECT_PIECE ? (size_t)(avail - at) : DIRECT_PIECE;
            ssize_t k = pread(w->fd, buf, n, (off_t)at);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                e = k < 0 ? errno : EIO;
                continue;
            }
            if (w->hashing)
                xxh3_update(w->hash, buf, (size_t)k);
            at += (uint64_t)k;
            if (at - synced >= WRITEBACK_STEP) {
                sync_file_range(w->fd, (off_t)synced, (off_t)(at - synced),
                                SYNC_FILE_RANGE_WRITE);
                synced = at;
            }
            continue;
        }
        if (end != UINT64_MAX && (at >= end || e))
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 2000000;   /* the writer's next bytes, or its end */
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&w->wb_mu);
        if (w->direct_end == UINT64_MAX)
            pthread_cond_timedwait(&w->wb_cv, &w->wb_mu, &ts);
        pthread_mutex_unlock(&w->wb_mu);
    }
    free(buf);
    pthread_mutex_lock(&w->wb_mu);
    w->direct_hashed = at;
    w->direct_errno = e;
    pthread_mutex_unlock(&w->wb_mu);
    return NULL;
}

/* Start the thread that reads the file back from the current position (the bytes flushed so
 * far are all before it) and hashes what lands after it: 1 started, 0 not (the caller goes on
 * without it). */
static int start_reader(struct sf_writer *w)
{
    writeback_stop(w);
    off_t at = lseek(w->fd, 0, SEEK_CUR);
    if (at < 0 || (uint64_t)at != (uint64_t)w->base + w->flushed)
        return 0;
    w->direct_at = (uint64_t)at;
    w->direct_end = UINT64_MAX;
    w->direct_errno = 0;
    if (pthread_create(&w->direct_thread, NULL, direct_main, w) != 0)
        return 0;
    w->direct = 1;
    return 1;
}

int sf_writer_direct_begin(struct sf_writer *w, int *fd, struct xerr *err)
{
    if (check_state(w, W_STREAM, "direct stream bytes") < 0)
        return report(w, err);
    if (w->cctx || !w->regular || !w->readable || w->body_left || w->direct)
        return 0;
    if (flush(w) < 0)
        return report(w, err);
    if (!start_reader(w))
        return 0;
    *fd = w->fd;
    return 1;
}

uint64_t sf_writer_direct_progress(struct sf_writer *w)
{
    pthread_mutex_lock(&w->wb_mu);
    uint64_t at = w->direct_hashed;
    pthread_mutex_unlock(&w->wb_mu);
    struct stat st;
    if (fstat(w->fd, &st) == 0 && (uint64_t)st.st_size > at)
        at = (uint64_t)st.st_size;
    return at > w->direct_at ? at - w->direct_at : 0;
}

int sf_writer_direct_end(struct sf_writer *w, int ok, struct xerr *err)
{
    if (!w->direct)
        return 0;
    off_t end = ok ? lseek(w->fd, 0, SEEK_CUR) : -1;
    pthread_mutex_lock(&w->wb_mu);
    w->direct_end = end >= 0 ? (uint64_t)end : w->direct_at;
    pthread_cond_signal(&w->wb_cv);
    pthread_mutex_unlock(&w->wb_mu);
    pthread_join(w->direct_thread, NULL);
    w->direct = 0;
    if (!ok) {
        xerr_set(&w->err, "EINVAL", "%s: the stream written into it failed", w->name);
        return failed(w), report(w, err);
    }
    if (end < 0 || w->direct_errno || w->direct_hashed != (uint64_t)end) {
        xerr_errno(&w->err, end < 0 ? errno : w->direct_errno ? w->direct_errno : EIO,
                   "%s: cannot read back the stream written at byte %llu", w->name,
                   (unsigned long long)w->direct_hashed);
        return failed(w), report(w, err);
    }
    uint64_t n = (uint64_t)end - w->direct_at;
    w->total += n;
    w->flushed += n;
    w->writeback = w->flushed;
    return 0;
}

int sf_writer_hash_behind(struct sf_writer *w)
{
    if (w->failed || w->state != W_STREAM || w->cctx || !w->regular || !w->readable ||
        w->direct || w->body_left || !w->hashing || flush(w) < 0)
        return 0;
    if (!start_reader(w))
        return 0;
    w->behind = 1;
    return 1;
}

/* The hash thread of sf_writer_hash_behind reads up to the last byte written, and stops. */
static int behind_stop(struct sf_writer *w)
{
    if (!w->behind)
        return 0;
    uint64_t end = (uint64_t)w->base + w->flushed;
    pthread_mutex_lock(&w->wb_mu);
    w->direct_end = end;
    pthread_cond_signal(&w->wb_cv);
    pthread_mutex_unlock(&w->wb_mu);
    pthread_join(w->direct_thread, NULL);
    w->direct = w->behind = 0;
    if (w->direct_errno || w->direct_hashed != end) {
        xerr_errno(&w->err, w->direct_errno ? w->direct_errno : EIO, "%s: cannot read back the "
                   "bytes written at byte %llu", w->name, (unsigned long long)w->direct_hashed);
        return failed(w);
    }
    return 0;
}

int sf_writer_finish(struct sf_writer *w, int trailer, uint64_t *total, struct xerr *err)
{
    if (check_state(w, W_STREAM, "finish") < 0)
        return report(w, err);
    if (w->cctx && compress(w, NULL, 0, ZSTD_e_end) < 0)
        return report(w, err);
    if (w->behind && (flush(w) < 0 || behind_stop(w) < 0))
        return report(w, err);
    if (trailer) {
        unsigned char t[SF_TRAILER_LEN];
        uint64_t before = w->total;
        XXH128_canonical_t c;
        w->hashing = 0;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(w->hash));
        memcpy(t, SF_TRAILER_MAGIC, 8);
        memcpy(t + 8, &before, 8);
        memcpy(t + 16, c.digest, SF_HASH_LEN);
        if (emit(w, t, sizeof t) < 0)
            return report(w, err);
    }
    if (flush(w) < 0)
        return report(w, err);
    writeback_stop(w);          /* its sync_file_range calls are over before the caller's fsync */
    w->state = W_DONE;
    if (total)
        *total = w->total;
    return 0;
}
