/* core/domain/libxl/dom_libxl.h: the libxl backend (libxenlight, a real Xen dom0): its kind
 * for backends.c, and opening it directly. */
#ifndef XLUA_DOM_LIBXL_H
#define XLUA_DOM_LIBXL_H

#include "domain/dom.h"

extern const struct dom_backend_kind dom_libxl_kind;

/* 1 when this machine is a Xen control domain that libxl can drive; 0 (err: NOXEN, why) when
 * it is none; -1 (err: NOXEN, what is missing) when it is a dom0 libxl cannot drive yet. */
int dom_libxl_probe(struct xerr *err);
int dom_libxl_open(struct dom_backend **out, struct xerr *err);

#endif
