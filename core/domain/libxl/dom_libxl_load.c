/* core/domain/libxl/dom_libxl_load.c: opening the libxl backend loads it first. The backend
 * (the other files of this folder) is the module xlua_libxl.so with libxenlight and
 * libxenstore behind it, loaded only here, so that a program that never opens it (--version,
 * every command on the sim) does not pay for linking some 20 Xen libraries at start. The
 * module takes the core's functions from the program (which exports them). */
#include "dom_libxl.h"
#include "dom_libxl_module.h"

#include <dlfcn.h>
#include <stdio.h>

#include "base/libdir.h"

static const struct dom_libxl_module *loaded;

static int load_module(struct xerr *err)
{
    if (loaded)
        return 0;
    char path[4096];
    if (libdir_path(DOM_LIBXL_MODULE_FILE, path, sizeof path) < 0)
        return xerr_set(err, "NOXEN", "cannot find the libxl backend module %s: the path of this "
                        "program cannot be read", DOM_LIBXL_MODULE_FILE);
    /* Never closed: libxl keeps threads and handlers for the life of the process. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return xerr_set(err, "NOXEN", "cannot load the libxl backend: %s (install Xen's "
                        "libxenlight, or use --backend sim)", dlerror());
    const struct dom_libxl_module *m = dlsym(h, DOM_LIBXL_MODULE_SYMBOL);
    if (!m || m->ops_size != sizeof(struct dom_ops)) {
        dlclose(h);
        return xerr_set(err, "NOXEN", "%s is not the libxl backend of this xlua (%s)", path,
                        m ? "built with another dom.h" : "no " DOM_LIBXL_MODULE_SYMBOL);
    }
    loaded = m;
    return 0;
}

int dom_libxl_open(struct dom_backend **out, struct xerr *err)
{
    *out = NULL;
    if (dom_libxl_probe(err) <= 0 || load_module(err) < 0)
        return -1;
    return loaded->open(out, err);
}
