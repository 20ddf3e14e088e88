/* core/domain/sim/dom_sim_xs_store.c: the sim's xenstore on disk, in DIR/xs:
 *   root        the counters and every node no part holds:
 *                 xlua-sim-xenstore 3
 *                 gen G introduced I released R seq S
 *                 <node lines>
 *                 sum <XXH3-64 of the lines above, 16 hex digits>
 *                 <newlines up to ROOT_PAGE, when the lines fit in it>
 *   dom-<N>     domain N's nodes: /local/domain/N/..., /libxl/N/... and the backends
 *               /local/domain/0/backend/<kind>/N/... ("xlua-sim-xenstore-part 2", node lines)
 *   vm-<name>   /vm/<name>/... (same)
 * A node line: <gen> <seq> <perms> <path> <value, escaped as xenstore-utils does: \\ \n \t
 * \r \xNN>. seq is the node's creation number: a tree read from several files is put back in
 * creation order, the order xenstored lists children in.
 *
 * So a create writes its domain's two files and the small root file, and a read of one path
 * reads the root file and at most one part. Every change is made under the sim's lock, writes
 * the parts it touched (each replaced atomically: temp + rename), then the root file last, which
 * carries the generation watches and transactions look at. A process killed between two of
 * these writes leaves every file whole: the parts already written hold the change, the
 * generation does not show it yet (the next change's does).
 *
 * The root file changes on every change of the store, so it is rewritten in place, one write
 * of one page (a page is written whole or not at all when the writer is killed), when it fits
 * in one: a rename per change took an inode and freed one (see sim_overwrite_own). Readers
 * hold no lock: one that reads while it is written sees a sum that does not match and reads
 * again. Only a root of this version and of ROOT_PAGE bytes is written in place, so every mix
 * a reader can see starts with ROOT_MAGIC and carries a sum; a bigger one, or one an older
 * version wrote ("xlua-sim-xenstore 2", without a sum), is replaced by temp + rename.
 *
 * The store of older versions, one file DIR/xenstore, is read when there is no DIR/xs/root and
 * replaced by the first change. */
#include "dom_sim_xs_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_MAGIC "xlua-sim-xenstore 3"
#define ROOT_V2_MAGIC "xlua-sim-xenstore 2"
#define ROOT_PAGE 4096
#define ROOT_TRIES 200
#define PART_MAGIC "xlua-sim-xenstore-part 2"
#define V1_MAGIC "xlua-sim-xenstore 1"

/* A fresh tree: what xenstored and xen-init-dom0 leave before any guest exists. */
static const char *const bare_tree[][2] = {
    {"/", ""}, {"/local", ""}, {"/local/domain", ""}, {"/local/domain/0", ""},
    {"/local/domain/0/name", "Domain-0"}, {"/local/domain/0/domid", "0"}, {"/vm", ""},
    {"/tool", ""}, {"/libxl", ""}, {NULL, NULL},
};

/* ---- which file holds a path ---- */

/* The top of a part, component by component: "#" a domid (digits), "%" a domid but 0 (Domain-0's
 * own directory is in the root file), "*" any name. */
struct part_top {
    const char *c[6];
    int n;
    unsigned family;
};

static const struct part_top tops[] = {
    { { "local", "domain", "%" }, 3, XST_ALL_DOM },
    { { "local", "domain", "0", "backend", "*", "#" }, 6, XST_ALL_DOM },
    { { "libxl", "#" }, 2, XST_ALL_DOM },
    { { "vm", "*" }, 2, XST_ALL_VM },
};

static int comp_matches(const char *c, size_t len, const char *pat)
{
    if (strcmp(pat, "*") == 0)
        return 1;
    if (strcmp(pat, "#") == 0 || strcmp(pat, "%") == 0) {
        if (len == 0 || len > 10 || (pat[0] == '%' && len == 1 && c[0] == '0'))
            return 0;
        for (size_t i = 0; i < len; i++)
            if (c[i] < '0' || c[i] > '9')
                return 0;
        return 1;
    }
    return strlen(pat) == len && memcmp(c, pat, len) == 0;
}

/* How many leading components of path match top (stops at the first that does not); the last
 * one matched in *last, *last_len. */
static int match_top(const char *path, const struct part_top *top, const char **last,
                     size_t *last_len)
{
    const char *p = path;
    int k = 0;
    while (*p == '/' && p[1] && k < top->n) {
        const char *c = p + 1, *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (!comp_matches(c, len, top->c[k]))
            break;
        *last = c;
        *last_len = len;
        k++;
        p = c + len;
    }
    return k;
}

static int count_components(const char *path)
{
    int k = 0;
    for (const char *p = path; *p; p++)
        k += *p == '/' && p[1];
    return k;
}

int xst_part(const char *path, char out[XST_PART_MAX + 1])
{
    out[0] = '\0';
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        const char *last = NULL;
        size_t len = 0;
        if (match_top(path, &tops[i], &last, &len) != tops[i].n)
            continue;
        const char *kind = tops[i].family == XST_ALL_DOM ? "dom-" : "vm-";
        if (strlen(kind) + len > XST_PART_MAX)
            return 0;                 /* a name too long for a file name: the root file's */
        snprintf(out, XST_PART_MAX + 1, "%s%.*s", kind, (int)len, last);
        return 1;
    }
    return 0;
}

/* The kinds of part that can hold nodes depth says below path, a path of the root file. */
static unsigned families_below(const char *path, enum xst_depth depth)
{
    unsigned f = 0;
    int k = count_components(path);
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        const char *last;
        size_t len;
        if (k >= tops[i].n || match_top(path, &tops[i], &last, &len) != k)
            continue;
        if (depth == XST_SUBTREE || (depth == XST_CHILDREN && tops[i].n - k == 1))
            f |= tops[i].family;
    }
    return f;
}

static int family_of(const char *part)
{
    return strncmp(part, "dom-", 4) == 0 ? XST_ALL_DOM : XST_ALL_VM;
}

int xst_part_loaded(const struct xst_tree *t, const char *part)
{
    if (t->families & family_of(part))
        return 1;
    for (size_t i = 0; i < t->nloaded; i++)
        if (strcmp(t->loaded[i], part) == 0)
            return 1;
    return 0;
}

/* ---- node lines ---- */

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

/* Push the node lines from *save on (strtok_r state over the file's text). part: the file's
 * part, which every node must belong to ("" the root file); NULL for the old single file,
 * whose lines have no seq (seq then counts the lines). 0, -1 damaged, -2 out of memory. */
static int read_nodes(struct xst_tree *t, char **save, const char *part)
{
    char *line, mine[XST_PART_MAX + 1];
    uint64_t count = 0;
    while ((line = strtok_r(NULL, "\n", save))) {
        int fields = part ? 4 : 3;
        char *sp[4] = { NULL };
        char *p = line;
        for (int i = 0; i < fields; i++) {
            sp[i] = strchr(p, ' ');
            if (!sp[i])
                return -1;
            *sp[i] = '\0';
            p = sp[i] + 1;
        }
        char *perms = part ? sp[1] + 1 : sp[0] + 1, *path = sp[fields - 2] + 1;
        char *value = sp[fields - 1] + 1;
        uint64_t gen = strtoull(line, NULL, 10);
        uint64_t seq = part ? strtoull(sp[0] + 1, NULL, 10) : ++count;
        if (path[0] != '/')
            return -1;
        if (part) {
            xst_part(path, mine);
            if (strcmp(mine, part) != 0)
                return -1;
        }
        size_t n = unescape(value);
        if (xst_push(t, path, value, n, perms, gen, seq) < 0)
            return -2;
    }
    return 0;
}

static void write_node(FILE *f, const struct xst_node *x)
{
    fprintf(f, "%llu %llu %s %s ", (unsigned long long)x->gen, (unsigned long long)x->seq,
            x->perms, x->path);
    escape(f, x->value, x->len);
    fputc('\n', f);
}

/* ---- files ---- */

static void store_path(const struct sim *s, const char *leaf, char *out)
{
    snprintf(out, PATH_MAX, "%s/xs%s%s", s->dir, leaf ? "/" : "", leaf ? leaf : "");
}

static int remember(char ***list, size_t *n, const char *name)
{
    char **nv = realloc(*list, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *list = nv;
    if (!(nv[*n] = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

/* Read one part file into t (absent: nothing); the caller sorts. */
static int load_part(struct xst_tree *t, const char *part, struct xerr *err)
{
    char path[PATH_MAX], *text;
    size_t len;
    struct xerr e;
    store_path(t->s, part, path);
    if (remember(&t->loaded, &t->nloaded, part) < 0)
        return xerr_errno(err, ENOMEM, "cannot load the sim xenstore");
    if (sim_read_file(path, &text, &len, &e) < 0) {
        if (e.code && strcmp(e.code, "ENOENT") == 0)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    int rc = line && strcmp(line, PART_MAGIC) == 0 ? read_nodes(t, &save, part) : -1;
    free(text);
    if (rc == -2)
        return xerr_errno(err, ENOMEM, "cannot load the sim xenstore");
    if (rc < 0)
        return xerr_set(err, "EIO", "%s: damaged sim xenstore", path);
    return 0;
}

/* Every part of the families in fam not read yet. */
static int load_families(struct xst_tree *t, unsigned fam, struct xerr *err)
{
    fam &= ~t->families;
    if (!fam)
        return 0;
    char dir[PATH_MAX];
    store_path(t->s, NULL, dir);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            return xerr_errno(err, errno, "%s: cannot list", dir);
    } else {
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d))) {
            const char *name = de->d_name;
            if ((strncmp(name, "dom-", 4) != 0 && strncmp(name, "vm-", 3) != 0) ||
                !(fam & (unsigned)family_of(name)) || xst_part_loaded(t, name))
                continue;
            rc = load_part(t, name, err);
        }
        closedir(d);
        if (rc < 0)
            return -1;
    }
    t->families |= fam;
    return 0;
}

int xst_need(struct xst_tree *t, const char *path, enum xst_depth depth, struct xerr *err)
{
    char part[XST_PART_MAX + 1];
    int in_part = xst_part(path, part);
    unsigned fam = in_part ? 0 : families_below(path, depth) & ~t->families;
    if (in_part ? xst_part_loaded(t, part) : !fam)
        return 0;
    if (t->snapshot) {
        if (sim_lock(t->s, err) < 0)
            return -1;
        if (xst_disk_gen(t->s, NULL, NULL) != t->gen)
            t->stale = 1;
    }
    int rc = in_part ? load_part(t, part, err) : load_families(t, fam, err);
    if (t->snapshot)
        sim_unlock(t->s);
    xst_sort(t);
    return rc;
}

static int bare(struct xst_tree *t)
{
    for (size_t i = 0; bare_tree[i][0]; i++)
        if (xst_push(t, bare_tree[i][0], bare_tree[i][1], strlen(bare_tree[i][1]), "n0", 0,
                     i + 1) < 0)
            return -1;
    return 0;
}

/* The old single file: the whole tree, every part of it to be written by the next save. */
static int read_v1(struct xst_tree *t, char *text, struct xerr *err)
{
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    unsigned long long g = 0, in = 0, rel = 0;
    if (!line || strcmp(line, V1_MAGIC) != 0 || !(line = strtok_r(NULL, "\n", &save)) ||
        sscanf(line, "gen %llu introduced %llu released %llu", &g, &in, &rel) != 3)
        return xerr_set(err, "EIO", "%s/xenstore: damaged sim xenstore", t->s->dir);
    t->gen = g;
    t->introduced = in;
    t->released = rel;
    int rc = read_nodes(t, &save, NULL);
    if (rc == -2)
        return xerr_errno(err, ENOMEM, "cannot load the sim xenstore");
    if (rc < 0)
        return xerr_set(err, "EIO", "%s/xenstore: damaged sim xenstore", t->s->dir);
    t->families = XST_ALL_DOM | XST_ALL_VM;
    t->from_v1 = 1;            /* every part is written by the save (not touched here: a
                                * read-only use of the old file would pay for it) */
    return 0;
}

static void format_sum(const char *text, size_t n, char out[32])
{
    snprintf(out, 32, "sum %016llx\n", (unsigned long long)XXH3_64bits(text, n));
}

/* The root file's text, cut before its sum line (an older version's: all of it); a read that
 * sees a sum that does not match happened while the file was written: read again. ENOENT
 * when absent. */
static int read_root_file(struct sim *s, char path[PATH_MAX], char **out, struct xerr *err)
{
    store_path(s, "root", path);
    for (int tries = 0;; tries++) {
        char *text, *sum, want[32];
        size_t len;
        if (sim_read_file(path, &text, &len, err) < 0)
            return -1;
        if (strncmp(text, ROOT_MAGIC "\n", sizeof ROOT_MAGIC) != 0) {
            *out = text;                /* an older version's, or damaged: the parser says */
            return 0;
        }
        /* the sum line: the first that starts with "sum " (node lines start with digits) */
        if ((sum = strstr(text, "\nsum ")) != NULL) {
            sum++;
            format_sum(text, (size_t)(sum - text), want);
            if (strncmp(sum, want, strlen(want)) == 0) {
                *sum = '\0';
                *out = text;
                return 0;
            }
        }
        free(text);
        if (tries == ROOT_TRIES)
            return xerr_set(err, "EIO", "%s: damaged sim xenstore", path);
        sched_yield();
    }
}

/* "gen G introduced I released R seq S" after either root magic; the line after it in *save. */
static int parse_root_head(char *text, char **save, unsigned long long c[4])
{
    char *line = strtok_r(text, "\n", save);
    if (!line || (strcmp(line, ROOT_MAGIC) != 0 && strcmp(line, ROOT_V2_MAGIC) != 0) ||
        !(line = strtok_r(NULL, "\n", save)))
        return -1;
    return sscanf(line, "gen %llu introduced %llu released %llu seq %llu", &c[0], &c[1], &c[2],
                  &c[3]) == 4 ? 0 : -1;
}

static int read_root(struct xst_tree *t, struct xerr *err)
{
    char path[PATH_MAX], *text;
    size_t len;
    struct xerr e;
    if (read_root_file(t->s, path, &text, &e) < 0) {
        if (!e.code || strcmp(e.code, "ENOENT") != 0) {
            if (err)
                *err = e;
            return -1;
        }
        snprintf(path, sizeof path, "%s/xenstore", t->s->dir);
        if (sim_read_file(path, &text, &len, &e) == 0) {
            int rc = read_v1(t, text, err);
            free(text);
            return rc;
        }
        if (!e.code || strcmp(e.code, "ENOENT") != 0) {
            if (err)
                *err = e;
            return -1;
        }
        return bare(t) < 0 ? xerr_errno(err, ENOMEM, "cannot load the sim xenstore") : 0;
    }
    char *save = NULL;
    unsigned long long c[4];
    int rc = -1;
    if (parse_root_head(text, &save, c) == 0) {
        t->gen = c[0];
        t->introduced = c[1];
        t->released = c[2];
        t->seq = c[3];
        rc = read_nodes(t, &save, "");
    }
    free(text);
    if (rc == -2)
        return xerr_errno(err, ENOMEM, "cannot load the sim xenstore");
    if (rc < 0)
        return xerr_set(err, "EIO", "%s: damaged sim xenstore", path);
    return 0;
}

int xst_load(struct sim *s, struct xst_tree *t, const char *path, enum xst_depth depth,
             struct xerr *err)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    if (read_root(t, err) < 0 || (path && xst_need(t, path, depth, err) < 0)) {
        xst_free(t);
        return -1;
    }
    xst_sort(t);
    return 0;
}

uint64_t xst_disk_gen(struct sim *s, uint64_t *introduced, uint64_t *released)
{
    char path[PATH_MAX], *text = NULL, *save = NULL;
    unsigned long long c[4] = { 0, 0, 0, 0 };
    if (read_root_file(s, path, &text, NULL) == 0) {
        if (parse_root_head(text, &save, c) < 0)
            c[0] = c[1] = c[2] = 0;
        free(text);
    } else {
        snprintf(path, sizeof path, "%s/xenstore", s->dir);
        FILE *f = fopen(path, "re");
        if (f) {
            if (fscanf(f, V1_MAGIC "\ngen %llu introduced %llu released %llu", &c[0], &c[1],
                       &c[2]) != 3)
                c[0] = c[1] = c[2] = 0;
            fclose(f);
        }
    }
    if (introduced)
        *introduced = c[1];
    if (released)
        *released = c[2];
    return c[0];
}

/* Replace the file at path by one holding buf (temp + rename). */
static int replace_file(struct sim *s, const char *path, const char *buf, size_t n,
                        struct xerr *err)
{
    char tmp[PATH_MAX];
    store_path(s, ".tmp.XXXXXX", tmp);
    return sim_replace_file(tmp, path, buf, n, err);
}

/* The root file: its text, the sum line, newlines up to ROOT_PAGE when that fits (*buf may
 * move); in place when the file is already such a page, else replaced. */
static int write_root(struct sim *s, const char *path, char **buf, size_t n, struct xerr *err)
{
    char sum[32];
    format_sum(*buf, n, sum);
    size_t whole = n + strlen(sum), size = whole <= ROOT_PAGE ? ROOT_PAGE : whole;
    char *nb = realloc(*buf, size);
    if (!nb)
        return xerr_errno(err, ENOMEM, "cannot save the sim xenstore");
    *buf = nb;
    memcpy(nb + n, sum, strlen(sum));
    memset(nb + whole, '\n', size - whole);
    int rc = size == ROOT_PAGE ? sim_overwrite_own(path, nb, size, ROOT_PAGE, ROOT_PAGE,
                                                   ROOT_MAGIC "\n", err) : 0;
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return replace_file(s, path, nb, size, err);
}

/* Write the nodes at idx[0..n) of t into DIR/xs/<leaf> (root: the counters first); no nodes
 * in a part: remove its file. */
static int write_file(struct sim *s, const struct xst_tree *t, const char *leaf,
                      const size_t *idx, size_t n, struct xerr *err)
{
    char path[PATH_MAX];
    int root = strcmp(leaf, "root") == 0;
    store_path(s, leaf, path);
    if (!root && n == 0) {
        if (unlink(path) < 0 && errno != ENOENT)
            return xerr_errno(err, errno, "%s: cannot remove", path);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return xerr_errno(err, ENOMEM, "cannot save the sim xenstore");
    if (root)
        fprintf(f, ROOT_MAGIC "\ngen %llu introduced %llu released %llu seq %llu\n",
                (unsigned long long)t->gen, (unsigned long long)t->introduced,
                (unsigned long long)t->released, (unsigned long long)t->seq);
    else
        fputs(PART_MAGIC "\n", f);
    for (size_t i = 0; i < n; i++)
        write_node(f, &t->v[idx[i]]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(buf);
        return xerr_errno(err, ENOMEM, "cannot save the sim xenstore");
    }
    int rc = root ? write_root(s, path, &buf, len, err) : replace_file(s, path, buf, len, err);
    free(buf);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int xst_save(struct sim *s, struct xst_tree *t, struct xerr *err)
{
    char dir[PATH_MAX], part[XST_PART_MAX + 1];
    if (t->bad_touch)
        return xerr_set(err, "EIO", "sim xenstore: a change in a part not read (not saved)");
    if (t->from_v1)
        for (size_t i = 0; i < t->n; i++)
            xst_touch(t, t->v[i].path);
    if (t->bad_touch)
        return xerr_set(err, "ENOMEM", "cannot save the sim xenstore");
    store_path(s, NULL, dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return xerr_errno(err, errno, "%s: cannot create", dir);
    /* The nodes by file, each file's in creation order: a counting sort over the touched
     * parts (sorted, looked up by bsearch), the root file's last. */
    size_t np = t->ntouched;
    if (np > 1)
        qsort(t->touched, np, sizeof *t->touched, by_name);
    size_t *which = malloc((t->n + 1) * sizeof *which), *idx = malloc((t->n + 1) * sizeof *idx);
    size_t *start = calloc(np + 2, sizeof *start);
    int rc = -1;
    if (!which || !idx || !start) {
        xerr_errno(err, ENOMEM, "cannot save the sim xenstore");
        goto out;
    }
    for (size_t i = 0; i < t->n; i++) {
        which[i] = np + 1;            /* an untouched part: not written */
        if (!xst_part(t->v[i].path, part)) {
            which[i] = np;            /* the root file */
        } else {
            const char *key = part;
            char **hit = np ? bsearch(&key, t->touched, np, sizeof *t->touched, by_name) : NULL;
            if (hit)
                which[i] = (size_t)(hit - t->touched);
        }
        if (which[i] <= np)
            start[which[i] + 1]++;
    }
    for (size_t k = 1; k <= np + 1; k++)
        start[k] += start[k - 1];
    size_t *fill = calloc(np + 1, sizeof *fill);
    if (!fill) {
        xerr_errno(err, ENOMEM, "cannot save the sim xenstore");
        goto out;
    }
    for (size_t i = 0; i < t->n; i++)
        if (which[i] <= np)
            idx[start[which[i]] + fill[which[i]]++] = i;
    free(fill);
    rc = 0;
    for (size_t k = 0; k < np && rc == 0; k++)
        rc = write_file(s, t, t->touched[k], idx + start[k], start[k + 1] - start[k], err);
    if (rc == 0)
        rc = write_file(s, t, "root", idx + start[np], start[np + 1] - start[np], err);
    if (rc == 0 && t->from_v1) {
        char old[PATH_MAX];
        snprintf(old, sizeof old, "%s/xenstore", s->dir);
        unlink(old);
        t->from_v1 = 0;
    }
    if (rc == 0) {
        for (size_t k = 0; k < np; k++)
            free(t->touched[k]);
        t->ntouched = 0;
    }
out:
    free(which);
    free(idx);
    free(start);
    return rc;
}

int xst_apply(struct sim *s, const char *path, enum xst_depth depth, xst_change_fn f,
              void *arg, struct xerr *err)
{
    struct xst_tree t;
    if (xst_load(s, &t, path, depth, err) < 0)
        return -1;
    int rc = f(&t, t.gen + 1, arg, err);
    if (rc == 1) {
        t.gen++;
        rc = xst_save(s, &t, err);
    }
    xst_free(&t);
    return rc < 0 ? -1 : 0;
}

int xst_mutate(struct sim *s, const char *path, enum xst_depth depth, xst_change_fn f,
               void *arg, struct xerr *err)
{
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = xst_apply(s, path, depth, f, arg, err);
    sim_unlock(s);
    return rc;
}
