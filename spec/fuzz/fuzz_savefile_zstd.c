/* spec/fuzz/fuzz_savefile_zstd.c: libFuzzer target: the savefile reader inflating a zstd stream
 * part. An uncompressed input is compressed here first (see compress_stream_part), so the
 * fuzzer's changes to records reach the walk behind the decoder, and both readings must see
 * the same records and the same error; a compressed one is read as it is, so its changes reach
 * the decoder's own checks. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "savefile_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    int had_trailer;
    uint8_t *z = compress_stream_part(data, size, &n, &had_trailer);
    struct walk_result plain, inflated;
    int fd;
    if (z) {
        fd = memfd_with(data, size);
        walk_savefile(fd, 1, &plain);
        close(fd);
    }
    fd = z ? memfd_with(z, n) : memfd_with(data, size);
    walk_savefile(fd, 1, &inflated);
    lseek(fd, 0, SEEK_SET);
    walk_savefile(fd, 0, NULL);
    close(fd);
    /* The frame holds exactly the plain stream part unless the trailer taken out was not
     * where the plain reading found its trailer (a record read into it, say): then the
     * compressed stream ends early instead. */
    if (z && (!had_trailer || (plain.trailer_done && plain.trailer_found)))
        same_walk(&plain, &inflated, 0, "plain, compressed");
    free(z);
    return 0;
}
