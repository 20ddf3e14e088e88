/* core/domain/sim/dom_sim_xs_tree.c: the sim's xenstore tree and its file DIR/xenstore:
 *   xlua-sim-xenstore 1
 *   gen G introduced I released R
 *   <gen> <perms> <path> <value, escaped as xenstore-utils does: \\ \n \t \r \xNN>
 * one line a node, parents before children. Lookups by path go through a hash index (a tree
 * of 1,000 sim domains holds some 30,000 nodes). */
#include "dom_sim_xs_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh tree: what xenstored and xen-init-dom0 leave before any guest exists. */
static const char *const bare_tree[][2] = {
    {"/", ""}, {"/local", ""}, {"/local/domain", ""}, {"/local/domain/0", ""},
    {"/local/domain/0/name", "Domain-0"}, {"/local/domain/0/domid", "0"}, {"/vm", ""},
    {"/tool", ""}, {"/libxl", ""}, {NULL, NULL},
};

void xst_free(struct xst_tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].value);
        free(t->v[i].perms);
    }
    free(t->v);
    free(t->slots);
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

static int push(struct xst_tree *t, const char *path, const void *v, size_t n,
                const char *perms, uint64_t gen)
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
    t->n++;
    if (2 * t->n > t->nslots)
        index_nodes(t, 2 * t->n);
    else
        slot_put(t->slots, t->nslots, x->path, t->n - 1);
    return 0;
}

int xst_copy(const struct xst_tree *from, struct xst_tree *to)
{
    memset(to, 0, sizeof *to);
    to->gen = from->gen;
    to->introduced = from->introduced;
    to->released = from->released;
    for (size_t i = 0; i < from->n; i++) {
        const struct xst_node *x = &from->v[i];
        if (push(to, x->path, x->value, x->len, x->perms, x->gen) < 0) {
            xst_free(to);
            return -1;
        }
    }
    return 0;
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
    int rc = inherit ? push(t, path, v, n, perms ? perms : inherit, gen) : -1;
    free(inherit);
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

/* ---- the file ---- */

static void file_path(struct sim *s, char *out)
{
    snprintf(out, PATH_MAX, "%s/xenstore", s->dir);
}

static void escape(FILE *f, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\\')
            fputs("\\\\", f);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < ' ' || c > '~')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

static size_t unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || !p[1]) {
            *o++ = *p;
            continue;
        }
        p++;
        if (*p == 'n')
            *o++ = '\n';
        else if (*p == 't')
            *o++ = '\t';
        else if (*p == 'r')
            *o++ = '\r';
        else if (*p == 'x' && p[1] && p[2]) {
            char hex[3] = { p[1], p[2], 0 };
            *o++ = (char)strtoul(hex, NULL, 16);
            p += 2;
        } else
            *o++ = *p;
    }
    *o = '\0';
    return (size_t)(o - s);
}

static int bare(struct xst_tree *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; bare_tree[i][0]; i++)
        if (push(t, bare_tree[i][0], bare_tree[i][1], strlen(bare_tree[i][1]), "n0", 0) < 0)
            return -1;
    return 0;
}

int xst_load(struct sim *s, struct xst_tree *t, struct xerr *err)
{
    char path[PATH_MAX], *text;
    size_t len;
    struct xerr e;
    file_path(s, path);
    if (sim_read_file(path, &text, &len, &e) < 0) {
        if (strcmp(e.code, "ENOENT") == 0)
            return bare(t) < 0 ? xerr_errno(err, ENOMEM, "cannot load the sim xenstore") : 0;
        if (err)
            *err = e;
        return -1;
    }
    memset(t, 0, sizeof *t);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    unsigned long long g = 0, in = 0, rel = 0;
    if (!line || strcmp(line, "xlua-sim-xenstore 1") != 0 ||
        !(line = strtok_r(NULL, "\n", &save)) ||
        sscanf(line, "gen %llu introduced %llu released %llu", &g, &in, &rel) != 3)
        goto bad;
    t->gen = g;
    t->introduced = in;
    t->released = rel;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        char *sp3 = sp2 ? strchr(sp2 + 1, ' ') : NULL;
        if (!sp3)
            goto bad;
        *sp1 = *sp2 = *sp3 = '\0';
        char *value = sp3 + 1;
        size_t n = unescape(value);
        if (push(t, sp2 + 1, value, n, sp1 + 1, strtoull(line, NULL, 10)) < 0) {
            xst_free(t);
            free(text);
            return xerr_errno(err, ENOMEM, "cannot load the sim xenstore");
        }
    }
    free(text);
    return 0;
bad:
    xst_free(t);
    free(text);
    return xerr_set(err, "EIO", "%s: damaged sim xenstore", path);
}

uint64_t xst_disk_gen(struct sim *s, uint64_t *introduced, uint64_t *released)
{
    char path[PATH_MAX];
    file_path(s, path);
    FILE *f = fopen(path, "re");
    unsigned long long g = 0, in = 0, rel = 0;
    if (f) {
        if (fscanf(f, "xlua-sim-xenstore 1\ngen %llu introduced %llu released %llu", &g, &in,
                   &rel) != 3)
            g = in = rel = 0;
        fclose(f);
    }
    if (introduced)
        *introduced = in;
    if (released)
        *released = rel;
    return g;
}

int xst_save(struct sim *s, const struct xst_tree *t, struct xerr *err)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    file_path(s, path);
    snprintf(tmp, sizeof tmp, "%s/.xenstore.XXXXXX", s->dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return xerr_errno(err, errno, "%s: cannot create", tmp);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return xerr_errno(err, e, "%s: cannot write", path);
    }
    fprintf(f, "xlua-sim-xenstore 1\ngen %llu introduced %llu released %llu\n",
            (unsigned long long)t->gen, (unsigned long long)t->introduced,
            (unsigned long long)t->released);
    for (size_t i = 0; i < t->n; i++) {
        const struct xst_node *x = &t->v[i];
        fprintf(f, "%llu %s %s ", (unsigned long long)x->gen, x->perms, x->path);
        escape(f, x->value, x->len);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        return xerr_errno(err, e, "%s: cannot write", path);
    }
    return 0;
}

int xst_apply(struct sim *s, int (*f)(struct xst_tree *t, uint64_t gen, void *arg,
                                      struct xerr *err),
              void *arg, struct xerr *err)
{
    struct xst_tree t;
    if (xst_load(s, &t, err) < 0)
        return -1;
    int rc = f(&t, t.gen + 1, arg, err);
    if (rc == 1) {
        t.gen++;
        rc = xst_save(s, &t, err);
    }
    xst_free(&t);
    return rc < 0 ? -1 : 0;
}

int xst_mutate(struct sim *s, int (*f)(struct xst_tree *t, uint64_t gen, void *arg,
                                       struct xerr *err),
               void *arg, struct xerr *err)
{
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = xst_apply(s, f, arg, err);
    sim_unlock(s);
    return rc;
}
