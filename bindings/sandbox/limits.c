/* bindings/sandbox/limits.c: the sandbox's accounting: memory through its allocator, and CPU
 * through a count hook, a CPU time limit, and the charges for work done in C (allocations
 * included).
 *
 * Once a limit runs out the run is "tripped" for good: every later hook firing, charge and
 * growing allocation fails at once, whatever thread or handler the config is in, so a pcall,
 * xpcall or __close in the config can only postpone the end by a few instructions. */
#include "sandbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The allocator reads the clock every so many calls: reading it is cheap but not free. */
#define CLOCK_EVERY_ALLOCS 16

/* A coarse clock (a few ms of resolution) costs a few ns through the vDSO: cheap enough for
 * every hook firing. */
static int64_t now_ns(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
#endif
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The process's CPU time: a system call, read only when the limit may be near. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sb_start_clock(struct sandbox *sb)
{
    sb->time_limit = sb->max_time > 0 ? (int64_t)(sb->max_time * 1e9) : 0;
    sb->cpu_start = sb->time_limit ? cpu_ns() : 0;
    sb->deadline = sb->time_limit ? now_ns() + sb->time_limit : INT64_MAX;
}

/* The limit is CPU time, so that a loaded machine does not fail a config that is within it.
 * CPU time cannot run faster than the wall clock: only once the wall-clock deadline passed is
 * the CPU clock read, and the deadline moved to when the CPU time left could be used up. */
static int out_of_time(struct sandbox *sb)
{
    int64_t now = now_ns();
    if (now <= sb->deadline)
        return 0;
    int64_t used = cpu_ns() - sb->cpu_start;
    if (used >= sb->time_limit)
        return 1;
    sb->deadline = now + (sb->time_limit - used);
    return 0;
}

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
    if (nsize > osize) {
        if (nsize - osize > sb->mem_limit - sb->mem_used)
            return NULL; /* Lua collects and retries once, then raises a memory error */
        /* An allocator must not raise: once a limit ran out, a failed allocation becomes a
         * memory error, which the run reports as that limit. */
        if (sb->tripped)
            return NULL;
        /* Whatever allocates while the config runs (concatenation, tostring, string.rep,
         * format, table.concat, ...) fills the bytes it asked for, in C where the hook cannot
         * see it. */
        if (sb->charging) {
            lua_Integer n = (lua_Integer)(nsize / BYTES_PER_INSTRUCTION);
            if (n > sb->max_steps - sb->steps) {
                sb->tripped = TRIP_STEPS;
                sb->steps = sb->max_steps;
                return NULL;
            }
            sb->steps += n;
        }
        /* Compiling the config, and collecting its result, too. */
        if (++sb->alloc_calls % CLOCK_EVERY_ALLOCS == 0 && out_of_time(sb)) {
            sb->tripped = TRIP_TIME;
            return NULL;
        }
    }
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

int sb_trip(lua_State *S, struct sandbox *sb, int why, int level)
{
    if (!sb->tripped)
        sb->tripped = why;
    if (!sb->where[0]) {
        luaL_where(S, level);
        snprintf(sb->where, sizeof sb->where, "%s", lua_tostring(S, -1));
        lua_pop(S, 1);
    }
    sb->steps = sb->max_steps;
    /* Raise again at every later instruction of this thread and of the main one (where the
     * error goes on, and __close methods run), so a pcall in the config cannot swallow the
     * limit; the other coroutines have the hook too and raise at their next firing. */
    lua_sethook(S, sb_count_hook, LUA_MASKCOUNT, 1);
    if (lua_rawgeti(S, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD) == LUA_TTHREAD)
        lua_sethook(lua_tothread(S, -1), sb_count_hook, LUA_MASKCOUNT, 1);
    lua_pop(S, 1);
    if (sb->tripped == TRIP_TIME)
        return luaL_error(S, "CPU time limit (%g s) exceeded", sb->max_time);
    return luaL_error(S, "instruction limit (%I) exceeded", (LUAI_UACINT)sb->max_steps);
}

void sb_charge(lua_State *S, struct sandbox *sb, lua_Integer n, int level)
{
    if (sb->tripped || n > sb->max_steps - sb->steps)
        sb_trip(S, sb, TRIP_STEPS, level);
    sb->steps += n;
}

void sb_charge_bytes(lua_State *S, size_t bytes, int level)
{
    sb_charge(S, sb_of(S), (lua_Integer)(bytes / BYTES_PER_INSTRUCTION), level);
}

void sb_count_hook(lua_State *S, lua_Debug *ar)
{
    (void)ar;
    struct sandbox *sb = sb_of(S);
    /* Instructions that cost more than one step (comparing or hashing long strings, copying
     * many varargs, scanning a sparse table) are bounded by the time limit, seen to at every
     * firing. */
    if (!sb->tripped && out_of_time(sb))
        sb_trip(S, sb, TRIP_TIME, 0);
    sb_charge(S, sb, sb->hook_every, 0);
}

void sb_set_hook(lua_State *S, const struct sandbox *sb)
{
    if (sb->use_hook)
        lua_sethook(S, sb_count_hook, LUA_MASKCOUNT, sb->tripped ? 1 : sb->hook_every);
}
