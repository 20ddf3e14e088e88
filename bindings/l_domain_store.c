/* bindings/l_domain_store.c: the config store's several-keys methods of xlua.domain handles,
 * one load (and one write) of the store where the backend can (issue 14):
 * h:store_get_many(domid, {key, ...}) -> {key = value} (absent keys left out) | nil, msg, code
 * h:store_put_many(domid, {key = value | false}) -> true | nil, msg, code (false removes) */
#include "l_domain.h"

#include <stdlib.h>

/* The keys of a list (get) or of a map (put), checked before any C memory is taken; they stay
 * alive in the table at t. */
static size_t check_keys(lua_State *L, int t, int map, const char ***keys, const void ***values,
                         size_t **lens)
{
    luaL_checktype(L, t, LUA_TTABLE);
    size_t n = 0;
    if (map) {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            n++;
        }
    } else {
        n = (size_t)luaL_len(L, t);
    }
    /* one userdata for the arrays: collected with the call's stack, whatever raises */
    size_t each = sizeof(char *) + sizeof(void *) + sizeof(size_t);
    char *mem = lua_newuserdatauv(L, n ? n * each : 1, 0);
    *keys = (const char **)mem;
    *values = (const void **)(mem + n * sizeof(char *));
    *lens = (size_t *)(mem + n * (sizeof(char *) + sizeof(void *)));
    size_t i = 0;
    if (map) {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_argerror(L, t, "keys must be strings");
            struct xerr e = { 0 };
            const char *k = lua_tostring(L, -2);
            if (dom_check_key(k, &e) < 0)
                luaL_argerror(L, t, e.message);
            if (lua_type(L, -1) == LUA_TSTRING) {
                (*values)[i] = lua_tolstring(L, -1, &(*lens)[i]);
            } else if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
                (*values)[i] = NULL;
                (*lens)[i] = 0;
            } else {
                luaL_argerror(L, t, "values must be strings or false");
            }
            (*keys)[i++] = k;
            lua_pop(L, 1);
        }
    } else {
        for (; i < n; i++) {
            if (lua_geti(L, t, (lua_Integer)i + 1) != LUA_TSTRING)
                luaL_argerror(L, t, "keys must be strings");
            struct xerr e = { 0 };
            const char *k = lua_tostring(L, -1);
            if (dom_check_key(k, &e) < 0)
                luaL_argerror(L, t, e.message);
            lua_pop(L, 1);      /* the string stays alive in the table */
            (*keys)[i] = k;
        }
    }
    return n;
}

static int l_store_get_many(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char **keys;
    const void **unused;
    size_t *lens;
    size_t n = check_keys(L, 3, 0, &keys, &unused, &lens);
    struct lx_autofree *held = lx_autofree_new(L);
    char **values = calloc(n ? n : 1, sizeof *values);
    if (!values)
        return luaL_error(L, "out of memory");
    held->p = values;
    held->n = n;
    held->strv = 1;
    struct xerr e = { 0 };
    if (dom_store_get_many(b, domid, n, keys, values, lens, &e) < 0)
        return lx_fail(L, &e);
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        if (!values[i])
            continue;
        lua_pushlstring(L, values[i], lens[i]);
        lua_setfield(L, -2, keys[i]);
    }
    lx_autofree_now(held);
    return 1;
}

static int l_store_put_many(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char **keys;
    const void **values;
    size_t *lens;
    size_t n = check_keys(L, 3, 1, &keys, &values, &lens);
    struct xerr e = { 0 };
    return lx_done(L, dom_store_put_many(b, domid, n, keys, values, lens, &e), &e);
}

void lx_domain_store_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"store_get_many", l_store_get_many},
        {"store_put_many", l_store_put_many},
        {NULL, NULL},
    };
    luaL_setfuncs(L, methods, 0);
}
