/* bindings/l_domain_xs.c: the xlua.domain handle's xenstore connection (core/domain/dom_xs.h);
 * lua/xlua/xs.lua builds the xlua.xs module (transactions with retry, watches) on it.
 *
 * h:xs()                  -> conn | nil, msg, "NOXEN"
 * conn:read(path [, tx])  -> value | nil, msg, "ENOENT"
 * conn:write(path, value [, tx]), conn:mkdir(path [, tx]), conn:rm(path [, tx]) -> true | ...
 * conn:directory(path [, tx]) -> {name, ...}
 * conn:get_perms(path [, tx]) -> {"n0", "r5", ...};  conn:set_perms(path, perms [, tx])
 * conn:tx_start()         -> tx (an integer);  conn:tx_end(tx [, abort]) -> true | nil, msg,
 *                            "EAGAIN" (run it again)
 * conn:watch(path, token), conn:unwatch(path, token) -> true | nil, msg, code
 * conn:read_watch([timeout_ms]) -> path, token | false (time ran out) | nil, msg, code
 * conn:close()            (also __close and __gc)
 * A bad path is an error value (EINVAL), not a raise: paths come from people. */
#include "l_domain.h"

#include <stdlib.h>
#include <string.h>

#include "domain/dom_xs.h"

#define CONN "xlua.domain.xs"

struct lconn {
    struct dom_xs *x;          /* NULL: closed */
};

static struct dom_xs *check_conn(lua_State *L)
{
    struct lconn *c = luaL_checkudata(L, 1, CONN);
    if (!c->x)
        luaL_error(L, "attempt to use a closed xenstore connection");
    lua_getiuservalue(L, 1, 1);
    int open = lx_backend_is_open(L, -1);
    lua_pop(L, 1);
    if (!open) {
        dom_xs_close(c->x);
        c->x = NULL;
        luaL_error(L, "the domain handle of this xenstore connection is closed");
    }
    return c->x;
}

static dom_xs_tx opt_tx(lua_State *L, int idx)
{
    lua_Integer t = luaL_optinteger(L, idx, 0);
    luaL_argcheck(L, t >= 0 && t <= (lua_Integer)UINT32_MAX, idx, "not a transaction");
    return (dom_xs_tx)t;
}

static int l_conn_close(lua_State *L)
{
    struct lconn *c = luaL_checkudata(L, 1, CONN);
    dom_xs_close(c->x);
    c->x = NULL;
    return 0;
}

static int l_read(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    dom_xs_tx t = opt_tx(L, 3);
    char *v;
    size_t n;
    struct xerr e = { 0 };
    if (dom_xs_read(x, t, path, &v, &n, &e) < 0)
        return lx_fail(L, &e);
    lua_pushlstring(L, v, n);  /* may raise on memory: v is lost then, as liolib accepts */
    free(v);
    return 1;
}

static int l_write(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    size_t n;
    const char *v = luaL_checklstring(L, 3, &n);
    dom_xs_tx t = opt_tx(L, 4);
    struct xerr e = { 0 };
    return lx_done(L, dom_xs_write(x, t, path, v, n, &e), &e);
}

static int l_mkdir(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    struct xerr e = { 0 };
    return lx_done(L, dom_xs_mkdir(x, opt_tx(L, 3), path, &e), &e);
}

static int l_rm(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    struct xerr e = { 0 };
    return lx_done(L, dom_xs_rm(x, opt_tx(L, 3), path, &e), &e);
}

static int l_directory(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    dom_xs_tx t = opt_tx(L, 3);
    char **names;
    size_t n;
    struct xerr e = { 0 };
    lua_createtable(L, 16, 0);     /* before the C call: nothing can raise after it */
    luaL_checkstack(L, 4, NULL);
    if (dom_xs_directory(x, t, path, &names, &n, &e) < 0)
        return lx_fail(L, &e);
    /* Copy into Lua: a memory error here would leak names, as Lua's own lists accept. */
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    dom_strv_free(names, n);
    return 1;
}

static int l_get_perms(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    dom_xs_tx t = opt_tx(L, 3);
    struct dom_xs_perm *p;
    size_t n;
    struct xerr e = { 0 };
    lua_createtable(L, 4, 0);
    if (dom_xs_get_perms(x, t, path, &p, &n, &e) < 0)
        return lx_fail(L, &e);
    for (size_t i = 0; i < n; i++) {
        lua_pushfstring(L, "%c%d", p[i].perm, (int)p[i].domid);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(p);
    return 1;
}

static int l_set_perms(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    dom_xs_tx t = opt_tx(L, 4);
    lua_Integer n = luaL_len(L, 3);
    luaL_argcheck(L, n >= 1 && n <= 256, 3, "1 to 256 permissions");
    struct dom_xs_perm p[256];
    struct xerr e = { 0 };
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        const char *s = lua_tostring(L, -1);
        if (!s)
            return luaL_argerror(L, 3, "permissions are strings such as \"r5\"");
        if (dom_xs_perm_parse(s, &p[i - 1], &e) < 0)
            return lx_fail(L, &e);
        lua_pop(L, 1);
    }
    return lx_done(L, dom_xs_set_perms(x, t, path, p, (size_t)n, &e), &e);
}

static int l_tx_start(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    dom_xs_tx t;
    struct xerr e = { 0 };
    if (dom_xs_tx_start(x, &t, &e) < 0)
        return lx_fail(L, &e);
    lua_pushinteger(L, (lua_Integer)t);
    return 1;
}

static int l_tx_end(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    dom_xs_tx t = opt_tx(L, 2);
    luaL_argcheck(L, t != 0, 2, "not a transaction");
    struct xerr e = { 0 };
    return lx_done(L, dom_xs_tx_end(x, t, lua_toboolean(L, 3), &e), &e);
}

static int l_watch(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    const char *token = lx_check_cstring(L, 3);
    struct xerr e = { 0 };
    return lx_done(L, dom_xs_watch(x, path, token, &e), &e);
}

static int l_unwatch(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    const char *path = lx_check_cstring(L, 2);
    const char *token = lx_check_cstring(L, 3);
    struct xerr e = { 0 };
    return lx_done(L, dom_xs_unwatch(x, path, token, &e), &e);
}

static int l_read_watch(lua_State *L)
{
    struct dom_xs *x = check_conn(L);
    lua_Integer ms = luaL_optinteger(L, 2, -1);
    luaL_argcheck(L, ms >= -1 && ms <= 0x7FFFFFFF, 2, "a timeout in ms, or -1");
    luaL_checkstack(L, 3, NULL);
    char *path, *token;
    struct xerr e = { 0 };
    int rc = dom_xs_read_watch(x, (int)ms, &path, &token, &e);
    if (rc < 0)
        return lx_fail(L, &e);
    if (rc == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushstring(L, path);
    lua_pushstring(L, token);
    free(path);
    free(token);
    return 2;
}

/* h:xs() -> conn */
static int l_xs(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct lconn *c = lua_newuserdatauv(L, sizeof *c, 1);
    c->x = NULL;
    luaL_setmetatable(L, CONN);
    lua_pushvalue(L, 1);           /* the handle lives as long as its connection */
    lua_setiuservalue(L, -2, 1);
    struct xerr e = { 0 };
    if (dom_xs_open(b, &c->x, &e) < 0)
        return lx_fail(L, &e);
    return 1;
}

void lx_domain_xs_methods(lua_State *L)
{
    static const luaL_Reg conn[] = {
        {"read", l_read},
        {"write", l_write},
        {"mkdir", l_mkdir},
        {"rm", l_rm},
        {"directory", l_directory},
        {"get_perms", l_get_perms},
        {"set_perms", l_set_perms},
        {"tx_start", l_tx_start},
        {"tx_end", l_tx_end},
        {"watch", l_watch},
        {"unwatch", l_unwatch},
        {"read_watch", l_read_watch},
        {"close", l_conn_close},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, CONN)) {
        luaL_newlib(L, conn);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_conn_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_conn_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_xs);
    lua_setfield(L, -2, "xs");
}
