/* bindings/l_sandbox.c: the `xlua.sandbox` module: runs a Lua config chunk in a separate, fresh
 * Lua state (pure libraries only, an instruction budget, a memory cap) and copies out plain data.
 *
 * Why a separate state rather than a restricted _ENV: nothing the config can reach (string
 * metatable, registry, finalizers, coroutines) is shared with the host, memory is bounded for
 * real by the allocator, and lua_close ends everything the config made.
 *
 * Ctrl-C: the host interrupts Lua code with a hook on its own state, which cannot fire while
 * the sandbox runs. A run is bounded by its instruction budget (pattern matching and the table
 * functions that loop in C are charged to it too), and the host's pending hook fires as soon as
 * sandbox.run returns; a second Ctrl-C kills the process as usual. */
#include "lhelpers.h"

#include <lualib.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef l_unlikely
#define l_unlikely(x) (x)
#endif

#define DEFAULT_MAX_INSTRUCTIONS 10000000
#define DEFAULT_MAX_MEMORY (64 * 1024 * 1024)
/* The count hook fires every HOOK_EVERY instructions; a new coroutine is charged as much, since
 * its own count starts afresh. */
#define HOOK_EVERY 100
/* Bounds on the data copied out of the sandbox: nesting, tables plus keys, and string bytes
 * (the byte bound is the memory cap: a string shared a million times would be copied as often). */
#define MAX_DEPTH 64
#define MAX_ENTRIES (1 << 20)
/* Extra memory for collecting the result after the chunk ended (no config code runs then). */
#define EXTRACT_HEADROOM (1024 * 1024)

#define SANDBOX_MT "xlua.sandbox.state"
#define PRISTINE_KEY "xlua.sandbox.pristine"

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

/* ---- accounting: memory through the allocator, instructions through a count hook ---- */

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    if (ptr == NULL)
        osize = 0; /* then osize is only a type tag */
    if (nsize == 0) {
        free(ptr);
        sb->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > sb->mem_limit - sb->mem_used)
        return NULL; /* Lua collects and retries once, then raises a memory error */
    void *p = realloc(ptr, nsize);
    if (p != NULL)
        sb->mem_used = sb->mem_used - osize + nsize;
    return p;
}

static struct sandbox *sandbox_of(lua_State *S)
{
    void *ud;
    lua_getallocf(S, &ud);
    return ud;
}

static void count_hook(lua_State *S, lua_Debug *ar);

/* level: 0 from the hook (the running Lua function), 1 from a C library function (its caller). */
static int budget_exceeded(lua_State *S, struct sandbox *sb, int level)
{
    if (!sb->steps_exceeded) {
        luaL_where(S, level);
        snprintf(sb->where, sizeof sb->where, "%s", lua_tostring(S, -1));
        lua_pop(S, 1);
    }
    sb->steps_exceeded = 1;
    sb->steps = sb->max_steps;
    /* Raise again at every later instruction of this thread (and the others raise within
     * HOOK_EVERY), so a pcall in the config cannot swallow the limit and carry on. */
    lua_sethook(S, count_hook, LUA_MASKCOUNT, 1);
    return luaL_error(S, "instruction limit (%I) exceeded", (LUAI_UACINT)sb->max_steps);
}

static void charge(lua_State *S, struct sandbox *sb, lua_Integer n, int level)
{
    if (n > sb->max_steps - sb->steps)
        budget_exceeded(S, sb, level);
    sb->steps += n;
}

static void count_hook(lua_State *S, lua_Debug *ar)
{
    (void)ar;
    struct sandbox *sb = sandbox_of(S);
    charge(S, sb, sb->hook_every, 0);
}

/* ---- pattern matching with a step budget ----
 * Lua 5.4.4's matcher (lstrlib.c, MIT licence, Copyright Lua.org, PUC-Rio) with each step
 * charged to the instruction budget: the stock one backtracks in C, where no hook can stop it
 * (string.find(("a"):rep(100), ("a*"):rep(20) .. "b") would run for ages). */

#ifndef LUA_MAXCAPTURES
#define LUA_MAXCAPTURES 32
#endif
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define MAXCCALLS 200
#define L_ESC '%'
#define SPECIALS "^$*+?.([%-"
#define uchar(c) ((unsigned char)(c))

typedef struct MatchState {
    const char *src_init;
    const char *src_end;
    const char *p_end;
    lua_State *L;
    struct sandbox *sb;
    int matchdepth;
    unsigned char level;
    struct {
        const char *init;
        ptrdiff_t len;
    } capture[LUA_MAXCAPTURES];
} MatchState;

#define MATCH_STEPS(ms, n) charge((ms)->L, (ms)->sb, (lua_Integer)(n), 1)

static const char *match(MatchState *ms, const char *s, const char *p);

static size_t posrelatI(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    else if (pos == 0)
        return 1;
    else if (pos < -(lua_Integer)len)
        return 1;
    else
        return len + (size_t)pos + 1;
}

static int check_capture(MatchState *ms, int l)
{
    l -= '1';
    if (l_unlikely(l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED))
        return luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    return l;
}

static int capture_to_close(MatchState *ms)
{
    int level = ms->level;
    for (level--; level >= 0; level--)
        if (ms->capture[level].len == CAP_UNFINISHED)
            return level;
    return luaL_error(ms->L, "invalid pattern capture");
}

static const char *classend(MatchState *ms, const char *p)
{
    switch (*p++) {
    case L_ESC:
        if (l_unlikely(p == ms->p_end))
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^')
            p++;
        do {
            if (l_unlikely(p == ms->p_end))
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == L_ESC && p < ms->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int match_class(int c, int cl)
{
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    case 'z': res = (c == 0); break;
    default: return (cl == c);
    }
    return (islower(cl) ? res : !res);
}

static int matchbracketclass(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (*(p + 1) == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, uchar(*p)))
                return sig;
        } else if ((*(p + 1) == '-') && (p + 2 < ec)) {
            p += 2;
            if (uchar(*(p - 2)) <= c && c <= uchar(*p))
                return sig;
        } else if (uchar(*p) == c)
            return sig;
    }
    return !sig;
}

static int singlematch(MatchState *ms, const char *s, const char *p, const char *ep)
{
    if (s >= ms->src_end)
        return 0;
    int c = uchar(*s);
    switch (*p) {
    case '.': return 1;
    case L_ESC: return match_class(c, uchar(*(p + 1)));
    case '[': return matchbracketclass(c, p, ep - 1);
    default: return (uchar(*p) == c);
    }
}

static const char *matchbalance(MatchState *ms, const char *s, const char *p)
{
    if (l_unlikely(p >= ms->p_end - 1))
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (*s != *p)
        return NULL;
    const char *start = s;
    int b = *p;
    int e = *(p + 1);
    int cont = 1;
    while (++s < ms->src_end) {
        if (*s == e) {
            if (--cont == 0) {
                MATCH_STEPS(ms, s - start);
                return s + 1;
            }
        } else if (*s == b)
            cont++;
    }
    MATCH_STEPS(ms, s - start);
    return NULL;
}

static const char *max_expand(MatchState *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (singlematch(ms, s + i, p, ep))
        i++;
    MATCH_STEPS(ms, i);
    while (i >= 0) {
        const char *res = match(ms, (s + i), ep + 1);
        if (res)
            return res;
        i--;
    }
    return NULL;
}

static const char *min_expand(MatchState *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res != NULL)
            return res;
        else if (singlematch(ms, s, p, ep))
            s++;
        else
            return NULL;
    }
}

static const char *start_capture(MatchState *ms, const char *s, const char *p, int what)
{
    const char *res;
    int level = ms->level;
    if (level >= LUA_MAXCAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    if ((res = match(ms, s, p)) == NULL)
        ms->level--;
    return res;
}

static const char *end_capture(MatchState *ms, const char *s, const char *p)
{
    int l = capture_to_close(ms);
    const char *res;
    ms->capture[l].len = s - ms->capture[l].init;
    if ((res = match(ms, s, p)) == NULL)
        ms->capture[l].len = CAP_UNFINISHED;
    return res;
}

static const char *match_capture(MatchState *ms, const char *s, int l)
{
    size_t len;
    l = check_capture(ms, l);
    len = ms->capture[l].len;
    MATCH_STEPS(ms, len / 16);
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0)
        return s + len;
    else
        return NULL;
}

static const char *match(MatchState *ms, const char *s, const char *p)
{
    if (l_unlikely(ms->matchdepth-- == 0))
        luaL_error(ms->L, "pattern too complex");
init:
    MATCH_STEPS(ms, 1);
    if (p != ms->p_end) {
        switch (*p) {
        case '(':
            if (*(p + 1) == ')')
                s = start_capture(ms, s, p + 2, CAP_POSITION);
            else
                s = start_capture(ms, s, p + 1, CAP_UNFINISHED);
            break;
        case ')':
            s = end_capture(ms, s, p + 1);
            break;
        case '$':
            if ((p + 1) != ms->p_end)
                goto dflt;
            s = (s == ms->src_end) ? s : NULL;
            break;
        case L_ESC:
            switch (*(p + 1)) {
            case 'b':
                s = matchbalance(ms, s, p + 2);
                if (s != NULL) {
                    p += 4;
                    goto init;
                }
                break;
            case 'f': {
                const char *ep;
                char previous;
                p += 2;
                if (l_unlikely(*p != '['))
                    luaL_error(ms->L, "missing '[' after '%%f' in pattern");
                ep = classend(ms, p);
                previous = (s == ms->src_init) ? '\0' : *(s - 1);
                if (!matchbracketclass(uchar(previous), p, ep - 1) &&
                    matchbracketclass(uchar(*s), p, ep - 1)) {
                    p = ep;
                    goto init;
                }
                s = NULL;
                break;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = match_capture(ms, s, uchar(*(p + 1)));
                if (s != NULL) {
                    p += 2;
                    goto init;
                }
                break;
            default:
                goto dflt;
            }
            break;
        default:
        dflt: {
            const char *ep = classend(ms, p);
            if (!singlematch(ms, s, p, ep)) {
                if (*ep == '*' || *ep == '?' || *ep == '-') {
                    p = ep + 1;
                    goto init;
                } else
                    s = NULL;
            } else {
                switch (*ep) {
                case '?': {
                    const char *res;
                    if ((res = match(ms, s + 1, ep + 1)) != NULL)
                        s = res;
                    else {
                        p = ep + 1;
                        goto init;
                    }
                    break;
                }
                case '+':
                    s++;
                    /* fallthrough */
                case '*':
                    s = max_expand(ms, s, p, ep);
                    break;
                case '-':
                    s = min_expand(ms, s, p, ep);
                    break;
                default:
                    s++;
                    p = ep;
                    goto init;
                }
            }
            break;
        }
        }
    }
    ms->matchdepth++;
    return s;
}

/* Plain search, charged per candidate position: the stock one is quadratic in the worst case. */
static const char *lmemfind(MatchState *ms, const char *s1, size_t l1, const char *s2, size_t l2)
{
    if (l2 == 0)
        return s1;
    else if (l2 > l1)
        return NULL;
    const char *init;
    l2--;
    l1 = l1 - l2;
    while (l1 > 0 && (init = (const char *)memchr(s1, *s2, l1)) != NULL) {
        MATCH_STEPS(ms, 1 + l2 / 16);
        init++;
        if (memcmp(init, s2 + 1, l2) == 0)
            return init - 1;
        l1 -= init - s1;
        s1 = init;
    }
    return NULL;
}

static size_t get_onecapture(MatchState *ms, int i, const char *s, const char *e, const char **cap)
{
    if (i >= ms->level) {
        if (l_unlikely(i != 0))
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return e - s;
    }
    ptrdiff_t capl = ms->capture[i].len;
    *cap = ms->capture[i].init;
    if (l_unlikely(capl == CAP_UNFINISHED))
        luaL_error(ms->L, "unfinished capture");
    else if (capl == CAP_POSITION)
        lua_pushinteger(ms->L, (ms->capture[i].init - ms->src_init) + 1);
    return capl;
}

static void push_onecapture(MatchState *ms, int i, const char *s, const char *e)
{
    const char *cap;
    ptrdiff_t l = get_onecapture(ms, i, s, e, &cap);
    if (l != CAP_POSITION)
        lua_pushlstring(ms->L, cap, l);
}

static int push_captures(MatchState *ms, const char *s, const char *e)
{
    int nlevels = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, nlevels, "too many captures");
    for (int i = 0; i < nlevels; i++)
        push_onecapture(ms, i, s, e);
    return nlevels;
}

static int nospecials(const char *p, size_t l)
{
    size_t upto = 0;
    do {
        if (strpbrk(p + upto, SPECIALS))
            return 0;
        upto += strlen(p + upto) + 1;
    } while (upto <= l);
    return 1;
}

static void prepstate(MatchState *ms, lua_State *L, const char *s, size_t ls, const char *p,
                      size_t lp)
{
    ms->L = L;
    ms->sb = sandbox_of(L);
    ms->matchdepth = MAXCCALLS;
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
}

static void reprepstate(MatchState *ms)
{
    ms->level = 0;
}

static int str_find_aux(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrelatI(luaL_optinteger(L, 3, 1), ls) - 1;
    MatchState ms;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || nospecials(p, lp))) {
        prepstate(&ms, L, s, ls, p, lp);
        const char *s2 = lmemfind(&ms, s + init, ls - init, p, lp);
        if (s2) {
            lua_pushinteger(L, (s2 - s) + 1);
            lua_pushinteger(L, (s2 - s) + lp);
            return 2;
        }
    } else {
        const char *s1 = s + init;
        int anchor = (*p == '^');
        if (anchor) {
            p++;
            lp--;
        }
        prepstate(&ms, L, s, ls, p, lp);
        do {
            const char *res;
            reprepstate(&ms);
            if ((res = match(&ms, s1, p)) != NULL) {
                if (find) {
                    lua_pushinteger(L, (s1 - s) + 1);
                    lua_pushinteger(L, res - s);
                    return push_captures(&ms, NULL, 0) + 2;
                } else
                    return push_captures(&ms, s1, res);
            }
        } while (s1++ < ms.src_end && !anchor);
    }
    luaL_pushfail(L);
    return 1;
}

static int str_find(lua_State *L)
{
    return str_find_aux(L, 1);
}

static int str_match(lua_State *L)
{
    return str_find_aux(L, 0);
}

typedef struct GMatchState {
    const char *src;
    const char *p;
    const char *lastmatch;
    MatchState ms;
} GMatchState;

static int gmatch_aux(lua_State *L)
{
    GMatchState *gm = (GMatchState *)lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.L = L;
    for (const char *src = gm->src; src <= gm->ms.src_end; src++) {
        const char *e;
        reprepstate(&gm->ms);
        if ((e = match(&gm->ms, src, gm->p)) != NULL && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(&gm->ms, src, e);
        }
    }
    return 0;
}

static int gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrelatI(luaL_optinteger(L, 3, 1), ls) - 1;
    GMatchState *gm;
    lua_settop(L, 2);
    gm = (GMatchState *)lua_newuserdatauv(L, sizeof(GMatchState), 0);
    if (init > ls)
        init = ls + 1;
    prepstate(&gm->ms, L, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

static void add_s(MatchState *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    lua_State *L = ms->L;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = (char *)memchr(news, L_ESC, l)) != NULL) {
        luaL_addlstring(b, news, p - news);
        p++;
        if (*p == L_ESC)
            luaL_addchar(b, *p);
        else if (*p == '0')
            luaL_addlstring(b, s, e - s);
        else if (isdigit(uchar(*p))) {
            const char *cap;
            ptrdiff_t resl = get_onecapture(ms, *p - '1', s, e, &cap);
            if (resl == CAP_POSITION)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, cap, resl);
        } else
            luaL_error(L, "invalid use of '%c' in replacement string", L_ESC);
        l -= p + 1 - news;
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

static int add_value(MatchState *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = ms->L;
    switch (tr) {
    case LUA_TFUNCTION: {
        int n;
        lua_pushvalue(L, 3);
        n = push_captures(ms, s, e);
        lua_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:
        push_onecapture(ms, 0, s, e);
        lua_gettable(L, 3);
        break;
    default:
        add_s(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, e - s);
        return 0;
    } else if (l_unlikely(!lua_isstring(L, -1)))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int str_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, srcl + 1);
    int anchor = (*p == '^');
    lua_Integer n = 0;
    int changed = 0;
    MatchState ms;
    luaL_Buffer b;
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
                            tr == LUA_TTABLE,
                     3, "string/function/table");
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    prepstate(&ms, L, src, srcl, p, lp);
    while (n < max_s) {
        const char *e;
        reprepstate(&ms);
        if ((e = match(&ms, src, p)) != NULL && e != lastmatch) {
            n++;
            changed = add_value(&ms, &b, src, e, tr) | changed;
            src = lastmatch = e;
        } else if (src < ms.src_end)
            luaL_addchar(&b, *src++);
        else
            break;
        if (anchor)
            break;
    }
    if (!changed)
        lua_pushvalue(L, 1);
    else {
        luaL_addlstring(&b, src, ms.src_end - src);
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

/* ---- the sandbox's versions of library functions (the original is upvalue 1) ---- */

/* Call the original with the arguments on the stack and return all its results. */
static int call_original(lua_State *S)
{
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, LUA_MULTRET);
    return lua_gettop(S);
}

/* load: text only, whatever mode is asked for; a binary chunk is refused. */
static int safe_load(lua_State *S)
{
    if (lua_gettop(S) < 3)
        lua_settop(S, 3); /* an absent env stays absent: load uses the globals */
    lua_pushliteral(S, "t");
    lua_replace(S, 3);
    return call_original(S);
}

/* collectgarbage: "collect" and "count" only (no stopping or tuning the collector). */
static int safe_collectgarbage(lua_State *S)
{
    static const char *const options[] = {"collect", "count", NULL};
    int o = luaL_checkoption(S, 1, "collect", options);
    lua_settop(S, 0);
    lua_pushstring(S, options[o]);
    return call_original(S);
}

/* setmetatable: no __gc. Finalizers run with hooks off (in GC steps and at lua_close), so the
 * instruction budget could not stop one. An object only gets a finalizer if its metatable has
 * the field when set, so checking here is enough. */
static int safe_setmetatable(lua_State *S)
{
    if (lua_type(S, 2) == LUA_TTABLE) {
        lua_pushliteral(S, "__gc");
        if (lua_rawget(S, 2) != LUA_TNIL)
            return luaL_error(S, "__gc metamethods are not allowed in a config");
        lua_pop(S, 1);
    }
    return call_original(S);
}

/* coroutine.create and wrap: a new thread starts its own hook count, so charge a full count. */
static int safe_new_coroutine(lua_State *S)
{
    struct sandbox *sb = sandbox_of(S);
    charge(S, sb, sb->hook_every, 1);
    return call_original(S);
}

/* string.rep: the stock one loops n times even when nothing is copied. */
static int safe_rep(lua_State *S)
{
    size_t l, lsep;
    luaL_checklstring(S, 1, &l);
    lua_Integer n = luaL_checkinteger(S, 2);
    luaL_optlstring(S, 3, "", &lsep);
    if (n > 0 && l == 0 && lsep == 0) {
        lua_pushliteral(S, "");
        return 1;
    }
    return call_original(S);
}

/* table.insert, remove and move loop in C over a length the config controls (__len, or the
 * arguments of move): charge one instruction per element moved. */
static int safe_insert(lua_State *S)
{
    if (lua_gettop(S) == 3 && lua_type(S, 1) == LUA_TTABLE && lua_isinteger(S, 2)) {
        lua_Integer last = luaL_len(S, 1);
        lua_Integer pos = lua_tointeger(S, 2);
        if (pos >= 1 && pos <= last)
            charge(S, sandbox_of(S), last - pos + 1, 1);
    }
    return call_original(S);
}

static int safe_remove(lua_State *S)
{
    if (lua_type(S, 1) == LUA_TTABLE) {
        lua_Integer size = luaL_len(S, 1);
        lua_Integer pos = lua_isinteger(S, 2) ? lua_tointeger(S, 2) : size;
        if (pos >= 1 && pos <= size)
            charge(S, sandbox_of(S), size - pos + 1, 1);
    }
    return call_original(S);
}

static int safe_move(lua_State *S)
{
    if (lua_isinteger(S, 2) && lua_isinteger(S, 3)) {
        lua_Integer f = lua_tointeger(S, 2), e = lua_tointeger(S, 3);
        if (e >= f) {
            lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)f;
            charge(S, sandbox_of(S),
                   n >= (lua_Unsigned)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)n + 1, 1);
        }
    }
    return call_original(S);
}

/* Replace t[name] by f with the original as its upvalue. */
static void wrap_field(lua_State *S, int t, const char *name, lua_CFunction f)
{
    lua_getfield(S, t, name);
    lua_pushcclosure(S, f, 1);
    lua_setfield(S, t, name);
}

static void set_function(lua_State *S, int t, const char *name, lua_CFunction f)
{
    lua_pushcfunction(S, f);
    lua_setfield(S, t, name);
}

static void remove_field(lua_State *S, int t, const char *name)
{
    lua_pushnil(S);
    lua_setfield(S, t, name);
}

/* ---- plain data: checking it where it lives, copying it between states ---- */

/* A walk over a value that must be plain data. Errors are raised in the walked state, which is
 * the host for opts.env and the sandbox (protected) for a result. */
struct walk {
    const char *what;         /* names the value in messages: the config or "opts.env" */
    const char *code;         /* set before raising: "BADVALUE" or "LIMIT_RESULT" */
    int visiting;             /* stack index of the set of tables on the current path */
    int keys[MAX_DEPTH + 2];  /* stack index of the key walked at each depth */
    size_t entries, bytes, max_bytes;
};

static void format_path(lua_State *F, const struct walk *w, int depth, char *out, size_t outsz)
{
    size_t n = 0;
    out[0] = '\0';
    for (int d = 0; d < depth && d <= MAX_DEPTH && n + 1 < outsz; d++) {
        int k = w->keys[d];
        int len;
        if (lua_type(F, k) == LUA_TSTRING)
            len = snprintf(out + n, outsz - n, d ? ".%s" : "%s", lua_tostring(F, k));
        else if (lua_isinteger(F, k))
            len = snprintf(out + n, outsz - n, "[%lld]", (long long)lua_tointeger(F, k));
        else if (lua_type(F, k) == LUA_TNUMBER)
            len = snprintf(out + n, outsz - n, "[%g]", (double)lua_tonumber(F, k));
        else
            len = snprintf(out + n, outsz - n, "[a %s]", luaL_typename(F, k));
        if (len < 0)
            break;
        n += (size_t)len;
    }
}

static int walk_fail(lua_State *F, struct walk *w, int depth, const char *code, const char *msg)
{
    char path[256];
    format_path(F, w, depth, path, sizeof path);
    w->code = code;
    return luaL_error(F, "%s: %s: %s", w->what, path[0] ? path : "the result", msg);
}

static void walk_count(lua_State *F, struct walk *w, int depth, size_t bytes)
{
    if (++w->entries > MAX_ENTRIES)
        walk_fail(F, w, depth, "LIMIT_RESULT", "more tables and keys than a config may hold");
    if (bytes > w->max_bytes - w->bytes)
        walk_fail(F, w, depth, "LIMIT_RESULT", "more string bytes than the memory limit");
    w->bytes += bytes;
}

static void check_value(lua_State *F, int idx, int depth, struct walk *w)
{
    char msg[96];
    switch (lua_type(F, idx)) {
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
        return;
    case LUA_TSTRING:
        walk_count(F, w, depth, lua_rawlen(F, idx));
        return;
    case LUA_TTABLE:
        break;
    default:
        snprintf(msg, sizeof msg, "a %s is not plain data", luaL_typename(F, idx));
        walk_fail(F, w, depth, "BADVALUE", msg);
    }
    if (depth >= MAX_DEPTH)
        walk_fail(F, w, depth, "LIMIT_RESULT", "tables nested too deep");
    luaL_checkstack(F, 4, "tables nested too deep");
    lua_pushvalue(F, idx);
    if (lua_rawget(F, w->visiting) != LUA_TNIL)
        walk_fail(F, w, depth, "BADVALUE", "a table that contains itself (a cycle)");
    lua_pop(F, 1);
    lua_pushvalue(F, idx);
    lua_pushboolean(F, 1);
    lua_rawset(F, w->visiting);
    walk_count(F, w, depth, 0);
    lua_pushnil(F);
    while (lua_next(F, idx)) { /* raw: no __pairs, no __index */
        int key = lua_gettop(F) - 1;
        w->keys[depth] = key;
        if (lua_type(F, key) == LUA_TSTRING)
            walk_count(F, w, depth + 1, lua_rawlen(F, key));
        else if (lua_isinteger(F, key))
            walk_count(F, w, depth + 1, 0);
        else {
            snprintf(msg, sizeof msg, "a key must be a string or an integer, not a %s",
                     lua_type(F, key) == LUA_TNUMBER ? "float" : luaL_typename(F, key));
            walk_fail(F, w, depth + 1, "BADVALUE", msg);
        }
        check_value(F, key + 1, depth + 1, w);
        lua_pop(F, 1);
    }
    lua_pushvalue(F, idx);
    lua_pushnil(F);
    lua_rawset(F, w->visiting);
}

/* Copy a value check_value accepted. Only `to` can raise (the caller reserved stack space in
 * `from`: 2 slots a level), so reading `from` never leaves it half-way through an error. */
static void copy_value(lua_State *from, int idx, lua_State *to)
{
    switch (lua_type(from, idx)) {
    case LUA_TBOOLEAN:
        lua_pushboolean(to, lua_toboolean(from, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(from, idx))
            lua_pushinteger(to, lua_tointeger(from, idx));
        else
            lua_pushnumber(to, lua_tonumber(from, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(from, idx, &len);
        lua_pushlstring(to, s, len);
        break;
    }
    case LUA_TTABLE:
        lua_createtable(to, 0, 0);
        lua_pushnil(from);
        while (lua_next(from, idx)) {
            int key = lua_gettop(from) - 1;
            copy_value(from, key, to);
            copy_value(from, key + 1, to);
            lua_rawset(to, -3);
            lua_pop(from, 1);
        }
        break;
    default:
        lua_pushnil(to); /* unreachable: check_value refused it */
        break;
    }
}

/* ---- one run ---- */

struct run_opts {
    lua_Integer max_instructions;
    lua_Integer max_memory;
    int env; /* stack index of opts.env in the host, 0 if none */
    int getenv;
};

struct setup {
    lua_State *host;
    int env;
    int getenv;
};

/* Protected, in the sandbox: the pure libraries, minus what reaches outside or runs unbounded;
 * a snapshot of the pristine globals; then opts.env as globals. */
static int sandbox_setup(lua_State *S)
{
    const struct setup *c = lua_touserdata(S, 1);
    luaL_checkstack(S, 3 * MAX_DEPTH + 10, "no stack space");
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},     {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = libs; lib->name; lib++) {
        luaL_requiref(S, lib->name, lib->func, 1);
        lua_pop(S, 1);
    }
    lua_pushglobaltable(S);
    int g = lua_gettop(S);
    remove_field(S, g, "dofile");
    remove_field(S, g, "loadfile");
    remove_field(S, g, "print");
    remove_field(S, g, "warn");
    wrap_field(S, g, "load", safe_load);
    wrap_field(S, g, "collectgarbage", safe_collectgarbage);
    wrap_field(S, g, "setmetatable", safe_setmetatable);

    /* The string metatable's __index is this same table, so methods get these too. */
    lua_getfield(S, g, LUA_STRLIBNAME);
    int str = lua_gettop(S);
    remove_field(S, str, "dump");
    wrap_field(S, str, "rep", safe_rep);
    set_function(S, str, "find", str_find);
    set_function(S, str, "match", str_match);
    set_function(S, str, "gmatch", gmatch);
    set_function(S, str, "gsub", str_gsub);

    lua_getfield(S, g, LUA_TABLIBNAME);
    int tab = lua_gettop(S);
    wrap_field(S, tab, "insert", safe_insert);
    wrap_field(S, tab, "remove", safe_remove);
    wrap_field(S, tab, "move", safe_move);

    lua_getfield(S, g, LUA_COLIBNAME);
    int co = lua_gettop(S);
    wrap_field(S, co, "create", safe_new_coroutine);
    wrap_field(S, co, "wrap", safe_new_coroutine);

    /* os: only the functions that read the clock or the environment (not even that with
     * opts.getenv = false: a config from someone else's savefile could put the host's
     * secrets into a domain name). */
    lua_pushcfunction(S, luaopen_os);
    lua_call(S, 0, 1);
    int full_os = lua_gettop(S);
    static const char *const os_pure[] = {"getenv", "time", "clock", "date", "difftime", NULL};
    lua_createtable(S, 0, 5);
    for (const char *const *name = os_pure + !c->getenv; *name; name++) {
        lua_getfield(S, full_os, *name);
        lua_setfield(S, -2, *name);
    }
    lua_setfield(S, g, LUA_OSLIBNAME);

    lua_newtable(S);
    lua_pushnil(S);
    while (lua_next(S, g)) {
        lua_pushvalue(S, -2);
        lua_insert(S, -2);
        lua_rawset(S, -4);
    }
    lua_setfield(S, LUA_REGISTRYINDEX, PRISTINE_KEY);

    if (c->env) {
        /* The host's stack was reserved and the env checked by the caller. */
        lua_pushnil(c->host);
        while (lua_next(c->host, c->env)) {
            int key = lua_gettop(c->host) - 1;
            copy_value(c->host, key, S);
            copy_value(c->host, key + 1, S);
            lua_rawset(S, g);
            lua_pop(c->host, 1);
        }
    }
    return 0;
}

/* Message handler in the sandbox: a string for every error, made there. An error object's
 * __tostring runs inside the sandbox, under its budget; the host only ever sees a string. */
static int sandbox_message_handler(lua_State *S)
{
    int t = lua_type(S, 1);
    if (t == LUA_TSTRING)
        return 1;
    if (t == LUA_TNUMBER) {
        lua_tostring(S, 1);
        lua_settop(S, 1);
        return 1;
    }
    if (luaL_callmeta(S, 1, "__tostring") && lua_type(S, -1) == LUA_TSTRING)
        return 1;
    lua_pushfstring(S, "(error object is a %s value)", luaL_typename(S, 1));
    return 1;
}

/* Protected, in the sandbox, after the chunk ended: (returned value, walk) -> the result table,
 * checked to be plain data. Runs no config code: raw access only. */
static int sandbox_collect(lua_State *S)
{
    struct walk *w = lua_touserdata(S, 2);
    lua_settop(S, 1);
    int t = lua_type(S, 1);
    if (t == LUA_TNIL) {
        /* Globals style: every global the chunk set or changed, but not functions it defined
         * at the top level (helpers, not settings). */
        lua_newtable(S);
        int out = lua_gettop(S);
        lua_rawgeti(S, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        int g = lua_gettop(S);
        lua_getfield(S, LUA_REGISTRYINDEX, PRISTINE_KEY);
        int pristine = lua_gettop(S);
        lua_pushnil(S);
        while (lua_next(S, g)) {
            if (lua_type(S, -1) != LUA_TFUNCTION) {
                lua_pushvalue(S, -2);
                lua_rawget(S, pristine);
                int same = lua_rawequal(S, -1, -2);
                lua_pop(S, 1);
                if (!same) {
                    lua_pushvalue(S, -2);
                    lua_insert(S, -2);
                    lua_rawset(S, out);
                    continue;
                }
            }
            lua_pop(S, 1);
        }
        lua_settop(S, out);
    } else if (t != LUA_TTABLE) {
        char msg[96];
        snprintf(msg, sizeof msg, "a config returns a table or nothing, not a %s",
                 luaL_typename(S, 1));
        w->code = "BADVALUE";
        return luaL_error(S, "%s: %s", w->what, msg);
    }
    int result = lua_gettop(S);
    lua_newtable(S);
    w->visiting = lua_gettop(S);
    check_value(S, result, 0, w);
    lua_settop(S, result);
    return 1;
}

/* The name of the chunk for messages: "@path" and "=name" lose their mark. */
static const char *display_name(const char *chunkname)
{
    return (chunkname[0] == '@' || chunkname[0] == '=') ? chunkname + 1 : chunkname;
}

/* The message at the top of the sandbox's stack, without converting anything there. */
static const char *sandbox_message(lua_State *S)
{
    return lua_type(S, -1) == LUA_TSTRING ? lua_tostring(S, -1) : "(error object is not a string)";
}

static int fail_limit_memory(lua_State *L, const char *name, const struct sandbox *sb)
{
    return lx_failf(L, "LIMIT_MEMORY", "%s: memory limit (%zu bytes) exceeded", name,
                    sb->mem_limit);
}

static int run_source(lua_State *L, struct sandbox *sb, const char *source, size_t len,
                      const char *chunkname, const struct run_opts *o)
{
    const char *name = display_name(chunkname);
    if (len > 0 && source[0] == LUA_SIGNATURE[0])
        return lx_failf(L, "BINARY", "%s: a binary chunk is refused: a config is Lua source",
                        name);
    sb->mem_limit = (size_t)o->max_memory;
    sb->max_steps = o->max_instructions;
    sb->hook_every = o->max_instructions < HOOK_EVERY ? (int)o->max_instructions : HOOK_EVERY;
    lua_State *S = sb->S = lua_newstate(limited_alloc, sb);
    if (S == NULL)
        return fail_limit_memory(L, name, sb);

    luaL_checkstack(L, 2 * MAX_DEPTH + 3 * MAX_DEPTH + 20, "sandbox: no stack space");
    int top = lua_gettop(L);
    struct setup setup = {L, o->env, o->getenv};
    lua_pushcfunction(S, sandbox_setup);
    lua_pushlightuserdata(S, &setup);
    int status = lua_pcall(S, 1, 0, 0);
    lua_settop(L, top);
    if (status != LUA_OK) /* setup only fails for memory (luaL_checkstack says "stack overflow") */
        return fail_limit_memory(L, name, sb);

    lua_pushcfunction(S, sandbox_message_handler);
    status = luaL_loadbufferx(S, source, len, chunkname, "t");
    if (status == LUA_ERRMEM)
        return fail_limit_memory(L, name, sb);
    if (status != LUA_OK)
        return lx_failf(L, "SYNTAX", "%s", sandbox_message(S));

    lua_sethook(S, count_hook, LUA_MASKCOUNT, sb->hook_every);
    status = lua_pcall(S, 0, 1, 1);
    /* Checked first and even after a normal return: the config may have caught the error. */
    if (sb->steps_exceeded)
        return lx_failf(L, "LIMIT_INSTRUCTIONS", "%s%sinstruction limit (%lld) exceeded",
                        sb->where[0] ? sb->where : name, sb->where[0] ? "" : ": ",
                        (long long)sb->max_steps);
    if (status == LUA_ERRMEM)
        return fail_limit_memory(L, name, sb);
    if (status != LUA_OK)
        return lx_failf(L, "RUNTIME", "%s", sandbox_message(S));

    struct walk w = {.what = name, .max_bytes = (size_t)o->max_memory};
    if (sb->mem_limit <= SIZE_MAX - EXTRACT_HEADROOM)
        sb->mem_limit += EXTRACT_HEADROOM;
    lua_pushcfunction(S, sandbox_collect);
    lua_insert(S, -2);
    lua_pushlightuserdata(S, &w);
    status = lua_pcall(S, 2, 1, 0);
    if (status != LUA_OK && w.code)
        return lx_failf(L, w.code, "%s", sandbox_message(S));
    if (status != LUA_OK) /* collecting only fails otherwise for memory */
        return fail_limit_memory(L, name, sb);

    if (!lua_checkstack(S, 2 * MAX_DEPTH + 10))
        return fail_limit_memory(L, name, sb);
    copy_value(S, lua_gettop(S), L);
    return 1;
}

/* ---- the module ---- */

static int sandbox_close(lua_State *L)
{
    struct sandbox *sb = luaL_checkudata(L, 1, SANDBOX_MT);
    if (sb->S) {
        lua_State *S = sb->S;
        sb->S = NULL;
        lua_close(S);
    }
    if (sb->file) {
        fclose(sb->file);
        sb->file = NULL;
    }
    free(sb->source);
    sb->source = NULL;
    return 0;
}

/* A closed sandbox handle, to be closed whatever happens to the calling function. */
static struct sandbox *new_sandbox(lua_State *L)
{
    struct sandbox *sb = lua_newuserdatauv(L, sizeof *sb, 0);
    memset(sb, 0, sizeof *sb);
    luaL_setmetatable(L, SANDBOX_MT);
    lua_toclose(L, -1);
    return sb;
}

/* Reads opts at arg; leaves opts.env (checked: string keys, plain data) on the stack. */
static void read_opts(lua_State *L, int arg, struct run_opts *o)
{
    o->max_instructions = DEFAULT_MAX_INSTRUCTIONS;
    o->max_memory = DEFAULT_MAX_MEMORY;
    o->env = 0;
    o->getenv = 1;
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    o->getenv = lx_optfield_bool(L, arg, "getenv", o->getenv);
    o->max_instructions = lx_optfield_int(L, arg, "max_instructions", o->max_instructions, 1,
                                          LUA_MAXINTEGER);
    o->max_memory = lx_optfield_int(L, arg, "max_memory", o->max_memory, 1, LUA_MAXINTEGER);
    if ((lua_Unsigned)o->max_memory > SIZE_MAX / 2)
        o->max_memory = (lua_Integer)(SIZE_MAX / 2);
    int t = lua_getfield(L, arg, "env");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "bad option 'env': a table expected, got %s", luaL_typename(L, -1));
    o->env = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, o->env)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "bad option 'env': its keys are global names (strings)");
        lua_pop(L, 1);
    }
    struct walk w = {.what = "opts.env", .max_bytes = (size_t)o->max_memory};
    lua_newtable(L);
    w.visiting = lua_gettop(L);
    check_value(L, o->env, 0, &w);
    lua_pop(L, 1);
}

/* sandbox.run(source [, chunkname [, opts]]) -> result | nil, message, code */
static int l_run(lua_State *L)
{
    size_t len;
    const char *source = luaL_checklstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, "=config");
    struct run_opts o;
    read_opts(L, 3, &o);
    struct sandbox *sb = new_sandbox(L);
    return run_source(L, sb, source, len, chunkname, &o);
}

/* sandbox.run_file(path [, opts]) -> result | nil, message, code; the chunk is named "@path". */
static int l_run_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct run_opts o;
    read_opts(L, 2, &o);
    struct sandbox *sb = new_sandbox(L);
    sb->file = fopen(path, "rb");
    if (sb->file == NULL) {
        int err = errno;
        return lx_failf(L, xerr_errno_code(err), "%s: %s", path, strerror(err));
    }
    /* No Lua call while reading (nothing may raise between fopen and fclose), and never more
     * than the memory cap: a config bigger than that could not be run anyway. */
    size_t limit = (size_t)o.max_memory, len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap > limit)
                break;
            size_t ncap = cap ? cap * 2 : 8192;
            char *p = realloc(sb->source, ncap);
            if (p == NULL)
                return lx_failf(L, "ENOMEM", "%s: out of memory reading the file", path);
            sb->source = p;
            cap = ncap;
        }
        size_t n = fread(sb->source + len, 1, cap - len, sb->file);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(sb->file)) {
        int err = errno;
        return lx_failf(L, xerr_errno_code(err), "%s: %s", path, strerror(err));
    }
    fclose(sb->file);
    sb->file = NULL;
    if (len > limit)
        return lx_failf(L, "LIMIT_MEMORY", "%s: the file is larger than the memory limit", path);
    const char *chunkname = lua_pushfstring(L, "@%s", path);
    return run_source(L, sb, sb->source, len, chunkname, &o);
}

int luaopen_xlua_sandbox(lua_State *L)
{
    if (luaL_newmetatable(L, SANDBOX_MT)) {
        lua_pushcfunction(L, sandbox_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, sandbox_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_run);
    lua_setfield(L, -2, "run");
    lua_pushcfunction(L, l_run_file);
    lua_setfield(L, -2, "run_file");
    lx_setint(L, "DEFAULT_MAX_INSTRUCTIONS", DEFAULT_MAX_INSTRUCTIONS);
    lx_setint(L, "DEFAULT_MAX_MEMORY", DEFAULT_MAX_MEMORY);
    lx_setint(L, "MAX_DEPTH", MAX_DEPTH);
    lx_setint(L, "MAX_ENTRIES", MAX_ENTRIES);
    return 1;
}
