/* bindings/l_cfg.c: xlua.cfg, the xl.cfg(5) parser of core/cfg_parse for Lua: parse(text
 * [, filename]) and parse_file(path) give plain tables, or nil, message, code. */
#include "lhelpers.h"

#include <limits.h>

#include "xlcfg/cfg_parse.h"

#define RESULT_MT "xlua.cfg.result"

/* The parsed C result is held by a userdata made before parsing, whose __gc frees it: a
 * memory error while the Lua tables are built cannot leak it (liolib's newprefile). */
struct result_box {
    struct cfg_file *f;
};

static int result_gc(lua_State *L)
{
    struct result_box *b = luaL_checkudata(L, 1, RESULT_MT);
    cfg_free(b->f);
    b->f = NULL;
    return 0;
}

static struct result_box *new_box(lua_State *L)
{
    struct result_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->f = NULL;
    luaL_setmetatable(L, RESULT_MT);
    return b;
}

/* A string atom is a Lua string; a list is an array of values (nested for nested lists). */
static void push_value(lua_State *L, const struct cfg_value *v)
{
    if (v->kind != CFG_LIST) {
        lua_pushstring(L, v->text);
        return;
    }
    luaL_checkstack(L, 3, "config lists nested too deeply");
    lua_createtable(L, v->count > INT_MAX ? 0 : (int)v->count, 0);
    for (size_t i = 0; i < v->count; i++) {
        push_value(L, v->items[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static const char *kind_name(enum cfg_kind k)
{
    switch (k) {
    case CFG_NUMBER: return "number";
    case CFG_LIST: return "list";
    default: return "string";
    }
}

/* { settings = { {name=, value=, line=, kind=}, ... }, values = { [name] = value } } */
static void push_result(lua_State *L, const struct cfg_file *f)
{
    int n = f->count > INT_MAX ? 0 : (int)f->count;
    lua_createtable(L, 0, 2);
    lua_createtable(L, n, 0);
    lua_createtable(L, 0, n);
    for (size_t i = 0; i < f->count; i++) {
        const struct cfg_setting *s = &f->settings[i];
        lua_createtable(L, 0, 4);
        lx_setstr(L, "name", s->name);
        lx_setint(L, "line", s->line);
        lx_setstr(L, "kind", kind_name(s->value->kind));
        push_value(L, s->value);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "value");
        lua_setfield(L, -3, s->name);        /* values[name] is the same value */
        lua_rawseti(L, -3, (lua_Integer)i + 1);
    }
    lua_setfield(L, -3, "values");
    lua_setfield(L, -2, "settings");
}

/* The box is at the top of the stack; rc is what cfg_parse* returned. */
static int finish(lua_State *L, struct result_box *b, int rc, const struct xerr *e)
{
    if (rc < 0)
        return lx_fail(L, e);
    push_result(L, b->f);
    cfg_free(b->f);
    b->f = NULL;
    return 1;
}

/* cfg.parse(text [, filename]) -> parsed | nil, message, code */
static int l_parse(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *filename = luaL_optstring(L, 2, "<string>");
    struct result_box *b = new_box(L);
    struct xerr e = {0};
    int rc = cfg_parse(text, len, filename, &b->f, &e);
    return finish(L, b, rc, &e);
}

/* cfg.parse_file(path) -> parsed | nil, message, code */
static int l_parse_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct result_box *b = new_box(L);
    struct xerr e = {0};
    int rc = cfg_parse_file(path, &b->f, &e);
    return finish(L, b, rc, &e);
}

int luaopen_xlua_cfg(lua_State *L)
{
    static const luaL_Reg meta[] = {
        {"__gc", result_gc},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"parse", l_parse},
        {"parse_file", l_parse_file},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, RESULT_MT))
        luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    lx_setint(L, "max_depth", CFG_MAX_DEPTH);
    lx_setint(L, "max_file_size", CFG_FILE_MAX);
    return 1;
}
