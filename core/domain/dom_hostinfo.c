/* core/domain/dom_hostinfo.c: dom_host_info: the backend's facts about the hypervisor and
 * the host (dom_ops.host_info), and the kernel's own (uname), as `xl info` shows them. */
#include "dom_hostinfo.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

int dom_host_info(struct dom_backend *b, struct dom_host_info *out, struct xerr *err)
{
    memset(out, 0, sizeof *out);
    if (!b->ops->host_info)
        return xerr_set(err, "NOXEN", "the %s backend cannot describe its host", b->ops->name);
    if (b->ops->host_info(b, out, err) < 0)
        return -1;
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(out->host, sizeof out->host, "%s", u.nodename);
        snprintf(out->release, sizeof out->release, "%s", u.release);
        snprintf(out->version, sizeof out->version, "%s", u.version);
        snprintf(out->machine, sizeof out->machine, "%s", u.machine);
    }
    return 0;
}
