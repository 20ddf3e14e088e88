/* core/domain/sim/dom_sim_stream.c: saving a sim domain as a libxl migration stream v2 (the
 * records real libxc writes, PAGE_DATA carrying every page) and restoring one from such a stream.
 * Save maps the image a batch of 1024 pages at a time and hands the pages to the writer, which
 * has the kernel copy them file to file; restore writes each run of non-zero pages with one
 * pwrite and digests the image as the pages come. Memory use is one batch either way. */
#include "dom_sim_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/xxh3_fast.h"
#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#define BATCH 1024u          /* pfns per PAGE_DATA record, as libxc sends them */
#define PIECE 64u            /* pages read and written at a time: 256 KiB, cache-sized */
/* From this size on, the savefile is hashed by a thread reading it back behind the copy
 * (sf_writer_hash_behind), which also starts its writeback every 32 MiB; below it, from a
 * mapping of each batch of the image, in line: for a few MiB the thread's start, its reads and
 * its polling (every 2 ms) cost more than hashing the mapped pages. */
#define HASH_BEHIND_MIN (32ull << 20)
#define XEN_MAJOR 4u
#define XEN_MINOR 17u

static int cancelled(const struct dom_progress *p, uint64_t done, uint64_t total,
                     struct xerr *err)
{
    if (p->fn && p->fn(p->ctx, done, total))
        return xerr_set(err, "CANCELLED", "cancelled by the progress callback");
    return 0;
}

static int read_at(int fd, void *dst, size_t n, uint64_t off)
{
    char *b = dst;
    while (n > 0) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {          /* past the end of the image: zero pages */
            memset(b, 0, n);
            return 0;
        }
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* ---- save ---- */

/* Each PAGE_DATA record: its header and pfn list, then the pages read from the image in
 * pieces that stay in the CPU cache, each handed to the writer (which hashes it and writes it
 * without another copy). */
static int write_pages(struct sf_writer *w, const struct dom_info *i, int fd,
                       const struct dom_progress *p, struct xerr *err)
{
    int big = sf_host_big_endian();
    uint64_t pages = i->memory_kb / 4, pfns = i->max_memory_kb / 4, total = pages * SIM_PAGE;
    size_t head_cap = SF_PAGE_DATA_HEADER_LEN + (size_t)BATCH * 8;
    unsigned char *head = malloc(head_cap), *piece = malloc((size_t)PIECE * SIM_PAGE);
    int rc = 0;
    if (!head || !piece)
        rc = xerr_errno(err, ENOMEM, "cannot allocate a page batch");
    /* Mapped only when the image holds every page (a short one reads as zeros past its end;
     * a mapping would fault there). */
    struct stat st;
    int mappable = fstat(fd, &st) == 0 && (uint64_t)st.st_size >= total;
    int behind = total >= HASH_BEHIND_MIN && sf_writer_hash_behind(w);
    for (uint64_t start = 0; start < pfns && rc == 0; start += BATCH) {
        uint32_t count = (uint32_t)(pfns - start < BATCH ? pfns - start : BATCH);
        uint32_t with_data = 0;
        sf_put32(head, count, big);
        sf_put32(head + 4, 0, big);
        for (uint32_t k = 0; k < count; k++) {
            uint64_t pfn = start + k, type = pfn < pages ? 0 : SF_PAGE_XTAB;
            sf_put64(head + SF_PAGE_DATA_HEADER_LEN + 8 * k, pfn | type << SF_PFN_TYPE_SHIFT,
                     big);
            with_data += pfn < pages;
        }
        size_t head_len = SF_PAGE_DATA_HEADER_LEN + (size_t)count * 8;
        if (sf_writer_record_begin(w, SF_LIBXC_PAGE_DATA,
                                   head_len + (uint64_t)with_data * SIM_PAGE, err) < 0 ||
            sf_writer_record_body(w, head, head_len, err) < 0) {
            rc = -1;
            break;
        }
        /* The pages copied file to file by the kernel (sf_writer_record_body_copy): hashed by
         * the writer's thread behind it, or else from a mapping of the batch; read into a
         * piece where no copy can be made. */
        size_t map_len = (size_t)with_data * SIM_PAGE;
        unsigned char *map = !behind && mappable && with_data
            ? mmap(NULL, map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd,
                   (off_t)(start * SIM_PAGE))
            : MAP_FAILED;
        for (uint32_t k = 0; k < with_data && rc == 0; k += PIECE) {
            size_t n = (size_t)(with_data - k < PIECE ? with_data - k : PIECE) * SIM_PAGE;
            uint64_t at = (start + k) * SIM_PAGE;
            int copied = 1;
            if (behind && mappable)
                copied = sf_writer_record_body_copy(w, NULL, n, fd, at, err);
            if (copied <= 0)
                rc = copied;
            else if (map != MAP_FAILED)
                rc = sf_writer_record_body_copy(w, map + (size_t)k * SIM_PAGE, n, fd, at, err);
            else if (read_at(fd, piece, n, at) < 0)
                rc = xerr_errno(err, errno, "cannot read the memory image of domain %u",
                                i->domid);
            else
                rc = sf_writer_record_body(w, piece, n, err);
        }
        if (map != MAP_FAILED)
            munmap(map, map_len);
        if (rc == 0 && with_data) {
            uint64_t done = start + with_data >= pages ? total : (start + with_data) * SIM_PAGE;
            rc = cancelled(p, done, total, err);
        }
    }
    free(head);
    free(piece);
    return rc;
}

static int write_stream(struct sf_writer *w, const struct dom_info *i, int fd,
                        const struct dom_progress *p, struct xerr *err)
{
    int big = sf_host_big_endian(), pv = i->type == DOM_PV;
    unsigned char b[64];
    if (sf_writer_libxl_header(w, err) < 0 ||
        sf_writer_record(w, SF_LIBXL_LIBXC_CONTEXT, NULL, 0, err) < 0 ||
        sf_writer_libxc_headers(w, 3, pv ? SF_DOMAIN_X86_PV : SF_DOMAIN_X86_HVM, 12,
                                XEN_MAJOR, XEN_MINOR, err) < 0 ||
        sf_writer_record(w, SF_LIBXC_STATIC_DATA_END, NULL, 0, err) < 0)
        return -1;
    if (pv) {
        /* guest_width 8 (64-bit), pt_levels 4, reserved */
        memset(b, 0, 8);
        b[0] = 8;
        b[1] = 4;
        if (sf_writer_record(w, SF_LIBXC_X86_PV_INFO, b, 8, err) < 0)
            return -1;
    }
    if (write_pages(w, i, fd, p, err) < 0)
        return -1;
    /* X86_TSC_INFO: mode 0 (default), 1 GHz, no elapsed time, incarnation 0. */
    memset(b, 0, 24);
    sf_put32(b + 4, 1000000, big);
    if (sf_writer_record(w, SF_LIBXC_X86_TSC_INFO, b, 24, err) < 0)
        return -1;
    if (pv) {
        static const unsigned char shared_info[SIM_PAGE];
        if (sf_writer_record(w, SF_LIBXC_SHARED_INFO, shared_info, sizeof shared_info,
                             err) < 0)
            return -1;
    } else {
        /* A minimal HVM context: the save header descriptor, then the end descriptor;
         * HVM_PARAMS with no entries. */
        memset(b, 0, 48);
        sf_put16(b, 1, big);            /* HVM_SAVE_CODE(HEADER) */
        sf_put32(b + 4, 24, big);
        sf_put32(b + 8, 0x54381286, big);
        sf_put32(b + 12, 1, big);
        if (sf_writer_record(w, SF_LIBXC_HVM_CONTEXT, b, 8 + 24 + 8, err) < 0)
            return -1;
        memset(b, 0, 8);
        if (sf_writer_record(w, SF_LIBXC_HVM_PARAMS, b, 8, err) < 0)
            return -1;
    }
    if (sf_writer_record(w, SF_LIBXC_END, NULL, 0, err) < 0 ||
        sf_writer_record(w, SF_LIBXL_END, NULL, 0, err) < 0)
        return -1;
    return 0;
}

/* Put back the pause the save took (the domain may be gone meanwhile). */
static void undo_pause(struct sim *s, uint32_t domid)
{
    struct sim_dom d;
    if (sim_lock(s, NULL) < 0)
        return;
    if (sim_get(s, domid, "", &d, NULL) == 0 && d.info.state == DOM_PAUSED && d.pauses > 0) {
        if (--d.pauses == 0)
            d.info.state = DOM_RUNNING;
        sim_write_meta(s, &d, NULL);
    }
    sim_unlock(s);
}

int sim_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
             const struct dom_progress *p, struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    struct sim_dom d;
    char path[PATH_MAX];
    (void)live;     /* the sim's memory never changes while it runs: live and not are one */
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_get(s, domid, "cannot save", &d, err);
    if (rc == 0 && d.info.state != DOM_RUNNING && d.info.state != DOM_PAUSED)
        rc = xerr_set(err, "BADSTATE", "domain %u (%s) is %s: only a running or paused "
                      "domain can be saved", domid, d.info.name, dom_state_name(d.info.state));
    int fd = -1;
    if (rc == 0) {
        sim_dom_path(s, domid, "memory", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            rc = xerr_errno(err, errno, "%s: cannot open the memory image", path);
    }
    if (rc == 0) {
        d.pauses++;
        d.info.state = DOM_PAUSED;
        rc = sim_write_meta(s, &d, err);
    }
    sim_unlock(s);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rc = write_stream(w, &d.info, fd, p, err);
    close(fd);
    if (rc < 0)
        undo_pause(s, domid);
    return rc;
}

/* ---- restore ---- */

struct restoring {
    const struct dom_info *info;
    int fd;
    uint64_t data_pages;
    unsigned char *written;      /* a bit per pfn given data so far: the image starts all holes */
    XXH3_state_t *digest;        /* the image's digest, while the pages come in pfn order */
    uint64_t digested;           /* pfns hashed so far (the pages below it) */
    int in_order;
    int type_checked;            /* the libxc headers last read were checked */
    const struct sf_stream_info *si;
    const char *name;            /* the reader's, to start every message */
    const char *dz;              /* " (decompressed)" when offsets count decompressed bytes */
};

/* Every LIBXC_CONTEXT brings its own libxc headers: check them at its first libxc record. */
static int check_stream_type(struct restoring *x, const struct sf_record *rec,
                             struct xerr *err)
{
    const struct sf_stream_info *si = x->si;
    unsigned long long at = (unsigned long long)rec->offset;
    if (x->type_checked)
        return 0;
    if (!si->have_libxc)
        return xerr_set(err, "BADSTREAM", "%s: the libxc record at byte %llu%s comes without "
                        "libxc headers", x->name, at, x->dz);
    if (si->page_shift != 12)
        return xerr_set(err, "BADSTREAM", "%s: the libxc stream before byte %llu%s has pages "
                        "of 2^%u bytes; the sim takes 4 KiB pages", x->name, at, x->dz,
                        si->page_shift);
    int pv = x->info->type == DOM_PV;
    if (si->domain_type != (pv ? SF_DOMAIN_X86_PV : SF_DOMAIN_X86_HVM))
        return xerr_set(err, "BADSTREAM", "%s: the libxc stream before byte %llu%s holds an "
                        "%s domain, but the config says %s", x->name, at, x->dz,
                        sf_domain_type_name(si->domain_type), dom_type_name(x->info->type));
    x->type_checked = 1;
    return 0;
}

static int is_zero(const unsigned char *p)
{
    static const unsigned char zero[SIM_PAGE];
    return memcmp(p, zero, SIM_PAGE) == 0;
}

/* The digest of the image (sim_digest's) taken as the pages arrive: pages not sent are holes,
 * zeros. A pfn sent twice, or out of order, leaves it to sim_digest to read the image after. */
static void digest_page(struct restoring *x, uint64_t pfn, const unsigned char *data)
{
    static const unsigned char zero[SIM_PAGE];
    if (!x->in_order)
        return;
    if (pfn < x->digested) {
        x->in_order = 0;
        return;
    }
    for (; x->digested < pfn; x->digested++)
        xxh3_update(x->digest, zero, SIM_PAGE);
    xxh3_update(x->digest, data, SIM_PAGE);
    x->digested++;
}

static int write_run(struct restoring *x, const unsigned char *data, uint64_t pfn, uint64_t n,
                     struct xerr *err)
{
    if (n && sim_write_at(x->fd, data, (size_t)(n * SIM_PAGE), pfn * SIM_PAGE) < 0)
        return xerr_errno(err, errno, "cannot write the memory image of domain %u",
                          x->info->domid);
    return 0;
}

/* One pwrite per run of non-zero pages at consecutive pfns; a zero page stays the hole it is,
 * unless this restore wrote data there before (then it becomes a hole again). */
static int put_pages(struct restoring *x, const struct sf_record *rec, struct xerr *err)
{
    int big = x->si->libxc_big_endian;
    uint64_t pages = x->info->memory_kb / 4;
    const unsigned char *e = rec->body + SF_PAGE_DATA_HEADER_LEN;
    uint32_t count = sf_get32(rec->body, big);
    const unsigned char *data = e + (size_t)count * 8, *run = NULL;
    uint64_t run_pfn = 0, run_len = 0;
    for (uint32_t k = 0; k < count; k++) {
        uint64_t v = sf_get64(e + 8 * k, big), pfn = v & SF_PFN_MASK;
        if (!sf_page_type_has_data((unsigned)(v >> SF_PFN_TYPE_SHIFT)))
            continue;
        if (pfn >= pages)
            return xerr_set(err, "BADPAGE", "%s: the PAGE_DATA record at byte %llu%s carries "
                            "pfn %llu, past the domain's %llu pages", x->name,
                            (unsigned long long)rec->offset, x->dz, (unsigned long long)pfn,
                            (unsigned long long)pages);
        digest_page(x, pfn, data);
        unsigned char bit = (unsigned char)(1u << (pfn & 7));
        if (!is_zero(data)) {
            if (run && pfn != run_pfn + run_len) {
                if (write_run(x, run, run_pfn, run_len, err) < 0)
                    return -1;
                run = NULL;
            }
            if (!run) {
                run = data;
                run_pfn = pfn;
                run_len = 0;
            }
            run_len++;
            x->written[pfn >> 3] |= bit;
        } else {
            if (run && write_run(x, run, run_pfn, run_len, err) < 0)
                return -1;
            run = NULL;
            if (x->written[pfn >> 3] & bit) {
                x->written[pfn >> 3] &= (unsigned char)~bit;
                if (fallocate(x->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              (off_t)(pfn * SIM_PAGE), SIM_PAGE) < 0 &&
                    write_run(x, data, pfn, 1, err) < 0)
                    return -1;
            }
        }
        data += SIM_PAGE;
        x->data_pages++;
    }
    return run ? write_run(x, run, run_pfn, run_len, err) : 0;
}

static int read_stream(struct sf_reader *r, struct restoring *x, const struct dom_progress *p,
                       struct xerr *err)
{
    struct sf_record rec;
    int rc, libxc_end = 0;
    uint64_t total = x->info->memory_kb * 1024;
    while ((rc = sf_reader_next(r, &rec, 1, err)) > 0) {
        if (rec.layer == SF_LAYER_LIBXL && rec.type == SF_LIBXL_LIBXC_CONTEXT)
            x->type_checked = 0;
        if (rec.layer != SF_LAYER_LIBXC)
            continue;
        if (check_stream_type(x, &rec, err) < 0)
            return -1;
        if (rec.type == SF_LIBXC_END)
            libxc_end = 1;
        if (rec.type != SF_LIBXC_PAGE_DATA)
            continue;
        if (put_pages(x, &rec, err) < 0)
            return -1;
        uint64_t done = x->data_pages * SIM_PAGE;
        if (cancelled(p, done < total ? done : total, total, err) < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (!libxc_end)
        return xerr_set(err, "BADSTREAM", "%s: the stream ends at byte %llu%s without a libxc "
                        "part: there is no memory to restore", x->name,
                        (unsigned long long)sf_reader_offset(r), x->dz);
    struct sf_trailer t;
    if (sf_reader_trailer(r, &t, err) < 0)
        return -1;
    if (t.found && !t.matches)   /* the trailer's offset counts file bytes, even with zstd */
        return xerr_set(err, "BADTRAILER", "%s: the trailer at byte %llu does not match the "
                        "file's bytes (%s): the domain is not restored", x->name,
                        (unsigned long long)t.computed_length,
                        t.length_matches ? "hash differs" : "length differs");
    return 0;
}

int sim_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
                const struct dom_progress *p, uint32_t *domid, struct xerr *err)
{
    struct sim *s = (struct sim *)b;
    struct sim_dom d;
    const struct sf_stream_info *si;
    const struct sf_header *h;
    char path[PATH_MAX];
    if (sim_new_dom(c, &d, err) < 0 || sf_reader_stream(r, &si, err) < 0 ||
        sf_reader_header(r, &h, err) < 0)
        return -1;
    if (sim_lock(s, err) < 0)
        return -1;
    int rc = sim_reserve(s, &d, err);
    sim_unlock(s);
    if (rc < 0)
        return -1;
    uint32_t id = d.info.domid;
    struct restoring x = { .info = &d.info, .fd = -1, .si = si, .name = sf_reader_name(r),
                           .dz = h->mandatory_flags & SF_FLAG_ZSTD ? " (decompressed)" : "" };
    sim_dom_path(s, id, "memory", path);
    x.fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (x.fd < 0) {
        xerr_errno(err, errno, "%s: cannot create the memory image", path);
        goto fail;
    }
    if (ftruncate(x.fd, (off_t)(d.info.memory_kb * 1024)) < 0) {
        xerr_errno(err, errno, "%s: cannot size the memory image", path);
        goto fail;
    }
    x.written = calloc((size_t)(d.info.memory_kb / 4 / 8 + 1), 1);
    x.digest = XXH3_createState();
    if (!x.written || !x.digest || XXH3_128bits_reset(x.digest) != XXH_OK) {
        xerr_errno(err, ENOMEM, "cannot restore domain '%s'", d.info.name);
        goto fail;
    }
    x.in_order = 1;
    if (read_stream(r, &x, p, err) < 0)
        goto fail;
    if (x.in_order) {
        static const unsigned char zero[SIM_PAGE];
        for (uint64_t pages = d.info.memory_kb / 4; x.digested < pages; x.digested++)
            xxh3_update(x.digest, zero, SIM_PAGE);
        sim_digest_hex(x.digest, d.info.digest);
    }
    if (close(x.fd) < 0) {
        x.fd = -1;
        xerr_errno(err, errno, "%s: cannot write the memory image", path);
        goto fail;
    }
    x.fd = -1;
    free(x.written);
    XXH3_freeState(x.digest);
    return sim_finish_build(s, &d, c, domid, err);
fail:
    if (x.fd >= 0)
        close(x.fd);
    free(x.written);
    if (x.digest)
        XXH3_freeState(x.digest);
    sim_abandon(s, id);
    return -1;
}
