/* spec/c/test_dom_sim.c: the sim backend through the dom_ interface: lifecycle, names, the
 * config store, save to a real stream and restore from it, damage, races between processes,
 * and the backend choice rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "domain/dom.h"
#include "domain/libxl/dom_libxl.h"
#include "domain/sim/dom_sim.h"
#include "savefile/sf_reader.h"
#include "savefile/sf_writer.h"

#include "check.h"

static char state_dir[256];
static struct xerr err;

static uint32_t create(struct dom_backend *b, const char *name, enum dom_type type,
                       uint64_t kb, const char *uuid, int paused)
{
    struct dom_create c = { .name = name, .type = type, .memory_kb = kb, .uuid = uuid,
                            .paused = paused };
    uint32_t domid = 0;
    int rc = dom_create(b, &c, &domid, &err);
    CHECKM(rc == 0, "create %s: %s", name, err.message);
    return domid;
}

static size_t count_domains(struct dom_backend *b)
{
    struct dom_info *v;
    size_t n = 0;
    if (dom_list(b, &v, &n, &err) < 0)
        return (size_t)-1;
    free(v);
    return n;
}

/* Entries in DIR/domains, hidden ones too: a failed restore must leave nothing there. */
static int count_dirs(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/domains", state_dir);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void test_lifecycle(struct dom_backend *b)
{
    struct dom_info i;
    CHECK(streq(dom_backend_name(b), "sim"));
    CHECK(count_domains(b) == 1);
    CHECK_OK(dom_info(b, 0, &i, &err));
    CHECK(streq(i.name, "Domain-0") && i.state == DOM_RUNNING);

    uint32_t a = create(b, "alpha", DOM_PV, 8192, NULL, 0);
    uint32_t h = create(b, "hotel", DOM_HVM, 4096, NULL, 1);
    CHECK(a >= 1 && h > a);
    CHECK(count_domains(b) == 3);
    CHECK_OK(dom_info(b, a, &i, &err));
    CHECK(streq(i.name, "alpha") && i.state == DOM_RUNNING && i.type == DOM_PV);
    CHECK(i.memory_kb == 8192 && i.max_memory_kb == 8192 && i.vcpus == 1);
    CHECK(strlen(i.digest) == 32 && dom_check_uuid(i.uuid));
    CHECK_OK(dom_info(b, h, &i, &err));
    CHECK(i.state == DOM_PAUSED && i.type == DOM_HVM);

    /* find: names, domid strings, absent ones */
    CHECK_OK(dom_find(b, "hotel", &i, &err));
    CHECK(i.domid == h);
    char id[16];
    snprintf(id, sizeof id, "%u", a);
    CHECK_OK(dom_find(b, id, &i, &err));
    CHECK(streq(i.name, "alpha"));
    CHECK_CODE(dom_find(b, "nobody", &i, &err), "NODOMAIN");
    CHECK_CODE(dom_find(b, "999", &i, &err), "NODOMAIN");
    CHECK_CODE(dom_find(b, "99999999999999999999", &i, &err), "NODOMAIN");
    CHECK_CODE(dom_info(b, 4242, &i, &err), "NODOMAIN");

    /* names: unique, valid */
    struct dom_create c = { .name = "alpha", .type = DOM_PV, .memory_kb = 1024 };
    uint32_t x;
    CHECK_CODE(dom_create(b, &c, &x, &err), "EXISTS");
    c.name = "Domain-0";
    CHECK_CODE(dom_create(b, &c, &x, &err), "EXISTS");
    c.name = "12";
    CHECK_CODE(dom_create(b, &c, &x, &err), "EINVAL");
    c.name = "a/b";
    CHECK_CODE(dom_create(b, &c, &x, &err), "EINVAL");
    c.name = "";
    CHECK_CODE(dom_create(b, &c, &x, &err), "EINVAL");
    c.name = "zero";
    c.memory_kb = 0;
    CHECK_CODE(dom_create(b, &c, &x, &err), "EINVAL");
    c.memory_kb = 1024;
    c.uuid = "not-a-uuid";
    CHECK_CODE(dom_create(b, &c, &x, &err), "EINVAL");
    CHECK(count_domains(b) == 3);

    /* pause counts like Xen's: two pauses need two unpauses; unpausing a running one fails */
    CHECK_OK(dom_pause(b, a, &err));
    CHECK_OK(dom_pause(b, a, &err));
    CHECK_OK(dom_unpause(b, a, &err));
    CHECK_OK(dom_info(b, a, &i, &err));
    CHECK(i.state == DOM_PAUSED);
    CHECK_OK(dom_unpause(b, a, &err));
    CHECK_OK(dom_info(b, a, &i, &err));
    CHECK(i.state == DOM_RUNNING);
    CHECK_CODE(dom_unpause(b, a, &err), "BADSTATE");
    CHECK_CODE(dom_pause(b, 4242, &err), "NODOMAIN");

    /* rename */
    CHECK_CODE(dom_rename(b, a, "hotel", &err), "EXISTS");
    CHECK_CODE(dom_rename(b, a, "Domain-0", &err), "EXISTS");
    CHECK_CODE(dom_rename(b, a, "7", &err), "EINVAL");
    CHECK_OK(dom_rename(b, a, "alpha", &err));
    CHECK_OK(dom_rename(b, a, "bravo \"quoted\"", &err));
    CHECK_OK(dom_find(b, "bravo \"quoted\"", &i, &err));
    CHECK(i.domid == a);
    char *json = NULL;
    CHECK_OK(dom_config(b, a, &json, &err));
    CHECK(json && strstr(json, "\"name\": \"bravo \\\"quoted\\\"\"") && strstr(json, i.uuid));
    free(json);
    CHECK_OK(dom_rename(b, a, "bravo", &err));

    /* a given config is kept, with the current name and uuid set in c_info */
    struct dom_create cj = { .name = "json1", .type = DOM_PV, .memory_kb = 1024,
                             .json = "{\"c_info\": {\"type\": \"pv\", \"name\": \"old\"}, "
                                     "\"b_info\": {\"max_memkb\": 1024}}" };
    uint32_t j;
    CHECK_OK(dom_create(b, &cj, &j, &err));
    CHECK_OK(dom_config(b, j, &json, &err));
    CHECK(json && strstr(json, "\"name\": \"json1\"") && strstr(json, "\"uuid\": \"") &&
          strstr(json, "\"max_memkb\": 1024") && !strstr(json, "old"));
    free(json);
    CHECK_OK(dom_destroy(b, j, &err));

    /* Domain-0 is off limits */
    CHECK_CODE(dom_destroy(b, 0, &err), "EPERM");
    CHECK_CODE(dom_pause(b, 0, &err), "EPERM");
    CHECK_CODE(dom_rename(b, 0, "dom0", &err), "EPERM");

    /* a shutdown request: the paused guest sees it once it runs again */
    CHECK_OK(dom_request(b, h, DOM_REQ_POWEROFF, 0, &err));
    CHECK_OK(dom_info(b, h, &i, &err));
    CHECK(i.state == DOM_PAUSED);
    CHECK_OK(dom_unpause(b, h, &err));
    CHECK_OK(dom_info(b, h, &i, &err));
    CHECK(i.state == DOM_SHUTDOWN && i.reason == DOM_REASON_POWEROFF);
    CHECK_CODE(dom_pause(b, h, &err), "BADSTATE");
    CHECK_CODE(dom_unpause(b, h, &err), "BADSTATE");

    /* destroy; domids are not reused */
    CHECK_OK(dom_destroy(b, h, &err));
    CHECK_CODE(dom_destroy(b, h, &err), "NODOMAIN");
    uint32_t n = create(b, "november", DOM_PVH, 1024, NULL, 0);
    CHECK(n > h);
    CHECK_OK(dom_info(b, n, &i, &err));
    CHECK(i.type == DOM_PVH);
    CHECK_OK(dom_destroy(b, n, &err));
    CHECK_OK(dom_destroy(b, a, &err));
    CHECK(count_domains(b) == 1);
    CHECK(count_dirs() == 0);
}

static void test_digest_deterministic(struct dom_backend *b)
{
    const char *uuid = "5a1e0000-1111-4222-8333-444455556666";
    struct dom_info i1, i2;
    uint32_t a = create(b, "det", DOM_PV, 4096, uuid, 0);
    CHECK_OK(dom_info(b, a, &i1, &err));
    CHECK(streq(i1.uuid, uuid));
    /* the image's content, as every version made it (a savefile of it stays the same) */
    CHECKM(streq(i1.digest, "a7c16e6558ad3171592978d3dc234e44"), "%s", i1.digest);
    CHECK_OK(dom_destroy(b, a, &err));
    a = create(b, "det", DOM_PV, 4096, "5A1E0000-1111-4222-8333-444455556666", 0);
    CHECK_OK(dom_info(b, a, &i2, &err));
    CHECK(streq(i1.digest, i2.digest) && streq(i2.uuid, uuid));
    CHECK_OK(dom_destroy(b, a, &err));
    a = create(b, "other", DOM_PV, 4096, NULL, 0);
    CHECK_OK(dom_info(b, a, &i2, &err));
    CHECK(!streq(i1.digest, i2.digest));
    CHECK_OK(dom_destroy(b, a, &err));

    /* the image is sparse: about a third of its pages are holes */
    a = create(b, "sparse", DOM_PV, 16384, NULL, 0);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/domains/%u/memory", state_dir, a);
    CHECK(stat(path, &st) == 0 && st.st_size == 16384 * 1024);
    CHECK((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size * 9 / 10);
    CHECK_OK(dom_destroy(b, a, &err));
}

static void test_store(struct dom_backend *b)
{
    uint32_t d = create(b, "store", DOM_PV, 1024, NULL, 0);
    char *v;
    size_t n;
    char **keys;
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECK(n == 0);
    dom_strv_free(keys, n);
    CHECK_OK(dom_store_put(b, d, "source", "memory = 128\n", 13, &err));
    CHECK_OK(dom_store_put(b, d, "json", "{}", 2, &err));
    CHECK_OK(dom_store_put(b, d, "bin.1", "a\0b", 3, &err));
    CHECK_OK(dom_store_put(b, d, "json", "{\"x\":1}", 7, &err));
    CHECK_OK(dom_store_get(b, d, "json", &v, &n, &err));
    CHECK(n == 7 && memcmp(v, "{\"x\":1}", 7) == 0);
    free(v);
    CHECK_OK(dom_store_get(b, d, "bin.1", &v, &n, &err));
    CHECK(n == 3 && memcmp(v, "a\0b", 3) == 0);
    free(v);
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECK(n == 3 && streq(keys[0], "bin.1") && streq(keys[1], "json") &&
          streq(keys[2], "source"));
    dom_strv_free(keys, n);
    CHECK_OK(dom_store_remove(b, d, "json", &err));
    CHECK_OK(dom_store_remove(b, d, "json", &err));
    CHECK_CODE(dom_store_get(b, d, "json", &v, &n, &err), "ENOENT");
    CHECK_CODE(dom_store_put(b, d, "../x", "", 0, &err), "EINVAL");
    CHECK_CODE(dom_store_put(b, d, "a b", "", 0, &err), "EINVAL");
    CHECK_CODE(dom_store_put(b, d, "..", "", 0, &err), "EINVAL");
    CHECK_CODE(dom_store_put(b, d, "", "", 0, &err), "EINVAL");
    CHECK_CODE(dom_store_get(b, 4242, "json", &v, &n, &err), "NODOMAIN");
    CHECK_CODE(dom_store_put(b, 0, "json", "", 0, &err), "EPERM");
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECK(n == 2);
    dom_strv_free(keys, n);
    CHECK_OK(dom_destroy(b, d, &err));
    CHECK_CODE(dom_store_keys(b, d, &keys, &n, &err), "NODOMAIN");
}

/* ---- save and restore ---- */

static int memfile(void)
{
    int fd = memfd_create("dom-test", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    return fd;
}

struct progress_log {
    int calls;
    uint64_t last_done, last_total;
    int cancel_at;
};

static int progress(void *ctx, uint64_t done, uint64_t total)
{
    struct progress_log *p = ctx;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->cancel_at && p->calls >= p->cancel_at;
}

/* Save domid into a new memfd savefile (header with a config); returns the fd or -1. */
static int save_to(struct dom_backend *b, uint32_t domid, int zstd, struct progress_log *pl)
{
    int fd = memfile();
    struct sf_writer *w = sf_writer_new(fd, "test save", &err);
    struct sf_write_options o = { .config = "{}", .config_len = 2, .json = 1, .streamv2 = 1,
                                  .zstd = zstd };
    CHECK_OK(sf_writer_header(w, &o, &err));
    struct dom_progress p = { progress, pl };
    int rc = dom_save(b, domid, w, 0, &p, &err);
    if (rc == 0)
        CHECK_OK(sf_writer_finish(w, 1, NULL, &err));
    sf_writer_free(w);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static struct sf_reader *reader_at_stream(int fd)
{
    lseek(fd, 0, SEEK_SET);
    struct sf_reader *r = sf_reader_new(fd, "test restore", 0, &err);
    const struct sf_optdata *od;
    CHECK_OK(sf_reader_optdata(r, &od, &err));
    return r;
}

static int restore_from(struct dom_backend *b, int fd, const char *name, enum dom_type type,
                        uint64_t kb, uint32_t *domid)
{
    struct sf_reader *r = reader_at_stream(fd);
    struct dom_create c = { .name = name, .type = type, .memory_kb = kb, .paused = 1 };
    struct progress_log pl = { 0 };
    struct dom_progress p = { progress, &pl };
    int rc = dom_restore(b, &c, r, &p, domid, &err);
    sf_reader_free(r);
    if (rc == 0)
        CHECK(pl.calls > 0 && pl.last_done == pl.last_total && pl.last_total == kb * 1024);
    return rc;
}

/* kb: not a whole number of batches; from 32 MiB on a save hashes the savefile by reading it
 * back behind the copy, below it from the mapped image (dom_sim_stream.c HASH_BEHIND_MIN). */
static void test_save_restore(struct dom_backend *b, enum dom_type type, int zstd, uint64_t kb)
{
    struct dom_create c = { .name = "saved", .type = type, .memory_kb = kb,
                            .max_memory_kb = kb + 64 };
    uint32_t d, r;
    CHECK_OK(dom_create(b, &c, &d, &err));
    struct dom_info before, after;
    CHECK_OK(dom_info(b, d, &before, &err));

    struct progress_log pl = { 0 };
    int fd = save_to(b, d, zstd, &pl);
    CHECKM(fd >= 0, "save: %s", err.message);
    if (fd < 0)
        return;
    CHECK(pl.calls >= 2 && pl.last_done == kb * 1024 && pl.last_total == kb * 1024);
    CHECK_OK(dom_info(b, d, &after, &err));
    CHECK(after.state == DOM_PAUSED);

    /* the stream reads like a real one */
    struct sf_reader *rd = reader_at_stream(fd);
    const struct sf_stream_info *si;
    struct sf_summary sum;
    CHECK_OK(sf_reader_stream(rd, &si, &err));
    CHECK(si->have_libxc && si->page_shift == 12 &&
          si->domain_type == (type == DOM_PV ? SF_DOMAIN_X86_PV : SF_DOMAIN_X86_HVM));
    CHECK_OK(sf_reader_summary(rd, &sum, &err));
    CHECK(sum.complete && sum.pages == (kb + 64) / 4 && sum.data_pages == kb / 4);
    CHECK(sum.libxc_counts[SF_LIBXC_PAGE_DATA] == ((kb + 64) / 4 + 1023) / 1024);
    CHECK(sum.libxc_counts[SF_LIBXC_X86_TSC_INFO] == 1 && sum.libxc_counts[SF_LIBXC_END] == 1);
    CHECK(sum.libxl_counts[SF_LIBXL_LIBXC_CONTEXT] == 1 && sum.libxl_counts[SF_LIBXL_END] == 1);
    CHECK_OK(sf_reader_verify(rd, &err));
    sf_reader_free(rd);

    /* restore under a new name: same memory, paused as asked */
    CHECK_CODE(restore_from(b, fd, "saved", type, kb, &r), "EXISTS");
    CHECK_OK(restore_from(b, fd, "restored", type, kb, &r));
    CHECK_OK(dom_info(b, r, &after, &err));
    CHECK(streq(after.digest, before.digest) && after.state == DOM_PAUSED && r != d);
    CHECK_OK(dom_unpause(b, r, &err));

    /* the other type is refused, and leaves nothing */
    int dirs = count_dirs();
    CHECK_CODE(restore_from(b, fd, "wrongtype", type == DOM_PV ? DOM_HVM : DOM_PV, kb, &r),
               "BADSTREAM");
    CHECK(strstr(err.message, "test restore: ") == err.message);
    /* a smaller domain than the stream's pages is refused; the message names the reader
     * and an offset, said to be in the decompressed view for a zstd file */
    CHECK_CODE(restore_from(b, fd, "small", type, 1024, &r), "BADPAGE");
    CHECKM(strstr(err.message, "test restore: the PAGE_DATA record at byte ") == err.message,
           "%s", err.message);
    CHECKM(!strstr(err.message, "(decompressed)") == !zstd, "%s", err.message);
    CHECK(count_dirs() == dirs);
    CHECK_OK(dom_destroy(b, d, &err));
    CHECK_OK(dom_destroy(b, r, &err));
    close(fd);
}

static void test_damage(struct dom_backend *b)
{
    uint32_t d = create(b, "victim", DOM_PV, 2048, NULL, 0), r;
    struct progress_log pl = { 0 };
    int fd = save_to(b, d, 0, &pl);
    CHECK(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    size_t before = count_domains(b);
    int dirs = count_dirs();

    /* one flipped byte inside page data: the trailer catches it before the domain runs */
    unsigned char byte;
    off_t at = st.st_size / 2;
    CHECK(pread(fd, &byte, 1, at) == 1);
    byte ^= 0x55;
    CHECK(pwrite(fd, &byte, 1, at) == 1);
    CHECK_CODE(restore_from(b, fd, "damaged", DOM_PV, 2048, &r), "BADTRAILER");
    CHECK(count_domains(b) == before && count_dirs() == dirs);
    byte ^= 0x55;
    CHECK(pwrite(fd, &byte, 1, at) == 1);

    /* cut anywhere in the stream: TRUNCATED, nothing left */
    int cuts[] = { 60, 300, (int)(st.st_size / 3), (int)st.st_size - 40 };
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        int cut = memfile();
        char *buf = malloc((size_t)cuts[k]);
        CHECK(pread(fd, buf, (size_t)cuts[k], 0) == cuts[k]);
        CHECK(write(cut, buf, (size_t)cuts[k]) == cuts[k]);
        free(buf);
        CHECK_CODE(restore_from(b, cut, "cut", DOM_PV, 2048, &r), "TRUNCATED");
        close(cut);
    }
    CHECK(count_domains(b) == before && count_dirs() == dirs);

    /* the intact file still restores */
    CHECK_OK(restore_from(b, fd, "intact", DOM_PV, 2048, &r));
    CHECK_OK(dom_destroy(b, r, &err));
    close(fd);

    /* a failing writer (disk full) puts the domain back as it was */
    CHECK_OK(dom_unpause(b, d, &err));
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    struct sf_writer *w = sf_writer_new(full, "/dev/full", &err);
    struct sf_write_options o = { .streamv2 = 1 };
    CHECK_OK(sf_writer_header(w, &o, &err));
    CHECK_CODE(dom_save(b, d, w, 1, NULL, &err), "ENOSPC");
    sf_writer_free(w);
    close(full);
    struct dom_info i;
    CHECK_OK(dom_info(b, d, &i, &err));
    CHECK(i.state == DOM_RUNNING);

    /* a progress callback can cancel a save, with the same effect */
    pl = (struct progress_log){ .cancel_at = 1 };
    CHECK(save_to(b, d, 0, &pl) < 0 && streq(err.code, "CANCELLED"));
    CHECK_OK(dom_info(b, d, &i, &err));
    CHECK(i.state == DOM_RUNNING);
    /* a shut-down domain cannot be saved */
    CHECK_OK(dom_request(b, d, DOM_REQ_POWEROFF, 0, &err));
    pl = (struct progress_log){ 0 };
    CHECK(save_to(b, d, 0, &pl) < 0 && streq(err.code, "BADSTATE"));
    CHECK_OK(dom_destroy(b, d, &err));
}

/* A stream whose second LIBXC_CONTEXT brings libxc headers of another domain type: each
 * set of headers is checked, not only the first. */
static void test_second_libxc_context(struct dom_backend *b)
{
    int fd = memfile();
    struct sf_writer *w = sf_writer_new(fd, "two contexts", &err);
    struct sf_write_options o = { .config = "{}", .config_len = 2, .json = 1, .streamv2 = 1 };
    CHECK_OK(sf_writer_header(w, &o, &err));
    CHECK_OK(sf_writer_libxl_header(w, &err));
    uint32_t types[2] = { SF_DOMAIN_X86_PV, SF_DOMAIN_X86_HVM };
    for (int k = 0; k < 2; k++) {
        CHECK_OK(sf_writer_record(w, SF_LIBXL_LIBXC_CONTEXT, NULL, 0, &err));
        CHECK_OK(sf_writer_libxc_headers(w, 3, types[k], 12, 4, 17, &err));
        CHECK_OK(sf_writer_record(w, SF_LIBXC_STATIC_DATA_END, NULL, 0, &err));
        CHECK_OK(sf_writer_record(w, SF_LIBXC_END, NULL, 0, &err));
    }
    CHECK_OK(sf_writer_record(w, SF_LIBXL_END, NULL, 0, &err));
    CHECK_OK(sf_writer_finish(w, 1, NULL, &err));
    sf_writer_free(w);
    int dirs = count_dirs();
    uint32_t r;
    CHECK_CODE(restore_from(b, fd, "twoctx", DOM_PV, 1024, &r), "BADSTREAM");
    CHECKM(strstr(err.message, "x86 HVM") != NULL, "%s", err.message);
    CHECK(count_dirs() == dirs);
    close(fd);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Temporary files the sim left in its state directory (".next-domid.*" and the like). */
static int count_temp_files(void)
{
    DIR *d = opendir(state_dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, ".next-domid.", 12) == 0;
    if (d)
        closedir(d);
    return n;
}

/* next-domid cannot be written (a full disk, here a file size limit of 0 in a child): no fd
 * leaks, no temporary file stays, and the create fails with the write's errno. */
static void test_next_domid_full(struct dom_backend *b)
{
    int fds = count_fds(), dirs = count_dirs();
    size_t doms = count_domains(b);
    struct dom_create c = { .name = "full", .type = DOM_PV, .memory_kb = 1024 };
    uint32_t d;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit none = { 0, 0 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &none);
        CHECK_CODE(dom_create(b, &c, &d, &err), "EFBIG");
        CHECK(count_fds() == fds);
        CHECK(count_temp_files() == 0);
        CHECK(count_dirs() == dirs && count_domains(b) == doms);
        _exit(failures ? 1 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
    CHECK_OK(dom_create(b, &c, &d, &err));
    CHECK_OK(dom_destroy(b, d, &err));
}

/* Two processes create domains at once: never the same domid, never the same name. */
static void test_race(void)
{
    enum { PER = 20 };
    pid_t kids[2];
    int pipes[2][2];
    for (int k = 0; k < 2; k++) {
        if (pipe(pipes[k]) < 0)
            abort();
        kids[k] = fork();
        if (kids[k] == 0) {
            struct dom_backend *b;
            struct xerr e;
            if (dom_sim_open(state_dir, &b, &e) < 0)
                _exit(2);
            for (int i = 0; i < PER; i++) {
                char name[32];
                uint32_t domid;
                /* one name of our own, one both processes want */
                snprintf(name, sizeof name, "p%d-%d", k, i);
                struct dom_create c = { .name = name, .type = DOM_PV, .memory_kb = 256 };
                int ok = dom_create(b, &c, &domid, &e) == 0;
                snprintf(name, sizeof name, "shared-%d", i);
                int won = dom_create(b, &c, &domid, &e) == 0;
                char rec[2] = { (char)('0' + ok), (char)(won ? 'w' : e.code && strcmp(e.code,
                                "EXISTS") == 0 ? 'x' : '?') };
                if (write(pipes[k][1], rec, 2) != 2)
                    _exit(3);
            }
            dom_close(b);
            _exit(0);
        }
        close(pipes[k][1]);
    }
    int wins = 0, exists = 0, own = 0;
    for (int k = 0; k < 2; k++) {
        char rec[2];
        while (read(pipes[k][0], rec, 2) == 2) {
            own += rec[0] == '1';
            wins += rec[1] == 'w';
            exists += rec[1] == 'x';
        }
        close(pipes[k][0]);
        int status;
        waitpid(kids[k], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(own == 2 * PER && wins == PER && exists == PER);
    struct dom_backend *b;
    CHECK_OK(dom_sim_open(state_dir, &b, &err));
    struct dom_info *v;
    size_t n;
    CHECK_OK(dom_list(b, &v, &n, &err));
    CHECK(n == 1 + 3 * PER);
    int dup = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            dup += v[i].domid == v[j].domid || strcmp(v[i].name, v[j].name) == 0;
    CHECK(dup == 0);
    for (size_t i = 1; i < n; i++)
        CHECK_OK(dom_destroy(b, v[i].domid, &err));
    free(v);
    dom_close(b);
}

static void test_choose(void)
{
    const char *name;
    char caps[512];
    struct dom_backend *b;
    snprintf(caps, sizeof caps, "%s/caps", state_dir);
    unsetenv("XLUA_BACKEND");
    setenv("XLUA_XEN_CAPABILITIES", "/nonexistent/capabilities", 1);
    CHECK_OK(dom_choose(NULL, &name, &err));
    CHECK(streq(name, "sim"));
    CHECK_OK(dom_choose("sim", &name, &err));
    CHECK(streq(name, "sim"));
    CHECK_CODE(dom_choose("libxl", &name, &err), "NOXEN");
    CHECK(strstr(err.message, "no Xen control domain here: /nonexistent/capabilities is missing")
          == err.message);
    CHECK_CODE(dom_choose("xend", &name, &err), "EINVAL");
    setenv("XLUA_BACKEND", "libxl", 1);
    CHECK_CODE(dom_choose(NULL, &name, &err), "NOXEN");
    CHECK_OK(dom_choose("sim", &name, &err));          /* --backend beats the environment */
    CHECK(streq(name, "sim"));
    CHECK_CODE(dom_open(NULL, &b, &err), "NOXEN");
    CHECK(b == NULL);
    CHECK_CODE(dom_libxl_open(&b, &err), "NOXEN");
    setenv("XLUA_BACKEND", "", 1);
    FILE *f = fopen(caps, "w");
    fputs("\n", f);
    fclose(f);
    setenv("XLUA_XEN_CAPABILITIES", caps, 1);
    CHECK_CODE(dom_choose("libxl", &name, &err), "NOXEN");
    CHECK(strstr(err.message, "does not say control_d") != NULL);
    f = fopen(caps, "w");
    fputs("control_d\n", f);
    fclose(f);
    CHECK_OK(dom_choose(NULL, &name, &err));
    CHECK(streq(name, "libxl"));
    /* a dom0 whose libxl backend module cannot be loaded: NOXEN, saying why, no backend */
    setenv("XLUA_LIB_DIR", "/nonexistent", 1);
    CHECK_CODE(dom_open(NULL, &b, &err), "NOXEN");
    CHECK(b == NULL);
    CHECK(strstr(err.message, "cannot load the libxl backend: /nonexistent/xlua_libxl.so: ")
          == err.message);
    unsetenv("XLUA_LIB_DIR");
    setenv("XLUA_BACKEND", "sim", 1);
    CHECK_OK(dom_choose(NULL, &name, &err));
    CHECK(streq(name, "sim"));
    unlink(caps);
    unsetenv("XLUA_BACKEND");

    /* Xen's sysfs: a dom0 (uuid all zeros) whose xenfs is not mounted is refused with what to
     * do, never handed to the simulator; a Xen guest (its own uuid) keeps the sim default. */
    char sys[512], file[600];
    snprintf(sys, sizeof sys, "%s/../sys-hypervisor", state_dir);
    mkdir(sys, 0700);
    setenv("XLUA_SYS_HYPERVISOR", sys, 1);
    snprintf(file, sizeof file, "%s/type", sys);
    f = fopen(file, "w");
    fputs("xen\n", f);
    fclose(f);
    snprintf(file, sizeof file, "%s/uuid", sys);
    f = fopen(file, "w");
    fputs("00000000-0000-0000-0000-000000000000\n", f);
    fclose(f);
    CHECK_CODE(dom_choose(NULL, &name, &err), "NOXEN");
    CHECK(strstr(err.message, "xenfs is not mounted on /proc/xen") != NULL);
    CHECK_CODE(dom_open(NULL, &b, &err), "NOXEN");
    CHECK_OK(dom_choose("sim", &name, &err));          /* asked for by name: fine */
    f = fopen(file, "w");
    fputs("4f0d4a7e-3ad6-4c1b-9f0e-2b4a0c6d2e11\n", f);
    fclose(f);
    CHECK_OK(dom_choose(NULL, &name, &err));
    CHECK(streq(name, "sim"));
    unsetenv("XLUA_SYS_HYPERVISOR");
    unsetenv("XLUA_XEN_CAPABILITIES");
}

/* The state directory: a link planted where the sim writes its files is never written
 * through; a directory others may write to, or that another user owns, is refused. */
static void test_state_dir_safety(struct dom_backend *b)
{
    char victim[512], link[512], dir[512];
    snprintf(victim, sizeof victim, "%s/../victim", state_dir);
    FILE *f = fopen(victim, "w");
    fputs("precious\n", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/.next-domid.tmp", state_dir);
    CHECK(symlink(victim, link) == 0);
    uint32_t domid = create(b, "planted", DOM_PV, 4096, NULL, 0);
    CHECK_OK(dom_destroy(b, domid, &err));
    f = fopen(victim, "r");
    char line[32] = "";
    CHECK(f && fgets(line, sizeof line, f) && streq(line, "precious\n"));
    if (f)
        fclose(f);
    unlink(link);

    struct dom_backend *other;
    snprintf(dir, sizeof dir, "%s/../shared", state_dir);
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0);
    CHECK_CODE(dom_sim_open(dir, &other, &err), "EPERM");
    CHECK(other == NULL);
    CHECK(chmod(dir, 0755) == 0);
    CHECK_OK(dom_sim_open(dir, &other, &err));
    dom_close(other);
    if (geteuid() == 0) {
        CHECK(chown(dir, 12345, 12345) == 0);
        CHECK_CODE(dom_sim_open(dir, &other, &err), "EPERM");
    }
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-dom-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(state_dir, sizeof state_dir, "%s/state", tmpl);
    setenv("XLUA_SIM_DIR", state_dir, 1);
    unsetenv("XLUA_BACKEND");

    struct dom_backend *b;
    CHECK_OK(dom_open("sim", &b, &err));
    if (!b)
        return 1;
    test_lifecycle(b);
    test_digest_deterministic(b);
    test_store(b);
    test_save_restore(b, DOM_PV, 0, 6 * 1024 + 12);
    test_save_restore(b, DOM_HVM, 1, 6 * 1024 + 12);
    test_save_restore(b, DOM_PVH, 0, 6 * 1024 + 12);
    test_save_restore(b, DOM_PV, 0, 32 * 1024 + 12);
    test_damage(b);
    test_second_libxc_context(b);
    test_next_domid_full(b);
    test_state_dir_safety(b);
    dom_close(b);
    test_race();
    test_choose();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim");
}
