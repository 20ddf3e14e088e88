/* core/domain/libxl/dom_libxl.c: the libxl backend: the domain operations through libxenlight,
 * as xl does them, with libxl's log captured into the error message. Save and restore are in
 * dom_libxl_stream.c, the config store in dom_libxl_store.c. */
#include "dom_libxl.h"
#include "dom_libxl_int.h"
#include "dom_libxl_module.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void capture_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                             const char *context, const char *fmt, va_list ap)
{
    struct capture *c = (struct capture *)lg;
    if (level < XTL_ERROR)
        return;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&c->lock);
    if (errnoval > 0)
        snprintf(c->last, sizeof c->last, "%s%s%s: %s", context ? context : "",
                 context ? ": " : "", msg, strerror(errnoval));
    else
        snprintf(c->last, sizeof c->last, "%s%s%s", context ? context : "", context ? ": " : "",
                 msg);
    pthread_mutex_unlock(&c->lock);
}

static void capture_progress(xentoollog_logger *lg, const char *context, const char *doing,
                             int percent, unsigned long done, unsigned long total)
{
    (void)lg, (void)context, (void)doing, (void)percent, (void)done, (void)total;
}

static void capture_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

void lxb_log_clear(struct lx *x)
{
    pthread_mutex_lock(&x->log.lock);
    x->log.last[0] = '\0';
    pthread_mutex_unlock(&x->log.lock);
}

int lxb_fail(struct lx *x, struct xerr *err, int rc, const char *fmt, ...)
{
    char what[200], last[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&x->log.lock);
    snprintf(last, sizeof last, "%s", x->log.last);
    pthread_mutex_unlock(&x->log.lock);
    const char *code = rc == ERROR_DOMAIN_NOTFOUND ? "NODOMAIN" : rc == ERROR_NOMEM ? "ENOMEM"
                       : "LIBXL";
    const char *name = libxl_error_to_string(rc);
    return xerr_set(err, code, "%s failed (%s)%s%s", what, name ? name : "error", last[0] ? ": "
                    : "", last);
}

/* ---- opening ---- */

static const struct dom_ops libxl_ops;

/* libxl owns SIGCHLD for the whole life of the context (not only around each of its children,
 * the save helper and hotplug scripts, while another thread of ours is in a system call), but
 * reaps only its own children: xlua's Lua code runs children of its own (os.execute,
 * io.popen) and waits for them itself, which libxl_sigchld_owner_libxl_always would steal. */
static const libxl_childproc_hooks childproc_hooks = {
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

static int lxb_open(struct dom_backend **out, struct xerr *err)
{
    *out = NULL;
    struct lx *x = calloc(1, sizeof *x);
    if (!x)
        return xerr_errno(err, ENOMEM, "cannot open the libxl backend");
    x->base.ops = &libxl_ops;
    x->log.vt.vmessage = capture_vmessage;
    x->log.vt.progress = capture_progress;
    x->log.vt.destroy = capture_destroy;
    pthread_mutex_init(&x->log.lock, NULL);
    int rc = libxl_ctx_alloc(&x->ctx, LIBXL_VERSION, 0, &x->log.vt);
    if (rc) {
        lxb_fail(x, err, rc, "libxl_ctx_alloc");
        pthread_mutex_destroy(&x->log.lock);
        free(x);
        return -1;
    }
    libxl_childproc_setmode(x->ctx, &childproc_hooks, NULL);
    *out = &x->base;
    return 0;
}

static void lxb_close(struct dom_backend *b)
{
    struct lx *x = X(b);
    libxl_ctx_free(x->ctx);
    pthread_mutex_destroy(&x->log.lock);
    free(x);
}

/* ---- reading ---- */

void lxb_fill_info(struct lx *x, const libxl_dominfo *d, struct dom_info *i)
{
    memset(i, 0, sizeof *i);
    i->domid = d->domid;
    char *name = libxl_domid_to_name(x->ctx, d->domid);
    snprintf(i->name, sizeof i->name, "%s", name ? name : "");
    free(name);
    snprintf(i->uuid, sizeof i->uuid, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(d->uuid));
    i->state = d->dying ? DOM_DYING : d->shutdown ? DOM_SHUTDOWN : d->paused ? DOM_PAUSED
               : DOM_RUNNING;
    i->type = d->domain_type == LIBXL_DOMAIN_TYPE_HVM ? DOM_HVM
              : d->domain_type == LIBXL_DOMAIN_TYPE_PVH ? DOM_PVH : DOM_PV;
    i->memory_kb = d->current_memkb;
    i->max_memory_kb = d->max_memkb;
    i->vcpus = d->vcpu_online;
    i->reason = d->shutdown ? (enum dom_reason)d->shutdown_reason : DOM_REASON_NONE;
    i->cpu_time_ns = d->cpu_time;
}

static int lxb_list(struct dom_backend *b, struct dom_info **out, size_t *n, struct xerr *err)
{
    struct lx *x = X(b);
    int count = 0;
    lxb_log_clear(x);
    libxl_dominfo *v = libxl_list_domain(x->ctx, &count);
    if (!v)
        return lxb_fail(x, err, ERROR_FAIL, "libxl_list_domain");
    struct dom_info *r = malloc(((size_t)count + 1) * sizeof *r);
    if (!r) {
        libxl_dominfo_list_free(v, count);
        return xerr_errno(err, ENOMEM, "cannot list the domains");
    }
    for (int k = 0; k < count; k++)
        lxb_fill_info(x, &v[k], &r[k]);
    libxl_dominfo_list_free(v, count);
    *out = r;
    *n = (size_t)count;
    return 0;
}

static int lxb_host(struct dom_backend *b, struct dom_host *out, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_physinfo info;
    libxl_physinfo_init(&info);
    lxb_log_clear(x);
    int rc = libxl_get_physinfo(x->ctx, &info);
    if (rc == 0) {
        /* Xen counts pages of 4 KiB on x86. */
        out->total_memory_kb = info.total_pages * 4;
        out->free_memory_kb = info.free_pages * 4;
        out->cpus = info.nr_cpus;
        out->max_cpus = info.max_cpu_id + 1 < DOM_HOST_MAX_CPUS ? info.max_cpu_id + 1
                                                                : DOM_HOST_MAX_CPUS;
        out->nr_nodes = info.nr_nodes;
    }
    libxl_physinfo_dispose(&info);
    if (rc)
        return lxb_fail(x, err, rc, "libxl_get_physinfo");
    /* Which node each cpu is on, as libxl_node_to_cpumap reads it. */
    for (uint32_t i = 0; i < DOM_HOST_MAX_CPUS; i++)
        out->cpu_node[i] = DOM_HOST_NO_NODE;
    int nr = 0;
    libxl_cputopology *topo = libxl_get_cpu_topology(x->ctx, &nr);
    if (!topo)
        return lxb_fail(x, err, ERROR_FAIL, "libxl_get_cpu_topology");
    for (int i = 0; i < nr && i < DOM_HOST_MAX_CPUS; i++)
        if (topo[i].node != LIBXL_CPUTOPOLOGY_INVALID_ENTRY)
            out->cpu_node[i] = (uint16_t)topo[i].node;
    libxl_cputopology_list_free(topo, nr);
    return 0;
}

int lxb_get_dominfo(struct lx *x, uint32_t domid, libxl_dominfo *d, struct xerr *err)
{
    libxl_dominfo_init(d);
    lxb_log_clear(x);
    int rc = libxl_domain_info(x->ctx, d, domid);
    if (rc == ERROR_DOMAIN_NOTFOUND || (rc == 0 && d->domid != domid)) {
        libxl_dominfo_dispose(d);
        return xerr_set(err, "NODOMAIN", "no domain with id %u", domid);
    }
    if (rc) {
        libxl_dominfo_dispose(d);
        return lxb_fail(x, err, rc, "libxl_domain_info of domain %u", domid);
    }
    return 0;
}

static int lxb_info(struct dom_backend *b, uint32_t domid, struct dom_info *out,
                   struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    lxb_fill_info(x, &d, out);
    libxl_dominfo_dispose(&d);
    return 0;
}

/* A guest domain that exists, or NODOMAIN; Domain-0 is EPERM: "<what> Domain-0". */
int lxb_check_guest(struct lx *x, uint32_t domid, const char *what, libxl_dominfo *d,
                       struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "%s Domain-0", what);
    return lxb_get_dominfo(x, domid, d, err);
}

int lxb_name_taken(struct lx *x, const char *name, uint32_t self, struct xerr *err)
{
    uint32_t other;
    if (libxl_name_to_domid(x->ctx, name, &other) == 0 && other != self)
        return xerr_set(err, "EXISTS", "a domain named '%s' already exists (domid %u)", name,
                        other);
    return 0;
}

/* ---- creating ---- */

int lxb_parse_config(struct lx *x, const struct dom_create *c, libxl_domain_config *dc,
                        struct xerr *err)
{
    libxl_domain_config_init(dc);
    if (!c->json)
        return xerr_set(err, "EINVAL", "the libxl backend creates a domain from its libxl JSON, "
                        "and none was given");
    lxb_log_clear(x);
    int rc = libxl_domain_config_from_json(x->ctx, dc, c->json);
    if (rc) {
        lxb_fail(x, err, rc, "libxl_domain_config_from_json");
        if (err)
            err->code = "BADJSON";
        return -1;
    }
    if (c->name) {
        free(dc->c_info.name);
        dc->c_info.name = strdup(c->name);
    }
    if (c->uuid && libxl_uuid_from_string(&dc->c_info.uuid, c->uuid) != 0)
        return xerr_set(err, "EINVAL", "'%s' is not a uuid", c->uuid);
    if (!dc->c_info.name || !dc->c_info.name[0])
        return xerr_set(err, "EINVAL", "the domain config has no name");
    return lxb_name_taken(x, dc->c_info.name, INVALID_DOMID, err);
}

void lxb_destroy_quietly(struct lx *x, uint32_t domid)
{
    if (libxl_domid_valid_guest(domid))
        libxl_domain_destroy(x->ctx, domid, NULL);
}

static int lxb_create(struct dom_backend *b, const struct dom_create *c, uint32_t *domid,
                     struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_config dc;
    if (lxb_parse_config(x, c, &dc, err) < 0) {
        libxl_domain_config_dispose(&dc);
        return -1;
    }
    uint32_t id = INVALID_DOMID;
    lxb_log_clear(x);
    /* Synchronous: returns once the domain is built (bootloader and devices included),
     * paused; xl then unpauses it unless -p. */
    int rc = libxl_domain_create_new(x->ctx, &dc, &id, NULL, NULL);
    if (rc) {
        lxb_fail(x, err, rc, "libxl_domain_create_new of '%s'", dc.c_info.name);
        lxb_destroy_quietly(x, id);
    } else if (!c->paused && (rc = libxl_domain_unpause(x->ctx, id, NULL)) != 0) {
        lxb_fail(x, err, rc, "libxl_domain_unpause of new domain %u", id);
        lxb_destroy_quietly(x, id);
    }
    libxl_domain_config_dispose(&dc);
    if (rc)
        return -1;
    *domid = id;
    return 0;
}

/* ---- lifecycle ---- */

static int lxb_destroy(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot destroy", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    lxb_log_clear(x);
    int rc = libxl_domain_destroy(x->ctx, domid, NULL);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_destroy of domain %u", domid) : 0;
}

static int lxb_pause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot pause", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    /* Xen counts toolstack pauses, so pausing a paused domain succeeds, as with xl. */
    lxb_log_clear(x);
    int rc = libxl_domain_pause(x->ctx, domid, NULL);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_pause of domain %u", domid) : 0;
}

static int lxb_unpause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot unpause", &d, err) < 0)
        return -1;
    int paused = d.paused;
    libxl_dominfo_dispose(&d);
    /* Xen says EINVAL for an unpause without a pause; say why instead. */
    if (!paused)
        return xerr_set(err, "BADSTATE", "domain %u is not paused", domid);
    lxb_log_clear(x);
    int rc = libxl_domain_unpause(x->ctx, domid, NULL);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_unpause of domain %u", domid) : 0;
}

static int lxb_rename(struct dom_backend *b, uint32_t domid, const char *name,
                     struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "cannot rename", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    if (lxb_name_taken(x, name, domid, err) < 0)
        return -1;
    lxb_log_clear(x);
    int rc = libxl_domain_rename(x->ctx, domid, NULL, name);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_rename of domain %u", domid) : 0;
}

static int lxb_config(struct dom_backend *b, uint32_t domid, char **json, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_check_guest(x, domid, "no libxl config for", &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    libxl_domain_config dc;
    libxl_domain_config_init(&dc);
    lxb_log_clear(x);
    int rc = libxl_retrieve_domain_configuration(x->ctx, domid, &dc, NULL);
    if (rc == 0) {
        *json = libxl_domain_config_to_json(x->ctx, &dc);
        if (!*json)
            rc = ERROR_NOMEM;
    }
    libxl_domain_config_dispose(&dc);
    return rc ? lxb_fail(x, err, rc, "libxl_retrieve_domain_configuration of domain %u", domid)
              : 0;
}

/* tmpfs, emptied at boot as the locks' owners are gone; $XLUA_RUN_DIR for tests. */
static const char *lxb_run_dir(struct dom_backend *b)
{
    (void)b;
    const char *env = getenv("XLUA_RUN_DIR");
    return env && env[0] == '/' ? env : "/run/xlua";
}

static const struct dom_ops libxl_ops = {
    .name = "libxl",
    .close = lxb_close,
    .list = lxb_list,
    .host = lxb_host,
    .run_dir = lxb_run_dir,
    .request = lxb_request,
    .sysrq = lxb_sysrq,
    .wait_shutdown = lxb_wait_shutdown,
    .preserve = lxb_preserve,
    .core_dump = lxb_core_dump,
    .console = lxb_console,
    .trigger = lxb_trigger,
    .soft_reset = lxb_soft_reset,
    .info = lxb_info,
    .create = lxb_create,
    .destroy = lxb_destroy,
    .pause = lxb_pause,
    .unpause = lxb_unpause,
    .rename = lxb_rename,
    .config = lxb_config,
    .save = lxb_save,
    .restore = lxb_restore,
    .store_put = lxb_store_put,
    .store_get = lxb_store_get,
    .store_remove = lxb_store_remove,
    .store_keys = lxb_store_keys,
    /* xenstore and host facts */
    .xs_open = lxb_xs_open,
    .host_info = lxb_host_info,
    /* runtime changes */
    .set_memory = lxb_set_memory,
    .set_max_memory = lxb_set_max_memory,
    .set_vcpus = lxb_set_vcpus,
    .pin_vcpu = lxb_pin_vcpu,
    .vcpus = lxb_vcpus,
    .device_add = lxb_device_add,
    .device_remove = lxb_device_remove,
    .devices = lxb_devices,
    .cd_insert = lxb_cd_insert,
    .sched_credit2 = lxb_sched_credit2,
    /* save without pause and resume before a destroy */
    .resume_saved = lxb_resume_saved,
    /* several config store keys in one load and one write */
    .store_get_many = lxb_store_get_many,
    .store_put_many = lxb_store_put_many,
};

/* What the core's loader (dom_libxl_load.c) looks up: the only symbol this module exports. */
__attribute__((visibility("default"))) const struct dom_libxl_module xlua_libxl_module = {
    .ops_size = sizeof(struct dom_ops),
    .open = lxb_open,
};
