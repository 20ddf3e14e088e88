/* bindings/l_xlua.c: the `xlua` module: version, api level, verbosity and the one logger
 * every Lua file writes through (stderr, one line per message, "xlua: level: text"). */
#include "lhelpers.h"
#include "xlua_config.h"

#include <stdio.h>
#include <string.h>

static int verbose;

static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

/* xlua.log(level, message): debug lines only when verbose. */
static int l_log(lua_State *L)
{
    int level = luaL_checkoption(L, 1, NULL, level_names);
    const char *msg = luaL_checkstring(L, 2);
    if (level == 0 && !verbose)
        return 0;
    if (level == 1)
        fprintf(stderr, "xlua: %s\n", msg);
    else
        fprintf(stderr, "xlua: %s: %s\n", level_names[level], msg);
    fflush(stderr);
    return 0;
}

static int l_set_verbose(lua_State *L)
{
    verbose = lua_toboolean(L, 1);
    lua_pushboolean(L, verbose);
    lua_setfield(L, lua_upvalueindex(1), "verbose");
    return 0;
}

int luaopen_xlua(lua_State *L)
{
    lua_newtable(L);
    lx_setstr(L, "version", XLUA_VERSION);
    lx_setint(L, "api_level", XLUA_API_LEVEL);
    lx_setbool(L, "verbose", verbose);
    lua_pushcfunction(L, l_log);
    lua_setfield(L, -2, "log");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_set_verbose, 1);
    lua_setfield(L, -2, "set_verbose");
    return 1;
}
