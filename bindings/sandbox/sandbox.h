/* bindings/sandbox/sandbox.h: what the parts of the xlua.sandbox module share: one run's
 * accounting, the limits, plain-data walks, and each part's entry points. Internal. */
#ifndef XLUA_SANDBOX_H
#define XLUA_SANDBOX_H

#include <lua.h>
#include <lauxlib.h>

#include <stddef.h>
#include <stdio.h>

#define DEFAULT_MAX_INSTRUCTIONS 10000000
#define DEFAULT_MAX_MEMORY (64 * 1024 * 1024)
/* The count hook fires every HOOK_EVERY instructions; a new coroutine is charged as much, since
 * its own count starts afresh. */
#define HOOK_EVERY 100
/* Bounds on the data copied out of the sandbox: nesting, tables plus keys, and string bytes
 * (the byte bound is the memory cap: a string shared a million times would be copied as often). */
#define MAX_DEPTH 64
#define MAX_ENTRIES (1 << 20)

/* One run: the sandbox state, its accounting (the allocator's and the hook's user data), and the
 * config file being read. Lives in a to-be-closed userdata of the host, so every exit path,
 * errors included, closes the sandbox state. */
struct sandbox {
    lua_State *S;
    size_t mem_used, mem_limit;
    lua_Integer steps, max_steps;
    int hook_every; /* HOOK_EVERY, or less for a smaller budget */
    int steps_exceeded;
    char where[160]; /* position where the instruction budget ran out */
    FILE *file;
    char *source;
};

/* ---- limits.c: memory through the allocator, instructions through a count hook ---- */

void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
struct sandbox *sb_of(lua_State *S);
void sb_count_hook(lua_State *S, lua_Debug *ar);
/* Charge n instructions of work done in C; raises once the budget is spent. level: 0 from the
 * hook (the running Lua function), 1 from a C library function (its caller). */
void sb_charge(lua_State *S, struct sandbox *sb, lua_Integer n, int level);

/* ---- match.c: string.find, match, gmatch and gsub, charged to the budget ---- */

int sb_str_find(lua_State *L);
int sb_str_match(lua_State *L);
int sb_gmatch(lua_State *L);
int sb_str_gsub(lua_State *L);

/* ---- libs.c: the libraries a config sees ---- */

/* Open the pure libraries in S and replace what reaches outside or runs unbounded; os.getenv
 * only when with_getenv is true. Leaves the stack as it was. */
void sb_open_libs(lua_State *S, int with_getenv);

/* ---- plain.c: plain data, checked where it lives and copied between states ---- */

/* A walk over a value that must be plain data. Errors are raised in the walked state, which is
 * the host for opts.env and the sandbox (protected) for a result. */
struct walk {
    const char *what;         /* names the value in messages: the config or "opts.env" */
    const char *code;         /* set before raising: "BADVALUE" or "LIMIT_RESULT" */
    int visiting;             /* stack index of the set of tables on the current path */
    int keys[MAX_DEPTH + 2];  /* stack index of the key walked at each depth */
    size_t entries, bytes, max_bytes;
};

void sb_check_value(lua_State *F, int idx, int depth, struct walk *w);
void sb_copy_value(lua_State *from, int idx, lua_State *to);

/* ---- run.c: one run of a chunk ---- */

struct run_opts {
    lua_Integer max_instructions;
    lua_Integer max_memory;
    int env; /* stack index of opts.env in the host, 0 if none */
    int getenv;
};

/* Run source in sb's fresh state; pushes the result table, or nil, message, code. */
int sb_run_source(lua_State *L, struct sandbox *sb, const char *source, size_t len,
                  const char *chunkname, const struct run_opts *o);

#endif
