/* core/dom_libxl.c: the libxl backend: the domain operations through libxenlight, as xl does
 * them, with libxl's log captured into the error message and the migration stream relayed
 * between libxl and the savefile codec through a socket pair.
 *
 * Save and restore run libxl in a worker thread while the calling thread relays the stream
 * (so the progress callback, and any Lua behind it, only ever runs on the caller's thread).
 * The config store is the userdata "xlua" of the domain: one blob holding every key. */
#include "dom.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>

#include "sf_reader.h"
#include "sf_writer.h"

#define USERDATA_ID "xlua"
#define STORE_MAGIC "XLST"
#define RELAY_BUF (256u << 10)
#define PROGRESS_STEP (4u << 20)

/* A xentoollog logger that prints nothing and keeps the last error line. */
struct capture {
    xentoollog_logger vt;
    pthread_mutex_t lock;
    char last[320];
};

struct lx {
    struct dom_backend base;
    libxl_ctx *ctx;
    struct capture log;
};

static struct lx *X(struct dom_backend *b)
{
    return (struct lx *)b;
}

static void capture_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                             const char *context, const char *fmt, va_list ap)
{
    struct capture *c = (struct capture *)lg;
    if (level < XTL_ERROR)
        return;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&c->lock);
    if (errnoval > 0)
        snprintf(c->last, sizeof c->last, "%s%s%s: %s", context ? context : "",
                 context ? ": " : "", msg, strerror(errnoval));
    else
        snprintf(c->last, sizeof c->last, "%s%s%s", context ? context : "", context ? ": " : "",
                 msg);
    pthread_mutex_unlock(&c->lock);
}

static void capture_progress(xentoollog_logger *lg, const char *context, const char *doing,
                             int percent, unsigned long done, unsigned long total)
{
    (void)lg, (void)context, (void)doing, (void)percent, (void)done, (void)total;
}

static void capture_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

static void log_clear(struct lx *x)
{
    pthread_mutex_lock(&x->log.lock);
    x->log.last[0] = '\0';
    pthread_mutex_unlock(&x->log.lock);
}

/* A libxl call failed: NODOMAIN / ENOMEM / LIBXL, naming the call and libxl's last word. */
static int lx_fail(struct lx *x, struct xerr *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int lx_fail(struct lx *x, struct xerr *err, int rc, const char *fmt, ...)
{
    char what[200], last[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&x->log.lock);
    snprintf(last, sizeof last, "%s", x->log.last);
    pthread_mutex_unlock(&x->log.lock);
    const char *code = rc == ERROR_DOMAIN_NOTFOUND ? "NODOMAIN" : rc == ERROR_NOMEM ? "ENOMEM"
                       : "LIBXL";
    const char *name = libxl_error_to_string(rc);
    return xerr_set(err, code, "%s failed (%s)%s%s", what, name ? name : "error", last[0] ? ": "
                    : "", last);
}

/* ---- opening ---- */

static const struct dom_ops libxl_ops;

/* libxl owns SIGCHLD for the whole life of the context (not only around each of its children,
 * the save helper and hotplug scripts, while another thread of ours is in a system call), but
 * reaps only its own children: xlua's Lua code runs children of its own (os.execute,
 * io.popen) and waits for them itself, which libxl_sigchld_owner_libxl_always would steal. */
static const libxl_childproc_hooks childproc_hooks = {
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

int dom_libxl_open(struct dom_backend **out, struct xerr *err)
{
    const char *why;
    *out = NULL;
    if (!dom_have_xen(&why))
        return xerr_set(err, "NOXEN", "no Xen control domain here: /proc/xen/capabilities %s",
                        why);
    struct lx *x = calloc(1, sizeof *x);
    if (!x)
        return xerr_errno(err, ENOMEM, "cannot open the libxl backend");
    x->base.ops = &libxl_ops;
    x->log.vt.vmessage = capture_vmessage;
    x->log.vt.progress = capture_progress;
    x->log.vt.destroy = capture_destroy;
    pthread_mutex_init(&x->log.lock, NULL);
    int rc = libxl_ctx_alloc(&x->ctx, LIBXL_VERSION, 0, &x->log.vt);
    if (rc) {
        lx_fail(x, err, rc, "libxl_ctx_alloc");
        pthread_mutex_destroy(&x->log.lock);
        free(x);
        return -1;
    }
    libxl_childproc_setmode(x->ctx, &childproc_hooks, NULL);
    *out = &x->base;
    return 0;
}

static void lx_close(struct dom_backend *b)
{
    struct lx *x = X(b);
    libxl_ctx_free(x->ctx);
    pthread_mutex_destroy(&x->log.lock);
    free(x);
}

/* ---- reading ---- */

static void fill_info(struct lx *x, const libxl_dominfo *d, struct dom_info *i)
{
    memset(i, 0, sizeof *i);
    i->domid = d->domid;
    char *name = libxl_domid_to_name(x->ctx, d->domid);
    snprintf(i->name, sizeof i->name, "%s", name ? name : "");
    free(name);
    snprintf(i->uuid, sizeof i->uuid, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(d->uuid));
    i->state = d->dying ? DOM_DYING : d->shutdown ? DOM_SHUTDOWN : d->paused ? DOM_PAUSED
               : DOM_RUNNING;
    i->type = d->domain_type == LIBXL_DOMAIN_TYPE_HVM ? DOM_HVM
              : d->domain_type == LIBXL_DOMAIN_TYPE_PVH ? DOM_PVH : DOM_PV;
    i->memory_kb = d->current_memkb;
    i->max_memory_kb = d->max_memkb;
    i->vcpus = d->vcpu_online;
}

static int lx_list(struct dom_backend *b, struct dom_info **out, size_t *n, struct xerr *err)
{
    struct lx *x = X(b);
    int count = 0;
    log_clear(x);
    libxl_dominfo *v = libxl_list_domain(x->ctx, &count);
    if (!v)
        return lx_fail(x, err, ERROR_FAIL, "libxl_list_domain");
    struct dom_info *r = malloc(((size_t)count + 1) * sizeof *r);
    if (!r) {
        libxl_dominfo_list_free(v, count);
        return xerr_errno(err, ENOMEM, "cannot list the domains");
    }
    for (int k = 0; k < count; k++)
        fill_info(x, &v[k], &r[k]);
    libxl_dominfo_list_free(v, count);
    *out = r;
    *n = (size_t)count;
    return 0;
}

static int lx_host(struct dom_backend *b, struct dom_host *out, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_physinfo info;
    libxl_physinfo_init(&info);
    log_clear(x);
    int rc = libxl_get_physinfo(x->ctx, &info);
    if (rc == 0) {
        /* Xen counts pages of 4 KiB on x86. */
        out->total_memory_kb = info.total_pages * 4;
        out->free_memory_kb = info.free_pages * 4;
        out->cpus = info.nr_cpus;
    }
    libxl_physinfo_dispose(&info);
    return rc == 0 ? 0 : lx_fail(x, err, rc, "libxl_get_physinfo");
}

static int get_dominfo(struct lx *x, uint32_t domid, libxl_dominfo *d, struct xerr *err)
{
    libxl_dominfo_init(d);
    log_clear(x);
    int rc = libxl_domain_info(x->ctx, d, domid);
    if (rc == ERROR_DOMAIN_NOTFOUND || (rc == 0 && d->domid != domid)) {
        libxl_dominfo_dispose(d);
        return xerr_set(err, "NODOMAIN", "no domain with id %u", domid);
    }
    if (rc) {
        libxl_dominfo_dispose(d);
        return lx_fail(x, err, rc, "libxl_domain_info of domain %u", domid);
    }
    return 0;
}

static int lx_info(struct dom_backend *b, uint32_t domid, struct dom_info *out,
                   struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (get_dominfo(x, domid, &d, err) < 0)
        return -1;
    fill_info(x, &d, out);
    libxl_dominfo_dispose(&d);
    return 0;
}

/* A guest domain that exists, or NODOMAIN; Domain-0 is EPERM: "<what> Domain-0". */
static int check_guest(struct lx *x, uint32_t domid, const char *what, libxl_dominfo *d,
                       struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "%s Domain-0", what);
    return get_dominfo(x, domid, d, err);
}

static int name_taken(struct lx *x, const char *name, uint32_t self, struct xerr *err)
{
    uint32_t other;
    if (libxl_name_to_domid(x->ctx, name, &other) == 0 && other != self)
        return xerr_set(err, "EXISTS", "a domain named '%s' already exists (domid %u)", name,
                        other);
    return 0;
}

/* ---- creating ---- */

static int parse_config(struct lx *x, const struct dom_create *c, libxl_domain_config *dc,
                        struct xerr *err)
{
    libxl_domain_config_init(dc);
    if (!c->json)
        return xerr_set(err, "EINVAL", "the libxl backend creates a domain from its libxl JSON, "
                        "and none was given");
    log_clear(x);
    int rc = libxl_domain_config_from_json(x->ctx, dc, c->json);
    if (rc) {
        lx_fail(x, err, rc, "libxl_domain_config_from_json");
        if (err)
            err->code = "BADJSON";
        return -1;
    }
    if (c->name) {
        free(dc->c_info.name);
        dc->c_info.name = strdup(c->name);
    }
    if (c->uuid && libxl_uuid_from_string(&dc->c_info.uuid, c->uuid) != 0)
        return xerr_set(err, "EINVAL", "'%s' is not a uuid", c->uuid);
    if (!dc->c_info.name || !dc->c_info.name[0])
        return xerr_set(err, "EINVAL", "the domain config has no name");
    return name_taken(x, dc->c_info.name, INVALID_DOMID, err);
}

static void destroy_quietly(struct lx *x, uint32_t domid)
{
    if (libxl_domid_valid_guest(domid))
        libxl_domain_destroy(x->ctx, domid, NULL);
}

static int lx_create(struct dom_backend *b, const struct dom_create *c, uint32_t *domid,
                     struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_config dc;
    if (parse_config(x, c, &dc, err) < 0) {
        libxl_domain_config_dispose(&dc);
        return -1;
    }
    uint32_t id = INVALID_DOMID;
    log_clear(x);
    /* Synchronous: returns once the domain is built (bootloader and devices included),
     * paused; xl then unpauses it unless -p. */
    int rc = libxl_domain_create_new(x->ctx, &dc, &id, NULL, NULL);
    if (rc) {
        lx_fail(x, err, rc, "libxl_domain_create_new of '%s'", dc.c_info.name);
        destroy_quietly(x, id);
    } else if (!c->paused && (rc = libxl_domain_unpause(x->ctx, id, NULL)) != 0) {
        lx_fail(x, err, rc, "libxl_domain_unpause of new domain %u", id);
        destroy_quietly(x, id);
    }
    libxl_domain_config_dispose(&dc);
    if (rc)
        return -1;
    *domid = id;
    return 0;
}

/* ---- lifecycle ---- */

static int lx_destroy(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (check_guest(x, domid, "cannot destroy", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    log_clear(x);
    int rc = libxl_domain_destroy(x->ctx, domid, NULL);
    return rc ? lx_fail(x, err, rc, "libxl_domain_destroy of domain %u", domid) : 0;
}

static int lx_pause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (check_guest(x, domid, "cannot pause", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    /* Xen counts toolstack pauses, so pausing a paused domain succeeds, as with xl. */
    log_clear(x);
    int rc = libxl_domain_pause(x->ctx, domid, NULL);
    return rc ? lx_fail(x, err, rc, "libxl_domain_pause of domain %u", domid) : 0;
}

static int lx_unpause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (check_guest(x, domid, "cannot unpause", &d, err) < 0)
        return -1;
    int paused = d.paused;
    libxl_dominfo_dispose(&d);
    /* Xen says EINVAL for an unpause without a pause; say why instead. */
    if (!paused)
        return xerr_set(err, "BADSTATE", "domain %u is not paused", domid);
    log_clear(x);
    int rc = libxl_domain_unpause(x->ctx, domid, NULL);
    return rc ? lx_fail(x, err, rc, "libxl_domain_unpause of domain %u", domid) : 0;
}

static int lx_rename(struct dom_backend *b, uint32_t domid, const char *name,
                     struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (check_guest(x, domid, "cannot rename", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    if (name_taken(x, name, domid, err) < 0)
        return -1;
    log_clear(x);
    int rc = libxl_domain_rename(x->ctx, domid, NULL, name);
    return rc ? lx_fail(x, err, rc, "libxl_domain_rename of domain %u", domid) : 0;
}

static int lx_config(struct dom_backend *b, uint32_t domid, char **json, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (check_guest(x, domid, "no libxl config for", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    libxl_domain_config dc;
    libxl_domain_config_init(&dc);
    log_clear(x);
    int rc = libxl_retrieve_domain_configuration(x->ctx, domid, &dc, NULL);
    if (rc == 0) {
        *json = libxl_domain_config_to_json(x->ctx, &dc);
        if (!*json)
            rc = ERROR_NOMEM;
    }
    libxl_domain_config_dispose(&dc);
    return rc ? lx_fail(x, err, rc, "libxl_retrieve_domain_configuration of domain %u", domid)
              : 0;
}

/* ---- the stream: libxl in a worker thread, the relay on the caller's thread ---- */

struct job {
    struct lx *x;
    int fd;                    /* libxl's end of the socket pair; closed when libxl returns */
    int restore;
    uint32_t domid;
    int flags;                 /* save: LIBXL_SUSPEND_* */
    libxl_domain_config *dc;   /* restore */
    int rc;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    sigset_t pipe, chld;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    /* The caller blocked SIGCHLD for its relay: here libxl must get it. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
    if (j->restore) {
        libxl_domain_restore_params p;
        libxl_domain_restore_params_init(&p);
        p.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
        p.stream_version = 2;
        j->rc = libxl_domain_create_restore(j->x->ctx, j->dc, &j->domid, j->fd, -1, &p, NULL,
                                            NULL);
        libxl_domain_restore_params_dispose(&p);
    } else {
        j->rc = libxl_domain_suspend(j->x->ctx, j->domid, j->fd, j->flags, NULL);
    }
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
    while (r < 0 && errno == EINTR);
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
        ssize_t n = recv(fd, buf, RELAY_BUF, 0);
        if (n < 0 && errno == EINTR)
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
    if (get_dominfo(x, domid, &d, NULL) < 0)
        return;
    int suspended = d.shutdown && d.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND;
    libxl_dominfo_dispose(&d);
    if (suspended)
        libxl_domain_resume(x->ctx, domid, 1, NULL);
}

static int lx_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
                   const struct dom_progress *p, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (check_guest(x, domid, "cannot save", &d, err) < 0)
        return -1;
    int bad = d.shutdown || d.dying;
    uint64_t total = d.current_memkb * 1024;
    libxl_dominfo_dispose(&d);
    if (bad)
        return xerr_set(err, "BADSTATE", "domain %u is shut down or dying: it cannot be saved",
                        domid);
    struct job j = { .x = x, .domid = domid, .flags = live ? LIBXL_SUSPEND_LIVE : 0 };
    pthread_t t;
    int mine;
    sigset_t old;
    log_clear(x);
    block_sigchld(&old);
    if (start_job(&j, &t, &mine, err) < 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    int rc = relay_out(mine, w, total, p, err);
    close(mine);              /* a relay failure makes libxl's writes fail: it returns */
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0 && j.rc)
        rc = lx_fail(x, err, j.rc, "libxl_domain_suspend of domain %u", domid);
    if (rc < 0) {
        resume_if_suspended(x, domid);
        return -1;
    }
    /* As `xl save -p`: pause, then cancel the suspend; the policy destroys or unpauses. */
    int r2 = libxl_domain_pause(x->ctx, domid, NULL);
    if (r2 == 0)
        r2 = libxl_domain_resume(x->ctx, domid, 1, NULL);
    return r2 ? lx_fail(x, err, r2, "resuming domain %u paused after its save", domid) : 0;
}

static int send_all(int fd, const void *p, size_t n, struct xerr *err)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
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

static int lx_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                      const struct dom_progress *p, uint32_t *domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_config dc;
    const struct sf_stream_info *si;
    if (parse_config(x, c, &dc, err) < 0 || sf_reader_stream(r, &si, err) < 0) {
        libxl_domain_config_dispose(&dc);
        return -1;
    }
    struct job j = { .x = x, .restore = 1, .domid = INVALID_DOMID, .dc = &dc };
    pthread_t t;
    int mine;
    sigset_t old;
    log_clear(x);
    block_sigchld(&old);
    if (start_job(&j, &t, &mine, err) < 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        libxl_domain_config_dispose(&dc);
        return -1;
    }
    int rc = relay_in(mine, r, si, c->memory_kb * 1024, p, err);
    /* A relay failure ends libxl's stream early: it fails and returns. The domain stays
     * paused until the trailer has been checked. */
    close(mine);
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* libxl stopping to read (EPIPE) is its failure: say what libxl said, not "broken pipe". */
    int libxl_first = rc < 0 && err && err->code && strcmp(err->code, "EPIPE") == 0;
    if ((rc == 0 || libxl_first) && j.rc)
        rc = lx_fail(x, err, j.rc, "libxl_domain_create_restore of '%s'", dc.c_info.name);
    if (rc == 0 && !c->paused && (j.rc = libxl_domain_unpause(x->ctx, j.domid, NULL)) != 0)
        rc = lx_fail(x, err, j.rc, "libxl_domain_unpause of restored domain %u", j.domid);
    libxl_domain_config_dispose(&dc);
    if (rc < 0) {
        destroy_quietly(x, j.domid);
        return -1;
    }
    *domid = j.domid;
    return 0;
}

/* ---- the config store: userdata "xlua", {u32 key length, key, u32 value length, value}*
 * after "XLST", lengths little-endian ---- */

struct blob {
    uint8_t *p;
    int n;
};

static int store_load(struct lx *x, uint32_t domid, struct blob *bl, struct xerr *err)
{
    libxl_dominfo d;
    bl->p = NULL;
    bl->n = 0;
    if (check_guest(x, domid, "no config store for", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    log_clear(x);
    int rc = libxl_userdata_retrieve(x->ctx, domid, USERDATA_ID, &bl->p, &bl->n);
    if (rc)
        return lx_fail(x, err, rc, "libxl_userdata_retrieve of domain %u", domid);
    if (bl->n && (bl->n < 4 || memcmp(bl->p, STORE_MAGIC, 4) != 0)) {
        free(bl->p);
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    }
    return 0;
}

/* The next entry at *off: key and value spans; 1 found, 0 end, -1 damaged. */
static int store_next(const struct blob *bl, int *off, const uint8_t **k, uint32_t *kl,
                      const uint8_t **v, uint32_t *vl)
{
    if (*off < 4)
        *off = 4;
    if (*off >= bl->n)
        return 0;
    size_t left = (size_t)(bl->n - *off);
    const uint8_t *q = bl->p + *off;
    if (left < 4 || (*kl = sf_get32(q, 0)) > left - 4 || left - 4 - *kl < 4)
        return -1;
    *k = q + 4;
    *vl = sf_get32(q + 4 + *kl, 0);
    if (*vl > left - 8 - *kl)
        return -1;
    *v = q + 8 + *kl;
    *off += (int)(8 + *kl + *vl);
    return 1;
}

/* Rewrite the blob without key, then with key = v when v is not NULL. */
static int store_save(struct lx *x, uint32_t domid, const struct blob *bl, const char *key,
                      const void *v, size_t vn, struct xerr *err)
{
    size_t klen = strlen(key), cap = 4 + (size_t)bl->n + 8 + klen + vn;
    if (cap > INT32_MAX)
        return xerr_set(err, "EINVAL", "the config store of domain %u would be over 2 GiB",
                        domid);
    uint8_t *out = malloc(cap), *q = out + 4;
    if (!out)
        return xerr_errno(err, ENOMEM, "cannot update the config store of domain %u", domid);
    memcpy(out, STORE_MAGIC, 4);
    int off = 0, more;
    const uint8_t *k, *val;
    uint32_t kl, vl;
    while ((more = store_next(bl, &off, &k, &kl, &val, &vl)) > 0) {
        if (kl == klen && memcmp(k, key, klen) == 0)
            continue;
        sf_put32(q, kl, 0);
        memcpy(q + 4, k, kl);
        sf_put32(q + 4 + kl, vl, 0);
        memcpy(q + 8 + kl, val, vl);
        q += 8 + kl + vl;
    }
    if (v) {
        sf_put32(q, (uint32_t)klen, 0);
        memcpy(q + 4, key, klen);
        sf_put32(q + 4 + klen, (uint32_t)vn, 0);
        memcpy(q + 8 + klen, v, vn);
        q += 8 + klen + vn;
    }
    int len = (int)(q - out);
    if (more == 0 && len == (bl->n ? bl->n : 4) && (!bl->n || memcmp(out, bl->p, (size_t)len) == 0)) {
        free(out);              /* nothing changes (removing an absent key) */
        return 0;
    }
    log_clear(x);
    /* An empty store is no userdata at all (length 0 deletes it). */
    int rc = libxl_userdata_store(x->ctx, domid, USERDATA_ID, out, len > 4 ? len : 0);
    free(out);
    if (more < 0)
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    return rc ? lx_fail(x, err, rc, "libxl_userdata_store of domain %u", domid) : 0;
}

static int lx_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                        size_t n, struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int rc = store_save(x, domid, &bl, key, v ? v : "", n, err);
    free(bl.p);
    return rc;
}

static int lx_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v,
                        size_t *n, struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int off = 0, more;
    const uint8_t *k, *val;
    uint32_t kl, vl;
    size_t klen = strlen(key);
    while ((more = store_next(&bl, &off, &k, &kl, &val, &vl)) > 0) {
        if (kl != klen || memcmp(k, key, klen) != 0)
            continue;
        *v = malloc((size_t)vl + 1);
        if (!*v) {
            free(bl.p);
            return xerr_errno(err, ENOMEM, "cannot read the config store of domain %u", domid);
        }
        memcpy(*v, val, vl);
        (*v)[vl] = '\0';
        *n = vl;
        free(bl.p);
        return 0;
    }
    free(bl.p);
    if (more < 0)
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    return xerr_set(err, "ENOENT", "domain %u has no store key '%s'", domid, key);
}

static int lx_store_remove(struct dom_backend *b, uint32_t domid, const char *key,
                           struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int rc = store_save(x, domid, &bl, key, NULL, 0, err);
    free(bl.p);
    return rc;
}

static int lx_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                         struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int off = 0, more;
    const uint8_t *k, *val;
    uint32_t kl, vl;
    size_t len = 0, cap = 0;
    char **v = NULL;
    while ((more = store_next(&bl, &off, &k, &kl, &val, &vl)) > 0) {
        if (len == cap) {
            cap = cap ? 2 * cap : 8;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                goto nomem;
            v = nv;
        }
        if (!(v[len] = strndup((const char *)k, kl)))
            goto nomem;
        len++;
    }
    free(bl.p);
    if (more < 0) {
        dom_strv_free(v, len);
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    }
    *keys = v;
    *n = len;
    return 0;
nomem:
    free(bl.p);
    dom_strv_free(v, len);
    return xerr_errno(err, ENOMEM, "cannot list the config store of domain %u", domid);
}

static const struct dom_ops libxl_ops = {
    .name = "libxl",
    .close = lx_close,
    .list = lx_list,
    .host = lx_host,
    .info = lx_info,
    .create = lx_create,
    .destroy = lx_destroy,
    .pause = lx_pause,
    .unpause = lx_unpause,
    .rename = lx_rename,
    .config = lx_config,
    .save = lx_save,
    .restore = lx_restore,
    .store_put = lx_store_put,
    .store_get = lx_store_get,
    .store_remove = lx_store_remove,
    .store_keys = lx_store_keys,
    .sim_shutdown = NULL,
};
