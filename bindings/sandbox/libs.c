/* bindings/sandbox/libs.c: what a config can call: the pure libraries, with the sandbox's own
 * versions of the functions that reach outside, or work in C where the hook cannot see it.
 *
 * Work in C is charged to the instruction budget: bytes produced through the allocator
 * (limits.c), bytes only read and elements only visited here, before the work where its size
 * is known (so a hopeless call is refused at once), after it where the result tells. */
#include "sandbox.h"

#include <lualib.h>
#include <stdint.h>
#include <string.h>

/* ---- helpers: the original function is upvalue 1 of each wrapper ---- */

/* Call the original with the arguments on the stack and return all its results. */
static int call_original(lua_State *S)
{
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, LUA_MULTRET);
    return lua_gettop(S);
}

/* Charge n steps for work a C function of the config is about to do. */
static void charge(lua_State *S, lua_Integer n)
{
    sb_charge(S, sb_of(S), n, 1);
}

/* The number of elements from i to j, saturated: the arguments are the config's. */
static lua_Integer span(lua_Integer i, lua_Integer j)
{
    if (j < i)
        return 0;
    lua_Unsigned n = (lua_Unsigned)j - (lua_Unsigned)i;
    return n >= (lua_Unsigned)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)n + 1;
}

/* The length of the string argument arg, 0 for anything else (the original then raises). */
static size_t string_arg_len(lua_State *S, int arg)
{
    size_t len = 0;
    if (lua_type(S, arg) == LUA_TSTRING)
        lua_tolstring(S, arg, &len);
    return len;
}

/* ---- base ---- */

/* A load reader of the config's: each piece it returns is compiled in C, so charge it. */
static int charged_reader(lua_State *S)
{
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_call(S, 0, 1);
    charge(S, (lua_Integer)string_arg_len(S, -1) * COMPILE_STEPS_PER_BYTE);
    return 1;
}

/* load: text only, whatever mode is asked for; a binary chunk is refused. Compiling is charged
 * per byte of source. */
static int safe_load(lua_State *S)
{
    if (lua_gettop(S) < 3)
        lua_settop(S, 3); /* an absent env stays absent: load uses the globals */
    lua_pushliteral(S, "t");
    lua_replace(S, 3);
    if (lua_type(S, 1) == LUA_TFUNCTION) {
        lua_pushvalue(S, 1);
        lua_pushcclosure(S, charged_reader, 1);
        lua_replace(S, 1);
    } else {
        charge(S, (lua_Integer)string_arg_len(S, 1) * COMPILE_STEPS_PER_BYTE);
    }
    return call_original(S);
}

/* collectgarbage: "collect" and "count" only (no stopping or tuning the collector). A full
 * collection visits the whole heap. */
static int safe_collectgarbage(lua_State *S)
{
    static const char *const options[] = {"collect", "count", NULL};
    int o = luaL_checkoption(S, 1, "collect", options);
    if (o == 0)
        charge(S, (lua_Integer)(sb_of(S)->mem_used / BYTES_PER_INSTRUCTION));
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

/* The config's message handler, behind a guard. When the hook raises the limit, Lua calls the
 * handler from inside the hook, where hooks are off: the config's handler would run unbounded.
 * Once the run is tripped the error goes on as it is. */
static int guarded_handler(lua_State *S)
{
    if (sb_of(S)->tripped)
        return 1;
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, 1);
    return 1;
}

static int safe_xpcall(lua_State *S)
{
    luaL_checktype(S, 2, LUA_TFUNCTION);
    lua_pushvalue(S, 2);
    lua_pushcclosure(S, guarded_handler, 1);
    lua_replace(S, 2);
    return call_original(S);
}

/* tonumber reads the whole string (digits, or strtod). */
static int safe_tonumber(lua_State *S)
{
    charge(S, (lua_Integer)(string_arg_len(S, 1) / BYTES_PER_INSTRUCTION));
    return call_original(S);
}

/* ---- coroutine ----
 * A coroutine the limit killed keeps its hooks off for good (Lua restores them only where a
 * pcall catches the error, and a dead coroutine has none), so Lua code must never run in it
 * again: closing it would run its __close methods unbounded. Once tripped, closing raises. */

/* coroutine.create: a new thread starts its own hook count, so charge a full count; it gets
 * the hook explicitly (raising at once if the run is tripped). */
static int safe_create(lua_State *S)
{
    struct sandbox *sb = sb_of(S);
    sb_charge(S, sb, sb->hook_every, 1);
    call_original(S);
    lua_State *co = lua_tothread(S, -1);
    if (co)
        sb_set_hook(co, sb);
    return 1;
}

static int safe_close(lua_State *S)
{
    struct sandbox *sb = sb_of(S);
    if (sb->tripped)
        return sb_trip(S, sb, sb->tripped, 1);
    return call_original(S);
}

/* The function coroutine.wrap returns (upvalues: the coroutine, the stock coroutine.resume):
 * lcorolib's auxwrap, closing a failed coroutine only while the run is not tripped. */
static int wrapped_resume(lua_State *S)
{
    int nargs = lua_gettop(S);
    lua_pushvalue(S, lua_upvalueindex(2));
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_rotate(S, 1, 2);
    lua_call(S, nargs + 1, LUA_MULTRET);
    if (lua_toboolean(S, 1)) {
        lua_remove(S, 1);
        return lua_gettop(S);
    }
    struct sandbox *sb = sb_of(S);
    if (sb->tripped)
        return sb_trip(S, sb, sb->tripped, 1);
    lua_State *co = lua_tothread(S, lua_upvalueindex(1));
    int status = lua_status(co);
    if (status != LUA_OK && status != LUA_YIELD) { /* an error in the coroutine */
#if LUA_VERSION_RELEASE_NUM >= 50406
        status = lua_closethread(co, S); /* close its to-be-closed variables */
#else
        status = lua_resetthread(co);
#endif
        lua_xmove(co, S, 1);
    }
    if (status != LUA_ERRMEM && lua_type(S, -1) == LUA_TSTRING) {
        luaL_where(S, 1);
        lua_insert(S, -2);
        lua_concat(S, 2);
    }
    return lua_error(S);
}

/* coroutine.wrap (upvalues: the sandbox's coroutine.create, the stock resume). */
static int safe_wrap(lua_State *S)
{
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, 1);
    lua_pushvalue(S, lua_upvalueindex(2));
    lua_pushcclosure(S, wrapped_resume, 2);
    return 1;
}

/* ---- string ---- */

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

/* string.byte and utf8.codepoint: one step per value they pushed (a million at the most). */
static int charge_results(lua_State *S)
{
    int n = call_original(S);
    charge(S, n);
    return n;
}

/* string.pack, packsize and unpack read their format an option at a time; unpack's "z" looks
 * for the zero through the rest of the data. */
static void charge_format(lua_State *S, int unpack)
{
    size_t lfmt;
    const char *fmt = luaL_checklstring(S, 1, &lfmt);
    lua_Integer n = (lua_Integer)lfmt;
    if (unpack && memchr(fmt, 'z', lfmt))
        n += (lua_Integer)(string_arg_len(S, 2) / BYTES_PER_INSTRUCTION);
    charge(S, n);
}

static int safe_pack(lua_State *S)
{
    charge_format(S, 0);
    return call_original(S);
}

static int safe_str_unpack(lua_State *S)
{
    charge_format(S, 1);
    return call_original(S);
}

/* ---- table ---- */

/* table.insert, remove and move loop in C over a length the config controls (__len, or the
 * arguments of move): charge one instruction per element moved. */
static int safe_insert(lua_State *S)
{
    if (lua_gettop(S) == 3 && lua_type(S, 1) == LUA_TTABLE && lua_isinteger(S, 2)) {
        lua_Integer last = luaL_len(S, 1);
        lua_Integer pos = lua_tointeger(S, 2);
        if (pos >= 1 && pos <= last)
            charge(S, last - pos + 1);
    }
    return call_original(S);
}

static int safe_remove(lua_State *S)
{
    if (lua_type(S, 1) == LUA_TTABLE) {
        lua_Integer size = luaL_len(S, 1);
        lua_Integer pos = lua_isinteger(S, 2) ? lua_tointeger(S, 2) : size;
        if (pos >= 1 && pos <= size)
            charge(S, size - pos + 1);
    }
    return call_original(S);
}

static int safe_move(lua_State *S)
{
    if (lua_isinteger(S, 2) && lua_isinteger(S, 3))
        charge(S, span(lua_tointeger(S, 2), lua_tointeger(S, 3)));
    return call_original(S);
}

/* table.concat and unpack visit every element from i to j, even empty strings. */
static int safe_concat(lua_State *S)
{
    if (lua_type(S, 1) == LUA_TTABLE) {
        luaL_optstring(S, 2, "");
        lua_Integer i = luaL_optinteger(S, 3, 1);
        lua_Integer j = lua_isnoneornil(S, 4) ? luaL_len(S, 1) : luaL_checkinteger(S, 4);
        charge(S, span(i, j));
    }
    return call_original(S);
}

static int safe_unpack(lua_State *S)
{
    lua_Integer i = luaL_optinteger(S, 2, 1);
    lua_Integer j = lua_isnoneornil(S, 3) ? luaL_len(S, 1) : luaL_checkinteger(S, 3);
    charge(S, span(i, j));
    return call_original(S);
}

/* table.sort: n log n comparisons, in C when there is no comparator (strings compare in C). */
static int safe_sort(lua_State *S)
{
    if (lua_type(S, 1) == LUA_TTABLE) {
        lua_Integer n = luaL_len(S, 1);
        if (n > 1) {
            if (n > INT32_MAX) /* the stock sort refuses it ("array too big") */
                n = INT32_MAX;
            lua_Integer steps = n;
            for (lua_Integer m = n; m > 1; m >>= 1)
                steps += n;
            charge(S, steps);
        }
    }
    return call_original(S);
}

/* ---- utf8 ---- */

/* utf8.len and offset walk the string (offset at most all of it). */
static int safe_utf8_walk(lua_State *S)
{
    charge(S, (lua_Integer)(string_arg_len(S, 1) / BYTES_PER_INSTRUCTION));
    return call_original(S);
}

/* ---- os ---- */

/* os.getenv: the sandbox process names its time zone in TZ where the host has none (see
 * process.c); the config sees the host's environment. */
static int safe_getenv(lua_State *S)
{
    const char *name = luaL_checkstring(S, 1);
    if (sb_of(S)->tz_pinned && strcmp(name, "TZ") == 0) {
        luaL_pushfail(S);
        return 1;
    }
    return call_original(S);
}

/* os.date formats a conversion at a time, each costing more than its bytes. */
static int safe_date(lua_State *S)
{
    charge(S, (lua_Integer)string_arg_len(S, 1));
    return call_original(S);
}

/* ---- the libraries ---- */

/* What the sandbox changes in the stock libraries: removes, replaces by its own function, or
 * wraps (the wrapper gets the original as upvalue 1). */
static const struct change {
    const char *lib, *name;
    lua_CFunction f;
} removed[] = {
    {LUA_GNAME, "dofile", NULL},   {LUA_GNAME, "loadfile", NULL}, {LUA_GNAME, "print", NULL},
    {LUA_GNAME, "warn", NULL},     {LUA_STRLIBNAME, "dump", NULL},
}, replaced[] = {
    {LUA_STRLIBNAME, "find", sb_str_find},   {LUA_STRLIBNAME, "match", sb_str_match},
    {LUA_STRLIBNAME, "gmatch", sb_gmatch},   {LUA_STRLIBNAME, "gsub", sb_str_gsub},
}, wrapped[] = {
    {LUA_GNAME, "load", safe_load},
    {LUA_GNAME, "collectgarbage", safe_collectgarbage},
    {LUA_GNAME, "setmetatable", safe_setmetatable},
    {LUA_GNAME, "xpcall", safe_xpcall},
    {LUA_GNAME, "tonumber", safe_tonumber},
    {LUA_STRLIBNAME, "rep", safe_rep},
    {LUA_STRLIBNAME, "byte", charge_results},
    {LUA_STRLIBNAME, "pack", safe_pack},
    {LUA_STRLIBNAME, "packsize", safe_pack},
    {LUA_STRLIBNAME, "unpack", safe_str_unpack},
    {LUA_TABLIBNAME, "insert", safe_insert},
    {LUA_TABLIBNAME, "remove", safe_remove},
    {LUA_TABLIBNAME, "move", safe_move},
    {LUA_TABLIBNAME, "concat", safe_concat},
    {LUA_TABLIBNAME, "unpack", safe_unpack},
    {LUA_TABLIBNAME, "sort", safe_sort},
    {LUA_UTF8LIBNAME, "len", safe_utf8_walk},
    {LUA_UTF8LIBNAME, "offset", safe_utf8_walk},
    {LUA_UTF8LIBNAME, "codepoint", charge_results},
    {LUA_COLIBNAME, "create", safe_create},
    {LUA_COLIBNAME, "close", safe_close},
};

/* Apply n changes; the global table is at index g. The string metatable's __index is the
 * string table itself, so methods get the changes too. */
static void apply(lua_State *S, int g, const struct change *c, size_t n, int wrap)
{
    for (; n > 0; c++, n--) {
        if (strcmp(c->lib, LUA_GNAME) == 0)
            lua_pushvalue(S, g);
        else
            lua_getfield(S, g, c->lib);
        if (wrap) {
            lua_getfield(S, -1, c->name);
            lua_pushcclosure(S, c->f, 1);
        } else if (c->f) {
            lua_pushcfunction(S, c->f);
        } else {
            lua_pushnil(S);
        }
        lua_setfield(S, -2, c->name);
        lua_pop(S, 1);
    }
}

#define APPLY(S, g, changes, wrap) apply(S, g, changes, sizeof changes / sizeof changes[0], wrap)

void sb_open_libs(lua_State *S, int with_getenv)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},     {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    /* A library function called by a wrapper is named in its argument errors by where
     * package.loaded has it (luaL_argerror): keep copies of the stock libraries there (the
     * config cannot reach package.loaded). */
    luaL_getsubtable(S, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    for (const luaL_Reg *lib = libs; lib->name; lib++) {
        luaL_requiref(S, lib->name, lib->func, 1);
        lua_newtable(S);
        lua_pushnil(S);
        while (lua_next(S, -3)) {
            lua_pushvalue(S, -2);
            lua_insert(S, -2);
            lua_rawset(S, -4);
        }
        lua_setfield(S, -3, lib->name);
        lua_pop(S, 1);
    }
    lua_pop(S, 1);
    lua_pushglobaltable(S);
    int g = lua_gettop(S);
    APPLY(S, g, removed, 0);
    APPLY(S, g, replaced, 0);
    APPLY(S, g, wrapped, 1);
    /* coroutine.wrap: over the sandbox's create and the stock resume */
    lua_getfield(S, g, LUA_COLIBNAME);
    lua_getfield(S, -1, "create");
    lua_getfield(S, -2, "resume");
    lua_pushcclosure(S, safe_wrap, 2);
    lua_setfield(S, -2, "wrap");
    lua_pop(S, 1);

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
        if (strcmp(*name, "getenv") == 0)
            lua_pushcclosure(S, safe_getenv, 1);
        else if (strcmp(*name, "date") == 0)
            lua_pushcclosure(S, safe_date, 1);
        lua_setfield(S, -2, *name);
    }
    lua_setfield(S, g, LUA_OSLIBNAME);
    lua_settop(S, g - 1);
}
