/* core/domain/sim/dom_sim_runtime.c: a running sim domain changed: its balloon target and
 * maximum, online vcpus and their affinity, hotplugged disks, nics and PCI devices, credit2
 * parameters. The domain's config.json is kept as libxl_retrieve_domain_configuration would
 * report it (b_info.target_memkb, max_memkb, avail_vcpus, sched_params, disks, nics, pcidevs);
 * vcpu affinity, which libxl does not report there, lives in the domain's file "affinity". */
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

/* ---- config.json ---- */

static int read_config(struct sim *s, uint32_t domid, char **json, struct xerr *err)
{
    char path[PATH_MAX];
    size_t n;
    sim_dom_path(s, domid, "config.json", path);
    return sim_read_file(path, json, &n, err);
}

/* Replace *json with the result of an edit (NULL: out of memory or bad JSON). */
static int edited(char **json, char *next, uint32_t domid, struct xerr *err)
{
    if (!next)
        return xerr_set(err, "EIO", "cannot update the config of domain %u (damaged "
                        "config.json, or out of memory)", domid);
    free(*json);
    *json = next;
    return 0;
}

static int set_number(char **json, const char *path, uint64_t v, uint32_t domid,
                      struct xerr *err)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, v);
    return edited(json, sim_json_set(*json, path, num), domid, err);
}

static int write_config(struct sim *s, uint32_t domid, const char *json, struct xerr *err)
{
    return sim_write_file(s, domid, "config.json", json, strlen(json), err);
}

/* The elements of a top-level array of the config ("disks"); an absent one is empty. */
static int elements(const char *json, const char *key, struct sim_span **v, size_t *n,
                    uint32_t domid, struct xerr *err)
{
    const char *vs, *ve;
    int found = sim_json_find(json, key, &vs, &ve);
    *v = NULL;
    *n = 0;
    if (found == 0)
        return 0;
    if (found < 0 || sim_json_elements(vs, v, n) < 0)
        return xerr_set(err, "EIO", "domain %u: the %s of its config.json are damaged", domid,
                        key);
    return 0;
}

/* ---- vcpus ---- */

static uint32_t max_vcpus(const char *json, const struct sim_dom *d)
{
    uint64_t v;
    return sim_json_u64(json, "b_info.max_vcpus", &v) == 1 && v > 0 && v <= DOM_HOST_MAX_CPUS
           ? (uint32_t)v : d->info.vcpus;
}

/* avail_vcpus as a bitmap of max bits (absent: the first `fallback` vcpus online). */
static void avail_vcpus(const char *json, uint32_t max, uint32_t fallback, uint8_t *map)
{
    struct sim_span *v;
    size_t n;
    const char *vs, *ve;
    memset(map, 0, DOM_CPUMAP_BYTES);
    if (sim_json_find(json, "b_info.avail_vcpus", &vs, &ve) == 1 &&
        sim_json_elements(vs, &v, &n) == 0 && n > 0) {
        for (size_t i = 0; i < n; i++) {
            unsigned long bit = strtoul(v[i].s, NULL, 10);
            if (bit < max)
                map[bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
        free(v);
        return;
    }
    for (uint32_t i = 0; i < fallback && i < max; i++)
        map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int bit(const uint8_t *map, uint32_t i)
{
    return (map[i / 8] >> (i % 8)) & 1;
}

void sim_runtime_built(struct sim_dom *d, const char *json)
{
    uint8_t map[DOM_CPUMAP_BYTES];
    if (!json)
        return;
    uint32_t max = max_vcpus(json, d), online = 0;
    avail_vcpus(json, max, max, map);
    for (uint32_t i = 0; i < max; i++)
        online += (uint32_t)bit(map, i);
    if (online)
        d->info.vcpus = online;
}

/* ---- the hook for the sim's xenstore ---- */

void sim_devices_changed(struct sim *s, uint32_t domid, const char *json)
{
    /* The sim's xenstore (its own module) re-syncs the domain's device nodes from json here. */
    (void)s;
    (void)domid;
    (void)json;
}

/* ---- memory ---- */

static int do_set_memory(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    uint64_t target = (*(const uint64_t *)arg + 3) / 4 * 4;
    uint32_t id = d->info.domid;
    if (target == 0)
        return xerr_set(err, "EINVAL", "a domain needs memory (a target of 0 KiB)");
    if (target > d->info.max_memory_kb)
        return xerr_set(err, "EINVAL", "the memory target %" PRIu64 " KiB of domain %u (%s) "
                        "is above its maximum of %" PRIu64 " KiB (see mem-max)", target, id,
                        d->info.name, d->info.max_memory_kb);
    char *json, path[PATH_MAX];
    if (read_config(s, id, &json, err) < 0)
        return -1;
    int rc = set_number(&json, "b_info.target_memkb", target, id, err);
    /* The balloon: the image is the memory the domain has (what a save writes). */
    sim_dom_path(s, id, "memory", path);
    if (rc == 0 && truncate(path, (off_t)(target * 1024)) < 0)
        rc = xerr_errno(err, errno, "%s: cannot resize the memory image", path);
    if (rc == 0)
        rc = sim_digest(path, d->info.digest, err);
    if (rc == 0)
        rc = write_config(s, id, json, err);
    free(json);
    if (rc == 0)
        d->info.memory_kb = target;
    return rc;
}

int sim_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot set the memory of", do_set_memory, &target_kb, err);
}

static int do_set_max_memory(struct sim *s, struct sim_dom *d, const void *arg,
                             struct xerr *err)
{
    uint64_t max = (*(const uint64_t *)arg + 3) / 4 * 4;
    uint32_t id = d->info.domid;
    if (max < d->info.memory_kb)
        return xerr_set(err, "EINVAL", "the maximum %" PRIu64 " KiB of domain %u (%s) is below "
                        "its memory target of %" PRIu64 " KiB (see mem-set)", max, id,
                        d->info.name, d->info.memory_kb);
    if (max > (UINT64_C(1) << 30))
        return xerr_set(err, "EINVAL", "the sim backend takes at most 1 TiB of memory");
    char *json;
    if (read_config(s, id, &json, err) < 0)
        return -1;
    int rc = set_number(&json, "b_info.max_memkb", max, id, err);
    if (rc == 0)
        rc = write_config(s, id, json, err);
    free(json);
    if (rc == 0)
        d->info.max_memory_kb = max;
    return rc;
}

int sim_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot set the maximum memory of", do_set_max_memory,
                      &max_kb, err);
}

/* ---- vcpus ---- */

static int do_set_vcpus(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    uint32_t online = *(const uint32_t *)arg, id = d->info.domid;
    char *json;
    if (read_config(s, id, &json, err) < 0)
        return -1;
    uint32_t max = max_vcpus(json, d);
    int rc = 0;
    if (online > max) {
        rc = xerr_set(err, "EINVAL", "domain %u (%s) has at most %u vcpus (maxvcpus), not %u",
                      id, d->info.name, max, online);
    } else {
        /* libxl's bitmap JSON: the numbers of the bits set */
        char *list = malloc((size_t)online * 6 + 3), *q = list;
        if (!list) {
            rc = xerr_errno(err, ENOMEM, "cannot set the vcpus of domain %u", id);
        } else {
            *q++ = '[';
            for (uint32_t i = 0; i < online; i++)
                q += sprintf(q, "%s%u", i ? ", " : "", i);
            strcpy(q, "]");
            rc = edited(&json, sim_json_set(json, "b_info.avail_vcpus", list), id, err);
            free(list);
        }
    }
    if (rc == 0)
        rc = write_config(s, id, json, err);
    free(json);
    if (rc == 0)
        d->info.vcpus = online;
    return rc;
}

int sim_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot set the vcpus of", do_set_vcpus, &online, err);
}

/* The affinity file: one line per pinned vcpu, "VCPU HARD SOFT", each map in hex bytes. */
static void read_affinity(struct sim *s, uint32_t domid, uint32_t max, uint32_t host_cpus,
                          uint8_t (*hard)[DOM_CPUMAP_BYTES], uint8_t (*soft)[DOM_CPUMAP_BYTES])
{
    for (uint32_t v = 0; v < max; v++) {
        memset(hard[v], 0, DOM_CPUMAP_BYTES);
        for (uint32_t c = 0; c < host_cpus; c++)
            hard[v][c / 8] |= (uint8_t)(1u << (c % 8));
        memcpy(soft[v], hard[v], DOM_CPUMAP_BYTES);
    }
    char path[PATH_MAX], *text;
    size_t n;
    sim_dom_path(s, domid, "affinity", path);
    if (sim_read_file(path, &text, &n, NULL) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char hx[2 * DOM_CPUMAP_BYTES + 1], sx[2 * DOM_CPUMAP_BYTES + 1];
        unsigned v;
        if (sscanf(line, "%u %1024s %1024s", &v, hx, sx) != 3 || v >= max)
            continue;
        memset(hard[v], 0, DOM_CPUMAP_BYTES);
        memset(soft[v], 0, DOM_CPUMAP_BYTES);
        for (size_t i = 0; i < DOM_CPUMAP_BYTES && hx[2 * i] && hx[2 * i + 1]; i++)
            sscanf(hx + 2 * i, "%2hhx", &hard[v][i]);
        for (size_t i = 0; i < DOM_CPUMAP_BYTES && sx[2 * i] && sx[2 * i + 1]; i++)
            sscanf(sx + 2 * i, "%2hhx", &soft[v][i]);
    }
    free(text);
}

static int write_affinity(struct sim *s, uint32_t domid, uint32_t max, uint32_t host_cpus,
                          uint8_t (*hard)[DOM_CPUMAP_BYTES], uint8_t (*soft)[DOM_CPUMAP_BYTES],
                          struct xerr *err)
{
    size_t bytes = (host_cpus + 7) / 8, cap = (size_t)max * (4 * bytes + 16) + 1, len = 0;
    char *text = malloc(cap);
    if (!text)
        return xerr_errno(err, ENOMEM, "cannot pin the vcpus of domain %u", domid);
    for (uint32_t v = 0; v < max; v++) {
        len += (size_t)sprintf(text + len, "%u ", v);
        for (size_t i = 0; i < bytes; i++)
            len += (size_t)sprintf(text + len, "%02x", hard[v][i]);
        text[len++] = ' ';
        for (size_t i = 0; i < bytes; i++)
            len += (size_t)sprintf(text + len, "%02x", soft[v][i]);
        text[len++] = '\n';
    }
    int rc = sim_write_file(s, domid, "affinity", text, len, err);
    free(text);
    return rc;
}

struct pin {
    int32_t vcpu;
    const uint8_t *hard, *soft;
    uint32_t host_cpus;
};

static int do_pin(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    const struct pin *p = arg;
    uint32_t id = d->info.domid;
    char *json;
    if (read_config(s, id, &json, err) < 0)
        return -1;
    uint32_t max = max_vcpus(json, d);
    free(json);
    if (p->vcpu >= 0 && (uint32_t)p->vcpu >= max)
        return xerr_set(err, "EINVAL", "domain %u (%s) has no vcpu %d (it has %u)", id,
                        d->info.name, p->vcpu, max);
    for (int m = 0; m < 2; m++) {
        const uint8_t *map = m ? p->soft : p->hard;
        if (!map)
            continue;
        for (uint32_t c = p->host_cpus; c < DOM_HOST_MAX_CPUS; c++)
            if (bit(map, c))
                return xerr_set(err, "EINVAL", "the host has no cpu %u (it has %u)", c,
                                p->host_cpus);
    }
    uint8_t (*hard)[DOM_CPUMAP_BYTES] = malloc((size_t)max * DOM_CPUMAP_BYTES);
    uint8_t (*soft)[DOM_CPUMAP_BYTES] = malloc((size_t)max * DOM_CPUMAP_BYTES);
    int rc = 0;
    if (!hard || !soft) {
        rc = xerr_errno(err, ENOMEM, "cannot pin the vcpus of domain %u", id);
    } else {
        read_affinity(s, id, max, p->host_cpus, hard, soft);
        for (uint32_t v = 0; v < max; v++) {
            if (p->vcpu >= 0 && (uint32_t)p->vcpu != v)
                continue;
            if (p->hard)
                memcpy(hard[v], p->hard, DOM_CPUMAP_BYTES);
            if (p->soft)
                memcpy(soft[v], p->soft, DOM_CPUMAP_BYTES);
        }
        rc = write_affinity(s, id, max, p->host_cpus, hard, soft, err);
    }
    free(hard);
    free(soft);
    return rc;
}

int sim_pin_vcpu(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                 const uint8_t *soft, struct xerr *err)
{
    struct dom_host *host = malloc(sizeof *host);
    if (!host)
        return xerr_errno(err, ENOMEM, "cannot pin the vcpus of domain %u", domid);
    int rc = dom_host(b, host, err);
    struct pin p = { vcpu, hard, soft, rc == 0 ? host->max_cpus : 0 };
    free(host);
    if (rc < 0)
        return -1;
    return sim_mutate(S(b), domid, "cannot pin the vcpus of", do_pin, &p, err);
}

/* Domain-0: one vcpu per host cpu, each on its own cpu, free to run anywhere. */
static int dom0_vcpus(struct dom_backend *b, struct dom_host *host, struct dom_vcpu **out,
                      size_t *n, struct xerr *err)
{
    struct dom_info i;
    if (dom_host(b, host, err) < 0 || dom_info(b, 0, &i, err) < 0)
        return -1;
    uint32_t cpus = host->max_cpus ? host->max_cpus : 1;
    struct dom_vcpu *v = calloc(i.vcpus ? i.vcpus : 1, sizeof *v);
    if (!v)
        return xerr_errno(err, ENOMEM, "cannot list the vcpus of Domain-0");
    for (uint32_t k = 0; k < i.vcpus; k++) {
        v[k].id = k;
        v[k].online = v[k].running = 1;
        v[k].cpu = (int32_t)(k % cpus);
        for (uint32_t c = 0; c < cpus; c++)
            v[k].hard[c / 8] |= (uint8_t)(1u << (c % 8));
        memcpy(v[k].soft, v[k].hard, DOM_CPUMAP_BYTES);
    }
    *out = v;
    *n = i.vcpus;
    return 0;
}

int sim_vcpus(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
              struct xerr *err)
{
    struct sim *s = S(b);
    struct sim_dom d;
    struct dom_host *host = malloc(sizeof *host);
    char *json = NULL;
    if (!host)
        return xerr_errno(err, ENOMEM, "cannot list the vcpus of domain %u", domid);
    if (domid == 0) {
        int rc = dom0_vcpus(b, host, out, n, err);
        free(host);
        return rc;
    }
    if (dom_host(b, host, err) < 0 || sim_get(s, domid, "cannot list the vcpus of", &d, err) < 0
        || read_config(s, domid, &json, err) < 0) {
        free(host);
        return -1;
    }
    uint32_t max = max_vcpus(json, &d), cpus = host->max_cpus ? host->max_cpus : 1;
    free(host);
    uint8_t online[DOM_CPUMAP_BYTES];
    avail_vcpus(json, max, d.info.vcpus, online);
    free(json);
    struct dom_vcpu *v = calloc(max, sizeof *v);
    uint8_t (*hard)[DOM_CPUMAP_BYTES] = malloc((size_t)max * DOM_CPUMAP_BYTES);
    uint8_t (*soft)[DOM_CPUMAP_BYTES] = malloc((size_t)max * DOM_CPUMAP_BYTES);
    if (!v || !hard || !soft) {
        free(v);
        free(hard);
        free(soft);
        return xerr_errno(err, ENOMEM, "cannot list the vcpus of domain %u", domid);
    }
    read_affinity(s, domid, max, cpus, hard, soft);
    uint32_t up = d.info.vcpus ? d.info.vcpus : 1;
    for (uint32_t i = 0; i < max; i++) {
        v[i].id = i;
        v[i].online = bit(online, i);
        v[i].running = v[i].online && d.info.state == DOM_RUNNING;
        v[i].blocked = v[i].online && !v[i].running;
        v[i].cpu = -1;
        /* it runs on the first cpu of its hard affinity at or after its own number */
        for (uint32_t k = 0; v[i].online && k < cpus; k++)
            if (bit(hard[i], (i + k) % cpus)) {
                v[i].cpu = (int32_t)((i + k) % cpus);
                break;
            }
        v[i].cpu_time_ns = v[i].online ? d.info.cpu_time_ns / up : 0;
        memcpy(v[i].hard, hard[i], DOM_CPUMAP_BYTES);
        memcpy(v[i].soft, soft[i], DOM_CPUMAP_BYTES);
    }
    free(hard);
    free(soft);
    *out = v;
    *n = max;
    return 0;
}

/* ---- devices ---- */

static const char *array_key(enum dom_device kind)
{
    return kind == DOM_DEV_DISK ? "disks" : kind == DOM_DEV_NIC ? "nics" : "pcidevs";
}

/* The number Linux and libxl give a virtual disk (xvdX, hdX, sdX, or a number), -1 if none. */
static long vdev_devid(const char *vdev)
{
    char *end;
    if (vdev[0] >= '0' && vdev[0] <= '9') {
        long n = strtol(vdev, &end, 10);
        return *end ? -1 : n;
    }
    int major = strncmp(vdev, "xvd", 3) == 0 ? 202 : strncmp(vdev, "hd", 2) == 0 ? 3
              : strncmp(vdev, "sd", 2) == 0 ? 8 : 0;
    if (!major)
        return -1;
    const char *p = vdev + (major == 202 ? 3 : 2);
    long disk = 0;
    if (*p < 'a' || *p > 'z')
        return -1;
    while (*p >= 'a' && *p <= 'z')
        disk = disk * 26 + (*p++ - 'a' + 1);
    disk--;
    long part = *p ? strtol(p, &end, 10) : 0;
    if (*p && *end)
        return -1;
    if (major == 202)
        return disk < 16 && part < 16 ? (202 << 8) | (disk << 4) | part
                                      : (1L << 28) | (disk << 8) | part;
    if (major == 3)
        return disk < 2 ? (3 << 8) | (disk << 6) | part
             : disk < 4 ? (22 << 8) | ((disk - 2) << 6) | part : -1;
    return disk < 16 ? (8 << 8) | (disk << 4) | part : -1;
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

/* A new nic gets the next devid and, without a mac, one of Xen's 00:16:3e range. */
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
    if (read_config(s, id, &json, err) < 0)
        return -1;
    int rc = elements(json, array_key(op->kind), &v, &n, id, err);
    if (rc == 0 && op->json) {
        dev = op->kind == DOM_DEV_NIC ? complete_nic(op->json, v, n) : strdup(op->json);
        if (!dev)
            rc = xerr_set(err, "EINVAL", "the %s to add is not a JSON object", kind);
        else
            device_id(op->kind, dev, ident, sizeof ident);
        if (rc == 0 && op->kind == DOM_DEV_DISK && vdev_devid(ident) < 0)
            rc = xerr_set(err, "EINVAL", "'%s' is not a virtual disk name (xvdX, hdX, sdX)",
                          ident);
        else if (rc == 0 && device_find(op->kind, v, n, ident) < n)
            rc = xerr_set(err, "EXISTS", "domain %u (%s) already has the %s %s", id,
                          d->info.name, kind, ident);
        if (rc == 0) {
            char *list = sim_json_join(v, n, n, dev);
            rc = list ? edited(&json, sim_json_set(json, array_key(op->kind), list), id, err)
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
            rc = list ? edited(&json, sim_json_set(json, array_key(op->kind), list), id, err)
                      : xerr_errno(err, ENOMEM, "cannot remove a %s", kind);
            free(list);
        }
    }
    free(v);
    free(dev);
    if (rc == 0)
        rc = write_config(s, id, json, err);
    if (rc == 0)
        sim_devices_changed(s, id, json);
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
        read_config(s, domid, &json, err) < 0)
        return -1;
    if (elements(json, array_key(kind), &v, &n, domid, err) < 0) {
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
    if (read_config(s, id, &json, err) < 0)
        return -1;
    int rc = elements(json, "disks", &v, &n, id, err);
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
        rc = quoted && qformat ? edited(&dev, sim_json_set(dev, "pdev_path", quoted), id, err)
                               : xerr_errno(err, ENOMEM, "cannot change a cdrom");
        if (rc == 0)
            rc = edited(&dev, sim_json_set(dev, "format", qformat), id, err);
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
        rc = list ? edited(&json, sim_json_set(json, "disks", list), id, err)
                  : xerr_errno(err, ENOMEM, "cannot change a cdrom");
        free(list);
        free(w);
    }
    if (rc == 0)
        rc = write_config(s, id, json, err);
    if (rc == 0)
        sim_devices_changed(s, id, json);
    free(dev);
    free(v);
    free(json);
    return rc;
}

int sim_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err)
{
    return sim_mutate(S(b), domid, "cannot change a cdrom of", do_cd_insert, json, err);
}

/* ---- credit2 ---- */

struct sched_op {
    const struct dom_sched *set;
    struct dom_sched *out;
};

static int do_sched(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    const struct sched_op *op = arg;
    uint32_t id = d->info.domid;
    char *json;
    uint64_t weight = 256, cap = 0;
    if (read_config(s, id, &json, err) < 0)
        return -1;
    sim_json_u64(json, "b_info.sched_params.weight", &weight);
    sim_json_u64(json, "b_info.sched_params.cap", &cap);
    int rc = 0;
    if (op->set && op->set->weight >= 0) {
        if (op->set->weight < 1 || op->set->weight > 65535)
            rc = xerr_set(err, "EINVAL", "a credit2 weight is 1 to 65535, not %d",
                          op->set->weight);
        weight = (uint64_t)op->set->weight;
    }
    uint32_t vcpus = max_vcpus(json, d);
    if (rc == 0 && op->set && op->set->cap >= 0) {
        if ((uint64_t)op->set->cap > 100u * vcpus)
            rc = xerr_set(err, "EINVAL", "a credit2 cap of domain %u is 0 to %u (100 per vcpu), "
                          "not %d", id, 100u * vcpus, op->set->cap);
        cap = (uint64_t)op->set->cap;
    }
    if (rc == 0 && op->set) {
        rc = edited(&json, sim_json_set(json, "b_info.sched_params.sched", "\"credit2\""), id,
                    err);
        if (rc == 0)
            rc = set_number(&json, "b_info.sched_params.weight", weight, id, err);
        if (rc == 0)
            rc = set_number(&json, "b_info.sched_params.cap", cap, id, err);
        if (rc == 0)
            rc = write_config(s, id, json, err);
    }
    free(json);
    if (rc == 0) {
        op->out->weight = (int)weight;
        op->out->cap = (int)cap;
    }
    return rc;
}

int sim_sched_credit2(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                      struct dom_sched *out, struct xerr *err)
{
    struct sched_op op = { set, out };
    if (domid == 0 && !set) {
        /* the sim's Domain-0 runs with credit2's defaults */
        *out = (struct dom_sched){ 256, 0 };
        return 0;
    }
    return sim_mutate(S(b), domid, "cannot schedule", do_sched, &op, err);
}
