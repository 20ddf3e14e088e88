/* core/domain/libxl/dom_libxl_store.c: the libxl backend's config store: one blob in the
 * domain's libxl userdata "xlua" holding every key. */
#include "dom_libxl_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "savefile/sf_format.h"

#define USERDATA_ID "xlua"
#define STORE_MAGIC "XLST"

/* ---- the config store: userdata "xlua", {u32 key length, key, u32 value length, value}*
 * after "XLST", lengths little-endian ---- */

struct blob {
    uint8_t *p;
    int n;
};

static int store_load(struct lx *x, uint32_t domid, struct blob *bl, struct xerr *err)
{
    libxl_dominfo d;
    bl->p = NULL;
    bl->n = 0;
    if (lxb_check_guest(x, domid, "no config store for", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    lxb_log_clear(x);
    int rc = libxl_userdata_retrieve(x->ctx, domid, USERDATA_ID, &bl->p, &bl->n);
    if (rc)
        return lxb_fail(x, err, rc, "libxl_userdata_retrieve of domain %u", domid);
    if (bl->n && (bl->n < 4 || memcmp(bl->p, STORE_MAGIC, 4) != 0)) {
        free(bl->p);
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    }
    return 0;
}

/* The next entry at *off: key and value spans; 1 found, 0 end, -1 damaged. */
static int store_next(const struct blob *bl, int *off, const uint8_t **k, uint32_t *kl,
                      const uint8_t **v, uint32_t *vl)
{
    if (*off < 4)
        *off = 4;
    if (*off >= bl->n)
        return 0;
    size_t left = (size_t)(bl->n - *off);
    const uint8_t *q = bl->p + *off;
    if (left < 4 || (*kl = sf_get32(q, 0)) > left - 4 || left - 4 - *kl < 4)
        return -1;
    *k = q + 4;
    *vl = sf_get32(q + 4 + *kl, 0);
    if (*vl > left - 8 - *kl)
        return -1;
    *v = q + 8 + *kl;
    *off += (int)(8 + *kl + *vl);
    return 1;
}

/* *out = the blob without key, then with key = v when v is not NULL (a new blob). 1: the
 * stored blob was damaged, *out holds what could be read of it and key. */
static int store_edit(uint32_t domid, const struct blob *bl, const char *key, const void *v,
                      size_t vn, struct blob *out, struct xerr *err)
{
    size_t klen = strlen(key), cap = 4 + (size_t)bl->n + 8 + klen + vn;
    if (cap > INT32_MAX)
        return xerr_set(err, "EINVAL", "the config store of domain %u would be over 2 GiB",
                        domid);
    uint8_t *p = malloc(cap), *q = p + 4;
    if (!p)
        return xerr_errno(err, ENOMEM, "cannot update the config store of domain %u", domid);
    memcpy(p, STORE_MAGIC, 4);
    int off = 0, more;
    const uint8_t *k, *val;
    uint32_t kl, vl;
    while ((more = store_next(bl, &off, &k, &kl, &val, &vl)) > 0) {
        if (kl == klen && memcmp(k, key, klen) == 0)
            continue;
        sf_put32(q, kl, 0);
        memcpy(q + 4, k, kl);
        sf_put32(q + 4 + kl, vl, 0);
        memcpy(q + 8 + kl, val, vl);
        q += 8 + kl + vl;
    }
    if (v) {
        sf_put32(q, (uint32_t)klen, 0);
        memcpy(q + 4, key, klen);
        sf_put32(q + 4 + klen, (uint32_t)vn, 0);
        memcpy(q + 8 + klen, v, vn);
        q += 8 + klen + vn;
    }
    out->p = p;
    out->n = (int)(q - p);
    return more < 0;
}

/* Write nb in place of the stored bl, unless nothing changes (removing an absent key). A
 * damaged bl is replaced by what could be read of it, and EIO says so. */
static int store_write(struct lx *x, uint32_t domid, const struct blob *bl,
                       const struct blob *nb, int damaged, struct xerr *err)
{
    if (!damaged && nb->n == (bl->n ? bl->n : 4)
        && (!bl->n || memcmp(nb->p, bl->p, (size_t)nb->n) == 0))
        return 0;
    lxb_log_clear(x);
    /* An empty store is no userdata at all (length 0 deletes it). */
    int rc = libxl_userdata_store(x->ctx, domid, USERDATA_ID, nb->p, nb->n > 4 ? nb->n : 0);
    if (damaged)
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    return rc ? lxb_fail(x, err, rc, "libxl_userdata_store of domain %u", domid) : 0;
}

static int store_save(struct lx *x, uint32_t domid, const struct blob *bl, const char *key,
                      const void *v, size_t vn, struct xerr *err)
{
    struct blob nb;
    int damaged = store_edit(domid, bl, key, v, vn, &nb, err);
    if (damaged < 0)
        return -1;
    int rc = store_write(x, domid, bl, &nb, damaged, err);
    free(nb.p);
    return rc;
}

int lxb_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                        size_t n, struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int rc = store_save(x, domid, &bl, key, v ? v : "", n, err);
    free(bl.p);
    return rc;
}

int lxb_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v,
                        size_t *n, struct xerr *err)
{
    char *value = NULL;
    size_t len = 0;
    if (lxb_store_get_many(b, domid, 1, &key, &value, &len, err) < 0)
        return -1;
    if (!value)
        return xerr_set(err, "ENOENT", "domain %u has no store key '%s'", domid, key);
    *v = value;
    *n = len;
    return 0;
}

int lxb_store_remove(struct dom_backend *b, uint32_t domid, const char *key,
                           struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int rc = store_save(x, domid, &bl, key, NULL, 0, err);
    free(bl.p);
    return rc;
}

int lxb_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                         struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int off = 0, more;
    const uint8_t *k, *val;
    uint32_t kl, vl;
    size_t len = 0, cap = 0;
    char **v = NULL;
    while ((more = store_next(&bl, &off, &k, &kl, &val, &vl)) > 0) {
        if (len == cap) {
            cap = cap ? 2 * cap : 8;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                goto nomem;
            v = nv;
        }
        if (!(v[len] = strndup((const char *)k, kl)))
            goto nomem;
        len++;
    }
    free(bl.p);
    if (more < 0) {
        dom_strv_free(v, len);
        return xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
    }
    *keys = v;
    *n = len;
    return 0;
nomem:
    free(bl.p);
    dom_strv_free(v, len);
    return xerr_errno(err, ENOMEM, "cannot list the config store of domain %u", domid);
}

/* ---- several keys in one load and one write (issue 14) ---- */

int lxb_store_get_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       char **values, size_t *lens, struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl;
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int off = 0, more;
    const uint8_t *k, *val;
    uint32_t kl, vl;
    while ((more = store_next(&bl, &off, &k, &kl, &val, &vl)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (strlen(keys[i]) != kl || memcmp(k, keys[i], kl) != 0)
                continue;
            free(values[i]);
            if (!(values[i] = malloc((size_t)vl + 1)))
                goto fail;
            memcpy(values[i], val, vl);
            values[i][vl] = '\0';
            lens[i] = vl;
        }
    }
    free(bl.p);
    if (more < 0) {
        xerr_set(err, "EIO", "the config store of domain %u is damaged", domid);
        goto undo;
    }
    return 0;
fail:
    free(bl.p);
    xerr_errno(err, ENOMEM, "cannot read the config store of domain %u", domid);
undo:
    for (size_t i = 0; i < n; i++) {
        free(values[i]);
        values[i] = NULL;
        lens[i] = 0;
    }
    return -1;
}

int lxb_store_put_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       const void *const *values, const size_t *lens, struct xerr *err)
{
    struct lx *x = X(b);
    struct blob bl, cur = { 0 };
    if (store_load(x, domid, &bl, err) < 0)
        return -1;
    int rc = 0, damaged = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        struct blob nb;
        rc = store_edit(domid, cur.p ? &cur : &bl, keys[i], values[i], values[i] ? lens[i] : 0,
                        &nb, err);
        if (rc >= 0) {
            damaged |= rc;
            free(cur.p);
            cur = nb;
        }
    }
    if (rc >= 0 && cur.p)
        rc = store_write(x, domid, &bl, &cur, damaged, err);
    free(cur.p);
    free(bl.p);
    return rc;
}
