/* core/base/error.h: the error record every core function fills when it fails.
 * The code is a stable string for scripts ("BADMAGIC"); the message is one sentence for people. */
#ifndef XLUA_ERROR_H
#define XLUA_ERROR_H

struct xerr {
    const char *code;      /* static string, NULL when no error */
    char message[512];
};

/* Fill e (if not NULL) and return -1, so callers can `return xerr_set(...)`. */
int xerr_set(struct xerr *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like xerr_set, with the code taken from errnum ("ENOENT", "EACCES", ... or "EIO")
 * and ": strerror(errnum)" appended to the message. */
int xerr_errno(struct xerr *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The stable code name for an errno value. */
const char *xerr_errno_code(int errnum);

#endif
