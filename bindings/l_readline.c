/* bindings/l_readline.c: module xlua.readline: line input for the REPL (GNU readline on a
 * terminal, a plain stdio fallback otherwise), persistent history, and tab completion. */
#include "lhelpers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define HISTORY_MAX 1000

/* The completer lives in the registry under this key's address. */
static const char completer_key = 'c';

/* Set while readline() runs, so the completion callback can reach Lua. */
static lua_State *reading_L;

/* Signals are caught only while a line is being read, without SA_RESTART so a blocked
 * read or pselect returns EINTR; the previous handlers (the host's SIGINT hook for running
 * Lua code, lua.c style) come back afterwards. readline's own handlers stay off
 * (rl_catch_signals = 0): they would re-raise into whatever handler the host installed.
 *   SIGINT: abandon the line.  SIGWINCH: tell readline the size changed.
 *   SIGTSTP, SIGTERM, SIGHUP, SIGQUIT: put the terminal back, let the previous action
 *   happen (stop or die), and if we are still here, pick the line up again. */
static const int caught[] = {SIGINT, SIGWINCH, SIGTSTP, SIGTERM, SIGHUP, SIGQUIT};
#define NCAUGHT (sizeof caught / sizeof caught[0])

static volatile sig_atomic_t got_sigint;
static volatile sig_atomic_t got_sigwinch;
static volatile sig_atomic_t got_passed;  /* a signal to pass on, or 0 */

static void on_signal(int sig)
{
    if (sig == SIGINT)
        got_sigint = 1;
    else if (sig == SIGWINCH)
        got_sigwinch = 1;
    else
        got_passed = sig;
}

struct saved_signals {
    int n;  /* how many of caught[] were replaced: all on a terminal, SIGINT alone otherwise */
    struct sigaction prev[NCAUGHT];
};

static void catch_signals(struct saved_signals *saved, int tty)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    got_sigint = got_sigwinch = got_passed = 0;
    saved->n = tty ? (int)NCAUGHT : 1;
    for (int i = 0; i < saved->n; i++)
        sigaction(caught[i], &sa, &saved->prev[i]);
}

static void restore_signals(const struct saved_signals *saved)
{
    for (int i = 0; i < saved->n; i++)
        sigaction(caught[i], &saved->prev[i], NULL);
}

/* Called with our signals blocked. */
static void pass_signal(int sig, const struct saved_signals *saved)
{
    struct sigaction mine;
    sigset_t one;
    int i = 0;
    while (caught[i] != sig)
        i++;
    rl_cleanup_after_signal();
    sigaction(sig, &saved->prev[i], &mine);
    sigemptyset(&one);
    sigaddset(&one, sig);
    kill(getpid(), sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);  /* delivered here: we stop, die, or go on */
    sigprocmask(SIG_BLOCK, &one, NULL);
    sigaction(sig, &mine, NULL);
    rl_reset_after_signal();
    rl_forced_update_display();
}

/* The line read last. It lives in a static buffer so nothing is leaked if pushing it to
 * Lua raises a memory error; the buffer is reused by the next call. */
static char *line_buf;
static size_t line_cap;

static int keep_line(const char *s, size_t len)
{
    if (len + 1 > line_cap) {
        size_t cap = line_cap ? line_cap : 256;
        while (cap < len + 1)
            cap *= 2;
        char *p = realloc(line_buf, cap);
        if (!p)
            return -1;
        line_buf = p;
        line_cap = cap;
    }
    memcpy(line_buf, s, len);
    line_buf[len] = '\0';
    return 0;
}

enum read_result { READ_LINE, READ_EOF, READ_INTERRUPTED, READ_NOMEM };

/* Fallback for a non-terminal stdin: any line length, no prompt (nobody is looking at
 * one, and piped output stays clean), no echo. */
static enum read_result read_plain(size_t *len)
{
    size_t n = 0;
    fflush(stdout);
    for (;;) {
        int c = getc(stdin);
        if (c == EOF) {
            if (ferror(stdin) && errno == EINTR && got_sigint) {
                clearerr(stdin);
                return READ_INTERRUPTED;
            }
            if (ferror(stdin) && errno == EINTR) {
                clearerr(stdin);
                continue;
            }
            if (n == 0)
                return READ_EOF;
            break;  /* a last line without a newline */
        }
        if (c == '\n')
            break;
        if (n + 2 > line_cap) {
            size_t cap = line_cap ? line_cap * 2 : 256;
            char *p = realloc(line_buf, cap);
            if (!p)
                return READ_NOMEM;
            line_buf = p;
            line_cap = cap;
        }
        line_buf[n++] = (char)c;
    }
    if (n > 0 && line_buf[n - 1] == '\r')
        n--;
    *len = n;
    return READ_LINE;
}

/* GNU readline through its callback interface, so we own the wait loop and can abandon a
 * line on Ctrl-C cleanly (what CPython does) instead of longjmp-ing out of readline. */
static char *rl_result;
static int rl_finished;

static void on_rl_line(char *line)
{
    rl_result = line;
    rl_finished = 1;
    rl_callback_handler_remove();
}

static enum read_result read_terminal(const char *prompt, size_t *len,
                                      const struct saved_signals *saved)
{
    sigset_t block, orig;
    sigemptyset(&block);
    for (size_t i = 0; i < NCAUGHT; i++)
        sigaddset(&block, caught[i]);

    rl_result = NULL;
    rl_finished = 0;
    rl_callback_handler_install(prompt, on_rl_line);
    /* Signals stay blocked except inside pselect, so a Ctrl-C between two keys cannot be
     * missed while we are about to sleep. */
    sigprocmask(SIG_BLOCK, &block, &orig);
    while (!rl_finished) {
        if (got_sigint)
            break;
        if (got_sigwinch) {
            got_sigwinch = 0;
            rl_resize_terminal();
        }
        if (got_passed) {
            int sig = got_passed;
            got_passed = 0;
            pass_signal(sig, saved);
            continue;
        }
        int fd = fileno(rl_instream ? rl_instream : stdin);
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        int r = pselect(fd + 1, &fds, NULL, NULL, NULL, &orig);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;  /* treated as end of input */
        }
        sigprocmask(SIG_SETMASK, &orig, NULL);
        rl_callback_read_char();
        sigprocmask(SIG_BLOCK, &block, &orig);
    }
    sigprocmask(SIG_SETMASK, &orig, NULL);

    if (!rl_finished) {
        int interrupted = got_sigint;
        /* Abandon the half-typed line, put the terminal back, start afresh. */
        rl_point = rl_end;
        rl_redisplay();
        if (interrupted)
            rl_echo_signal_char(SIGINT);
        rl_free_line_state();
        rl_callback_sigcleanup();
        rl_cleanup_after_signal();
        rl_callback_handler_remove();
        fputc('\n', rl_outstream ? rl_outstream : stdout);
        fflush(rl_outstream ? rl_outstream : stdout);
        return interrupted ? READ_INTERRUPTED : READ_EOF;
    }
    if (!rl_result)
        return READ_EOF;
    size_t n = strlen(rl_result);
    int bad = keep_line(rl_result, n);
    free(rl_result);
    rl_result = NULL;
    if (bad)
        return READ_NOMEM;
    *len = n;
    return READ_LINE;
}

/* readline(prompt) -> line | nil at end of input.
 * Ctrl-C abandons the line: the result is then "", true (an empty line for naive callers,
 * the second value lets the REPL drop a half-entered multi-line chunk). */
static int l_readline(lua_State *L)
{
    const char *prompt = luaL_optstring(L, 1, "");
    int tty = isatty(STDIN_FILENO);
    struct saved_signals saved;
    size_t len = 0;
    enum read_result r;

    catch_signals(&saved, tty);
    reading_L = L;
    r = tty ? read_terminal(prompt, &len, &saved) : read_plain(&len);
    reading_L = NULL;
    restore_signals(&saved);

    switch (r) {
    case READ_LINE:
        lua_pushlstring(L, line_buf, len);
        return 1;
    case READ_INTERRUPTED:
        lua_pushliteral(L, "");
        lua_pushboolean(L, 1);
        return 2;
    case READ_NOMEM:
        return luaL_error(L, "not enough memory for the input line");
    case READ_EOF:
    default:
        luaL_pushfail(L);
        return 1;
    }
}

static int l_is_tty(lua_State *L)
{
    lua_pushboolean(L, isatty(STDIN_FILENO));
    return 1;
}

static int l_add_history(lua_State *L)
{
    const char *line = luaL_checkstring(L, 1);
    add_history(line);
    return 0;
}

static int history_result(lua_State *L, int err, const char *what, const char *path)
{
    if (err == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    struct xerr e = {0};
    xerr_errno(&e, err, "cannot %s history file %s", what, path);
    return lx_fail(L, &e);
}

/* read_history(path) -> true | nil, message, code */
static int l_read_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    return history_result(L, read_history(path), "read", path);
}

/* write_history(path) -> true | nil, message, code; keeps the last HISTORY_MAX entries. */
static int l_write_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    stifle_history(HISTORY_MAX);
    return history_result(L, write_history(path), "write", path);
}

/* history() -> list of the entries in memory, oldest first. */
static int l_history(lua_State *L)
{
    HIST_ENTRY **list = history_list();
    lua_createtable(L, history_length, 0);
    for (int i = 0; list && list[i]; i++) {
        lua_pushstring(L, list[i]->line);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_clear_history(lua_State *L)
{
    (void)L;
    clear_history();
    return 0;
}

/* set_completer(fn | nil): fn(word, line, start) returns a list of candidates;
 * start is the 1-based position of word in line. */
static int l_set_completer(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &completer_key);
    return 0;
}

/* The completion request and its answer, outside Lua so a Lua error in the middle of
 * collecting leaves only C-owned strings to free. */
struct completion {
    const char *word;
    int start;
    char **items;
    size_t n, cap;
};

static int collect_candidates(lua_State *L)
{
    struct completion *c = lua_touserdata(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &completer_key);
    if (!lua_isfunction(L, -1))
        return 0;
    lua_pushstring(L, c->word);
    lua_pushstring(L, rl_line_buffer ? rl_line_buffer : "");
    lua_pushinteger(L, (lua_Integer)c->start + 1);
    lua_call(L, 3, 1);
    if (!lua_istable(L, -1))
        return 0;
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, -1, i);
        const char *s = lua_tostring(L, -1);
        if (s && c->n + 1 >= c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            char **p = realloc(c->items, cap * sizeof *p);
            if (!p)
                break;
            c->items = p;
            c->cap = cap;
        }
        if (s) {
            char *copy = strdup(s);
            if (!copy)
                break;
            c->items[c->n++] = copy;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static struct completion pending;
static size_t pending_next;

static char *next_candidate(const char *text, int state)
{
    (void)text;
    if (state == 0)
        pending_next = 0;
    if (pending_next < pending.n) {
        char *s = pending.items[pending_next];
        pending.items[pending_next++] = NULL;  /* readline owns it now */
        return s;
    }
    return NULL;
}

static void free_pending(void)
{
    for (size_t i = 0; i < pending.n; i++)
        free(pending.items[i]);
    free(pending.items);
    memset(&pending, 0, sizeof pending);
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    char **matches = NULL;
    lua_State *L = reading_L;
    rl_attempted_completion_over = 1;  /* never fall back to file names */
    rl_completion_append_character = '\0';  /* readline resets it before each attempt */
    if (!L || !lua_checkstack(L, 8))
        return NULL;
    memset(&pending, 0, sizeof pending);
    pending.word = text;
    pending.start = start;
    /* Everything that can raise runs under lua_pcall: an error must not unwind through
     * readline's C frames. Errors in the completer are ignored (no candidates). */
    int top = lua_gettop(L);
    lua_pushcfunction(L, collect_candidates);
    lua_pushlightuserdata(L, &pending);
    lua_pcall(L, 1, 0, 0);
    lua_settop(L, top);
    if (pending.n > 0)
        matches = rl_completion_matches(text, next_candidate);
    free_pending();
    return matches;
}

static const luaL_Reg readline_funcs[] = {
    {"readline", l_readline},
    {"add_history", l_add_history},
    {"read_history", l_read_history},
    {"write_history", l_write_history},
    {"history", l_history},
    {"clear_history", l_clear_history},
    {"set_completer", l_set_completer},
    {"is_tty", l_is_tty},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_xlua_readline(lua_State *L);

int luaopen_xlua_readline(lua_State *L)
{
    rl_readline_name = "xlua";
    /* We handle signals ourselves, see catch_signals. */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_attempted_completion_function = complete;
    /* No '.' or ':': `string.fo` and `s:up` are completed as one word. */
    static char word_breaks[] = " \t\n\"'`@$><=;|&{}()[],+-*/%^~#";
    rl_basic_word_break_characters = word_breaks;
    rl_completer_word_break_characters = word_breaks;
    /* Multi-line chunks stay one history entry across sessions: entries are written
     * after a "#<time>" line, and the lines up to the next one are read back as one. */
    history_comment_char = '#';
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    stifle_history(HISTORY_MAX);

    luaL_newlib(L, readline_funcs);
    return 1;
}
