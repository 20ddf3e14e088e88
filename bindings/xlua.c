/* bindings/xlua.c: the host program: options, the Lua search paths, running a command,
 * a script, a string or the REPL under a message handler, and the signals that stop Lua code. */
#include "base/cancel.h"
#include "domain/dom.h"
#include "lhelpers.h"
#include "precompiled.h"
#include "xlua_config.h"

#include <lualib.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *progname = "xlua";

static const struct {
    const char *name;
    lua_CFunction open;
} preloaded[] = {
    {"xlua", luaopen_xlua},
    {"xlua.savefile", luaopen_xlua_savefile},
    {"xlua.readline", luaopen_xlua_readline_loader},
    {"xlua.cfg", luaopen_xlua_cfg},
    {"xlua.sandbox", luaopen_xlua_sandbox},
    {"xlua.xlutil", luaopen_xlua_xlutil_loader},
    {"xlua.domain", luaopen_xlua_domain},
    {"xlua.process", luaopen_xlua_process},
    {"xlua.transport", luaopen_xlua_transport},
};

struct options {
    int verbose;
    int interactive;       /* -i */
    int script;            /* index in argv of the command or script, 0 if none */
    int has_e;
    const char *backend;
};

/* ---- Signals: lua.c's way, a hook that raises an error at the next Lua instruction ----
 * SIGINT, SIGTERM and SIGHUP (an ssh session dropping) all stop the running Lua code the way
 * Ctrl-C does, so a save or restore puts its domain back whichever one arrives; they also set
 * the core's cancel flag and are not restarted, so a read or write stuck on a pipe gives up.
 * SIGPIPE is caught and ignored: a write to a closed pipe fails with EPIPE, and the command
 * says so. Handlers are reset on exec, so children see the default dispositions. */

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
static lua_State *running;
static volatile sig_atomic_t interrupt_pending;
static volatile sig_atomic_t caught_signal;  /* the last signal that stopped Lua code */
/* Set once the error is raised: the code is unwinding and putting things back (a paused domain,
 * a half-built one), which a second error must not cut short, so later signals are only noted.
 * Cleanup is short; SIGKILL still ends it. */
static volatile sig_atomic_t stopping;
/* In the REPL only SIGINT is caught: SIGTERM and SIGHUP end an interactive session, which a
 * Lua error would not (the REPL reports errors and reads on). */
static int in_repl;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    interrupt_pending = 0;
    stopping = !in_repl; /* the REPL goes on after an error: Ctrl-C must work again there */
    /* No position: the message is what a policy reports, "interrupted by SIGTERM". */
    if (caught_signal == SIGINT)
        lua_pushliteral(L, "interrupted!");
    else
        lua_pushstring(L, caught_signal == SIGTERM ? "interrupted by SIGTERM!"
                                                   : "interrupted by SIGHUP!");
    lua_error(L);
}

/* The first signal arms the hook; a second one before the hook has fired (Lua is stuck in a
 * C call) kills the process as that signal normally would; one after it fired is only noted. */
static void on_stop_signal(int sig)
{
    if (stopping)
        return;
    if (interrupt_pending) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    interrupt_pending = 1;
    caught_signal = sig;
    xcancel_signal = sig;
    lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static void on_sigpipe(int sig)
{
    (void)sig;
}


static void set_stop_handlers(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    sa.sa_flags = 0; /* no SA_RESTART: interrupt blocking calls */
    for (size_t i = 0; i < (in_repl ? 1 : sizeof stop_signals / sizeof stop_signals[0]); i++)
        sigaction(stop_signals[i], &sa, NULL);
}

static int message_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "xlua.verbose");
    int verbose = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (verbose)
        luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Call the function under the arguments on the stack with the handler and Ctrl-C armed. */
static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    running = L;
    interrupt_pending = 0;
    stopping = 0;
    caught_signal = 0;
    xcancel_signal = 0;
    set_stop_handlers(on_stop_signal);
    int status = lua_pcall(L, narg, nres, base);
    set_stop_handlers(SIG_DFL);
    lua_remove(L, base);
    return status;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

/* ---- where things are: <prefix>/bin/xlua and <prefix>/share/xlua/{lua,scripts} ---- */

static char share_dir[PATH_MAX];

static void find_share_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0'; /* <prefix>/bin */
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* <prefix> */
    int len = snprintf(share_dir, sizeof share_dir, "%s/%s", exe, XLUA_SHARE_REL);
    if (len < 0 || (size_t)len >= sizeof share_dir)
        share_dir[0] = '\0';
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Keep the absolute entries of a ';'-separated template list of len bytes: the working
 * directory is not trusted (xlua runs as root in dom0). Appends them to b. */
static void add_absolute_range(luaL_Buffer *b, const char *list, size_t len)
{
    while (len > 0) {
        const char *end = memchr(list, ';', len);
        size_t n = end ? (size_t)(end - list) : len;
        if (n > 0 && list[0] == '/') {
            luaL_addlstring(b, list, n);
            luaL_addchar(b, ';');
        }
        if (!end)
            break;
        len -= n + 1;
        list = end + 1;
    }
}

static void add_absolute_entries(luaL_Buffer *b, const char *list)
{
    if (list)
        add_absolute_range(b, list, strlen(list));
}

/* Push the buffer without its final ';'. */
static void push_list(luaL_Buffer *b)
{
    luaL_pushresult(b);
    size_t len;
    const char *s = lua_tolstring(b->L, -1, &len);
    if (len > 0 && s[len - 1] == ';') {
        lua_pushlstring(b->L, s, len - 1);
        lua_remove(b->L, -2);
    }
}

static void add_dir(luaL_Buffer *b, const char *dir)
{
    if (dir[0] != '/')
        return;
    luaL_addstring(b, dir);
    luaL_addstring(b, "/?.lua;");
    luaL_addstring(b, dir);
    luaL_addstring(b, "/?/init.lua;");
}

/* package.path = $XLUA_PATH, then the default: -L dirs ; <share>/lua ; the system's Lua 5.4
 * dirs. A ";;" in $XLUA_PATH stands for the default, as in LUA_PATH. Only argv[1..nopts) are
 * options: -L after the script (or "-") belongs to the script. */
static void set_search_paths(lua_State *L, char **argv, int nopts)
{
    lua_getglobal(L, "package");
    int pkg = lua_gettop(L);
    lua_getfield(L, pkg, "path");
    const char *system_path = lua_tostring(L, -1);

    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i < nopts; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-L") == 0 && i + 1 < nopts)
            add_dir(&b, argv[++i]);
        else if (strcmp(argv[i], "-e") == 0 || strcmp(argv[i], "--backend") == 0)
            i++;
    }
    if (share_dir[0]) {
        char lua_dir[PATH_MAX + 8];
        snprintf(lua_dir, sizeof lua_dir, "%s/lua", share_dir);
        add_dir(&b, lua_dir);
    }
    add_absolute_entries(&b, system_path);
    luaL_pushresult(&b);
    const char *def = lua_tostring(L, -1);

    luaL_buffinit(L, &b);
    const char *env = getenv("XLUA_PATH");
    const char *mark = env ? strstr(env, ";;") : NULL;
    if (mark) {
        add_absolute_range(&b, env, (size_t)(mark - env));
        add_absolute_entries(&b, def);
        add_absolute_entries(&b, mark + 2);
    } else {
        add_absolute_entries(&b, env);
        add_absolute_entries(&b, def);
    }
    push_list(&b);
    lua_setfield(L, pkg, "path");
    lua_pop(L, 2); /* the default and the system path */

    lua_getfield(L, pkg, "cpath");
    const char *system_cpath = lua_tostring(L, -1);
    luaL_buffinit(L, &b);
    add_absolute_entries(&b, system_cpath);
    push_list(&b);
    lua_setfield(L, pkg, "cpath");
    lua_pop(L, 2); /* the system cpath and package */
}

static void preload_modules(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (size_t i = 0; i < sizeof preloaded / sizeof preloaded[0]; i++) {
        lua_pushcfunction(L, preloaded[i].open);
        lua_setfield(L, -2, preloaded[i].name);
    }
    lua_pop(L, 1);
}

/* ---- commands: scripts/CMD.lua, each starting with "-- one line summary" ---- */

static int command_path(const char *name, char *out, size_t outsz)
{
    if (!share_dir[0] || strchr(name, '/') || name[0] == '.' || name[0] == '\0')
        return 0;
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".lua") == 0)
        len -= 4;
    snprintf(out, outsz, "%s/scripts/%.*s.lua", share_dir, (int)len, name);
    return is_file(out);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_commands(void)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/scripts", share_dir);
    DIR *d = share_dir[0] ? opendir(dir) : NULL;
    if (!d) {
        printf("\n(no commands found: %s is missing)\n", dir);
        return;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    int partial = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= 4 || strcmp(de->d_name + len - 4, ".lua") != 0 || de->d_name[0] == '.')
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **n = realloc(names, ncap * sizeof *n);
            if (!n) {
                partial = 1;
                break;
            }
            names = n;
            cap = ncap;
        }
        if (!(names[count] = strndup(de->d_name, len - 4))) {
            partial = 1;
            break;
        }
        count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof names[0], compare_names);
    int width = 10;
    for (size_t i = 0; i < count; i++)
        if ((int)strlen(names[i]) > width)
            width = (int)strlen(names[i]);
    printf("\nCommands (xlua CMD --help for each):\n");
    for (size_t i = 0; i < count; i++) {
        char path[PATH_MAX + 300], line[512] = "";
        snprintf(path, sizeof path, "%s/%s.lua", dir, names[i]);
        FILE *f = fopen(path, "r");
        if (f) {
            while (fgets(line, sizeof line, f) && line[0] == '#') /* a #! line */
                ;
            fclose(f);
        }
        line[strcspn(line, "\n")] = '\0';
        const char *summary = strncmp(line, "-- ", 3) == 0 ? line + 3 : "";
        printf("  %-*s %s\n", width, names[i], summary);
        free(names[i]);
    }
    free(names);
    if (partial)
        printf("  (out of memory: more commands are in %s)\n", dir);
}

static void print_usage(void)
{
    printf("usage: %s [options] [CMD | FILE.lua] [args]\n"
           "  (no CMD or FILE)  start the interactive REPL\n"
           "  CMD               run the bundled command scripts/CMD.lua (CMD.lua also works)\n"
           "  FILE.lua          run a Lua script, with its arguments in `arg`\n"
           "Options:\n"
           "  -e CODE           run CODE\n"
           "  -i                enter the REPL after running CMD or FILE\n"
           "  -L DIR            add DIR to the Lua search path (DIR/?.lua)\n"
           "  -v                verbose: tracebacks and debug messages\n"
           "  --backend NAME    domain backend: sim or libxl (default: libxl on a Xen dom0)\n"
           "  --version         print the version\n"
           "  -h, --help        this help\n",
           progname);
    print_commands();
}

/* ---- options ---- */

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (see %s --help)\n", progname);
    return -1;
}

/* Returns 0, 1 when --help/--version was handled, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            o->script = i;
            return 0;
        }
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                o->script = i + 1;
            return 0;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage();
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("xlua %s (api level %d, %s)\n", XLUA_VERSION, XLUA_API_LEVEL, LUA_RELEASE);
            return 1;
        }
        if (strcmp(a, "-v") == 0)
            o->verbose = 1;
        else if (strcmp(a, "-i") == 0)
            o->interactive = 1;
        else if (strcmp(a, "-e") == 0 || strcmp(a, "-L") == 0 || strcmp(a, "--backend") == 0) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs an argument", a);
            if (a[1] == 'e')
                o->has_e = 1;
            if (a[1] == '-') {
                o->backend = argv[i + 1];
                if (strcmp(o->backend, "sim") != 0 && strcmp(o->backend, "libxl") != 0)
                    return usage_error("unknown backend '%s': use sim or libxl", o->backend);
            }
            i++;
        } else
            return usage_error("unknown option '%s'", a);
    }
    return 0;
}

/* lua.c's arg table: arg[0] is the script, arg[1..] its arguments, negatives before. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    int narg = argc - (script + 1);
    lua_createtable(L, narg, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_chunk_string(lua_State *L, const char *code)
{
    int status = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

/* Runs the script and returns the process exit status: the chunk's integer result,
 * 1 for an error or a false result, else 0. */
static int run_script(lua_State *L, char **argv, int argc, int script)
{
    const char *target = argv[script];
    char path[PATH_MAX + 32];
    const char *file = target;
    if (strcmp(target, "-") == 0)
        file = NULL; /* stdin */
    else if (command_path(target, path, sizeof path))
        file = path;
    else if (!is_file(target)) {
        fprintf(stderr, "%s: '%s' is neither a command nor a Lua file (see %s --help)\n", progname,
                target, progname);
        return 2;
    }
    create_arg_table(L, argv, argc, script);
    int status = file ? xlua_loadfile(L, file) : luaL_loadfile(L, NULL);
    if (status != LUA_OK) {
        report(L, status);
        return 1;
    }
    int nargs = argc - script - 1;
    luaL_checkstack(L, nargs, "too many arguments to script");
    for (int i = script + 1; i < argc; i++)
        lua_pushstring(L, argv[i]);
    status = docall(L, nargs, 1);
    if (report(L, status) != LUA_OK)
        return caught_signal ? 128 + caught_signal : 1;
    int code = 0;
    if (lua_isinteger(L, -1))
        code = (int)lua_tointeger(L, -1);
    else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
        code = 1;
    lua_pop(L, 1);
    return code;
}

/* mkdir -p, best effort: without the directory the REPL simply keeps no history. */
static void make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    mkdir(path, 0700);
}

static void history_path(char *out, size_t outsz)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char dir[PATH_MAX];
    int len;
    if (state && state[0] == '/')
        len = snprintf(dir, sizeof dir, "%s/xlua", state);
    else if (home && home[0] == '/')
        len = snprintf(dir, sizeof dir, "%s/.local/state/xlua", home);
    else
        len = -1;
    out[0] = '\0';
    if (len < 0 || (size_t)len >= sizeof dir)
        return;
    make_dirs(dir);
    len = snprintf(out, outsz, "%s/history", dir);
    if (len < 0 || (size_t)len >= outsz)
        out[0] = '\0';
}

/* require("xlua.repl").run{banner, history, globals}: every preloaded xlua.NAME module is a
 * global NAME in the REPL only (and `xlua` itself). */
static int run_repl(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "xlua.repl");
    int status = docall(L, 1, 1);
    if (report(L, status) != LUA_OK)
        return 1;
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);

    lua_newtable(L); /* opts */
    char hist[PATH_MAX];
    history_path(hist, sizeof hist);
    if (hist[0])
        lx_setstr(L, "history", hist);

    lua_newtable(L); /* globals */
    for (size_t i = 0; i < sizeof preloaded / sizeof preloaded[0]; i++) {
        const char *name = preloaded[i].name;
        if (strcmp(name, "xlua.readline") == 0)
            continue;
        const char *dot = strchr(name, '.');
        lua_getglobal(L, "require");
        lua_pushstring(L, name);
        if (docall(L, 1, 1) != LUA_OK) {
            report(L, LUA_ERRRUN);
            continue;
        }
        lua_setfield(L, -2, dot ? dot + 1 : name);
    }
    lua_setfield(L, -2, "globals");

    const char *backend;
    struct xerr e = { 0 };
    if (dom_choose(NULL, &backend, &e) < 0)
        backend = e.message;
    lua_pushfstring(L, "xlua %s (%s), backend: %s. Ctrl-D quits.", XLUA_VERSION, LUA_RELEASE,
                    backend);
    lua_setfield(L, -2, "banner");

    in_repl = 1;
    status = docall(L, 1, 0);
    in_repl = 0;
    return report(L, status) == LUA_OK ? 0 : 1;
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    struct options o = {0};
    int parsed = parse_options(argc, argv, &o);
    if (parsed != 0) {
        lua_pushinteger(L, parsed > 0 ? 0 : 2);
        return 1;
    }
    if (o.backend)
        setenv("XLUA_BACKEND", o.backend, 1);

    luaL_openlibs(L);
    preload_modules(L);
    xlua_precompiled_install(L);
    set_search_paths(L, argv, o.script ? o.script : argc);

    lua_pushboolean(L, o.verbose);
    lua_setfield(L, LUA_REGISTRYINDEX, "xlua.verbose");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "xlua");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "set_verbose");
    lua_pushboolean(L, o.verbose);
    lua_call(L, 1, 0);
    lua_pop(L, 1);

    if (!o.script)
        create_arg_table(L, argv, argc, 0);

    int code = 0;
    for (int i = 1; i < argc && (!o.script || i < o.script); i++) {
        if (strcmp(argv[i], "-e") == 0) {
            if (run_chunk_string(L, argv[++i]) != LUA_OK) {
                lua_pushinteger(L, 1);
                return 1;
            }
        } else if (strcmp(argv[i], "-L") == 0 || strcmp(argv[i], "--backend") == 0)
            i++;
    }
    if (o.script)
        code = run_script(L, argv, argc, o.script);
    if (o.interactive || (!o.script && !o.has_e))
        code = run_repl(L) || code;
    lua_pushinteger(L, code);
    return 1;
}

/* A command started with fd 0, 1 or 2 closed would open its next file there, and then write
 * a savefile into a lock file or read a config from it. Each closed one gets /dev/null, opened
 * the wrong way round (stdout read-only, stdin write-only), so that using it still fails with
 * EBADF, as it would have. Returns -1 when that is not possible. */
static int reserve_stdio(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (got != fd) {
            if (got >= 0)
                close(got);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (reserve_stdio() < 0)
        return 1;
    struct sigaction pipe_sa;
    memset(&pipe_sa, 0, sizeof pipe_sa);
    pipe_sa.sa_handler = on_sigpipe;
    sigemptyset(&pipe_sa.sa_mask);
    sigaction(SIGPIPE, &pipe_sa, NULL);
    find_share_dir();
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "%s: cannot create the Lua state: not enough memory\n", progname);
        return 1;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int code = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
    if (status != LUA_OK)
        report(L, status);
    fflush(stdout);
    lua_close(L);
    return code;
}
