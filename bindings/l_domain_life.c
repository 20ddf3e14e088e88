/* bindings/l_domain_life.c: the xlua.domain handle's methods for a domain's life:
 *
 * h:request(domid, "poweroff"|"reboot" [, fallback]) -> true | nil, msg, code
 *                         (xl shutdown / reboot; fallback: ACPI for an HVM guest without PV
 *                         drivers, xl's -F; NOPARAVIRT without it)
 * h:sysrq(domid, key)     -> true | nil, msg, code
 * h:trigger(domid, "power"|"sleep"|"nmi"|"init"|"reset"|"s3resume" [, vcpu]) -> true | ...
 * h:wait_shutdown(domid [, timeout_ms]) -> info (state "shutdown", reason) | false (the time ran
 *                         out) | nil, msg, "NODOMAIN" (gone) | nil, msg, "INTERRUPTED" (a signal)
 * h:preserve(domid, suffix, uuid) -> true: the dead domain kept as NAME<suffix> with that uuid
 * h:core_dump(domid, path) -> true: its memory in path (mode 0600, written atomically)
 * h:soft_reset(domid)     -> true: a domain shut down for a soft reset runs again (same domid)
 * h:run_dir()             -> the backend's directory for locks (and the sim's logs)
 * h:console(domid [, "pv"|"serial" [, num]]) -> true (sim: its text written to stdout) | nil,
 *                         msg, code; on libxl xenconsole replaces this process */
#include "l_domain.h"

#include <stdio.h>
#include <string.h>

static int l_request(lua_State *L)
{
    static const char *const names[] = {"poweroff", "reboot", NULL};
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    enum dom_request req = luaL_checkoption(L, 3, NULL, names) == 1 ? DOM_REQ_REBOOT
                                                                    : DOM_REQ_POWEROFF;
    int fallback = lua_toboolean(L, 4);
    struct xerr e = { 0 };
    return lx_done(L, dom_request(b, domid, req, fallback, &e), &e);
}

static int l_trigger(lua_State *L)
{
    static const char *const names[] = {"power", "sleep", "nmi", "init", "reset", "s3resume",
                                        NULL};
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    int t = luaL_checkoption(L, 3, NULL, names) + 1;
    lua_Integer vcpu = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, vcpu >= 0 && vcpu < 4096, 4, "not a vcpu");
    struct xerr e = { 0 };
    return lx_done(L, dom_trigger(b, domid, (enum dom_trigger)t, (uint32_t)vcpu, &e), &e);
}

static int l_sysrq(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    size_t len;
    const char *key = luaL_checklstring(L, 3, &len);
    luaL_argcheck(L, len == 1, 3, "a sysrq key is one character");
    struct xerr e = { 0 };
    return lx_done(L, dom_sysrq(b, domid, key[0], &e), &e);
}

static int l_wait_shutdown(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    lua_Integer timeout = luaL_optinteger(L, 3, -1);
    luaL_argcheck(L, timeout >= -1 && timeout <= 0x7fffffff, 3, "not a timeout in ms");
    struct dom_info i;
    struct xerr e = { 0 };
    int rc = dom_wait_shutdown(b, domid, (int)timeout, &i, &e);
    if (rc < 0)
        return lx_fail(L, &e);
    if (rc == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lx_push_dom_info(L, &i);
    return 1;
}

static int l_preserve(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *suffix = lx_check_cstring(L, 3);
    const char *uuid = lx_check_cstring(L, 4);
    struct xerr e = { 0 };
    return lx_done(L, dom_preserve(b, domid, suffix, uuid, &e), &e);
}

static int l_core_dump(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *path = lx_check_cstring(L, 3);
    struct xerr e = { 0 };
    return lx_done(L, dom_core_dump(b, domid, path, &e), &e);
}

static int l_console(lua_State *L)
{
    static const char *const types[] = {"primary", "pv", "serial", NULL};
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    int type = luaL_checkoption(L, 3, "primary", types);
    lua_Integer num = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, num >= 0 && num < 1024, 4, "not a console number");
    fflush(stdout);
    struct xerr e = { 0 };
    return lx_done(L, dom_console(b, domid, (enum dom_console)type, (int)num, 1, &e), &e);
}

static int l_soft_reset(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    struct xerr e = { 0 };
    return lx_done(L, dom_soft_reset(b, domid, &e), &e);
}

static int l_run_dir(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    lua_pushstring(L, b->ops->run_dir(b));
    return 1;
}

void lx_domain_life_methods(lua_State *L)
{
    static const luaL_Reg life[] = {
        {"request", l_request},
        {"sysrq", l_sysrq},
        {"trigger", l_trigger},
        {"wait_shutdown", l_wait_shutdown},
        {"preserve", l_preserve},
        {"core_dump", l_core_dump},
        {"soft_reset", l_soft_reset},
        {"run_dir", l_run_dir},
        {"console", l_console},
        {NULL, NULL},
    };
    luaL_setfuncs(L, life, 0);
}
