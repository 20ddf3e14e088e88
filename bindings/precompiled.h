/* bindings/precompiled.h: xlua's own Lua files compiled at build time (precompile_gen.c writes
 * the table, precompiled.c loads from it). */
#ifndef XLUA_PRECOMPILED_H
#define XLUA_PRECOMPILED_H

#include <lua.h>

#include <stddef.h>
#include <stdint.h>

/* Lua 5.4's dump starts with a 31-byte header and the main function's upvalue count; its
 * chunk name follows (the only part of a dump that depends on where the file was loaded). */
#define XLUA_DUMP_HEAD 32

/* A dump without its chunk name. */
struct xlua_chunk {
    const unsigned char *head;
    size_t head_len;
    const unsigned char *rest;
    size_t rest_len;
};

/* One Lua file: its length and XXH3-128, and its compiled chunk. */
struct xlua_precompiled {
    size_t source_len;
    uint64_t low64, high64;
    struct xlua_chunk chunk;
};

extern const struct xlua_precompiled xlua_precompiled[];
extern const size_t xlua_precompiled_count;

/* lua_load of the chunk with chunkname ("@path") put back: pushes the function or the error,
 * returns lua_load's status. */
int xlua_chunk_load(lua_State *L, const struct xlua_chunk *c, const char *chunkname);

/* luaL_loadfile(L, path) for a path: the precompiled chunk when the file is one of them byte
 * for byte, else the file compiled. */
int xlua_loadfile(lua_State *L, const char *path);

/* package.searchers[2], the searcher of Lua files along package.path, loading through
 * xlua_loadfile. Call with the package library open. */
void xlua_precompiled_install(lua_State *L);

#endif
