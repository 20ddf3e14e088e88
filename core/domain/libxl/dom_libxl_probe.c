/* core/domain/libxl/dom_libxl_probe.c: whether this machine is a Xen control domain, the
 * question that makes libxl the default backend, and what is missing when it is one that
 * libxl cannot drive yet (never a silent fall back to the simulator on a real dom0). */
#include "dom_libxl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first line of path into out (without its newline), or "" when it cannot be read. */
static void first_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* Xen's sysfs says this is dom0: /sys/hypervisor/type is "xen" and /sys/hypervisor/uuid, the
 * domain's own uuid, is all zeros, as it is only for domain 0. $XLUA_SYS_HYPERVISOR stands in
 * for /sys/hypervisor in tests. */
static int sysfs_says_dom0(void)
{
    const char *dir = getenv("XLUA_SYS_HYPERVISOR");
    char path[512], value[64];
    if (!dir || !dir[0])
        dir = "/sys/hypervisor";
    snprintf(path, sizeof path, "%s/type", dir);
    first_line(path, value, sizeof value);
    if (strcmp(value, "xen") != 0)
        return 0;
    snprintf(path, sizeof path, "%s/uuid", dir);
    first_line(path, value, sizeof value);
    return strcmp(value, "00000000-0000-0000-0000-000000000000") == 0;
}

int dom_libxl_probe(struct xerr *err)
{
    const char *path = getenv("XLUA_XEN_CAPABILITIES");
    if (!path || !path[0])
        path = "/proc/xen/capabilities";
    FILE *f = fopen(path, "re");
    int opened = f != NULL, found = 0;
    if (f) {
        char line[256];
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, "control_d") != NULL;
        fclose(f);
        if (found)
            return 1;
    }
    if (sysfs_says_dom0()) {
        if (!opened)
            return xerr_set(err, "NOXEN", "this is a Xen dom0 (/sys/hypervisor/uuid is all zeros) "
                            "but xenfs is not mounted on /proc/xen: mount -t xenfs xenfs /proc/xen "
                            "(or use --backend sim for the simulator)");
        return xerr_set(err, "NOXEN", "this is a Xen dom0 (/sys/hypervisor/uuid is all zeros) but "
                        "%s does not say control_d (or use --backend sim for the simulator)", path);
    }
    xerr_set(err, "NOXEN", "no Xen control domain here: %s %s (the libxl backend needs a Xen "
             "dom0; use --backend sim)", path, opened ? "does not say control_d" : "is missing");
    return 0;
}

const struct dom_backend_kind dom_libxl_kind = {
    .name = "libxl",
    .probe = dom_libxl_probe,
    .open = dom_libxl_open,
};
