/* core/domain/sim/dom_sim_xs.c: the sim's xenstore connection (dom_xs.h over the tree of
 * dom_sim_xs_tree.c, in the files of dom_sim_xs_store.c). Domain-0 is the only caller, so
 * permissions are kept but not enforced. Each operation reads only the files of the paths it
 * names. A transaction works on a copy of the tree (its files read as it goes, under the lock)
 * and commits only when nobody changed the tree since it started (else EAGAIN): coarser than
 * xenstored, which looks at the nodes touched. A read-only one fails the same way when it read
 * a file after such a change (what it saw is no snapshot then). Watches poll the tree's
 * generation (every 20 ms) and report every node changed or removed under the watched path
 * since the last look (the files below the watched paths read under the lock). */
#include "dom_sim_xs_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cancel.h"

#define POLL_MS 20

struct sim_tx {
    dom_xs_tx id;
    struct xst_tree tree;
    int changed;
};

struct sim_watch {
    char *path;           /* absolute, or "@introduceDomain" / "@releaseDomain" */
    char *token;
    int relative;         /* given relative: events are reported relative too */
};

struct sim_event {
    char *path, *token;
};

struct sim_xs {
    struct dom_xs base;
    struct sim *s;
    struct sim_tx *tx;
    size_t ntx;
    dom_xs_tx next_tx;
    struct sim_watch *w;
    size_t nw;
    struct xst_tree last;         /* the tree as the watches last saw it */
    int have_last;
    struct sim_event *q;
    size_t nq;
};

static struct sim_xs *SX(struct dom_xs *x)
{
    return (struct sim_xs *)x;
}

static struct sim_tx *find_tx(struct sim_xs *x, dom_xs_tx t, struct xerr *err)
{
    for (size_t i = 0; i < x->ntx; i++)
        if (x->tx[i].id == t)
            return &x->tx[i];
    xerr_set(err, "ENOENT", "no xenstore transaction %u", t);
    return NULL;
}

/* The tree to read path (to depth) in: the transaction's copy, or the current one loaded into
 * *tmp. */
static const struct xst_tree *view(struct sim_xs *x, dom_xs_tx t, const char *path,
                                   enum xst_depth depth, struct xst_tree *tmp,
                                   struct xerr *err)
{
    memset(tmp, 0, sizeof *tmp);
    if (t) {
        struct sim_tx *tx = find_tx(x, t, err);
        if (!tx || xst_need(&tx->tree, path, depth, err) < 0)
            return NULL;
        return &tx->tree;
    }
    return xst_load(x->s, tmp, path, depth, err) < 0 ? NULL : tmp;
}

/* ---- changes: applied to a transaction's copy or, under the lock, to the file ---- */

struct change {
    const char *path;
    const void *v;
    size_t n;
    const char *perms;
    enum { CH_WRITE, CH_MKDIR, CH_RM, CH_PERMS } kind;
};

static int parent_in(const struct xst_tree *t, const char *path)
{
    char parent[DOM_XS_PATH_MAX + 1];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash)
        return 1;
    if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    return xst_find(t, parent) != NULL;
}

static int apply_change(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err)
{
    struct change *c = arg;
    struct xst_node *node = xst_find(t, c->path);
    switch (c->kind) {
    case CH_WRITE:
        return xst_write(t, c->path, c->v, c->n, NULL, gen, err) < 0 ? -1 : 1;
    case CH_MKDIR:
        if (node)
            return 0;
        return xst_write(t, c->path, "", 0, NULL, gen, err) < 0 ? -1 : 1;
    case CH_RM:
        if (!node && parent_in(t, c->path))
            return 0;       /* as xenstored: gone already is fine if its parent is there */
        return xst_rm(t, c->path, gen, err) < 0 ? -1 : 1;
    case CH_PERMS:
        if (!node)
            return xerr_set(err, "ENOENT", "no xenstore node %s", c->path);
        return xst_write(t, c->path, node->value, node->len, c->perms, gen, err) < 0 ? -1 : 1;
    }
    return -1;
}

static int change(struct sim_xs *x, dom_xs_tx t, struct change *c, struct xerr *err)
{
    enum xst_depth depth = c->kind == CH_RM ? XST_SUBTREE : XST_NODE;
    if (!t)
        return xst_mutate(x->s, c->path, depth, apply_change, c, err);
    struct sim_tx *tx = find_tx(x, t, err);
    if (!tx || xst_need(&tx->tree, c->path, depth, err) < 0)
        return -1;
    int rc = apply_change(&tx->tree, XST_MODIFIED, c, err);
    if (rc == 1)
        tx->changed = 1;
    return rc < 0 ? -1 : 0;
}

/* ---- operations ---- */

static int sx_read(struct dom_xs *dx, dom_xs_tx t, const char *path, char **v, size_t *n,
                   struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    struct xst_tree tmp;
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    const struct xst_tree *tree = view(SX(dx), t, abs, XST_NODE, &tmp, err);
    if (!tree)
        return -1;
    const struct xst_node *node = xst_find(tree, abs);
    int rc = 0;
    if (!node)
        rc = xerr_set(err, "ENOENT", "no xenstore node %s", abs);
    else if (!(*v = malloc(node->len + 1)))
        rc = xerr_errno(err, ENOMEM, "cannot read %s", abs);
    else {
        memcpy(*v, node->value, node->len + 1);
        *n = node->len;
    }
    xst_free(&tmp);
    return rc;
}

static int sx_write(struct dom_xs *dx, dom_xs_tx t, const char *path, const void *v, size_t n,
                    struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    struct change c = { abs, v, n, NULL, CH_WRITE };
    return change(SX(dx), t, &c, err);
}

static int sx_mkdir(struct dom_xs *dx, dom_xs_tx t, const char *path, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    struct change c = { abs, NULL, 0, NULL, CH_MKDIR };
    return change(SX(dx), t, &c, err);
}

static int sx_rm(struct dom_xs *dx, dom_xs_tx t, const char *path, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    struct change c = { abs, NULL, 0, NULL, CH_RM };
    return change(SX(dx), t, &c, err);
}

static int sx_directory(struct dom_xs *dx, dom_xs_tx t, const char *path, char ***names,
                        size_t *n, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    struct xst_tree tmp;
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    const struct xst_tree *tree = view(SX(dx), t, abs, XST_CHILDREN, &tmp, err);
    if (!tree)
        return -1;
    int rc = 0;
    char **v = NULL;
    size_t len = 0, plen = strlen(abs);
    if (!xst_find(tree, abs)) {
        rc = xerr_set(err, "ENOENT", "no xenstore node %s", abs);
        goto out;
    }
    if (!(v = calloc(tree->n + 1, sizeof *v))) {
        rc = xerr_errno(err, ENOMEM, "cannot list %s", abs);
        goto out;
    }
    for (size_t i = 0; i < tree->n; i++) {
        const char *p = tree->v[i].path;
        if (strcmp(p, "/") == 0 || !xst_under(p, abs) || strcmp(p, abs) == 0)
            continue;
        const char *rest = p + (plen == 1 ? 1 : plen + 1);
        if (strchr(rest, '/'))
            continue;
        if (!(v[len] = strdup(rest))) {
            dom_strv_free(v, len);
            v = NULL;
            len = 0;
            rc = xerr_errno(err, ENOMEM, "cannot list %s", abs);
            goto out;
        }
        len++;
    }
    *names = v;
    *n = len;
out:
    xst_free(&tmp);
    return rc;
}

static int sx_get_perms(struct dom_xs *dx, dom_xs_tx t, const char *path,
                        struct dom_xs_perm **p, size_t *n, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    struct xst_tree tmp;
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    const struct xst_tree *tree = view(SX(dx), t, abs, XST_NODE, &tmp, err);
    if (!tree)
        return -1;
    const struct xst_node *node = xst_find(tree, abs);
    int rc = 0;
    if (!node) {
        rc = xerr_set(err, "ENOENT", "no xenstore node %s", abs);
        goto out;
    }
    size_t count = 1;
    for (const char *c = node->perms; *c; c++)
        count += *c == ',';
    struct dom_xs_perm *v = calloc(count, sizeof *v);
    char *copy = strdup(node->perms);
    if (!v || !copy) {
        free(v);
        free(copy);
        rc = xerr_errno(err, ENOMEM, "cannot read the permissions of %s", abs);
        goto out;
    }
    size_t k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && k < count;
         tok = strtok_r(NULL, ",", &save))
        if (dom_xs_perm_parse(tok, &v[k], NULL) == 0)
            k++;
    free(copy);
    *p = v;
    *n = k;
out:
    xst_free(&tmp);
    return rc;
}

static int sx_set_perms(struct dom_xs *dx, dom_xs_tx t, const char *path,
                        const struct dom_xs_perm *p, size_t n, struct xerr *err)
{
    char abs[DOM_XS_PATH_MAX + 1];
    if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    char *text = malloc(n * 12 + 1);
    if (!text)
        return xerr_errno(err, ENOMEM, "cannot set the permissions of %s", abs);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s%c%u", i ? "," : "", p[i].perm, p[i].domid);
    struct change c = { abs, NULL, 0, text, CH_PERMS };
    int rc = change(SX(dx), t, &c, err);
    free(text);
    return rc;
}

/* ---- transactions ---- */

static int sx_tx_start(struct dom_xs *dx, dom_xs_tx *t, struct xerr *err)
{
    struct sim_xs *x = SX(dx);
    struct sim_tx *nv = realloc(x->tx, (x->ntx + 1) * sizeof *nv);
    if (!nv)
        return xerr_errno(err, ENOMEM, "cannot start a xenstore transaction");
    x->tx = nv;
    struct sim_tx *tx = &x->tx[x->ntx];
    memset(tx, 0, sizeof *tx);
    if (xst_load(x->s, &tx->tree, NULL, XST_NODE, err) < 0)
        return -1;
    tx->tree.snapshot = 1;
    tx->id = ++x->next_tx;
    x->ntx++;
    *t = tx->id;
    return 0;
}

static int commit(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err)
{
    struct sim_tx *tx = arg;
    if (t->gen != tx->tree.gen || tx->tree.stale)
        return xerr_set(err, "EAGAIN", "the xenstore changed during the transaction: "
                        "run it again");
    for (size_t i = 0; i < tx->tree.n; i++)
        if (tx->tree.v[i].gen == XST_MODIFIED)
            tx->tree.v[i].gen = gen;
    /* The transaction's copy becomes the tree. */
    struct xst_tree old = *t;
    *t = tx->tree;
    tx->tree = old;
    t->gen = old.gen;
    return 1;
}

static int sx_tx_end(struct dom_xs *dx, dom_xs_tx t, int abort, struct xerr *err)
{
    struct sim_xs *x = SX(dx);
    struct sim_tx *tx = find_tx(x, t, err);
    if (!tx)
        return -1;
    int rc = 0;
    if (!abort && tx->changed)
        rc = xst_mutate(x->s, NULL, XST_NODE, commit, tx, err);
    else if (!abort && tx->tree.stale)
        rc = xerr_set(err, "EAGAIN", "the xenstore changed during the transaction: "
                      "run it again");
    xst_free(&tx->tree);
    *tx = x->tx[--x->ntx];
    return rc;
}

/* ---- watches ---- */

static int is_special(const char *path)
{
    return strcmp(path, "@introduceDomain") == 0 || strcmp(path, "@releaseDomain") == 0;
}

static int queue(struct sim_xs *x, const char *path, const char *token)
{
    struct sim_event *nq = realloc(x->q, (x->nq + 1) * sizeof *nq);
    if (!nq)
        return -1;
    x->q = nq;
    nq[x->nq].path = strdup(path);
    nq[x->nq].token = strdup(token);
    if (!nq[x->nq].path || !nq[x->nq].token) {
        free(nq[x->nq].path);
        free(nq[x->nq].token);
        return -1;
    }
    x->nq++;
    return 0;
}

static const char *reported(const struct sim_watch *w, const char *path)
{
    static const char home[] = "/local/domain/0/";
    if (w->relative && strncmp(path, home, sizeof home - 1) == 0)
        return path + sizeof home - 1;
    return path;
}

static int collect(struct sim_xs *x, const struct xst_tree *now);

/* The tree below every watched path and extra (NULL: none), read under the lock so that the
 * files agree with the generation. */
static int load_watched(struct sim_xs *x, const char *extra, struct xst_tree *now,
                        struct xerr *err)
{
    if (sim_lock(x->s, err) < 0)
        return -1;
    int rc = xst_load(x->s, now, NULL, XST_NODE, err);
    for (size_t i = 0; rc == 0 && i <= x->nw; i++) {
        const char *p = i < x->nw ? x->w[i].path : extra;
        if (p && !is_special(p))
            rc = xst_need(now, p, XST_SUBTREE, err);
    }
    sim_unlock(x->s);
    if (rc < 0 && now->s)
        xst_free(now);
    return rc;
}

/* Queue the events of every change since the watches last looked: 1 if there was one. With
 * extra (a watch being set), the tree read covers its path too. */
static int catch_up(struct sim_xs *x, const char *extra, struct xerr *err)
{
    if (x->have_last && !extra) {
        uint64_t in, rel, gen = xst_disk_gen(x->s, &in, &rel);
        if (gen == x->last.gen && in == x->last.introduced && rel == x->last.released)
            return 0;
    }
    struct xst_tree now;
    if (load_watched(x, extra, &now, err) < 0)
        return -1;
    if (!x->have_last) {
        x->last = now;
        x->have_last = 1;
        return 0;
    }
    if (collect(x, &now) < 0) {
        xst_free(&now);
        return xerr_errno(err, ENOMEM, "cannot read a watch event");
    }
    xst_free(&x->last);
    x->last = now;
    return 1;
}

static int sx_watch(struct dom_xs *dx, const char *path, const char *token, struct xerr *err)
{
    struct sim_xs *x = SX(dx);
    char abs[DOM_XS_PATH_MAX + 1];
    if (is_special(path))
        snprintf(abs, sizeof abs, "%s", path);
    else if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    for (size_t i = 0; i < x->nw; i++)
        if (strcmp(x->w[i].path, abs) == 0 && strcmp(x->w[i].token, token) == 0)
            return xerr_set(err, "EEXIST", "a watch on %s with token '%s' is already set",
                            path, token);
    /* What changed before this watch is the older watches' business, not its own. */
    if (catch_up(x, abs, err) < 0)
        return -1;
    struct sim_watch *nw = realloc(x->w, (x->nw + 1) * sizeof *nw);
    if (!nw)
        return xerr_errno(err, ENOMEM, "cannot set a watch");
    x->w = nw;
    struct sim_watch *w = &x->w[x->nw];
    w->path = strdup(abs);
    w->token = strdup(token);
    w->relative = path[0] != '/' && !is_special(path);
    if (!w->path || !w->token || queue(x, path, token) < 0) {
        free(w->path);
        free(w->token);
        return xerr_errno(err, ENOMEM, "cannot set a watch");
    }
    x->nw++;
    return 0;
}

static int sx_unwatch(struct dom_xs *dx, const char *path, const char *token,
                      struct xerr *err)
{
    struct sim_xs *x = SX(dx);
    char abs[DOM_XS_PATH_MAX + 1];
    if (is_special(path))
        snprintf(abs, sizeof abs, "%s", path);
    else if (dom_xs_check_path(path, abs, err) < 0)
        return -1;
    for (size_t i = 0; i < x->nw; i++) {
        if (strcmp(x->w[i].path, abs) == 0 && strcmp(x->w[i].token, token) == 0) {
            free(x->w[i].path);
            free(x->w[i].token);
            x->w[i] = x->w[--x->nw];
            return 0;
        }
    }
    return xerr_set(err, "ENOENT", "no watch on %s with token '%s'", path, token);
}

/* Queue what changed between x->last and now for every watch. */
static int collect(struct sim_xs *x, const struct xst_tree *now)
{
    const struct xst_tree *old = &x->last;
    for (size_t k = 0; k < x->nw; k++) {
        const struct sim_watch *w = &x->w[k];
        if (strcmp(w->path, "@introduceDomain") == 0) {
            if (now->introduced != old->introduced && queue(x, w->path, w->token) < 0)
                return -1;
            continue;
        }
        if (strcmp(w->path, "@releaseDomain") == 0) {
            if (now->released != old->released && queue(x, w->path, w->token) < 0)
                return -1;
            continue;
        }
        for (size_t i = 0; i < now->n; i++) {
            const struct xst_node *n = &now->v[i];
            if (n->gen > old->gen && xst_under(n->path, w->path) &&
                queue(x, reported(w, n->path), w->token) < 0)
                return -1;
        }
        /* A removed subtree fires once, for its top. */
        for (size_t i = 0; i < old->n; i++) {
            const char *p = old->v[i].path;
            if (xst_under(p, w->path) && !xst_find(now, p) &&
                (strcmp(p, w->path) == 0 || parent_in(now, p)) &&
                queue(x, reported(w, p), w->token) < 0)
                return -1;
        }
    }
    return 0;
}

static int sx_read_watch(struct dom_xs *dx, int timeout_ms, char **path, char **token,
                         struct xerr *err)
{
    struct sim_xs *x = SX(dx);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (x->nq > 0) {
            *path = x->q[0].path;
            *token = x->q[0].token;
            memmove(x->q, x->q + 1, (x->nq - 1) * sizeof *x->q);
            x->nq--;
            return 1;
        }
        if (x->have_last && x->nw > 0) {
            int changed = catch_up(x, NULL, err);
            if (changed < 0)
                return -1;
            if (changed)
                continue;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long long waited = (long long)(t.tv_sec - start.tv_sec) * 1000 +
                           (t.tv_nsec - start.tv_nsec) / 1000000;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return 0;
        if (xcancel_requested())
            return xerr_set(err, "INTERRUPTED", "interrupted while waiting for a watch");
        struct timespec nap = { 0, POLL_MS * 1000000L };
        nanosleep(&nap, NULL);
    }
}

static void sx_close(struct dom_xs *dx)
{
    struct sim_xs *x = SX(dx);
    for (size_t i = 0; i < x->ntx; i++)
        xst_free(&x->tx[i].tree);
    free(x->tx);
    for (size_t i = 0; i < x->nw; i++) {
        free(x->w[i].path);
        free(x->w[i].token);
    }
    free(x->w);
    for (size_t i = 0; i < x->nq; i++) {
        free(x->q[i].path);
        free(x->q[i].token);
    }
    free(x->q);
    if (x->have_last)
        xst_free(&x->last);
    free(x);
}

static const struct dom_xs_ops sim_xs_ops = {
    .close = sx_close,
    .read = sx_read,
    .write = sx_write,
    .mkdir = sx_mkdir,
    .rm = sx_rm,
    .directory = sx_directory,
    .get_perms = sx_get_perms,
    .set_perms = sx_set_perms,
    .tx_start = sx_tx_start,
    .tx_end = sx_tx_end,
    .watch = sx_watch,
    .unwatch = sx_unwatch,
    .read_watch = sx_read_watch,
};

int sim_xs_open(struct dom_backend *b, struct dom_xs **out, struct xerr *err)
{
    struct sim_xs *x = calloc(1, sizeof *x);
    if (!x)
        return xerr_errno(err, ENOMEM, "cannot open the sim xenstore");
    x->base.ops = &sim_xs_ops;
    x->s = (struct sim *)b;
    *out = &x->base;
    return 0;
}
