/* bindings/precompiled.c: loading xlua's own Lua files from their build-time compilation
 * (precompile_gen.c). A command used to compile every module it requires at each start: about
 * 1 ms of CPU for `xlua save`, a third of what it did before touching a domain. The file about
 * to be loaded is still found along package.path and read (a few microseconds); its chunk comes
 * from the binary only when the file is byte for byte the one compiled (same length, same
 * XXH3-128), so an edited, replaced or foreign file is compiled from its text as before: what
 * runs is always what the file says. */
#include "precompiled.h"

#include <lauxlib.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* The entry whose source is the file at path, or NULL. */
static const struct xlua_precompiled *find(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    const struct xlua_precompiled *found = NULL;
    struct stat st;
    size_t size = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        size = (size_t)st.st_size;
    int candidate = 0;
    for (size_t i = 0; i < xlua_precompiled_count && size && !candidate; i++)
        candidate = xlua_precompiled[i].source_len == size;
    unsigned char *text = candidate ? malloc(size) : NULL;
    size_t got = 0;
    while (text && got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (text && got == size) {
        XXH128_hash_t h = XXH3_128bits(text, size);
        for (size_t i = 0; i < xlua_precompiled_count && !found; i++) {
            const struct xlua_precompiled *e = &xlua_precompiled[i];
            if (e->source_len == size && e->low64 == h.low64 && e->high64 == h.high64)
                found = e;
        }
    }
    free(text);
    close(fd);
    return found;
}

int xlua_loadfile(lua_State *L, const char *path)
{
    const struct xlua_precompiled *e = find(path);
    if (e) {
        const char *chunkname = lua_pushfstring(L, "@%s", path);
        int status = xlua_chunk_load(L, &e->chunk, chunkname);
        lua_remove(L, -2);
        if (status == LUA_OK)
            return status;
        lua_pop(L, 1); /* a Lua library that reads other dumps: the text then */
    }
    return luaL_loadfile(L, path);
}

/* Lua's searcher_Lua (loadlib.c) with xlua_loadfile; upvalues: package, package.searchpath. */
static int search_lua(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "path");
    if (!lua_isstring(L, -1))
        return luaL_error(L, "'package.path' must be a string");
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -3);
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1; /* the "no file" lines */
    lua_pop(L, 1);
    const char *filename = lua_tostring(L, -1);
    if (xlua_loadfile(L, filename) == LUA_OK) {
        lua_pushstring(L, filename);
        return 2;
    }
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename,
                      lua_tostring(L, -1));
}

void xlua_precompiled_install(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_pushvalue(L, -2);
    lua_getfield(L, -3, "searchpath");
    lua_pushcclosure(L, search_lua, 2);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}
