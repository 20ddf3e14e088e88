/* core/domain/dom_xs.h: xenstore, one small interface over the backends: libxenstore on real
 * Xen (dom_libxl_xs.c), a tree of the sim's own in its state directory (sim/dom_sim_xs*.c).
 * Backends hand out a connection through dom_ops.xs_open; everything else dispatches here.
 *
 * Paths are absolute ("/local/domain/3/name") or relative to /local/domain/0 (the caller is
 * always Domain-0). Every function returns 0 (or 1, see read_watch) or -1 with err: ENOENT (no
 * such node), EACCES, EINVAL (bad path or value), EAGAIN (a transaction met a conflict: start
 * it again), NOXEN (no xenstore here), EIO. */
#ifndef XLUA_DOM_XS_H
#define XLUA_DOM_XS_H

#include <stddef.h>
#include <stdint.h>

#include "domain/dom.h"

typedef uint32_t dom_xs_tx;            /* 0: outside any transaction */
#define DOM_XS_PATH_MAX 3072           /* XENSTORE_ABS_PATH_MAX */
#define DOM_XS_VALUE_MAX 4096          /* XENSTORE_PAYLOAD_MAX */

/* A node's permissions, as xenstore-utils spells them: perm 'n' none, 'r' read, 'w' write,
 * 'b' both. The first entry names the owner and what every other domain may do. */
struct dom_xs_perm {
    uint32_t domid;
    char perm;
};

struct dom_xs;
struct dom_xs_ops {
    void (*close)(struct dom_xs *x);
    int (*read)(struct dom_xs *x, dom_xs_tx t, const char *path, char **v, size_t *n,
                struct xerr *err);
    int (*write)(struct dom_xs *x, dom_xs_tx t, const char *path, const void *v, size_t n,
                 struct xerr *err);
    int (*mkdir)(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err);
    int (*rm)(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err);
    int (*directory)(struct dom_xs *x, dom_xs_tx t, const char *path, char ***names,
                     size_t *n, struct xerr *err);
    int (*get_perms)(struct dom_xs *x, dom_xs_tx t, const char *path,
                     struct dom_xs_perm **p, size_t *n, struct xerr *err);
    int (*set_perms)(struct dom_xs *x, dom_xs_tx t, const char *path,
                     const struct dom_xs_perm *p, size_t n, struct xerr *err);
    int (*tx_start)(struct dom_xs *x, dom_xs_tx *t, struct xerr *err);
    int (*tx_end)(struct dom_xs *x, dom_xs_tx t, int abort, struct xerr *err);
    int (*watch)(struct dom_xs *x, const char *path, const char *token, struct xerr *err);
    int (*unwatch)(struct dom_xs *x, const char *path, const char *token, struct xerr *err);
    int (*read_watch)(struct dom_xs *x, int timeout_ms, char **path, char **token,
                      struct xerr *err);
};

struct dom_xs {
    const struct dom_xs_ops *ops;
};

int dom_xs_open(struct dom_backend *b, struct dom_xs **out, struct xerr *err);
void dom_xs_close(struct dom_xs *x);                  /* NULL is fine */
/* *v malloc'd, NUL-terminated after its n bytes. */
int dom_xs_read(struct dom_xs *x, dom_xs_tx t, const char *path, char **v, size_t *n,
                struct xerr *err);
/* Missing parents are created (with the permissions of their nearest parent). */
int dom_xs_write(struct dom_xs *x, dom_xs_tx t, const char *path, const void *v, size_t n,
                 struct xerr *err);
int dom_xs_mkdir(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err);
/* Removes the node and everything under it. As xenstored: a missing node whose parent
 * exists is fine, a missing parent is ENOENT. */
int dom_xs_rm(struct dom_xs *x, dom_xs_tx t, const char *path, struct xerr *err);
/* The children's names (free with dom_strv_free). */
int dom_xs_directory(struct dom_xs *x, dom_xs_tx t, const char *path, char ***names,
                     size_t *n, struct xerr *err);
int dom_xs_get_perms(struct dom_xs *x, dom_xs_tx t, const char *path,
                     struct dom_xs_perm **p, size_t *n, struct xerr *err);
int dom_xs_set_perms(struct dom_xs *x, dom_xs_tx t, const char *path,
                     const struct dom_xs_perm *p, size_t n, struct xerr *err);
int dom_xs_tx_start(struct dom_xs *x, dom_xs_tx *t, struct xerr *err);
/* Commit (abort 0) or drop the transaction: EAGAIN when another change came in between
 * (nothing of it was applied: run it again). */
int dom_xs_tx_end(struct dom_xs *x, dom_xs_tx t, int abort, struct xerr *err);
/* A watch fires once when set, then whenever the node or one below it changes or goes.
 * "@introduceDomain" and "@releaseDomain" fire when a domain is created or destroyed. */
int dom_xs_watch(struct dom_xs *x, const char *path, const char *token, struct xerr *err);
int dom_xs_unwatch(struct dom_xs *x, const char *path, const char *token, struct xerr *err);
/* Wait up to timeout_ms (-1: for ever) for an event: 1 with *path and *token malloc'd, 0
 * when the time ran out. A signal's stop request (base/cancel.h) ends it: INTERRUPTED. */
int dom_xs_read_watch(struct dom_xs *x, int timeout_ms, char **path, char **token,
                      struct xerr *err);

/* Shared by the backends: "r5" -> perm; 0 or -1 (EINVAL). */
int dom_xs_perm_parse(const char *s, struct dom_xs_perm *p, struct xerr *err);
/* A path as xenstored takes it: absolute or relative, [A-Za-z0-9_@/-], no "//", no trailing
 * "/" (except "/" itself), at most DOM_XS_PATH_MAX bytes; written into out (absolute). */
int dom_xs_check_path(const char *path, char out[DOM_XS_PATH_MAX + 1], struct xerr *err);

#endif
