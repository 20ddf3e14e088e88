/* core/domain/sim/dom_sim_guest.c: the simulated guest: it powers off or reboots when asked,
 * crashes on sysrq c, writes a few console lines as a Linux guest would, and a waiter sees it
 * shut down; a dead one can be preserved under another name or its memory dumped. */
#include "dom_sim_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/cancel.h"
#include "savefile/atomic_file.h"

static struct sim *S(struct dom_backend *b)
{
    return (struct sim *)b;
}

void sim_guest_console(struct sim *s, uint32_t domid, const char *line)
{
    char path[PATH_MAX];
    sim_dom_path(s, domid, "console", path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s\n", line);
    if (n > 0 && write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
        n = 0; /* the console is best effort, as a real one */
    close(fd);
}

void sim_guest_down(struct sim *s, struct sim_dom *d, enum dom_reason reason)
{
    static const char *const said[] = {
        [DOM_REASON_POWEROFF] = "reboot: Power down",
        [DOM_REASON_REBOOT] = "reboot: Restarting system",
        [DOM_REASON_SUSPEND] = "PM: suspend entry",
        [DOM_REASON_CRASH] = "Kernel panic - not syncing: sysrq triggered crash",
        [DOM_REASON_WATCHDOG] = "watchdog: BUG: soft lockup",
        [DOM_REASON_SOFT_RESET] = "kexec: Starting new kernel",
    };
    if (reason >= DOM_REASON_POWEROFF && reason <= DOM_REASON_SOFT_RESET)
        sim_guest_console(s, d->info.domid, said[reason]);
    d->info.state = DOM_SHUTDOWN;
    d->info.reason = reason;
    d->pauses = 0;
    d->pending = 0;
}

static int do_request(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    enum dom_request req = *(const enum dom_request *)arg;
    if (d->info.state == DOM_SHUTDOWN || d->info.state == DOM_DYING)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is %s", d->info.domid, d->info.name,
                        dom_state_name(d->info.state));
    if (d->info.state == DOM_PAUSED) {
        /* a paused guest cannot answer: it sees the request once it runs again */
        d->pending = 1 + (int)req;
        return 0;
    }
    sim_guest_down(s, d, req == DOM_REQ_REBOOT ? DOM_REASON_REBOOT : DOM_REASON_POWEROFF);
    return 0;
}

int sim_request(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                struct xerr *err)
{
    (void)fallback; /* the simulated guest has PV drivers, HVM or not */
    return sim_mutate(S(b), domid, req == DOM_REQ_REBOOT ? "cannot reboot" : "cannot shut down",
                      do_request, &req, err);
}

static int do_sysrq(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    char key = *(const char *)arg;
    if (d->info.state != DOM_RUNNING)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is %s: it cannot take a sysrq",
                        d->info.domid, d->info.name, dom_state_name(d->info.state));
    char line[64];
    snprintf(line, sizeof line, "sysrq: %c", key);
    sim_guest_console(s, d->info.domid, line);
    if (key == 'c')
        sim_guest_down(s, d, DOM_REASON_CRASH);
    else if (key == 'k') /* stands in for a guest's kexec: it asks for a soft reset */
        sim_guest_down(s, d, DOM_REASON_SOFT_RESET);
    return 0;
}

int sim_sysrq(struct dom_backend *b, uint32_t domid, char key, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot send a sysrq to", do_sysrq, &key, err);
}

int sim_wait_shutdown(struct dom_backend *b, uint32_t domid, int timeout_ms,
                      struct dom_info *out, struct xerr *err)
{
    struct sim *s = S(b);
    const long step_ms = 100;
    long waited = 0;
    for (;;) {
        struct sim_dom d;
        if (sim_get(s, domid, "cannot wait for", &d, err) < 0)
            return -1;
        if (d.info.state == DOM_SHUTDOWN) {
            *out = d.info;
            return 1;
        }
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return 0;
        if (xcancel_requested())
            return xerr_set(err, "INTERRUPTED", "interrupted while waiting for domain %u", domid);
        struct timespec ts = { 0, step_ms * 1000000L };
        nanosleep(&ts, NULL);
        waited += step_ms;
    }
}

/* An HVM guest as Linux answers them: the power button powers it off, reset reboots it, an
 * NMI is logged, the rest are noted on its console. */
static int do_trigger(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    enum dom_trigger t = *(const enum dom_trigger *)arg;
    if (d->info.type == DOM_PV)
        return xerr_set(err, "EINVAL", "domain %u (%s) is PV: triggers are for HVM guests",
                        d->info.domid, d->info.name);
    if (d->info.state != DOM_RUNNING)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is %s", d->info.domid, d->info.name,
                        dom_state_name(d->info.state));
    switch (t) {
    case DOM_TRIGGER_POWER:
        sim_guest_console(s, d->info.domid, "ACPI: Power Button pressed");
        sim_guest_down(s, d, DOM_REASON_POWEROFF);
        break;
    case DOM_TRIGGER_RESET:
        sim_guest_down(s, d, DOM_REASON_REBOOT);
        break;
    case DOM_TRIGGER_NMI:
        sim_guest_console(s, d->info.domid, "Uhhuh. NMI received for unknown reason");
        break;
    default:
        sim_guest_console(s, d->info.domid, "ACPI: event received");
        break;
    }
    return 0;
}

int sim_trigger(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                struct xerr *err)
{
    (void)vcpu;
    return sim_mutate(S(b), domid, "cannot send a trigger to", do_trigger, &t, err);
}

static int do_soft_reset(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    (void)arg;
    if (d->info.state != DOM_SHUTDOWN || d->info.reason != DOM_REASON_SOFT_RESET)
        return xerr_set(err, "BADSTATE", "domain %u (%s) did not shut down for a soft reset",
                        d->info.domid, d->info.name);
    d->info.state = DOM_RUNNING;
    d->info.reason = DOM_REASON_NONE;
    d->started = (int64_t)time(NULL);
    sim_guest_console(s, d->info.domid, "kexec: the new kernel runs");
    return 0;
}

int sim_soft_reset(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot soft-reset", do_soft_reset, NULL, err);
}

struct preserve_arg {
    const char *suffix, *uuid;
};

static int do_preserve(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    const struct preserve_arg *p = arg;
    char name[DOM_NAME_MAX + 1];
    if (snprintf(name, sizeof name, "%s%s", d->info.name, p->suffix) >= (int)sizeof name)
        return xerr_set(err, "EINVAL", "'%s%s' is longer than a domain name may be",
                        d->info.name, p->suffix);
    struct sim_dom *all;
    size_t n;
    sim_index_drop(s);
    if (sim_scan(s, 1, &all, &n, err) < 0)
        return -1;
    int taken = 0;
    for (size_t i = 0; i < n; i++)
        taken |= all[i].info.domid != d->info.domid && (strcmp(all[i].info.name, name) == 0 ||
                 strcasecmp(all[i].info.uuid, p->uuid) == 0);
    free(all);
    if (taken)
        return xerr_set(err, "EXISTS", "a domain named '%s' or with uuid %s exists", name,
                        p->uuid);
    snprintf(d->info.name, sizeof d->info.name, "%s", name);
    snprintf(d->info.uuid, sizeof d->info.uuid, "%s", p->uuid);
    return 0;
}

int sim_preserve(struct dom_backend *b, uint32_t domid, const char *suffix, const char *uuid,
                 struct xerr *err)
{
    struct preserve_arg a = { suffix, uuid };
    if (sim_mutate(S(b), domid, "cannot preserve", do_preserve, &a, err) < 0)
        return -1;
    sim_xs_refresh(S(b), domid, NULL);
    return 0;
}

int sim_core_dump(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    if (sim_get(s, domid, "cannot dump the core of", &d, err) < 0)
        return -1;
    char image[PATH_MAX];
    sim_dom_path(s, domid, "memory", image);
    int in = open(image, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return xerr_errno(err, errno, "%s: cannot open the memory image", image);
    struct atomic_file f;
    if (atomic_file_create(&f, path, 0600, err) < 0) {
        close(in);
        return -1;
    }
    static char buf[1 << 16];
    uint64_t off = 0;
    ssize_t got;
    int rc = 0;
    while ((got = read(in, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        if (sim_write_at(f.fd, buf, (size_t)got, off) < 0) {
            rc = xerr_errno(err, errno, "%s: cannot write the core", path);
            break;
        }
        off += (uint64_t)got;
    }
    if (got < 0 && rc == 0)
        rc = xerr_errno(err, errno, "%s: cannot read the memory image", image);
    close(in);
    if (rc < 0) {
        atomic_file_abort(&f);
        return -1;
    }
    return atomic_file_commit(&f, err);
}

int sim_console(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                int out_fd, struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    if (sim_get(s, domid, "no console for", &d, err) < 0)
        return -1;
    if (type == DOM_CONSOLE_SERIAL || num > 0)
        return xerr_set(err, "NOCONSOLE", "the simulated guest %u has one PV console only",
                        domid);
    char path[PATH_MAX];
    sim_dom_path(s, domid, "console", path);
    char *text;
    size_t n;
    struct xerr e = { 0 };
    if (sim_read_file(path, &text, &n, &e) < 0) {
        if (e.code && strcmp(e.code, "ENOENT") == 0)
            return 0; /* the guest has written nothing yet */
        if (err)
            *err = e;
        return -1;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(out_fd, text + off, n - off);
        if (k < 0 && errno == EINTR && !xcancel_requested())
            continue;
        if (k < 0) {
            int en = errno;
            free(text);
            return xerr_errno(err, en, "cannot write the console of domain %u", domid);
        }
        off += (size_t)k;
    }
    free(text);
    return 0;
}
