/* bindings/l_xlua.c: the `xlua` module: version, api level, verbosity, the one logger every
 * Lua file writes through (stderr, one line per message, "xlua: level: text"), and the few
 * process facts policies need (stat, effective uid, a monotonic clock). */
#include "lhelpers.h"
#include "xlua_config.h"

#include <errno.h>
#include <stdio.h>
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

/* xlua.geteuid() -> the effective user id: whose rights this process acts with. */
static int l_geteuid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)geteuid());
    return 1;
}

/* xlua.clock() -> seconds (a float) on CLOCK_MONOTONIC: for time limits, unlike os.clock
 * (CPU time) and os.time (whole seconds, and set by the administrator). */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
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
    lua_pushcfunction(L, l_geteuid);
    lua_setfield(L, -2, "geteuid");
    lua_pushcfunction(L, l_clock);
    lua_setfield(L, -2, "clock");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_set_verbose, 1);
    lua_setfield(L, -2, "set_verbose");
    return 1;
}
