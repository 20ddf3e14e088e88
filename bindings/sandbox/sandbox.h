/* bindings/sandbox/sandbox.h: what the parts of the xlua.sandbox module share: one run's
 * accounting, the limits, plain-data walks, and each part's entry points. Internal. */
#ifndef XLUA_SANDBOX_H
#define XLUA_SANDBOX_H

#include <lua.h>
#include <lauxlib.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DEFAULT_MAX_INSTRUCTIONS 10000000
#define DEFAULT_MAX_MEMORY (64 * 1024 * 1024)
#define DEFAULT_MAX_TIME 2.0 /* seconds of CPU time */
#define MAX_MAX_TIME 3600.0
/* The count hook fires every HOOK_EVERY instructions; a new coroutine is charged as much, since
 * its own count starts afresh. */
#define HOOK_EVERY 100
/* Work done in C is charged one instruction per BYTES_PER_INSTRUCTION bytes allocated or read
 * (about what copying them costs next to a VM instruction), and compiling with load one
 * instruction per byte of source. */
#define BYTES_PER_INSTRUCTION 16
#define COMPILE_STEPS_PER_BYTE 1
/* Bounds on the data copied out of the sandbox: nesting, tables plus keys, and string bytes
 * (the byte bound is the memory cap: a string shared a million times would be copied as often). */
#define MAX_DEPTH 64
#define MAX_ENTRIES (1 << 20)

/* Why a run was stopped; once set it stays (see limits.c). */
enum { TRIP_NONE, TRIP_STEPS, TRIP_TIME };

/* One run's accounting, in the sandbox process: the allocator's and the hook's user data. */
struct sandbox {
    lua_State *S;
    size_t mem_used, mem_limit;
    lua_Integer steps, max_steps;
    int hook_every;    /* HOOK_EVERY, or less for a smaller budget */
    int use_hook;      /* 0 with opts.in_process_limits = false: only the OS bounds the run */
    int charging;      /* the config's code runs: what it allocates is charged */
    int tripped;       /* TRIP_NONE, or the limit that ran out */
    double max_time;   /* seconds of CPU time, 0 for none */
    int64_t time_limit, cpu_start; /* max_time, and the CPU time at the start, in ns */
    int64_t deadline;  /* CLOCK_MONOTONIC ns before which the time limit cannot be reached */
    unsigned alloc_calls;
    int tz_pinned;     /* TZ was set in the process's environment for the zone file */
    char where[160];   /* position where the limit ran out */
};

/* What sandbox.run was asked for (read and checked in the host). */
struct run_opts {
    lua_Integer max_instructions;
    lua_Integer max_memory;
    double max_time;
    int in_process_limits;
    int env; /* stack index of opts.env in the host, 0 if none */
    int getenv;
};

/* ---- limits.c: memory through the allocator, CPU through a count hook and charges ---- */

void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
struct sandbox *sb_of(lua_State *S);
void sb_start_clock(struct sandbox *sb);
void sb_count_hook(lua_State *S, lua_Debug *ar);
/* The count hook on thread S (raising at once when the run is tripped); none if !use_hook. */
void sb_set_hook(lua_State *S, const struct sandbox *sb);
/* Charge n instructions of work done in C; raises once the budget is spent or the run is
 * tripped. level: 0 from the hook (the running Lua function), 1 from a C library function (its
 * caller). */
void sb_charge(lua_State *S, struct sandbox *sb, lua_Integer n, int level);
void sb_charge_bytes(lua_State *S, size_t bytes, int level);
/* Trip the run for why (TRIP_STEPS or TRIP_TIME) and raise. */
int sb_trip(lua_State *S, struct sandbox *sb, int why, int level);

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

/* ---- run.c: one run of a chunk, inside the sandbox process ---- */

/* How a run ended: a result (at the top of the sandbox's stack), or a failure. */
struct outcome {
    const char *code;      /* NULL for a result */
    const char *message;   /* points into text, or to a string in the sandbox state */
    size_t message_len;
    char text[4352];
};

/* Run source in a fresh state of sb's; host and o->env give opts.env (the host's stack has
 * room for a walk over it). 1: the result table is at the top of sb->S; 0: a failure, in out.
 * Never raises. */
int sb_run(struct sandbox *sb, lua_State *host, const char *source, size_t len,
           const char *chunkname, const struct run_opts *o, struct outcome *out);

/* The name of the chunk for messages: "@path" and "=name" lose their mark. */
const char *sb_display_name(const char *chunkname);

/* ---- wire.c: the sandbox process's reply, written there and read by the host ---- */

/* Write the outcome (with the result at the top of S) to fd; 0, or -1 with errno. */
int sb_send_outcome(int fd, lua_State *S, const struct outcome *out);
/* Push the reply of len bytes onto L: the result table (returns 1), or nil, message, code
 * (returns 3). The bytes are hostile: anything malformed or over max_memory's bounds gives
 * 0 and pushes nothing. Raises only for the host's own memory. */
int sb_push_reply(lua_State *L, const char *reply, size_t len, size_t max_memory);
/* The most bytes a well-formed reply can have under max_memory. */
size_t sb_reply_limit(size_t max_memory);

/* ---- process.c: the sandbox process and its OS limits ---- */

/* The host's view of a sandbox process; lives in the run's to-be-closed handle. */
struct child {
    pid_t pid; /* 0 when none is running (or it was reaped) */
    int fd;    /* read end of the reply pipe, -1 when closed */
    char *reply;
    size_t len, cap;
};

/* Run the chunk in a new sandbox process and push what sandbox.run returns. */
int sb_run_in_child(lua_State *L, struct child *c, const char *source, size_t len,
                    const char *chunkname, const struct run_opts *o);
/* Kill and reap the process if it still runs, close the pipe, free the reply. Idempotent. */
void sb_child_close(struct child *c);

/* ---- seccomp.c ---- */

/* Allow from now on only the system calls a running Lua state needs, and writes to out_fd;
 * any other kills the process. 0, or -1 with errno (not supported here). */
int sb_seccomp_lock(int out_fd);

#endif
