/* bindings/lhelpers.h: what every binding module shares: the failure convention
 * (nil, message, code) and the list of modules the host preloads. */
#ifndef XLUA_LHELPERS_H
#define XLUA_LHELPERS_H

#include <lua.h>
#include <lauxlib.h>

#include "error.h"

/* Push nil, e->message, e->code and return 3: the shape of luaL_fileresult. */
int lx_fail(lua_State *L, const struct xerr *e);

/* Push nil, message, code for a failure found in the binding itself. */
int lx_failf(lua_State *L, const char *code, const char *fmt, ...);

/* Set t[name] = integer for the table at the top of the stack. */
void lx_setint(lua_State *L, const char *name, lua_Integer v);
void lx_setstr(lua_State *L, const char *name, const char *s);
void lx_setbool(lua_State *L, const char *name, int b);

/* The modules the host registers in package.preload. */
int luaopen_xlua(lua_State *L);
int luaopen_xlua_savefile(lua_State *L);
int luaopen_xlua_readline(lua_State *L);
int luaopen_xlua_cfg(lua_State *L);
int luaopen_xlua_sandbox(lua_State *L);
int luaopen_xlua_xlutil(lua_State *L);
int luaopen_xlua_domain(lua_State *L);

#endif
