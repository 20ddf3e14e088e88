/* core/domain/sim/dom_sim_devices.c: a running sim domain's devices: disks, nics and PCI devices
 * hotplugged and unplugged, a cdrom's medium changed, kept in its config.json's disks, nics and
 * pcidevs as libxl records them (a nic gets the next devid and, without one, a mac of 00:16:3e),
 * and listed with the diskinfo / nicinfo libxl would report. */
#include "dom_sim_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

static struct sim *S(struct dom_backend *b)
{
    return (struct sim *)b;
}

static const char *array_key(enum dom_device kind)
{
    return kind == DOM_DEV_DISK ? "disks" : kind == DOM_DEV_NIC ? "nics" : "pcidevs";
}

/* A decimal number of digits only, no leading zero, at most max. -> 1 | 0 */
static int small_number(const char *p, long max, long *out)
{
    long n = 0;
    if (*p < '1' || *p > '9')
        return *p == '0' && !p[1] ? (*out = 0, 1) : 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > max)
            return 0;
    }
    *out = n;
    return !*p;
}

/* prefix, drive letters ("a" 0, "z" 25, "aa" 26, ...) and an optional partition (no leading
 * zero), within libxl's limits for the prefix. -> 1 | 0 */
static int disk_name(const char *vdev, const char *prefix, long max_disk, long max_part,
                     long *disk, long *part)
{
    size_t l = strlen(prefix);
    const char *p = vdev + l;
    if (strncmp(vdev, prefix, l) != 0 || *p < 'a' || *p > 'z')
        return 0;
    long d = -1;
    for (; *p >= 'a' && *p <= 'z'; p++) {
        d = (d + 1) * 26 + (*p - 'a');
        if (d > max_disk)
            return 0;
    }
    *disk = d;
    *part = 0;
    return !*p || (*p != '0' && small_number(p, max_part, part));
}

/* The number libxl gives a virtual disk (libxl__device_disk_dev_number's scheme and limits:
 * xvdX or dNpM with disk < 2^20 and partition < 256, the basic 202 major for disk and
 * partition < 16; a number up to INT_MAX; hdX up to 4 disks, 64 partitions; sdX up to 16 disks,
 * 16 partitions), -1 if it is none of these. */
static long vdev_devid(const char *vdev)
{
    long disk, part;
    const char *p = strchr(vdev, 'p');
    int dp = vdev[0] == 'd' && p && p > vdev + 1;
    if (dp) {
        char num[16];
        size_t l = (size_t)(p - vdev - 1);
        dp = l < sizeof num;
        if (dp) {
            memcpy(num, vdev + 1, l);
            num[l] = '\0';
            dp = small_number(num, (1L << 20) - 1, &disk) && small_number(p + 1, 255, &part);
        }
    }
    if (dp || disk_name(vdev, "xvd", (1L << 20) - 1, 255, &disk, &part))
        return disk < 16 && part < 16 ? (202L << 8) | (disk << 4) | part
                                      : (1L << 28) | (disk << 8) | part;
    if (vdev[0] >= '0' && vdev[0] <= '9') {
        char *end;
        errno = 0;
        unsigned long n = strtoul(vdev, &end, 0);
        return errno || *end || n > INT_MAX ? -1 : (long)n;
    }
    if (disk_name(vdev, "hd", 3, 63, &disk, &part))
        return ((disk < 2 ? 3L : 22L) << 8) | ((disk & 1) << 6) | part;
    if (disk_name(vdev, "sd", 15, 15, &disk, &part))
        return (8L << 8) | (disk << 4) | part;
    return -1;
}

/* The identity of a device as dom_device_remove names it: vdev, devid, "DDDD:BB:DD.F". */
static void device_id(enum dom_device kind, const char *dev, char *out, size_t n)
{
    uint64_t d = 0, b = 0, s = 0, f = 0;
    out[0] = '\0';
    if (kind == DOM_DEV_DISK) {
        sim_json_str(dev, "vdev", out, n);
    } else if (kind == DOM_DEV_NIC) {
        if (sim_json_u64(dev, "devid", &d) == 1)
            snprintf(out, n, "%" PRIu64, d);
    } else {
        sim_json_u64(dev, "domain", &d);
        sim_json_u64(dev, "bus", &b);
        sim_json_u64(dev, "dev", &s);
        sim_json_u64(dev, "func", &f);
        snprintf(out, n, "%04" PRIx64 ":%02" PRIx64 ":%02" PRIx64 ".%" PRIx64, d, b, s, f);
    }
}

/* Does element dev answer to id? A nic also answers to its mac. */
static int device_is(enum dom_device kind, const char *dev, const char *id)
{
    char own[64];
    device_id(kind, dev, own, sizeof own);
    if (kind == DOM_DEV_DISK && own[0] && vdev_devid(id) >= 0)
        return vdev_devid(own) == vdev_devid(id); /* xvde, 51776 and d4p0 are one disk */
    if (own[0] && strcasecmp(own, id) == 0)
        return 1;
    if (kind == DOM_DEV_NIC && sim_json_str(dev, "mac", own, sizeof own))
        return strcasecmp(own, id) == 0;
    return 0;
}

static size_t device_find(enum dom_device kind, const struct sim_span *v, size_t n,
                          const char *id)
{
    for (size_t i = 0; i < n; i++) {
        char *dev = strndup(v[i].s, (size_t)(v[i].e - v[i].s));
        int is = dev && device_is(kind, dev, id);
        free(dev);
        if (is)
            return i;
    }
    return n;
}

struct devop {
    enum dom_device kind;
    const char *json;   /* add: the device */
    const char *id;     /* remove: its identity */
};

/* A new nic is recorded as libxl records a hotplugged one: the next devid, without a mac one
 * of Xen's 00:16:3e range, nictype "vif". */
static char *complete_nic(const char *dev, const struct sim_span *v, size_t n)
{
    uint64_t devid, next = 0;
    char num[32], *out = strdup(dev), *next_out;
    for (size_t i = 0; i < n; i++) {
        char *e = strndup(v[i].s, (size_t)(v[i].e - v[i].s));
        if (e && sim_json_u64(e, "devid", &devid) == 1 && devid + 1 > next)
            next = devid + 1;
        free(e);
    }
    if (out && sim_json_u64(out, "devid", &devid) != 1) {
        snprintf(num, sizeof num, "%" PRIu64, next);
        next_out = sim_json_set(out, "devid", num);
        free(out);
        out = next_out;
    }
    char mac[32];
    if (out && !sim_json_str(out, "nictype", mac, sizeof mac)) {
        next_out = sim_json_set(out, "nictype", "\"vif\"");
        free(out);
        out = next_out;
    }
    if (out && !sim_json_str(out, "mac", mac, sizeof mac)) {
        unsigned char r[3] = { 0 };
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            r[0] = (unsigned char)getpid(), r[1] = (unsigned char)(getpid() >> 8);
        snprintf(mac, sizeof mac, "\"00:16:3e:%02x:%02x:%02x\"", r[0] & 0x7f, r[1], r[2]);
        next_out = sim_json_set(out, "mac", mac);
        free(out);
        out = next_out;
    }
    return out;
}

static int do_device(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    const struct devop *op = arg;
    uint32_t id = d->info.domid;
    const char *kind = dom_device_name(op->kind);
    char *json, *dev = NULL, ident[64];
    struct sim_span *v;
    size_t n;
    if (d->info.state == DOM_SHUTDOWN)
        return xerr_set(err, "BADSTATE", "domain %u (%s) is shut down", id, d->info.name);
    if (sim_config_read(s, id, &json, err) < 0)
        return -1;
    int rc = sim_config_array(json, array_key(op->kind), &v, &n, id, err);
    if (rc == 0 && op->json) {
        dev = op->kind == DOM_DEV_NIC ? complete_nic(op->json, v, n) : strdup(op->json);
        if (!dev)
            rc = xerr_set(err, "EINVAL", "the %s to add is not a JSON object", kind);
        else
            device_id(op->kind, dev, ident, sizeof ident);
        if (rc == 0 && op->kind == DOM_DEV_DISK && vdev_devid(ident) < 0)
            rc = xerr_set(err, "EINVAL", "'%s' is not a virtual disk libxl can number "
                          "(xvdX, hdX, sdX, dNpM or a number, within libxl's limits)", ident);
        else if (rc == 0 && device_find(op->kind, v, n, ident) < n)
            rc = xerr_set(err, "EXISTS", "domain %u (%s) already has the %s %s", id,
                          d->info.name, kind, ident);
        if (rc == 0) {
            char *list = sim_json_join(v, n, n, dev);
            char *next = list ? sim_json_set(json, array_key(op->kind), list) : NULL;
            rc = list ? sim_config_edited(&json, next, id, err)
                      : xerr_errno(err, ENOMEM, "cannot add a %s", kind);
            free(list);
        }
    } else if (rc == 0) {
        size_t at = device_find(op->kind, v, n, op->id);
        if (at == n) {
            rc = xerr_set(err, "ENODEV", "domain %u (%s) has no %s %s", id, d->info.name, kind,
                          op->id);
        } else {
            char *list = sim_json_join(v, n, at, NULL);
            char *next = list ? sim_json_set(json, array_key(op->kind), list) : NULL;
            rc = list ? sim_config_edited(&json, next, id, err)
                      : xerr_errno(err, ENOMEM, "cannot remove a %s", kind);
            free(list);
        }
    }
    free(v);
    free(dev);
    if (rc == 0)
        rc = sim_config_write(s, id, json, err);
    free(json);
    return rc;
}

int sim_device_add(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                   const char *json, struct xerr *err)
{
    const char *p = sim_json_ws(json), *end = sim_json_skip(p);
    if (*p != '{' || !end || *sim_json_ws(end))
        return xerr_set(err, "EINVAL", "the %s to add is not a JSON object",
                        dom_device_name(kind));
    struct devop op = { kind, json, NULL };
    return sim_mutate(S(b), domid, "cannot add a device to", do_device, &op, err);
}

int sim_device_remove(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *id, int force, struct xerr *err)
{
    (void)force; /* the sim's guests never hold on to a device */
    struct devop op = { kind, NULL, id };
    return sim_mutate(S(b), domid, "cannot remove a device from", do_device, &op, err);
}

/* {"device": dev, "info": {...}} as libxl's diskinfo / nicinfo would say it. */
static char *listed(struct sim *s, const struct sim_dom *d, enum dom_device kind,
                    const char *dev, size_t index)
{
    char *out = NULL, ident[64];
    uint32_t id = d->info.domid;
    device_id(kind, dev, ident, sizeof ident);
    (void)s;
    if (kind == DOM_DEV_PCI) {
        if (asprintf(&out, "{\"device\": %s}", dev) < 0)
            return NULL;
        return out;
    }
    long devid = kind == DOM_DEV_DISK ? vdev_devid(ident) : strtol(ident, NULL, 10);
    const char *type = kind == DOM_DEV_DISK ? "vbd" : "vif";
    /* A connected device (state 4) on the sim's own event channels and grants. */
    int evtch = 20 + (int)index, ref = 8 + 2 * (int)index;
    int n = kind == DOM_DEV_DISK
        ? asprintf(&out, "{\"device\": %s, \"info\": {\"backend\": \"/local/domain/0/backend/"
                   "%s/%u/%ld\", \"backend_id\": 0, \"frontend\": \"/local/domain/%u/device/"
                   "%s/%ld\", \"frontend_id\": %u, \"devid\": %ld, \"state\": 4, \"evtch\": "
                   "%d, \"rref\": %d}}", dev, type, id, devid, id, type, devid, id, devid,
                   evtch, ref)
        : asprintf(&out, "{\"device\": %s, \"info\": {\"backend\": \"/local/domain/0/backend/"
                   "%s/%u/%ld\", \"backend_id\": 0, \"frontend\": \"/local/domain/%u/device/"
                   "%s/%ld\", \"frontend_id\": %u, \"devid\": %ld, \"state\": 4, \"evtch\": "
                   "%d, \"rref_tx\": %d, \"rref_rx\": %d}}", dev, type, id, devid, id, type,
                   devid, id, devid, evtch, ref, ref + 1);
    return n < 0 ? NULL : out;
}

int sim_devices(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **out,
                struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    char *json;
    struct sim_span *v;
    size_t n;
    if (domid == 0) {
        /* the sim's Domain-0 has no virtual devices */
        *out = strdup("[]");
        return *out ? 0 : xerr_errno(err, ENOMEM, "cannot list the devices of Domain-0");
    }
    if (sim_get(s, domid, "cannot list the devices of", &d, err) < 0 ||
        sim_config_read(s, domid, &json, err) < 0)
        return -1;
    if (sim_config_array(json, array_key(kind), &v, &n, domid, err) < 0) {
        free(json);
        return -1;
    }
    struct sim_span *items = calloc(n + 1, sizeof *items);
    char **texts = calloc(n + 1, sizeof *texts);
    int rc = items && texts ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *dev = strndup(v[i].s, (size_t)(v[i].e - v[i].s));
        texts[i] = dev ? listed(s, &d, kind, dev, i) : NULL;
        free(dev);
        if (!texts[i])
            rc = -1;
        else
            items[i] = (struct sim_span){ texts[i], texts[i] + strlen(texts[i]) };
    }
    *out = rc == 0 ? sim_json_join(items, n, n, NULL) : NULL;
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(items);
    free(v);
    free(json);
    if (!*out)
        return xerr_errno(err, ENOMEM, "cannot list the devices of domain %u", domid);
    return 0;
}

/* ---- cdrom ---- */

static int do_cd_insert(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    const char *disk = arg;
    uint32_t id = d->info.domid;
    char vdev[64], target[PATH_MAX], format[32], *json, *dev = NULL;
    struct sim_span *v;
    size_t n;
    if (!sim_json_str(disk, "vdev", vdev, sizeof vdev))
        return xerr_set(err, "EINVAL", "a cdrom is named by its vdev");
    if (!sim_json_str(disk, "pdev_path", target, sizeof target))
        target[0] = '\0';
    if (sim_config_read(s, id, &json, err) < 0)
        return -1;
    int rc = sim_config_array(json, "disks", &v, &n, id, err);
    size_t at = rc == 0 ? device_find(DOM_DEV_DISK, v, n, vdev) : n;
    uint64_t is_cdrom = 0;
    if (rc == 0 && at == n)
        rc = xerr_set(err, "ENODEV", "domain %u (%s) has no disk %s", id, d->info.name, vdev);
    if (rc == 0 && !(dev = strndup(v[at].s, (size_t)(v[at].e - v[at].s))))
        rc = xerr_errno(err, ENOMEM, "cannot change a cdrom");
    if (rc == 0 && (sim_json_u64(dev, "is_cdrom", &is_cdrom) != 1 || !is_cdrom))
        rc = xerr_set(err, "EINVAL", "the disk %s of domain %u is not a cdrom", vdev, id);
    if (rc == 0) {
        char *quoted = sim_json_quote(target);
        if (!sim_json_str(disk, "format", format, sizeof format))
            snprintf(format, sizeof format, "%s", target[0] ? "raw" : "empty");
        char *qformat = sim_json_quote(format);
        rc = quoted && qformat
             ? sim_config_edited(&dev, sim_json_set(dev, "pdev_path", quoted), id, err)
             : xerr_errno(err, ENOMEM, "cannot change a cdrom");
        if (rc == 0)
            rc = sim_config_edited(&dev, sim_json_set(dev, "format", qformat), id, err);
        free(quoted);
        free(qformat);
    }
    if (rc == 0) {
        /* the changed disk goes back where it was */
        struct sim_span *w = malloc((n ? n : 1) * sizeof *w);
        char *list = NULL;
        if (w) {
            memcpy(w, v, n * sizeof *w);
            w[at] = (struct sim_span){ dev, dev + strlen(dev) };
            list = sim_json_join(w, n, n, NULL);
        }
        rc = list ? sim_config_edited(&json, sim_json_set(json, "disks", list), id, err)
                  : xerr_errno(err, ENOMEM, "cannot change a cdrom");
        free(list);
        free(w);
    }
    if (rc == 0)
        rc = sim_config_write(s, id, json, err);
    free(dev);
    free(v);
    free(json);
    return rc;
}

int sim_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot change a cdrom of", do_cd_insert, json, err);
}

