/* core/domain/sim/dom_sim_json.c: just enough JSON for the sim to keep a domain's libxl config
 * true: find a value by its path, read a number or a string, set a member, split an array. */
#include "dom_sim_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sim_json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1])
            p++;
    return *p == '"' ? p + 1 : NULL;
}

const char *sim_json_skip(const char *p)
{
    p = sim_json_ws(p);
    if (*p == '"')
        return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                if (!(p = skip_string(p)))
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    const char *start = p;
    while (*p && !strchr(",}] \t\r\n", *p))
        p++;
    return p > start ? p : NULL;
}

int sim_json_member(const char *obj, const char *key, const char **vs, const char **ve)
{
    const char *p = sim_json_ws(obj);
    if (*p != '{')
        return -1;
    p = sim_json_ws(p + 1);
    if (*p == '}')
        return 0;
    size_t klen = strlen(key);
    for (;;) {
        if (*p != '"')
            return -1;
        const char *ks = p + 1, *kend = skip_string(p);
        if (!kend)
            return -1;
        p = sim_json_ws(kend);
        if (*p != ':')
            return -1;
        const char *v = sim_json_ws(p + 1), *end = sim_json_skip(v);
        if (!end)
            return -1;
        if ((size_t)(kend - 1 - ks) == klen && memcmp(ks, key, klen) == 0) {
            *vs = v;
            *ve = end;
            return 1;
        }
        p = sim_json_ws(end);
        if (*p == '}')
            return 0;
        if (*p != ',')
            return -1;
        p = sim_json_ws(p + 1);
    }
}

int sim_json_find(const char *json, const char *path, const char **vs, const char **ve)
{
    char key[DOM_KEY_MAX];
    const char *obj = json;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof key)
            return -1;
        memcpy(key, path, len);
        key[len] = '\0';
        int found = sim_json_member(obj, key, vs, ve);
        if (found <= 0 || !dot)
            return found;
        if (**vs != '{')
            return 0;
        obj = *vs;
        path = dot + 1;
    }
}

int sim_json_u64(const char *json, const char *path, uint64_t *v)
{
    const char *vs, *ve;
    if (sim_json_find(json, path, &vs, &ve) != 1 || *vs < '0' || *vs > '9')
        return 0;
    *v = strtoull(vs, NULL, 10);
    return 1;
}

int sim_json_str(const char *json, const char *path, char *buf, size_t n)
{
    const char *vs, *ve;
    if (sim_json_find(json, path, &vs, &ve) != 1 || *vs != '"' || n == 0)
        return 0;
    size_t k = 0;
    for (const char *p = vs + 1; p < ve - 1; p++) {
        char c = *p;
        if (c == '\\') {
            c = *++p;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'u' ? '?' : c;
            if (*p == 'u')
                p += 4 < ve - 1 - p ? 4 : 0;
        }
        if (k + 1 >= n)
            return 0;
        buf[k++] = c;
    }
    buf[k] = '\0';
    return 1;
}

char *sim_json_quote(const char *s)
{
    char *out = malloc(6 * strlen(s) + 3), *q = out;
    if (!out)
        return NULL;
    *q++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *q++ = '\\';
            *q++ = (char)*p;
        } else if (*p < 0x20) {
            q += sprintf(q, "\\u%04x", *p);
        } else {
            *q++ = (char)*p;
        }
    }
    *q++ = '"';
    *q = '\0';
    return out;
}

/* text with [vs, ve) replaced by value. */
static char *splice(const char *text, const char *vs, const char *ve, const char *value)
{
    size_t pre = (size_t)(vs - text), vlen = strlen(value), post = strlen(ve);
    char *out = malloc(pre + vlen + post + 1);
    if (!out)
        return NULL;
    memcpy(out, text, pre);
    memcpy(out + pre, value, vlen);
    memcpy(out + pre + vlen, ve, post + 1);
    return out;
}

char *sim_json_set(const char *obj, const char *path, const char *raw)
{
    char key[DOM_KEY_MAX];
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    if (len >= sizeof key)
        return NULL;
    memcpy(key, path, len);
    key[len] = '\0';
    const char *vs, *ve;
    int found = sim_json_member(obj, key, &vs, &ve);
    if (found < 0)
        return NULL;
    char *value;
    if (!dot) {
        value = strdup(raw);
    } else {
        int is_obj = found && *vs == '{';
        char *sub = is_obj ? strndup(vs, (size_t)(ve - vs)) : strdup("{}");
        value = sub ? sim_json_set(sub, dot + 1, raw) : NULL;
        free(sub);
    }
    if (!value)
        return NULL;
    char *out;
    if (found) {
        out = splice(obj, vs, ve, value);
    } else {
        /* a new member first in the object */
        const char *brace = sim_json_ws(obj) + 1, *after = sim_json_ws(brace);
        char *member = NULL;
        if (asprintf(&member, "\"%s\": %s%s", key, value, *after == '}' ? "" : ", ") < 0)
            member = NULL;
        out = member ? splice(obj, brace, brace, member) : NULL;
        free(member);
    }
    free(value);
    return out;
}

int sim_json_elements(const char *array, struct sim_span **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *p = sim_json_ws(array);
    if (*p != '[')
        return -1;
    p = sim_json_ws(p + 1);
    if (*p == ']')
        return 0;
    struct sim_span *v = NULL;
    size_t len = 0;
    for (;;) {
        const char *end = sim_json_skip(p);
        struct sim_span *nv = end ? realloc(v, (len + 1) * sizeof *v) : NULL;
        if (!nv) {
            free(v);
            return -1;
        }
        v = nv;
        v[len].s = p;
        v[len++].e = end;
        p = sim_json_ws(end);
        if (*p == ']')
            break;
        if (*p != ',') {
            free(v);
            return -1;
        }
        p = sim_json_ws(p + 1);
    }
    *out = v;
    *n = len;
    return 0;
}

char *sim_json_join(const struct sim_span *v, size_t n, size_t skip, const char *extra)
{
    size_t total = 8 + (extra ? strlen(extra) + 8 : 0);
    for (size_t i = 0; i < n; i++)
        total += (size_t)(v[i].e - v[i].s) + 8;
    char *out = malloc(total), *q = out;
    if (!out)
        return NULL;
    *q++ = '[';
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        q += sprintf(q, "%s\n", first ? "" : ",");
        memcpy(q, v[i].s, (size_t)(v[i].e - v[i].s));
        q += v[i].e - v[i].s;
        first = 0;
    }
    if (extra)
        q += sprintf(q, "%s\n%s", first ? "" : ",", extra);
    strcpy(q, "\n]");
    return out;
}
