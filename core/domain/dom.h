/* core/domain/dom.h: domain operations, one interface over the backends that backends.c lists
 * ("libxl": libxenlight in a real Xen dom0; "sim": a simulated hypervisor, the default elsewhere).
 *
 * Every function returns 0 (or a count) on success and -1 with err filled on failure. Codes:
 * NOXEN (no Xen control domain), NODOMAIN (no such name or domid), EXISTS (name taken),
 * BADSTATE (e.g. unpause a running domain), EINVAL (bad argument: name, key, size, type),
 * EPERM (an operation Domain-0 does not allow), ENOENT (no such store key), LIBXL (a libxl
 * call failed: the message names it), errno codes (ENOMEM, EIO, ENOSPC, ...) and the savefile
 * codec's codes (BADSTREAM, TRUNCATED, BADPAGE, BADTRAILER, ...) for save and restore. */
#ifndef XLUA_DOM_H
#define XLUA_DOM_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct sf_reader;
struct sf_writer;
struct dom_xs;
struct dom_host_info;

enum dom_state { DOM_RUNNING, DOM_PAUSED, DOM_SHUTDOWN, DOM_DYING };
/* Why a domain shut down: libxl's shutdown reasons, with the same numbers. */
enum dom_reason {
    DOM_REASON_NONE = -1, DOM_REASON_POWEROFF = 0, DOM_REASON_REBOOT = 1,
    DOM_REASON_SUSPEND = 2, DOM_REASON_CRASH = 3, DOM_REASON_WATCHDOG = 4,
    DOM_REASON_SOFT_RESET = 5,
};
/* A guest's consoles, as xl console -t names them (0: its primary one). */
enum dom_console { DOM_CONSOLE_PRIMARY, DOM_CONSOLE_PV, DOM_CONSOLE_SERIAL };
/* The events xl trigger sends, with libxl's numbers. */
enum dom_trigger {
    DOM_TRIGGER_POWER = 1, DOM_TRIGGER_SLEEP = 2, DOM_TRIGGER_NMI = 3, DOM_TRIGGER_INIT = 4,
    DOM_TRIGGER_RESET = 5, DOM_TRIGGER_S3RESUME = 6,
};
/* What a guest is asked to do (its PV control node, or ACPI with the fallback). */
enum dom_request { DOM_REQ_POWEROFF, DOM_REQ_REBOOT };
enum dom_type { DOM_PV, DOM_PVH, DOM_HVM };

#define DOM_NAME_MAX 128     /* bytes, without the NUL */
#define DOM_UUID_LEN 36      /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define DOM_KEY_MAX 128      /* config store keys: [A-Za-z0-9_.-]+ */

struct dom_info {
    uint32_t domid;
    char name[DOM_NAME_MAX + 1];
    char uuid[DOM_UUID_LEN + 1];
    enum dom_state state;
    enum dom_type type;
    uint64_t memory_kb, max_memory_kb;
    uint32_t vcpus;
    char digest[2 * 16 + 1];  /* sim: XXH3-128 hex of the memory image; "" elsewhere */
    enum dom_reason reason;   /* state DOM_SHUTDOWN: why; else DOM_REASON_NONE */
    uint64_t cpu_time_ns;     /* CPU time the domain has used */
};

/* The host the domains run on, for policies such as "never restore more than is free". */
#define DOM_HOST_MAX_CPUS 4096
#define DOM_HOST_NO_NODE UINT16_MAX
struct dom_host {
    uint64_t total_memory_kb, free_memory_kb;
    uint32_t cpus;      /* online */
    /* The CPU and NUMA layout, for cpus="all" and node: ranges: max_cpus is the highest cpu id
     * plus one (xl sizes cpu bitmaps by it), cpu_node[i] the node of cpu i (DOM_HOST_NO_NODE
     * when offline or unknown). */
    uint32_t max_cpus, nr_nodes;
    uint16_t cpu_node[DOM_HOST_MAX_CPUS];
};

/* A domain to create or restore. The libxl backend builds the domain from json (name, when
 * set, overrides c_info.name); the sim backend uses the plain fields and keeps json as the
 * domain's config (a minimal one is made up when json is NULL). */
struct dom_create {
    const char *json;          /* libxl JSON (libxl_domain_config) */
    const char *name;
    const char *uuid;          /* NULL: a random one */
    enum dom_type type;
    uint64_t memory_kb;        /* rounded up to whole 4 KiB pages */
    uint64_t max_memory_kb;    /* 0: memory_kb */
    uint32_t vcpus;            /* 0: 1 */
    int paused;                /* leave it paused when created */
};

/* Called every few MiB (and once at the end) with bytes of memory done and expected.
 * Returning nonzero cancels the operation: it fails with code "CANCELLED". */
typedef int (*dom_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct dom_progress {
    dom_progress_fn fn;        /* NULL: none */
    void *ctx;
};

struct dom_backend;

/* A running domain's devices, vcpus and scheduling, for the runtime changes (end of file). */
enum dom_device { DOM_DEV_DISK, DOM_DEV_NIC, DOM_DEV_PCI };
#define DOM_CPUMAP_BYTES (DOM_HOST_MAX_CPUS / 8)
struct dom_vcpu {
    uint32_t id;
    int online, running, blocked;
    int32_t cpu;                        /* the host cpu it is on; -1 when offline */
    uint64_t cpu_time_ns;
    uint8_t hard[DOM_CPUMAP_BYTES];     /* affinity: bit i (byte i/8, bit i%8) = host cpu i */
    uint8_t soft[DOM_CPUMAP_BYTES];
};
/* credit2's per-domain parameters; in a request, -1 leaves one as it is. */
struct dom_sched {
    int weight, cap;
};

/* One table per backend; dom_* below dispatch through it. */
struct dom_ops {
    const char *name;
    void (*close)(struct dom_backend *b);
    int (*list)(struct dom_backend *b, struct dom_info **out, size_t *n, struct xerr *err);
    int (*info)(struct dom_backend *b, uint32_t domid, struct dom_info *out, struct xerr *err);
    int (*create)(struct dom_backend *b, const struct dom_create *c, uint32_t *domid,
                  struct xerr *err);
    int (*destroy)(struct dom_backend *b, uint32_t domid, struct xerr *err);
    int (*pause)(struct dom_backend *b, uint32_t domid, struct xerr *err);
    int (*unpause)(struct dom_backend *b, uint32_t domid, struct xerr *err);
    int (*rename)(struct dom_backend *b, uint32_t domid, const char *name, struct xerr *err);
    int (*config)(struct dom_backend *b, uint32_t domid, char **json, struct xerr *err);
    int (*save)(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
                const struct dom_progress *p, struct xerr *err);
    int (*restore)(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                   const struct dom_progress *p, uint32_t *domid, struct xerr *err);
    int (*store_put)(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                     size_t n, struct xerr *err);
    int (*store_get)(struct dom_backend *b, uint32_t domid, const char *key, char **v,
                     size_t *n, struct xerr *err);
    int (*store_remove)(struct dom_backend *b, uint32_t domid, const char *key,
                        struct xerr *err);
    int (*store_keys)(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                      struct xerr *err);
    int (*host)(struct dom_backend *b, struct dom_host *out, struct xerr *err);
    /* Where this backend's commands meet: a directory for per-domain lock files. */
    const char *(*run_dir)(struct dom_backend *b);
    int (*request)(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                   struct xerr *err);
    int (*sysrq)(struct dom_backend *b, uint32_t domid, char key, struct xerr *err);
    int (*wait_shutdown)(struct dom_backend *b, uint32_t domid, int timeout_ms,
                         struct dom_info *out, struct xerr *err);
    int (*preserve)(struct dom_backend *b, uint32_t domid, const char *suffix,
                    const char *uuid, struct xerr *err);
    int (*core_dump)(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err);
    int (*console)(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                   int out_fd, struct xerr *err);
    int (*trigger)(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                   struct xerr *err);
    int (*soft_reset)(struct dom_backend *b, uint32_t domid, struct xerr *err);
    /* xenstore and host facts (dom_xs.h, dom_hostinfo.h) */
    int (*xs_open)(struct dom_backend *b, struct dom_xs **out, struct xerr *err);
    int (*host_info)(struct dom_backend *b, struct dom_host_info *out, struct xerr *err);
    /* runtime changes (see "a running domain changed" below) */
    int (*set_memory)(struct dom_backend *b, uint32_t domid, uint64_t target_kb,
                      struct xerr *err);
    int (*set_max_memory)(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                          struct xerr *err);
    int (*set_vcpus)(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err);
    int (*pin_vcpu)(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                    const uint8_t *soft, struct xerr *err);
    int (*vcpus)(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
                 struct xerr *err);
    int (*device_add)(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *json, struct xerr *err);
    int (*device_remove)(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                         const char *id, int force, struct xerr *err);
    int (*devices)(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **json,
                   struct xerr *err);
    int (*cd_insert)(struct dom_backend *b, uint32_t domid, const char *json,
                     struct xerr *err);
    int (*sched_credit2)(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                         struct dom_sched *out, struct xerr *err);
    /* performance (issue 14): optional; a domain by name without listing every domain:
     * 0 found, -1 error (NODOMAIN), 1 cannot tell (dom_find then lists). */
    int (*find_name)(struct dom_backend *b, const char *name, struct dom_info *out,
                     struct xerr *err);
    /* save without pause and resume before a destroy (issue 14): see dom_resume_saved */
    int (*resume_saved)(struct dom_backend *b, uint32_t domid, struct xerr *err);
    /* optional (issue 14): several config store keys in one load (and one write) of the
     * store; see dom_store_get_many / dom_store_put_many */
    int (*store_get_many)(struct dom_backend *b, uint32_t domid, size_t n,
                          const char *const *keys, char **values, size_t *lens,
                          struct xerr *err);
    int (*store_put_many)(struct dom_backend *b, uint32_t domid, size_t n,
                          const char *const *keys, const void *const *values,
                          const size_t *lens, struct xerr *err);
};

struct dom_backend {
    const struct dom_ops *ops;
};

/* A kind of backend, as backends.c lists them. probe says whether this machine is the kind's
 * own: 1 yes (it is the default here unless a kind listed before it says so too), 0 no (err
 * says why, code NOXEN), -1 the machine is its own but it cannot run (err says what is
 * missing; never fall back to another kind then). */
struct dom_backend_kind {
    const char *name;
    int (*probe)(struct xerr *err);
    int (*open)(struct dom_backend **out, struct xerr *err);
};

/* Every kind, in order of preference, NULL-terminated (backends.c). */
extern const struct dom_backend_kind *const dom_backend_kinds[];

/* The backend to use: requested (a kind's name), else $XLUA_BACKEND when set and not empty,
 * else the first kind whose probe says yes. A requested kind whose probe says no fails with
 * the probe's error, an unknown name is EINVAL. *name is a static string. */
int dom_choose(const char *requested, const char **name, struct xerr *err);

/* dom_choose, then open that backend. */
int dom_open(const char *requested, struct dom_backend **out, struct xerr *err);
void dom_close(struct dom_backend *b);                 /* NULL is fine */
const char *dom_backend_name(const struct dom_backend *b);

/* *out is malloc'd (free it); Domain-0 comes first, then by domid. */
int dom_list(struct dom_backend *b, struct dom_info **out, size_t *n, struct xerr *err);
int dom_info(struct dom_backend *b, uint32_t domid, struct dom_info *out, struct xerr *err);
/* A string of digits is a domid, anything else a name. */
int dom_find(struct dom_backend *b, const char *name_or_id, struct dom_info *out,
             struct xerr *err);
int dom_create(struct dom_backend *b, const struct dom_create *c, uint32_t *domid,
               struct xerr *err);
int dom_destroy(struct dom_backend *b, uint32_t domid, struct xerr *err);
int dom_pause(struct dom_backend *b, uint32_t domid, struct xerr *err);
int dom_unpause(struct dom_backend *b, uint32_t domid, struct xerr *err);
int dom_rename(struct dom_backend *b, uint32_t domid, const char *name, struct xerr *err);
/* The domain's libxl JSON as it is now (malloc'd, NUL-terminated). */
int dom_config(struct dom_backend *b, uint32_t domid, char **json, struct xerr *err);

/* Write the domain's migration stream (libxl v2) into w, whose header is already written.
 * live: flags, DOM_SAVE_LIVE: copy while it runs (libxl) -- the sim's memory never changes,
 * so it only matters there; DOM_SAVE_DEBUG: libxl's suspend debugging (xl migrate --debug);
 * DOM_SAVE_DESTROY: the caller destroys the domain once the file is whole, so the backend may
 * leave it suspended, as xl save does (libxl does; the sim leaves it paused as without the
 * flag); dom_resume_saved then puts it where a save without the flag leaves it.
 * On success the domain is left paused (or suspended, see above); on failure it is put back as
 * it was, except with the code SUSPENDED: the stream is whole but the domain could not be
 * resumed from its suspend (it stays suspended, no pause held; dom_resume_saved may retry). */
#define DOM_SAVE_LIVE 1
#define DOM_SAVE_DEBUG 2
#define DOM_SAVE_DESTROY 4
int dom_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
             const struct dom_progress *p, struct xerr *err);
/* Create a domain from the stream in r (positioned after its optional data). The stream's
 * trailer is checked before the domain may run; on any failure nothing is left behind. */
int dom_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                const struct dom_progress *p, uint32_t *domid, struct xerr *err);

/* The per-domain config store: small named blobs kept with the domain (sim: files; libxl:
 * the userdata "xlua"). Values are malloc'd; keys is a malloc'd array of malloc'd strings
 * (free with dom_strv_free). */
int dom_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                  size_t n, struct xerr *err);
int dom_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v, size_t *n,
                  struct xerr *err);
int dom_store_remove(struct dom_backend *b, uint32_t domid, const char *key, struct xerr *err);
int dom_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                   struct xerr *err);
void dom_strv_free(char **v, size_t n);

/* ---- a domain's life ---- */

/* Ask the guest to power off or reboot (xl shutdown / reboot): a PV guest through its control
 * node; fallback (xl -F): an HVM guest without PV drivers through an ACPI event. The guest
 * decides; the domain then shuts down with the matching reason. */
int dom_request(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                struct xerr *err);
/* Send an event to the guest (xl trigger): power and sleep (the ACPI buttons), nmi, init,
 * reset, s3resume; HVM guests only, as in xl. */
int dom_trigger(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                struct xerr *err);
/* Send a sysrq key to the guest (xl sysrq): "c" crashes a Linux guest. */
int dom_sysrq(struct dom_backend *b, uint32_t domid, char key, struct xerr *err);
/* Wait up to timeout_ms (-1: for ever) for the domain to shut down: 1 and out filled (state
 * DOM_SHUTDOWN and its reason) when it has, 0 when the time ran out, -1 with NODOMAIN when it
 * is gone (destroyed, migrated away). A stop asked for by a signal (base/cancel.h) ends the
 * wait: -1, INTERRUPTED. */
int dom_wait_shutdown(struct dom_backend *b, uint32_t domid, int timeout_ms,
                      struct dom_info *out, struct xerr *err);
/* Keep a dead domain as it is under the name NAME<suffix> and a new uuid (xl's
 * rename-restart), so that its name and uuid are free for the restart. */
int dom_preserve(struct dom_backend *b, uint32_t domid, const char *suffix, const char *uuid,
                 struct xerr *err);
/* A domain that shut down for a soft reset (kexec) runs again with the same domid and memory,
 * as xl's on_soft_reset = "soft-reset" does (libxl_domain_soft_reset). */
int dom_soft_reset(struct dom_backend *b, uint32_t domid, struct xerr *err);
/* Write the domain's memory to path (mode 0600) as xl dump-core does (an ELF core on libxl;
 * the sim writes its memory image). */
int dom_core_dump(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err);
const char *dom_reason_name(enum dom_reason r);  /* "poweroff" "reboot" ... "" for NONE */
/* Attach to the guest's console (xl console): on libxl this execs xenconsole in place of this
 * process and returns only on failure; the sim copies what its guest wrote so far to out_fd
 * and returns 0. */
int dom_console(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                int out_fd, struct xerr *err);

/* The host's memory, cpus and NUMA layout. The sim's host has this machine's memory (or
 * $XLUA_SIM_HOST_MEMORY_KB) and cpus, spread over $XLUA_SIM_HOST_NODES nodes (default 1) in
 * equal runs; its free memory is what its domains leave of it. */
int dom_host(struct dom_backend *b, struct dom_host *out, struct xerr *err);

/* Per-domain locks: a save, a restore (and later a migration) hold the lock of the domain's
 * uuid for as long as they work on it, so a second one is refused at once: BUSY, naming the
 * command and pid that hold it. The lock is a flock on <run_dir>/locks/<uuid>.lock, so it
 * goes with its process, however that ends. */
struct dom_lock;
/* role NULL: the lock of commands that change the domain; another role (a-z, e.g. "monitor")
 * is a lock of its own, <uuid>.<role>.lock, that never stands in a command's way. */
int dom_lock_domain(struct dom_backend *b, const char *uuid, const char *role,
                    const char *what, struct dom_lock **out, struct xerr *err);
void dom_unlock(struct dom_lock *lock);                /* NULL is fine */
/* Say what now holds the lock, with this process's pid (a daemon that inherited it). */
void dom_lock_note(struct dom_lock *lock, const char *what);

/* ---- a running domain changed (xl mem-set, vcpu-set, block-attach, ...) ----
 * After each, dom_config reports the domain as it now is, as libxl_retrieve_domain_configuration
 * does on real Xen: b_info.target_memkb / max_memkb, avail_vcpus, sched_params, and the disks,
 * nics and pcidevs. EINVAL: a value the domain cannot take (nothing changed); EXISTS: a device
 * already there; ENODEV: no such device. */
/* The balloon target (xl mem-set): at most the domain's max memory. */
int dom_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err);
/* The static maximum (xl mem-max). */
int dom_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err);
/* Bring vcpus 0..online-1 online and the others offline (xl vcpu-set); 1..max_vcpus. */
int dom_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err);
/* Set the hard and/or soft affinity (NULL: as it is) of one vcpu, or of all when vcpu < 0. */
int dom_pin_vcpu(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                 const uint8_t *soft, struct xerr *err);
/* Every vcpu of the domain (xl vcpu-list); *out malloc'd. */
int dom_vcpus(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
              struct xerr *err);
/* Hotplug a device given as libxl JSON (libxl_device_disk / _nic / _pci). */
int dom_device_add(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                   const char *json, struct xerr *err);
/* Unplug the device id names: a disk's vdev, a nic's devid or mac, a PCI device's
 * "DDDD:BB:DD.F". force: do not wait for the guest (xl -f). */
int dom_device_remove(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *id, int force, struct xerr *err);
/* The domain's devices of a kind as a JSON array of {"device": libxl's JSON, "info": libxl's
 * diskinfo / nicinfo} (PCI devices have no info); *json malloc'd. */
int dom_devices(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **json,
                struct xerr *err);
/* Change the medium of a removable disk (xl cd-insert / cd-eject): json is the disk with the
 * vdev of a cdrom, an empty pdev_path ejects. */
int dom_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err);
/* Set (set may be NULL) then read the domain's credit2 parameters (xl sched-credit2). */
int dom_sched_credit2(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                      struct dom_sched *out, struct xerr *err);
const char *dom_device_name(enum dom_device kind);   /* "disk" "nic" "pci" */

/* Shared checks and names. */
int dom_check_name(const char *name, struct xerr *err);   /* EINVAL */
int dom_check_key(const char *key, struct xerr *err);     /* EINVAL */
int dom_check_uuid(const char *uuid);                     /* 1 when well formed */
const char *dom_state_name(enum dom_state s);   /* "running" "paused" "shutdown" "dying" */
const char *dom_type_name(enum dom_type t);     /* "pv" "pvh" "hvm" */
int dom_type_parse(const char *s, enum dom_type *t);      /* 0 or -1 */

/* save without pause and resume before a destroy (issue 14): a domain a save left suspended
 * (DOM_SAVE_DESTROY, or a save that failed with SUSPENDED) gets its suspend cancelled and is
 * left paused by one pause, as a save without the flag leaves it (the caller then unpauses or
 * keeps it paused). On failure with SUSPENDED it stays suspended, no pause held. */
int dom_resume_saved(struct dom_backend *b, uint32_t domid, struct xerr *err);

/* Several config store keys at once, in one load of the store and at most one write where
 * the backend can (the libxl userdata blob), else key by key. get: values[i] malloc'd (as
 * dom_store_get's), NULL when the key is absent; on failure all NULL. put: values[i] NULL
 * removes key i (absent or not), else sets it to lens[i] bytes; keys apply in order. */
int dom_store_get_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       char **values, size_t *lens, struct xerr *err);
int dom_store_put_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       const void *const *values, const size_t *lens, struct xerr *err);

#endif
