/* core/domain/libxl/dom_libxl_probe.c: whether this machine is a Xen control domain, the
 * question that makes libxl the default backend. */
#include "dom_libxl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dom_libxl_probe(struct xerr *err)
{
    const char *path = getenv("XLUA_XEN_CAPABILITIES");
    if (!path || !path[0])
        path = "/proc/xen/capabilities";
    FILE *f = fopen(path, "re");
    const char *why = "is missing";
    if (f) {
        char line[256];
        int found = 0;
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, "control_d") != NULL;
        fclose(f);
        if (found)
            return 1;
        why = "does not say control_d";
    }
    xerr_set(err, "NOXEN", "no Xen control domain here: /proc/xen/capabilities %s (the libxl "
             "backend needs a Xen dom0; use --backend sim)", why);
    return 0;
}

const struct dom_backend_kind dom_libxl_kind = {
    .name = "libxl",
    .probe = dom_libxl_probe,
    .open = dom_libxl_open,
};
