/* bindings/sandbox/plain.c: plain data (strings, numbers, booleans, nested tables): checking a
 * value where it lives, with its bounds, and copying it from one Lua state to another. */
#include "sandbox.h"

#include <stdio.h>

static void format_path(lua_State *F, const struct walk *w, int depth, char *out, size_t outsz)
{
    size_t n = 0;
    out[0] = '\0';
    for (int d = 0; d < depth && d <= MAX_DEPTH && n + 1 < outsz; d++) {
        int k = w->keys[d];
        int len;
        if (lua_type(F, k) == LUA_TSTRING)
            len = snprintf(out + n, outsz - n, d ? ".%s" : "%s", lua_tostring(F, k));
        else if (lua_isinteger(F, k))
            len = snprintf(out + n, outsz - n, "[%lld]", (long long)lua_tointeger(F, k));
        else if (lua_type(F, k) == LUA_TNUMBER)
            len = snprintf(out + n, outsz - n, "[%g]", (double)lua_tonumber(F, k));
        else
            len = snprintf(out + n, outsz - n, "[a %s]", luaL_typename(F, k));
        if (len < 0)
            break;
        n += (size_t)len;
    }
}

static int walk_fail(lua_State *F, struct walk *w, int depth, const char *code, const char *msg)
{
    char path[256];
    format_path(F, w, depth, path, sizeof path);
    w->code = code;
    return luaL_error(F, "%s: %s: %s", w->what, path[0] ? path : "the result", msg);
}

static void walk_count(lua_State *F, struct walk *w, int depth, size_t bytes)
{
    if (++w->entries > MAX_ENTRIES)
        walk_fail(F, w, depth, "LIMIT_RESULT", "more tables and keys than a config may hold");
    if (bytes > w->max_bytes - w->bytes)
        walk_fail(F, w, depth, "LIMIT_RESULT", "more string bytes than the memory limit");
    w->bytes += bytes;
}

void sb_check_value(lua_State *F, int idx, int depth, struct walk *w)
{
    char msg[96];
    switch (lua_type(F, idx)) {
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
        return;
    case LUA_TSTRING:
        walk_count(F, w, depth, lua_rawlen(F, idx));
        return;
    case LUA_TTABLE:
        break;
    default:
        snprintf(msg, sizeof msg, "a %s is not plain data", luaL_typename(F, idx));
        walk_fail(F, w, depth, "BADVALUE", msg);
    }
    if (depth >= MAX_DEPTH)
        walk_fail(F, w, depth, "LIMIT_RESULT", "tables nested too deep");
    luaL_checkstack(F, 4, "tables nested too deep");
    lua_pushvalue(F, idx);
    if (lua_rawget(F, w->visiting) != LUA_TNIL)
        walk_fail(F, w, depth, "BADVALUE", "a table that contains itself (a cycle)");
    lua_pop(F, 1);
    lua_pushvalue(F, idx);
    lua_pushboolean(F, 1);
    lua_rawset(F, w->visiting);
    walk_count(F, w, depth, 0);
    lua_pushnil(F);
    while (lua_next(F, idx)) { /* raw: no __pairs, no __index */
        int key = lua_gettop(F) - 1;
        w->keys[depth] = key;
        if (lua_type(F, key) == LUA_TSTRING)
            walk_count(F, w, depth + 1, lua_rawlen(F, key));
        else if (lua_isinteger(F, key))
            walk_count(F, w, depth + 1, 0);
        else {
            snprintf(msg, sizeof msg, "a key must be a string or an integer, not a %s",
                     lua_type(F, key) == LUA_TNUMBER ? "float" : luaL_typename(F, key));
            walk_fail(F, w, depth + 1, "BADVALUE", msg);
        }
        sb_check_value(F, key + 1, depth + 1, w);
        lua_pop(F, 1);
    }
    lua_pushvalue(F, idx);
    lua_pushnil(F);
    lua_rawset(F, w->visiting);
}

/* Copy a value check_value accepted. Only `to` can raise (the caller reserved stack space in
 * `from`: 2 slots a level), so reading `from` never leaves it half-way through an error. */
void sb_copy_value(lua_State *from, int idx, lua_State *to)
{
    switch (lua_type(from, idx)) {
    case LUA_TBOOLEAN:
        lua_pushboolean(to, lua_toboolean(from, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(from, idx))
            lua_pushinteger(to, lua_tointeger(from, idx));
        else
            lua_pushnumber(to, lua_tonumber(from, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(from, idx, &len);
        lua_pushlstring(to, s, len);
        break;
    }
    case LUA_TTABLE:
        lua_createtable(to, 0, 0);
        lua_pushnil(from);
        while (lua_next(from, idx)) {
            int key = lua_gettop(from) - 1;
            sb_copy_value(from, key, to);
            sb_copy_value(from, key + 1, to);
            lua_rawset(to, -3);
            lua_pop(from, 1);
        }
        break;
    default:
        lua_pushnil(to); /* unreachable: check_value refused it */
        break;
    }
}

