/* core/savefile/sf_reader_int.h: the reader's state, shared by sf_reader.c (header, optional data)
 * and sf_stream.c (record walk, trailer). Not for use outside core/sf_*.c. */
#ifndef XLUA_SF_READER_INT_H
#define XLUA_SF_READER_INT_H

#include "sf_input.h"
#include "sf_reader.h"

enum sf_state {
    SF_ST_NEW,          /* nothing read */
    SF_ST_HEADER,       /* xl header read */
    SF_ST_OPTDATA,      /* optional data read */
    SF_ST_LIBXL,        /* inside libxl records */
    SF_ST_LIBXC,        /* inside the libxc stream */
    SF_ST_END,          /* libxl END returned; the stream part is not yet closed */
    SF_ST_DONE          /* stream part closed: what follows is the trailer */
};

struct sf_reader {
    struct sf_input *in;
    int fd, close_fd;
    enum sf_state state;

    int failed;
    struct xerr err;            /* the sticky error */

    struct sf_header header;
    unsigned char *optbuf;
    struct sf_ext_entry *ext;
    struct sf_optdata opt;

    struct sf_stream_info info;
    int libxc_need_headers;
    int libxc_prefetched;       /* sf_reader_stream read the libxc headers ahead */
    int pending;                /* a record header was read ahead by sf_reader_stream */
    unsigned char pending_hdr[SF_REC_HEADER_LEN];
    uint64_t pending_offset;
    uint64_t stream_start;      /* file offset where the stream part starts */
    uint64_t raw_stream_end;

    unsigned char *body;
    size_t body_cap;

    struct sf_summary sum;
    enum sf_trailer_mode trailer_mode;
    int trailer_done;
    struct sf_trailer trailer;

    struct sf_handoff *handoff; /* sf_handoff.c: the stream went to another reader */
};

/* The name every message starts with. */
static inline const char *name_of(const struct sf_reader *r)
{
    return sf_reader_name(r);
}

/* Internal steps fill r->err themselves; this makes it sticky and returns -1. */
int sf_reader_failed(struct sf_reader *r);
/* Copy the sticky error to err (may be NULL) and return -1: the public functions' exit. */
int sf_reader_report(const struct sf_reader *r, struct xerr *err);
/* The internal steps, each reading what it needs first; 0 or -1 (sticky). */
int sf_reader_read_header(struct sf_reader *r);
int sf_reader_read_optdata(struct sf_reader *r);
/* sf_handoff.c: wait for the trailer check of a handed-off stream, if any, and forget it. */
void sf_reader_handoff_free(struct sf_reader *r);

#endif
