/* core/base/libdir.h: where the C modules that are loaded on first use live (the libxl backend,
 * libxlutil's parsers): <prefix>/lib/xlua next to <prefix>/bin/xlua, found from the running
 * program, so an installed tree still finds them after being moved. */
#ifndef XLUA_LIBDIR_H
#define XLUA_LIBDIR_H

#include <stddef.h>

/* "<dir>/<file>" into out: dir is $XLUA_LIB_DIR when set and not empty, else the program's
 * ../XLUA_LIB_REL. -1 when the program's path cannot be read or out is too small. */
int libdir_path(const char *file, char *out, size_t n);

#endif
