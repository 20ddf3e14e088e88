/* bindings/sandbox/limits.c: the sandbox's accounting: memory through its allocator, and
 * instructions through a count hook plus the charges for work done in C. */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>

void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    if (ptr == NULL)
        osize = 0; /* then osize is only a type tag */
    if (nsize == 0) {
        free(ptr);
        sb->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > sb->mem_limit - sb->mem_used)
        return NULL; /* Lua collects and retries once, then raises a memory error */
    void *p = realloc(ptr, nsize);
    if (p != NULL)
        sb->mem_used = sb->mem_used - osize + nsize;
    return p;
}

struct sandbox *sb_of(lua_State *S)
{
    void *ud;
    lua_getallocf(S, &ud);
    return ud;
}

static int budget_exceeded(lua_State *S, struct sandbox *sb, int level)
{
    if (!sb->steps_exceeded) {
        luaL_where(S, level);
        snprintf(sb->where, sizeof sb->where, "%s", lua_tostring(S, -1));
        lua_pop(S, 1);
    }
    sb->steps_exceeded = 1;
    sb->steps = sb->max_steps;
    /* Raise again at every later instruction of this thread (and the others raise within
     * HOOK_EVERY), so a pcall in the config cannot swallow the limit and carry on. */
    lua_sethook(S, sb_count_hook, LUA_MASKCOUNT, 1);
    return luaL_error(S, "instruction limit (%I) exceeded", (LUAI_UACINT)sb->max_steps);
}

void sb_charge(lua_State *S, struct sandbox *sb, lua_Integer n, int level)
{
    if (n > sb->max_steps - sb->steps)
        budget_exceeded(S, sb, level);
    sb->steps += n;
}

void sb_count_hook(lua_State *S, lua_Debug *ar)
{
    (void)ar;
    struct sandbox *sb = sb_of(S);
    sb_charge(S, sb, sb->hook_every, 0);
}
