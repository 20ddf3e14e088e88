/* spec/fuzz/fuzz_savefile.c: libFuzzer target: the savefile reader on a regular file (so its
 * checks of lengths against the file's size apply), walked with and without record bodies. */
#include <stdint.h>
#include <unistd.h>

#include "savefile_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_with(data, size);
    walk_savefile(fd, 1);
    lseek(fd, 0, SEEK_SET);
    walk_savefile(fd, 0);
    close(fd);
    return 0;
}
