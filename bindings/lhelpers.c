/* bindings/lhelpers.c: the failure convention shared by every binding module,
 * and small table setters. */
#include "lhelpers.h"

#include <stdarg.h>
#include <stdio.h>

int lx_fail(lua_State *L, const struct xerr *e)
{
    luaL_pushfail(L);
    lua_pushstring(L, e->message);
    lua_pushstring(L, e->code ? e->code : "EIO");
    return 3;
}

int lx_failf(lua_State *L, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, code);
    return 3;
}

void lx_setint(lua_State *L, const char *name, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, name);
}

void lx_setstr(lua_State *L, const char *name, const char *s)
{
    lua_pushstring(L, s);
    lua_setfield(L, -2, name);
}

void lx_setbool(lua_State *L, const char *name, int b)
{
    lua_pushboolean(L, b);
    lua_setfield(L, -2, name);
}
