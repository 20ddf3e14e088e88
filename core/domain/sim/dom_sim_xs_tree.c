/* core/domain/sim/dom_sim_xs_tree.c: the sim's xenstore tree in memory: nodes in creation
 * order, lookups by path through a hash index (a tree of 1,000 sim domains holds some 30,000
 * nodes), and the parts a change touches (the files dom_sim_xs_store.c writes back). */
#include "dom_sim_xs_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xst_free(struct xst_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].value);
        free(t->v[i].perms);
    }
    free(t->v);
    free(t->slots);
    for (size_t i = 0; i < t->nloaded; i++)
        free(t->loaded[i]);
    free(t->loaded);
    for (size_t i = 0; i < t->ntouched; i++)
        free(t->touched[i]);
    free(t->touched);
    memset(t, 0, sizeof *t);
}

/* ---- the index by path ---- */

static size_t path_hash(const char *path)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        h = (h ^ *c) * UINT64_C(1099511628211);
    return (size_t)h;
}

static void slot_put(uint32_t *slots, size_t nslots, const char *path, size_t i)
{
    size_t k = path_hash(path) & (nslots - 1);
    while (slots[k])
        k = (k + 1) & (nslots - 1);
    slots[k] = (uint32_t)(i + 1);
}

/* An index with room for `want` nodes (at most half full); without memory for it, none:
 * lookups are linear then, as correct. */
static void index_nodes(struct xst_tree *t, size_t want)
{
    size_t nslots = 64;
    while (nslots < 2 * want)
        nslots *= 2;
    free(t->slots);
    t->nslots = 0;
    t->slots = want < UINT32_MAX / 4 ? calloc(nslots, sizeof *t->slots) : NULL;
    if (!t->slots)
        return;
    t->nslots = nslots;
    for (size_t i = 0; i < t->n; i++)
        slot_put(t->slots, nslots, t->v[i].path, i);
}

void xst_reindex(struct xst_tree *t)
{
    index_nodes(t, t->n);
}

struct xst_node *xst_find(const struct xst_tree *t, const char *path)
{
    if (!t->nslots) {
        for (size_t i = 0; i < t->n; i++)
            if (strcmp(t->v[i].path, path) == 0)
                return &t->v[i];
        return NULL;
    }
    for (size_t k = path_hash(path) & (t->nslots - 1); t->slots[k]; k = (k + 1) & (t->nslots - 1))
        if (strcmp(t->v[t->slots[k] - 1].path, path) == 0)
            return &t->v[t->slots[k] - 1];
    return NULL;
}

int xst_push(struct xst_tree *t, const char *path, const void *v, size_t n, const char *perms,
             uint64_t gen, uint64_t seq)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct xst_node *nv = realloc(t->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        t->v = nv;
        t->cap = cap;
    }
    struct xst_node *x = &t->v[t->n];
    x->path = strdup(path);
    x->value = malloc(n + 1);
    x->perms = strdup(perms);
    if (!x->path || !x->value || !x->perms) {
        free(x->path);
        free(x->value);
        free(x->perms);
        return -1;
    }
    memcpy(x->value, v, n);
    x->value[n] = '\0';
    x->len = n;
    x->gen = gen;
    x->seq = seq;
    if (seq > t->seq)
        t->seq = seq;
    t->n++;
    if (2 * t->n > t->nslots)
        index_nodes(t, 2 * t->n);
    else
        slot_put(t->slots, t->nslots, x->path, t->n - 1);
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const struct xst_node *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void xst_sort(struct xst_tree *t)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, by_seq);
    xst_reindex(t);
}

void xst_touch(struct xst_tree *t, const char *path)
{
    char part[XST_PART_MAX + 1];
    if (!xst_part(path, part))
        return;                       /* the root file is written on every save */
    for (size_t i = 0; i < t->ntouched; i++)
        if (strcmp(t->touched[i], part) == 0)
            return;
    if (!xst_part_loaded(t, part))
        t->bad_touch = 1;
    char **nv = realloc(t->touched, (t->ntouched + 1) * sizeof *nv);
    char *name = strdup(part);
    if (!nv || !name) {
        if (nv)
            t->touched = nv;
        free(name);
        t->bad_touch = 1;             /* cannot remember it: saving would lose the change */
        return;
    }
    t->touched = nv;
    t->touched[t->ntouched++] = name;
}

int xst_under(const char *node, const char *path)
{
    size_t n = strlen(path);
    if (strcmp(path, "/") == 0)
        return 1;
    return strncmp(node, path, n) == 0 && (node[n] == '\0' || node[n] == '/');
}

int xst_write(struct xst_tree *t, const char *path, const void *v, size_t n,
              const char *perms, uint64_t gen, struct xerr *err)
{
    struct xst_node *x = xst_find(t, path);
    if (x) {
        char *nv = malloc(n + 1);
        if (!nv)
            return xerr_errno(err, ENOMEM, "cannot write %s", path);
        memcpy(nv, v, n);
        nv[n] = '\0';
        free(x->value);
        x->value = nv;
        x->len = n;
        x->gen = gen;
        xst_touch(t, path);
        if (perms) {
            char *np = strdup(perms);
            if (!np)
                return xerr_errno(err, ENOMEM, "cannot write %s", path);
            free(x->perms);
            x->perms = np;
        }
        return 0;
    }
    /* The parent first (xenstored creates missing parents with empty values and the
     * permissions of their own parent). Watches see only the node written, as xenstored
     * fires them, so a parent made on the way keeps generation 0. */
    char parent[DOM_XS_PATH_MAX + 1];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    struct xst_node *p = xst_find(t, parent);
    if (!p && xst_write(t, parent, "", 0, NULL, 0, err) < 0)
        return -1;
    p = xst_find(t, parent);
    char *inherit = p ? strdup(p->perms) : strdup("n0");
    int rc = inherit ? xst_push(t, path, v, n, perms ? perms : inherit, gen, t->seq + 1) : -1;
    free(inherit);
    xst_touch(t, path);
    if (rc < 0)
        return xerr_errno(err, ENOMEM, "cannot write %s", path);
    return 0;
}

int xst_rm(struct xst_tree *t, const char *path, uint64_t gen, struct xerr *err)
{
    (void)gen;
    if (!xst_find(t, path))
        return xerr_set(err, "ENOENT", "no xenstore node %s", path);
    if (strcmp(path, "/") == 0)
        return xerr_set(err, "EINVAL", "cannot remove the xenstore root");
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (xst_under(t->v[i].path, path)) {
            xst_touch(t, t->v[i].path);
            free(t->v[i].path);
            free(t->v[i].value);
            free(t->v[i].perms);
        } else {
            t->v[k++] = t->v[i];
        }
    }
    t->n = k;
    xst_reindex(t);
    return 0;
}

