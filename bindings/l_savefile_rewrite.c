/* bindings/l_savefile_rewrite.c: savefile.rewrite, new optional data before an unchanged
 * stream (set-config):
 *
 * savefile.rewrite(path, header_options [, out = path]) -> total bytes | nil, msg, code: the
 *   savefile at path with new optional data (header_options as w:header's: config, json,
 *   extensions; the stream flags and the stream come from the file), written atomically to out
 *   (as savefile.create, with path's permission bits). The file is verified whole first (a
 *   damaged one is refused with the reader's code); its stream bytes are copied unchanged, a
 *   zstd frame included, and the new file gets a new trailer. Bytes that changed between the
 *   check and the copy are refused (CHANGED), so only the verified stream is ever copied. */
#include "lhelpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "l_savefile_int.h"
#include "savefile/sf_format.h"
#include "base/xxh3_fast.h"
#include "savefile/sf_reader.h"

/* ---- rewrite: new optional data before an unchanged stream ---- */

#define COPY_BUF (1u << 20)

/* What the check of the source found: where its stream lies and the hash of what precedes the
 * trailer. */
struct source_facts {
    uint32_t flags;
    uint64_t stream_start, stream_end;
    unsigned char digest[SF_HASH_LEN];
    mode_t mode;
};

static int check_source(int fd, const char *path, struct source_facts *sf, struct xerr *e)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return xerr_errno(e, errno, "%s: cannot stat", path);
    if (!S_ISREG(st.st_mode))
        return xerr_set(e, "ESPIPE", "%s: not a regular file", path);
    sf->mode = st.st_mode & 07777;
    int rfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (rfd < 0)
        return xerr_errno(e, errno, "%s: cannot duplicate the file descriptor", path);
    struct sf_reader *r = sf_reader_new(rfd, path, 1, e);
    if (!r) {
        close(rfd);
        return -1;
    }
    const struct sf_header *h;
    struct sf_trailer t;
    int rc = sf_reader_header(r, &h, e);
    if (rc == 0) {
        sf->flags = h->mandatory_flags;
        sf->stream_start = SF_HEADER_LEN + (uint64_t)h->optional_data_len;
        rc = sf_reader_verify(r, e);
    }
    if (rc == 0)
        rc = sf_reader_trailer(r, &t, e);
    sf_reader_free(r);
    if (rc < 0)
        return -1;
    sf->stream_end = t.computed_length;
    memcpy(sf->digest, t.computed, SF_HASH_LEN);
    return 0;
}

/* Read exactly n bytes at off; a short file is CHANGED (it was checked to be longer). */
static int pread_all(int fd, void *buf, size_t n, uint64_t off, const char *path, struct xerr *e)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return xerr_errno(e, errno, "%s: read failed at byte %llu", path,
                              (unsigned long long)(off + done));
        if (k == 0)
            return xerr_set(e, "CHANGED", "%s: the file got shorter while it was copied", path);
        done += (size_t)k;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t n, const char *path, struct xerr *e)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, (const char *)buf + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return xerr_errno(e, errno, "%s: write failed", path);
        done += (size_t)k;
    }
    return 0;
}

/* The state of one rewrite, in a userdata whose __gc frees it: a Lua error cannot leak. */
#define REWRITE "xlua.savefile.rewrite"
struct rewrite {
    int src;
    unsigned char *buf;
    XXH3_state_t *out_hash, *src_hash;
};

static int rewrite_gc(lua_State *L)
{
    struct rewrite *rw = luaL_checkudata(L, 1, REWRITE);
    if (rw->src >= 0)
        close(rw->src);
    rw->src = -1;
    free(rw->buf);
    rw->buf = NULL;
    XXH3_freeState(rw->out_hash);
    XXH3_freeState(rw->src_hash);
    rw->out_hash = rw->src_hash = NULL;
    return 0;
}

/* The new file's bytes after its header: the stream of the source, hashed twice: into the new
 * trailer's hash, and into the source's, which must come out as the one verified. */
static int copy_stream(struct rewrite *rw, int out, const struct source_facts *sf,
                       const char *path, const char *out_path, struct xerr *e)
{
    XXH3_128bits_reset(rw->src_hash);
    for (uint64_t off = 0; off < sf->stream_end;) {
        uint64_t left = sf->stream_end - off;
        size_t n = left < COPY_BUF ? (size_t)left : COPY_BUF;
        if (pread_all(rw->src, rw->buf, n, off, path, e) < 0)
            return -1;
        xxh3_update(rw->src_hash, rw->buf, n);
        /* the stream part of this chunk, if any, goes to the new file */
        if (off + n > sf->stream_start) {
            uint64_t skip = sf->stream_start > off ? sf->stream_start - off : 0;
            xxh3_update(rw->out_hash, rw->buf + skip, n - (size_t)skip);
            if (write_all(out, rw->buf + skip, n - (size_t)skip, out_path, e) < 0)
                return -1;
        }
        off += n;
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(rw->src_hash));
    if (memcmp(c.digest, sf->digest, SF_HASH_LEN) != 0)
        return xerr_set(e, "CHANGED", "%s: the file changed while it was copied", path);
    return 0;
}

int lx_savefile_rewrite(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *out_path = luaL_optstring(L, 3, path);
    lua_settop(L, 3);
    if (lua_isnil(L, 3)) {
        lua_pushvalue(L, 1);
        lua_replace(L, 3);
    }
    struct rewrite *rw = lua_newuserdatauv(L, sizeof *rw, 0);             /* 4 */
    rw->src = -1;
    rw->buf = NULL;
    rw->out_hash = rw->src_hash = NULL;
    if (luaL_newmetatable(L, REWRITE)) {
        lua_pushcfunction(L, rewrite_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, 4);
    struct xerr e = { 0 };
    struct source_facts sf = { 0 };
    rw->src = open(path, O_RDONLY | O_CLOEXEC);
    if (rw->src < 0) {
        xerr_errno(&e, errno, "%s: cannot open", path);
        return lx_fail(L, &e);
    }
    if (check_source(rw->src, path, &sf, &e) < 0)
        return lx_fail(L, &e);
    rw->buf = malloc(COPY_BUF);
    rw->out_hash = XXH3_createState();
    rw->src_hash = XXH3_createState();
    if (!rw->buf || !rw->out_hash || !rw->src_hash)
        return luaL_error(L, "not enough memory");

    /* The header and the new optional data, written by a writer as w:header writes them (the
     * stream flags the source's, uncompressed: the stream bytes are copied as they are). */
    lua_pushcfunction(L, l_create);                                        /* 5: writer */
    lua_pushvalue(L, 3);
    lua_pushinteger(L, (lua_Integer)sf.mode);
    lua_call(L, 2, 3);
    lua_settop(L, 7);
    if (lua_isnil(L, 5))
        return 3;                                                           /* nil, msg, code */
    lua_settop(L, 5);
    struct lwriter *lw = lua_touserdata(L, 5);
    lua_createtable(L, 0, 5);                                               /* 6: options */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 6);
    }
    lx_setbool(L, "zstd", 0);
    lx_setbool(L, "streamv2", (sf.flags & SF_FLAG_STREAMV2) != 0);
    lua_pushcfunction(L, l_w_header);
    lua_pushvalue(L, 5);
    lua_pushvalue(L, 6);
    lua_call(L, 2, 3);
    if (lua_isnil(L, -3)) {
        lua_pushcfunction(L, l_writer_close);   /* removes the temporary file */
        lua_pushvalue(L, 5);
        lua_call(L, 1, 0);
        return 3;                                                           /* nil, msg, code */
    }
    lua_settop(L, 5);
    uint64_t prefix = 0;
    int rc = sf_writer_finish(lw->w, 0, &prefix, &e);

    /* Read back what the writer wrote, set the source's ZSTD flag, hash it all. */
    int out = lw->af.fd;
    unsigned char *head = rc == 0 ? malloc((size_t)prefix) : NULL;
    if (rc == 0 && !head)
        rc = xerr_errno(&e, ENOMEM, "%s: cannot allocate the header", out_path);
    if (rc == 0)
        rc = pread_all(out, head, (size_t)prefix, 0, out_path, &e);
    if (rc == 0 && (sf.flags & SF_FLAG_ZSTD)) {
        uint32_t flags;
        memcpy(&flags, head + 36, 4);
        flags |= SF_FLAG_ZSTD;
        memcpy(head + 36, &flags, 4);
        if (pwrite(out, head + 36, 4, 36) != 4)
            rc = xerr_errno(&e, errno, "%s: write failed", out_path);
    }
    if (rc == 0) {
        XXH3_128bits_reset(rw->out_hash);
        xxh3_update(rw->out_hash, head, (size_t)prefix);
    }
    free(head);
    if (rc == 0 && lseek(out, (off_t)prefix, SEEK_SET) < 0)
        rc = xerr_errno(&e, errno, "%s: cannot seek", out_path);
    if (rc == 0)
        rc = copy_stream(rw, out, &sf, path, out_path, &e);
    uint64_t total = prefix + (sf.stream_end - sf.stream_start);
    if (rc == 0) {
        unsigned char t[SF_TRAILER_LEN];
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(rw->out_hash));
        memcpy(t, SF_TRAILER_MAGIC, 8);
        memcpy(t + 8, &total, 8);
        memcpy(t + 16, c.digest, SF_HASH_LEN);
        rc = write_all(out, t, sizeof t, out_path, &e);
        total += SF_TRAILER_LEN;
    }
    if (rc == 0) {
        lw->atomic = 0;
        rc = atomic_file_commit(&lw->af, &e);
    }
    if (rc < 0) {
        lua_pushcfunction(L, l_writer_close);   /* removes the temporary file */
        lua_pushvalue(L, 5);
        lua_call(L, 1, 0);
        return lx_fail(L, &e);
    }
    lw->finished = 1;
    lua_pushinteger(L, (lua_Integer)total);
    return 1;
}

