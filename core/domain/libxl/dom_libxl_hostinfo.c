/* core/domain/libxl/dom_libxl_hostinfo.c: the host as `xl info` reads it from libxl: version
 * info, physinfo (memory in pages of xen_pagesize), the scheduler, free cpus and cpupools. */
#include "dom_libxl_int.h"

#include <stdio.h>
#include <string.h>

#include "domain/dom_hostinfo.h"

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void version(struct lx *x, struct dom_host_info *out)
{
    const libxl_version_info *v = libxl_get_version_info(x->ctx);
    if (!v)
        return;
    out->xen_major = v->xen_version_major;
    out->xen_minor = v->xen_version_minor;
    copy(out->xen_extra, sizeof out->xen_extra, v->xen_version_extra);
    copy(out->xen_caps, sizeof out->xen_caps, v->capabilities);
    out->xen_pagesize = v->pagesize > 0 ? (uint32_t)v->pagesize : 4096;
    out->virt_start = v->virt_start;
    copy(out->xen_changeset, sizeof out->xen_changeset, v->changeset);
    copy(out->xen_commandline, sizeof out->xen_commandline, v->commandline);
    copy(out->cc_compiler, sizeof out->cc_compiler, v->compiler);
    copy(out->cc_compile_by, sizeof out->cc_compile_by, v->compile_by);
    copy(out->cc_compile_domain, sizeof out->cc_compile_domain, v->compile_domain);
    copy(out->cc_compile_date, sizeof out->cc_compile_date, v->compile_date);
    copy(out->build_id, sizeof out->build_id, v->build_id);
}

static void virt_caps(const libxl_physinfo *p, char *out, size_t n)
{
    /* The words and their order of xl info's virt_caps line. */
    snprintf(out, n, "%s%s%s%s%s%s%s%s%s%s%s",
             p->cap_pv ? " pv" : "", p->cap_hvm ? " hvm" : "",
             p->cap_hvm && p->cap_hvm_directio ? " hvm_directio" : "",
             p->cap_pv && p->cap_hvm_directio ? " pv_directio" : "",
             p->cap_hap ? " hap" : "", p->cap_shadow ? " shadow" : "",
             p->cap_iommu_hap_pt_share ? " iommu_hap_pt_share" : "",
             p->cap_vmtrace ? " vmtrace" : "", p->cap_vpmu ? " vpmu" : "",
             p->cap_gnttab_v1 ? " gnttab-v1" : "", p->cap_gnttab_v2 ? " gnttab-v2" : "");
    if (out[0] == ' ')
        memmove(out, out + 1, strlen(out));
}

static void pools(struct lx *x, struct dom_host_info *out)
{
    int nr = 0;
    libxl_cpupoolinfo *p = libxl_list_cpupool(x->ctx, &nr);
    if (!p)
        return;
    for (int i = 0; i < nr && out->nr_pools < DOM_HOST_POOLS_MAX; i++) {
        struct dom_cpupool *c = &out->pools[out->nr_pools++];
        c->id = p[i].poolid;
        copy(c->name, sizeof c->name, p[i].pool_name);
        copy(c->sched, sizeof c->sched, libxl_scheduler_to_string(p[i].sched));
        c->n_domains = p[i].n_dom;
        c->n_cpus = (uint32_t)libxl_bitmap_count_set(&p[i].cpumap);
    }
    libxl_cpupoolinfo_list_free(p, nr);
}

int lxb_host_info(struct dom_backend *b, struct dom_host_info *out, struct xerr *err)
{
    struct lx *x = X(b);
    libxl_physinfo info;
    libxl_physinfo_init(&info);
    lxb_log_clear(x);
    int rc = libxl_get_physinfo(x->ctx, &info);
    if (rc) {
        libxl_physinfo_dispose(&info);
        return lxb_fail(x, err, rc, "libxl_get_physinfo");
    }
    version(x, out);
    uint64_t page_kb = (out->xen_pagesize ? out->xen_pagesize : 4096) / 1024;
    out->nr_cpus = info.nr_cpus;
    out->max_cpu_id = info.max_cpu_id;
    out->nr_nodes = info.nr_nodes;
    out->cores_per_socket = info.cores_per_socket;
    out->threads_per_core = info.threads_per_core;
    out->cpu_khz = info.cpu_khz;
    for (int i = 0; i < 8; i++)
        out->hw_cap[i] = info.hw_cap[i];
    virt_caps(&info, out->virt_caps, sizeof out->virt_caps);
    out->total_memory_kb = info.total_pages * page_kb;
    /* xl info's free_memory leaves out what claims have set aside. */
    out->free_memory_kb = (info.free_pages - info.outstanding_pages) * page_kb;
    out->sharing_freed_kb = info.sharing_freed_pages * page_kb;
    out->sharing_used_kb = info.sharing_used_frames * page_kb;
    out->outstanding_kb = info.outstanding_pages * page_kb;
    libxl_physinfo_dispose(&info);
    rc = libxl_get_scheduler(x->ctx);
    copy(out->xen_scheduler, sizeof out->xen_scheduler,
         rc >= 0 ? libxl_scheduler_to_string((libxl_scheduler)rc) : "");
    libxl_bitmap cpus;
    libxl_bitmap_init(&cpus);
    if (libxl_get_freecpus(x->ctx, &cpus) == 0)
        out->free_cpus = (uint32_t)libxl_bitmap_count_set(&cpus);
    libxl_bitmap_dispose(&cpus);
    pools(x, out);
    return 0;
}
