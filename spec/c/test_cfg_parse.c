/* spec/c/test_cfg_parse.c: core/cfg_parse on its own: where each error is reported and what
 * it says it expected, the order and replacement of settings, +=, escapes, files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlcfg/cfg_parse.h"

static int failures, checks;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* text must fail with SYNTAX at "f.cfg:LINE:COL: expected ..." containing want. */
static void error_at(const char *text, size_t len, int line, int col, const char *want)
{
    struct cfg_file *f = NULL;
    struct xerr e = {0};
    char prefix[64];
    snprintf(prefix, sizeof prefix, "f.cfg:%d:%d: expected ", line, col);
    int rc = cfg_parse(text, len, "f.cfg", &f, &e);
    CHECK(rc == -1 && f == NULL, "accepted: %s", text);
    if (rc == 0) {
        cfg_free(f);
        return;
    }
    CHECK(e.code && !strcmp(e.code, "SYNTAX"), "code %s for %s", e.code, text);
    CHECK(!strncmp(e.message, prefix, strlen(prefix)), "message '%s', wanted prefix '%s'",
          e.message, prefix);
    CHECK(strstr(e.message, want) != NULL, "message '%s' lacks '%s'", e.message, want);
}

#define ERROR_AT(text, line, col, want) error_at(text, sizeof text - 1, line, col, want)

static struct cfg_file *parse_ok(const char *text)
{
    struct cfg_file *f = NULL;
    struct xerr e = {0};
    int rc = cfg_parse(text, strlen(text), NULL, &f, &e);
    CHECK(rc == 0 && f, "rejected '%s': %s", text, e.message);
    return f;
}

static void test_errors(void)
{
    ERROR_AT("= 1", 1, 1, "a setting name, found '='");
    ERROR_AT("name = 1\nName = 2", 2, 1, "a setting name, found 'N' (names are lower case)");
    ERROR_AT("_x = 1", 1, 1, "a setting name");
    ERROR_AT("memory 512", 1, 8, "'=' or '+=' after 'memory', found the number 512");
    ERROR_AT("memory\n= 512", 1, 7, "'=' or '+=' after 'memory', found the end of the line");
    ERROR_AT("memory =\n512", 1, 9, "a value after '=', found the end of the line");
    ERROR_AT("memory = # c\n", 1, 10, "a value after '=', found a comment");
    ERROR_AT("memory +=", 1, 10, "a value after '+=', found the end of the file");
    ERROR_AT("x = -1", 1, 5, "a negative number must be quoted");
    ERROR_AT("x = 1 + 2", 1, 7, "not Python");
    ERROR_AT("x = 1.5", 1, 6, "';' or a new line after the value of 'x', found '.'");
    ERROR_AT("x = abc", 1, 5, "a value after '=', found the name 'abc'");
    ERROR_AT("x = 'a' 'b'", 1, 9, "';' or a new line after the value of 'x', found a string");
    ERROR_AT("x = 1\r\n", 1, 6, "found a carriage return");
    ERROR_AT("x = 1 $", 1, 7, "found '$'");
    ERROR_AT("x = 1\n$", 2, 1, "a setting name, found '$'");
}

static void test_list_errors(void)
{
    ERROR_AT("d = [1 2]", 1, 8, "',' or ']' in the list, found the number 2");
    ERROR_AT("d = [,]", 1, 6, "a value or ']', found ','");
    ERROR_AT("d = [1,,2]", 1, 8, "a value or ']', found ','");
    ERROR_AT("d = [1;2]", 1, 7, "',' or ']' in the list, found ';'");
    ERROR_AT("d = [\n  'a',\n  'b'\n", 4, 1, "',' or ']' in the list, found the end of the file");
    ERROR_AT("d = [\n  'a',\n  ", 3, 3, "a value or ']', found the end of the file");
    ERROR_AT("d = ]", 1, 5, "a value after '=', found ']'");
    ERROR_AT("d = [[1]", 1, 9, "',' or ']' in the list, found the end of the file");
    ERROR_AT("[1] = 2", 1, 1, "a setting name, found '['");
}

static void test_string_errors(void)
{
    ERROR_AT("x = 'abc\ny = 1", 1, 5, "a closing ' for this string on its line, found the end of the line");
    ERROR_AT("x = \"abc", 1, 5, "a closing \" for this string on its line, found the end of the file");
    ERROR_AT("x = 'a\\\nb'", 1, 5, "a closing '");
    ERROR_AT("x = 1\ny = 'a\\qb'", 2, 7, "an escape (");
    ERROR_AT("y = 'a\\qb'", 1, 7, "found '\\q'");
    ERROR_AT("y = '\\x4'", 1, 6, "'\\x' without two hex digits");
    ERROR_AT("y = '\\xg0'", 1, 6, "'\\x' without two hex digits");
    ERROR_AT("y = '\\0'", 1, 6, "an escape of a non-NUL byte");
    ERROR_AT("y = 'ab\\000'", 1, 8, "an escape of a non-NUL byte");
    ERROR_AT("y = '\\x00'", 1, 6, "an escape of a non-NUL byte");
    ERROR_AT("y = '\\400'", 1, 6, "an octal escape of at most \\377");
    ERROR_AT("y = 'a\0b'", 1, 7, "found a NUL byte");
    ERROR_AT("y = 1\0", 1, 6, "found a NUL byte");
}

static void test_append_errors(void)
{
    ERROR_AT("d = [1]\nd += 'x'", 2, 6, "a list to add to 'd' (a list since line 1), found a string");
    ERROR_AT("s = 'x'\n\ns += [1]", 3, 6, "a string to add to 's' (a string since line 1), found a list");
    ERROR_AT("n = 1\nn += []", 2, 6, "a string to add to 'n'");
}

static void test_depth(void)
{
    char deep[2 * CFG_MAX_DEPTH + 16];
    int n = 0;
    n += sprintf(deep + n, "x = ");
    for (int i = 0; i < CFG_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < CFG_MAX_DEPTH; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    struct cfg_file *f = parse_ok(deep);
    cfg_free(f);
    /* one more level is refused, at the first '[' too many */
    memmove(deep + 5, deep + 4, (size_t)n - 4 + 1);
    deep[4] = '[';
    memcpy(deep + n + 1, "]", 2);
    error_at(deep, strlen(deep), 1, 5 + CFG_MAX_DEPTH, "lists nested at most 64 deep");
}

static void test_values(void)
{
    struct cfg_file *f = parse_ok(
        "name = 'vm'\n"
        "memory = 0x200 ; vcpus=2\n"
        "disk = [ 'a',\n  # comment\n  \"b\", [1, []],\n]\n"
        "empty = []\n"
        "esc = '\\t\\n\\\\\\'\\\"\\101\\x42\\7'\n");
    if (!f)
        return;
    CHECK(f->count == 6, "count %zu", f->count);
    const char *names[] = {"name", "memory", "vcpus", "disk", "empty", "esc"};
    int lines[] = {1, 2, 2, 3, 7, 8};
    for (size_t i = 0; i < 6 && i < f->count; i++) {
        CHECK(!strcmp(f->settings[i].name, names[i]), "setting %zu is %s", i, f->settings[i].name);
        CHECK(f->settings[i].line == lines[i], "line of %s is %d", names[i], f->settings[i].line);
        CHECK(!f->settings[i].appended, "%s appended", names[i]);
    }
    const struct cfg_setting *s = cfg_find(f, "memory");
    CHECK(s && s->value->kind == CFG_NUMBER && !strcmp(s->value->text, "0x200"), "memory");
    s = cfg_find(f, "name");
    CHECK(s && s->value->kind == CFG_STRING && !strcmp(s->value->text, "vm"), "name");
    s = cfg_find(f, "disk");
    CHECK(s && s->value->kind == CFG_LIST && s->value->count == 3, "disk");
    if (s && s->value->count == 3) {
        CHECK(!strcmp(s->value->items[0]->text, "a"), "disk[0]");
        CHECK(s->value->items[1]->line == 5 && s->value->items[1]->column == 3, "disk[1] at %d:%d",
              s->value->items[1]->line, s->value->items[1]->column);
        const struct cfg_value *inner = s->value->items[2];
        CHECK(inner->kind == CFG_LIST && inner->count == 2 && inner->items[0]->kind == CFG_NUMBER
              && inner->items[1]->kind == CFG_LIST && inner->items[1]->count == 0, "disk[2]");
    }
    s = cfg_find(f, "empty");
    CHECK(s && s->value->kind == CFG_LIST && s->value->count == 0, "empty");
    s = cfg_find(f, "esc");
    CHECK(s && !strcmp(s->value->text, "\t\n\\'\"AB\a"), "esc is '%s'", s ? s->value->text : "");
    CHECK(cfg_find(f, "nope") == NULL, "nope");
    cfg_free(f);
}

static void test_order_and_append(void)
{
    struct cfg_file *f = parse_ok(
        "a = 1\nb = 2\nc = 3\n"
        "a = 'again'\n"          /* a moves after c: it is now set on line 4 */
        "l = [1]\nl += [2, [3]]\n"
        "s += 'x'\n"             /* += of an unset name is a plain set, but not a number */
        "n = 5\nn += 6\n"
        "b = 7\nb += ''\nb = 8\n");
    if (!f)
        return;
    const char *order[] = {"c", "a", "l", "s", "n", "b"};
    int lines[] = {3, 4, 6, 7, 9, 12};
    CHECK(f->count == 6, "count %zu", f->count);
    for (size_t i = 0; i < 6 && i < f->count; i++) {
        CHECK(!strcmp(f->settings[i].name, order[i]), "position %zu is %s", i, f->settings[i].name);
        CHECK(f->settings[i].line == lines[i], "%s on line %d", order[i], f->settings[i].line);
    }
    const struct cfg_setting *s = cfg_find(f, "a");
    CHECK(s && !strcmp(s->value->text, "again") && s->value->kind == CFG_STRING, "a");
    s = cfg_find(f, "l");
    CHECK(s && s->appended && s->value->count == 3 && !strcmp(s->value->items[0]->text, "1")
          && !strcmp(s->value->items[1]->text, "2") && s->value->items[2]->kind == CFG_LIST, "l");
    s = cfg_find(f, "s");
    CHECK(s && s->appended && s->value->kind == CFG_STRING && !strcmp(s->value->text, "x"), "s");
    s = cfg_find(f, "n");
    CHECK(s && s->appended && s->value->kind == CFG_STRING && !strcmp(s->value->text, "56"), "n");
    s = cfg_find(f, "b");
    CHECK(s && !s->appended && s->value->kind == CFG_NUMBER && !strcmp(s->value->text, "8"), "b");
    cfg_free(f);

    f = parse_ok("");
    CHECK(f && f->count == 0 && f->settings == NULL, "empty text");
    cfg_free(f);
    f = parse_ok("\n\n# only comments\n;;\n#");
    CHECK(f && f->count == 0, "comments only");
    cfg_free(f);
    f = parse_ok("x = 1 # a final comment, no newline");
    CHECK(f && f->count == 1, "final comment");
    cfg_free(f);
    /* a NUL byte is only allowed in a comment (libxlutil aborts on one inside a string) */
    static const char nul_comment[] = "c = 1 # \0 here\n";
    struct xerr e = {0};
    CHECK(cfg_parse(nul_comment, sizeof nul_comment - 1, "f", &f, &e) == 0 && f->count == 1,
          "NUL in a comment: %s", e.message);
    cfg_free(f);
}

static void test_files(void)
{
    struct cfg_file *f = NULL;
    struct xerr e = {0};
    CHECK(cfg_parse_file("/nonexistent/xlua.cfg", &f, &e) == -1 && !strcmp(e.code, "ENOENT"),
          "code %s", e.code);
    CHECK(strstr(e.message, "/nonexistent/xlua.cfg") != NULL, "message %s", e.message);
    CHECK(cfg_parse_file("/", &f, &e) == -1 && !strcmp(e.code, "EISDIR"), "code %s", e.code);

    char path[] = "/tmp/xlua-cfg-test.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    const char text[] = "name = 'file'\nmemory = [\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1), "write");
    close(fd);
    CHECK(cfg_parse_file(path, &f, &e) == -1 && !strcmp(e.code, "SYNTAX"), "code %s", e.code);
    char want[128];
    snprintf(want, sizeof want, "%s:3:1: expected a value or ']'", path);
    CHECK(!strncmp(e.message, want, strlen(want)), "message %s", e.message);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "name = 'file'\n", 14) == 14, "write");
    close(fd);
    CHECK(cfg_parse_file(path, &f, &e) == 0 && f->count == 1, "parse_file: %s", e.message);
    cfg_free(f);

    /* a file of exactly the cap parses; one byte more is TOOBIG (a FIFO is never buffered
     * past it) */
    char *big = malloc(CFG_FILE_MAX + 1);
    CHECK(big != NULL, "malloc");
    if (big) {
        memset(big, '\n', CFG_FILE_MAX + 1);
        memcpy(big, "name = 'big'", 12);
        fd = open(path, O_WRONLY | O_TRUNC);
        CHECK(write(fd, big, CFG_FILE_MAX) == (ssize_t)CFG_FILE_MAX, "write");
        close(fd);
        f = NULL;
        CHECK(cfg_parse_file(path, &f, &e) == 0 && f && f->count == 1, "at the cap: %s",
              e.message);
        cfg_free(f);
        fd = open(path, O_WRONLY | O_TRUNC);
        CHECK(write(fd, big, CFG_FILE_MAX + 1) == (ssize_t)CFG_FILE_MAX + 1, "write");
        close(fd);
        f = NULL;
        e = (struct xerr){0};
        CHECK(cfg_parse_file(path, &f, &e) == -1 && f == NULL && e.code &&
              !strcmp(e.code, "TOOBIG"), "over the cap: code %s", e.code ? e.code : "-");
        CHECK(strstr(e.message, path) != NULL, "message %s", e.message);
        free(big);
    }
    unlink(path);
}

int main(void)
{
    test_errors();
    test_list_errors();
    test_string_errors();
    test_append_errors();
    test_depth();
    test_values();
    test_order_and_append();
    test_files();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
