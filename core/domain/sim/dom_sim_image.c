/* core/domain/sim/dom_sim_image.c: a sim domain's memory image: filled from its uuid when it is
 * created (a third of the pages zero, a third random, a third text-like), and its digest, the
 * XXH3-128 of every byte, taken as it is filled or by reading it. */
#include "dom_sim_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/xxh3_fast.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A third of the pages zero, a third random, a third text-like (compressible): roughly what
 * a booted guest holds, so savefiles and their compression behave like real ones. */
static int fill_page(unsigned char *page, uint64_t pfn, uint64_t *rng)
{
    uint64_t kind = splitmix64(rng) % 3;
    if (kind == 0)
        return 0;
    if (kind == 1) {
        for (unsigned i = 0; i < SIM_PAGE; i += 8) {
            uint64_t v = splitmix64(rng);
            memcpy(page + i, &v, 8);
        }
        return 1;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "sim page %llu tag %016llx\n",
                       (unsigned long long)pfn, (unsigned long long)splitmix64(rng));
    /* the line over and over: copied in doubling spans, not a division per byte */
    memcpy(page, line, (size_t)len);
    for (size_t have = (size_t)len; have < SIM_PAGE; have *= 2)
        memcpy(page + have, page, have < SIM_PAGE - have ? have : SIM_PAGE - have);
    return 1;
}

#define FILL_PAGES 256u

int sim_fill_memory(const char *path, const char *uuid, uint64_t bytes, char digest[33],
                    struct xerr *err)
{
    static const unsigned char zero[SIM_PAGE];
    char lower[DOM_UUID_LEN + 1];
    size_t ulen = strlen(uuid);
    for (size_t i = 0; i <= ulen && i <= DOM_UUID_LEN; i++)
        lower[i] = (char)(uuid[i] >= 'A' && uuid[i] <= 'F' ? uuid[i] + 32 : uuid[i]);
    lower[DOM_UUID_LEN] = '\0';
    uint64_t rng = XXH3_64bits(lower, strlen(lower));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return xerr_errno(err, errno, "%s: cannot create the memory image", path);
    unsigned char *buf = malloc((size_t)FILL_PAGES * SIM_PAGE);
    XXH3_state_t *h = digest ? XXH3_createState() : NULL;
    if (!buf || (digest && (!h || XXH3_128bits_reset(h) != XXH_OK))) {
        free(buf);
        if (h)
            XXH3_freeState(h);
        close(fd);
        return xerr_errno(err, ENOMEM, "cannot allocate a buffer for the memory image");
    }
    if (ftruncate(fd, (off_t)bytes) < 0)
        goto fail;
    uint64_t pages = bytes / SIM_PAGE;
    for (uint64_t pfn = 0; pfn < pages;) {
        /* Write runs of non-zero pages; zero pages stay holes. */
        unsigned run = 0;
        uint64_t start = pfn;
        while (pfn < pages && run < FILL_PAGES) {
            unsigned char *page = buf + (size_t)run * SIM_PAGE;
            int data = fill_page(page, pfn, &rng);
            if (h)              /* the digest in the same pass: no reading the image back */
                xxh3_update(h, data ? page : zero, SIM_PAGE);
            if (data) {
                if (run == 0)
                    start = pfn;
                run++;
                pfn++;
            } else {
                pfn++;
                if (run)
                    break;
            }
        }
        size_t len = (size_t)run * SIM_PAGE;
        for (size_t off = 0; off < len;) {
            ssize_t k = pwrite(fd, buf + off, len - off, (off_t)(start * SIM_PAGE + off));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                goto fail;
            off += (size_t)k;
        }
    }
    free(buf);
    if (h) {
        sim_digest_hex(h, digest);
        XXH3_freeState(h);
    }
    if (close(fd) < 0)
        return xerr_errno(err, errno, "%s: cannot write the memory image", path);
    return 0;
fail:;
    int e = errno;
    free(buf);
    if (h)
        XXH3_freeState(h);
    close(fd);
    return xerr_errno(err, e, "%s: cannot write the memory image", path);
}

void sim_digest_hex(const XXH3_state_t *h, char hex[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
}

int sim_digest(const char *path, char hex[33], struct xerr *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xerr_errno(err, errno, "%s: cannot open the memory image", path);
    XXH3_state_t *h = XXH3_createState();
    unsigned char *buf = malloc(1u << 20);
    int e = 0;
    if (!h || !buf || XXH3_128bits_reset(h) != XXH_OK) {
        e = ENOMEM;
    } else {
        for (;;) {
            ssize_t k = read(fd, buf, 1u << 20);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                e = errno;
                break;
            }
            if (k == 0)
                break;
            xxh3_update(h, buf, (size_t)k);
        }
    }
    if (!e)
        sim_digest_hex(h, hex);
    free(buf);
    if (h)
        XXH3_freeState(h);
    close(fd);
    if (e)
        return xerr_errno(err, e, "%s: cannot read the memory image", path);
    return 0;
}
