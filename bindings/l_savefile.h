/* bindings/l_savefile.h: the C objects behind xlua.savefile's userdata, for other bindings
 * (the domain module streams a domain through them). */
#ifndef XLUA_L_SAVEFILE_H
#define XLUA_L_SAVEFILE_H

#include <lua.h>

#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

/* The open reader or writer at idx; raises if it is not one or is closed. */
struct sf_reader *lx_check_sf_reader(lua_State *L, int idx);
struct sf_writer *lx_check_sf_writer(lua_State *L, int idx);

/* The open reader at idx, or NULL when it is not a reader or is closed. */
struct sf_reader *lx_test_sf_reader(lua_State *L, int idx);

/* Mark the reader or writer at idx as in use (delta 1) or no longer (delta -1): while in use,
 * close() raises instead of freeing what a running save or restore holds. */
void lx_savefile_busy(lua_State *L, int idx, int delta);

#endif
