/* core/domain/libxl/dom_libxl_stream.c: save and restore through libxenlight: libxl runs in a
 * worker thread while the calling thread relays the stream between libxl and the savefile codec
 * through a socket pair (so the progress callback, and any Lua behind it, only ever runs on the
 * caller's thread). */
#include "dom_libxl_int.h"

#include "base/cancel.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#define RELAY_BUF (256u << 10)
#define PROGRESS_STEP (4u << 20)

struct job {
    struct lx *x;
    int fd;                    /* libxl's end of the socket pair; closed when libxl returns */
    int restore;
    uint32_t domid;
    int flags;                 /* save: LIBXL_SUSPEND_* */
    libxl_domain_config *dc;   /* restore */
    int rc;
};

void lxb_libxl_thread_signals(void)
{
    sigset_t blocked, chld;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGPIPE);
    /* The signals that stop a save or restore go to the caller's thread, whose blocking calls
     * they interrupt; libxl is then stopped through the relay (or fails once it returns). */
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    /* The caller blocked SIGCHLD for itself: here libxl must get it. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
}

int lxb_create_restore(struct lx *x, libxl_domain_config *dc, uint32_t *domid, int fd)
{
    libxl_domain_restore_params p;
    libxl_domain_restore_params_init(&p);
    p.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    p.stream_version = 2;
    int rc = libxl_domain_create_restore(x->ctx, dc, domid, fd, -1, &p, NULL, NULL);
    libxl_domain_restore_params_dispose(&p);
    return rc;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    lxb_libxl_thread_signals();
    if (j->restore)
        j->rc = lxb_create_restore(j->x, j->dc, &j->domid, j->fd);
    else
        j->rc = libxl_domain_suspend(j->x->ctx, j->domid, j->fd, j->flags, NULL);
    close(j->fd);
    return NULL;
}

static int start_job(struct job *j, pthread_t *t, int *mine, struct xerr *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return xerr_errno(err, errno, "cannot make a socket pair for the stream");
    j->fd = sv[1];
    *mine = sv[0];
    int e = pthread_create(t, NULL, worker, j);
    if (e) {
        close(sv[0]);
        close(sv[1]);
        return xerr_errno(err, e, "cannot start a thread for libxl");
    }
    return 0;
}

/* For an fd another party made non-blocking: wait until it can go on. */
static int wait_fd(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    int r;
    do
        r = poll(&p, 1, -1);
    while (r < 0 && xcancel_retry(errno));
    return r < 0 ? -1 : 0;
}

/* The relaying thread takes no SIGCHLD: libxl's handler (which only wakes libxl's own loop)
 * then runs on the libxl thread, and the relay's reads and the savefile's writes are never
 * interrupted by it. */
static void block_sigchld(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

static int progress(const struct dom_progress *p, uint64_t done, uint64_t total,
                    struct xerr *err)
{
    if (p->fn && p->fn(p->ctx, done < total ? done : total, total))
        return xerr_set(err, "CANCELLED", "cancelled by the progress callback");
    return 0;
}

/* Everything libxl writes, into the savefile writer. */
static int relay_out(int fd, struct sf_writer *w, uint64_t total, const struct dom_progress *p,
                     struct xerr *err)
{
    unsigned char *buf = malloc(RELAY_BUF);
    if (!buf)
        return xerr_errno(err, ENOMEM, "cannot allocate a relay buffer");
    uint64_t done = 0, next = PROGRESS_STEP;
    int rc = 0;
    for (;;) {
        ssize_t n = xcancel_requested() ? (errno = EINTR, -1) : recv(fd, buf, RELAY_BUF, 0);
        if (n < 0 && xcancel_retry(errno))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLIN) == 0)
            continue;
        if (n < 0) {
            rc = xerr_errno(err, errno, "cannot read the stream from libxl");
            break;
        }
        if (n == 0)
            break;
        if ((rc = sf_writer_write(w, buf, (size_t)n, err)) < 0)
            break;
        done += (uint64_t)n;
        if (done >= next && (rc = progress(p, done, total, err)) < 0)
            break;
        while (next <= done)
            next += PROGRESS_STEP;
    }
    free(buf);
    if (rc == 0)
        rc = progress(p, total, total, err);
    return rc;
}

/* xl resumes after any failed save; resuming a guest that never got to suspend (libxl can
 * fail before asking it) would hand it a bogus return from a hypercall it never made, so
 * only a domain that did suspend is resumed (with suspend_cancel, where it was). */
static void resume_if_suspended(struct lx *x, uint32_t domid)
{
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, NULL) < 0)
        return;
    int suspended = d.shutdown && d.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND;
    libxl_dominfo_dispose(&d);
    if (suspended)
        libxl_domain_resume(x->ctx, domid, 1, NULL);
}

int lxb_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
                   const struct dom_progress *p, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot save", &d, err) < 0)
        return -1;
    int bad = d.shutdown || d.dying;
    uint64_t total = d.current_memkb * 1024;
    libxl_dominfo_dispose(&d);
    if (bad)
        return xerr_set(err, "BADSTATE", "domain %u is shut down or dying: it cannot be saved",
                        domid);
    struct job j = { .x = x, .domid = domid,
                     .flags = (live & DOM_SAVE_LIVE ? LIBXL_SUSPEND_LIVE : 0)
                              | (live & DOM_SAVE_DEBUG ? LIBXL_SUSPEND_DEBUG : 0) };
    lxb_log_clear(x);
    /* A regular file without zstd: libxl writes into it itself (dom_libxl_direct.c). */
    int rc = lxb_save_direct(x, domid, w, j.flags, total, p, err);
    if (rc == 1) {
        pthread_t t;
        int mine;
        sigset_t old;
        block_sigchld(&old);
        if (start_job(&j, &t, &mine, err) < 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return -1;
        }
        rc = relay_out(mine, w, total, p, err);
        close(mine);              /* a relay failure makes libxl's writes fail: it returns */
        pthread_join(t, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc == 0 && j.rc)
            rc = lxb_fail(x, err, j.rc, "libxl_domain_suspend of domain %u", domid);
    }
    if (rc < 0) {
        resume_if_suspended(x, domid);
        return -1;
    }
    /* As `xl save`: a domain the caller destroys next stays suspended. */
    if (live & DOM_SAVE_DESTROY)
        return 0;
    return lxb_resume_saved(b, domid, err);
}

/* As `xl save -p`: pause, then cancel the suspend; the caller unpauses or keeps it paused.
 * When the suspend cannot be cancelled, the pause is dropped again, and the error (SUSPENDED)
 * says the domain stays suspended. */
int lxb_resume_saved(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    struct xerr why = { 0 };
    int r = libxl_domain_pause(x->ctx, domid, NULL);
    if (r) {
        lxb_fail(x, &why, r, "libxl_domain_pause of domain %u", domid);
        if (r == ERROR_DOMAIN_NOTFOUND) {
            if (err)
                *err = why;
            return -1;
        }
        return xerr_set(err, "SUSPENDED", "domain %u stays suspended after its save: %s", domid,
                        why.message);
    }
    r = libxl_domain_resume(x->ctx, domid, 1, NULL);
    if (r == 0)
        return 0;
    lxb_fail(x, &why, r, "libxl_domain_resume of domain %u", domid);
    int kept = libxl_domain_unpause(x->ctx, domid, NULL) != 0;
    return xerr_set(err, "SUSPENDED", "domain %u stays suspended%s after its save: %s", domid,
                    kept ? " (and paused)" : "", why.message);
}

static int send_all(int fd, const void *p, size_t n, struct xerr *err)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = xcancel_requested() ? (errno = EINTR, -1) : send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && xcancel_retry(errno))
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT) == 0)
            continue;
        if (k < 0)
            return xerr_errno(err, errno, "libxl stopped reading the stream");
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_record(int fd, int big, const struct sf_record *rec, struct xerr *err)
{
    static const unsigned char zeros[SF_REC_ALIGN];
    unsigned char h[SF_REC_HEADER_LEN];
    sf_put32(h, rec->type, big);
    sf_put32(h + 4, rec->length, big);
    if (send_all(fd, h, sizeof h, err) < 0 || send_all(fd, rec->body, rec->length, err) < 0)
        return -1;
    return send_all(fd, zeros, sf_rec_padded(rec->length) - rec->length, err);
}

/* Re-emit the stream the reader walks: libxl header, records, libxc headers. */
static int relay_in(int fd, struct sf_reader *r, const struct sf_stream_info *si,
                    uint64_t total, const struct dom_progress *p, struct xerr *err)
{
    unsigned char h[SF_LIBXC_IHDR_LEN + SF_LIBXC_DHDR_LEN];
    memcpy(h, SF_LIBXL_IDENT, 8);
    sf_put32(h + 8, si->libxl_version, 1);
    sf_put32(h + 12, si->libxl_options, 1);
    if (send_all(fd, h, SF_LIBXL_HEADER_LEN, err) < 0)
        return -1;
    struct sf_record rec;
    int rc, in_libxc = 0;
    uint64_t done = 0, next = PROGRESS_STEP;
    while ((rc = sf_reader_next(r, &rec, 1, err)) > 0) {
        if (rec.layer == SF_LAYER_LIBXC && !in_libxc) {
            /* The libxc headers come right after LIBXC_CONTEXT; the reader has them now. */
            int big = si->libxc_big_endian;
            memset(h, 0, sizeof h);
            sf_put64(h, SF_LIBXC_MARKER, 1);
            sf_put32(h + 8, SF_LIBXC_ID, 1);
            sf_put32(h + 12, si->libxc_version, 1);
            sf_put16(h + 16, si->libxc_options, 1);
            unsigned char *dh = h + SF_LIBXC_IHDR_LEN;
            sf_put32(dh, si->domain_type, big);
            sf_put16(dh + 4, si->page_shift, big);
            sf_put32(dh + 8, si->xen_major, big);
            sf_put32(dh + 12, si->xen_minor, big);
            if (send_all(fd, h, sizeof h, err) < 0)
                return -1;
            in_libxc = 1;
        }
        int big = rec.layer == SF_LAYER_LIBXC ? si->libxc_big_endian : si->libxl_big_endian;
        if (send_record(fd, big, &rec, err) < 0)
            return -1;
        if (rec.layer == SF_LAYER_LIBXC && rec.type == SF_LIBXC_END)
            in_libxc = 0;
        if (rec.layer == SF_LAYER_LIBXC && rec.type == SF_LIBXC_PAGE_DATA) {
            done += (uint64_t)rec.data_pages << si->page_shift;
            if (done >= next && progress(p, done, total, err) < 0)
                return -1;
            while (next <= done)
                next += PROGRESS_STEP;
        }
    }
    if (rc < 0)
        return -1;
    struct sf_trailer t;
    if (sf_reader_trailer(r, &t, err) < 0)
        return -1;
    if (t.found && !t.matches)
        return xerr_set(err, "BADTRAILER", "the savefile's trailer does not match its bytes "
                        "(%s): the domain is not restored", t.length_matches ? "hash differs"
                        : "length differs");
    return progress(p, total, total, err);
}

int lxb_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                      const struct dom_progress *p, uint32_t *domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_config dc;
    const struct sf_stream_info *si;
    if (lxb_parse_config(x, c, &dc, err) < 0 || sf_reader_stream(r, &si, err) < 0) {
        libxl_domain_config_dispose(&dc);
        return -1;
    }
    struct job j = { .x = x, .restore = 1, .domid = INVALID_DOMID, .dc = &dc };
    lxb_log_clear(x);
    /* A regular file with a trailer, no zstd: libxl reads it itself (dom_libxl_direct.c). */
    int rc = lxb_restore_direct(x, &dc, r, c->memory_kb * 1024, p, &j.domid, err);
    if (rc == 1) {
        pthread_t t;
        int mine;
        sigset_t old;
        block_sigchld(&old);
        if (start_job(&j, &t, &mine, err) < 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            libxl_domain_config_dispose(&dc);
            return -1;
        }
        rc = relay_in(mine, r, si, c->memory_kb * 1024, p, err);
        /* A relay failure ends libxl's stream early: it fails and returns. The domain stays
         * paused until the trailer has been checked. */
        close(mine);
        pthread_join(t, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        /* libxl stopping to read (EPIPE) is its failure: say what libxl said, not "broken
         * pipe". */
        int libxl_first = rc < 0 && err && err->code && strcmp(err->code, "EPIPE") == 0;
        if ((rc == 0 || libxl_first) && j.rc)
            rc = lxb_fail(x, err, j.rc, "libxl_domain_create_restore of '%s'", dc.c_info.name);
    }
    if (rc == 0 && !c->paused && (j.rc = libxl_domain_unpause(x->ctx, j.domid, NULL)) != 0)
        rc = lxb_fail(x, err, j.rc, "libxl_domain_unpause of restored domain %u", j.domid);
    libxl_domain_config_dispose(&dc);
    if (rc < 0) {
        lxb_destroy_quietly(x, j.domid);
        return -1;
    }
    *domid = j.domid;
    return 0;
}
