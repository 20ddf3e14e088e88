/* core/domain/libxl/dom_libxl_xs.c: xenstore on real Xen: the dom_xs interface over
 * libxenstore (xs_open(0): xenstored's socket or /dev/xen/xenbus). A watch's timeout is a
 * poll on xs_fileno. */
#include "dom_libxl_int.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "base/cancel.h"
#include "domain/dom_xs.h"

struct lxs {
    struct dom_xs base;
    struct xs_handle *h;
};

static struct xs_handle *H(struct dom_xs *x)
{
    return ((struct lxs *)x)->h;
}

/* libxenstore failed with errno: the code is errno's name ("ENOENT", "EACCES", "EAGAIN"). */
static int fail(struct xerr *err, const char *what, const char *path)
{
    int e = errno ? errno : EIO;
    return xerr_errno(err, e, "xenstore %s %s", what, path);
}

static int checked(const char *path, char abs[DOM_XS_PATH_MAX + 1], struct xerr *err)
{
    return dom_xs_check_path(path, abs, err);
}

static int lxs_read(struct dom_xs *x, dom_xs_tx t, const char *path, char **v, size_t *n,
                    struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    unsigned len = 0;
    errno = 0;
    char *p = xs_read(H(x), t, abs, &len);
    if (!p)
        return fail(err, "read", abs);
    *v = p;               /* libxenstore NUL-terminates what it returns */
    *n = len;
    return 0;
}

static int lxs_write(struct dom_xs *x, dom_xs_tx t, const char *path, const void *v, size_t n,
                     struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    errno = 0;
    return xs_write(H(x), t, abs, v, (unsigned)n) ? 0 : fail(err, "write", abs);
}

static int lxs_mkdir(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    errno = 0;
    return xs_mkdir(H(x), t, abs) ? 0 : fail(err, "mkdir", abs);
}

static int lxs_rm(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    errno = 0;
    return xs_rm(H(x), t, abs) ? 0 : fail(err, "rm", abs);
}

static int lxs_directory(struct dom_xs *x, dom_xs_tx t, const char *path, char ***names,
                         size_t *n, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    unsigned num = 0;
    errno = 0;
    char **v = xs_directory(H(x), t, abs, &num);
    if (!v)
        return fail(err, "directory", abs);
    /* One block from libxenstore; the interface hands out separate strings. */
    char **out = calloc(num + 1, sizeof *out);
    size_t k = 0;
    for (; out && k < num; k++)
        if (!(out[k] = strdup(v[k])))
            break;
    free(v);
    if (!out || k < num) {
        dom_strv_free(out, k);
        return xerr_errno(err, ENOMEM, "cannot list %s", abs);
    }
    *names = out;
    *n = num;
    return 0;
}

static char perm_char(unsigned p)
{
    switch (p & (XS_PERM_READ | XS_PERM_WRITE)) {
    case XS_PERM_READ:
        return 'r';
    case XS_PERM_WRITE:
        return 'w';
    case XS_PERM_READ | XS_PERM_WRITE:
        return 'b';
    default:
        return 'n';
    }
}

static int lxs_get_perms(struct dom_xs *x, dom_xs_tx t, const char *path,
                         struct dom_xs_perm **p, size_t *n, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    unsigned num = 0;
    errno = 0;
    struct xs_permissions *v = xs_get_permissions(H(x), t, abs, &num);
    if (!v)
        return fail(err, "get permissions of", abs);
    struct dom_xs_perm *out = calloc(num ? num : 1, sizeof *out);
    if (!out) {
        free(v);
        return xerr_errno(err, ENOMEM, "cannot read the permissions of %s", abs);
    }
    for (unsigned i = 0; i < num; i++) {
        out[i].domid = v[i].id;
        out[i].perm = perm_char(v[i].perms);
    }
    free(v);
    *p = out;
    *n = num;
    return 0;
}

static int lxs_set_perms(struct dom_xs *x, dom_xs_tx t, const char *path,
                         const struct dom_xs_perm *p, size_t n, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (checked(path, abs, err) < 0)
        return -1;
    struct xs_permissions *v = calloc(n, sizeof *v);
    if (!v)
        return xerr_errno(err, ENOMEM, "cannot set the permissions of %s", abs);
    for (size_t i = 0; i < n; i++) {
        v[i].id = p[i].domid;
        v[i].perms = p[i].perm == 'r' ? XS_PERM_READ : p[i].perm == 'w' ? XS_PERM_WRITE
                   : p[i].perm == 'b' ? XS_PERM_READ | XS_PERM_WRITE : XS_PERM_NONE;
    }
    errno = 0;
    bool ok = xs_set_permissions(H(x), t, abs, v, (unsigned)n);
    free(v);
    return ok ? 0 : fail(err, "set permissions of", abs);
}

static int lxs_tx_start(struct dom_xs *x, dom_xs_tx *t, struct xerr *err)
{
    errno = 0;
    xs_transaction_t id = xs_transaction_start(H(x));
    if (id == XBT_NULL)
        return fail(err, "transaction", "start");
    *t = id;
    return 0;
}

static int lxs_tx_end(struct dom_xs *x, dom_xs_tx t, int abort, struct xerr *err)
{
    errno = 0;
    if (xs_transaction_end(H(x), t, abort ? true : false))
        return 0;
    if (errno == EAGAIN)
        return xerr_set(err, "EAGAIN", "the xenstore changed during the transaction: "
                        "run it again");
    return fail(err, "transaction", "end");
}

/* A relative path is made absolute here, as the sim does, so a watch's events name the same
 * paths on both backends; "@..." names are special watches, taken as they are. */
static int watch_path(const char *path, char abs[DOM_XS_PATH_MAX + 1], const char **p,
                      struct xerr *err)
{
    *p = path;
    if (path[0] == '@')
        return 0;
    if (checked(path, abs, err) < 0)
        return -1;
    *p = abs;
    return 0;
}

static int lxs_watch(struct dom_xs *x, const char *path, const char *token, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    const char *p;
    if (watch_path(path, abs, &p, err) < 0)
        return -1;
    errno = 0;
    return xs_watch(H(x), p, token) ? 0 : fail(err, "watch", path);
}

static int lxs_unwatch(struct dom_xs *x, const char *path, const char *token,
                       struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    const char *p;
    if (watch_path(path, abs, &p, err) < 0)
        return -1;
    errno = 0;
    return xs_unwatch(H(x), p, token) ? 0 : fail(err, "unwatch", path);
}

static int take_event(char **vec, char **path, char **token, struct xerr *err)
{
    *path = strdup(vec[XS_WATCH_PATH]);
    *token = strdup(vec[XS_WATCH_TOKEN]);
    free(vec);
    if (!*path || !*token) {
        free(*path);
        free(*token);
        *path = *token = NULL;
        return xerr_errno(err, ENOMEM, "cannot read a watch event");
    }
    return 1;
}

static int lxs_read_watch(struct dom_xs *x, int timeout_ms, char **path, char **token,
                          struct xerr *err)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int fd = xs_fileno(H(x));
    if (fd < 0)
        return fail(err, "watch", "(no file descriptor)");
    for (;;) {
        errno = 0;
        char **vec = xs_check_watch(H(x));
        if (vec)
            return take_event(vec, path, token, err);
        if (errno && errno != EAGAIN)
            return fail(err, "read watch", "");
        int left = -1;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long waited = (long long)(now.tv_sec - start.tv_sec) * 1000 +
                               (now.tv_nsec - start.tv_nsec) / 1000000;
            if (waited >= timeout_ms)
                return 0;
            left = (int)(timeout_ms - waited);
        }
        struct pollfd pfd = { fd, POLLIN, 0 };
        int rc = poll(&pfd, 1, left);
        if (rc < 0 && !xcancel_retry(errno)) {
            if (errno == EINTR)
                return xerr_set(err, "INTERRUPTED", "interrupted while waiting for a watch");
            return xerr_errno(err, errno, "cannot wait for a xenstore watch");
        }
    }
}

static void lxs_close(struct dom_xs *x)
{
    xs_close(H(x));
    free(x);
}

static const struct dom_xs_ops lxs_ops = {
    .close = lxs_close,
    .read = lxs_read,
    .write = lxs_write,
    .mkdir = lxs_mkdir,
    .rm = lxs_rm,
    .directory = lxs_directory,
    .get_perms = lxs_get_perms,
    .set_perms = lxs_set_perms,
    .tx_start = lxs_tx_start,
    .tx_end = lxs_tx_end,
    .watch = lxs_watch,
    .unwatch = lxs_unwatch,
    .read_watch = lxs_read_watch,
};

int lxb_xs_open(struct dom_backend *b, struct dom_xs **out, struct xerr *err)
{
    (void)b;
    struct lxs *x = calloc(1, sizeof *x);
    if (!x)
        return xerr_errno(err, ENOMEM, "cannot open the xenstore");
    errno = 0;
    x->h = xs_open(0);
    if (!x->h) {
        int e = errno;
        free(x);
        return xerr_set(err, "NOXEN", "cannot connect to the xenstore (is xenstored running?): "
                        "%s", strerror(e ? e : ENOENT));
    }
    x->base.ops = &lxs_ops;
    *out = &x->base;
    return 0;
}
