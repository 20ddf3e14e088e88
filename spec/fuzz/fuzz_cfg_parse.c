/* spec/fuzz/fuzz_cfg_parse.c: libFuzzer target: the xl.cfg parser on any bytes (not
 * NUL-terminated: the parser must stay inside len), with the promises of cfg_parse.h checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/cfg_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.cfg"

static volatile size_t sink;

__attribute__((noreturn))
static void broken(const char *what, const char *detail)
{
    fprintf(stderr, "xl.cfg parser broke a promise: %s: %s\n", what, detail);
    abort();
}

static size_t walk_value(const struct cfg_value *v, int depth)
{
    if (depth > CFG_MAX_DEPTH)
        broken("a list nested deeper than CFG_MAX_DEPTH", "");
    if (v->line < 1 || v->column < 1)
        broken("a value without its place", "");
    if (v->kind == CFG_LIST) {
        size_t n = 0;
        for (size_t i = 0; i < v->count; i++)
            n += walk_value(v->items[i], depth + 1);
        return n;
    }
    if (v->kind != CFG_STRING && v->kind != CFG_NUMBER)
        broken("a value of no kind", "");
    if (!v->text || (v->kind == CFG_NUMBER && !v->text[0]))
        broken("a value without its text", "");
    return strlen(v->text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_file *f = NULL;
    struct xerr e = {0};
    if (cfg_parse((const char *)data, size, NAME, &f, &e) < 0) {
        if (!e.code || strcmp(e.code, "SYNTAX") != 0)
            broken("an error other than SYNTAX", e.code ? e.code : "(none)");
        if (strncmp(e.message, NAME ":", strlen(NAME ":")) != 0)
            broken("a message not starting with the file name", e.message);
        if (f)
            broken("a cfg_file left after an error", e.message);
        return 0;
    }
    size_t chars = 0;
    for (size_t i = 0; i < f->count; i++) {
        const struct cfg_setting *s = &f->settings[i];
        if (!s->name || !s->name[0] || !s->value || s->line < 1)
            broken("a setting without its name, value or line", s->name ? s->name : "");
        if (cfg_find(f, s->name) != s)
            broken("cfg_find does not find the setting", s->name);
        chars += walk_value(s->value, 0);
    }
    sink += chars;
    cfg_free(f);
    return 0;
}
