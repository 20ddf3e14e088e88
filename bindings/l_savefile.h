/* bindings/l_savefile.h: the C objects behind xlua.savefile's userdata, for other bindings
 * (the domain module streams a domain through them). */
#ifndef XLUA_L_SAVEFILE_H
#define XLUA_L_SAVEFILE_H

#include <lua.h>

#include "sf_reader.h"
#include "sf_writer.h"

/* The open reader or writer at idx; raises if it is not one or is closed. */
struct sf_reader *lx_check_sf_reader(lua_State *L, int idx);
struct sf_writer *lx_check_sf_writer(lua_State *L, int idx);

#endif
