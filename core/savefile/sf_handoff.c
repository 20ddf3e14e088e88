/* core/savefile/sf_handoff.c: handing the stream part of a savefile to another reader (libxl
 * on a real restore, as xl hands it the file): the fd goes to it positioned at the stream, and a
 * thread checks the trailer against every byte of the file meanwhile, reading it with pread. Only
 * a regular, uncompressed file with a trailer qualifies: elsewhere the stream is walked record
 * by record (sf_reader_next), and what a damaged file holds never reaches the hypervisor
 * unchecked; here the domain it builds stays paused until the check says the file is whole. */
#include "sf_reader_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/xxh3_fast.h"

#define PIECE (1u << 20)

struct sf_handoff {
    pthread_t thread;
    uint64_t at;               /* the stream part's first byte */
    uint64_t length;           /* bytes before the trailer */
    unsigned char want[SF_HASH_LEN];
    int result;                /* 0 matches, else the errno of a failed read, or -1: differs */
};

static void *check_main(void *arg)
{
    struct sf_reader *r = arg;
    struct sf_handoff *h = r->handoff;
    XXH3_state_t *st = XXH3_createState();
    unsigned char *buf = malloc(PIECE);
    h->result = st && buf && XXH3_128bits_reset(st) == XXH_OK ? 0 : ENOMEM;
    for (uint64_t off = 0; h->result == 0 && off < h->length;) {
        size_t n = h->length - off < PIECE ? (size_t)(h->length - off) : PIECE;
        ssize_t k = pread(r->fd, buf, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            h->result = k < 0 ? errno : EIO;
            break;
        }
        xxh3_update(st, buf, (size_t)k);
        off += (uint64_t)k;
    }
    if (h->result == 0) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
        if (memcmp(c.digest, h->want, SF_HASH_LEN) != 0)
            h->result = -1;
    }
    free(buf);
    if (st)
        XXH3_freeState(st);
    return NULL;
}

int sf_reader_handoff(struct sf_reader *r, int *fd, struct xerr *err)
{
    if (r->handoff)
        return 0;
    const struct sf_stream_info *si;
    if (sf_reader_stream(r, &si, err) < 0)
        return -1;
    struct stat st;
    unsigned char t[SF_TRAILER_LEN];
    if (r->header.mandatory_flags & SF_FLAG_ZSTD || fstat(r->fd, &st) < 0 ||
        !S_ISREG(st.st_mode) || (uint64_t)st.st_size < r->stream_start + SF_TRAILER_LEN ||
        pread(r->fd, t, sizeof t, st.st_size - SF_TRAILER_LEN) != (ssize_t)sizeof t ||
        memcmp(t, SF_TRAILER_MAGIC, 8) != 0)
        return 0;
    uint64_t length;
    memcpy(&length, t + 8, 8);
    if (length != (uint64_t)st.st_size - SF_TRAILER_LEN)
        return 0;              /* a damaged trailer: the walk says what is wrong */
    struct sf_handoff *h = calloc(1, sizeof *h);
    if (!h)
        return 0;
    h->at = r->stream_start;
    h->length = length;
    memcpy(h->want, t + 16, SF_HASH_LEN);
    if (lseek(r->fd, (off_t)h->at, SEEK_SET) < 0) {
        free(h);
        return 0;
    }
    r->handoff = h;
    if (pthread_create(&h->thread, NULL, check_main, r) != 0) {
        r->handoff = NULL;
        free(h);
        lseek(r->fd, (off_t)sf_input_raw_offset(r->in), SEEK_SET);
        return 0;
    }
    /* The reader's own view of the file ends here: the other reader moves the offset. */
    xerr_set(&r->err, "EINVAL", "%s: the stream was handed to another reader", name_of(r));
    r->failed = 1;
    *fd = r->fd;
    return 1;
}

uint64_t sf_reader_handoff_progress(const struct sf_reader *r)
{
    off_t now = r->handoff ? lseek(r->fd, 0, SEEK_CUR) : -1;
    return now > 0 && (uint64_t)now > r->handoff->at ? (uint64_t)now - r->handoff->at : 0;
}

static int join(struct sf_reader *r)
{
    struct sf_handoff *h = r->handoff;
    if (!h)
        return 0;
    pthread_join(h->thread, NULL);
    int result = h->result;
    free(h);
    r->handoff = NULL;
    return result;
}

int sf_reader_handoff_check(struct sf_reader *r, struct xerr *err)
{
    int result = join(r);
    if (result == -1)
        return xerr_set(err, "BADTRAILER", "%s: the XXH3-128 hash in the trailer does not match "
                        "the file's bytes", name_of(r));
    if (result)
        return xerr_errno(err, result, "%s: cannot read it back to check its trailer",
                          name_of(r));
    return 0;
}

void sf_reader_handoff_free(struct sf_reader *r)
{
    join(r);
}
