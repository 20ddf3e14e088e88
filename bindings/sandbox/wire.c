/* bindings/sandbox/wire.c: the sandbox process's reply to the host, a small binary format of
 * its own: written in the sandbox process, read back in the host as hostile bytes.
 *
 * reply   = "XSB1" ( 'R' table | 'F' code:u8 length:u64 message )
 * value   = 'F' | 'T' | 'i' int64 | 'd' double | 's' length:u64 bytes | table
 * table   = 't' { key value } 'e'          key = 'i' int64 | 's' length:u64 bytes
 * Numbers are in the host's byte order: both ends are the same program on the same machine. */
#include "sandbox.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "XSB1"

/* The failure codes a sandbox process can report, by index on the wire. */
static const char *const codes[] = {
    "SYNTAX", "RUNTIME", "LIMIT_INSTRUCTIONS", "LIMIT_MEMORY", "LIMIT_RESULT", "LIMIT_TIME",
    "BADVALUE", "NOSANDBOX",
};
#define NCODES (sizeof codes / sizeof codes[0])

/* ---- writing, in the sandbox process ---- */

struct writer {
    int fd, failed;
    size_t n;
    char buf[1 << 16];
};

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void flush(struct writer *w)
{
    if (!w->failed && write_all(w->fd, w->buf, w->n) < 0)
        w->failed = 1;
    w->n = 0;
}

static void put(struct writer *w, const void *p, size_t len)
{
    if (len > sizeof w->buf - w->n) {
        flush(w);
        if (len > sizeof w->buf) {
            if (!w->failed && write_all(w->fd, p, len) < 0)
                w->failed = 1;
            return;
        }
    }
    memcpy(w->buf + w->n, p, len);
    w->n += len;
}

static void put_tag(struct writer *w, char tag)
{
    put(w, &tag, 1);
}

static void put_bytes(struct writer *w, char tag, const char *s, size_t len)
{
    uint64_t n = len;
    put_tag(w, tag);
    put(w, &n, sizeof n);
    put(w, s, len);
}

/* A value sb_check_value accepted; the caller reserved stack space in S. */
static void put_value(struct writer *w, lua_State *S, int idx)
{
    switch (lua_type(S, idx)) {
    case LUA_TBOOLEAN:
        put_tag(w, lua_toboolean(S, idx) ? 'T' : 'F');
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(S, idx)) {
            int64_t i = lua_tointeger(S, idx);
            put_tag(w, 'i');
            put(w, &i, sizeof i);
        } else {
            double d = lua_tonumber(S, idx);
            put_tag(w, 'd');
            put(w, &d, sizeof d);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(S, idx, &len);
        put_bytes(w, 's', s, len);
        break;
    }
    case LUA_TTABLE:
        put_tag(w, 't');
        lua_pushnil(S);
        while (lua_next(S, idx)) {
            int key = lua_gettop(S) - 1;
            put_value(w, S, key);
            put_value(w, S, key + 1);
            lua_pop(S, 1);
        }
        put_tag(w, 'e');
        break;
    default: /* unreachable: sb_check_value refused it */
        put_tag(w, 'F');
        break;
    }
}

int sb_send_outcome(int fd, lua_State *S, const struct outcome *out)
{
    static struct writer w;
    w.fd = fd;
    w.failed = 0;
    w.n = 0;
    put(&w, MAGIC, 4);
    if (out->code == NULL) {
        put_tag(&w, 'R');
        put_value(&w, S, lua_gettop(S));
    } else {
        uint8_t code = 1; /* RUNTIME, for a code this list lacks (there is none) */
        for (size_t i = 0; i < NCODES; i++)
            if (strcmp(codes[i], out->code) == 0)
                code = (uint8_t)i;
        put_tag(&w, 'F');
        put(&w, &code, 1);
        put_bytes(&w, 's', out->message, out->message_len);
    }
    flush(&w);
    return w.failed ? -1 : 0;
}

/* ---- reading, in the host ---- */

struct reader {
    const char *p, *end;
    size_t entries, bytes, max_bytes;
};

static int get(struct reader *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return 0;
    memcpy(out, r->p, n);
    r->p += n;
    return 1;
}

/* A string's bytes, counted against the result's bounds as sb_check_value counts them. */
static const char *get_string(struct reader *r, size_t *len)
{
    uint64_t n;
    if (!get(r, &n, sizeof n) || n > (uint64_t)(r->end - r->p) || n > r->max_bytes - r->bytes)
        return NULL;
    const char *s = r->p;
    r->p += n;
    r->bytes += n;
    *len = (size_t)n;
    return s;
}

/* Push one value, or return 0 for malformed bytes (what was pushed stays: the caller resets
 * the stack). key: only a string or an integer will do. */
static int push_value(lua_State *L, struct reader *r, int depth, int key)
{
    char tag;
    if (!get(r, &tag, 1))
        return 0;
    if (key && tag != 'i' && tag != 's')
        return 0;
    if (key && ++r->entries > MAX_ENTRIES)
        return 0;
    switch (tag) {
    case 'F':
    case 'T':
        lua_pushboolean(L, tag == 'T');
        return 1;
    case 'i': {
        int64_t i;
        if (!get(r, &i, sizeof i))
            return 0;
        lua_pushinteger(L, (lua_Integer)i);
        return 1;
    }
    case 'd': {
        double d;
        if (!get(r, &d, sizeof d))
            return 0;
        lua_pushnumber(L, (lua_Number)d);
        return 1;
    }
    case 's': {
        size_t len;
        const char *s = get_string(r, &len);
        if (s == NULL)
            return 0;
        lua_pushlstring(L, s, len);
        return 1;
    }
    case 't':
        if (depth >= MAX_DEPTH || ++r->entries > MAX_ENTRIES)
            return 0;
        lua_createtable(L, 0, 0);
        for (;;) {
            if (r->p < r->end && *r->p == 'e') {
                r->p++;
                return 1;
            }
            if (!push_value(L, r, depth + 1, 1) || !push_value(L, r, depth + 1, 0))
                return 0;
            lua_rawset(L, -3);
        }
    default:
        return 0;
    }
}

size_t sb_reply_limit(size_t max_memory)
{
    /* Per table or key at the most: a tag and 8 bytes for the key, as much for its value. */
    size_t overhead = (size_t)32 * MAX_ENTRIES + 65536;
    return max_memory > SIZE_MAX - overhead ? SIZE_MAX : max_memory + overhead;
}

int sb_push_reply(lua_State *L, const char *reply, size_t len, size_t max_memory)
{
    struct reader r = {reply, reply + len, 0, 0, max_memory};
    char magic[4], kind;
    if (!get(&r, magic, 4) || memcmp(magic, MAGIC, 4) != 0 || !get(&r, &kind, 1))
        return 0;
    int top = lua_gettop(L);
    luaL_checkstack(L, 3 * MAX_DEPTH + 10, "sandbox: no stack space");
    if (kind == 'R') {
        if (r.p < r.end && *r.p == 't' && push_value(L, &r, 0, 0) && r.p == r.end)
            return 1;
    } else if (kind == 'F') {
        uint8_t code;
        char tag;
        size_t mlen;
        const char *msg;
        r.max_bytes = len; /* a message is bounded by the reply, not by the result's bounds */
        if (get(&r, &code, 1) && code < NCODES && get(&r, &tag, 1) && tag == 's' &&
            (msg = get_string(&r, &mlen)) != NULL && r.p == r.end) {
            lua_pushnil(L);
            lua_pushlstring(L, msg, mlen);
            lua_pushstring(L, codes[code]);
            return 3;
        }
    }
    lua_settop(L, top);
    return 0;
}
