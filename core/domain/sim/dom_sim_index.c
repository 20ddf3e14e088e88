/* core/domain/sim/dom_sim_index.c: the sim's index of its domains, DIR/index: one line
 * "domid creator memory_kb name" per domain directory, so that creating a domain or finding one
 * by name reads one small file, not every domain's metadata.
 *
 * Only a holder of the lock writes it. A change of one domain appends a line (a later line
 * for a domid replaces the earlier one, "-domid" removes it), so a create does not rewrite the
 * index of every other domain; whoever reads it under the lock with twice as many lines as
 * domains writes it again without the replaced ones (temp + rename). Whoever changes names or
 * the set of domains either updates it in the same locked step (reserve, publish, remove) or
 * removes it first (rename, preserve); a holder of the lock that finds no index (or a damaged
 * one, such as a line cut short) rebuilds it from a full scan. A process killed between a
 * change and the index update leaves at worst an entry whose domain is gone (skipped when
 * read) or no index at all. */
#include "dom_sim_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAGIC "xlua-sim-index 2\n"

static void index_path(const struct sim *s, char *out)
{
    snprintf(out, PATH_MAX, "%s/index", s->dir);
}

void sim_index_free(struct sim_index *ix)
{
    free(ix->e);
    ix->e = NULL;
    ix->n = ix->cap = 0;
}

static int add(struct sim_index *ix, uint32_t domid, pid_t creator, uint64_t memory_kb,
               const char *name)
{
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? 2 * ix->cap : 64;
        struct sim_index_entry *e = realloc(ix->e, cap * sizeof *e);
        if (!e)
            return -1;
        ix->e = e;
        ix->cap = cap;
    }
    struct sim_index_entry *e = &ix->e[ix->n++];
    e->domid = domid;
    e->creator = creator;
    e->memory_kb = memory_kb;
    snprintf(e->name, sizeof e->name, "%s", name);
    return 0;
}

/* 1 read, 0 there is no index (or it is not one), -1 error. *lines: how many entry lines it
 * has (NULL: not wanted). */
static int read_index(struct sim *s, struct sim_index *ix, size_t *lines, struct xerr *err)
{
    char path[PATH_MAX], *text;
    size_t len, count = 0;
    struct xerr e;
    memset(ix, 0, sizeof *ix);
    index_path(s, path);
    if (sim_read_file(path, &text, &len, &e) < 0) {
        if (e.code && strcmp(e.code, "ENOENT") == 0)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    /* where each domid's entry is in ix->e, plus one (domids are below SIM_DOMID_LIMIT) */
    uint32_t *at = calloc(SIM_DOMID_LIMIT, sizeof *at);
    int ok = at && len >= strlen(INDEX_MAGIC) &&
             memcmp(text, INDEX_MAGIC, strlen(INDEX_MAGIC)) == 0;
    for (char *line = text + (ok ? strlen(INDEX_MAGIC) : len), *next; ok && *line; line = next) {
        next = strchr(line, '\n');
        if (!next) {
            ok = 0;
            break;
        }
        *next++ = '\0';
        count++;
        if (line[0] == '-') {
            unsigned long gone = strtoul(line + 1, NULL, 10);
            if (gone == 0 || gone >= SIM_DOMID_LIMIT) {
                ok = 0;
                break;
            }
            if (at[gone]) {
                ix->e[at[gone] - 1].domid = 0;
                at[gone] = 0;
            }
            continue;
        }
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        char *sp3 = sp2 ? strchr(sp2 + 1, ' ') : NULL;
        if (!sp3 || strlen(sp3 + 1) > DOM_NAME_MAX) {
            ok = 0;
            break;
        }
        unsigned long domid = strtoul(line, NULL, 10);
        long creator = strtol(sp1 + 1, NULL, 10);
        unsigned long long memory_kb = strtoull(sp2 + 1, NULL, 10);
        if (domid == 0 || domid >= SIM_DOMID_LIMIT || strlen(sp3 + 1) == 0) {
            ok = 0;
            break;
        }
        if (at[domid]) {
            struct sim_index_entry *x = &ix->e[at[domid] - 1];
            x->creator = (pid_t)creator;
            x->memory_kb = memory_kb;
            snprintf(x->name, sizeof x->name, "%s", sp3 + 1);
        } else if (add(ix, (uint32_t)domid, (pid_t)creator, memory_kb, sp3 + 1) < 0) {
            ok = 0;
            break;
        } else {
            at[domid] = (uint32_t)ix->n;
        }
    }
    free(text);
    free(at);
    if (!ok)
        sim_index_free(ix);
    if (lines)
        *lines = count;
    return ok;
}

void sim_index_drop(struct sim *s)
{
    char path[PATH_MAX];
    index_path(s, path);
    unlink(path);
}

/* Write it whole, or leave no index at all (the next reader rebuilds it). */
static void write_index(struct sim *s, const struct sim_index *ix)
{
    size_t cap = strlen(INDEX_MAGIC) + ix->n * (DOM_NAME_MAX + 32) + 1, len;
    char *text = malloc(cap), path[PATH_MAX], tmp[PATH_MAX];
    index_path(s, path);
    if (!text) {
        unlink(path);
        return;
    }
    len = (size_t)snprintf(text, cap, "%s", INDEX_MAGIC);
    for (size_t i = 0; i < ix->n; i++)
        if (ix->e[i].domid)
            len += (size_t)snprintf(text + len, cap - len, "%u %ld %llu %s\n", ix->e[i].domid,
                                    (long)ix->e[i].creator,
                                    (unsigned long long)ix->e[i].memory_kb, ix->e[i].name);
    snprintf(tmp, sizeof tmp, "%s/.index.XXXXXX", s->dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int ok = fd >= 0 && sim_write_at(fd, text, len, 0) == 0;
    if (fd >= 0 && close(fd) < 0)
        ok = 0;
    if (ok && rename(tmp, path) < 0)
        ok = 0;
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        unlink(path);
    }
    free(text);
}

int sim_index_load(struct sim *s, struct sim_index *ix, struct xerr *err)
{
    size_t lines = 0;
    int rc = read_index(s, ix, &lines, err);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        size_t live = 0;
        for (size_t i = 0; i < ix->n; i++)
            live += ix->e[i].domid != 0;
        if (lines > 2 * live + 64)
            write_index(s, ix);        /* the appended changes folded in */
        return 0;
    }
    struct sim_dom *all;
    size_t n;
    if (sim_scan(s, 1, &all, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (add(ix, all[i].info.domid, all[i].creator, all[i].info.memory_kb,
                all[i].info.name) < 0) {
            free(all);
            sim_index_free(ix);
            return xerr_errno(err, ENOMEM, "cannot index the sim domains");
        }
    }
    free(all);
    write_index(s, ix);
    return 0;
}

void sim_index_save(struct sim *s, const struct sim_index *ix)
{
    write_index(s, ix);
}

/* Change one entry of an index that exists (a missing one stays missing): append its line,
 * in one write (a line cut short makes the index damaged: rebuilt by the next reader). */
static void update(struct sim *s, uint32_t domid, pid_t creator, uint64_t memory_kb,
                   const char *name, int remove)
{
    char path[PATH_MAX], line[DOM_NAME_MAX + 80];
    index_path(s, path);
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            unlink(path);
        return;
    }
    int n = remove ? snprintf(line, sizeof line, "-%u\n", domid)
                   : snprintf(line, sizeof line, "%u %ld %llu %s\n", domid, (long)creator,
                              (unsigned long long)memory_kb, name);
    /* after a line cut short, an appended one would read as part of it: drop the index */
    struct stat st;
    char last = 0;
    ssize_t w = -1;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
        last == '\n' && n > 0 && (size_t)n < sizeof line)
        w = write(fd, line, (size_t)n);
    if (close(fd) < 0 || w != n)
        unlink(path);
}

void sim_index_set(struct sim *s, const struct sim_dom *d)
{
    update(s, d->info.domid, d->creator, d->info.memory_kb, d->info.name, 0);
}

void sim_index_remove(struct sim *s, uint32_t domid)
{
    update(s, domid, 0, 0, NULL, 1);
}

/* sim_index_load under the sim's lock, for a caller that holds none. */
static int load_locked(struct sim *s, struct sim_index *ix, struct xerr *err)
{
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_index_load(s, ix, err);
    sim_unlock(s);
    return rc;
}

int sim_used_memory(struct sim *s, uint64_t *kb, size_t *count, struct xerr *err)
{
    struct sim_index ix;
    if (load_locked(s, &ix, err) < 0)
        return -1;
    *kb = 0;
    size_t built = 0;
    for (size_t i = 0; i < ix.n; i++)
        if (ix.e[i].domid && !ix.e[i].creator) {
            *kb += ix.e[i].memory_kb;
            built++;
        }
    if (count)
        *count = built;
    sim_index_free(&ix);
    return 0;
}

int sim_find_name(struct dom_backend *b, const char *name, struct dom_info *out,
                  struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    struct sim_index ix;
    if (strcmp(name, "Domain-0") == 0)
        return 1;
    if (load_locked(s, &ix, err) < 0)
        return -1;
    uint32_t domid = 0;
    for (size_t i = 0; i < ix.n && !domid; i++)
        if (ix.e[i].domid && !ix.e[i].creator && strcmp(ix.e[i].name, name) == 0)
            domid = ix.e[i].domid;
    sim_index_free(&ix);
    struct sim_dom d;
    if (domid && sim_get(s, domid, "", &d, NULL) == 0 && strcmp(d.info.name, name) == 0) {
        *out = d.info;
        return 0;
    }
    if (domid) {               /* the index was wrong: forget it, look at every domain */
        if (sim_lock(s, err) < 0)
            return -1;
        sim_index_drop(s);
        sim_unlock(s);
        return 1;
    }
    return xerr_set(err, "NODOMAIN", "no domain named '%s'", name);
}
