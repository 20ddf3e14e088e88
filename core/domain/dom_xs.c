/* core/domain/dom_xs.c: the xenstore interface (dom_xs.h): dispatching to the backend's
 * connection, and the path and permission checks both backends share. */
#include "dom_xs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dom_xs_open(struct dom_backend *b, struct dom_xs **out, struct xerr *err)
{
    *out = NULL;
    if (!b->ops->xs_open)
        return xerr_set(err, "NOXEN", "the %s backend has no xenstore", b->ops->name);
    return b->ops->xs_open(b, out, err);
}

void dom_xs_close(struct dom_xs *x)
{
    if (x)
        x->ops->close(x);
}

int dom_xs_read(struct dom_xs *x, dom_xs_tx t, const char *path, char **v, size_t *n,
                struct xerr *err)
{
    *v = NULL;
    *n = 0;
    return x->ops->read(x, t, path, v, n, err);
}

int dom_xs_write(struct dom_xs *x, dom_xs_tx t, const char *path, const void *v, size_t n,
                 struct xerr *err)
{
    /* xenstored's limit is on the whole request: the path as sent, its NUL, the value */
    size_t sent = strlen(path) + 1 + n;
    if (n > DOM_XS_VALUE_MAX || sent > DOM_XS_VALUE_MAX)
        return xerr_set(err, "E2BIG", "a xenstore write carries at most %d bytes of path and "
                        "value, not %zu", DOM_XS_VALUE_MAX, n > DOM_XS_VALUE_MAX ? n : sent);
    return x->ops->write(x, t, path, v, n, err);
}

int dom_xs_mkdir(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err)
{
    return x->ops->mkdir(x, t, path, err);
}

int dom_xs_rm(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err)
{
    return x->ops->rm(x, t, path, err);
}

int dom_xs_directory(struct dom_xs *x, dom_xs_tx t, const char *path, char ***names,
                     size_t *n, struct xerr *err)
{
    *names = NULL;
    *n = 0;
    return x->ops->directory(x, t, path, names, n, err);
}

int dom_xs_get_perms(struct dom_xs *x, dom_xs_tx t, const char *path,
                     struct dom_xs_perm **p, size_t *n, struct xerr *err)
{
    *p = NULL;
    *n = 0;
    return x->ops->get_perms(x, t, path, p, n, err);
}

int dom_xs_set_perms(struct dom_xs *x, dom_xs_tx t, const char *path,
                     const struct dom_xs_perm *p, size_t n, struct xerr *err)
{
    if (n == 0)
        return xerr_set(err, "EINVAL", "a xenstore node needs at least its owner's permission");
    for (size_t i = 0; i < n; i++)
        if (!strchr("nrwb", p[i].perm) || !p[i].perm)
            return xerr_set(err, "EINVAL", "bad xenstore permission '%c'", p[i].perm);
    return x->ops->set_perms(x, t, path, p, n, err);
}

int dom_xs_tx_start(struct dom_xs *x, dom_xs_tx *t, struct xerr *err)
{
    return x->ops->tx_start(x, t, err);
}

int dom_xs_tx_end(struct dom_xs *x, dom_xs_tx t, int abort, struct xerr *err)
{
    return x->ops->tx_end(x, t, abort, err);
}

int dom_xs_watch(struct dom_xs *x, const char *path, const char *token, struct xerr *err)
{
    return x->ops->watch(x, path, token, err);
}

int dom_xs_unwatch(struct dom_xs *x, const char *path, const char *token, struct xerr *err)
{
    return x->ops->unwatch(x, path, token, err);
}

int dom_xs_read_watch(struct dom_xs *x, int timeout_ms, char **path, char **token,
                      struct xerr *err)
{
    *path = *token = NULL;
    return x->ops->read_watch(x, timeout_ms, path, token, err);
}

int dom_xs_perm_parse(const char *s, struct dom_xs_perm *p, struct xerr *err)
{
    if (!s[0] || !strchr("nrwb", s[0]) || s[1] < '0' || s[1] > '9')
        return xerr_set(err, "EINVAL", "bad xenstore permission '%s' (n, r, w or b and a "
                        "domid, as in r5)", s);
    char *end;
    unsigned long id = strtoul(s + 1, &end, 10);
    if (*end || id > 0xFFFF)
        return xerr_set(err, "EINVAL", "bad xenstore permission '%s' (n, r, w or b and a "
                        "domid, as in r5)", s);
    p->perm = s[0];
    p->domid = (uint32_t)id;
    return 0;
}

int dom_xs_check_path(const char *path, char out[DOM_XS_PATH_MAX + 1], struct xerr *err)
{
    /* "@introduceDomain" and friends are watch names, not nodes; callers that take them
     * check for them first. */
    int n = path[0] == '/' ? snprintf(out, DOM_XS_PATH_MAX + 1, "%s", path)
                           : snprintf(out, DOM_XS_PATH_MAX + 1, "/local/domain/0/%s", path);
    if (n < 0 || n > DOM_XS_PATH_MAX)
        return xerr_set(err, "EINVAL", "a xenstore path is at most %d bytes",
                        DOM_XS_PATH_MAX);
    if (!path[0])
        return xerr_set(err, "EINVAL", "an empty xenstore path");
    for (const char *p = out; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '/' || c == '_' || c == '@';
        if (!ok)
            return xerr_set(err, "EINVAL", "bad xenstore path '%s': character '%c'", path, c);
        if (c == '/' && p[1] == '/')
            return xerr_set(err, "EINVAL", "bad xenstore path '%s': '//'", path);
    }
    if (n > 1 && out[n - 1] == '/')
        return xerr_set(err, "EINVAL", "bad xenstore path '%s': ends in '/'", path);
    return 0;
}
