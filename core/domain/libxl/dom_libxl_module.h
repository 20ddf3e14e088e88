/* core/domain/libxl/dom_libxl_module.h: the one symbol the libxl backend module exports, and
 * what the core's loader (dom_libxl_load.c) checks in it. */
#ifndef XLUA_DOM_LIBXL_MODULE_H
#define XLUA_DOM_LIBXL_MODULE_H

#include <stddef.h>

#include "domain/dom.h"

#define DOM_LIBXL_MODULE_FILE "xlua_libxl.so"
#define DOM_LIBXL_MODULE_SYMBOL "xlua_libxl_module"

struct dom_libxl_module {
    size_t ops_size;        /* sizeof(struct dom_ops) the module was built with */
    /* Open the backend (the machine is already known to be a dom0). */
    int (*open)(struct dom_backend **out, struct xerr *err);
};

#endif
