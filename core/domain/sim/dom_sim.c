/* core/domain/sim/dom_sim.c: the sim backend's operations: opening the state directory, the domain
 * lifecycle (create, pause, unpause, rename, shutdown, destroy); the config store is
 * dom_sim_store.c's. */
#include "dom_sim_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static struct sim *S(struct dom_backend *b)
{
    return (struct sim *)b;
}

/* ---- opening ---- */

static int mkdirs(char *path, struct xerr *err)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0700);
        int e = errno;
        *p = c;
        if (rc < 0 && e != EEXIST)
            return xerr_errno(err, e, "%s: cannot create the sim state directory", path);
        if (c == '\0')
            return 0;
    }
}

static int default_dir(char *out, size_t n, struct xerr *err)
{
    const char *env = getenv("XLUA_SIM_DIR");
    if (env && env[0])
        return snprintf(out, n, "%s", env) < (int)n ? 0 :
               xerr_set(err, "EINVAL", "XLUA_SIM_DIR is too long");
    if (geteuid() == 0) {
        snprintf(out, n, "/var/lib/xlua/sim");
        return 0;
    }
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(out, n, "%s/xlua/sim", xdg);
    else if (home && home[0] == '/')
        snprintf(out, n, "%s/.local/state/xlua/sim", home);
    else
        return xerr_set(err, "EINVAL", "no place for the sim state: set XLUA_SIM_DIR (or "
                        "XDG_STATE_HOME or HOME)");
    return 0;
}

/* The state directory is the sim's hypervisor: another user who owns it, or may write into it,
 * could plant links there that the sim would then write through. */
static int check_owner(const char *dir, struct xerr *err)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return xerr_errno(err, errno, "%s: cannot use the sim state directory", dir);
    if (st.st_uid != geteuid())
        return xerr_set(err, "EPERM", "%s: the sim state directory belongs to uid %ld, not to "
                        "you (uid %ld)", dir, (long)st.st_uid, (long)geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return xerr_set(err, "EPERM", "%s: the sim state directory is writable by others "
                        "(mode %03o)", dir, (unsigned)(st.st_mode & 0777));
    return 0;
}

static const struct dom_ops sim_ops;

int dom_sim_open(const char *state_dir, struct dom_backend **out, struct xerr *err)
{
    char dir[PATH_MAX - 64], path[PATH_MAX];
    *out = NULL;
    if (state_dir)
        snprintf(dir, sizeof dir, "%s", state_dir);
    else if (default_dir(dir, sizeof dir, err) < 0)
        return -1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    snprintf(path, sizeof path, "%s/domains", dir);
    if (mkdirs(path, err) < 0 || check_owner(dir, err) < 0)
        return -1;
    struct sim *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return xerr_errno(err, ENOMEM, "cannot open the sim backend");
    }
    s->base.ops = &sim_ops;
    snprintf(path, sizeof path, "%s/lock", dir);
    s->lockfd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        xerr_errno(err, errno, "%s: cannot open the sim lock", path);
        free(s->dir);
        free(s);
        return -1;
    }
    *out = &s->base;
    return 0;
}

static void sim_close(struct dom_backend *b)
{
    struct sim *s = S(b);
    sim_reap(s);
    close(s->lockfd);
    free(s->dir);
    free(s);
}

/* ---- reading ---- */

static void dom0_info(struct dom_info *i)
{
    struct sysinfo si;
    memset(i, 0, sizeof *i);
    strcpy(i->name, "Domain-0");
    strcpy(i->uuid, "00000000-0000-0000-0000-000000000000");
    i->state = DOM_RUNNING;
    i->type = DOM_PV;
    if (sysinfo(&si) == 0)
        i->memory_kb = (uint64_t)si.totalram * si.mem_unit / 1024;
    i->max_memory_kb = i->memory_kb;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    i->vcpus = cpus > 0 ? (uint32_t)cpus : 1;
}

static int by_domid(const void *a, const void *b)
{
    uint32_t x = ((const struct dom_info *)a)->domid, y = ((const struct dom_info *)b)->domid;
    return x < y ? -1 : x > y;
}

static int sim_list(struct dom_backend *b, struct dom_info **out, size_t *n, struct xerr *err)
{
    struct sim_dom *all;
    size_t count;
    if (sim_scan(S(b), 0, &all, &count, err) < 0)
        return -1;
    struct dom_info *v = malloc((count + 1) * sizeof *v);
    if (!v) {
        free(all);
        return xerr_errno(err, ENOMEM, "cannot list the sim domains");
    }
    size_t k = 0;
    dom0_info(&v[k++]);
    for (size_t i = 0; i < count; i++)
        if (!all[i].creator)
            v[k++] = all[i].info;
    free(all);
    qsort(v + 1, k - 1, sizeof *v, by_domid);
    *out = v;
    *n = k;
    return 0;
}

static int sim_host(struct dom_backend *b, struct dom_host *out, struct xerr *err)
{
    uint64_t used;
    if (sim_used_memory(S(b), &used, NULL, err) < 0)
        return -1;
    sim_host_fill(out, used);
    return 0;
}

void sim_host_fill(struct dom_host *out, uint64_t used)
{
    struct dom_info dom0;
    dom0_info(&dom0);
    const char *env = getenv("XLUA_SIM_HOST_MEMORY_KB");
    char *end;
    unsigned long long total = env && *env ? strtoull(env, &end, 10) : 0;
    if (!env || !*env || *end != '\0')
        total = dom0.memory_kb; /* Domain-0's: this machine's memory */
    out->total_memory_kb = total;
    out->free_memory_kb = used < total ? total - used : 0;
    out->cpus = dom0.vcpus;
    /* Every cpu online, the nodes in equal runs of cpus (the last one takes the rest). */
    out->max_cpus = out->cpus < DOM_HOST_MAX_CPUS ? out->cpus : DOM_HOST_MAX_CPUS;
    env = getenv("XLUA_SIM_HOST_NODES");
    unsigned long nodes = env && *env ? strtoul(env, &end, 10) : 1;
    if (!env || !*env || *end != '\0' || nodes == 0)
        nodes = 1;
    if (nodes > out->max_cpus)
        nodes = out->max_cpus ? out->max_cpus : 1;
    out->nr_nodes = (uint32_t)nodes;
    uint32_t per = out->max_cpus / out->nr_nodes;
    for (uint32_t i = 0; i < DOM_HOST_MAX_CPUS; i++) {
        uint32_t node = per ? i / per : 0;
        out->cpu_node[i] = i >= out->max_cpus ? DOM_HOST_NO_NODE
                         : (uint16_t)(node < out->nr_nodes ? node : out->nr_nodes - 1);
    }
}

static int sim_info(struct dom_backend *b, uint32_t domid, struct dom_info *out,
                    struct xerr *err)
{
    if (domid == 0) {
        dom0_info(out);
        return 0;
    }
    struct sim_dom d;
    if (sim_get(S(b), domid, "", &d, err) < 0)
        return -1;
    *out = d.info;
    return 0;
}

/* ---- creating ---- */

static void random_uuid(char out[DOM_UUID_LEN + 1])
{
    unsigned char u[16];
    if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u) {
        /* Not for security: only to tell domains apart. */
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        for (int i = 0; i < 16; i++)
            u[i] = (unsigned char)rand();
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(out, DOM_UUID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
             u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int sim_new_dom(const struct dom_create *c, struct sim_dom *d, struct xerr *err)
{
    memset(d, 0, sizeof *d);
    struct dom_info *i = &d->info;
    if (!c->name)
        return xerr_set(err, "EINVAL", "a sim domain needs a name");
    if (c->memory_kb == 0)
        return xerr_set(err, "EINVAL", "a domain needs memory (memory_kb is 0)");
    /* The image is memory_kb KiB in a file; 1 TiB is far past anything a test wants. */
    if (c->memory_kb > (UINT64_C(1) << 30) || c->max_memory_kb > (UINT64_C(1) << 30))
        return xerr_set(err, "EINVAL", "the sim backend takes at most 1 TiB of memory");
    snprintf(i->name, sizeof i->name, "%s", c->name);
    if (c->uuid) {
        for (int k = 0; k < DOM_UUID_LEN; k++)
            i->uuid[k] = (char)(c->uuid[k] >= 'A' && c->uuid[k] <= 'F' ? c->uuid[k] + 32
                                                                       : c->uuid[k]);
        i->uuid[DOM_UUID_LEN] = '\0';
    } else {
        random_uuid(i->uuid);
    }
    i->type = c->type;
    i->memory_kb = (c->memory_kb + 3) / 4 * 4;
    i->max_memory_kb = c->max_memory_kb > i->memory_kb ? (c->max_memory_kb + 3) / 4 * 4
                                                       : i->memory_kb;
    i->vcpus = c->vcpus ? c->vcpus : 1;
    i->state = DOM_PAUSED;
    return 0;
}

void sim_abandon(struct sim *s, uint32_t domid)
{
    if (sim_lock(s, NULL) == 0) {
        sim_remove(s, domid, NULL);
        sim_unlock(s);
    } else {
        sim_remove(s, domid, NULL);
    }
}

int sim_finish_build(struct sim *s, struct sim_dom *d, const struct dom_create *c,
                     uint32_t *domid, struct xerr *err)
{
    uint32_t id = d->info.domid;
    char path[PATH_MAX];
    sim_dom_path(s, id, "memory", path);
    char *json = c->json ? NULL : sim_json_minimal(&d->info);
    int rc = -1;
    if (!c->json && !json)
        xerr_errno(err, ENOMEM, "cannot build domain '%s'", d->info.name);
    else if (d->info.digest[0] || sim_digest(path, d->info.digest, err) == 0)
        rc = sim_write_file(s, id, "config.json", c->json ? c->json : json,
                            strlen(c->json ? c->json : json), err);
    free(json);
    sim_runtime_built(d, c->json);
    if (rc == 0 && (rc = sim_lock(s, err)) == 0) {
        rc = sim_publish(s, d, c->paused ? DOM_PAUSED : DOM_RUNNING, err);
        if (rc == 0)
            sim_xs_introduce(s, d, c->json, NULL);
        sim_unlock(s);
    }
    if (rc < 0) {
        sim_abandon(s, id);
        return -1;
    }
    *domid = id;
    return 0;
}

static int sim_create(struct dom_backend *b, const struct dom_create *c, uint32_t *domid,
                      struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    char path[PATH_MAX];
    if (sim_new_dom(c, &d, err) < 0 || sim_lock(s, err) < 0)
        return -1;
    int rc = sim_reserve(s, &d, err);
    sim_unlock(s);
    if (rc < 0)
        return -1;
    uint32_t id = d.info.domid;
    sim_dom_path(s, id, "memory", path);
    if (sim_fill_memory(path, d.info.uuid, d.info.memory_kb * 1024, d.info.digest, err) < 0) {
        sim_abandon(s, id);
        return -1;
    }
    return sim_finish_build(s, &d, c, domid, err);
}

/* ---- lifecycle ---- */

/* Lock, read the domain, apply f, write it back, unlock. */
int sim_mutate(struct sim *s, uint32_t domid, const char *what,
               int (*f)(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err),
               const void *arg, struct xerr *err)
{
    struct sim_dom d;
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_get(s, domid, what, &d, err);
    uint64_t memory_kb = rc == 0 ? d.info.memory_kb : 0;
    if (rc == 0)
        rc = f(s, &d, arg, err);
    if (rc == 0)
        rc = sim_write_meta(s, &d, err);
    if (rc == 0 && d.info.memory_kb != memory_kb)
        sim_index_set(s, &d);    /* the host's free memory is read from the index */
    sim_unlock(s);
    return rc;
}

static int do_pause(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    (void)s;
    (void)arg;
    if (d->info.state == DOM_SHUTDOWN)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is shut down", d->info.domid,
                        d->info.name);
    /* Xen counts toolstack pauses (up to 255), so pausing a paused domain succeeds. */
    if (d->pauses >= 255)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is paused 255 times already",
                        d->info.domid, d->info.name);
    d->pauses++;
    d->info.state = DOM_PAUSED;
    return 0;
}

static int do_unpause(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    (void)s;
    (void)arg;
    if (d->info.state == DOM_SHUTDOWN)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is shut down", d->info.domid,
                        d->info.name);
    if (d->pauses == 0 || d->info.state != DOM_PAUSED)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is not paused", d->info.domid,
                        d->info.name);
    if (--d->pauses == 0) {
        d->info.state = DOM_RUNNING;
        /* what it was asked while paused, it does now */
        if (d->pending == 1 + DOM_REQ_POWEROFF)
            sim_guest_down(s, d, DOM_REASON_POWEROFF);
        else if (d->pending == 1 + DOM_REQ_REBOOT)
            sim_guest_down(s, d, DOM_REASON_REBOOT);
        d->pending = 0;
    }
    return 0;
}

static int do_rename(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    const char *name = arg;
    if (strcmp(d->info.name, name) == 0)
        return 0;
    struct sim_dom *all;
    size_t n;
    sim_index_drop(s);
    if (sim_scan(s, 1, &all, &n, err) < 0)
        return -1;
    int taken = strcmp(name, "Domain-0") == 0;
    for (size_t i = 0; i < n && !taken; i++)
        taken = all[i].info.domid != d->info.domid && strcmp(all[i].info.name, name) == 0;
    free(all);
    if (taken)
        return xerr_set(err, "EXISTS", "a domain named '%s' already exists", name);
    snprintf(d->info.name, sizeof d->info.name, "%s", name);
    return 0;
}

static int sim_pause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot pause", do_pause, NULL, err);
}

static int sim_unpause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot unpause", do_unpause, NULL, err);
}

/* The sim's save ignores DOM_SAVE_DESTROY: the domain it saved holds the save's pause already,
 * which is where dom_resume_saved must leave it. */
static int sim_resume_saved(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct sim_dom d;
    if (sim_get(S(b), domid, "cannot resume", &d, err) < 0)
        return -1;
    if (d.info.state != DOM_PAUSED)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is not paused by a save", domid,
                        d.info.name);
    return 0;
}

static int sim_rename(struct dom_backend *b, uint32_t domid, const char *name,
                      struct xerr *err)
{
    if (sim_mutate(S(b), domid, "cannot rename", do_rename, name, err) < 0)
        return -1;
    sim_xs_refresh(S(b), domid, NULL);
    return 0;
}

static int sim_destroy(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_get(s, domid, "cannot destroy", &d, err);
    if (rc == 0)
        rc = sim_remove(s, domid, err);
    if (rc == 0)
        sim_xs_release(s, domid, NULL);
    sim_unlock(s);
    return rc;
}

static int sim_config(struct dom_backend *b, uint32_t domid, char **json, struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    char path[PATH_MAX], *text;
    size_t n;
    if (sim_get(s, domid, "no libxl config for", &d, err) < 0)
        return -1;
    sim_dom_path(s, domid, "config.json", path);
    if (sim_read_file(path, &text, &n, err) < 0)
        return -1;
    *json = sim_json_patch(text, d.info.name, d.info.uuid);
    free(text);
    if (!*json)
        return xerr_errno(err, ENOMEM, "cannot read the config of domain %u", domid);
    return 0;
}

static const char *sim_run_dir(struct dom_backend *b)
{
    return S(b)->dir;
}

static const struct dom_ops sim_ops = {
    .name = "sim",
    .close = sim_close,
    .list = sim_list,
    .host = sim_host,
    .run_dir = sim_run_dir,
    .request = sim_request,
    .sysrq = sim_sysrq,
    .wait_shutdown = sim_wait_shutdown,
    .preserve = sim_preserve,
    .core_dump = sim_core_dump,
    .console = sim_console,
    .trigger = sim_trigger,
    .soft_reset = sim_soft_reset,
    .find_name = sim_find_name,
    .info = sim_info,
    .create = sim_create,
    .destroy = sim_destroy,
    .pause = sim_pause,
    .unpause = sim_unpause,
    .rename = sim_rename,
    .config = sim_config,
    .save = sim_save,
    .restore = sim_restore,
    .store_put = sim_store_put,
    .store_get = sim_store_get,
    .store_remove = sim_store_remove,
    .store_keys = sim_store_keys,
    .store_get_many = sim_store_get_many,
    .store_put_many = sim_store_put_many,
    /* xenstore and host facts */
    .xs_open = sim_xs_open,
    .host_info = sim_host_info,
    /* runtime changes */
    .set_memory = sim_set_memory,
    .set_max_memory = sim_set_max_memory,
    .set_vcpus = sim_set_vcpus,
    .pin_vcpu = sim_pin_vcpu,
    .vcpus = sim_vcpus,
    .device_add = sim_device_add,
    .device_remove = sim_device_remove,
    .devices = sim_devices,
    .cd_insert = sim_cd_insert,
    .sched_credit2 = sim_sched_credit2,
    /* save without pause and resume before a destroy */
    .resume_saved = sim_resume_saved,
};

/* The sim runs anywhere; it is the default where no kind listed before it claims the machine. */
static int sim_probe(struct xerr *err)
{
    (void)err;
    return 1;
}

static int sim_open_default(struct dom_backend **out, struct xerr *err)
{
    return dom_sim_open(NULL, out, err);
}

const struct dom_backend_kind dom_sim_kind = {
    .name = "sim",
    .probe = sim_probe,
    .open = sim_open_default,
};
