/* bindings/l_transport.c: the `xlua.transport` module: the byte-level side of xl's migration
 * protocol -- the transport child (`sh -c RUNE`, as xl's create_migration_child) and exact
 * reads and writes of the protocol's messages on its pipes. The messages and their order are
 * the policies' (lua/xlua/migrate*.lua).
 *
 * transport.spawn(rune) -> {pid, send = fd, recv = fd} | nil, msg, code
 *   The child runs `sh -c rune` with its stdin on `send` and its stdout on `recv` (its stderr
 *   is ours). Both fds are close-on-exec here.
 * transport.write(fd, bytes) -> true | nil, msg, code   (all of bytes; EPIPE when the peer left)
 * transport.read(fd, n) -> exactly n bytes | nil, msg, "EOF", bytes read before the end
 *                         | nil, msg, errno code ("INTERRUPTED" when a signal asked to stop)
 * transport.readable(fd, seconds) -> whether fd has bytes (or its end) within that time
 * transport.close(fd)
 * transport.wait(pid, seconds) -> "exited", status | "killed", signal | nil (still running
 *                                 after that long) -- reaps the child */
#include "lhelpers.h"

#include "base/cancel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int check_fd(lua_State *L, int idx)
{
    lua_Integer n = luaL_checkinteger(L, idx);
    luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, idx, "not a file descriptor");
    return (int)n;
}

static int fail_errno(lua_State *L, int errnum, const char *what)
{
    if (errnum == EINTR)
        return lx_failf(L, "INTERRUPTED", "%s: interrupted", what);
    struct xerr e = { 0 };
    xerr_errno(&e, errnum, "%s", what);
    return lx_fail(L, &e);
}

static int l_spawn(lua_State *L)
{
    const char *rune = luaL_checkstring(L, 1);
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) < 0)
        return fail_errno(L, errno, "cannot make a pipe for the migration transport");
    if (pipe2(from_child, O_CLOEXEC) < 0) {
        int e = errno;
        close(to_child[0]);
        close(to_child[1]);
        return fail_errno(L, e, "cannot make a pipe for the migration transport");
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* dup2 clears close-on-exec on the copies; the host's ignored SIGPIPE is put back to
         * its default for the command, as a shell would start it. */
        signal(SIGPIPE, SIG_DFL);
        if (dup2(to_child[0], 0) < 0 || dup2(from_child[1], 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", rune, (char *)NULL);
        _exit(127);
    }
    int e = errno;
    close(to_child[0]);
    close(from_child[1]);
    if (pid < 0) {
        close(to_child[1]);
        close(from_child[0]);
        return fail_errno(L, e, "cannot start the migration transport");
    }
    lua_createtable(L, 0, 3);
    lx_setint(L, "pid", pid);
    lx_setint(L, "send", to_child[1]);
    lx_setint(L, "recv", from_child[0]);
    return 1;
}

static int l_write(lua_State *L)
{
    int fd = check_fd(L, 1);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    while (n > 0) {
        ssize_t k = xcancel_requested() ? (errno = EINTR, -1) : write(fd, p, n);
        if (k < 0 && xcancel_retry(errno))
            continue;
        if (k < 0)
            return fail_errno(L, errno, "migration stream: write failed");
        p += k;
        n -= (size_t)k;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_read(lua_State *L)
{
    int fd = check_fd(L, 1);
    lua_Integer want = luaL_checkinteger(L, 2);
    luaL_argcheck(L, want >= 0 && want <= (1 << 24), 2, "not a message length");
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)want);
    size_t got = 0;
    while (got < (size_t)want) {
        ssize_t k = xcancel_requested() ? (errno = EINTR, -1) : read(fd, p + got, (size_t)want - got);
        if (k < 0 && xcancel_retry(errno))
            continue;
        if (k < 0)
            return fail_errno(L, errno, "migration stream: read failed");
        if (k == 0) {
            luaL_pushresultsize(&b, got);
            lua_pushnil(L);
            lua_pushfstring(L, "migration stream: ended after %d of %d bytes", (int)got, (int)want);
            lua_pushliteral(L, "EOF");
            lua_rotate(L, -4, -1);    /* nil, msg, "EOF", bytes */
            return 4;
        }
        got += (size_t)k;
    }
    luaL_pushresultsize(&b, got);
    return 1;
}

static int l_readable(lua_State *L)
{
    int fd = check_fd(L, 1);
    lua_Number s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0 && s <= 86400, 2, "not a number of seconds");
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do
        r = xcancel_requested() ? (errno = EINTR, -1) : poll(&p, 1, (int)(s * 1000));
    while (r < 0 && xcancel_retry(errno));
    if (r < 0)
        return fail_errno(L, errno, "migration stream: poll failed");
    lua_pushboolean(L, r > 0);
    return 1;
}

static int l_close(lua_State *L)
{
    close(check_fd(L, 1));
    return 0;
}

static int l_wait(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 1, "not a pid");
    lua_Number s = luaL_optnumber(L, 2, 0);
    luaL_argcheck(L, s >= 0 && s <= 86400, 2, "not a number of seconds");
    long polls = (long)(s * 100);
    for (long i = 0;; i++) {
        int status;
        pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail_errno(L, errno, "waiting for the migration transport");
        if (r > 0) {
            int killed = WIFSIGNALED(status);
            lua_pushstring(L, killed ? "killed" : "exited");
            lua_pushinteger(L, killed ? WTERMSIG(status) : WEXITSTATUS(status));
            return 2;
        }
        if (i >= polls || xcancel_requested())
            return 0;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int luaopen_xlua_transport(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"spawn", l_spawn},
        {"write", l_write},
        {"read", l_read},
        {"readable", l_readable},
        {"close", l_close},
        {"wait", l_wait},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
