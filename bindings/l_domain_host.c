/* bindings/l_domain_host.c: h:host(), the host as the backend sees it: the fields policies
 * use (total_memory_kb, free_memory_kb, cpus, online_cpus, max_cpus, nr_nodes, cpu_nodes)
 * and, under xl info's own names, everything `xl info` prints (xlua info prints this table;
 * xlua.host returns it), plus cpupools = {{id, name, sched, n_cpus, n_domains}, ...}. */
#include "l_domain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain/dom_hostinfo.h"

static void set_mib(lua_State *L, const char *name, uint64_t kb)
{
    lx_setint(L, name, (lua_Integer)(kb / 1024));
}

static void push_info(lua_State *L, const struct dom_host_info *h)
{
    char buf[160];
    lx_setstr(L, "host", h->host);
    lx_setstr(L, "release", h->release);
    lx_setstr(L, "version", h->version);
    lx_setstr(L, "machine", h->machine);
    lx_setint(L, "nr_cpus", h->nr_cpus);
    lx_setint(L, "max_cpu_id", h->max_cpu_id);
    lx_setint(L, "cores_per_socket", h->cores_per_socket);
    lx_setint(L, "threads_per_core", h->threads_per_core);
    lx_setint(L, "cpu_khz", h->cpu_khz);
    snprintf(buf, sizeof buf, "%u.%03u", h->cpu_khz / 1000, h->cpu_khz % 1000);
    lx_setstr(L, "cpu_mhz", buf);
    snprintf(buf, sizeof buf, "%08x:%08x:%08x:%08x:%08x:%08x:%08x:%08x", h->hw_cap[0],
             h->hw_cap[1], h->hw_cap[2], h->hw_cap[3], h->hw_cap[4], h->hw_cap[5],
             h->hw_cap[6], h->hw_cap[7]);
    lx_setstr(L, "hw_caps", buf);
    lx_setstr(L, "virt_caps", h->virt_caps);
    set_mib(L, "total_memory", h->total_memory_kb);
    set_mib(L, "free_memory", h->free_memory_kb);
    set_mib(L, "sharing_freed_memory", h->sharing_freed_kb);
    set_mib(L, "sharing_used_memory", h->sharing_used_kb);
    set_mib(L, "outstanding_claims", h->outstanding_kb);
    lx_setint(L, "claimed_memory_kb", (lua_Integer)h->outstanding_kb);
    lx_setint(L, "free_cpus", h->free_cpus);
    lx_setint(L, "xen_major", h->xen_major);
    lx_setint(L, "xen_minor", h->xen_minor);
    lx_setstr(L, "xen_extra", h->xen_extra);
    snprintf(buf, sizeof buf, "%d.%d%s", h->xen_major, h->xen_minor, h->xen_extra);
    lx_setstr(L, "xen_version", buf);
    lx_setstr(L, "xen_caps", h->xen_caps);
    lx_setstr(L, "xen_scheduler", h->xen_scheduler);
    lx_setint(L, "xen_pagesize", h->xen_pagesize);
    snprintf(buf, sizeof buf, "virt_start=0x%" PRIx64, h->virt_start);
    lx_setstr(L, "platform_params", buf);
    lx_setstr(L, "xen_changeset", h->xen_changeset);
    lx_setstr(L, "xen_commandline", h->xen_commandline);
    lx_setstr(L, "cc_compiler", h->cc_compiler);
    lx_setstr(L, "cc_compile_by", h->cc_compile_by);
    lx_setstr(L, "cc_compile_domain", h->cc_compile_domain);
    lx_setstr(L, "cc_compile_date", h->cc_compile_date);
    lx_setstr(L, "build_id", h->build_id);
    lx_setint(L, "xend_config_format", 4);
    lua_createtable(L, (int)h->nr_pools, 0);
    for (uint32_t i = 0; i < h->nr_pools; i++) {
        const struct dom_cpupool *p = &h->pools[i];
        lua_createtable(L, 0, 5);
        lx_setint(L, "id", p->id);
        lx_setstr(L, "name", p->name);
        lx_setstr(L, "sched", p->sched);
        lx_setint(L, "n_cpus", p->n_cpus);
        lx_setint(L, "n_domains", p->n_domains);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "cpupools");
}

int lx_push_host(lua_State *L, struct dom_backend *b)
{
    /* 16 KiB of cpu nodes and 20 KiB of host facts: off the stack, freed by the GC. */
    struct both {
        struct dom_host host;
        struct dom_host_info info;
    } *m = lua_newuserdatauv(L, sizeof *m, 0);
    int slot = lua_gettop(L);
    struct xerr e = { 0 };
    if (dom_host(b, &m->host, &e) < 0 || dom_host_info(b, &m->info, &e) < 0)
        return lx_fail(L, &e);
    const struct dom_host *host = &m->host;
    lua_createtable(L, 0, 48);
    lx_setint(L, "total_memory_kb", (lua_Integer)host->total_memory_kb);
    lx_setint(L, "free_memory_kb", (lua_Integer)host->free_memory_kb);
    lx_setint(L, "cpus", host->cpus);
    lx_setint(L, "online_cpus", host->cpus);
    lx_setint(L, "max_cpus", host->max_cpus);
    lx_setint(L, "nr_nodes", host->nr_nodes);
    lua_createtable(L, 0, (int)host->max_cpus);
    for (uint32_t i = 0; i < host->max_cpus; i++) {
        if (host->cpu_node[i] == DOM_HOST_NO_NODE)
            continue;
        lua_pushinteger(L, host->cpu_node[i]);
        lua_rawseti(L, -2, (lua_Integer)i);
    }
    lua_setfield(L, -2, "cpu_nodes");
    push_info(L, &m->info);
    lua_remove(L, slot);
    return 1;
}
