/* spec/fuzz/fuzz_savefile_zstd.c: libFuzzer target: the savefile reader inflating a zstd stream
 * part. An uncompressed input is compressed here first (see compress_stream_part), so the
 * fuzzer's changes to records reach the walk behind the decoder; a compressed one is read as it
 * is, so its changes reach the decoder's own checks. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "savefile_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    uint8_t *z = compress_stream_part(data, size, &n);
    int fd = z ? memfd_with(z, n) : memfd_with(data, size);
    walk_savefile(fd, 1);
    lseek(fd, 0, SEEK_SET);
    walk_savefile(fd, 0);
    close(fd);
    free(z);
    return 0;
}
