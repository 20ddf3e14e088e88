/* core/domain/sim/dom_sim_store.c: the sim's config store: every key of a domain in one file,
 * DIR/domains/<domid>/config-store, "XLST" then {u32 key length, key, u32 value length, value}*
 * (lengths little-endian), replaced whole (temp + rename) under the sim lock.
 *
 * One file, so that a change of several keys (a create stores the config's text, format and
 * JSON) is one write that a crash leaves either before or after, never half applied: a reader
 * never finds a JSON with the text of another config. It also takes one inode, not one per
 * key. Readers read the file without the lock: a rename makes each read see one version whole.
 *
 * A domain from before kept one file per key in store/: that directory is read as it is while
 * there is no config-store; the first change writes config-store with every key (the commit
 * point: from then on store/ is ignored) and then removes store/. */
#include "dom_sim_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_FILE "config-store"
#define LEGACY_DIR "store"
#define STORE_MAGIC "XLST"

struct entry {
    char *key, *value;          /* value NUL-terminated past len, as sim_read_file's */
    size_t len;
};

struct store {
    struct entry *e;
    size_t n, cap;
    int legacy;                 /* read from store/ (no config-store yet) */
};

static void store_free(struct store *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->e[i].key);
        free(st->e[i].value);
    }
    free(st->e);
    memset(st, 0, sizeof *st);
}

static struct entry *find(struct store *st, const char *key)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->e[i].key, key) == 0)
            return &st->e[i];
    return NULL;
}

/* Set key to a copy of n bytes at v (v NULL: remove it). 1: set or removed, 0: nothing to
 * remove, -1: out of memory. */
static int set(struct store *st, const char *key, const void *v, size_t n)
{
    struct entry *e = find(st, key);
    if (!v) {
        if (!e)
            return 0;
        free(e->key);
        free(e->value);
        *e = st->e[--st->n];
        return 1;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, v, n);
    copy[n] = '\0';
    if (e) {
        free(e->value);
        e->value = copy;
        e->len = n;
        return 1;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 8;
        struct entry *ne = realloc(st->e, cap * sizeof *ne);
        if (!ne) {
            free(copy);
            return -1;
        }
        st->e = ne;
        st->cap = cap;
    }
    if (!(st->e[st->n].key = strdup(key))) {
        free(copy);
        return -1;
    }
    st->e[st->n].value = copy;
    st->e[st->n].len = n;
    st->n++;
    return 1;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* 0, or -1: damaged (1) or out of memory (-1) in *why. */
static int parse(const unsigned char *p, size_t n, struct store *st, int *why)
{
    *why = 1;
    if (n < 4 || memcmp(p, STORE_MAGIC, 4) != 0)
        return -1;
    char key[DOM_KEY_MAX + 1];
    for (size_t off = 4; off < n;) {
        if (n - off < 4)
            return -1;
        uint32_t kl = get32(p + off);
        off += 4;
        if (kl == 0 || kl > DOM_KEY_MAX || n - off < (size_t)kl + 4)
            return -1;
        memcpy(key, p + off, kl);
        key[kl] = '\0';
        off += kl;
        uint32_t vl = get32(p + off);
        off += 4;
        if (n - off < vl || dom_check_key(key, NULL) < 0 || find(st, key))
            return -1;
        if (set(st, key, p + off, vl) < 0) {
            *why = -1;
            return -1;
        }
        off += vl;
    }
    return 0;
}

/* The keys of a domain from before config-store, one file each in store/ (none: empty). */
static int load_legacy(struct sim *s, uint32_t domid, struct store *st, struct xerr *err)
{
    char dirpath[PATH_MAX];
    sim_dom_path(s, domid, LEGACY_DIR, dirpath);
    DIR *dir = opendir(dirpath);
    if (!dir) {
        if (errno == ENOENT)
            return 0;
        return xerr_errno(err, errno, "%s: cannot list", dirpath);
    }
    st->legacy = 1;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dir))) {
        if (dom_check_key(de->d_name, NULL) < 0)
            continue;
        char path[PATH_MAX + 256], *v;
        size_t n;
        struct xerr e;
        snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name);
        if (sim_read_file(path, &v, &n, &e) < 0) {
            if (strcmp(e.code, "ENOENT") == 0)
                continue;
            if (err)
                *err = e;
            rc = -1;
        } else {
            if (set(st, de->d_name, v, n) < 0)
                rc = xerr_errno(err, ENOMEM, "cannot read the store of domain %u", domid);
            free(v);
        }
    }
    closedir(dir);
    return rc;
}

/* Every key of the domain's store. */
static int load(struct sim *s, uint32_t domid, struct store *st, struct xerr *err)
{
    char path[PATH_MAX], *text;
    size_t n;
    struct xerr e;
    memset(st, 0, sizeof *st);
    sim_dom_path(s, domid, STORE_FILE, path);
    for (int tries = 0;; tries++) {
        if (sim_read_file(path, &text, &n, &e) == 0) {
            int why;
            int rc = parse((const unsigned char *)text, n, st, &why);
            free(text);
            if (rc == 0)
                return 0;
            store_free(st);
            if (why < 0)
                return xerr_errno(err, ENOMEM, "cannot read the store of domain %u", domid);
            return xerr_set(err, "EIO", "%s: the config store is damaged", path);
        }
        if (strcmp(e.code, "ENOENT") != 0) {
            if (err)
                *err = e;
            return -1;
        }
        if (load_legacy(s, domid, st, err) < 0) {
            store_free(st);
            return -1;
        }
        /* A writer may have moved store/ into config-store meanwhile (readers hold no lock):
         * what was read of store/ may then be half gone; read config-store instead. */
        if (tries > 0 || access(path, F_OK) < 0)
            return 0;
        store_free(st);
    }
}

/* Write the store whole, then (a store from before) remove store/. Under the lock. */
static int save(struct sim *s, uint32_t domid, const struct store *st, struct xerr *err)
{
    size_t len = 4;
    for (size_t i = 0; i < st->n; i++) {
        if (st->e[i].len > UINT32_MAX)
            return xerr_set(err, "EINVAL", "a store value of domain %u is over 4 GiB", domid);
        len += 8 + strlen(st->e[i].key) + st->e[i].len;
    }
    unsigned char *buf = malloc(len), *q = buf;
    if (!buf)
        return xerr_errno(err, ENOMEM, "cannot write the store of domain %u", domid);
    memcpy(q, STORE_MAGIC, 4);
    q += 4;
    for (size_t i = 0; i < st->n; i++) {
        size_t kl = strlen(st->e[i].key);
        put32(q, (uint32_t)kl);
        memcpy(q + 4, st->e[i].key, kl);
        q += 4 + kl;
        put32(q, (uint32_t)st->e[i].len);
        memcpy(q + 4, st->e[i].value, st->e[i].len);
        q += 4 + st->e[i].len;
    }
    int rc = sim_write_file(s, domid, STORE_FILE, buf, len, err);
    free(buf);
    if (rc == 0 && st->legacy) {
        char dirpath[PATH_MAX];
        sim_dom_path(s, domid, LEGACY_DIR, dirpath);
        DIR *dir = opendir(dirpath);
        struct dirent *de;
        while (dir && (de = readdir(dir)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(dir), de->d_name, 0);
        if (dir) {
            closedir(dir);
            rmdir(dirpath);
        }
    }
    return rc;
}

int sim_store_get_many(struct dom_backend *b, uint32_t domid, size_t n,
                       const char *const *keys, char **values, size_t *lens, struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    struct sim_dom d;
    struct store st;
    if (sim_get(s, domid, "no config store for", &d, err) < 0 || load(s, domid, &st, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct entry *e = find(&st, keys[i]);
        if (!e)
            continue;
        /* handed over: the caller frees it */
        values[i] = e->value;
        lens[i] = e->len;
        for (size_t j = i + 1; j < n; j++)      /* a key asked for twice: a copy each */
            if (strcmp(keys[j], keys[i]) == 0) {
                e->value = malloc(e->len + 1);
                if (!e->value) {
                    for (size_t k = 0; k <= i; k++) {
                        free(values[k]);
                        values[k] = NULL;
                        lens[k] = 0;
                    }
                    store_free(&st);
                    return xerr_errno(err, ENOMEM, "cannot read the store of domain %u",
                                      domid);
                }
                memcpy(e->value, values[i], e->len + 1);
                break;
            }
        if (e->value == values[i])
            e->value = NULL;
    }
    store_free(&st);
    return 0;
}

int sim_store_put_many(struct dom_backend *b, uint32_t domid, size_t n,
                       const char *const *keys, const void *const *values,
                       const size_t *lens, struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    struct sim_dom d;
    struct store st;
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_get(s, domid, "no config store for", &d, err);
    if (rc == 0)
        rc = load(s, domid, &st, err);
    if (rc == 0) {
        int changed = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            int r = set(&st, keys[i], values[i], values[i] ? lens[i] : 0);
            if (r < 0)
                rc = xerr_errno(err, ENOMEM, "cannot update the store of domain %u", domid);
            changed |= r > 0;
        }
        if (rc == 0 && changed)         /* removing absent keys only: nothing to write */
            rc = save(s, domid, &st, err);
        store_free(&st);
    }
    sim_unlock(s);
    return rc;
}

int sim_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                  size_t n, struct xerr *err)
{
    return sim_store_put_many(b, domid, 1, &key, &v, &n, err);
}

int sim_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v, size_t *n,
                  struct xerr *err)
{
    *v = NULL;
    *n = 0;
    if (sim_store_get_many(b, domid, 1, &key, v, n, err) < 0)
        return -1;
    if (!*v)
        return xerr_set(err, "ENOENT", "domain %u has no store key '%s'", domid, key);
    return 0;
}

int sim_store_remove(struct dom_backend *b, uint32_t domid, const char *key, struct xerr *err)
{
    return sim_store_put_many(b, domid, 1, &key, (const void *const[]){ NULL }, (size_t[]){ 0 },
                              err);
}

int sim_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                   struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    struct sim_dom d;
    struct store st;
    *keys = NULL;
    *n = 0;
    if (sim_get(s, domid, "no config store for", &d, err) < 0 || load(s, domid, &st, err) < 0)
        return -1;
    char **v = calloc(st.n ? st.n : 1, sizeof *v);
    if (!v) {
        store_free(&st);
        return xerr_errno(err, ENOMEM, "cannot list the store of domain %u", domid);
    }
    for (size_t i = 0; i < st.n; i++) {
        v[i] = st.e[i].key;         /* handed over */
        st.e[i].key = NULL;
    }
    *keys = v;
    *n = st.n;
    store_free(&st);
    return 0;
}
