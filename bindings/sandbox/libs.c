/* bindings/sandbox/libs.c: what a config can call: the pure libraries, with the sandbox's own
 * versions of the functions that reach outside or loop in C without the hook seeing it. */
#include "sandbox.h"

#include <lualib.h>

/* ---- the sandbox's versions of library functions (the original is upvalue 1) ---- */

/* Call the original with the arguments on the stack and return all its results. */
static int call_original(lua_State *S)
{
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, LUA_MULTRET);
    return lua_gettop(S);
}

/* load: text only, whatever mode is asked for; a binary chunk is refused. */
static int safe_load(lua_State *S)
{
    if (lua_gettop(S) < 3)
        lua_settop(S, 3); /* an absent env stays absent: load uses the globals */
    lua_pushliteral(S, "t");
    lua_replace(S, 3);
    return call_original(S);
}

/* collectgarbage: "collect" and "count" only (no stopping or tuning the collector). */
static int safe_collectgarbage(lua_State *S)
{
    static const char *const options[] = {"collect", "count", NULL};
    int o = luaL_checkoption(S, 1, "collect", options);
    lua_settop(S, 0);
    lua_pushstring(S, options[o]);
    return call_original(S);
}

/* setmetatable: no __gc. Finalizers run with hooks off (in GC steps and at lua_close), so the
 * instruction budget could not stop one. An object only gets a finalizer if its metatable has
 * the field when set, so checking here is enough. */
static int safe_setmetatable(lua_State *S)
{
    if (lua_type(S, 2) == LUA_TTABLE) {
        lua_pushliteral(S, "__gc");
        if (lua_rawget(S, 2) != LUA_TNIL)
            return luaL_error(S, "__gc metamethods are not allowed in a config");
        lua_pop(S, 1);
    }
    return call_original(S);
}

/* coroutine.create and wrap: a new thread starts its own hook count, so charge a full count. */
static int safe_new_coroutine(lua_State *S)
{
    struct sandbox *sb = sb_of(S);
    sb_charge(S, sb, sb->hook_every, 1);
    return call_original(S);
}

/* string.rep: the stock one loops n times even when nothing is copied. */
static int safe_rep(lua_State *S)
{
    size_t l, lsep;
    luaL_checklstring(S, 1, &l);
    lua_Integer n = luaL_checkinteger(S, 2);
    luaL_optlstring(S, 3, "", &lsep);
    if (n > 0 && l == 0 && lsep == 0) {
        lua_pushliteral(S, "");
        return 1;
    }
    return call_original(S);
}

/* table.insert, remove and move loop in C over a length the config controls (__len, or the
 * arguments of move): charge one instruction per element moved. */
static int safe_insert(lua_State *S)
{
    if (lua_gettop(S) == 3 && lua_type(S, 1) == LUA_TTABLE && lua_isinteger(S, 2)) {
        lua_Integer last = luaL_len(S, 1);
        lua_Integer pos = lua_tointeger(S, 2);
        if (pos >= 1 && pos <= last)
            sb_charge(S, sb_of(S), last - pos + 1, 1);
    }
    return call_original(S);
}

static int safe_remove(lua_State *S)
{
    if (lua_type(S, 1) == LUA_TTABLE) {
        lua_Integer size = luaL_len(S, 1);
        lua_Integer pos = lua_isinteger(S, 2) ? lua_tointeger(S, 2) : size;
        if (pos >= 1 && pos <= size)
            sb_charge(S, sb_of(S), size - pos + 1, 1);
    }
    return call_original(S);
}

static int safe_move(lua_State *S)
{
    if (lua_isinteger(S, 2) && lua_isinteger(S, 3)) {
        lua_Integer f = lua_tointeger(S, 2), e = lua_tointeger(S, 3);
        if (e >= f) {
            lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)f;
            sb_charge(S, sb_of(S),
                   n >= (lua_Unsigned)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)n + 1, 1);
        }
    }
    return call_original(S);
}

/* Replace t[name] by f with the original as its upvalue. */
static void wrap_field(lua_State *S, int t, const char *name, lua_CFunction f)
{
    lua_getfield(S, t, name);
    lua_pushcclosure(S, f, 1);
    lua_setfield(S, t, name);
}

static void set_function(lua_State *S, int t, const char *name, lua_CFunction f)
{
    lua_pushcfunction(S, f);
    lua_setfield(S, t, name);
}

static void remove_field(lua_State *S, int t, const char *name)
{
    lua_pushnil(S);
    lua_setfield(S, t, name);
}

/* ---- the libraries ---- */

void sb_open_libs(lua_State *S, int with_getenv)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},     {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = libs; lib->name; lib++) {
        luaL_requiref(S, lib->name, lib->func, 1);
        lua_pop(S, 1);
    }
    lua_pushglobaltable(S);
    int g = lua_gettop(S);
    remove_field(S, g, "dofile");
    remove_field(S, g, "loadfile");
    remove_field(S, g, "print");
    remove_field(S, g, "warn");
    wrap_field(S, g, "load", safe_load);
    wrap_field(S, g, "collectgarbage", safe_collectgarbage);
    wrap_field(S, g, "setmetatable", safe_setmetatable);

    /* The string metatable's __index is this same table, so methods get these too. */
    lua_getfield(S, g, LUA_STRLIBNAME);
    int str = lua_gettop(S);
    remove_field(S, str, "dump");
    wrap_field(S, str, "rep", safe_rep);
    set_function(S, str, "find", sb_str_find);
    set_function(S, str, "match", sb_str_match);
    set_function(S, str, "gmatch", sb_gmatch);
    set_function(S, str, "gsub", sb_str_gsub);

    lua_getfield(S, g, LUA_TABLIBNAME);
    int tab = lua_gettop(S);
    wrap_field(S, tab, "insert", safe_insert);
    wrap_field(S, tab, "remove", safe_remove);
    wrap_field(S, tab, "move", safe_move);

    lua_getfield(S, g, LUA_COLIBNAME);
    int co = lua_gettop(S);
    wrap_field(S, co, "create", safe_new_coroutine);
    wrap_field(S, co, "wrap", safe_new_coroutine);

    /* os: only the functions that read the clock or the environment (not even that with
     * opts.getenv = false: a config from someone else's savefile could put the host's
     * secrets into a domain name). */
    lua_pushcfunction(S, luaopen_os);
    lua_call(S, 0, 1);
    int full_os = lua_gettop(S);
    static const char *const os_pure[] = {"getenv", "time", "clock", "date", "difftime", NULL};
    lua_createtable(S, 0, 5);
    for (const char *const *name = os_pure + !with_getenv; *name; name++) {
        lua_getfield(S, full_os, *name);
        lua_setfield(S, -2, *name);
    }
    lua_setfield(S, g, LUA_OSLIBNAME);
    lua_settop(S, g - 1);
}
