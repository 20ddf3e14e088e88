/* core/domain/sim/dom_sim_xs_layout.c: what the sim's xenstore holds about its domains, in the
 * layout libxl gives a real one: /local/domain/<domid>/{vm,name,domid,memory,cpu,control,
 * device,...}, /vm/<uuid>, /libxl/<domid>/type and, for each disk and nic of the config,
 * a frontend under device/ and a backend under /local/domain/0/backend/<kind>/<domid>/<devid>.
 * Written when a domain is published, kept on rename, removed when it is destroyed. Each change
 * reads and writes the domain's own part of the store (dom-<domid> and vm-<uuid>: see
 * dom_sim_xs_store.c) and the small root file, whatever the number of domains. */
#include "dom_sim_xs_tree.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const backend_kinds[] = { "vbd", "qdisk", "vbd3", "vif", NULL };

/* ---- reading the disks and nics of a libxl JSON config ---- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* A string or number member of obj into out ("" when absent or of another kind). */
static void member_text(const char *obj, const char *key, char *out, size_t n)
{
    const char *vs, *ve;
    out[0] = '\0';
    if (sim_json_member(obj, key, &vs, &ve) != 1)
        return;
    size_t k = 0;
    if (*vs == '"') {
        for (const char *p = vs + 1; p < ve - 1 && k + 1 < n; p++) {
            if (*p == '\\' && p + 1 < ve - 1)
                p++;
            out[k++] = *p;
        }
    } else if (*vs != '{' && *vs != '[') {
        for (const char *p = vs; p < ve && k + 1 < n; p++)
            out[k++] = *p;
    }
    out[k] = '\0';
}

/* Xen's number for a virtual disk name (xvda 51712, hda 768, sda 2048), -1 if unknown. */
static long vdev_devid(const char *vdev)
{
    long major = -1;
    const char *p = vdev;
    if (strncmp(p, "xvd", 3) == 0)
        major = 202, p += 3;
    else if (strncmp(p, "hd", 2) == 0)
        major = 3, p += 2;
    else if (strncmp(p, "sd", 2) == 0)
        major = 8, p += 2;
    else if (*p >= '0' && *p <= '9')
        return strtol(p, NULL, 10);
    if (major < 0 || *p < 'a' || *p > 'z')
        return -1;
    long disk = 0;
    while (*p >= 'a' && *p <= 'z')
        disk = disk * 26 + (*p++ - 'a' + 1);
    disk -= 1;
    long part = *p ? strtol(p, NULL, 10) : 0;
    if (major == 202)
        return disk < 16 ? (202 << 8) | (disk << 4) | part : (1L << 28) | (disk << 8) | part;
    if (major == 3)
        return disk < 4 ? ((disk < 2 ? 3L : 22L) << 8) | ((disk % 2) << 6) | part : -1;
    return disk < 16 ? (8 << 8) | (disk << 4) | part : -1;
}

/* Call f for each object in the array member key of the config. */
static int each_device(const char *json, const char *key,
                       int (*f)(const char *obj, int index, void *arg), void *arg)
{
    const char *vs, *ve;
    if (!json || sim_json_member(json, key, &vs, &ve) != 1 || *vs != '[')
        return 0;
    const char *p = skip_ws(vs + 1);
    for (int i = 0; *p && *p != ']'; i++) {
        const char *end = sim_json_skip(p);
        if (!end)
            return -1;
        if (*p == '{' && f(p, i, arg) < 0)
            return -1;
        p = skip_ws(end);
        if (*p == ',')
            p = skip_ws(p + 1);
    }
    return 0;
}

/* ---- writing ---- */

struct layout {
    struct xst_tree *t;
    uint64_t gen;
    uint32_t domid;
    struct xerr *err;
    int rc;
};

static void put(struct layout *l, const char *perms, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(struct layout *l, const char *perms, const char *value, const char *fmt, ...)
{
    char path[DOM_XS_PATH_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    if (l->rc == 0 && xst_write(l->t, path, value, strlen(value), perms, l->gen, l->err) < 0)
        l->rc = -1;
}

static int put_disk(const char *obj, int index, void *arg)
{
    (void)index;
    struct layout *l = arg;
    char vdev[64], target[1024], backend[32], format[32], rw[8], cdrom[8], fe[64], be[160];
    char perm_fe[24], perm_be[24], num[32];
    member_text(obj, "vdev", vdev, sizeof vdev);
    member_text(obj, "pdev_path", target, sizeof target);
    member_text(obj, "backend", backend, sizeof backend);
    member_text(obj, "format", format, sizeof format);
    member_text(obj, "readwrite", rw, sizeof rw);
    member_text(obj, "is_cdrom", cdrom, sizeof cdrom);
    long devid = vdev_devid(vdev);
    if (devid < 0)
        return 0;
    const char *kind = strcmp(backend, "qdisk") == 0 ? "qdisk" : "vbd";
    uint32_t d = l->domid;
    snprintf(fe, sizeof fe, "/local/domain/%u/device/vbd/%ld", d, devid);
    snprintf(be, sizeof be, "/local/domain/0/backend/%s/%u/%ld", kind, d, devid);
    snprintf(perm_fe, sizeof perm_fe, "n%u,r0", d);
    snprintf(perm_be, sizeof perm_be, "n0,r%u", d);
    snprintf(num, sizeof num, "%u", d);
    put(l, perm_fe, be, "%s/backend", fe);
    put(l, perm_fe, "0", "%s/backend-id", fe);
    put(l, perm_fe, "4", "%s/state", fe);
    put(l, perm_fe, vdev, "%s/virtual-device-name", fe);
    put(l, perm_fe, strcmp(cdrom, "1") == 0 || strcmp(cdrom, "true") == 0 ? "cdrom" : "disk",
        "%s/device-type", fe);
    put(l, perm_be, fe, "%s/frontend", be);
    put(l, perm_be, num, "%s/frontend-id", be);
    put(l, perm_be, "1", "%s/online", be);
    put(l, perm_be, "4", "%s/state", be);
    put(l, perm_be, target, "%s/params", be);
    put(l, perm_be, format[0] ? format : "raw", "%s/type", be);
    /* libxl's JSON leaves out a readwrite of 0 (its default): absent is read-only */
    put(l, perm_be, strcmp(rw, "1") == 0 || strcmp(rw, "true") == 0 ? "w" : "r",
        "%s/mode", be);
    put(l, perm_be, vdev, "%s/dev", be);
    return l->rc;
}

static int put_nic(const char *obj, int index, void *arg)
{
    struct layout *l = arg;
    char devid_s[16], mac[32], bridge[64], script[256], fe[64], be[128], perm_fe[24],
         perm_be[24], num[32];
    member_text(obj, "devid", devid_s, sizeof devid_s);
    member_text(obj, "mac", mac, sizeof mac);
    member_text(obj, "bridge", bridge, sizeof bridge);
    member_text(obj, "script", script, sizeof script);
    long devid = devid_s[0] ? strtol(devid_s, NULL, 10) : index;
    uint32_t d = l->domid;
    snprintf(fe, sizeof fe, "/local/domain/%u/device/vif/%ld", d, devid);
    snprintf(be, sizeof be, "/local/domain/0/backend/vif/%u/%ld", d, devid);
    snprintf(perm_fe, sizeof perm_fe, "n%u,r0", d);
    snprintf(perm_be, sizeof perm_be, "n0,r%u", d);
    snprintf(num, sizeof num, "%u", d);
    snprintf(devid_s, sizeof devid_s, "%ld", devid);
    put(l, perm_fe, be, "%s/backend", fe);
    put(l, perm_fe, "0", "%s/backend-id", fe);
    put(l, perm_fe, "4", "%s/state", fe);
    put(l, perm_fe, devid_s, "%s/handle", fe);
    put(l, perm_fe, mac, "%s/mac", fe);
    put(l, perm_be, fe, "%s/frontend", be);
    put(l, perm_be, num, "%s/frontend-id", be);
    put(l, perm_be, "1", "%s/online", be);
    put(l, perm_be, "4", "%s/state", be);
    put(l, perm_be, devid_s, "%s/handle", be);
    put(l, perm_be, mac, "%s/mac", be);
    put(l, perm_be, bridge, "%s/bridge", be);
    put(l, perm_be, script[0] ? script : "/etc/xen/scripts/vif-bridge", "%s/script", be);
    put(l, perm_be, "vif", "%s/type", be);
    return l->rc;
}

static void remove_if_there(struct xst_tree *t, const char *path)
{
    if (xst_find(t, path))
        xst_rm(t, path, 0, NULL);
}

static void remove_devices(struct xst_tree *t, uint32_t domid)
{
    char path[128];
    for (const char *const *k = backend_kinds; *k; k++) {
        snprintf(path, sizeof path, "/local/domain/0/backend/%s/%u", *k, domid);
        remove_if_there(t, path);
    }
    snprintf(path, sizeof path, "/local/domain/%u/device", domid);
    remove_if_there(t, path);
}

static int write_devices(struct layout *l, const char *json)
{
    char perm[24];
    snprintf(perm, sizeof perm, "n%u", l->domid);
    put(l, perm, "", "/local/domain/%u/device", l->domid);
    if (l->rc == 0 && (each_device(json, "disks", put_disk, l) < 0 ||
                       each_device(json, "nics", put_nic, l) < 0) && l->rc == 0)
        l->rc = xerr_set(l->err, "EINVAL", "domain %u: cannot read the devices of its config",
                         l->domid);
    return l->rc;
}

struct introduce {
    const struct sim_dom *d;
    const char *json;
};

static int do_introduce(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err)
{
    const struct introduce *in = arg;
    const struct dom_info *i = &in->d->info;
    struct layout l = { t, gen, i->domid, err, 0 };
    char ro[24], rw[24], vm[64], num[32];
    uint32_t d = i->domid;
    snprintf(ro, sizeof ro, "n0,r%u", d);
    snprintf(rw, sizeof rw, "n%u", d);
    snprintf(vm, sizeof vm, "/vm/%s", i->uuid);
    if (xst_need(t, vm, XST_SUBTREE, err) < 0)
        return -1;
    remove_devices(t, d);
    char dir[64];
    snprintf(dir, sizeof dir, "/local/domain/%u", d);
    remove_if_there(t, dir);
    put(&l, ro, "", "%s", dir);
    put(&l, ro, vm, "%s/vm", dir);
    put(&l, ro, i->name, "%s/name", dir);
    snprintf(num, sizeof num, "%u", d);
    put(&l, ro, num, "%s/domid", dir);
    snprintf(num, sizeof num, "%llu", (unsigned long long)i->max_memory_kb);
    put(&l, ro, num, "%s/memory/static-max", dir);
    snprintf(num, sizeof num, "%llu", (unsigned long long)i->memory_kb);
    put(&l, ro, num, "%s/memory/target", dir);
    /* libxl writes every vcpu up to max_vcpus, offline the ones not (yet) brought up */
    uint64_t max_vcpus = 0;
    if (!in->json || sim_json_u64(in->json, "b_info.max_vcpus", &max_vcpus) != 1 ||
        max_vcpus < i->vcpus || max_vcpus > DOM_HOST_MAX_CPUS)
        max_vcpus = i->vcpus;
    for (uint32_t c = 0; c < (uint32_t)max_vcpus; c++)
        put(&l, ro, c < i->vcpus ? "online" : "offline", "%s/cpu/%u/availability", dir, c);
    put(&l, rw, "", "%s/control/shutdown", dir);
    put(&l, ro, "1", "%s/control/platform-feature-multiprocessor-suspend", dir);
    put(&l, ro, "1", "%s/control/platform-feature-xs_reset_watches", dir);
    put(&l, rw, "", "%s/data", dir);
    put(&l, rw, "", "%s/drivers", dir);
    put(&l, rw, "", "%s/feature", dir);
    put(&l, rw, "", "%s/attr", dir);
    put(&l, rw, "", "%s/error", dir);
    write_devices(&l, in->json);
    put(&l, ro, "", "%s", vm);
    put(&l, ro, i->uuid, "%s/uuid", vm);
    put(&l, ro, i->name, "%s/name", vm);
    snprintf(num, sizeof num, "%lld", (long long)time(NULL));
    put(&l, ro, num, "%s/start_time", vm);
    put(&l, "n0", dom_type_name(i->type), "/libxl/%u/type", d);
    t->introduced++;
    return l.rc < 0 ? -1 : 1;
}

/* The path of domain domid's own directory: its part of the store. */
static void dom_dir(uint32_t domid, char out[64])
{
    snprintf(out, 64, "/local/domain/%u", domid);
}

int sim_xs_introduce(struct sim *s, const struct sim_dom *d, const char *json,
                     struct xerr *err)
{
    struct introduce in = { d, json };
    char dir[64];
    dom_dir(d->info.domid, dir);
    return xst_apply(s, dir, XST_SUBTREE, do_introduce, &in, err);
}

static int do_release(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err)
{
    (void)gen;
    uint32_t domid = *(const uint32_t *)arg;
    char path[DOM_XS_PATH_MAX + 1];
    snprintf(path, sizeof path, "/local/domain/%u/vm", domid);
    const struct xst_node *vm = xst_find(t, path);
    if (vm && strncmp(vm->value, "/vm/", 4) == 0 && strlen(vm->value) < sizeof path) {
        snprintf(path, sizeof path, "%s", vm->value);
        if (xst_need(t, path, XST_SUBTREE, err) < 0)
            return -1;
        remove_if_there(t, path);
    }
    remove_devices(t, domid);
    snprintf(path, sizeof path, "/local/domain/%u", domid);
    remove_if_there(t, path);
    snprintf(path, sizeof path, "/libxl/%u", domid);
    remove_if_there(t, path);
    t->released++;
    return 1;
}

int sim_xs_release(struct sim *s, uint32_t domid, struct xerr *err)
{
    char dir[64];
    dom_dir(domid, dir);
    return xst_apply(s, dir, XST_SUBTREE, do_release, &domid, err);
}

/* Write value at the formatted path when it is there and holds something else (a watch
 * should see changes, not rewrites); a missing node is written only under /local/domain. */
static int set_if_changed(struct xst_tree *t, uint64_t gen, const char *value,
                          struct xerr *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int set_if_changed(struct xst_tree *t, uint64_t gen, const char *value,
                          struct xerr *err, const char *fmt, ...)
{
    char path[DOM_XS_PATH_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    const struct xst_node *n = xst_find(t, path);
    if (n && n->len == strlen(value) && memcmp(n->value, value, n->len) == 0)
        return 0;
    if (!n && strncmp(path, "/local/domain/", 14) != 0)
        return 0;
    return xst_write(t, path, value, strlen(value), NULL, gen, err);
}

static int do_refresh(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err)
{
    const struct dom_info *i = arg;
    char path[DOM_XS_PATH_MAX + 1], vm[64];
    snprintf(path, sizeof path, "/local/domain/%u/vm", i->domid);
    const struct xst_node *old = xst_find(t, path);
    if (!old)
        return 0;
    /* its value copied: loading more parts moves the nodes */
    char from[DOM_XS_PATH_MAX + 1];
    snprintf(from, sizeof from, "%s", old->value);
    snprintf(vm, sizeof vm, "/vm/%s", i->uuid);
    if (xst_need(t, vm, XST_SUBTREE, err) < 0)
        return -1;
    if (strcmp(from, vm) != 0 && strncmp(from, "/vm/", 4) == 0 && from[4] &&
        !strchr(from + 4, '/')) {
        /* A new uuid (a preserved domain): move its /vm node. */
        size_t flen = strlen(from);
        if (xst_need(t, from, XST_SUBTREE, err) < 0)
            return -1;
        for (size_t k = 0; k < t->n; k++) {
            struct xst_node *n = &t->v[k];
            if (!xst_under(n->path, from))
                continue;
            char moved[DOM_XS_PATH_MAX + 1];
            snprintf(moved, sizeof moved, "%s%s", vm, n->path + flen);
            char *np = strdup(moved);
            if (!np)
                return xerr_errno(err, ENOMEM, "cannot rename %s", from);
            xst_touch(t, n->path);
            xst_touch(t, np);
            free(n->path);
            n->path = np;
            n->gen = gen;
        }
        xst_reindex(t);
        if (xst_write(t, path, vm, strlen(vm), NULL, gen, err) < 0)
            return -1;
        snprintf(path, sizeof path, "%s/uuid", vm);
        if (xst_find(t, path) && xst_write(t, path, i->uuid, strlen(i->uuid), NULL, gen,
                                           err) < 0)
            return -1;
    }
    char num[32];
    if (set_if_changed(t, gen, i->name, err, "/local/domain/%u/name", i->domid) < 0 ||
        set_if_changed(t, gen, i->name, err, "%s/name", vm) < 0)
        return -1;
    snprintf(num, sizeof num, "%llu", (unsigned long long)i->memory_kb);
    if (set_if_changed(t, gen, num, err, "/local/domain/%u/memory/target", i->domid) < 0)
        return -1;
    snprintf(num, sizeof num, "%llu", (unsigned long long)i->max_memory_kb);
    if (set_if_changed(t, gen, num, err, "/local/domain/%u/memory/static-max", i->domid) < 0)
        return -1;
    /* vcpus online: cpu/0 .. vcpus-1; any other cpu node there is offline */
    for (uint32_t c = 0; c < i->vcpus; c++)
        if (set_if_changed(t, gen, "online", err, "/local/domain/%u/cpu/%u/availability",
                           i->domid, c) < 0)
            return -1;
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix, "/local/domain/%u/cpu/", i->domid);
    for (size_t k = 0; k < t->n; k++) {
        const char *p = t->v[k].path;
        char *end;
        if (strncmp(p, prefix, (size_t)plen) != 0)
            continue;
        unsigned long c = strtoul(p + plen, &end, 10);
        if (end == p + plen || strcmp(end, "/availability") != 0 || c < i->vcpus)
            continue;
        if (set_if_changed(t, gen, "offline", err, "%s", p) < 0)
            return -1;
    }
    return 1;
}

int sim_xs_refresh(struct sim *s, uint32_t domid, struct xerr *err)
{
    struct sim_dom d;
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_read_meta(s, domid, &d, err);
    char dir[64];
    dom_dir(domid, dir);
    if (rc == 0)
        rc = xst_apply(s, dir, XST_SUBTREE, do_refresh, &d.info, err);
    sim_unlock(s);
    return rc;
}

struct sync {
    uint32_t domid;
    const char *json;
};

static int do_sync(struct xst_tree *t, uint64_t gen, void *arg, struct xerr *err)
{
    const struct sync *sy = arg;
    char path[64];
    snprintf(path, sizeof path, "/local/domain/%u", sy->domid);
    if (!xst_find(t, path))
        return xerr_set(err, "NODOMAIN", "domain %u is not in the sim's xenstore", sy->domid);
    remove_devices(t, sy->domid);
    struct layout l = { t, gen, sy->domid, err, 0 };
    return write_devices(&l, sy->json) < 0 ? -1 : 1;
}

int sim_xs_sync_devices(struct sim *s, uint32_t domid, const char *json, struct xerr *err)
{
    struct sync sy = { domid, json };
    char dir[64];
    dom_dir(domid, dir);
    return xst_apply(s, dir, XST_SUBTREE, do_sync, &sy, err);
}

int dom_sim_xs_sync_devices(struct dom_backend *b, uint32_t domid, struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    char path[PATH_MAX], *json;
    size_t n;
    if (sim_lock(s, err) < 0)
        return -1;
    sim_dom_path(s, domid, "config.json", path);
    int rc = sim_read_file(path, &json, &n, err);
    if (rc == 0) {
        rc = sim_xs_sync_devices(s, domid, json, err);
        free(json);
    }
    sim_unlock(s);
    return rc;
}
