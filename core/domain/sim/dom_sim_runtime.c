/* core/domain/sim/dom_sim_runtime.c: a running sim domain changed: its balloon target and
 * maximum, online vcpus and their affinity, hotplugged disks, nics and PCI devices, credit2
 * parameters (the devices are dom_sim_devices.c's). The domain's config.json is kept as
 * libxl_retrieve_domain_configuration would report it (b_info.target_memkb, max_memkb,
 * avail_vcpus, sched_params); vcpu affinity, which libxl does not report there, lives in the
 * domain's file "affinity". */
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

int sim_config_read(struct sim *s, uint32_t domid, char **json, struct xerr *err)
{
    char path[PATH_MAX];
    size_t n;
    sim_dom_path(s, domid, "config.json", path);
    return sim_read_file(path, json, &n, err);
}

int sim_config_edited(char **json, char *next, uint32_t domid, struct xerr *err)
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
    return sim_config_edited(json, sim_json_set(*json, path, num), domid, err);
}

/* The sim's xenstore follows every change of a running domain's config (the devices; memory
 * and cpus follow in mutate_and_refresh, once the metadata is written). */
static void config_changed(struct sim *s, uint32_t domid, const char *json)
{
    /* The xenstore is the sim's picture of the domain, not the domain: a failure to draw it
     * does not undo the change (as in sim_xs_introduce). */
    sim_xs_sync_devices(s, domid, json, NULL);
}

int sim_config_write(struct sim *s, uint32_t domid, const char *json, struct xerr *err)
{
    if (sim_write_file(s, domid, "config.json", json, strlen(json), err) < 0)
        return -1;
    config_changed(s, domid, json);
    return 0;
}

int sim_config_array(const char *json, const char *key, struct sim_span **v, size_t *n,
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

/* A change of the metadata (memory, vcpus) is written by sim_mutate; the xenstore's memory and
 * cpu nodes follow once it is (sim_xs_refresh takes the lock itself). */
static int mutate_and_refresh(struct sim *s, uint32_t domid, const char *what,
                              int (*f)(struct sim *s, struct sim_dom *d, const void *arg,
                                       struct xerr *err),
                              const void *arg, struct xerr *err)
{
    if (sim_mutate(s, domid, what, f, arg, err) < 0)
        return -1;
    sim_xs_refresh(s, domid, NULL);
    return 0;
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
    if (sim_config_read(s, id, &json, err) < 0)
        return -1;
    int rc = set_number(&json, "b_info.target_memkb", target, id, err);
    /* The balloon: the image is the memory the domain has (what a save writes). */
    sim_dom_path(s, id, "memory", path);
    if (rc == 0 && truncate(path, (off_t)(target * 1024)) < 0)
        rc = xerr_errno(err, errno, "%s: cannot resize the memory image", path);
    if (rc == 0)
        rc = sim_digest(path, d->info.digest, err);
    if (rc == 0)
        rc = sim_config_write(s, id, json, err);
    free(json);
    if (rc == 0)
        d->info.memory_kb = target;
    return rc;
}

int sim_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err)
{
    return mutate_and_refresh(S(b), domid, "cannot set the memory of", do_set_memory, &target_kb, err);
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
    if (sim_config_read(s, id, &json, err) < 0)
        return -1;
    int rc = set_number(&json, "b_info.max_memkb", max, id, err);
    if (rc == 0)
        rc = sim_config_write(s, id, json, err);
    free(json);
    if (rc == 0)
        d->info.max_memory_kb = max;
    return rc;
}

int sim_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err)
{
    return mutate_and_refresh(S(b), domid, "cannot set the maximum memory of", do_set_max_memory,
                              &max_kb, err);
}

/* ---- vcpus ---- */

static int do_set_vcpus(struct sim *s, struct sim_dom *d, const void *arg, struct xerr *err)
{
    uint32_t online = *(const uint32_t *)arg, id = d->info.domid;
    char *json;
    if (sim_config_read(s, id, &json, err) < 0)
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
            rc = sim_config_edited(&json, sim_json_set(json, "b_info.avail_vcpus", list), id, err);
            free(list);
        }
    }
    if (rc == 0)
        rc = sim_config_write(s, id, json, err);
    free(json);
    if (rc == 0)
        d->info.vcpus = online;
    return rc;
}

int sim_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err)
{
    return mutate_and_refresh(S(b), domid, "cannot set the vcpus of", do_set_vcpus, &online, err);
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
    if (sim_config_read(s, id, &json, err) < 0)
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
        || sim_config_read(s, domid, &json, err) < 0) {
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
    if (sim_config_read(s, id, &json, err) < 0)
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
        rc = sim_config_edited(&json, sim_json_set(json, "b_info.sched_params.sched",
                                                   "\"credit2\""), id, err);
        if (rc == 0)
            rc = set_number(&json, "b_info.sched_params.weight", weight, id, err);
        if (rc == 0)
            rc = set_number(&json, "b_info.sched_params.cap", cap, id, err);
        if (rc == 0)
            rc = sim_config_write(s, id, json, err);
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
