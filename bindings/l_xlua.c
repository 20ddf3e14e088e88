/* bindings/l_xlua.c: the `xlua` module: version, api level, verbosity, the one logger every
 * Lua file writes through (stderr, one line per message, "xlua: level: text"), and the few
 * process facts policies need (stat, a directory's names, effective uid, a monotonic clock,
 * pcall with a time limit). */
#include "lhelpers.h"
#include "xlua_config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int verbose;

static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

/* xlua.log(level, message): debug lines only when verbose. */
static int l_log(lua_State *L)
{
    int level = luaL_checkoption(L, 1, NULL, level_names);
    const char *msg = luaL_checkstring(L, 2);
    if (level == 0 && !verbose)
        return 0;
    if (level == 1)
        fprintf(stderr, "xlua: %s\n", msg);
    else
        fprintf(stderr, "xlua: %s: %s\n", level_names[level], msg);
    fflush(stderr);
    return 0;
}

static int l_set_verbose(lua_State *L)
{
    verbose = lua_toboolean(L, 1);
    lua_pushboolean(L, verbose);
    lua_setfield(L, lua_upvalueindex(1), "verbose");
    return 0;
}

static const char *type_name(mode_t m)
{
    if (S_ISREG(m)) return "file";
    if (S_ISDIR(m)) return "directory";
    if (S_ISLNK(m)) return "link";
    if (S_ISFIFO(m)) return "fifo";
    if (S_ISSOCK(m)) return "socket";
    if (S_ISCHR(m)) return "char";
    if (S_ISBLK(m)) return "block";
    return "other";
}

/* xlua.stat(path) -> {type, mode, uid, gid, size} | nil, message, code (ENOENT, EACCES, ...).
 * stat(2), so a symbolic link is followed: the facts are those of what opening path reads.
 * mode is the permission bits with setuid, setgid and sticky (st_mode & 07777). */
static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) {
        int err = errno;
        return lx_failf(L, xerr_errno_code(err), "%s: %s", path, strerror(err));
    }
    lua_createtable(L, 0, 5);
    lx_setstr(L, "type", type_name(st.st_mode));
    lx_setint(L, "mode", (lua_Integer)(st.st_mode & 07777));
    lx_setint(L, "uid", (lua_Integer)st.st_uid);
    lx_setint(L, "gid", (lua_Integer)st.st_gid);
    lx_setint(L, "size", (lua_Integer)st.st_size);
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What xlua.dir has read so far, in a userdata whose __gc frees it: a memory error raised
 * while the names are copied into Lua leaks nothing. */
#define DIRLIST "xlua.dirlist"
struct dirlist {
    char **names;
    size_t n;
};

static int dirlist_gc(lua_State *L)
{
    struct dirlist *dl = luaL_checkudata(L, 1, DIRLIST);
    for (size_t i = 0; i < dl->n; i++)
        free(dl->names[i]);
    free(dl->names);
    dl->names = NULL;
    dl->n = 0;
    return 0;
}

/* Read the names of path (no "." and "..") into dl; 0 or an errno. No Lua call in here. */
static int read_names(const char *path, struct dirlist *dl)
{
    DIR *d = opendir(path);
    if (!d)
        return errno;
    size_t cap = 0;
    int err = 0;
    struct dirent *e;
    for (errno = 0; (e = readdir(d)) != NULL; errno = 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (dl->n == cap) {
            size_t ncap = cap ? 2 * cap : 32;
            char **grown = realloc(dl->names, ncap * sizeof *grown);
            if (!grown) {
                err = ENOMEM;
                break;
            }
            dl->names = grown;
            cap = ncap;
        }
        if (!(dl->names[dl->n] = strdup(e->d_name))) {
            err = ENOMEM;
            break;
        }
        dl->n++;
    }
    if (!err && errno)
        err = errno;
    closedir(d);
    return err;
}

/* xlua.dir(path) -> {the names in it, in byte order, without "." and ".."} | nil, message,
 * code (ENOENT, ENOTDIR, EACCES, ...): listing a directory without a shell (restore-all's
 * images, autostart's configs). */
static int l_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct dirlist *dl = lua_newuserdatauv(L, sizeof *dl, 0);
    dl->names = NULL;
    dl->n = 0;
    if (luaL_newmetatable(L, DIRLIST)) {
        lua_pushcfunction(L, dirlist_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    int err = read_names(path, dl);
    if (err)   /* the userdata's __gc frees what was read */
        return lx_failf(L, xerr_errno_code(err), "%s: %s", path, strerror(err));
    if (dl->n)
        qsort(dl->names, dl->n, sizeof *dl->names, compare_names);
    lua_createtable(L, dl->n > INT_MAX ? INT_MAX : (int)dl->n, 0);
    for (size_t i = 0; i < dl->n; i++) {
        lua_pushstring(L, dl->names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* xlua.geteuid() -> the effective user id: whose rights this process acts with. */
static int l_geteuid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)geteuid());
    return 1;
}

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xlua.clock() -> seconds (a float) on CLOCK_MONOTONIC: for time limits, unlike os.clock
 * (CPU time) and os.time (whole seconds, and set by the administrator). */
static int l_clock(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)monotonic());
    return 1;
}

/* ---- time limits: a count hook that raises once the deadline has passed ----
 * A C hook rather than debug.sethook's: a coroutine created under it inherits it
 * (lua_newthread copies the hook; a debug.sethook hook is looked up per thread and does
 * nothing in a new one), and the hook that was set before, whatever it is, is put back. */

#define LIMIT_COUNT 1000    /* instructions between two looks at the clock */

static double limit_deadline;   /* 0: no limit running */
static double limit_seconds;
static int limit_expired;

static void limit_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (limit_deadline == 0 || (!limit_expired && monotonic() <= limit_deadline))
        return;
    if (!limit_expired) {
        /* from now on at every instruction: code that catches the error in a loop is
         * stopped again at once, and soon outside its pcall */
        limit_expired = 1;
        lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushfstring(L, "took longer than %f s", (lua_Number)limit_seconds);
    lua_error(L);
}

/* The host's stop hook raises "interrupted!" (SIGINT, as lua.c) or "interrupted by SIGTERM!"
 * (other stop signals), perhaps after a position. */
static int is_interrupt(lua_State *L, int idx)
{
    size_t len;
    const char *msg = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
    return msg && len > 0 && msg[len - 1] == '!' && strstr(msg, "interrupted") != NULL;
}

/* The host's signal handler replaces the hook (see timed_pcall): between reading the hook and
 * setting another, the stop signals wait, or the handler's hook would be overwritten and that
 * signal lost. */
static void block_stop_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

/* xlua.timed_pcall(seconds, fn, ...) -> true, fn's results | false, error, expired: pcall
 * with a time limit. The clock is read every LIMIT_COUNT instructions, so a long call into C
 * (one pattern match) is not cut short: it is stopped when it returns. Nested calls never
 * extend an outer limit. Ctrl-C (and the other stop signals): the host's handler sets its own
 * hook in place of any (lua.c's way) and that hook raises "interrupted!"; when the hook was
 * replaced so, it is left alone and the interruption is raised again here, never returned as
 * fn's failure. */
static int l_timed_pcall(lua_State *L)
{
    lua_Number seconds = luaL_checknumber(L, 1);
    luaL_argcheck(L, seconds > 0 && seconds == seconds, 1, "must be a positive number");
    luaL_checkany(L, 2);
    sigset_t old_mask;
    block_stop_signals(&old_mask);
    lua_Hook prev = lua_gethook(L);
    int prev_mask = lua_gethookmask(L), prev_count = lua_gethookcount(L);
    if (prev != NULL && prev_count == 1
        && prev_mask == (LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT)) {
        /* lua.c's stop hook, armed by a signal that came after the call: let it fire at the
         * next instruction (fn's first), with no limit set */
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        lua_pushboolean(L, 1);
        lua_replace(L, 1);
        lua_call(L, lua_gettop(L) - 2, LUA_MULTRET);
        return lua_gettop(L);
    }
    double outer_deadline = limit_deadline, outer_seconds = limit_seconds;
    int outer_expired = limit_expired;
    double deadline = monotonic() + (double)seconds;
    if (outer_deadline != 0 && outer_deadline < deadline)
        deadline = outer_deadline;
    limit_deadline = deadline;
    limit_seconds = (double)seconds;
    limit_expired = 0;
    lua_sethook(L, limit_hook, LUA_MASKCOUNT, LIMIT_COUNT);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
    block_stop_signals(&old_mask);
    int ours = lua_gethook(L) == limit_hook;
    int expired = limit_expired;
    if (ours)
        lua_sethook(L, prev, prev_mask, prev_count);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    limit_deadline = outer_deadline;
    limit_seconds = outer_seconds;
    limit_expired = outer_expired;
    if (status != LUA_OK && !ours && is_interrupt(L, -1))
        return lua_error(L);
    if (status == LUA_OK && expired) { /* it caught the error and still got out: too late */
        lua_settop(L, 1);
        lua_pushfstring(L, "took longer than %f s", seconds);
        status = LUA_ERRRUN;
    }
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 1);
    if (status == LUA_OK)
        return lua_gettop(L);
    lua_pushboolean(L, expired);
    return 3;
}

int luaopen_xlua(lua_State *L)
{
    lua_newtable(L);
    lx_setstr(L, "version", XLUA_VERSION);
    lx_setint(L, "api_level", XLUA_API_LEVEL);
    lx_setbool(L, "verbose", verbose);
    lua_pushcfunction(L, l_log);
    lua_setfield(L, -2, "log");
    lua_pushcfunction(L, l_stat);
    lua_setfield(L, -2, "stat");
    lua_pushcfunction(L, l_dir);
    lua_setfield(L, -2, "dir");
    lua_pushcfunction(L, l_geteuid);
    lua_setfield(L, -2, "geteuid");
    lua_pushcfunction(L, l_clock);
    lua_setfield(L, -2, "clock");
    lua_pushcfunction(L, l_timed_pcall);
    lua_setfield(L, -2, "timed_pcall");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_set_verbose, 1);
    lua_setfield(L, -2, "set_verbose");
    return 1;
}
