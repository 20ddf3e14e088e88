/* bindings/l_sandbox.c: the `xlua.sandbox` module: sandbox.run and run_file, their options, and
 * the handle that ends a run on every path. The sandbox itself lives in bindings/sandbox/.
 *
 * A config chunk runs in a fresh Lua state (pure libraries only, an instruction budget, a time
 * limit, a memory cap) inside a process of its own that the OS limits too, and only plain data
 * comes out.
 *
 * Why a separate state rather than a restricted _ENV: nothing the config can reach (string
 * metatable, registry, finalizers, coroutines) is shared with the host, memory is bounded for
 * real by the allocator. Why a process too: the OS bounds it even if the Lua-level limits had
 * a hole, and its end ends everything the config made.
 *
 * Ctrl-C: the host interrupts Lua code with a hook on its own state, which cannot fire while
 * the host waits for the sandbox process; the wait ends when that hook is armed (or when the
 * process dies of the same Ctrl-C), sandbox.run returns INTERRUPTED, and the hook fires. */
#include "lhelpers.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HANDLE_MT "xlua.sandbox.run"

/* One call of run or run_file: the config file being read and the sandbox process. Lives in a
 * to-be-closed userdata, so every exit path, errors included, kills and reaps the process. */
struct handle {
    FILE *file;
    char *source;
    struct child child;
};

static int handle_close(lua_State *L)
{
    struct handle *h = luaL_checkudata(L, 1, HANDLE_MT);
    sb_child_close(&h->child);
    if (h->file) {
        fclose(h->file);
        h->file = NULL;
    }
    free(h->source);
    h->source = NULL;
    return 0;
}

/* A closed handle, to be closed whatever happens to the calling function. */
static struct handle *new_handle(lua_State *L)
{
    struct handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    h->child.fd = -1;
    luaL_setmetatable(L, HANDLE_MT);
    lua_toclose(L, -1);
    return h;
}

/* opts.max_time: seconds, a number in (0, MAX_MAX_TIME]. */
static double optfield_seconds(lua_State *L, int t, const char *field, double def)
{
    lua_pushstring(L, field);
    int ty = lua_rawget(L, t);
    double v = def;
    if (ty != LUA_TNIL) {
        if (ty != LUA_TNUMBER)
            luaL_error(L, "bad field '%s' (number expected, got %s)", field, luaL_typename(L, -1));
        v = (double)lua_tonumber(L, -1);
        if (!(v > 0 && v <= MAX_MAX_TIME))
            luaL_error(L, "bad field '%s' (%f out of range 0 to %f)", field, v, MAX_MAX_TIME);
    }
    lua_pop(L, 1);
    return v;
}

/* Reads opts at arg; leaves opts.env (checked: string keys, plain data) on the stack. */
static void read_opts(lua_State *L, int arg, struct run_opts *o)
{
    o->max_instructions = DEFAULT_MAX_INSTRUCTIONS;
    o->max_memory = DEFAULT_MAX_MEMORY;
    o->max_time = DEFAULT_MAX_TIME;
    o->in_process_limits = 1;
    o->env = 0;
    o->getenv = 1;
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    o->getenv = lx_optfield_bool(L, arg, "getenv", o->getenv);
    o->in_process_limits = lx_optfield_bool(L, arg, "in_process_limits", 1);
    o->max_time = optfield_seconds(L, arg, "max_time", o->max_time);
    o->max_instructions = lx_optfield_int(L, arg, "max_instructions", o->max_instructions, 1,
                                          LUA_MAXINTEGER);
    o->max_memory = lx_optfield_int(L, arg, "max_memory", o->max_memory, 1, LUA_MAXINTEGER);
    if ((lua_Unsigned)o->max_memory > SIZE_MAX / 2)
        o->max_memory = (lua_Integer)(SIZE_MAX / 2);
    int t = lua_getfield(L, arg, "env");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "bad option 'env': a table expected, got %s", luaL_typename(L, -1));
    o->env = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, o->env)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "bad option 'env': its keys are global names (strings)");
        lua_pop(L, 1);
    }
    struct walk w = {.what = "opts.env", .max_bytes = (size_t)o->max_memory};
    lua_newtable(L);
    w.visiting = lua_gettop(L);
    sb_check_value(L, o->env, 0, &w);
    lua_pop(L, 1);
}

/* sandbox.run(source [, chunkname [, opts]]) -> result | nil, message, code */
static int l_run(lua_State *L)
{
    size_t len;
    const char *source = luaL_checklstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, "=config");
    struct run_opts o;
    read_opts(L, 3, &o);
    struct handle *h = new_handle(L);
    return sb_run_in_child(L, &h->child, source, len, chunkname, &o);
}

/* sandbox.run_file(path [, opts]) -> result | nil, message, code; the chunk is named "@path". */
static int l_run_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct run_opts o;
    read_opts(L, 2, &o);
    struct handle *h = new_handle(L);
    h->file = fopen(path, "rb");
    if (h->file == NULL) {
        int err = errno;
        return lx_failf(L, xerr_errno_code(err), "%s: %s", path, strerror(err));
    }
    /* No Lua call while reading (nothing may raise between fopen and fclose), and never more
     * than the memory cap: a config bigger than that could not be run anyway. */
    size_t limit = (size_t)o.max_memory, len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap > limit)
                break;
            size_t ncap = cap ? cap * 2 : 8192;
            char *p = realloc(h->source, ncap);
            if (p == NULL)
                return lx_failf(L, "ENOMEM", "%s: out of memory reading the file", path);
            h->source = p;
            cap = ncap;
        }
        size_t n = fread(h->source + len, 1, cap - len, h->file);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(h->file)) {
        int err = errno;
        return lx_failf(L, xerr_errno_code(err), "%s: %s", path, strerror(err));
    }
    fclose(h->file);
    h->file = NULL;
    if (len > limit)
        return lx_failf(L, "LIMIT_MEMORY", "%s: the file is larger than the memory limit", path);
    const char *chunkname = lua_pushfstring(L, "@%s", path);
    return sb_run_in_child(L, &h->child, h->source, len, chunkname, &o);
}

/* sandbox._read_reply(bytes [, max_memory]) -> what run makes of a sandbox process's reply:
 * for the specs, which feed it hostile bytes. */
static int l_read_reply(lua_State *L)
{
    size_t len;
    const char *reply = luaL_checklstring(L, 1, &len);
    lua_Integer max_memory = luaL_optinteger(L, 2, DEFAULT_MAX_MEMORY);
    luaL_argcheck(L, max_memory >= 0, 2, "a size expected");
    int n = sb_push_reply(L, reply, len, (size_t)max_memory);
    return n ? n : lx_failf(L, "CRASHED", "the sandbox process sent a malformed reply");
}

int luaopen_xlua_sandbox(lua_State *L)
{
    if (luaL_newmetatable(L, HANDLE_MT)) {
        lua_pushcfunction(L, handle_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, handle_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_run);
    lua_setfield(L, -2, "run");
    lua_pushcfunction(L, l_run_file);
    lua_setfield(L, -2, "run_file");
    lua_pushcfunction(L, l_read_reply);
    lua_setfield(L, -2, "_read_reply");
    lx_setint(L, "DEFAULT_MAX_INSTRUCTIONS", DEFAULT_MAX_INSTRUCTIONS);
    lx_setint(L, "DEFAULT_MAX_MEMORY", DEFAULT_MAX_MEMORY);
    lua_pushnumber(L, DEFAULT_MAX_TIME);
    lua_setfield(L, -2, "DEFAULT_MAX_TIME");
    lx_setint(L, "MAX_DEPTH", MAX_DEPTH);
    lx_setint(L, "MAX_ENTRIES", MAX_ENTRIES);
    return 1;
}
