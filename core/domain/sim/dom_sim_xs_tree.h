/* core/domain/sim/dom_sim_xs_tree.h: the sim's xenstore tree: nodes in memory
 * (dom_sim_xs_tree.c), kept in files under DIR/xs written atomically under the sim's lock
 * (dom_sim_xs_store.c): one file per domain, one per /vm/<uuid>, and the root file with the
 * rest and the counters. A tree in memory holds the root and the parts loaded so far.
 * Used by the connection (dom_sim_xs.c) and by the domain layout (dom_sim_xs_layout.c). */
#ifndef XLUA_DOM_SIM_XS_TREE_H
#define XLUA_DOM_SIM_XS_TREE_H

#include "dom_sim_int.h"
#include "domain/dom_xs.h"

#define XST_MODIFIED UINT64_MAX   /* a node changed in a transaction, not yet committed */
#define XST_PART_MAX 224          /* a part's name: "dom-<domid>" or "vm-<name>" */

struct xst_node {
    char *path;
    char *value;
    size_t len;
    char *perms;          /* "n0,r5": xenstore-utils' spelling, comma-separated */
    uint64_t gen;         /* the tree's generation when it last changed */
    uint64_t seq;         /* its creation number: children are listed in this order */
};

/* What a load reads below a path: the node's own file, its children's, or every file that
 * can hold a node at or below it. */
enum xst_depth { XST_NODE, XST_CHILDREN, XST_SUBTREE };

struct xst_tree {
    uint64_t gen;         /* one more on every committed change */
    uint64_t introduced, released;   /* domains created and destroyed: the @ watches */
    uint64_t seq;         /* the last creation number given */
    struct xst_node *v;   /* in creation order, as xenstored lists children */
    size_t n, cap;
    /* v's indexes by path (open addressing, index + 1, 0 empty; nslots a power of two), kept
     * by push: a tree holds some 30 nodes a domain, and a create looks up hundreds. */
    uint32_t *slots;
    size_t nslots;
    /* Where the nodes come from (dom_sim_xs_store.c). */
    struct sim *s;
    char **loaded;        /* the parts read (or found absent) */
    size_t nloaded;
    unsigned families;    /* XST_ALL_*: every part of that kind was read */
    char **touched;       /* parts changed since the load: what a save writes */
    size_t ntouched;
    int bad_touch;        /* a change in a part never loaded: refuse to save */
    int snapshot;         /* a transaction's copy: later loads check the generation */
    int stale;            /* ... and one found it changed: the copy is no snapshot now */
    int from_v1;          /* read from the old single file DIR/xenstore */
};

#define XST_ALL_DOM 1u
#define XST_ALL_VM 2u

/* ---- dom_sim_xs_tree.c: the nodes ---- */
void xst_free(struct xst_tree *t);
struct xst_node *xst_find(const struct xst_tree *t, const char *path);
/* Add a node as read from a file (no checks, no touch); -1 out of memory. */
int xst_push(struct xst_tree *t, const char *path, const void *v, size_t n, const char *perms,
             uint64_t gen, uint64_t seq);
/* After nodes were added out of order: sort by creation number and index again. */
void xst_sort(struct xst_tree *t);
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
/* The file of path changes (xst_write and xst_rm call it; so must whoever edits a node). */
void xst_touch(struct xst_tree *t, const char *path);

/* ---- dom_sim_xs_store.c: the files ---- */
/* The part holding path into out ("dom-5", "vm-<uuid>"): 1, or 0 for the root file. */
int xst_part(const char *path, char out[XST_PART_MAX + 1]);
int xst_part_loaded(const struct xst_tree *t, const char *part);
/* Read the root file, then what depth says below path (path NULL: the root file only; "/"
 * with XST_SUBTREE: everything). An absent store is the bare tree: "/", "/local",
 * "/local/domain", "/local/domain/0", "/vm", ... No lock needed: each file is replaced
 * atomically. */
int xst_load(struct sim *s, struct xst_tree *t, const char *path, enum xst_depth depth,
             struct xerr *err);
/* Read the parts of path not read yet (a snapshot: under the lock, and stale when the store
 * changed since t->gen). */
int xst_need(struct xst_tree *t, const char *path, enum xst_depth depth, struct xerr *err);
/* Write the touched parts, then the root file; the caller holds the sim lock and has bumped
 * t->gen. */
int xst_save(struct sim *s, struct xst_tree *t, struct xerr *err);
/* The generation on disk (0 when there is no store yet), cheaply. */
uint64_t xst_disk_gen(struct sim *s, uint64_t *introduced, uint64_t *released);

/* Load (root and what path/depth say), apply f, and when f returned 1 (changed) bump the
 * generation and save: under the lock the caller holds (xst_apply) or that it takes
 * (xst_mutate). f stamps what it changes with gen (the generation the save will have) and
 * loads more with xst_need when it needs to. */
typedef int (*xst_change_fn)(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err);
int xst_apply(struct sim *s, const char *path, enum xst_depth depth, xst_change_fn f,
              void *arg, struct xerr *err);
int xst_mutate(struct sim *s, const char *path, enum xst_depth depth, xst_change_fn f,
               void *arg, struct xerr *err);

#endif
