/* bindings/l_process.c: the `xlua.process` module: what a long-lived xlua process (a domain's
 * monitor) needs of the operating system.
 *
 * process.daemonize(logfile) -> pid (in the caller: the daemon's pid) | 0 (in the daemon)
 *                               | nil, msg, code
 *   The daemon is a grandchild in a session of its own (so it outlives the caller's terminal
 *   and shell), in "/", with stdin on /dev/null and stdout and stderr appended to logfile
 *   (created 0600). SIGHUP is ignored there; SIGTERM still stops its Lua code.
 * process.isatty(fd) -> whether fd is a terminal
 * process.getpid() -> pid
 * process.sleep(seconds)      (nanosleep; a signal ends it early) */
#include "lhelpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* In the daemon: its descriptors and session; -1 with errno on failure. */
static int become_daemon(int log, int report)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0 ||
        chdir("/") < 0)
        return -1;
    close(null);
    close(log);
    signal(SIGHUP, SIG_IGN);
    pid_t me = getpid();
    return write(report, &me, sizeof me) == (ssize_t)sizeof me ? 0 : -1;
}

static int l_daemonize(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int log = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (log < 0)
        return lx_failf(L, "EIO", "%s: cannot open the log", path);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(log);
        return lx_failf(L, "EIO", "cannot make a pipe for the daemon");
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        if (setsid() < 0)
            _exit(1);
        pid_t grandchild = fork();
        if (grandchild != 0)
            _exit(grandchild < 0);
        if (become_daemon(log, p[1]) < 0)
            _exit(1);
        close(p[1]);
        lua_pushinteger(L, 0);
        return 1;
    }
    close(log);
    close(p[1]);
    pid_t daemon = -1;
    ssize_t got = -1;
    if (child > 0)
        do
            got = read(p[0], &daemon, sizeof daemon);
        while (got < 0 && errno == EINTR);
    close(p[0]);
    if (child > 0)
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
    if (got != (ssize_t)sizeof daemon)
        return lx_failf(L, "EIO", "the daemon did not start");
    lua_pushinteger(L, daemon);
    return 1;
}

static int l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s <= 86400, 1, "not a number of seconds");
    struct timespec ts = { (time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
    return 0;
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "not a file descriptor");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

int luaopen_xlua_process(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"daemonize", l_daemonize},
        {"getpid", l_getpid},
        {"isatty", l_isatty},
        {"sleep", l_sleep},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
