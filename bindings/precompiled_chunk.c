/* bindings/precompiled_chunk.c: loads a dump stored without its chunk name (precompiled.h),
 * the name put back in Lua 5.4's encoding (ldump.c dumpSize), so that messages, tracebacks
 * and debug.getinfo name the file the chunk stands for, as when the file is compiled. Shared
 * by the host and the build-time tool that checks every dump it writes with it. */
#include "precompiled.h"

#include <string.h>

struct pieces {
    const char *p[4];
    size_t n[4];
    int next;
};

static const char *read_piece(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    struct pieces *s = ud;
    while (s->next < 4 && s->n[s->next] == 0)
        s->next++;
    if (s->next == 4) {
        *size = 0;
        return NULL;
    }
    *size = s->n[s->next];
    return s->p[s->next++];
}

int xlua_chunk_load(lua_State *L, const struct xlua_chunk *c, const char *chunkname)
{
    /* the name's length + 1, 7 bits a byte, most significant first, the last flagged 0x80 */
    unsigned char size[16];
    size_t len = strlen(chunkname), x = len + 1;
    int n = 0;
    do {
        size[sizeof size - ++n] = (unsigned char)(x & 0x7f);
        x >>= 7;
    } while (x);
    size[sizeof size - 1] |= 0x80;
    struct pieces s = {
        { (const char *)c->head, (const char *)size + sizeof size - n, chunkname,
          (const char *)c->rest },
        { c->head_len, (size_t)n, len, c->rest_len },
        0,
    };
    return lua_load(L, read_piece, &s, chunkname, "b");
}
