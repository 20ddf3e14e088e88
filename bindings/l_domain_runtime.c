/* bindings/l_domain_runtime.c: the xlua.domain handle's methods that change a running domain
 * (each returns true, or nil, msg, code; EINVAL: a value the domain cannot take, EXISTS: the
 * device is there already, ENODEV: no such device, NODOMAIN, EPERM (Domain-0), LIBXL):
 *
 * h:mem_set(domid, kb)        the balloon target (xl mem-set)
 * h:mem_max(domid, kb)        the static maximum (xl mem-max)
 * h:vcpu_set(domid, n)        vcpus 0..n-1 online, the rest offline (xl vcpu-set)
 * h:vcpu_pin(domid, vcpu|-1, hard, soft)  hard / soft affinity as lists of host cpu numbers
 *                             (nil: as it is); vcpu -1: every vcpu (xl vcpu-pin)
 * h:vcpu_list(domid)          -> { {id, online, running, blocked, cpu (-1 offline),
 *                             cpu_time_ns, hard = {cpu, ...}, soft = {cpu, ...}}, ... }
 * h:device_add(domid, "disk"|"nic"|"pci", json)   hotplug a device given as libxl JSON
 * h:device_remove(domid, kind, id [, force])  id: a disk's vdev, a nic's devid or mac, a PCI
 *                             device's "DDDD:BB:DD.F"
 * h:device_list(domid, kind)  -> JSON text: [{"device": {...}, "info": {...}}, ...]
 * h:cd_insert(domid, json)    a cdrom's new medium (empty pdev_path: eject)
 * h:sched_credit2(domid [, {weight =, cap =}]) -> {weight =, cap =} after the change */
#include "l_domain.h"

#include <stdlib.h>
#include <string.h>

#define RUNTIME_FREE "xlua.domain.runtime_free"

/* A malloc'd result held by a userdata until it is Lua values, so a memory error raised while
 * they are built cannot leak it. */
static int held_gc(lua_State *L)
{
    void **p = luaL_checkudata(L, 1, RUNTIME_FREE);
    free(*p);
    *p = NULL;
    return 0;
}

static void **hold(lua_State *L)
{
    void **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    if (luaL_newmetatable(L, RUNTIME_FREE)) {
        lua_pushcfunction(L, held_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return p;
}

static void release(void **p)
{
    free(*p);
    *p = NULL;
}

static int l_mem_set(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    lua_Integer kb = luaL_checkinteger(L, 3);
    luaL_argcheck(L, kb >= 0, 3, "not a size in KiB");
    struct xerr e = { 0 };
    return lx_done(L, dom_set_memory(b, domid, (uint64_t)kb, &e), &e);
}

static int l_mem_max(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    lua_Integer kb = luaL_checkinteger(L, 3);
    luaL_argcheck(L, kb >= 0, 3, "not a size in KiB");
    struct xerr e = { 0 };
    return lx_done(L, dom_set_max_memory(b, domid, (uint64_t)kb, &e), &e);
}

static int l_vcpu_set(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 0 && n <= DOM_HOST_MAX_CPUS, 3, "not a number of vcpus");
    struct xerr e = { 0 };
    return lx_done(L, dom_set_vcpus(b, domid, (uint32_t)n, &e), &e);
}

/* A list of host cpu numbers at idx into map; 0 when idx is nil. */
static int check_cpus(lua_State *L, int idx, uint8_t *map)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(map, 0, DOM_CPUMAP_BYTES);
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        int ok;
        lua_Integer cpu = lua_tointegerx(L, -1, &ok);
        luaL_argcheck(L, ok && cpu >= 0 && cpu < DOM_HOST_MAX_CPUS, idx,
                      "a list of cpu numbers expected");
        map[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
        lua_pop(L, 1);
    }
    return 1;
}

static int l_vcpu_pin(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    lua_Integer vcpu = luaL_checkinteger(L, 3);
    luaL_argcheck(L, vcpu >= -1 && vcpu < DOM_HOST_MAX_CPUS, 3, "not a vcpu");
    lua_settop(L, 5);
    uint8_t *maps = lua_newuserdatauv(L, 2 * DOM_CPUMAP_BYTES, 0);
    int has_hard = check_cpus(L, 4, maps), has_soft = check_cpus(L, 5, maps + DOM_CPUMAP_BYTES);
    struct xerr e = { 0 };
    return lx_done(L, dom_pin_vcpu(b, domid, (int32_t)vcpu, has_hard ? maps : NULL,
                                   has_soft ? maps + DOM_CPUMAP_BYTES : NULL, &e), &e);
}

static void push_cpus(lua_State *L, const char *name, const uint8_t *map)
{
    lua_newtable(L);
    lua_Integer k = 0;
    for (int i = 0; i < DOM_HOST_MAX_CPUS; i++)
        if ((map[i / 8] >> (i % 8)) & 1) {
            lua_pushinteger(L, i);
            lua_rawseti(L, -2, ++k);
        }
    lua_setfield(L, -2, name);
}

static int l_vcpu_list(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    void **held = hold(L);
    struct dom_vcpu *v;
    size_t n;
    struct xerr e = { 0 };
    if (dom_vcpus(b, domid, &v, &n, &e) < 0)
        return lx_fail(L, &e);
    *held = v;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 8);
        lx_setint(L, "id", v[i].id);
        lx_setbool(L, "online", v[i].online);
        lx_setbool(L, "running", v[i].running);
        lx_setbool(L, "blocked", v[i].blocked);
        lx_setint(L, "cpu", v[i].cpu);
        lx_setint(L, "cpu_time_ns", (lua_Integer)v[i].cpu_time_ns);
        push_cpus(L, "hard", v[i].hard);
        push_cpus(L, "soft", v[i].soft);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    release(held);
    return 1;
}

static enum dom_device check_kind(lua_State *L, int idx)
{
    static const char *const kinds[] = {"disk", "nic", "pci", NULL};
    return (enum dom_device)luaL_checkoption(L, idx, NULL, kinds);
}

static int l_device_add(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    enum dom_device kind = check_kind(L, 3);
    const char *json = lx_check_cstring(L, 4);
    struct xerr e = { 0 };
    return lx_done(L, dom_device_add(b, domid, kind, json, &e), &e);
}

static int l_device_remove(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    enum dom_device kind = check_kind(L, 3);
    const char *id = lx_check_cstring(L, 4);
    int force = lua_toboolean(L, 5);
    struct xerr e = { 0 };
    return lx_done(L, dom_device_remove(b, domid, kind, id, force, &e), &e);
}

static int l_device_list(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    enum dom_device kind = check_kind(L, 3);
    void **held = hold(L);
    char *json;
    struct xerr e = { 0 };
    if (dom_devices(b, domid, kind, &json, &e) < 0)
        return lx_fail(L, &e);
    *held = json;
    lua_pushstring(L, json);
    release(held);
    return 1;
}

static int l_cd_insert(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *json = lx_check_cstring(L, 3);
    struct xerr e = { 0 };
    return lx_done(L, dom_cd_insert(b, domid, json, &e), &e);
}

static int l_sched_credit2(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    struct dom_sched set = { -1, -1 }, out = { 0, 0 };
    int setting = !lua_isnoneornil(L, 3);
    if (setting) {
        luaL_checktype(L, 3, LUA_TTABLE);
        set.weight = (int)lx_optfield_int(L, 3, "weight", -1, -1, 65535);
        set.cap = (int)lx_optfield_int(L, 3, "cap", -1, -1, 100 * DOM_HOST_MAX_CPUS);
    }
    struct xerr e = { 0 };
    if (dom_sched_credit2(b, domid, setting ? &set : NULL, &out, &e) < 0)
        return lx_fail(L, &e);
    lua_createtable(L, 0, 2);
    lx_setint(L, "weight", out.weight);
    lx_setint(L, "cap", out.cap);
    return 1;
}

void lx_domain_runtime_methods(lua_State *L)
{
    static const luaL_Reg runtime[] = {
        {"mem_set", l_mem_set},
        {"mem_max", l_mem_max},
        {"vcpu_set", l_vcpu_set},
        {"vcpu_pin", l_vcpu_pin},
        {"vcpu_list", l_vcpu_list},
        {"device_add", l_device_add},
        {"device_remove", l_device_remove},
        {"device_list", l_device_list},
        {"cd_insert", l_cd_insert},
        {"sched_credit2", l_sched_credit2},
        {NULL, NULL},
    };
    luaL_setfuncs(L, runtime, 0);
}
