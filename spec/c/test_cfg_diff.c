/* spec/c/test_cfg_diff.c: the differential test of core/cfg_parse against libxlutil itself:
 * the corpus in spec/fixtures/cfg and thousands of seeded random configs, valid and not.
 *
 * For every input, xlua must accept exactly when libxlutil accepts, and then every setting
 * xlua found must read back identically through libxlutil's getters (string, list items,
 * nested lists, get_long's verdict, the line libxlutil reports), and every other name that
 * appears in the text must be unknown to libxlutil.
 *
 * The documented differences (README, "xl.cfg parsing") are applied to the text libxlutil
 * sees, never to xlua's, and counted:
 *   - the end of the file ends the last line: libxlutil gets a final '\n' when the text lacks
 *     one (libxlutil rejects a final comment without a newline, and silently ignores a stray
 *     last byte such as "x = 1 $");
 *   - numeric escapes \NNN (octal, 1 to 3 digits) and \xHH yield their byte: libxlutil gets
 *     the byte itself (it drops \NNN and the digits after it, and rejects every \x); an
 *     escape of NUL or above \377 is an error in xlua, so libxlutil gets an invalid escape.
 * Usage: test_cfg_diff [CORPUS_DIR [GENERATED_COUNT [SEED]]] */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

#include "xlcfg/cfg_parse.h"

#ifndef CFG_CORPUS_DIR
#define CFG_CORPUS_DIR "spec/fixtures/cfg"
#endif

/* ---- a growable byte buffer -------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
    if (n > SIZE_MAX / 4)      /* never: tells an optimising gcc the memcpy bound is sane */
        abort();
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) {
            perror("realloc");
            exit(99);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }
static void putc_(struct buf *b, char c) { put(b, &c, 1); }

/* ---- the text libxlutil sees ------------------------------------------------------- */

enum { DIFF_EOF_NEWLINE = 1, DIFF_NUMERIC_ESCAPE = 2 };

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_literal(struct buf *b, unsigned v)
{
    switch (v) {
    case '\n': puts_(b, "\\n"); break;
    case '\\': puts_(b, "\\\\"); break;
    case '\'': puts_(b, "\\'"); break;
    case '"': puts_(b, "\\\""); break;
    default: putc_(b, (char)v); break;
    }
}

/* Rewrite one quoted string's numeric escapes as xlua reads them. */
static int rewrite_string(struct buf *out, const char *s, size_t n)
{
    int changed = 0;
    putc_(out, s[0]);
    for (size_t k = 1; k + 1 < n;) {
        if (s[k] != '\\') {
            putc_(out, s[k++]);
            continue;
        }
        char nc = s[k + 1];
        if (nc == 'x' && k + 3 < n - 1 && hexval(s[k + 2]) >= 0 && hexval(s[k + 3]) >= 0) {
            unsigned v = (unsigned)(hexval(s[k + 2]) * 16 + hexval(s[k + 3]));
            if (v) {          /* \x00 stays: libxlutil rejects every \x, as xlua rejects NUL */
                put_literal(out, v);
                k += 4;
                changed = 1;
                continue;
            }
        } else if (nc >= '0' && nc <= '7') {
            unsigned v = 0;
            size_t m = k + 1;
            for (int d = 0; d < 3 && m < n - 1 && s[m] >= '0' && s[m] <= '7'; d++)
                v = v * 8 + (unsigned)(s[m++] - '0');
            if (v == 0 || v > 0377)
                puts_(out, "\\q");   /* xlua's error: make libxlutil fail too */
            else
                put_literal(out, v);
            k = m;
            changed = 1;
            continue;
        }
        put(out, s + k, 2);
        k += 2;
    }
    putc_(out, s[n - 1]);
    return changed;
}

/* Up to the first lexical error (after which both reject) this scanner splits the text at
 * the same string and comment boundaries as libxlutil's flex rules do. */
static void to_reference(const char *text, size_t len, struct buf *out, int *diff)
{
    struct buf t = {0};
    *diff = 0;
    out->len = 0;
    put(&t, text, len);
    if (len == 0 || text[len - 1] != '\n') {
        putc_(&t, '\n');
        *diff |= DIFF_EOF_NEWLINE;
    }
    const char *s = t.p;
    size_t n = t.len;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '#') {
            size_t j = i;
            while (s[j] != '\n')
                j++;
            put(out, s + i, j + 1 - i);
            i = j + 1;
        } else if (c == '\'' || c == '"') {
            size_t k = i + 1;
            while (k < n && s[k] != c && s[k] != '\n') {
                if (s[k] == '\\') {
                    if (k + 1 >= n || s[k + 1] == '\n')
                        break;
                    k++;
                }
                k++;
            }
            if (k < n && s[k] == c) {
                if (rewrite_string(out, s + i, k + 1 - i))
                    *diff |= DIFF_NUMERIC_ESCAPE;
                i = k + 1;
            } else {
                putc_(out, c);
                i++;
            }
        } else {
            putc_(out, c);
            i++;
        }
    }
    free(t.p);
}

/* ---- comparing ---------------------------------------------------------------------- */

static long compared, accepted, rejected, failures, settings_checked, probes_checked;
static long diff_count[4], diff_mattered[4], final_comments, stray_bytes;

static void show_input(const char *text, size_t len)
{
    fputs("  input: \"", stderr);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') fputs("\\n", stderr);
        else if (c == '\t') fputs("\\t", stderr);
        else if (c == '\\') fputs("\\\\", stderr);
        else if (c == '"') fputs("\\\"", stderr);
        else if (c < 0x20 || c >= 0x7f) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fputs("\"\n", stderr);
}

static int fail(const char *label, const char *text, size_t len, const char *fmt, const char *a,
                const char *b)
{
    failures++;
    if (failures <= 12) {
        fprintf(stderr, "FAIL %s: ", label);
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
        show_input(text, len);
    }
    return -1;
}

/* The long libxlutil's xlu_cfg_get_long must give for a setting, as an errno value. */
static int expected_long(const struct cfg_setting *s, long *v)
{
    if (s->appended)
        return EINVAL;
    char *ep;
    errno = 0;
    *v = strtol(s->value->text, &ep, 0);
    if (errno)
        return errno;
    if (*ep || ep == s->value->text)
        return EINVAL;
    return 0;
}

static int same_value(const XLU_Config *ref, XLU_ConfigValue *rv, const struct cfg_value *v)
{
    if (v->kind == CFG_LIST) {
        XLU_ConfigList *list;
        if (xlu_cfg_value_type(rv) != XLU_LIST || xlu_cfg_value_get_list(ref, rv, &list, 1))
            return 0;
        for (size_t i = 0; i < v->count; i++) {
            XLU_ConfigValue *item = xlu_cfg_get_listitem2(list, (int)i);
            if (!item || !same_value(ref, item, v->items[i]))
                return 0;
            const char *flat = xlu_cfg_get_listitem(list, (int)i);
            if (v->items[i]->kind == CFG_LIST ? flat != NULL : !flat || strcmp(flat, v->items[i]->text))
                return 0;
        }
        return xlu_cfg_get_listitem2(list, (int)v->count) == NULL;
    }
    char *s;
    return xlu_cfg_value_type(rv) == XLU_STRING && !xlu_cfg_value_get_string(ref, rv, &s, 1)
           && !strcmp(s, v->text);
}

/* The line libxlutil names in the warning of a getter that wants the other type. */
static int ref_line(const XLU_Config *ref, FILE *report, char **rbuf, size_t *rlen,
                    const struct cfg_setting *s)
{
    fflush(report);
    size_t from = *rlen;
    const char *dummy;
    if (s->value->kind == CFG_LIST)
        xlu_cfg_get_string(ref, s->name, &dummy, 0);
    else
        xlu_cfg_get_list(ref, s->name, NULL, NULL, 0);
    fflush(report);
    int line = -1;
    if (*rlen > from && sscanf(*rbuf + from, "ref:%d:", &line) != 1)
        line = -1;
    return line;
}

static int compare_settings(const char *label, const char *text, size_t len,
                            const XLU_Config *ref, FILE *report, char **rbuf, size_t *rlen,
                            const struct cfg_file *f)
{
    char num[64];
    for (size_t i = 0; i < f->count; i++) {
        const struct cfg_setting *s = &f->settings[i];
        settings_checked++;
        if (s->value->kind == CFG_LIST) {
            XLU_ConfigList *list;
            int n;
            if (xlu_cfg_get_list(ref, s->name, &list, &n, 1) || n != (int)s->value->count)
                return fail(label, text, len, "list '%s' differs%s", s->name, "");
            for (int k = 0; k < n; k++)
                if (!same_value(ref, xlu_cfg_get_listitem2(list, k), s->value->items[k]))
                    return fail(label, text, len, "item of list '%s' differs%s", s->name, "");
        } else {
            const char *str;
            if (xlu_cfg_get_string(ref, s->name, &str, 1))
                return fail(label, text, len, "'%s' is not a string in libxlutil%s", s->name, "");
            if (strcmp(str, s->value->text))
                return fail(label, text, len, "'%s' differs: libxlutil has '%s'", s->name, str);
            long want = 0, got = 0;
            int want_rc = expected_long(s, &want);
            int got_rc = xlu_cfg_get_long(ref, s->name, &got, 1);
            if (want_rc != got_rc || (!got_rc && want != got))
                return fail(label, text, len, "get_long of '%s' differs%s", s->name, "");
            if ((s->value->kind == CFG_NUMBER) && s->appended)
                return fail(label, text, len, "'%s' made by += is a number%s", s->name, "");
        }
        int line = ref_line(ref, report, rbuf, rlen, s);
        if (line != s->line) {
            snprintf(num, sizeof num, "%d, libxlutil %d", s->line, line);
            return fail(label, text, len, "line of '%s' is %s", s->name, num);
        }
    }
    /* Every name-like run in the text that xlua did not report must be unknown to libxlutil. */
    char name[128];
    for (size_t i = 0; i < len; i++) {
        if (text[i] < 'a' || text[i] > 'z')
            continue;
        size_t j = i;
        while (j < len && j - i < sizeof name - 1
               && ((text[j] >= 'a' && text[j] <= 'z') || (text[j] >= '0' && text[j] <= '9')
                   || text[j] == '.' || text[j] == '_'))
            j++;
        memcpy(name, text + i, j - i);
        name[j - i] = '\0';
        if (cfg_find(f, name))
            continue;
        probes_checked++;
        const char *str;
        if (xlu_cfg_get_string(ref, name, &str, 1) != ESRCH
            || xlu_cfg_get_list(ref, name, NULL, NULL, 1) != ESRCH)
            return fail(label, text, len, "libxlutil knows '%s', xlua does not%s", name, "");
    }
    return 0;
}

static int libxlutil_accepts(const char *text, size_t len)
{
    FILE *devnull = fopen("/dev/null", "w");
    XLU_Config *c = xlu_cfg_init(devnull, "raw");
    if (!c) {
        perror("xlu_cfg_init");
        exit(99);
    }
    int rc = xlu_cfg_readdata(c, text, (int)len);
    xlu_cfg_destroy(c);
    fclose(devnull);
    return rc == 0;
}

static int compare(const char *label, const char *text, size_t len, int *accepted_r)
{
    compared++;
    struct cfg_file *f = NULL;
    struct xerr e = {0};
    int ours = cfg_parse(text, len, label, &f, &e) == 0;
    if (!ours && (!e.code || strcmp(e.code, "SYNTAX")))
        return fail(label, text, len, "error code %s: %s", e.code ? e.code : "(none)", e.message);

    struct buf ref_text = {0};
    int diff;
    to_reference(text, len, &ref_text, &diff);

    char *rbuf = NULL;
    size_t rlen = 0;
    FILE *report = open_memstream(&rbuf, &rlen);
    XLU_Config *ref = xlu_cfg_init(report, "ref");
    if (!report || !ref) {
        perror("xlu_cfg_init");
        exit(99);
    }
    int theirs = xlu_cfg_readdata(ref, ref_text.p, (int)ref_text.len) == 0;
    int raw = diff ? libxlutil_accepts(text, len) : theirs;
    for (int bit = 0; bit < 2; bit++) {
        if (diff & (1 << bit)) {
            diff_count[bit]++;
            if (raw != theirs)
                diff_mattered[bit]++;
        }
    }
    if (diff == DIFF_EOF_NEWLINE && raw != theirs) {
        /* Only the two documented end-of-file bugs may change libxlutil's verdict here. */
        const char *nl = memrchr(text, '\n', len);
        size_t from = nl ? (size_t)(nl - text) + 1 : 0;
        /* (strchr finds the terminator too: a last byte of NUL is a stray byte) */
        unsigned char last = len ? (unsigned char)text[len - 1] : 0;
        if (!raw && memchr(text + from, '#', len - from))
            final_comments++;
        else if (raw && (!last || !strchr("abcdefghijklmnopqrstuvwxyz0123456789 \t", last)))
            stray_bytes++;
        else
            fail(label, text, len, "the final newline changed libxlutil's verdict%s%s", "", "");
    }

    int rc = 0;
    if (ours != theirs) {
        fflush(report);
        rc = fail(label, text, len, ours ? "xlua accepts, libxlutil rejects: %s%s"
                                         : "xlua rejects (%s), libxlutil accepts%s",
                  ours ? rbuf : e.message, "");
    } else if (ours) {
        accepted++;
        rc = compare_settings(label, text, len, ref, report, &rbuf, &rlen, f);
    } else {
        rejected++;
    }
    if (accepted_r)
        *accepted_r = ours;
    xlu_cfg_destroy(ref);
    fclose(report);
    free(rbuf);
    free(ref_text.p);
    cfg_free(f);
    return rc;
}

/* ---- the corpus --------------------------------------------------------------------- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int only_cfg(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && !strcmp(d->d_name + n - 4, ".cfg");
}

static long run_corpus(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, only_cfg, by_name);
    if (n < 0) {
        fprintf(stderr, "FAIL cannot read the corpus %s: %s\n", dir, strerror(errno));
        failures++;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        FILE *fp = fopen(path, "rb");
        struct buf b = {0};
        char chunk[4096];
        size_t got;
        while (fp && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
            put(&b, chunk, got);
        if (fp)
            fclose(fp);
        else
            failures++;
        int ok = 0;
        if (compare(names[i]->d_name, b.p ? b.p : "", b.len, &ok) == 0) {
            /* bad-*.cfg are meant to be rejected, every other file to be accepted. */
            int meant_bad = !strncmp(names[i]->d_name, "bad-", 4);
            if (ok == meant_bad) {
                fprintf(stderr, "FAIL %s: %s\n", names[i]->d_name,
                        ok ? "accepted, but it is a bad-*.cfg" : "rejected");
                failures++;
            }
        }
        free(b.p);
        free(names[i]);
    }
    free(names);
    return n;
}

/* ---- the generator ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717u) >> 33) % n;
}

static const char *pick(const char *const *list, size_t n) { return list[rnd((uint32_t)n)]; }
#define PICK(a) pick(a, sizeof a / sizeof a[0])

static const char *const keys[] = {
    "name", "memory", "vcpus", "disk", "vif", "extra", "kernel", "cmdline", "a", "b.c",
    "x_1", "on_crash", "builder", "pci", "type", "z9",
};
static const char *const spaces[] = { "", " ", "  ", "\t", " \t " };
static const char *const comments[] = { "# c", "#", "#[x]='\\", "# \"unclosed", "## x = 1" };

static void gen_space(struct buf *b) { puts_(b, PICK(spaces)); }

/* Inside a list: spaces, and now and then line breaks and comments. */
static void gen_list_gap(struct buf *b)
{
    gen_space(b);
    uint32_t r = rnd(8);
    if (r == 0)
        putc_(b, '\n');
    else if (r == 1) {
        puts_(b, PICK(comments));
        putc_(b, '\n');
    }
    gen_space(b);
}

static void gen_number(struct buf *b)
{
    static const char tail[] = "0123456789abcdefx";
    putc_(b, (char)('0' + rnd(10)));
    uint32_t n = rnd(4) == 0 ? rnd(25) : rnd(4);
    if (rnd(4) == 0 && n) {
        putc_(b, 'x');
        n--;
    }
    while (n--)
        putc_(b, tail[rnd(sizeof tail - 1)]);
}

/* Most structured configs are meant to be valid; some may hold a bad escape or quote. */
static int allow_bad;

static void gen_string(struct buf *b)
{
    static const char *const good[] = {
        "a", "xvda", "phy:/dev/vg/d,xvda,w", " ", "=", ",", "[", "]", "#", ";", "+=",
        "\\n", "\\t", "\\\\", "\\'", "\\\"", "\\a", "\\b", "\\f", "\\r", "\\v",
        "\\101", "\\7", "\\12", "\\377", "\\1a", "\\19", "\\x41", "\\x7e", "\\x0a",
        "\\1 2", "\\1+23", "\xc3\xa9", "\x01", "\t", "\r", "'", "\"", "\\047", "\\x22",
        "\\134",
    };
    static const char *const bad[] = {
        "\\0", "\\400", "\\x", "\\xg1", "\\x00", "\\q", "\\ ", "\\9", "\\000",
    };
    char q = rnd(2) ? '\'' : '"';
    putc_(b, q);
    for (uint32_t n = rnd(6); n--;) {
        const char *p = !allow_bad || rnd(25) ? PICK(good) : PICK(bad);
        if (p[0] == q && p[1] == '\0' && rnd(8))
            p = "";   /* mostly keep the string closed */
        puts_(b, p);
    }
    if (!allow_bad || rnd(60))
        putc_(b, q);
}

static void gen_value(struct buf *b, int depth)
{
    static const char *const odd[] = {
        "9g", "1.5", "-1", "0xFF", "1e5", "1_0", "abc", "A", "'\\e'", "\"\\u\"", "'a\\\nb'",
        "'a\nb'", "\"a\\\"", "+1", "(1)", "0x", "0xx9", "true", "'x' 'y'", "[1 2]", "[,]",
        "[1,,2]", "[1;2]", "[\n,1]", "'\\''", "\"'\"", "1 # c",
    };
    if (allow_bad && rnd(20) == 0) {
        puts_(b, PICK(odd));
        return;
    }
    uint32_t r = rnd(10);
    if (depth > 2 || r < (uint32_t)(5 + 2 * depth)) {
        if (r & 1)
            gen_number(b);
        else
            gen_string(b);
        return;
    }
    if (r < 9) {
        putc_(b, '[');
        gen_list_gap(b);
        uint32_t n = rnd(depth ? 3 : 6);
        for (uint32_t i = 0; i < n; i++) {
            gen_value(b, depth + 1);
            gen_list_gap(b);
            if (i + 1 < n || rnd(3) == 0) {
                putc_(b, ',');
                gen_list_gap(b);
            }
        }
        putc_(b, ']');
        return;
    }
    gen_string(b);
}

static void gen_structured(struct buf *b)
{
    uint32_t n = rnd(12);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = rnd(12);
        if (r == 0)
            putc_(b, '\n');
        else if (r == 1)
            puts_(b, ";");
        else if (r == 2) {
            puts_(b, PICK(comments));
            putc_(b, '\n');
        }
        gen_space(b);
        puts_(b, PICK(keys));
        gen_space(b);
        puts_(b, rnd(3) == 0 ? "+=" : "=");
        gen_space(b);
        gen_value(b, 0);
        gen_space(b);
        if (i + 1 == n) {
            static const char *const last[] = { "", "\n", ";", "# end", "#", " # end\n", "\n\n" };
            puts_(b, PICK(last));
        } else {
            static const char *const ends[] = { "\n", ";", "; ", " # c\n", ";\n", "\n\n" };
            puts_(b, PICK(ends));
        }
    }
}

static void gen_tokens(struct buf *b)
{
    static const char *const toks[] = {
        "x", "memory", "a.b", "vif", "0", "12", "0x1f", "9zz", "'s'", "\"d\"", "'\\n'", "\"\\101\"",
        "=", "+=", "[", "]", ",", ";", "\n", "# c\n", " ", "\t", "$", "+", "-", "(", ")", ".",
        ":", "A", "\r", "\x80", "'open", "\"open", "\\", "#", "_a", "a-b", "Ab", "9g", "1.5",
        "0xFF", "1e5", "x.y_z", "\xc3\xa9", "'\\e'", "'\\u'", "\"\\N\"", "'\\\n'", "-1",
    };
    for (uint32_t n = rnd(30); n--;)
        puts_(b, PICK(toks));
}

static void gen_bytes(struct buf *b)
{
    static const char alphabet[] = "ab0x9g=+[],;#'\"\\ \t\n\n$-AZ_.\r\x7f\xff";
    for (uint32_t n = rnd(40); n--;)
        putc_(b, alphabet[rnd(sizeof alphabet - 1)]);
}

static void mutate(struct buf *b)
{
    static const char alphabet[] = "a0=+[],;#'\"\\ \t\n$-";
    for (uint32_t m = 1 + rnd(3); m--;) {
        if (b->len == 0) {
            putc_(b, alphabet[rnd(sizeof alphabet - 1)]);
            continue;
        }
        size_t at = rnd((uint32_t)b->len);
        switch (rnd(4)) {
        case 0:      /* insert a byte */
            putc_(b, 0);
            memmove(b->p + at + 1, b->p + at, b->len - 1 - at);
            b->p[at] = alphabet[rnd(sizeof alphabet - 1)];
            break;
        case 1:      /* delete a byte */
            memmove(b->p + at, b->p + at + 1, b->len - at - 1);
            b->p[--b->len] = '\0';
            break;
        case 2:      /* replace a byte */
            b->p[at] = alphabet[rnd(sizeof alphabet - 1)];
            break;
        default:     /* cut the end */
            b->len = at;
            b->p[at] = '\0';
            break;
        }
    }
}

static void gen_deep(struct buf *b)
{
    uint32_t depth = 1 + rnd(CFG_MAX_DEPTH);
    puts_(b, "x = ");
    for (uint32_t i = 0; i < depth; i++)
        puts_(b, rnd(2) ? "[" : "[1,");
    for (uint32_t i = 0; i < depth; i++)
        puts_(b, "]");
    putc_(b, '\n');
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : CFG_CORPUS_DIR;
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
    if (argc > 3)
        rng_state = strtoull(argv[3], NULL, 0) | 1;

    long corpus = run_corpus(dir);
    long corpus_failures = failures;
    long c_acc = accepted, c_rej = rejected;

    struct buf b = {0};
    char label[32];
    for (long i = 0; i < count; i++) {
        b.len = 0;
        putc_(&b, 0);
        b.len = 0;
        uint32_t mode = rnd(20);
        if (mode < 12) {
            allow_bad = rnd(10) < 3;
            gen_structured(&b);
            if (rnd(10) < 3)
                mutate(&b);
        } else if (mode < 16) {
            gen_tokens(&b);
        } else if (mode < 19) {
            gen_bytes(&b);
        } else {
            gen_deep(&b);
        }
        snprintf(label, sizeof label, "generated#%ld", i);
        compare(label, b.p, b.len, NULL);
    }
    free(b.p);

    long g_acc = accepted - c_acc, g_rej = rejected - c_rej;
    printf("corpus: %ld files (%ld accepted, %ld rejected), %ld failures\n", corpus, c_acc, c_rej,
           corpus_failures);
    printf("generated: %ld configs (%ld accepted, %ld rejected)\n", count, g_acc, g_rej);
    printf("checked %ld settings and %ld absent names against libxlutil\n", settings_checked,
           probes_checked);
    printf("documented differences: final newline added for %ld inputs (libxlutil's verdict "
           "changed in %ld: %ld final comments, %ld stray last bytes, the rest with escapes); "
           "numeric escapes rewritten in %ld (verdict changed in %ld)\n",
           diff_count[0], diff_mattered[0], final_comments, stray_bytes, diff_count[1],
           diff_mattered[1]);
    /* A generator that only makes valid or only invalid configs proves little. */
    if (count >= 1000 && (g_acc < count / 5 || g_rej < count / 5)) {
        fprintf(stderr, "FAIL the generator is lopsided\n");
        failures++;
    }
    if (corpus < 25) {
        fprintf(stderr, "FAIL the corpus has only %ld configs\n", corpus);
        failures++;
    }
    printf("%s: %ld failures\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
