/* core/savefile/atomic_file.h: writing a file so that the target path only ever holds the old file
 * or the whole new one: a temporary file in the same directory, fsync, rename, fsync the
 * directory. */
#ifndef XLUA_ATOMIC_FILE_H
#define XLUA_ATOMIC_FILE_H

#include <sys/types.h>

#include "base/error.h"

struct atomic_file {
    int fd;           /* the temporary file, -1 once committed or aborted */
    char *path;       /* the target */
    char *tmp;        /* <dir>/.<name>.xlua-tmp.<pid>.<unique> */
};

/* Create the temporary file (mode, e.g. 0600) beside path. Temporary files of earlier saves to
 * the same path whose process is gone (a killed save) are removed first. */
int atomic_file_create(struct atomic_file *f, const char *path, mode_t mode, struct xerr *err);

/* fsync the data, rename over the target, fsync the directory. On failure the temporary file
 * is removed and the target is untouched. */
int atomic_file_commit(struct atomic_file *f, struct xerr *err);

/* Close and remove the temporary file; safe to call twice and after commit. */
void atomic_file_abort(struct atomic_file *f);

#endif
