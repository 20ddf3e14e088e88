/* core/base/libdir.c: the path of a C module loaded on first use (libdir.h). */
#include "libdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef XLUA_LIB_REL
#error "XLUA_LIB_REL (the module directory relative to the prefix) comes from core/CMakeLists.txt"
#endif

int libdir_path(const char *file, char *out, size_t n)
{
    const char *dir = getenv("XLUA_LIB_DIR");
    int len;
    if (dir && dir[0]) {
        len = snprintf(out, n, "%s/%s", dir, file);
    } else {
        char exe[4096];
        ssize_t got = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (got <= 0)
            return -1;
        exe[got] = '\0';
        for (int up = 0; up < 2; up++) { /* <prefix>/bin/xlua -> <prefix> */
            char *slash = strrchr(exe, '/');
            if (!slash)
                return -1;
            *slash = '\0';
        }
        len = snprintf(out, n, "%s/%s/%s", exe, XLUA_LIB_REL, file);
    }
    return len < 0 || (size_t)len >= n ? -1 : 0;
}
