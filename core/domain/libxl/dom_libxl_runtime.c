/* core/domain/libxl/dom_libxl_runtime.c: a running domain changed through libxenlight: memory
 * target and maximum, online vcpus and affinity, disk / nic / PCI hotplug, cdrom media, credit2
 * parameters. libxl records each change itself, so libxl_retrieve_domain_configuration (the
 * config op) reports it. */
#include "dom_libxl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lxb_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    if (target_kb > INT64_MAX)
        return xerr_set(err, "EINVAL", "a memory target of %llu KiB is too large",
                        (unsigned long long)target_kb);
    lxb_log_clear(x);
    int rc = libxl_set_memory_target(x->ctx, domid, (int64_t)target_kb, 0, 1);
    if (rc == ERROR_INVAL)
        return xerr_set(err, "EINVAL", "cannot set the memory target of domain %u to %llu KiB "
                        "(above its maximum? see mem-max)", domid,
                        (unsigned long long)target_kb);
    return rc ? lxb_fail(x, err, rc, "libxl_set_memory_target of domain %u", domid) : 0;
}

int lxb_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    lxb_log_clear(x);
    int rc = libxl_domain_setmaxmem(x->ctx, domid, max_kb);
    if (rc == ERROR_INVAL)
        return xerr_set(err, "EINVAL", "cannot set the maximum memory of domain %u to %llu KiB "
                        "(below its memory target? see mem-set)", domid,
                        (unsigned long long)max_kb);
    return rc ? lxb_fail(x, err, rc, "libxl_domain_setmaxmem of domain %u", domid) : 0;
}

int lxb_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    uint32_t max = d.vcpu_max_id + 1;
    libxl_dominfo_dispose(&d);
    if (online > max)
        return xerr_set(err, "EINVAL", "domain %u has at most %u vcpus (maxvcpus), not %u",
                        domid, max, online);
    libxl_bitmap map;
    libxl_bitmap_init(&map);
    if (libxl_bitmap_alloc(x->ctx, &map, (int)online))
        return xerr_errno(err, ENOMEM, "cannot set the vcpus of domain %u", domid);
    for (uint32_t i = 0; i < online; i++)
        libxl_bitmap_set(&map, (int)i);
    lxb_log_clear(x);
    int rc = libxl_set_vcpuonline(x->ctx, domid, &map, NULL);
    libxl_bitmap_dispose(&map);
    return rc ? lxb_fail(x, err, rc, "libxl_set_vcpuonline of domain %u", domid) : 0;
}

/* A libxl bitmap of the host's cpus from a dom_vcpu-style map. */
static int to_bitmap(struct lx *x, const uint8_t *map, libxl_bitmap *out)
{
    libxl_bitmap_init(out);
    if (libxl_cpu_bitmap_alloc(x->ctx, out, 0))
        return -1;
    for (uint32_t i = 0; i < out->size * 8 && i < DOM_HOST_MAX_CPUS; i++)
        if ((map[i / 8] >> (i % 8)) & 1)
            libxl_bitmap_set(out, (int)i);
    return 0;
}

int lxb_pin_vcpu(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                 const uint8_t *soft, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    uint32_t max = d.vcpu_max_id + 1;
    libxl_dominfo_dispose(&d);
    if (vcpu >= 0 && (uint32_t)vcpu >= max)
        return xerr_set(err, "EINVAL", "domain %u has no vcpu %d (it has %u)", domid, vcpu, max);
    libxl_bitmap h, s;
    libxl_bitmap_init(&h);
    libxl_bitmap_init(&s);
    int rc = 0;
    if ((hard && to_bitmap(x, hard, &h) < 0) || (soft && to_bitmap(x, soft, &s) < 0))
        rc = ERROR_NOMEM;
    lxb_log_clear(x);
    if (rc == 0 && vcpu >= 0)
        rc = libxl_set_vcpuaffinity(x->ctx, domid, (uint32_t)vcpu, hard ? &h : NULL,
                                    soft ? &s : NULL);
    else if (rc == 0)
        rc = libxl_set_vcpuaffinity_all(x->ctx, domid, max, hard ? &h : NULL, soft ? &s : NULL);
    libxl_bitmap_dispose(&h);
    libxl_bitmap_dispose(&s);
    return rc ? lxb_fail(x, err, rc, "libxl_set_vcpuaffinity of domain %u", domid) : 0;
}

static void from_bitmap(const libxl_bitmap *map, uint8_t *out)
{
    memset(out, 0, DOM_CPUMAP_BYTES);
    for (uint32_t i = 0; i < map->size * 8 && i < DOM_HOST_MAX_CPUS; i++)
        if (libxl_bitmap_test(map, (int)i))
            out[i / 8] |= (uint8_t)(1u << (i % 8));
}

int lxb_vcpus(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
              struct xerr *err)
{
    struct lx *x = X(b);
    int nb = 0, nr_cpus = 0;
    lxb_log_clear(x);
    libxl_vcpuinfo *v = libxl_list_vcpu(x->ctx, domid, &nb, &nr_cpus);
    if (!v) {
        libxl_dominfo d;
        if (lxb_get_dominfo(x, domid, &d, err) < 0)
            return -1;
        libxl_dominfo_dispose(&d);
        return lxb_fail(x, err, ERROR_FAIL, "libxl_list_vcpu of domain %u", domid);
    }
    struct dom_vcpu *o = calloc(nb ? (size_t)nb : 1, sizeof *o);
    if (!o) {
        libxl_vcpuinfo_list_free(v, nb);
        return xerr_errno(err, ENOMEM, "cannot list the vcpus of domain %u", domid);
    }
    for (int i = 0; i < nb; i++) {
        o[i].id = v[i].vcpuid;
        o[i].online = v[i].online;
        o[i].running = v[i].running;
        o[i].blocked = v[i].blocked;
        o[i].cpu = v[i].online ? (int32_t)v[i].cpu : -1;
        o[i].cpu_time_ns = v[i].vcpu_time;
        from_bitmap(&v[i].cpumap, o[i].hard);
        from_bitmap(&v[i].cpumap_soft, o[i].soft);
    }
    libxl_vcpuinfo_list_free(v, nb);
    *out = o;
    *n = (size_t)nb;
    return 0;
}

/* ---- devices ---- */

int lxb_device_add(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                   const char *json, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    libxl_device_disk disk;
    libxl_device_nic nic;
    libxl_device_pci pci;
    libxl_device_disk_init(&disk);
    libxl_device_nic_init(&nic);
    libxl_device_pci_init(&pci);
    lxb_log_clear(x);
    int rc = kind == DOM_DEV_DISK ? libxl_device_disk_from_json(x->ctx, &disk, json)
           : kind == DOM_DEV_NIC ? libxl_device_nic_from_json(x->ctx, &nic, json)
           : libxl_device_pci_from_json(x->ctx, &pci, json);
    if (rc) {
        rc = xerr_set(err, "EINVAL", "the %s to add is not libxl JSON", dom_device_name(kind));
    } else {
        rc = kind == DOM_DEV_DISK ? libxl_device_disk_add(x->ctx, domid, &disk, NULL)
           : kind == DOM_DEV_NIC ? libxl_device_nic_add(x->ctx, domid, &nic, NULL)
           : libxl_device_pci_add(x->ctx, domid, &pci, NULL);
        if (rc == ERROR_DEVICE_EXISTS)
            rc = xerr_set(err, "EXISTS", "domain %u already has that %s", domid,
                          dom_device_name(kind));
        else if (rc)
            rc = lxb_fail(x, err, rc, "libxl_device_%s_add to domain %u",
                          dom_device_name(kind), domid);
    }
    libxl_device_disk_dispose(&disk);
    libxl_device_nic_dispose(&nic);
    libxl_device_pci_dispose(&pci);
    return rc;
}

static int parse_bdf(const char *id, libxl_device_pci *pci)
{
    unsigned dom, bus, dev, func;
    char tail;
    if (sscanf(id, "%x:%x:%x.%x%c", &dom, &bus, &dev, &func, &tail) != 4)
        return -1;
    pci->domain = dom;
    pci->bus = (uint8_t)bus;
    pci->dev = (uint8_t)dev;
    pci->func = (uint8_t)func;
    return 0;
}

int lxb_device_remove(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *id, int force, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    libxl_device_disk disk;
    libxl_device_nic nic;
    libxl_device_pci pci;
    libxl_device_disk_init(&disk);
    libxl_device_nic_init(&nic);
    libxl_device_pci_init(&pci);
    lxb_log_clear(x);
    int rc, found;
    char *end;
    long devid = strtol(id, &end, 10);
    if (kind == DOM_DEV_DISK)
        found = libxl_vdev_to_device_disk(x->ctx, domid, id, &disk) == 0;
    else if (kind == DOM_DEV_NIC)
        found = (*id && !*end ? libxl_devid_to_device_nic(x->ctx, domid, (int)devid, &nic)
                              : libxl_mac_to_device_nic(x->ctx, domid, id, &nic)) == 0;
    else
        found = parse_bdf(id, &pci) == 0;
    if (!found) {
        rc = xerr_set(err, "ENODEV", "domain %u has no %s %s", domid, dom_device_name(kind), id);
    } else {
        if (kind == DOM_DEV_DISK)
            rc = force ? libxl_device_disk_destroy(x->ctx, domid, &disk, NULL)
                       : libxl_device_disk_safe_remove(x->ctx, domid, &disk, NULL);
        else if (kind == DOM_DEV_NIC)
            rc = force ? libxl_device_nic_destroy(x->ctx, domid, &nic, NULL)
                       : libxl_device_nic_remove(x->ctx, domid, &nic, NULL);
        else
            rc = force ? libxl_device_pci_destroy(x->ctx, domid, &pci, NULL)
                       : libxl_device_pci_remove(x->ctx, domid, &pci, NULL);
        if (rc)
            rc = lxb_fail(x, err, rc, "removing %s %s from domain %u", dom_device_name(kind),
                          id, domid);
    }
    libxl_device_disk_dispose(&disk);
    libxl_device_nic_dispose(&nic);
    libxl_device_pci_dispose(&pci);
    return rc;
}

/* Append text to the growing array *out (NULL-safe: a failed append frees it). */
static void append(char **out, size_t *len, const char *dev, const char *info)
{
    if (!*out)
        return;
    char *item = NULL;
    int n = info ? asprintf(&item, "%s{\"device\": %s, \"info\": %s}", *len > 1 ? ",\n" : "",
                            dev, info)
                 : asprintf(&item, "%s{\"device\": %s}", *len > 1 ? ",\n" : "", dev);
    char *grown = n < 0 ? NULL : realloc(*out, *len + (size_t)n + 3);
    if (!grown) {
        free(*out);
        free(item);
        *out = NULL;
        return;
    }
    memcpy(grown + *len, item, (size_t)n + 1);
    *len += (size_t)n;
    *out = grown;
    free(item);
}

int lxb_devices(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **json,
                struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    int n = 0;
    size_t len = 1;
    /* "[", then room for the closing "]" and its NUL (append keeps that room after each item) */
    char *out = malloc(3);
    if (out)
        strcpy(out, "[");
    lxb_log_clear(x);
    if (kind == DOM_DEV_DISK) {
        libxl_device_disk *v = libxl_device_disk_list(x->ctx, domid, &n);
        for (int i = 0; i < n; i++) {
            libxl_diskinfo info;
            libxl_diskinfo_init(&info);
            char *dev = libxl_device_disk_to_json(x->ctx, &v[i]), *in = NULL;
            if (libxl_device_disk_getinfo(x->ctx, domid, &v[i], &info) == 0)
                in = libxl_diskinfo_to_json(x->ctx, &info);
            append(&out, &len, dev ? dev : "{}", in ? in : "{}");
            free(dev);
            free(in);
            libxl_diskinfo_dispose(&info);
        }
        if (v)
            libxl_device_disk_list_free(v, n);
    } else if (kind == DOM_DEV_NIC) {
        libxl_device_nic *v = libxl_device_nic_list(x->ctx, domid, &n);
        for (int i = 0; i < n; i++) {
            libxl_nicinfo info;
            libxl_nicinfo_init(&info);
            char *dev = libxl_device_nic_to_json(x->ctx, &v[i]), *in = NULL;
            if (libxl_device_nic_getinfo(x->ctx, domid, &v[i], &info) == 0)
                in = libxl_nicinfo_to_json(x->ctx, &info);
            append(&out, &len, dev ? dev : "{}", in ? in : "{}");
            free(dev);
            free(in);
            libxl_nicinfo_dispose(&info);
        }
        if (v)
            libxl_device_nic_list_free(v, n);
    } else {
        libxl_device_pci *v = libxl_device_pci_list(x->ctx, domid, &n);
        for (int i = 0; i < n; i++) {
            char *dev = libxl_device_pci_to_json(x->ctx, &v[i]);
            append(&out, &len, dev ? dev : "{}", NULL);
            free(dev);
        }
        if (v)
            libxl_device_pci_list_free(v, n);
    }
    if (!out)
        return xerr_errno(err, ENOMEM, "cannot list the devices of domain %u", domid);
    strcpy(out + len, "]");
    *json = out;
    return 0;
}

int lxb_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_dominfo d;
    if (lxb_get_dominfo(x, domid, &d, err) < 0)
        return -1;
    libxl_dominfo_dispose(&d);
    libxl_device_disk disk;
    libxl_device_disk_init(&disk);
    lxb_log_clear(x);
    int rc = libxl_device_disk_from_json(x->ctx, &disk, json);
    if (rc)
        rc = xerr_set(err, "EINVAL", "the cdrom to insert is not libxl JSON");
    else if ((rc = libxl_cdrom_insert(x->ctx, domid, &disk, NULL)))
        rc = lxb_fail(x, err, rc, "libxl_cdrom_insert into domain %u", domid);
    libxl_device_disk_dispose(&disk);
    return rc;
}

int lxb_sched_credit2(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                      struct dom_sched *out, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_domain_sched_params p;
    int rc = 0;
    lxb_log_clear(x);
    if (set) {
        libxl_domain_sched_params_init(&p);
        p.sched = LIBXL_SCHEDULER_CREDIT2;
        if (set->weight >= 0)
            p.weight = set->weight;
        if (set->cap >= 0)
            p.cap = set->cap;
        rc = libxl_domain_sched_params_set(x->ctx, domid, &p);
        libxl_domain_sched_params_dispose(&p);
        if (rc)
            return lxb_fail(x, err, rc, "libxl_domain_sched_params_set of domain %u", domid);
    }
    libxl_domain_sched_params_init(&p);
    rc = libxl_domain_sched_params_get(x->ctx, domid, &p);
    if (rc == 0 && p.sched != LIBXL_SCHEDULER_CREDIT2)
        rc = xerr_set(err, "EINVAL", "domain %u is not scheduled by credit2 but by %s", domid,
                      libxl_scheduler_to_string(p.sched));
    else if (rc)
        rc = lxb_fail(x, err, rc, "libxl_domain_sched_params_get of domain %u", domid);
    else
        *out = (struct dom_sched){ p.weight, p.cap };
    libxl_domain_sched_params_dispose(&p);
    return rc;
}
