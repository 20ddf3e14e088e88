/* core/domain/sim/dom_sim_xs_tree.h: the sim's xenstore tree: nodes in memory, kept in one
 * file DIR/xenstore written atomically under the sim's lock (dom_sim_xs_tree.c), used by the
 * connection (dom_sim_xs.c) and by the domain layout (dom_sim_xs_layout.c). */
#ifndef XLUA_DOM_SIM_XS_TREE_H
#define XLUA_DOM_SIM_XS_TREE_H

#include "dom_sim_int.h"
#include "domain/dom_xs.h"

#define XST_MODIFIED UINT64_MAX   /* a node changed in a transaction, not yet committed */

struct xst_node {
    char *path;
    char *value;
    size_t len;
    char *perms;          /* "n0,r5": xenstore-utils' spelling, comma-separated */
    uint64_t gen;         /* the tree's generation when it last changed */
};

struct xst_tree {
    uint64_t gen;         /* one more on every committed change */
    uint64_t introduced, released;   /* domains created and destroyed: the @ watches */
    struct xst_node *v;   /* in creation order, as xenstored lists children */
    size_t n, cap;
    /* v's indexes by path (open addressing, index + 1, 0 empty; nslots a power of two), kept
     * by push: a tree holds some 30 nodes a domain, and a create looks up hundreds. */
    uint32_t *slots;
    size_t nslots;
};

/* Read DIR/xenstore (an absent file is the bare tree: "/", "/local", "/local/domain",
 * "/local/domain/0", "/vm", ...). No lock needed: the file is replaced atomically. */
int xst_load(struct sim *s, struct xst_tree *t, struct xerr *err);
/* Write it back; the caller holds the sim lock and has bumped t->gen. */
int xst_save(struct sim *s, const struct xst_tree *t, struct xerr *err);
/* The generation on disk (0 when there is no file yet), cheaply. */
uint64_t xst_disk_gen(struct sim *s, uint64_t *introduced, uint64_t *released);
void xst_free(struct xst_tree *t);
int xst_copy(const struct xst_tree *from, struct xst_tree *to);

struct xst_node *xst_find(const struct xst_tree *t, const char *path);
/* After nodes were removed or their paths changed in place: index them again. */
void xst_reindex(struct xst_tree *t);
/* Set a node's value, creating it and missing parents (perms from the nearest parent, or
 * perms when given); stamps them with gen. */
int xst_write(struct xst_tree *t, const char *path, const void *v, size_t n,
              const char *perms, uint64_t gen, struct xerr *err);
/* Remove path and everything below; 0, or -1 ENOENT. */
int xst_rm(struct xst_tree *t, const char *path, uint64_t gen, struct xerr *err);
/* 1 when node is path itself or below it. */
int xst_under(const char *node, const char *path);

/* Load, apply f, and when f returned 1 (changed) bump the generation and save: under the
 * lock the caller holds (xst_apply) or that it takes (xst_mutate). f stamps what it changes
 * with gen (the generation the save will have). */
int xst_apply(struct sim *s, int (*f)(struct xst_tree *t, uint64_t gen, void *arg,
                                      struct xerr *err),
              void *arg, struct xerr *err);
int xst_mutate(struct sim *s, int (*f)(struct xst_tree *t, uint64_t gen, void *arg,
                                       struct xerr *err),
               void *arg, struct xerr *err);

#endif
