/* core/domain/dom.c: the domain-operations interface itself: choosing a backend from the kinds
 * listed in backends.c, dispatching through its ops table, and the checks every backend shares. */
#include "dom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kinds in dom_backend_kinds (backends.c) that a request names, or NULL. */
static const struct dom_backend_kind *kind_named(const char *name)
{
    for (const struct dom_backend_kind *const *k = dom_backend_kinds; *k; k++)
        if (strcmp((*k)->name, name) == 0)
            return *k;
    return NULL;
}

int dom_choose(const char *requested, const char **name, struct xerr *err)
{
    if (!requested || !requested[0])
        requested = getenv("XLUA_BACKEND");
    if (!requested || !requested[0]) {
        /* The first kind, in order of preference, that says this machine is its own. */
        for (const struct dom_backend_kind *const *k = dom_backend_kinds; *k; k++) {
            int here = (*k)->probe(err);
            if (here < 0)
                return -1;
            if (here) {
                *name = (*k)->name;
                return 0;
            }
        }
        return xerr_set(err, "NOXEN", "no domain backend can run here");
    }
    const struct dom_backend_kind *k = kind_named(requested);
    if (!k) {
        char names[128] = "";
        for (const struct dom_backend_kind *const *o = dom_backend_kinds; *o; o++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     o == dom_backend_kinds ? "" : " or ", (*o)->name);
        return xerr_set(err, "EINVAL", "unknown domain backend '%s': use %s", requested, names);
    }
    if (k->probe(err) <= 0)
        return -1;
    *name = k->name;
    return 0;
}

int dom_open(const char *requested, struct dom_backend **out, struct xerr *err)
{
    const char *name;
    *out = NULL;
    if (dom_choose(requested, &name, err) < 0)
        return -1;
    return kind_named(name)->open(out, err);
}

void dom_close(struct dom_backend *b)
{
    if (b)
        b->ops->close(b);
}

const char *dom_backend_name(const struct dom_backend *b)
{
    return b->ops->name;
}

int dom_list(struct dom_backend *b, struct dom_info **out, size_t *n, struct xerr *err)
{
    *out = NULL;
    *n = 0;
    return b->ops->list(b, out, n, err);
}

int dom_info(struct dom_backend *b, uint32_t domid, struct dom_info *out, struct xerr *err)
{
    return b->ops->info(b, domid, out, err);
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int dom_find(struct dom_backend *b, const char *name_or_id, struct dom_info *out,
             struct xerr *err)
{
    if (all_digits(name_or_id)) {
        errno = 0;
        unsigned long v = strtoul(name_or_id, NULL, 10);
        if (errno || v > UINT32_MAX)
            return xerr_set(err, "NODOMAIN", "no domain with id %s", name_or_id);
        return dom_info(b, (uint32_t)v, out, err);
    }
    if (b->ops->find_name) {
        int rc = b->ops->find_name(b, name_or_id, out, err);
        if (rc <= 0)
            return rc;
    }
    struct dom_info *all;
    size_t n;
    if (dom_list(b, &all, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].name, name_or_id) == 0) {
            *out = all[i];
            free(all);
            return 0;
        }
    }
    free(all);
    return xerr_set(err, "NODOMAIN", "no domain named '%s'", name_or_id);
}

static int check_create(const struct dom_create *c, struct xerr *err)
{
    if (c->name && dom_check_name(c->name, err) < 0)
        return -1;
    if (c->uuid && !dom_check_uuid(c->uuid))
        return xerr_set(err, "EINVAL", "'%s' is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-"
                        "xxxxxxxxxxxx expected)", c->uuid);
    if (c->type != DOM_PV && c->type != DOM_PVH && c->type != DOM_HVM)
        return xerr_set(err, "EINVAL", "unknown domain type %d", (int)c->type);
    return 0;
}

int dom_create(struct dom_backend *b, const struct dom_create *c, uint32_t *domid,
               struct xerr *err)
{
    if (check_create(c, err) < 0)
        return -1;
    return b->ops->create(b, c, domid, err);
}

int dom_destroy(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return b->ops->destroy(b, domid, err);
}

int dom_pause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return b->ops->pause(b, domid, err);
}

int dom_unpause(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return b->ops->unpause(b, domid, err);
}

int dom_rename(struct dom_backend *b, uint32_t domid, const char *name, struct xerr *err)
{
    if (dom_check_name(name, err) < 0)
        return -1;
    return b->ops->rename(b, domid, name, err);
}

int dom_config(struct dom_backend *b, uint32_t domid, char **json, struct xerr *err)
{
    *json = NULL;
    return b->ops->config(b, domid, json, err);
}

int dom_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
             const struct dom_progress *p, struct xerr *err)
{
    static const struct dom_progress none;
    return b->ops->save(b, domid, w, live, p ? p : &none, err);
}

int dom_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                const struct dom_progress *p, uint32_t *domid, struct xerr *err)
{
    static const struct dom_progress none;
    if (check_create(c, err) < 0)
        return -1;
    return b->ops->restore(b, c, r, p ? p : &none, domid, err);
}

int dom_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                  size_t n, struct xerr *err)
{
    if (dom_check_key(key, err) < 0)
        return -1;
    return b->ops->store_put(b, domid, key, v, n, err);
}

int dom_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v, size_t *n,
                  struct xerr *err)
{
    *v = NULL;
    *n = 0;
    if (dom_check_key(key, err) < 0)
        return -1;
    return b->ops->store_get(b, domid, key, v, n, err);
}

int dom_store_remove(struct dom_backend *b, uint32_t domid, const char *key, struct xerr *err)
{
    if (dom_check_key(key, err) < 0)
        return -1;
    return b->ops->store_remove(b, domid, key, err);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keys come back sorted, whatever order the backend keeps them in. */
int dom_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                   struct xerr *err)
{
    *keys = NULL;
    *n = 0;
    if (b->ops->store_keys(b, domid, keys, n, err) < 0)
        return -1;
    if (*n > 1)
        qsort(*keys, *n, sizeof **keys, by_string);
    return 0;
}

void dom_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int dom_host(struct dom_backend *b, struct dom_host *out, struct xerr *err)
{
    memset(out, 0, sizeof *out);
    return b->ops->host(b, out, err);
}

int dom_check_name(const char *name, struct xerr *err)
{
    size_t len = strlen(name);
    if (len == 0)
        return xerr_set(err, "EINVAL", "a domain name cannot be empty");
    if (len > DOM_NAME_MAX)
        return xerr_set(err, "EINVAL", "a domain name is at most %d bytes, not %zu",
                        DOM_NAME_MAX, len);
    /* xl reads a string of digits as a domid, so such a name could never be found. */
    if (all_digits(name))
        return xerr_set(err, "EINVAL", "a domain name cannot be all digits ('%s')", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/')
            return xerr_set(err, "EINVAL", "a domain name cannot contain '/' or control "
                            "characters");
    return 0;
}

int dom_check_key(const char *key, struct xerr *err)
{
    size_t len = strlen(key);
    int ok = len > 0 && len <= DOM_KEY_MAX && strcmp(key, ".") != 0 && strcmp(key, "..") != 0;
    for (const char *p = key; ok && *p; p++)
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
             || *p == '_' || *p == '.' || *p == '-';
    if (!ok)
        return xerr_set(err, "EINVAL", "'%.*s' is not a store key (1 to %d of A-Z a-z 0-9 _ . -, "
                        "not . or ..)", DOM_KEY_MAX, key, DOM_KEY_MAX);
    return 0;
}

int dom_check_uuid(const char *uuid)
{
    if (strlen(uuid) != DOM_UUID_LEN)
        return 0;
    for (int i = 0; i < DOM_UUID_LEN; i++) {
        char c = uuid[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                                (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

const char *dom_state_name(enum dom_state s)
{
    switch (s) {
    case DOM_RUNNING: return "running";
    case DOM_PAUSED: return "paused";
    case DOM_SHUTDOWN: return "shutdown";
    case DOM_DYING: return "dying";
    }
    return "unknown";
}

const char *dom_type_name(enum dom_type t)
{
    switch (t) {
    case DOM_PV: return "pv";
    case DOM_PVH: return "pvh";
    case DOM_HVM: return "hvm";
    }
    return "unknown";
}

int dom_type_parse(const char *s, enum dom_type *t)
{
    if (strcmp(s, "pv") == 0)
        *t = DOM_PV;
    else if (strcmp(s, "pvh") == 0)
        *t = DOM_PVH;
    else if (strcmp(s, "hvm") == 0)
        *t = DOM_HVM;
    else
        return -1;
    return 0;
}

/* ---- a domain's life ---- */

static int unsupported(struct dom_backend *b, const char *what, struct xerr *err)
{
    return xerr_set(err, "ENOTSUP", "the %s backend cannot %s", b->ops->name, what);
}

int dom_request(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "cannot %s Domain-0", req == DOM_REQ_REBOOT ? "reboot"
                        : "shut down");
    return b->ops->request ? b->ops->request(b, domid, req, fallback, err)
                           : unsupported(b, "ask a guest to shut down", err);
}

int dom_trigger(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "cannot send a trigger to Domain-0");
    return b->ops->trigger ? b->ops->trigger(b, domid, t, vcpu, err)
                           : unsupported(b, "send a trigger", err);
}

int dom_sysrq(struct dom_backend *b, uint32_t domid, char key, struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "cannot send a sysrq to Domain-0");
    return b->ops->sysrq ? b->ops->sysrq(b, domid, key, err) : unsupported(b, "send a sysrq", err);
}

int dom_wait_shutdown(struct dom_backend *b, uint32_t domid, int timeout_ms,
                      struct dom_info *out, struct xerr *err)
{
    return b->ops->wait_shutdown ? b->ops->wait_shutdown(b, domid, timeout_ms, out, err)
                                 : unsupported(b, "wait for a domain's shutdown", err);
}

int dom_preserve(struct dom_backend *b, uint32_t domid, const char *suffix, const char *uuid,
                 struct xerr *err)
{
    if (!dom_check_uuid(uuid))
        return xerr_set(err, "EINVAL", "'%.40s' is not a uuid", uuid);
    return b->ops->preserve ? b->ops->preserve(b, domid, suffix, uuid, err)
                            : unsupported(b, "preserve a domain", err);
}

int dom_soft_reset(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return b->ops->soft_reset ? b->ops->soft_reset(b, domid, err)
                              : unsupported(b, "soft-reset a domain", err);
}

int dom_core_dump(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "cannot dump the core of Domain-0");
    return b->ops->core_dump ? b->ops->core_dump(b, domid, path, err)
                             : unsupported(b, "dump a domain's core", err);
}

int dom_console(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                int out_fd, struct xerr *err)
{
    return b->ops->console ? b->ops->console(b, domid, type, num, out_fd, err)
                           : unsupported(b, "attach to a console", err);
}

const char *dom_reason_name(enum dom_reason r)
{
    switch (r) {
    case DOM_REASON_POWEROFF: return "poweroff";
    case DOM_REASON_REBOOT: return "reboot";
    case DOM_REASON_SUSPEND: return "suspend";
    case DOM_REASON_CRASH: return "crash";
    case DOM_REASON_WATCHDOG: return "watchdog";
    case DOM_REASON_SOFT_RESET: return "soft_reset";
    case DOM_REASON_NONE: break;
    }
    return "";
}

/* ---- runtime changes ---- */

int dom_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err)
{
    return b->ops->set_memory ? b->ops->set_memory(b, domid, target_kb, err)
                              : unsupported(b, "change a domain's memory", err);
}

int dom_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err)
{
    return b->ops->set_max_memory ? b->ops->set_max_memory(b, domid, max_kb, err)
                                  : unsupported(b, "change a domain's maximum memory", err);
}

int dom_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err)
{
    if (online == 0)
        return xerr_set(err, "EINVAL", "a domain needs at least one vcpu online");
    return b->ops->set_vcpus ? b->ops->set_vcpus(b, domid, online, err)
                             : unsupported(b, "change a domain's vcpus", err);
}

int dom_pin_vcpu(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                 const uint8_t *soft, struct xerr *err)
{
    return b->ops->pin_vcpu ? b->ops->pin_vcpu(b, domid, vcpu, hard, soft, err)
                            : unsupported(b, "pin vcpus", err);
}

int dom_vcpus(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
              struct xerr *err)
{
    *out = NULL;
    *n = 0;
    return b->ops->vcpus ? b->ops->vcpus(b, domid, out, n, err)
                         : unsupported(b, "list vcpus", err);
}

int dom_device_add(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                   const char *json, struct xerr *err)
{
    return b->ops->device_add ? b->ops->device_add(b, domid, kind, json, err)
                              : unsupported(b, "hotplug devices", err);
}

int dom_device_remove(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *id, int force, struct xerr *err)
{
    return b->ops->device_remove ? b->ops->device_remove(b, domid, kind, id, force, err)
                                 : unsupported(b, "unplug devices", err);
}

int dom_devices(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **json,
                struct xerr *err)
{
    *json = NULL;
    return b->ops->devices ? b->ops->devices(b, domid, kind, json, err)
                           : unsupported(b, "list devices", err);
}

int dom_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err)
{
    return b->ops->cd_insert ? b->ops->cd_insert(b, domid, json, err)
                             : unsupported(b, "change a cdrom", err);
}

int dom_sched_credit2(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                      struct dom_sched *out, struct xerr *err)
{
    return b->ops->sched_credit2 ? b->ops->sched_credit2(b, domid, set, out, err)
                                 : unsupported(b, "change scheduling", err);
}

const char *dom_device_name(enum dom_device kind)
{
    switch (kind) {
    case DOM_DEV_DISK: return "disk";
    case DOM_DEV_NIC: return "nic";
    case DOM_DEV_PCI: return "pci";
    }
    return "";
}

/* save without pause and resume before a destroy (issue 14) */
int dom_resume_saved(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    return b->ops->resume_saved ? b->ops->resume_saved(b, domid, err)
                                : unsupported(b, "resume a saved domain", err);
}

/* several config store keys at once (issue 14) */
int dom_store_get_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       char **values, size_t *lens, struct xerr *err)
{
    for (size_t i = 0; i < n; i++) {
        values[i] = NULL;
        lens[i] = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (dom_check_key(keys[i], err) < 0)
            return -1;
    if (b->ops->store_get_many)
        return b->ops->store_get_many(b, domid, n, keys, values, lens, err);
    for (size_t i = 0; i < n; i++) {
        struct xerr e = { 0 };
        if (b->ops->store_get(b, domid, keys[i], &values[i], &lens[i], &e) == 0)
            continue;
        values[i] = NULL;
        lens[i] = 0;
        if (e.code && strcmp(e.code, "ENOENT") == 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            free(values[j]);
            values[j] = NULL;
        }
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

int dom_store_put_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       const void *const *values, const size_t *lens, struct xerr *err)
{
    for (size_t i = 0; i < n; i++)
        if (dom_check_key(keys[i], err) < 0)
            return -1;
    if (b->ops->store_put_many)
        return b->ops->store_put_many(b, domid, n, keys, values, lens, err);
    for (size_t i = 0; i < n; i++) {
        struct xerr e = { 0 };
        int rc = values[i] ? b->ops->store_put(b, domid, keys[i], values[i], lens[i], &e)
                           : b->ops->store_remove(b, domid, keys[i], &e);
        if (rc < 0 && !(!values[i] && e.code && strcmp(e.code, "ENOENT") == 0)) {
            if (err)
                *err = e;
            return -1;
        }
    }
    return 0;
}
