/* spec/fuzz/fuzz_savefile.c: libFuzzer target: the savefile reader on a regular file (so its
 * checks of lengths against the file's size apply), walked with record bodies and without:
 * both walks must end the same way. */
#include <stdint.h>
#include <unistd.h>

#include "savefile_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct walk_result with, without;
    int fd = memfd_with(data, size);
    walk_savefile(fd, 1, &with);
    lseek(fd, 0, SEEK_SET);
    walk_savefile(fd, 0, &without);
    close(fd);
    same_walk(&with, &without, 1, "with bodies, without");
    return 0;
}
