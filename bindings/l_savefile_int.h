/* bindings/l_savefile_int.h: what the files of the xlua.savefile module share: the writer
 * userdata and the functions savefile.rewrite builds on (l_savefile.c), and rewrite itself
 * (l_savefile_rewrite.c). */
#ifndef XLUA_L_SAVEFILE_INT_H
#define XLUA_L_SAVEFILE_INT_H

#include <lua.h>

#include "savefile/atomic_file.h"
#include "savefile/sf_writer.h"

struct lwriter {
    struct sf_writer *w;     /* NULL: closed */
    int fd;                  /* savefile.writer's duplicate of the caller's fd, or -1 */
    int atomic;              /* from savefile.create: af is the file being written */
    struct atomic_file af;
    int busy;                /* in use by another binding's call (lx_savefile_busy) */
    int finished;            /* finish() succeeded: the file is whole (and in place) */
};

/* savefile.create, w:header and w:close as the module has them. */
int l_create(lua_State *L);
int l_w_header(lua_State *L);
int l_writer_close(lua_State *L);

/* savefile.rewrite */
int lx_savefile_rewrite(lua_State *L);

#endif
