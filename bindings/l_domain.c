/* bindings/l_domain.c: xlua.domain, the domain-operations interface (core/dom.h) as a Lua
 * handle over one backend, "sim" or "libxl".
 *
 * domain.choose([name])   -> "sim" | "libxl" | nil, msg, code   (name, else $XLUA_BACKEND,
 *                            else libxl on a Xen dom0 and sim elsewhere; NOXEN, EINVAL)
 * domain.open([name])     -> handle | nil, msg, code
 * h:backend()             -> "sim" | "libxl"
 * h:list()                -> {info, ...}, Domain-0 first. info = {domid, name, uuid,
 *                            state = "running"|"paused"|"shutdown"|"dying", type = "pv"|"pvh"|
 *                            "hvm", memory_kb, max_memory_kb, vcpus, digest (sim only)}
 * h:info(domid)           -> info | nil, msg, "NODOMAIN"
 * h:find(name_or_domid)   -> info | nil, msg, "NODOMAIN"   (a string of digits is a domid)
 * h:create{json=, name=, uuid=, type="pv", memory_kb=, max_memory_kb=, vcpus=, paused=false}
 *                         -> domid | nil, msg, code
 * h:destroy(domid), h:pause(domid), h:unpause(domid), h:rename(domid, name)
 *                         -> true | nil, msg, code
 * h:config(domid)         -> the domain's libxl JSON as it is now | nil, msg, code
 * h:save(domid, writer [, {live = bool, debug = bool, destroy = bool,
 *                           progress = function(done, total)}])
 *                         -> true | nil, msg, code. writer: an xlua.savefile.writer whose
 *                            header is written. The domain is left paused on success, as it
 *                            was on failure. debug: the backend's suspend debugging (libxl).
 *                            destroy: the caller destroys it next, so it may be left
 *                            suspended (libxl, as xl save). SUSPENDED: the stream is whole
 *                            but the domain stays suspended.
 * h:resume_saved(domid [, ledger]) -> true | nil, msg, code: a domain a save left suspended
 *                            is left paused by the save's pause, as without destroy.
 * h:restore{json=, name=, uuid=, type=, memory_kb=, max_memory_kb=, vcpus=, paused=,
 *           reader = xlua.savefile.reader after its optional data, progress = fn}
 *                         -> domid | nil, msg, code
 * h:store_put(domid, key, value) -> true;  h:store_get(domid, key) -> value | nil, msg, "ENOENT"
 * h:store_remove(domid, key) -> true (also when absent);  h:store_keys(domid) -> {key, ...}
 * h:store_get_many, h:store_put_many: several keys at once (l_domain_store.c)
 * h:host()                -> {total_memory_kb, free_memory_kb, cpus, online_cpus, max_cpus,
 *                             nr_nodes, cpu_nodes = {[cpu] = node}, and xl info's fields:
 *                             see l_domain_host.c}
 * h:xs()                  -> a xenstore connection (l_domain_xs.c)
 * h:lock(uuid, what [, role]) -> lock | nil, msg, "BUSY" (lock:unlock(), also __close and
 *                            __gc): the per-domain lock a save or restore holds; a role
 *                            ("monitor") is a lock of its own
 * save's options, unpause's and resume_saved's third argument and restore's table take a
 * ledger (see opt_ledger): {paused = false, suspended = false} / {domid = false}, updated in
 * the call that changed it.
 * h:close()               (also __close and __gc; safe to call twice)
 * Keys are [A-Za-z0-9_.-]+; a bad key, a bad domid or a wrong field type raises. An error
 * raised by a progress function cancels the operation (cleanly) and is raised again after. */
#include "lhelpers.h"

#include <stdlib.h>
#include <string.h>

#include "domain/dom.h"
#include "l_domain.h"
#include "l_savefile.h"

#define BACKEND "xlua.domain.backend"
#define AUTOFREE "xlua.domain.autofree"
#define LOCK "xlua.domain.lock"

struct lbackend {
    struct dom_backend *b;     /* NULL: closed */
    int busy;                  /* a save or restore is running: close() must not free b */
};

/* ---- C memory that must not leak when a Lua call raises (mpv's autofree) ---- */

void lx_autofree_now(struct lx_autofree *a)
{
    if (a->strv)
        dom_strv_free(a->p, a->n);
    else
        free(a->p);
    a->p = NULL;
    a->n = 0;
}

static int autofree_gc(lua_State *L)
{
    lx_autofree_now(luaL_checkudata(L, 1, AUTOFREE));
    return 0;
}

struct lx_autofree *lx_autofree_new(lua_State *L)
{
    struct lx_autofree *a = lua_newuserdatauv(L, sizeof *a, 0);
    memset(a, 0, sizeof *a);
    luaL_setmetatable(L, AUTOFREE);
    return a;
}

/* ---- arguments ---- */

struct dom_backend *lx_check_backend(lua_State *L)
{
    struct lbackend *lb = luaL_checkudata(L, 1, BACKEND);
    if (!lb->b)
        luaL_error(L, "attempt to use a closed domain backend");
    return lb->b;
}

int lx_backend_is_open(lua_State *L, int idx)
{
    struct lbackend *lb = luaL_checkudata(L, idx, BACKEND);
    return lb->b != NULL;
}

uint32_t lx_check_domid(lua_State *L, int idx)
{
    lua_Integer v = luaL_checkinteger(L, idx);
    luaL_argcheck(L, v >= 0 && v <= (lua_Integer)UINT32_MAX, idx, "not a domid");
    return (uint32_t)v;
}

static const char *check_key(lua_State *L, int idx)
{
    const char *key = luaL_checkstring(L, idx);
    struct xerr e = { 0 };
    if (dom_check_key(key, &e) < 0)
        luaL_argerror(L, idx, e.message);
    return key;
}

/* A string argument that C will read up to its NUL: one with a NUL inside would be cut
 * there ("a\0b" would name domain "a"), so it is refused. */
const char *lx_check_cstring(lua_State *L, int idx)
{
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    luaL_argcheck(L, strlen(s) == len, idx, "contains a NUL byte");
    return s;
}

/* t[field] as a string or NULL; the value stays on the stack (so the string stays alive). */
static const char *opt_string_field(lua_State *L, int t, const char *field)
{
    int type = lua_getfield(L, t, field);
    if (type == LUA_TNIL)
        return NULL;
    if (type != LUA_TSTRING)
        luaL_error(L, "field '%s' must be a string, not %s", field, luaL_typename(L, -1));
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len)
        luaL_error(L, "field '%s' contains a NUL byte", field);
    return s;
}

/* A ledger is a table the policy hands in and the binding updates in the same C call that
 * changed the domain, so a signal between the call and the policy's next statement cannot lose
 * track of a pause taken or a domain built: {paused = bool} for save and unpause, {domid = n}
 * for restore. The policy creates the fields, so setting them never allocates. */
static int opt_ledger(lua_State *L, int t)
{
    if (lua_isnoneornil(L, t))
        return 0;
    int type = lua_getfield(L, t, "ledger");
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (type != LUA_TTABLE)
        luaL_error(L, "field 'ledger' must be a table");
    return lua_gettop(L);
}

static uint64_t opt_size_field(lua_State *L, int t, const char *field)
{
    int type = lua_getfield(L, t, field);
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (type == LUA_TNIL)
        return 0;
    if (!isint || v < 0)
        luaL_error(L, "field '%s' must be a non-negative integer", field);
    return (uint64_t)v;
}

static int opt_bool_field(lua_State *L, int t, const char *field)
{
    int type = lua_getfield(L, t, field);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (type != LUA_TNIL && type != LUA_TBOOLEAN)
        luaL_error(L, "field '%s' must be a boolean", field);
    return b;
}

/* The create/restore table at t; strings it points to stay on the stack. */
static void check_create(lua_State *L, int t, struct dom_create *c)
{
    luaL_checktype(L, t, LUA_TTABLE);
    memset(c, 0, sizeof *c);
    c->json = opt_string_field(L, t, "json");
    c->name = opt_string_field(L, t, "name");
    c->uuid = opt_string_field(L, t, "uuid");
    const char *type = opt_string_field(L, t, "type");
    c->type = DOM_PV;
    if (type && dom_type_parse(type, &c->type) < 0)
        luaL_error(L, "field 'type' must be \"pv\", \"pvh\" or \"hvm\", not \"%s\"", type);
    c->memory_kb = opt_size_field(L, t, "memory_kb");
    c->max_memory_kb = opt_size_field(L, t, "max_memory_kb");
    uint64_t vcpus = opt_size_field(L, t, "vcpus");
    if (vcpus > 4096)
        luaL_error(L, "field 'vcpus' is out of range");
    c->vcpus = (uint32_t)vcpus;
    c->paused = opt_bool_field(L, t, "paused");
}

/* ---- progress: a Lua function called under pcall; an error cancels and is raised after ---- */

struct lprogress {
    lua_State *L;
    int fn;                    /* stack index of the function, 0: none */
    int raised;                /* the error value is on the top of the stack */
};

static int call_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct lprogress *p = ctx;
    lua_State *L = p->L;
    if (!p->fn || p->raised)
        return p->raised;
    if (!lua_checkstack(L, 4))
        return 0;
    lua_pushvalue(L, p->fn);
    lua_pushinteger(L, (lua_Integer)done);
    lua_pushinteger(L, (lua_Integer)total);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        p->raised = 1;
        return 1;
    }
    return 0;
}

static int progress_field(lua_State *L, int t)
{
    int type = lua_getfield(L, t, "progress");
    if (type == LUA_TNIL)
        return 0;
    if (type != LUA_TFUNCTION)
        luaL_error(L, "field 'progress' must be a function");
    return lua_gettop(L);
}

/* ---- results ---- */

void lx_push_dom_info(lua_State *L, const struct dom_info *i)
{
    lua_createtable(L, 0, 11);
    lx_setint(L, "domid", i->domid);
    lx_setstr(L, "name", i->name);
    lx_setstr(L, "uuid", i->uuid);
    lx_setstr(L, "state", dom_state_name(i->state));
    lx_setstr(L, "type", dom_type_name(i->type));
    lx_setint(L, "memory_kb", (lua_Integer)i->memory_kb);
    lx_setint(L, "max_memory_kb", (lua_Integer)i->max_memory_kb);
    lx_setint(L, "vcpus", i->vcpus);
    if (i->digest[0])
        lx_setstr(L, "digest", i->digest);
    if (i->reason != DOM_REASON_NONE)
        lx_setstr(L, "reason", dom_reason_name(i->reason));
    lua_pushnumber(L, (lua_Number)i->cpu_time_ns / 1e9);
    lua_setfield(L, -2, "cpu_time");
}

int lx_done(lua_State *L, int rc, const struct xerr *e)
{
    if (rc < 0)
        return lx_fail(L, e);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- module functions ---- */

static int l_choose(lua_State *L)
{
    const char *want = luaL_optstring(L, 1, NULL);
    const char *name;
    struct xerr e = { 0 };
    if (dom_choose(want, &name, &e) < 0)
        return lx_fail(L, &e);
    lua_pushstring(L, name);
    return 1;
}

static int l_open(lua_State *L)
{
    const char *want = luaL_optstring(L, 1, NULL);
    struct lbackend *lb = lua_newuserdatauv(L, sizeof *lb, 0);
    lb->b = NULL;
    lb->busy = 0;
    luaL_setmetatable(L, BACKEND);
    struct xerr e = { 0 };
    if (dom_open(want, &lb->b, &e) < 0)
        return lx_fail(L, &e);
    return 1;
}

/* ---- handle methods ---- */

static int l_close(lua_State *L)
{
    struct lbackend *lb = luaL_checkudata(L, 1, BACKEND);
    if (lb->busy)
        return luaL_error(L, "the domain handle is in use by a save or restore");
    dom_close(lb->b);
    lb->b = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    struct lbackend *lb = luaL_checkudata(L, 1, BACKEND);
    if (lb->b)
        lua_pushfstring(L, "domain backend %s (%p)", dom_backend_name(lb->b), (void *)lb->b);
    else
        lua_pushliteral(L, "domain backend (closed)");
    return 1;
}

static int l_backend(lua_State *L)
{
    lua_pushstring(L, dom_backend_name(lx_check_backend(L)));
    return 1;
}

static int l_list(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct lx_autofree *a = lx_autofree_new(L);
    struct dom_info *v;
    size_t n;
    struct xerr e = { 0 };
    if (dom_list(b, &v, &n, &e) < 0)
        return lx_fail(L, &e);
    a->p = v;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lx_push_dom_info(L, &v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lx_autofree_now(a);
    return 1;
}

static int l_info(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct dom_info i;
    struct xerr e = { 0 };
    if (dom_info(b, lx_check_domid(L, 2), &i, &e) < 0)
        return lx_fail(L, &e);
    lx_push_dom_info(L, &i);
    return 1;
}

static int l_find(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    const char *what = lx_check_cstring(L, 2);
    struct dom_info i;
    struct xerr e = { 0 };
    if (dom_find(b, what, &i, &e) < 0)
        return lx_fail(L, &e);
    lx_push_dom_info(L, &i);
    return 1;
}

static int l_create(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct dom_create c;
    check_create(L, 2, &c);
    uint32_t domid;
    struct xerr e = { 0 };
    if (dom_create(b, &c, &domid, &e) < 0)
        return lx_fail(L, &e);
    lua_pushinteger(L, domid);
    return 1;
}

static int l_destroy(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct xerr e = { 0 };
    return lx_done(L, dom_destroy(b, lx_check_domid(L, 2), &e), &e);
}

static int l_pause(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct xerr e = { 0 };
    return lx_done(L, dom_pause(b, lx_check_domid(L, 2), &e), &e);
}

/* The optional ledger table at idx: its index, or 0 when none was given. */
static int ledger_arg(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    return idx;
}

/* Whether the ledger records what a call would undo (ledger.paused, ledger.suspended). */
static int ledger_holds(lua_State *L, int ledger, const char *field)
{
    int holds = lua_getfield(L, ledger, field) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    return holds;
}

/* h:unpause(domid [, ledger]): with a ledger, only the pause it records (a save's) is undone,
 * and only once. */
static int l_unpause(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    int ledger = ledger_arg(L, 3);
    if (ledger && !ledger_holds(L, ledger, "paused")) {
        lua_pushboolean(L, 1);
        return 1;
    }
    struct xerr e = { 0 };
    int rc = dom_unpause(b, domid, &e);
    if (rc == 0 && ledger) {
        lua_pushboolean(L, 0);
        lua_setfield(L, ledger, "paused");
    }
    return lx_done(L, rc, &e);
}

static int l_rename(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *name = lx_check_cstring(L, 3);
    struct xerr e = { 0 };
    return lx_done(L, dom_rename(b, domid, name, &e), &e);
}

static int l_config(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    struct lx_autofree *a = lx_autofree_new(L);
    char *json;
    struct xerr e = { 0 };
    if (dom_config(b, domid, &json, &e) < 0)
        return lx_fail(L, &e);
    a->p = json;
    lua_pushstring(L, json);
    lx_autofree_now(a);
    return 1;
}

static int l_host(lua_State *L)
{
    return lx_push_host(L, lx_check_backend(L));
}

static int l_save(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    struct sf_writer *w = lx_check_sf_writer(L, 3);
    int live = 0, ledger = 0;
    struct lprogress lp = { L, 0, 0 };
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        live = (opt_bool_field(L, 4, "live") ? DOM_SAVE_LIVE : 0)
               | (opt_bool_field(L, 4, "debug") ? DOM_SAVE_DEBUG : 0)
               | (opt_bool_field(L, 4, "destroy") ? DOM_SAVE_DESTROY : 0);
        lp.fn = progress_field(L, 4);
        ledger = opt_ledger(L, 4);
    }
    struct dom_progress p = { call_progress, &lp };
    struct xerr e = { 0 };
    /* A progress function may try to close what the save holds: keep both in use. */
    struct lbackend *lb = lua_touserdata(L, 1);
    lb->busy++;
    lx_savefile_busy(L, 3, 1);
    int rc = dom_save(b, domid, w, live, &p, &e);
    lx_savefile_busy(L, 3, -1);
    lb->busy--;
    if (ledger && (rc == 0 || (e.code && strcmp(e.code, "SUSPENDED") == 0))) {
        lua_pushboolean(L, 1);
        lua_setfield(L, ledger, rc == 0 && !(live & DOM_SAVE_DESTROY) ? "paused" : "suspended");
    }
    if (lp.raised)
        return lua_error(L);
    return lx_done(L, rc, &e);
}

/* h:resume_saved(domid [, ledger]): with a ledger, only when it records a suspended domain;
 * then the save's pause is recorded in its place. */
static int l_resume_saved(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    int ledger = ledger_arg(L, 3);
    if (ledger && !ledger_holds(L, ledger, "suspended")) {
        lua_pushboolean(L, 1);
        return 1;
    }
    struct xerr e = { 0 };
    int rc = dom_resume_saved(b, domid, &e);
    if (rc == 0 && ledger) {
        lua_pushboolean(L, 0);
        lua_setfield(L, ledger, "suspended");
        lua_pushboolean(L, 1);
        lua_setfield(L, ledger, "paused");
    }
    return lx_done(L, rc, &e);
}

static int l_restore(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    struct dom_create c;
    check_create(L, 2, &c);
    lua_getfield(L, 2, "reader");
    int reader = lua_gettop(L);
    struct sf_reader *r = lx_test_sf_reader(L, reader);
    if (!r)
        return luaL_error(L, "field 'reader' must be an open xlua.savefile.reader");
    struct lprogress lp = { L, progress_field(L, 2), 0 };
    int ledger = opt_ledger(L, 2);
    struct dom_progress p = { call_progress, &lp };
    uint32_t domid;
    struct xerr e = { 0 };
    struct lbackend *lb = lua_touserdata(L, 1);
    lb->busy++;
    lx_savefile_busy(L, reader, 1);
    int rc = dom_restore(b, &c, r, &p, &domid, &e);
    lx_savefile_busy(L, reader, -1);
    lb->busy--;
    if (rc == 0 && ledger) {
        lua_pushinteger(L, domid);
        lua_setfield(L, ledger, "domid");
    }
    if (lp.raised)
        return lua_error(L);
    if (rc < 0)
        return lx_fail(L, &e);
    lua_pushinteger(L, domid);
    return 1;
}

static int l_store_put(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *key = check_key(L, 3);
    size_t n;
    const char *v = luaL_checklstring(L, 4, &n);
    struct xerr e = { 0 };
    return lx_done(L, dom_store_put(b, domid, key, v, n, &e), &e);
}

static int l_store_get(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *key = check_key(L, 3);
    struct lx_autofree *a = lx_autofree_new(L);
    char *v;
    size_t n;
    struct xerr e = { 0 };
    if (dom_store_get(b, domid, key, &v, &n, &e) < 0)
        return lx_fail(L, &e);
    a->p = v;
    lua_pushlstring(L, v, n);
    lx_autofree_now(a);
    return 1;
}

static int l_store_remove(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    const char *key = check_key(L, 3);
    struct xerr e = { 0 };
    return lx_done(L, dom_store_remove(b, domid, key, &e), &e);
}

static int l_store_keys(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    uint32_t domid = lx_check_domid(L, 2);
    struct lx_autofree *a = lx_autofree_new(L);
    char **keys;
    size_t n;
    struct xerr e = { 0 };
    if (dom_store_keys(b, domid, &keys, &n, &e) < 0)
        return lx_fail(L, &e);
    a->p = keys;
    a->n = n;
    a->strv = 1;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lx_autofree_now(a);
    return 1;
}

/* ---- per-domain locks ---- */

/* lock:note(what): the lock now held by this process (a daemon that inherited it) for what. */
static int lock_note(lua_State *L)
{
    struct dom_lock **l = luaL_checkudata(L, 1, LOCK);
    dom_lock_note(*l, lx_check_cstring(L, 2));
    return 0;
}

static int lock_release(lua_State *L)
{
    struct dom_lock **l = luaL_checkudata(L, 1, LOCK);
    dom_unlock(*l);
    *l = NULL;
    return 0;
}

/* h:lock(uuid, what [, role]) -> lock | nil, msg, "BUSY": lock:unlock() (also __close, __gc). */
static int l_lock(lua_State *L)
{
    struct dom_backend *b = lx_check_backend(L);
    const char *uuid = lx_check_cstring(L, 2);
    const char *what = lx_check_cstring(L, 3);
    const char *role = lua_isnoneornil(L, 4) ? NULL : lx_check_cstring(L, 4);
    struct dom_lock **l = lua_newuserdatauv(L, sizeof *l, 0);
    *l = NULL;
    luaL_setmetatable(L, LOCK);
    struct xerr e = { 0 };
    if (dom_lock_domain(b, uuid, role, what, l, &e) < 0)
        return lx_fail(L, &e);
    return 1;
}

static const luaL_Reg methods[] = {
    {"backend", l_backend},
    {"list", l_list},
    {"info", l_info},
    {"find", l_find},
    {"create", l_create},
    {"destroy", l_destroy},
    {"pause", l_pause},
    {"unpause", l_unpause},
    {"resume_saved", l_resume_saved},
    {"rename", l_rename},
    {"config", l_config},
    {"save", l_save},
    {"restore", l_restore},
    {"store_put", l_store_put},
    {"store_get", l_store_get},
    {"store_remove", l_store_remove},
    {"store_keys", l_store_keys},
    {"host", l_host},
    {"lock", l_lock},
    {"close", l_close},
    {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"choose", l_choose},
    {"open", l_open},
    {NULL, NULL},
};

int luaopen_xlua_domain(lua_State *L)
{
    luaL_newmetatable(L, BACKEND);
    luaL_newlib(L, methods);
    lx_domain_life_methods(L);
    lx_domain_xs_methods(L);
    lx_domain_runtime_methods(L);
    lx_domain_store_methods(L);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_newmetatable(L, AUTOFREE);
    lua_pushcfunction(L, autofree_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, LOCK);
    lua_pushcfunction(L, lock_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lock_release);
    lua_setfield(L, -2, "__close");
    lua_newtable(L);
    lua_pushcfunction(L, lock_release);
    lua_setfield(L, -2, "unlock");
    lua_pushcfunction(L, lock_note);
    lua_setfield(L, -2, "note");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}
