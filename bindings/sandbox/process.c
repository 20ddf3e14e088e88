/* bindings/sandbox/process.c: the sandbox process: forked for each run, locked down by the OS
 * (resource limits, no fds but its reply pipe, a seccomp filter), watched and killed by the host.
 *
 * The OS limits do not depend on the Lua hook being right: whatever the config manages inside
 * the Lua state, the process cannot use more CPU or address space than set here, cannot make a
 * system call beyond memory, clocks and its reply, and dies with the host (PR_SET_PDEATHSIG).
 * Signals: the process takes every signal's default action, so a Ctrl-C at the terminal ends it
 * with the host's run; the host also stops waiting when its own Ctrl-C hook is armed (xlua.c). */
#include "sandbox.h"
#include "lhelpers.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Address space the process may add to what it inherited, beyond twice the memory cap (the
 * allocator's overhead and the C library's own needs; Lua's memory is capped by then). */
#define AS_HEADROOM (64L * 1024 * 1024)
/* The host kills the process after twice its CPU time limit and WALL_GRACE seconds of
 * wall-clock time: a loaded machine may give it much less CPU than that, but it never waits
 * for anything, so it cannot need more wall-clock time than that without being stuck. */
#define WALL_GRACE 2

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU seconds the process may use: the in-process limit (max_time) comes first whenever the
 * hook is right. */
static rlim_t cpu_limit(const struct run_opts *o)
{
    return (rlim_t)ceil(o->max_time) + 1;
}

static int wall_limit(const struct run_opts *o)
{
    return 2 * (int)cpu_limit(o) + WALL_GRACE;
}

/* ---- in the sandbox process ---- */

static void default_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and unused ones */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void close_fds_but(int keep)
{
#ifdef SYS_close_range
    if ((keep == 0 || syscall(SYS_close_range, 0u, (unsigned)keep - 1, 0u) == 0) &&
        syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
        return;
#endif
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 0; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/* The process's address space in bytes, or 0 if /proc cannot tell. */
static size_t address_space(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long pages = strtoul(buf, NULL, 10);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    return setrlimit(resource, &rl);
}

/* Everything but the Lua state: NULL, or what could not be done (errno tells why). */
static const char *lock_down(int fd, const struct run_opts *o, struct sandbox *sb)
{
    close_fds_but(fd);
    /* mktime (os.time{...}) re-reads the zone file unless TZ names it: name it while files
     * can still be read, and hide that from os.getenv. */
    if (getenv("TZ") == NULL) {
        if (setenv("TZ", ":/etc/localtime", 1) != 0)
            return "setenv TZ";
        sb->tz_pinned = 1;
    }
    tzset();
    size_t as = address_space();
    if (as == 0)
        return "reading /proc/self/statm";
    size_t room = (size_t)o->max_memory;
    room = room > (SIZE_MAX - AS_HEADROOM - as) / 2 ? SIZE_MAX - as : 2 * room + AS_HEADROOM;
    if (set_limit(RLIMIT_CORE, 0, 0) || set_limit(RLIMIT_FSIZE, 0, 0) ||
        set_limit(RLIMIT_NOFILE, 0, 0) ||
        set_limit(RLIMIT_CPU, cpu_limit(o), cpu_limit(o) + 1) ||
        set_limit(RLIMIT_AS, (rlim_t)(as + room), (rlim_t)(as + room)))
        return "setrlimit";
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return "PR_SET_DUMPABLE";
    if (sb_seccomp_lock(fd) != 0)
        return "seccomp";
    return NULL;
}

static _Noreturn void child_main(int fd, pid_t host_pid, lua_State *host, const char *source,
                                 size_t len, const char *chunkname, const struct run_opts *o)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != host_pid)
        _exit(127); /* the host is gone already */
    default_signals();
    static struct sandbox sb;
    static struct outcome out;
    const char *failed = lock_down(fd, o, &sb);
    if (failed) {
        out.code = "NOSANDBOX";
        int n = snprintf(out.text, sizeof out.text, "%s: the sandbox process cannot be locked "
                         "down (%s: %s)", sb_display_name(chunkname), failed, strerror(errno));
        out.message = out.text;
        out.message_len = n > 0 && (size_t)n < sizeof out.text ? (size_t)n : 0;
    } else {
        sb_run(&sb, host, source, len, chunkname, o, &out);
    }
    _exit(sb_send_outcome(fd, sb.S, &out) == 0 ? 0 : 126);
}

/* ---- in the host ---- */

/* The host's Ctrl-C handler arms a hook on its main state (xlua.c): a change there while we
 * wait means Ctrl-C. */
struct hook_state {
    lua_Hook hook;
    int mask, count;
};

static void get_hook(lua_State *M, struct hook_state *h)
{
    h->hook = lua_gethook(M);
    h->mask = lua_gethookmask(M);
    h->count = lua_gethookcount(M);
}

static int hook_changed(lua_State *M, const struct hook_state *before)
{
    struct hook_state now;
    get_hook(M, &now);
    return now.hook != before->hook || now.mask != before->mask || now.count != before->count;
}

void sb_child_close(struct child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = 0;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->reply);
    c->reply = NULL;
    c->len = c->cap = 0;
}

enum wait_end { REPLIED, TIMED_OUT, INTERRUPTED, TOO_BIG, READ_FAILED };

/* Read the reply until the process closes the pipe (it exits), the wall-clock limit passes,
 * or Ctrl-C. *err is errno for READ_FAILED. */
static enum wait_end read_reply(struct child *c, lua_State *M, int64_t deadline, size_t limit,
                                int *err)
{
    struct hook_state before;
    get_hook(M, &before);
    for (;;) {
        int64_t left = deadline - monotonic_ns();
        if (left <= 0)
            return TIMED_OUT;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)((left + 999999) / 1000000));
        if (r < 0 && errno != EINTR) {
            *err = errno;
            return READ_FAILED;
        }
        if (hook_changed(M, &before))
            return INTERRUPTED;
        if (r <= 0)
            continue;
        if (c->len == c->cap) {
            if (c->cap > limit)
                return TOO_BIG;
            size_t ncap = c->cap ? c->cap * 2 : 65536;
            ncap = ncap > limit ? limit + 1 : ncap;
            char *nbuf = realloc(c->reply, ncap);
            if (nbuf == NULL) {
                *err = ENOMEM;
                return READ_FAILED;
            }
            c->reply = nbuf;
            c->cap = ncap;
        }
        ssize_t n = read(c->fd, c->reply + c->len, c->cap - c->len);
        if (n == 0)
            return REPLIED;
        if (n > 0)
            c->len += (size_t)n;
        else if (errno != EINTR && errno != EAGAIN) {
            *err = errno;
            return READ_FAILED;
        }
    }
}

/* What sandbox.run returns once the process ended: its reply, or why it has none. */
static int conclude(lua_State *L, struct child *c, enum wait_end end, int err, int status,
                    const struct rusage *ru, const char *name, const struct run_opts *o)
{
    if (end == INTERRUPTED || (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT))
        return lx_failf(L, "INTERRUPTED", "%s: interrupted", name);
    if (end == TIMED_OUT)
        return lx_failf(L, "LIMIT_TIME", "%s: wall-clock time limit (%d s) exceeded: the "
                        "sandbox process was killed", name, wall_limit(o));
    if (end == READ_FAILED)
        return lx_failf(L, xerr_errno_code(err), "%s: reading the sandbox process's reply: %s",
                        name, strerror(err));
    if (end == TOO_BIG)
        return lx_failf(L, "CRASHED", "%s: the sandbox process sent more than any result",
                        name);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        double cpu = (double)ru->ru_utime.tv_sec + (double)ru->ru_stime.tv_sec;
        if (sig == SIGXCPU || (sig == SIGKILL && cpu >= (double)cpu_limit(o)))
            return lx_failf(L, "LIMIT_TIME", "%s: CPU time limit (%d s) exceeded: the sandbox "
                            "process was killed", name, (int)cpu_limit(o));
        if (sig == SIGSYS)
            return lx_failf(L, "CRASHED", "%s: the sandbox process made a forbidden system "
                            "call and was killed", name);
        return lx_failf(L, "CRASHED", "%s: the sandbox process was killed by signal %d (%s)",
                        name, sig, strsignal(sig));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return lx_failf(L, "CRASHED", "%s: the sandbox process failed (exit status %d)", name,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    int n = sb_push_reply(L, c->reply, c->len, (size_t)o->max_memory);
    if (n == 0)
        return lx_failf(L, "CRASHED", "%s: the sandbox process sent a malformed reply", name);
    return n;
}

int sb_run_in_child(lua_State *L, struct child *c, const char *source, size_t len,
                    const char *chunkname, const struct run_opts *o)
{
    const char *name = sb_display_name(chunkname);
    if (len > 0 && source[0] == LUA_SIGNATURE[0])
        return lx_failf(L, "BINARY", "%s: a binary chunk is refused: a config is Lua source",
                        name);
    /* The process walks opts.env on this stack (a copy of it): room for that, made here. */
    luaL_checkstack(L, 2 * MAX_DEPTH + 3 * MAX_DEPTH + 20, "sandbox: no stack space");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *M = lua_tothread(L, -1);
    lua_pop(L, 1);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        return lx_failf(L, xerr_errno_code(err), "%s: cannot start the sandbox process: %s",
                        name, strerror(err));
    }
    c->fd = fds[0];
    /* No handler of the host may run in the process before it resets them. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t host_pid = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_main(fds[1], host_pid, L, source, len, chunkname, o);
    int err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    if (pid < 0)
        return lx_failf(L, xerr_errno_code(err), "%s: cannot start the sandbox process: %s",
                        name, strerror(err));
    c->pid = pid;

    int64_t deadline = monotonic_ns() + (int64_t)wall_limit(o) * 1000000000;
    enum wait_end end = read_reply(c, M, deadline, sb_reply_limit((size_t)o->max_memory), &err);
    if (end != REPLIED)
        kill(pid, SIGKILL);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    c->pid = 0;
    close(c->fd);
    c->fd = -1;
    return conclude(L, c, end, err, status, &ru, name, o);
}
