/* spec/fuzz/savefile_walk.h: what the savefile fuzz targets share: reading a savefile through every
 * step of the reader's API as inspect and verify do, and the inputs' shapes (memory file, zstd). */
#ifndef XLUA_FUZZ_SAVEFILE_WALK_H
#define XLUA_FUZZ_SAVEFILE_WALK_H

#include <stddef.h>
#include <stdint.h>

/* What a walk saw, to compare two readings of the same savefile. */
struct walk_result {
    const char *sticky;         /* the code of the reader's sticky error, or NULL */
    const char *verdict;        /* the code verify ended with (the sticky one, or BADTRAILER
                                   for a trailer that does not match), NULL when it passed */
    int walked;                 /* the records were walked with their bodies: */
    uint64_t records;           /* how many before the error or the end */
    uint64_t digest;            /* XXH64 of those records: places, sizes and bodies */
    int summary_done, trailer_done, trailer_found, trailer_matches;
    struct {
        uint64_t record_count, pages, data_pages, stream_bytes;
    } summary;                  /* when summary_done */
};

/* Read the savefile on fd to its end through the public API, touching every byte the reader
 * hands out, and abort() when the reader breaks a promise of sf_reader.h: an error code outside
 * the documented set, a message not starting with the file's name, an error that is not
 * sticky, records out of order, a verify that disagrees with the trailer.
 * bodies: walk record by record asking for bodies, else let summary() walk without them.
 * out (may be NULL): what the walk saw. */
void walk_savefile(int fd, int bodies, struct walk_result *out);

/* abort() unless a and b saw the same: the same sticky error (by code) and, when both walked
 * them, the same records; whole: also the same verdict, summary and trailer. what names the
 * two readings. */
void same_walk(const struct walk_result *a, const struct walk_result *b, int whole,
               const char *what);

/* A regular file (memfd) holding data, at offset 0: the reader's "is a file" checks apply. */
int memfd_with(const uint8_t *data, size_t size);

/* The same savefile with its stream part compressed as `xlua save -z` writes it: the ZSTD flag
 * set in the header, the bytes after the optional data (up to an "XLUA-END" trailer, if the
 * input ends in one: *had_trailer) as one zstd frame, and the trailer recomputed over the new
 * bytes. Returns a malloc'd copy (*out_size bytes), or NULL when data has no room for the
 * optional data its header claims or is compressed already. */
uint8_t *compress_stream_part(const uint8_t *data, size_t size, size_t *out_size,
                              int *had_trailer);

#endif
