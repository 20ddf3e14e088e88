/* core/domain/sim/dom_sim_host.c: the sim's host as `xl info` would show it: this machine's
 * cpus (one socket, one thread a core) and memory (dom_host), a hypervisor that calls itself
 * Xen 4.17 with the extra version "-xlua-sim", the credit2 scheduler and one cpupool,
 * Pool-0, holding every cpu and domain. $XLUA_SIM_XEN_CMDLINE is its command line. */
#include "dom_sim_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/dom_hostinfo.h"

/* "cpu MHz : 2993.210" of /proc/cpuinfo, in kHz; 0 when there is none (not x86). */
static uint32_t cpu_khz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon)
                mhz = strtod(colon + 1, NULL);
            break;
        }
    }
    if (f)
        fclose(f);
    return mhz > 0 ? (uint32_t)(mhz * 1000 + 0.5) : 0;
}

int sim_host_info(struct dom_backend *b, struct dom_host_info *out, struct xerr *err)
{
    struct dom_host *hp = malloc(sizeof *hp);   /* 8 KiB of cpu nodes: not on the stack */
    uint64_t used;
    size_t n;
    if (!hp)
        return xerr_errno(err, ENOMEM, "cannot describe the sim's host");
    /* the domains from the index, not a scan of each one's metadata; read once */
    if (sim_used_memory((struct sim *)b, &used, &n, err) < 0) {
        free(hp);
        return -1;
    }
    sim_host_fill(hp, used);
    n++; /* and Domain-0 */
    const struct dom_host *h = hp;
    out->nr_cpus = h->cpus;
    out->max_cpu_id = h->max_cpus ? h->max_cpus - 1 : 0;
    out->nr_nodes = h->nr_nodes;
    out->cores_per_socket = h->cpus;
    out->threads_per_core = 1;
    out->cpu_khz = cpu_khz();
    snprintf(out->virt_caps, sizeof out->virt_caps, "pv hvm hap shadow");
    out->total_memory_kb = h->total_memory_kb;
    out->free_memory_kb = h->free_memory_kb;
    out->free_cpus = 0;
    out->xen_major = 4;
    out->xen_minor = 17;
    snprintf(out->xen_extra, sizeof out->xen_extra, "-xlua-sim");
    snprintf(out->xen_caps, sizeof out->xen_caps,
             "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64");
    snprintf(out->xen_scheduler, sizeof out->xen_scheduler, "credit2");
    out->xen_pagesize = SIM_PAGE;
    out->virt_start = UINT64_C(0xffff800000000000);
    const char *cmdline = getenv("XLUA_SIM_XEN_CMDLINE");
    snprintf(out->xen_commandline, sizeof out->xen_commandline, "%s", cmdline ? cmdline : "");
    snprintf(out->xen_changeset, sizeof out->xen_changeset, "(the xlua sim)");
    snprintf(out->cc_compiler, sizeof out->cc_compiler, "(the xlua sim)");
    out->nr_pools = 1;
    struct dom_cpupool *p = &out->pools[0];
    p->id = 0;
    snprintf(p->name, sizeof p->name, "Pool-0");
    snprintf(p->sched, sizeof p->sched, "credit2");
    p->n_cpus = h->cpus;
    p->n_domains = (uint32_t)n;
    free(hp);
    return 0;
}
