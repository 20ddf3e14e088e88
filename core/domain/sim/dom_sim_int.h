/* core/domain/sim/dom_sim_int.h: the sim backend's internals, shared by dom_sim.c (operations),
 * dom_sim_state.c (state directory, lock, metadata), dom_sim_index.c (domids and names),
 * dom_sim_image.c (memory images) and dom_sim_stream.c (save and restore). Not for use outside
 * core/domain/sim/. */
#ifndef XLUA_DOM_SIM_INT_H
#define XLUA_DOM_SIM_INT_H

#include <stdint.h>
#include <sys/types.h>

#include <xxhash.h>

#include "dom_sim.h"

#define SIM_PAGE 4096u
/* Xen hands out domids below DOMID_FIRST_RESERVED (0x7FF0). */
#define SIM_DOMID_LIMIT 0x7FF0u

struct sim {
    struct dom_backend base;
    char *dir;                 /* the state directory */
    int lockfd;                /* dir/lock, flock()ed around every mutation */
    pid_t freeing[16];         /* our processes freeing destroyed domains, 0 when free */
};

/* A domain's metadata file. creator != 0: still being built by that process (create or
 * restore); such a domain holds its domid and name but is invisible to every operation. */
struct sim_dom {
    struct dom_info info;
    unsigned pauses;           /* Xen counts toolstack pauses: unpause undoes one */
    pid_t creator;
    int64_t started;           /* when it was published, CLOCK_REALTIME seconds */
    int pending;               /* a request made while paused, acted on at unpause: 1 + req */
};

/* Reaps the processes of sim_remove that have finished. */
void sim_reap(struct sim *s);

/* State directory and lock. */
int sim_lock(struct sim *s, struct xerr *err);
void sim_unlock(struct sim *s);
/* snprintf into a PATH_MAX buffer: dir/domains/<domid>[/leaf]. */
void sim_dom_path(const struct sim *s, uint32_t domid, const char *leaf, char *out);

/* Metadata: 0, or -1 with NODOMAIN (absent) or an I/O error. */
int sim_read_meta(struct sim *s, uint32_t domid, struct sim_dom *d, struct xerr *err);
int sim_write_meta(struct sim *s, const struct sim_dom *d, struct xerr *err);
/* Every domain directory (building ones too, so names and domids stay reserved); removes
 * leftovers of dead builders and destroys when `clean` (caller holds the lock). */
int sim_scan(struct sim *s, int clean, struct sim_dom **out, size_t *n, struct xerr *err);
/* A usable domain (not being built), or NODOMAIN; Domain-0 is EPERM: "<what> Domain-0". */
int sim_get(struct sim *s, uint32_t domid, const char *what, struct sim_dom *d,
            struct xerr *err);

/* Under the lock: check the name, take the next domid, create its directory and metadata
 * (creator = this process). Fills d->info.domid. */
int sim_reserve(struct sim *s, struct sim_dom *d, struct xerr *err);
/* Under the lock: the build is done, the domain becomes visible in state `state`. */
int sim_publish(struct sim *s, struct sim_dom *d, enum dom_state state, struct xerr *err);
/* Remove a domain's directory entirely (rename first, so readers never see half of it). */
int sim_remove(struct sim *s, uint32_t domid, struct xerr *err);

/* dom_sim_index.c: DIR/index, the domids, builders and names of every domain directory. */
struct sim_index_entry {
    uint32_t domid;            /* 0: an entry removed meanwhile */
    pid_t creator;
    uint64_t memory_kb;
    char name[DOM_NAME_MAX + 1];
};
struct sim_index {
    size_t n, cap;
    struct sim_index_entry *e;
};
/* Under the lock: the index, rebuilt from a full (cleaning) scan when there is none. */
int sim_index_load(struct sim *s, struct sim_index *ix, struct xerr *err);
void sim_index_save(struct sim *s, const struct sim_index *ix);
void sim_index_free(struct sim_index *ix);
/* Under the lock: one entry added or changed, or removed (an absent index stays absent). */
void sim_index_set(struct sim *s, const struct sim_dom *d);
void sim_index_remove(struct sim *s, uint32_t domid);
/* Under the lock, before names change another way: the next reader rebuilds it. */
void sim_index_drop(struct sim *s);
/* The memory of every built domain and (count not NULL) how many there are, from the index
 * (takes the lock). */
int sim_used_memory(struct sim *s, uint64_t *kb, size_t *count, struct xerr *err);
/* The find_name op: 0 found, -1 error (NODOMAIN), 1 the index was stale: scan instead. */
int sim_find_name(struct dom_backend *b, const char *name, struct dom_info *out,
                  struct xerr *err);

/* Replace the file at path by one holding p (a new file of our own from the mkostemp template
 * tmp, which is changed, then renamed over path). */
int sim_replace_file(char *tmp, const char *path, const void *p, size_t n, struct xerr *err);
/* Write a file atomically inside the domain's directory (temp + rename). */
int sim_write_file(struct sim *s, uint32_t domid, const char *leaf, const void *p, size_t n,
                   struct xerr *err);
/* pwrite all n bytes at off (restarting on EINTR); -1 with errno. */
int sim_write_at(int fd, const void *p, size_t n, uint64_t off);
/* Write n bytes at the start of the file at path, in place, when it is a regular file of our
 * own with one link, a size from min to max and (head not NULL) that text at its start: a file
 * rewritten in place keeps its inode (replacing it, temp + rename, takes a new inode and frees
 * one, and this ext4 skips every inode freed in the last minutes when it allocates one: a cost
 * every later file of the state directory pays). 1 written, 0 not such a file (the caller
 * replaces it: a link someone planted is never written through), -1 a write that failed. */
int sim_overwrite_own(const char *path, const char *buf, size_t n, off_t min, off_t max,
                      const char *head, struct xerr *err);
/* Read a whole file; *p malloc'd and NUL-terminated. ENOENT when absent. */
int sim_read_file(const char *path, char **p, size_t *n, struct xerr *err);

/* Memory images: a sparse file of memory_kb KiB filled from the uuid (its digest into
 * digest when not NULL, taken as it is written), and the digest of an image. */
int sim_fill_memory(const char *path, const char *uuid, uint64_t bytes, char digest[33],
                    struct xerr *err);
int sim_digest(const char *path, char hex[33], struct xerr *err);
/* The hex digest of an XXH3-128 state (what sim_digest gives for the same bytes). */
void sim_digest_hex(const XXH3_state_t *h, char hex[33]);

/* The stored config with c_info.name and c_info.uuid set to the domain's current ones. */
char *sim_json_patch(const char *json, const char *name, const char *uuid);
char *sim_json_minimal(const struct dom_info *i);
/* In the JSON object at obj, member key's value span: 1 found, 0 not, -1 bad JSON. */
int sim_json_member(const char *obj, const char *key, const char **vs, const char **ve);
/* The end of the JSON value at p, or NULL. */
const char *sim_json_skip(const char *p);

/* Lock, read, change with f, write back, unlock: every change of one domain's metadata. */
int sim_mutate(struct sim *s, uint32_t domid, const char *what,
               int (*f)(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err),
               const void *arg, struct xerr *err);

/* dom_sim_guest.c: the simulated guest: what it does when asked, its console. */
void sim_guest_console(struct sim *s, uint32_t domid, const char *line);
/* The guest shuts down for reason (console lines as a Linux guest prints). */
void sim_guest_down(struct sim *s, struct sim_dom *d, enum dom_reason reason);
int sim_request(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                struct xerr *err);
int sim_sysrq(struct dom_backend *b, uint32_t domid, char key, struct xerr *err);
int sim_trigger(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                struct xerr *err);
int sim_wait_shutdown(struct dom_backend *b, uint32_t domid, int timeout_ms,
                      struct dom_info *out, struct xerr *err);
int sim_preserve(struct dom_backend *b, uint32_t domid, const char *suffix, const char *uuid,
                 struct xerr *err);
int sim_core_dump(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err);
int sim_soft_reset(struct dom_backend *b, uint32_t domid, struct xerr *err);
int sim_console(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                int out_fd, struct xerr *err);

/* dom_sim_stream.c */
int sim_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
             const struct dom_progress *p, struct xerr *err);
int sim_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                const struct dom_progress *p, uint32_t *domid, struct xerr *err);
/* Shared by create and restore: the metadata of a domain about to be built. */
int sim_new_dom(const struct dom_create *c, struct sim_dom *d, struct xerr *err);
/* Both: after a failed build, remove it (taking the lock). */
void sim_abandon(struct sim *s, uint32_t domid);
/* Both, once the memory image is in place: digest it (unless d->info.digest is set: the
 * builder hashed the pages as it wrote them), write config.json (c->json or a
 * minimal one) and publish the domain (paused if c->paused). Abandons the build on failure. */
int sim_finish_build(struct sim *s, struct sim_dom *d, const struct dom_create *c,
                     uint32_t *domid, struct xerr *err);

/* dom_sim_xs.c, dom_sim_xs_layout.c: the sim's xenstore. introduce and release run under
 * the lock (as create and destroy hold it); refresh takes it. Their failures leave the
 * domain as it is: the xenstore is the sim's picture of the domain, not the domain. */
int sim_xs_open(struct dom_backend *b, struct dom_xs **out, struct xerr *err);
int sim_xs_introduce(struct sim *s, const struct sim_dom *d, const char *json,
                     struct xerr *err);
int sim_xs_release(struct sim *s, uint32_t domid, struct xerr *err);
/* After a change of the metadata (rename, preserve, and for runtime changes: memory_kb,
 * max_memory_kb, vcpus): the name, /vm/<uuid>, memory/{target,static-max} and the cpus'
 * availability as the metadata now say; only what differs is written. */
int sim_xs_refresh(struct sim *s, uint32_t domid, struct xerr *err);
/* Under the lock: the device nodes from json (see dom_sim_xs_sync_devices). */
int sim_xs_sync_devices(struct sim *s, uint32_t domid, const char *json, struct xerr *err);
/* dom_sim_store.c: the config store ops (one file per domain, written whole) */
int sim_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                  size_t n, struct xerr *err);
int sim_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v, size_t *n,
                  struct xerr *err);
int sim_store_remove(struct dom_backend *b, uint32_t domid, const char *key, struct xerr *err);
int sim_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                   struct xerr *err);
int sim_store_get_many(struct dom_backend *b, uint32_t domid, size_t n,
                       const char *const *keys, char **values, size_t *lens, struct xerr *err);
int sim_store_put_many(struct dom_backend *b, uint32_t domid, size_t n,
                       const char *const *keys, const void *const *values,
                       const size_t *lens, struct xerr *err);
/* dom_sim.c: the host's memory, cpus and nodes (dom_host) with used KiB taken by domains. */
void sim_host_fill(struct dom_host *out, uint64_t used);
/* dom_sim_host.c */
int sim_host_info(struct dom_backend *b, struct dom_host_info *out, struct xerr *err);
/* dom_sim_json.c: the scanner and editor of a domain's config.json. Paths are dotted member
 * names ("b_info.sched_params.weight"); finders return 1 found, 0 not, -1 bad JSON. */
struct sim_span {
    const char *s, *e;
};
const char *sim_json_ws(const char *p);
const char *sim_json_skip(const char *p);           /* past the value at p; NULL when bad */
int sim_json_member(const char *obj, const char *key, const char **vs, const char **ve);
int sim_json_find(const char *json, const char *path, const char **vs, const char **ve);
int sim_json_u64(const char *json, const char *path, uint64_t *v);
int sim_json_str(const char *json, const char *path, char *buf, size_t n);
/* malloc'd: a JSON string literal of s; obj with path set to the JSON text raw (objects on
 * the way made as needed); NULL when out of memory or obj is no object. */
char *sim_json_quote(const char *s);
char *sim_json_set(const char *obj, const char *path, const char *raw);
/* The elements of an array (*out malloc'd, pointing into array); -1 when bad. */
int sim_json_elements(const char *array, struct sim_span **out, size_t *n);
/* A new array of v's elements but the one at skip (n or more: none), then extra (or NULL). */
char *sim_json_join(const struct sim_span *v, size_t n, size_t skip, const char *extra);

/* dom_sim_runtime.c: a running domain changed (memory, vcpus, scheduling; dom_sim_devices.c:
 * its devices). A domain's config.json: read it, write it (under the sim lock; its xenstore
 * device nodes are redrawn from it), take an edit of it (next NULL: out of memory or bad JSON,
 * EIO), the elements of one of its top-level arrays (absent: none). */
int sim_config_read(struct sim *s, uint32_t domid, char **json, struct xerr *err);
int sim_config_write(struct sim *s, uint32_t domid, const char *json, struct xerr *err);
int sim_config_edited(char **json, char *next, uint32_t domid, struct xerr *err);
int sim_config_array(const char *json, const char *key, struct sim_span **v, size_t *n,
                     uint32_t domid, struct xerr *err);
/* A domain being built takes its online vcpus from its config's avail_vcpus. */
void sim_runtime_built(struct sim_dom *d, const char *json);
int sim_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err);
int sim_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err);
int sim_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err);
int sim_pin_vcpu(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                 const uint8_t *soft, struct xerr *err);
int sim_vcpus(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
              struct xerr *err);
int sim_device_add(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                   const char *json, struct xerr *err);
int sim_device_remove(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *id, int force, struct xerr *err);
int sim_devices(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **json,
                struct xerr *err);
int sim_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err);
int sim_sched_credit2(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                      struct dom_sched *out, struct xerr *err);

#endif
