/* core/domain/libxl/dom_libxl_direct.c: save and restore with a regular file without zstd, as
 * xl does them: on save libxl (its save helper) writes the stream straight into the savefile's
 * fd, and the writer's thread reads the bytes back behind it for the trailer's hash and starts
 * their writeback (sf_writer_direct_*); on restore libxl reads the stream from the file's fd
 * while a thread checks the trailer against the file, and the domain stays paused until it
 * matches (sf_reader_handoff). The caller's thread meanwhile reports progress. A pipe, a socket,
 * -z or a file without a trailer goes through the relay of dom_libxl_stream.c instead. */
#include "dom_libxl_int.h"

#include "base/cancel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#define POLL_MS 100

struct suspend_job {
    struct lx *x;
    uint32_t domid;
    int fd, flags, rc;
    int done;                  /* write end of a pipe: closed when libxl returned */
};

static void *suspend_main(void *arg)
{
    struct suspend_job *j = arg;
    lxb_libxl_thread_signals();
    j->rc = libxl_domain_suspend(j->x->ctx, j->domid, j->fd, j->flags, NULL);
    close(j->done);
    return NULL;
}

int lxb_save_direct(struct lx *x, uint32_t domid, struct sf_writer *w, int flags,
                    uint64_t total, const struct dom_progress *p, struct xerr *err)
{
    int fd;
    int d = sf_writer_direct_begin(w, &fd, err);
    if (d <= 0)
        return d < 0 ? -1 : 1;
    int done[2];
    if (pipe2(done, O_CLOEXEC) < 0) {
        xerr_errno(err, errno, "cannot make a pipe for the save");
        sf_writer_direct_end(w, 0, NULL);
        return -1;
    }
    struct suspend_job j = { .x = x, .domid = domid, .fd = fd, .flags = flags, .done = done[1] };
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    pthread_t t;
    int e = pthread_create(&t, NULL, suspend_main, &j);
    if (e) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(done[0]);
        close(done[1]);
        sf_writer_direct_end(w, 0, NULL);
        return xerr_errno(err, e, "cannot start a thread for libxl");
    }
    /* libxl cannot be stopped halfway here (no relay to close): a stop asked for meanwhile
     * fails the save once it returns, and the caller resumes the guest. */
    int stopped = 0;
    struct xerr why = { 0 };
    for (;;) {
        struct pollfd pf = { .fd = done[0], .events = POLLIN };
        int r = poll(&pf, 1, POLL_MS);
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR)
            continue;
        if (!stopped && xcancel_requested()) {
            stopped = 1;
            xerr_errno(&why, EINTR, "the save of domain %u was interrupted", domid);
        }
        uint64_t n = sf_writer_direct_progress(w);
        if (!stopped && p->fn && p->fn(p->ctx, n < total ? n : total, total)) {
            stopped = 1;
            xerr_set(&why, "CANCELLED", "cancelled by the progress callback");
        }
    }
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(done[0]);
    int rc = sf_writer_direct_end(w, j.rc == 0 && !stopped, j.rc || stopped ? NULL : err);
    if (j.rc)
        return lxb_fail(x, err, j.rc, "libxl_domain_suspend of domain %u", domid);
    if (stopped) {
        if (err)
            *err = why;
        return -1;
    }
    if (rc < 0)
        return -1;
    if (p->fn && p->fn(p->ctx, total, total))
        return xerr_set(err, "CANCELLED", "cancelled by the progress callback");
    return 0;
}

/* ---- restore: libxl reads the stream from the savefile itself ---- */

struct restore_job {
    struct lx *x;
    libxl_domain_config *dc;
    uint32_t domid;
    int fd, rc;
    int done;
};

static void *restore_main(void *arg)
{
    struct restore_job *j = arg;
    lxb_libxl_thread_signals();
    j->rc = lxb_create_restore(j->x, j->dc, &j->domid, j->fd);
    close(j->done);
    return NULL;
}

int lxb_restore_direct(struct lx *x, libxl_domain_config *dc, struct sf_reader *r,
                       uint64_t total, const struct dom_progress *p, uint32_t *domid,
                       struct xerr *err)
{
    int fd;
    int d = sf_reader_handoff(r, &fd, err);
    if (d <= 0)
        return d < 0 ? -1 : 1;
    int done[2];
    if (pipe2(done, O_CLOEXEC) < 0) {
        xerr_errno(err, errno, "cannot make a pipe for the restore");
        sf_reader_handoff_check(r, NULL);
        return -1;
    }
    struct restore_job j = { .x = x, .dc = dc, .domid = INVALID_DOMID, .fd = fd,
                             .done = done[1] };
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    pthread_t t;
    int e = pthread_create(&t, NULL, restore_main, &j);
    if (e) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(done[0]);
        close(done[1]);
        sf_reader_handoff_check(r, NULL);
        return xerr_errno(err, e, "cannot start a thread for libxl");
    }
    int stopped = 0;
    struct xerr why = { 0 };
    for (;;) {
        struct pollfd pf = { .fd = done[0], .events = POLLIN };
        int n = poll(&pf, 1, POLL_MS);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            continue;
        if (!stopped && xcancel_requested()) {
            stopped = 1;
            xerr_errno(&why, EINTR, "the restore of '%s' was interrupted", dc->c_info.name);
        }
        uint64_t at = sf_reader_handoff_progress(r);
        if (!stopped && p->fn && p->fn(p->ctx, at < total ? at : total, total)) {
            stopped = 1;
            xerr_set(&why, "CANCELLED", "cancelled by the progress callback");
        }
    }
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(done[0]);
    /* The domain libxl built stays paused until the whole file proved to be what was saved. */
    struct xerr check_err = { 0 };
    int check = sf_reader_handoff_check(r, &check_err);
    *domid = j.domid;
    if (j.rc)
        return lxb_fail(x, err, j.rc, "libxl_domain_create_restore of '%s'", dc->c_info.name);
    if (check < 0) {
        if (err)
            *err = check_err;
        return -1;
    }
    if (stopped) {
        if (err)
            *err = why;
        return -1;
    }
    if (p->fn && p->fn(p->ctx, total, total))
        return xerr_set(err, "CANCELLED", "cancelled by the progress callback");
    return 0;
}
