/* core/base/error.c: filling the error record; the mapping from errno values to stable codes.
 * Nothing here prints: the caller decides what a person sees. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int xerr_set(struct xerr *e, const char *code, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

const char *xerr_errno_code(int errnum)
{
    switch (errnum) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOMEM: return "ENOMEM";
    case EPIPE: return "EPIPE";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case EINTR: return "EINTR";
    case EFBIG: return "EFBIG";
    case EDQUOT: return "EDQUOT";
    default: return "EIO";
    }
}

int xerr_errno(struct xerr *e, int errnum, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof e->message)
        snprintf(e->message + n, sizeof e->message - (size_t)n, ": %s", strerror(errnum));
    e->code = xerr_errno_code(errnum);
    return -1;
}
