/* bindings/sandbox/run.c: one run of a config chunk, in the sandbox process: a fresh limited
 * state, its setup, the protected call, and collecting the result as checked plain data. */
#include "sandbox.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Extra memory for collecting the result after the chunk ended (no config code runs then). */
#define EXTRACT_HEADROOM (1024 * 1024)

#define PRISTINE_KEY "xlua.sandbox.pristine"

struct setup {
    lua_State *host;
    int env;
    int getenv;
};

/* Protected, in the sandbox: the libraries a config sees, a snapshot of the pristine globals,
 * then opts.env as globals. */
static int sandbox_setup(lua_State *S)
{
    const struct setup *c = lua_touserdata(S, 1);
    luaL_checkstack(S, 3 * MAX_DEPTH + 10, "no stack space");
    sb_open_libs(S, c->getenv);
    lua_pushglobaltable(S);
    int g = lua_gettop(S);

    lua_newtable(S);
    lua_pushnil(S);
    while (lua_next(S, g)) {
        lua_pushvalue(S, -2);
        lua_insert(S, -2);
        lua_rawset(S, -4);
    }
    lua_setfield(S, LUA_REGISTRYINDEX, PRISTINE_KEY);

    if (c->env) {
        /* The host's stack was reserved and the env checked by the caller. */
        lua_pushnil(c->host);
        while (lua_next(c->host, c->env)) {
            int key = lua_gettop(c->host) - 1;
            sb_copy_value(c->host, key, S);
            sb_copy_value(c->host, key + 1, S);
            lua_rawset(S, g);
            lua_pop(c->host, 1);
        }
    }
    return 0;
}

/* Message handler in the sandbox: a string for every error, made there. An error object's
 * __tostring runs inside the sandbox, under its budget; the host only ever sees a string. */
static int sandbox_message_handler(lua_State *S)
{
    int t = lua_type(S, 1);
    if (t == LUA_TSTRING)
        return 1;
    if (t == LUA_TNUMBER) {
        lua_tostring(S, 1);
        lua_settop(S, 1);
        return 1;
    }
    /* Not once the run is tripped: the hook may be what raised, and it is off in here. */
    if (!sb_of(S)->tripped && luaL_callmeta(S, 1, "__tostring") && lua_type(S, -1) == LUA_TSTRING)
        return 1;
    lua_pushfstring(S, "(error object is a %s value)", luaL_typename(S, 1));
    return 1;
}

/* Protected, in the sandbox, after the chunk ended: (returned value, walk) -> the result table,
 * checked to be plain data. Runs no config code: raw access only. */
static int sandbox_collect(lua_State *S)
{
    struct walk *w = lua_touserdata(S, 2);
    lua_settop(S, 1);
    int t = lua_type(S, 1);
    if (t == LUA_TNIL) {
        /* Globals style: every global the chunk set or changed, but not functions it defined
         * at the top level (helpers, not settings). */
        lua_newtable(S);
        int out = lua_gettop(S);
        lua_rawgeti(S, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        int g = lua_gettop(S);
        lua_getfield(S, LUA_REGISTRYINDEX, PRISTINE_KEY);
        int pristine = lua_gettop(S);
        lua_pushnil(S);
        while (lua_next(S, g)) {
            if (lua_type(S, -1) != LUA_TFUNCTION) {
                lua_pushvalue(S, -2);
                lua_rawget(S, pristine);
                int same = lua_rawequal(S, -1, -2);
                lua_pop(S, 1);
                if (!same) {
                    lua_pushvalue(S, -2);
                    lua_insert(S, -2);
                    lua_rawset(S, out);
                    continue;
                }
            }
            lua_pop(S, 1);
        }
        lua_settop(S, out);
    } else if (t != LUA_TTABLE) {
        char msg[96];
        snprintf(msg, sizeof msg, "a config returns a table or nothing, not a %s",
                 luaL_typename(S, 1));
        w->code = "BADVALUE";
        return luaL_error(S, "%s: %s", w->what, msg);
    }
    int result = lua_gettop(S);
    lua_newtable(S);
    w->visiting = lua_gettop(S);
    sb_check_value(S, result, 0, w);
    lua_settop(S, result);
    return 1;
}

const char *sb_display_name(const char *chunkname)
{
    return (chunkname[0] == '@' || chunkname[0] == '=') ? chunkname + 1 : chunkname;
}

static int fail(struct outcome *out, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->text, sizeof out->text, fmt, ap);
    va_end(ap);
    out->code = code;
    out->message = out->text;
    out->message_len = n < 0 ? 0 : (size_t)n < sizeof out->text ? (size_t)n : sizeof out->text - 1;
    return 0;
}

/* The message at the top of the sandbox's stack, without converting anything there. */
static int fail_with_message(struct outcome *out, const char *code, lua_State *S)
{
    out->code = code;
    if (lua_type(S, -1) == LUA_TSTRING) {
        out->message = lua_tolstring(S, -1, &out->message_len);
    } else {
        out->message = "(error object is not a string)";
        out->message_len = strlen(out->message);
    }
    return 0;
}

static int fail_limit_memory(struct outcome *out, const char *name, const struct sandbox *sb,
                             const struct run_opts *o)
{
    /* Without the allocator's cap, what ran out is the address space the OS allows. */
    size_t limit = sb->use_hook ? sb->mem_limit : (size_t)o->max_memory;
    return fail(out, "LIMIT_MEMORY", "%s: memory limit (%zu bytes) exceeded", name, limit);
}

/* A tripped run fails for its limit whatever else happened: the config may have caught the
 * error, or the allocator refused memory because of it. */
static int tripped(struct outcome *out, const char *name, const struct sandbox *sb)
{
    const char *where = sb->where[0] ? sb->where : name;
    const char *sep = sb->where[0] ? "" : ": ";
    if (sb->tripped == TRIP_TIME)
        fail(out, "LIMIT_TIME", "%s%sCPU time limit (%g s) exceeded", where, sep, sb->max_time);
    else if (sb->tripped == TRIP_STEPS)
        fail(out, "LIMIT_INSTRUCTIONS", "%s%sinstruction limit (%lld) exceeded", where, sep,
             (long long)sb->max_steps);
    return sb->tripped != TRIP_NONE;
}

int sb_run(struct sandbox *sb, lua_State *host, const char *source, size_t len,
           const char *chunkname, const struct run_opts *o, struct outcome *out)
{
    const char *name = sb_display_name(chunkname);
    memset(out, 0, sizeof *out);
    sb->use_hook = o->in_process_limits;
    sb->mem_limit = sb->use_hook ? (size_t)o->max_memory : SIZE_MAX;
    sb->max_steps = sb->use_hook ? o->max_instructions : LUA_MAXINTEGER;
    sb->hook_every = o->max_instructions < HOOK_EVERY ? (int)o->max_instructions : HOOK_EVERY;
    sb->max_time = sb->use_hook ? o->max_time : 0;
    sb_start_clock(sb);
    lua_State *S = sb->S = lua_newstate(sb_alloc, sb);
    if (S == NULL)
        return fail_limit_memory(out, name, sb, o);

    struct setup setup = {host, o->env, o->getenv};
    lua_pushcfunction(S, sandbox_setup);
    lua_pushlightuserdata(S, &setup);
    int status = lua_pcall(S, 1, 0, 0);
    if (tripped(out, name, sb))
        return 0;
    if (status != LUA_OK) /* setup only fails for memory (luaL_checkstack says "stack overflow") */
        return fail_limit_memory(out, name, sb, o);

    lua_pushcfunction(S, sandbox_message_handler);
    status = luaL_loadbufferx(S, source, len, chunkname, "t");
    if (tripped(out, name, sb))
        return 0;
    if (status == LUA_ERRMEM)
        return fail_limit_memory(out, name, sb, o);
    if (status != LUA_OK)
        return fail_with_message(out, "SYNTAX", S);

    sb_set_hook(S, sb);
    sb->charging = 1;
    status = lua_pcall(S, 0, 1, 1);
    sb->charging = 0;
    lua_sethook(S, NULL, 0, 0);
    if (tripped(out, name, sb))
        return 0;
    if (status == LUA_ERRMEM)
        return fail_limit_memory(out, name, sb, o);
    if (status != LUA_OK)
        return fail_with_message(out, "RUNTIME", S);

    struct walk w = {.what = name, .max_bytes = (size_t)o->max_memory};
    if (sb->mem_limit <= SIZE_MAX - EXTRACT_HEADROOM)
        sb->mem_limit += EXTRACT_HEADROOM;
    lua_pushcfunction(S, sandbox_collect);
    lua_insert(S, -2);
    lua_pushlightuserdata(S, &w);
    status = lua_pcall(S, 2, 1, 0);
    if (tripped(out, name, sb))
        return 0;
    if (status != LUA_OK && w.code)
        return fail_with_message(out, w.code, S);
    /* Collecting only fails otherwise for memory; sending the result walks it again. */
    if (status != LUA_OK || !lua_checkstack(S, 2 * MAX_DEPTH + 10))
        return fail_limit_memory(out, name, sb, o);
    return 1;
}
