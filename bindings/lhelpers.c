/* bindings/lhelpers.c: the failure convention shared by every binding module, small table
 * setters, and the one strict way to read optional fields of an options table. */
#include "lhelpers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* Push t[field] without metamethods; t may be relative. */
static int rawfield(lua_State *L, int t, const char *field)
{
    t = lua_absindex(L, t);
    lua_pushstring(L, field);
    return lua_rawget(L, t);
}

int lx_optfield_bool(lua_State *L, int t, const char *field, int def)
{
    int ty = rawfield(L, t, field);
    if (ty != LUA_TNIL && ty != LUA_TBOOLEAN)
        return luaL_error(L, "bad field '%s' (boolean expected, got %s)", field,
                          luaL_typename(L, -1));
    int v = ty == LUA_TNIL ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

lua_Integer lx_optfield_int(lua_State *L, int t, const char *field, lua_Integer def,
                            lua_Integer min, lua_Integer max)
{
    int ty = rawfield(L, t, field);
    lua_Integer v = def;
    if (ty != LUA_TNIL) {
        int ok = 0;
        if (ty == LUA_TNUMBER)
            v = lua_tointegerx(L, -1, &ok);
        if (!ok)
            return luaL_error(L, "bad field '%s' (integer expected, got %s)", field,
                              ty == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, -1));
        if (v < min || v > max)
            return luaL_error(L, "bad field '%s' (%I out of range %I to %I)", field, v, min,
                              max);
    }
    lua_pop(L, 1);
    return v;
}

const char *lx_optfield_str(lua_State *L, int t, const char *field, const char *def,
                            size_t *len)
{
    int ty = rawfield(L, t, field);
    if (ty == LUA_TNIL) {
        if (len)
            *len = def ? strlen(def) : 0;
        return def;
    }
    if (ty != LUA_TSTRING)
        luaL_error(L, "bad field '%s' (string expected, got %s)", field, luaL_typename(L, -1));
    return lua_tolstring(L, -1, len);
}
