/* spec/fuzz/savefile_walk.h: what the savefile fuzz targets share: reading a savefile through every
 * step of the reader's API as inspect and verify do, and the inputs' shapes (memory file, zstd). */
#ifndef XLUA_FUZZ_SAVEFILE_WALK_H
#define XLUA_FUZZ_SAVEFILE_WALK_H

#include <stddef.h>
#include <stdint.h>

/* Read the savefile on fd to its end through the public API, touching every byte the reader
 * hands out, and abort() when the reader breaks a promise of sf_reader.h: an error code outside
 * the documented set, a message not starting with the file's name, an error that is not
 * sticky, records out of order, a verify that disagrees with the trailer.
 * bodies: walk record by record asking for bodies, else let summary() walk without them. */
void walk_savefile(int fd, int bodies);

/* A regular file (memfd) holding data, at offset 0: the reader's "is a file" checks apply. */
int memfd_with(const uint8_t *data, size_t size);

/* The same savefile with its stream part compressed as `xlua save -z` writes it: the ZSTD flag
 * set in the header, the bytes after the optional data (up to an "XLUA-END" trailer, if the
 * input ends in one) as one zstd frame, and the trailer recomputed over the new bytes.
 * Returns a malloc'd copy (*out_size bytes), or NULL when data has no room for the optional
 * data its header claims or is compressed already. */
uint8_t *compress_stream_part(const uint8_t *data, size_t size, size_t *out_size);

#endif
