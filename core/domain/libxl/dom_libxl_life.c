/* core/domain/libxl/dom_libxl_life.c: a domain's life through libxenlight, as xl does it:
 * shutdown and reboot requests (with the ACPI fallback), sysrq, waiting on libxl's domain-death
 * events (with a timeout, through libxl's own poll fds), preserving a dead domain under another
 * name (rename-restart) and dumping its core. */
#include "dom_libxl_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/cancel.h"
#include "savefile/atomic_file.h"

#define POLL_FDS 64

int lxb_request(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    const char *what = req == DOM_REQ_REBOOT ? "cannot reboot" : "cannot shut down";
    if (lxb_check_guest(x, domid, what, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    lxb_log_clear(x);
    int rc = req == DOM_REQ_REBOOT ? libxl_domain_reboot(x->ctx, domid, NULL)
                                   : libxl_domain_shutdown(x->ctx, domid, NULL);
    if (rc == ERROR_NOPARAVIRT) {
        if (!fallback)
            return xerr_set(err, "NOPARAVIRT", "PV control interface not available: use -F "
                            "to send an ACPI %s event", req == DOM_REQ_REBOOT ? "reset"
                            : "power button");
        rc = libxl_send_trigger(x->ctx, domid, req == DOM_REQ_REBOOT ? LIBXL_TRIGGER_RESET
                                : LIBXL_TRIGGER_POWER, 0, NULL);
    }
    return rc ? lxb_fail(x, err, rc, "%s of domain %u", req == DOM_REQ_REBOOT
                         ? "libxl_domain_reboot" : "libxl_domain_shutdown", domid) : 0;
}

int lxb_trigger(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot send a trigger to", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    lxb_log_clear(x);
    int rc = libxl_send_trigger(x->ctx, domid, (libxl_trigger)t, vcpu, NULL);
    return rc ? lxb_fail(x, err, rc, "libxl_send_trigger to domain %u", domid) : 0;
}

int lxb_sysrq(struct dom_backend *b, uint32_t domid, char key, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot send a sysrq to", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    lxb_log_clear(x);
    int rc = libxl_send_sysrq(x->ctx, domid, key);
    return rc ? lxb_fail(x, err, rc, "libxl_send_sysrq to domain %u", domid) : 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One event from libxl about domid: 1 shut down (out filled), -1 gone (NODOMAIN), 0 none. */
static int take_event(struct lx *x, uint32_t domid, struct dom_info *out, struct xerr *err)
{
    libxl_event *ev;
    int rc = libxl_event_check(x->ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
    if (rc == ERROR_NOT_READY)
        return 0;
    if (rc)
        return lxb_fail(x, err, rc, "libxl_event_check");
    int result = 0;
    if (ev->domid == domid && ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN) {
        libxl_dominfo d;
        if (lxb_get_dominfo(x, domid, &d, err) < 0) {
            result = -1;
        } else {
            lxb_fill_info(x, &d, out);
            out->reason = (enum dom_reason)ev->u.domain_shutdown.shutdown_reason;
            libxl_dominfo_dispose(&d);
            result = 1;
        }
    } else if (ev->domid == domid && ev->type == LIBXL_EVENT_TYPE_DOMAIN_DEATH) {
        result = xerr_set(err, "NODOMAIN", "domain %u is gone", domid);
    }
    libxl_event_free(x->ctx, ev);
    return result;
}

int lxb_wait_shutdown(struct dom_backend *b, uint32_t domid, int timeout_ms,
                      struct dom_info *out, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_evgen_domain_death *watch = NULL;
    lxb_log_clear(x);
    int rc = libxl_evenable_domain_death(x->ctx, domid, 0, &watch);
    if (rc)
        return rc == ERROR_DOMAIN_NOTFOUND ? xerr_set(err, "NODOMAIN", "no domain with id %u",
                                                      domid)
                                           : lxb_fail(x, err, rc, "libxl_evenable_domain_death");
    long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    int result;
    for (;;) {
        if ((result = take_event(x, domid, out, err)) != 0)
            break;
        if (xcancel_requested()) {
            result = xerr_set(err, "INTERRUPTED", "interrupted while waiting for domain %u",
                              domid);
            break;
        }
        long left = deadline < 0 ? 1000 : deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd fds[POLL_FDS];
        int nfds = POLL_FDS, tmo = left > 1000 ? 1000 : (int)left;
        struct timeval tv;
        gettimeofday(&tv, NULL);
        rc = libxl_osevent_beforepoll(x->ctx, &nfds, fds, &tmo, tv);
        if (rc) {
            result = lxb_fail(x, err, rc, "libxl_osevent_beforepoll");
            break;
        }
        if (poll(fds, (nfds_t)nfds, tmo) < 0 && errno != EINTR) {
            result = xerr_errno(err, errno, "cannot wait for domain %u", domid);
            break;
        }
        gettimeofday(&tv, NULL);
        libxl_osevent_afterpoll(x->ctx, nfds, fds, tv);
    }
    libxl_evdisable_domain_death(x->ctx, watch);
    return result;
}

int lxb_console(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                int out_fd, struct xerr *err)
{
    struct lx *x = X(b);
    (void)out_fd; /* xenconsole talks to the terminal itself */
    lxb_log_clear(x);
    int rc = type == DOM_CONSOLE_PRIMARY
             ? libxl_primary_console_exec(x->ctx, domid, -1)
             : libxl_console_exec(x->ctx, domid, num, type == DOM_CONSOLE_SERIAL
                                  ? LIBXL_CONSOLE_TYPE_SERIAL : LIBXL_CONSOLE_TYPE_PV, -1);
    return lxb_fail(x, err, rc ? rc : ERROR_FAIL, "libxl_console_exec for domain %u", domid);
}

int lxb_preserve(struct dom_backend *b, uint32_t domid, const char *suffix, const char *uuid,
                 struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_config dc;
    libxl_domain_config_init(&dc);
    libxl_uuid u;
    int rc = libxl_uuid_from_string(&u, uuid);
    if (rc == 0) {
        lxb_log_clear(x);
        rc = libxl_retrieve_domain_configuration(x->ctx, domid, &dc, NULL);
        if (rc == 0)
            rc = libxl_domain_preserve(x->ctx, domid, &dc.c_info, suffix, u);
    }
    libxl_domain_config_dispose(&dc);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_preserve of domain %u", domid) : 0;
}

int lxb_soft_reset(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_config dc;
    libxl_domain_config_init(&dc);
    lxb_log_clear(x);
    int rc = libxl_retrieve_domain_configuration(x->ctx, domid, &dc, NULL);
    if (rc == 0)
        rc = libxl_domain_soft_reset(x->ctx, &dc, domid, NULL, NULL);
    if (rc == 0)
        rc = libxl_domain_unpause(x->ctx, domid, NULL);
    libxl_domain_config_dispose(&dc);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_soft_reset of domain %u", domid) : 0;
}

int lxb_core_dump(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot dump the core of", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    struct atomic_file f;
    if (atomic_file_create(&f, path, 0600, err) < 0)
        return -1;
    lxb_log_clear(x);
    /* libxl writes the temporary file by name; it is the same file as f.fd */
    int rc = libxl_domain_core_dump(x->ctx, domid, f.tmp, NULL);
    if (rc) {
        atomic_file_abort(&f);
        return lxb_fail(x, err, rc, "libxl_domain_core_dump of domain %u", domid);
    }
    return atomic_file_commit(&f, err);
}
