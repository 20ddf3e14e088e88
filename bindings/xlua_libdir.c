/* bindings/xlua_libdir.c: the preloaded modules whose C code is a module of its own in
 * lib/xlua (core/base/libdir.h), loaded on the first require: xlua.xlutil brings libxlutil
 * and libxenlight, xlua.readline (the REPL's) libreadline and libtinfo, which every other
 * command (and --version) should not load at start: the dynamic linker's work for readline
 * alone was half of `xlua --version`. */
#include "lhelpers.h"

#include <dlfcn.h>

#include "base/libdir.h"

/* require(name) for a module whose luaopen is `symbol` in lib/xlua/`file`. */
static int load_from_libdir(lua_State *L, const char *file, const char *symbol)
{
    const char *name = luaL_checkstring(L, 1);
    char path[4096];
    if (libdir_path(file, path, sizeof path) < 0)
        return luaL_error(L, "%s: cannot find %s: the path of this program cannot be read", name,
                          file);
    /* Never closed: what it returns (functions, userdata with __gc) lives as long as Lua. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return luaL_error(L, "%s: cannot load %s", name, dlerror());
    lua_CFunction open = (lua_CFunction)dlsym(h, symbol);
    if (!open)
        return luaL_error(L, "%s: %s has no %s", name, path, symbol);
    lua_pushcfunction(L, open);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

int luaopen_xlua_xlutil_loader(lua_State *L)
{
    return load_from_libdir(L, "xlua_xlutil.so", "luaopen_xlua_xlutil");
}

int luaopen_xlua_readline_loader(lua_State *L)
{
    return load_from_libdir(L, "xlua_readline.so", "luaopen_xlua_readline");
}
