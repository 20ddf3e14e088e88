/* bindings/lhelpers.h: what every binding module shares: the failure convention
 * (nil, message, code), strict options-table readers, and the modules the host preloads. */
#ifndef XLUA_LHELPERS_H
#define XLUA_LHELPERS_H

#include <lua.h>
#include <lauxlib.h>

#include "base/error.h"

/* Push nil, e->message, e->code and return 3: the shape of luaL_fileresult. */
int lx_fail(lua_State *L, const struct xerr *e);

/* Push nil, message, code for a failure found in the binding itself. */
int lx_failf(lua_State *L, const char *code, const char *fmt, ...);

/* Set t[name] = integer for the table at the top of the stack. */
void lx_setint(lua_State *L, const char *name, lua_Integer v);
void lx_setstr(lua_State *L, const char *name, const char *s);
void lx_setbool(lua_State *L, const char *name, int b);

/* Optional fields of an options table at index t, read with raw access (no metamethod runs
 * in the middle of a C function). Absent (nil) gives def; a value of the wrong type or out
 * of range raises "bad field 'name' (...)": option mistakes are argument mistakes. */
int lx_optfield_bool(lua_State *L, int t, const char *field, int def);
lua_Integer lx_optfield_int(lua_State *L, int t, const char *field, lua_Integer def,
                            lua_Integer min, lua_Integer max);
/* Pushes the field (the string, or nil when absent) and returns it (def when absent): the
 * pointer is valid while that stack slot is, so the caller pops it only when done. */
const char *lx_optfield_str(lua_State *L, int t, const char *field, const char *def,
                            size_t *len);

/* The modules the host registers in package.preload. */
int luaopen_xlua(lua_State *L);
int luaopen_xlua_savefile(lua_State *L);
int luaopen_xlua_readline_loader(lua_State *L);   /* xlua_libdir.c: lib/xlua/xlua_readline.so */
int luaopen_xlua_cfg(lua_State *L);
int luaopen_xlua_sandbox(lua_State *L);
int luaopen_xlua_xlutil_loader(lua_State *L);     /* xlua_libdir.c: lib/xlua/xlua_xlutil.so */
int luaopen_xlua_domain(lua_State *L);
int luaopen_xlua_process(lua_State *L);
int luaopen_xlua_transport(lua_State *L);

#endif
