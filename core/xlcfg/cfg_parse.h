/* core/xlcfg/cfg_parse.h: the xl.cfg(5) parser: text in, settings in order out, with the language
 * and the value semantics of libxlutil (xlu_cfg_readdata and its getters). */
#ifndef XLUA_CFG_PARSE_H
#define XLUA_CFG_PARSE_H

#include <stddef.h>

#include "base/error.h"

/* Lists nested deeper than this are a SYNTAX error (xl configs nest two levels at most). */
#define CFG_MAX_DEPTH 64
/* cfg_parse_file reads at most this much (a FIFO or /dev/zero never ends; xl configs are a
 * few KiB): anything longer is TOOBIG. */
#define CFG_FILE_MAX (1u << 20)

enum cfg_kind {
    CFG_STRING,   /* from a quoted string, escapes processed; or made by += */
    CFG_NUMBER,   /* a bare number token, kept as the text written ("0x1f", "512") */
    CFG_LIST,
};

struct cfg_value {
    enum cfg_kind kind;
    int line, column;            /* where the value starts (for a list: its '[') */
    char *text;                  /* CFG_STRING, CFG_NUMBER: never contains a NUL byte */
    size_t count;                /* CFG_LIST: number of items */
    struct cfg_value **items;    /* CFG_LIST: the items, in order */
};

struct cfg_setting {
    char *name;
    int line;                    /* line of the last statement that set the name */
    int appended;                /* that statement was `+=` (libxlutil then refuses the
                                    value as a number: xlu_cfg_get_long says EINVAL) */
    struct cfg_value *value;
};

struct cfg_file {
    size_t count;
    struct cfg_setting *settings;  /* one per name, ordered by the last statement setting it */
};

/* Parse len bytes of text; filename starts every error message. On success *out is a
 * new cfg_file (free it with cfg_free) and 0 is returned; on failure -1 with e filled:
 * SYNTAX ("FILE:LINE:COL: expected ..."), ENOMEM, TOOBIG. */
int cfg_parse(const char *text, size_t len, const char *filename, struct cfg_file **out,
              struct xerr *e);

/* Read and parse a file: as cfg_parse, plus ENOENT, EACCES, EISDIR, ... from xerr_errno. */
int cfg_parse_file(const char *path, struct cfg_file **out, struct xerr *e);

void cfg_free(struct cfg_file *f);

/* The setting of that name, or NULL. */
const struct cfg_setting *cfg_find(const struct cfg_file *f, const char *name);

#endif
