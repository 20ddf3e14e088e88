/* core/xlcfg/cfg_parse.c: the xl.cfg(5) lexer and parser, hand-written to accept exactly what
 * libxlutil accepts and to build the values its getters return (see cfg_parse.h). */
#include "cfg_parse.h"

#include "base/cancel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum tok_type {
    T_EOF, T_NEWLINE, T_IDENT, T_NUMBER, T_STRING,
    T_COMMA, T_LBRACK, T_RBRACK, T_EQ, T_ADD, T_SEMI, T_BAD,
};

struct token {
    enum tok_type type;
    int line, column;
    const char *start;          /* the raw text of the token */
    size_t len;
    char *str;                  /* T_STRING: the decoded text, owned until taken */
};

struct parser {
    const char *p, *end, *line_start;
    int line;
    const char *filename;
    struct xerr *e;
    struct token tok;
    /* Every statement appends a setting; one that sets a name again kills the earlier one
     * (value NULL), and the dead are dropped at the end: order is that of the last set. */
    struct cfg_setting *set;
    size_t nset, aset;
    size_t *slots;              /* open addressing: index + 1 into set, 0 = empty */
    size_t nslots, nnames;
};

/* ---- errors ------------------------------------------------------------------------ */

static int oom(struct parser *P)
{
    return xerr_errno(P->e, ENOMEM, "%s: cannot allocate memory for the parsed config",
                      P->filename);
}

/* What the parser found, for "expected X, found Y". */
static void describe(const struct token *t, char *buf, size_t n)
{
    unsigned char c;
    switch (t->type) {
    case T_EOF: snprintf(buf, n, "the end of the file"); break;
    case T_NEWLINE:
        snprintf(buf, n, t->start[0] == '#' ? "a comment" : "the end of the line");
        break;
    case T_IDENT: snprintf(buf, n, "the name '%.*s'", (int)(t->len > 40 ? 40 : t->len), t->start); break;
    case T_NUMBER: snprintf(buf, n, "the number %.*s", (int)(t->len > 40 ? 40 : t->len), t->start); break;
    case T_STRING: snprintf(buf, n, "a string"); break;
    case T_ADD: snprintf(buf, n, "'+='"); break;
    case T_BAD:
        c = (unsigned char)t->start[0];
        if (c == '\r')
            snprintf(buf, n, "a carriage return (DOS line endings are not allowed)");
        else if (c == 0)
            snprintf(buf, n, "a NUL byte");
        else if (c < 0x20 || c >= 0x7f)
            snprintf(buf, n, "the byte 0x%02x", c);
        else if (strchr("+-.():", c))
            snprintf(buf, n, "'%c' (xl config files are not Python; quote such values)", c);
        else if (c >= 'A' && c <= 'Z')
            snprintf(buf, n, "'%c' (names are lower case)", c);
        else
            snprintf(buf, n, "'%c'", c);
        break;
    default: snprintf(buf, n, "'%c'", t->start[0]); break;
    }
}

static int syntax_at(struct parser *P, int line, int column, const char *expected,
                     const char *found)
{
    return xerr_set(P->e, "SYNTAX", "%s:%d:%d: expected %s, found %s", P->filename, line,
                    column, expected, found);
}

static int unexpected(struct parser *P, const char *expected)
{
    char found[128];
    describe(&P->tok, found, sizeof found);
    return syntax_at(P, P->tok.line, P->tok.column, expected, found);
}

/* ---- lexer ------------------------------------------------------------------------- */

static int is_ident_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int column_of(const struct parser *P, const char *at)
{
    return (int)(at - P->line_start) + 1;
}

/* Decode the quoted string [open, close] (close is the closing quote) into P->tok.str. */
static int decode_string(struct parser *P, const char *open, const char *close)
{
    static const char named_from[] = "\"'\\abfnrtv";
    static const char named_to[] = "\"'\\\a\b\f\n\r\t\v";
    char *out = malloc((size_t)(close - open));
    if (!out)
        return oom(P);
    char *q = out;
    const char *s = open + 1;
    while (s < close) {
        if (*s == '\0') {
            free(out);
            return syntax_at(P, P->line, column_of(P, s), "a closing quote", "a NUL byte");
        }
        if (*s != '\\') {
            *q++ = *s++;
            continue;
        }
        const char *bs = s;
        unsigned char nc = (unsigned char)s[1];
        const char *hit = nc ? strchr(named_from, nc) : NULL;
        unsigned value = 0;
        if (hit) {
            *q++ = named_to[hit - named_from];
            s += 2;
            continue;
        }
        if (nc == 'x' && s + 3 < close && hex_digit((unsigned char)s[2]) >= 0
            && hex_digit((unsigned char)s[3]) >= 0) {
            value = (unsigned)(hex_digit((unsigned char)s[2]) * 16 + hex_digit((unsigned char)s[3]));
            s += 4;
        } else if (nc >= '0' && nc <= '7') {
            s += 1;
            for (int k = 0; k < 3 && s < close && *s >= '0' && *s <= '7'; k++)
                value = value * 8 + (unsigned)(*s++ - '0');
            if (value > 0377) {
                free(out);
                return syntax_at(P, P->line, column_of(P, bs),
                                 "an octal escape of at most \\377", "a larger one");
            }
        } else {
            char found[64];
            if (nc == 'x')
                snprintf(found, sizeof found, "'\\x' without two hex digits");
            else if (nc >= 0x21 && nc < 0x7f)
                snprintf(found, sizeof found, "'\\%c'", nc);
            else
                snprintf(found, sizeof found, "'\\' and the byte 0x%02x", nc);
            free(out);
            return syntax_at(P, P->line, column_of(P, bs),
                             "an escape (\\\\ \\' \\\" \\a \\b \\f \\n \\r \\t \\v \\NNN \\xHH)",
                             found);
        }
        if (value == 0) {
            free(out);
            return syntax_at(P, P->line, column_of(P, bs), "an escape of a non-NUL byte",
                             "an escape of NUL");
        }
        *q++ = (char)value;
    }
    *q = '\0';
    P->tok.str = out;
    return 0;
}

/* Read the next token into P->tok (whatever string the previous one owned is freed). */
static int advance(struct parser *P)
{
    struct token *t = &P->tok;
    free(t->str);
    t->str = NULL;
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t'))
        P->p++;
    t->start = P->p;
    t->len = 1;
    t->line = P->line;
    t->column = column_of(P, P->p);
    if (P->p == P->end) {
        t->type = T_EOF;
        t->len = 0;
        return 0;
    }
    const char *s = P->p;
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '\n':
        t->type = T_NEWLINE;
        P->p++;
        P->line++;
        P->line_start = P->p;
        return 0;
    case '#':
        /* A comment is a newline; at the end of the file it also ends the last line. */
        t->type = T_NEWLINE;
        while (P->p < P->end && *P->p != '\n')
            P->p++;
        if (P->p < P->end) {
            P->p++;
            P->line++;
            P->line_start = P->p;
        }
        t->len = (size_t)(P->p - s);
        return 0;
    case ',': t->type = T_COMMA; P->p++; return 0;
    case '[': t->type = T_LBRACK; P->p++; return 0;
    case ']': t->type = T_RBRACK; P->p++; return 0;
    case '=': t->type = T_EQ; P->p++; return 0;
    case ';': t->type = T_SEMI; P->p++; return 0;
    case '+':
        if (s + 1 < P->end && s[1] == '=') {
            t->type = T_ADD;
            t->len = 2;
            P->p += 2;
            return 0;
        }
        t->type = T_BAD;
        P->p++;
        return 0;
    case '\'':
    case '"': {
        /* The closing quote must be on the same line; a backslash escapes any byte but a
         * newline. Only a well-formed string is decoded, as libxlutil does. */
        const char *q = s + 1;
        while (q < P->end && *q != (char)c && *q != '\n') {
            if (*q == '\\') {
                if (q + 1 >= P->end || q[1] == '\n')
                    break;
                q++;
            }
            q++;
        }
        if (q >= P->end || *q != (char)c) {
            char expected[64];
            snprintf(expected, sizeof expected, "a closing %c for this string on its line", c);
            return syntax_at(P, t->line, t->column, expected,
                             q >= P->end ? "the end of the file" : "the end of the line");
        }
        t->type = T_STRING;
        t->len = (size_t)(q + 1 - s);
        if (decode_string(P, s, q) < 0)
            return -1;
        P->p = q + 1;
        return 0;
    }
    default:
        break;
    }
    if (c >= 'a' && c <= 'z') {
        t->type = T_IDENT;
        while (P->p < P->end && is_ident_char((unsigned char)*P->p))
            P->p++;
    } else if (c >= '0' && c <= '9') {
        t->type = T_NUMBER;
        while (P->p < P->end && ((*P->p >= '0' && *P->p <= '9') || (*P->p >= 'a' && *P->p <= 'f')
                                 || *P->p == 'x'))
            P->p++;
    } else {
        t->type = T_BAD;
        P->p++;
    }
    t->len = (size_t)(P->p - s);
    return 0;
}

/* Inside brackets newlines and comments mean nothing. */
static int advance_in_list(struct parser *P)
{
    do {
        if (advance(P) < 0)
            return -1;
    } while (P->tok.type == T_NEWLINE);
    return 0;
}

/* ---- values ------------------------------------------------------------------------ */

static void value_free(struct cfg_value *v)
{
    if (!v)
        return;
    if (v->kind == CFG_LIST) {
        for (size_t i = 0; i < v->count; i++)
            value_free(v->items[i]);
        free(v->items);
    } else {
        free(v->text);
    }
    free(v);
}

static int list_append(struct parser *P, struct cfg_value *list, struct cfg_value *item,
                       size_t *cap)
{
    if (list->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        struct cfg_value **n = realloc(list->items, ncap * sizeof *n);
        if (!n)
            return oom(P);
        list->items = n;
        *cap = ncap;
    }
    list->items[list->count++] = item;
    return 0;
}

/* Parse the value starting at the current token; expected names it for errors. */
static int parse_value(struct parser *P, int depth, const char *expected, struct cfg_value **out)
{
    struct token *t = &P->tok;
    if (t->type != T_STRING && t->type != T_NUMBER && t->type != T_LBRACK) {
        if (t->type == T_BAD && t->start[0] == '-')
            return syntax_at(P, t->line, t->column, expected,
                             "'-' (a negative number must be quoted)");
        return unexpected(P, expected);
    }
    if (t->type == T_LBRACK && depth >= CFG_MAX_DEPTH) {
        char exp[64];
        snprintf(exp, sizeof exp, "lists nested at most %d deep", CFG_MAX_DEPTH);
        return syntax_at(P, t->line, t->column, exp, "one more '['");
    }
    struct cfg_value *v = calloc(1, sizeof *v);
    if (!v)
        return oom(P);
    v->line = t->line;
    v->column = t->column;
    if (t->type == T_STRING) {
        v->kind = CFG_STRING;
        v->text = t->str;
        t->str = NULL;
        *out = v;
        return 0;
    }
    if (t->type == T_NUMBER) {
        v->kind = CFG_NUMBER;
        v->text = strndup(t->start, t->len);
        if (!v->text) {
            free(v);
            return oom(P);
        }
        *out = v;
        return 0;
    }
    v->kind = CFG_LIST;
    size_t cap = 0;
    if (advance_in_list(P) < 0)
        goto fail;
    while (t->type != T_RBRACK) {
        struct cfg_value *item = NULL;
        if (parse_value(P, depth + 1, "a value or ']'", &item) < 0)
            goto fail;
        if (list_append(P, v, item, &cap) < 0) {
            value_free(item);
            goto fail;
        }
        if (advance_in_list(P) < 0)
            goto fail;
        if (t->type == T_COMMA) {
            if (advance_in_list(P) < 0)
                goto fail;
        } else if (t->type != T_RBRACK) {
            unexpected(P, "',' or ']' in the list");
            goto fail;
        }
    }
    *out = v;
    return 0;
fail:
    value_free(v);
    return -1;
}

/* ---- settings ---------------------------------------------------------------------- */

static size_t hash_name(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t *slot_of(struct parser *P, const char *name)
{
    size_t mask = P->nslots - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        size_t *sl = &P->slots[i];
        if (!*sl || !strcmp(P->set[*sl - 1].name, name))
            return sl;
    }
}

static int grow_slots(struct parser *P)
{
    size_t n = P->nslots ? P->nslots * 2 : 64;
    size_t *old = P->slots, nold = P->nslots;
    P->slots = calloc(n, sizeof *P->slots);
    if (!P->slots) {
        P->slots = old;
        return oom(P);
    }
    P->nslots = n;
    for (size_t i = 0; i < nold; i++)
        if (old[i])
            *slot_of(P, P->set[old[i] - 1].name) = old[i];
    free(old);
    return 0;
}

static const char *kind_name(const struct cfg_value *v)
{
    return v->kind == CFG_LIST ? "list" : "string";
}

/* `name = value` or `name += value` (append): takes name and value, even on failure. */
static int store(struct parser *P, char *name, int append, int line, struct cfg_value *value)
{
    if ((P->nnames + 1) * 2 > P->nslots && grow_slots(P) < 0)
        goto fail;
    if (P->nset == P->aset) {
        size_t n = P->aset ? P->aset * 2 : 16;
        struct cfg_setting *s = realloc(P->set, n * sizeof *s);
        if (!s) {
            oom(P);
            goto fail;
        }
        P->set = s;
        P->aset = n;
    }
    size_t *sl = slot_of(P, name);
    struct cfg_setting *prev = *sl ? &P->set[*sl - 1] : NULL;
    if (append && prev) {
        /* libxlutil joins two strings, or two lists (the earlier items first); a string and
         * a list do not mix. */
        struct cfg_value *pv = prev->value;
        if ((pv->kind == CFG_LIST) != (value->kind == CFG_LIST)) {
            char expected[160];
            snprintf(expected, sizeof expected, "a %s to add to '%.40s' (a %s since line %d)",
                     kind_name(pv), name, kind_name(pv), prev->line);
            syntax_at(P, value->line, value->column, expected,
                      value->kind == CFG_LIST ? "a list" : "a string");
            goto fail;
        }
        if (value->kind == CFG_LIST) {
            if (pv->count) {
                struct cfg_value **items = malloc((pv->count + value->count) * sizeof *items);
                if (!items) {
                    oom(P);
                    goto fail;
                }
                memcpy(items, pv->items, pv->count * sizeof *items);
                if (value->count)
                    memcpy(items + pv->count, value->items, value->count * sizeof *items);
                free(value->items);
                value->items = items;
                value->count += pv->count;
                pv->count = 0;
            }
        } else {
            size_t a = strlen(pv->text), b = strlen(value->text);
            char *joined = malloc(a + b + 1);
            if (!joined) {
                oom(P);
                goto fail;
            }
            memcpy(joined, pv->text, a);
            memcpy(joined + a, value->text, b + 1);
            free(value->text);
            value->text = joined;
        }
    }
    if (append && value->kind == CFG_NUMBER)
        value->kind = CFG_STRING;   /* libxlutil never reads a += value as a number */
    if (prev) {
        value_free(prev->value);
        prev->value = NULL;
    } else {
        P->nnames++;
    }
    struct cfg_setting *s = &P->set[P->nset++];
    s->name = name;
    s->line = line;
    s->appended = append;
    s->value = value;
    *sl = P->nset;
    return 0;
fail:
    free(name);
    value_free(value);
    return -1;
}

static int parse_statements(struct parser *P)
{
    struct token *t = &P->tok;
    for (;;) {
        if (advance(P) < 0)
            return -1;
        if (t->type == T_EOF)
            return 0;
        if (t->type == T_NEWLINE || t->type == T_SEMI)
            continue;
        if (t->type != T_IDENT)
            return unexpected(P, "a setting name");
        int line = t->line;
        char *name = strndup(t->start, t->len);
        if (!name)
            return oom(P);
        if (advance(P) < 0) {
            free(name);
            return -1;
        }
        if (t->type != T_EQ && t->type != T_ADD) {
            char expected[96];
            snprintf(expected, sizeof expected, "'=' or '+=' after '%.40s'", name);
            free(name);
            return unexpected(P, expected);
        }
        int append = t->type == T_ADD;
        struct cfg_value *value = NULL;
        if (advance(P) < 0
            || parse_value(P, 0, append ? "a value after '+='" : "a value after '='", &value) < 0) {
            free(name);
            return -1;
        }
        char expected[96];
        snprintf(expected, sizeof expected, "';' or a new line after the value of '%.40s'", name);
        if (store(P, name, append, line, value) < 0)
            return -1;
        if (advance(P) < 0)
            return -1;
        if (t->type == T_EOF)
            return 0;
        if (t->type != T_NEWLINE && t->type != T_SEMI)
            return unexpected(P, expected);
    }
}

static void free_settings(struct cfg_setting *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(set[i].name);
        value_free(set[i].value);
    }
    free(set);
}

int cfg_parse(const char *text, size_t len, const char *filename, struct cfg_file **out,
              struct xerr *e)
{
    *out = NULL;
    if (!filename)
        filename = "<string>";
    if (len > INT_MAX)
        return xerr_set(e, "TOOBIG", "%s: a config file of %zu bytes is too big", filename, len);
    struct parser P = {
        .p = text, .end = text + len, .line_start = text, .line = 1,
        .filename = filename, .e = e,
    };
    int rc = parse_statements(&P);
    free(P.tok.str);
    free(P.slots);
    struct cfg_file *f = rc < 0 ? NULL : calloc(1, sizeof *f);
    if (rc == 0 && !f)
        rc = oom(&P);
    if (rc < 0) {
        free_settings(P.set, P.nset);
        return -1;
    }
    /* Drop the settings a later statement replaced, keeping the order of the rest. */
    size_t n = 0;
    for (size_t i = 0; i < P.nset; i++) {
        if (P.set[i].value)
            P.set[n++] = P.set[i];
        else
            free(P.set[i].name);
    }
    if (n == 0) {
        free(P.set);
        P.set = NULL;
    }
    f->count = n;
    f->settings = P.set;
    *out = f;
    return 0;
}

int cfg_parse_file(const char *path, struct cfg_file **out, struct xerr *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xerr_errno(e, errno, "%s", path);
    size_t len = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (len > CFG_FILE_MAX) {
            free(buf);
            close(fd);
            return xerr_set(e, "TOOBIG", "%s: over %u bytes, far too big for an xl config "
                            "(they are a few KiB)", path, CFG_FILE_MAX);
        }
        if (len == cap) {
            /* one byte past the cap tells a file of exactly the cap from a bigger one */
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > (size_t)CFG_FILE_MAX + 1)
                ncap = (size_t)CFG_FILE_MAX + 1;
            char *n = realloc(buf, ncap);
            if (!n) {
                free(buf);
                close(fd);
                return xerr_errno(e, ENOMEM, "%s", path);
            }
            buf = n;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0) {
            if (xcancel_retry(errno))
                continue;
            int err = errno;
            free(buf);
            close(fd);
            return xerr_errno(e, err, "%s", path);
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    int rc = cfg_parse(buf ? buf : "", len, path, out, e);
    free(buf);
    return rc;
}

void cfg_free(struct cfg_file *f)
{
    if (!f)
        return;
    free_settings(f->settings, f->count);
    free(f);
}

const struct cfg_setting *cfg_find(const struct cfg_file *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (!strcmp(f->settings[i].name, name))
            return &f->settings[i];
    return NULL;
}
