/* core/domain/dom_hostinfo.h: what `xl info` shows about the host: the hypervisor's version
 * and build, memory, CPU topology, scheduler and cpupools. Backends fill it through
 * dom_ops.host_info (libxl: libxl_get_version_info, _physinfo, _cpu_topology, cpupools; the
 * sim: its own host, see dom_host in dom.h); dom_host_info adds the uname facts. */
#ifndef XLUA_DOM_HOSTINFO_H
#define XLUA_DOM_HOSTINFO_H

#include <stdint.h>

#include "domain/dom.h"

#define DOM_HOST_POOLS_MAX 64
#define DOM_HOST_TEXT 256

struct dom_cpupool {
    uint32_t id;
    char name[64];
    char sched[32];
    uint32_t n_cpus, n_domains;
};

struct dom_host_info {
    /* uname */
    char host[65], release[65], version[DOM_HOST_TEXT], machine[65];
    /* physinfo; memory in KiB (xl info prints MiB) */
    uint32_t nr_cpus, max_cpu_id, nr_nodes, cores_per_socket, threads_per_core, cpu_khz;
    uint32_t hw_cap[8];
    char virt_caps[DOM_HOST_TEXT];           /* " pv hvm ..." as xl prints it, no lead blank */
    uint64_t total_memory_kb, free_memory_kb, sharing_freed_kb, sharing_used_kb,
             outstanding_kb;
    uint32_t free_cpus;                      /* in no cpupool */
    /* version info */
    int xen_major, xen_minor;
    char xen_extra[64], xen_caps[DOM_HOST_TEXT], xen_scheduler[32];
    uint32_t xen_pagesize;
    uint64_t virt_start;
    char xen_changeset[DOM_HOST_TEXT], xen_commandline[1024], cc_compiler[DOM_HOST_TEXT],
         cc_compile_by[64], cc_compile_domain[DOM_HOST_TEXT], cc_compile_date[64],
         build_id[DOM_HOST_TEXT];
    struct dom_cpupool pools[DOM_HOST_POOLS_MAX];
    uint32_t nr_pools;
};

/* Everything above: the backend's part, then uname. */
int dom_host_info(struct dom_backend *b, struct dom_host_info *out, struct xerr *err);

#endif
