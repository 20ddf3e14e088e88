/* core/savefile/atomic_file.c: temp-file-and-rename writing, and the cleanup of temporary files
 * left by a killed writer. Nothing here prints. */
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_TAG ".xlua-tmp."
/* The temporary file is ".<stem>.xlua-tmp.<pid>.XXXXXX": the stem is the target's base name,
 * cut so that the whole stays within NAME_MAX (a pid has at most 10 digits). */
#define STEM_MAX (NAME_MAX - 1 - (sizeof TMP_TAG - 1) - 10 - 7)

static size_t stem_len(const char *base)
{
    size_t n = strlen(base);
    return n < STEM_MAX ? n : STEM_MAX;
}

/* Split path into a directory ("." when none) and a base name; both malloc'ed. */
static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    if (slash) {
        *dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        *base = strdup(slash + 1);
    } else {
        *dir = strdup(".");
        *base = strdup(path);
    }
    if (!*dir || !*base) {
        free(*dir);
        free(*base);
        return -1;
    }
    return 0;
}

/* Remove <dir>/.<stem>.xlua-tmp.<pid>[.<unique>] files whose writer process no longer exists. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t base_len = stem_len(base);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, base_len) != 0 ||
            strncmp(n + 1 + base_len, TMP_TAG, strlen(TMP_TAG)) != 0)
            continue;
        const char *digits = n + 1 + base_len + strlen(TMP_TAG);
        char *end;
        long pid = strtol(digits, &end, 10);
        if (end == digits || (*end != '\0' && *end != '.') || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
            continue; /* a live writer: leave its file alone */
        unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

int atomic_file_create(struct atomic_file *f, const char *path, mode_t mode, struct xerr *err)
{
    f->fd = -1;
    f->path = f->tmp = NULL;
    char *dir, *base;
    if (path[0] == '\0')
        return xerr_set(err, "EINVAL", "an empty path is not a file name");
    if (split_path(path, &dir, &base) < 0)
        return xerr_set(err, "ENOMEM", "out of memory");
    if (base[0] == '\0') {
        free(dir);
        free(base);
        return xerr_set(err, "EISDIR", "%s: is a directory name, not a file name", path);
    }
    remove_stale(dir, base);
    /* Unique per writer: two saves to one path in one process must not share a file. */
    int n = asprintf(&f->tmp, "%s/.%.*s" TMP_TAG "%ld.XXXXXX", dir, (int)stem_len(base), base,
                     (long)getpid());
    free(dir);
    free(base);
    f->path = strdup(path);
    if (n < 0 || !f->path) {
        if (n < 0)
            f->tmp = NULL;
        atomic_file_abort(f);
        return xerr_set(err, "ENOMEM", "out of memory");
    }
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd >= 0 && fchmod(f->fd, mode) < 0) {
        int e = errno;
        close(f->fd);
        unlink(f->tmp);
        f->fd = -1;
        errno = e;
    }
    if (f->fd < 0) {
        int e = errno;
        xerr_errno(err, e, "%s: cannot create a temporary file beside it", path);
        free(f->tmp);
        free(f->path);
        f->tmp = f->path = NULL;
        return -1;
    }
    return 0;
}

int atomic_file_commit(struct atomic_file *f, struct xerr *err)
{
    if (f->fd < 0)
        return xerr_set(err, "EINVAL", "%s: the file was already committed or abandoned",
                        f->path ? f->path : "?");
    if (fsync(f->fd) < 0) {
        xerr_errno(err, errno, "%s: cannot write the data to disk", f->path);
        atomic_file_abort(f);
        return -1;
    }
    if (close(f->fd) < 0) {
        f->fd = -1;
        xerr_errno(err, errno, "%s: cannot close the temporary file", f->path);
        atomic_file_abort(f);
        return -1;
    }
    f->fd = -1;
    if (rename(f->tmp, f->path) < 0) {
        xerr_errno(err, errno, "%s: cannot rename the temporary file over it", f->path);
        atomic_file_abort(f);
        return -1;
    }
    /* The rename itself must reach the disk too. */
    char *dir, *base;
    if (split_path(f->path, &dir, &base) == 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
        free(base);
    }
    free(f->tmp);
    f->tmp = NULL;
    atomic_file_abort(f);
    return 0;
}

void atomic_file_abort(struct atomic_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->tmp) {
        unlink(f->tmp);
        free(f->tmp);
        f->tmp = NULL;
    }
    free(f->path);
    f->path = NULL;
}
