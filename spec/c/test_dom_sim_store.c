/* spec/c/test_dom_sim_store.c: the sim's config store, one file per domain: several keys
 * written at once are seen all or none (by readers while a writer runs, and after a writer is
 * killed), two writers at once lose neither's keys, a new domain's store takes no file until
 * written, a damaged one is EIO, and a domain from before (one file per key in store/) is read
 * as it is and moved into the one file by its first change. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "domain/dom.h"
#include "domain/sim/dom_sim.h"

#include "check.h"

static char state_dir[256];
static struct xerr err;

static uint32_t create(struct dom_backend *b, const char *name)
{
    struct dom_create c = { .name = name, .type = DOM_PV, .memory_kb = 64 };
    uint32_t d = 0;
    CHECK_OK(dom_create(b, &c, &d, &err));
    return d;
}

static void dom_file(uint32_t domid, const char *leaf, char *out, size_t n)
{
    snprintf(out, n, "%s/domains/%u/%s", state_dir, domid, leaf);
}

static int exists(uint32_t domid, const char *leaf)
{
    char path[512];
    struct stat st;
    dom_file(domid, leaf, path, sizeof path);
    return lstat(path, &st) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECKM(f != NULL, "%s: %s", path, strerror(errno));
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The value of key, or "" when absent (a string the test never stores). */
static void get(struct dom_backend *b, uint32_t d, const char *key, char *out, size_t n)
{
    char *v;
    size_t len;
    out[0] = '\0';
    if (dom_store_get(b, d, key, &v, &len, &err) == 0) {
        snprintf(out, n, "%s", v);
        free(v);
    }
}

static void test_many(struct dom_backend *b)
{
    uint32_t d = create(b, "many");
    char **keys;
    size_t n;
    /* a new domain: an empty store, and no file for it yet */
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECK(n == 0);
    dom_strv_free(keys, n);
    CHECK(!exists(d, "config-store") && !exists(d, "store"));

    const char *k[] = { "source", "format", "json" };
    const void *v[] = { "memory = 64\n", "xl", "{}" };
    size_t l[] = { 12, 2, 2 };
    CHECK_OK(dom_store_put_many(b, d, 3, k, v, l, &err));
    CHECK(exists(d, "config-store"));
    char *got[3];
    size_t lens[3];
    CHECK_OK(dom_store_get_many(b, d, 3, k, got, lens, &err));
    for (int i = 0; i < 3; i++) {
        CHECK(got[i] && lens[i] == l[i] && memcmp(got[i], v[i], l[i]) == 0);
        free(got[i]);
    }
    /* NULL removes, in the same write; a key asked for twice comes twice */
    const char *k2[] = { "format", "bin", "json" };
    const void *v2[] = { NULL, "a\0b", "{\"x\":1}" };
    size_t l2[] = { 0, 3, 7 };
    CHECK_OK(dom_store_put_many(b, d, 3, k2, v2, l2, &err));
    const char *k3[] = { "format", "bin", "json", "bin", "source" };
    char *g3[5];
    size_t n3[5];
    CHECK_OK(dom_store_get_many(b, d, 5, k3, g3, n3, &err));
    CHECK(g3[0] == NULL);
    CHECK(g3[1] && n3[1] == 3 && memcmp(g3[1], "a\0b", 3) == 0);
    CHECK(g3[2] && streq(g3[2], "{\"x\":1}"));
    CHECK(g3[3] && g3[3] != g3[1] && n3[3] == 3 && memcmp(g3[3], "a\0b", 3) == 0);
    CHECK(g3[4] && streq(g3[4], "memory = 64\n"));
    for (int i = 0; i < 5; i++)
        free(g3[i]);
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECK(n == 3);
    dom_strv_free(keys, n);
    /* removing an absent key is no error; a present one goes */
    CHECK_OK(dom_store_remove(b, d, "nosuch", &err));
    CHECK_OK(dom_store_remove(b, d, "bin", &err));
    char *x;
    CHECK_CODE(dom_store_get(b, d, "bin", &x, &n, &err), "ENOENT");

    /* a damaged store is an error, not an empty one */
    char path[512];
    dom_file(d, "config-store", path, sizeof path);
    write_text(path, "XLST\x05");      /* a key length cut short */
    CHECK_CODE(dom_store_get(b, d, "json", &x, &n, &err), "EIO");
    CHECK_CODE(dom_store_put(b, d, "json", "{}", 2, &err), "EIO");
    CHECK_OK(dom_destroy(b, d, &err));
    CHECK_CODE(dom_store_put_many(b, d, 3, k, v, l, &err), "NODOMAIN");
}

/* A domain from before: one file per key in store/. */
static void test_legacy(struct dom_backend *b)
{
    uint32_t d = create(b, "legacy");
    char path[512];
    dom_file(d, "store", path, sizeof path);
    CHECK(mkdir(path, 0700) == 0);
    dom_file(d, "store/source", path, sizeof path);
    write_text(path, "old text");
    dom_file(d, "store/json", path, sizeof path);
    write_text(path, "{\"old\":1}");
    char v[64];
    get(b, d, "source", v, sizeof v);
    CHECK(streq(v, "old text"));
    char **keys;
    size_t n;
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECK(n == 2);
    dom_strv_free(keys, n);
    /* the first change moves every key into config-store and removes store/ */
    CHECK_OK(dom_store_put(b, d, "format", "xl", 2, &err));
    CHECK(exists(d, "config-store") && !exists(d, "store"));
    get(b, d, "source", v, sizeof v);
    CHECK(streq(v, "old text"));
    get(b, d, "json", v, sizeof v);
    CHECK(streq(v, "{\"old\":1}"));
    get(b, d, "format", v, sizeof v);
    CHECK(streq(v, "xl"));
    /* store/ left beside config-store (a writer killed after its rename): ignored */
    dom_file(d, "store", path, sizeof path);
    CHECK(mkdir(path, 0700) == 0);
    dom_file(d, "store/source", path, sizeof path);
    write_text(path, "stale");
    get(b, d, "source", v, sizeof v);
    CHECK(streq(v, "old text"));
    CHECK_OK(dom_destroy(b, d, &err));
}

/* Writes "N" into a, b and c, for N = 1, 2, ... until killed. */
static void writer_loop(const char *dir, uint32_t d)
{
    struct dom_backend *b;
    struct xerr e;
    if (dom_sim_open(dir, &b, &e) < 0)
        _exit(1);
    const char *k[] = { "a", "b", "c" };
    char text[32];
    for (unsigned i = 1;; i++) {
        int len = snprintf(text, sizeof text, "%u", i);
        const void *v[] = { text, text, text };
        size_t l[] = { (size_t)len, (size_t)len, (size_t)len };
        if (dom_store_put_many(b, d, 3, k, v, l, &e) < 0)
            _exit(2);
    }
}

/* Readers never see a, b and c from two different writes; nor after the writer is killed. */
static void test_all_or_nothing(struct dom_backend *b)
{
    uint32_t d = create(b, "atomic");
    pid_t pid = fork();
    if (pid == 0)
        writer_loop(state_dir, d);
    const char *k[] = { "a", "b", "c" };
    int mixed = 0, seen = 0;
    /* the writer's first write (a loaded machine may take a while to run it) */
    for (int waited = 0; waited < 10000; waited++) {
        char *v = NULL;
        size_t l;
        if (dom_store_get(b, d, "a", &v, &l, &err) == 0) {
            free(v);
            break;
        }
        usleep(1000);
    }
    for (int round = 0; round < 400; round++) {
        char *v[3];
        size_t l[3];
        CHECK_OK(dom_store_get_many(b, d, 3, k, v, l, &err));
        if (v[0]) {
            seen++;
            mixed += !v[1] || !v[2] || !streq(v[0], v[1]) || !streq(v[0], v[2]);
        } else {
            mixed += v[1] != NULL || v[2] != NULL;
        }
        for (int i = 0; i < 3; i++)
            free(v[i]);
        if (round % 50 == 49) {
            /* killed anywhere in a write: what is left is one whole write */
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            char *w[3];
            CHECK_OK(dom_store_get_many(b, d, 3, k, w, l, &err));
            CHECK(w[0] ? streq(w[0], w[1]) && streq(w[0], w[2]) : !w[1] && !w[2]);
            for (int i = 0; i < 3; i++)
                free(w[i]);
            if ((pid = fork()) == 0)
                writer_loop(state_dir, d);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECKM(mixed == 0, "%d reads saw keys from two writes", mixed);
    CHECK(seen > 0);
    CHECK_OK(dom_destroy(b, d, &err));
}

/* Two processes changing keys of one domain at once: each write keeps the other's keys. */
static void test_two_writers(struct dom_backend *b)
{
    uint32_t d = create(b, "writers");
    enum { ROUNDS = 150 };
    pid_t kids[2];
    for (int w = 0; w < 2; w++) {
        if ((kids[w] = fork()) == 0) {
            struct dom_backend *own;
            struct xerr e;
            if (dom_sim_open(state_dir, &own, &e) < 0)
                _exit(1);
            char key[16], text[16];
            for (int i = 0; i < ROUNDS; i++) {
                snprintf(key, sizeof key, "w%d.%d", w, i);
                int len = snprintf(text, sizeof text, "%d", i);
                const char *k[] = { key, "shared" };
                const void *v[] = { text, text };
                size_t l[] = { (size_t)len, (size_t)len };
                if (dom_store_put_many(own, d, 2, k, v, l, &e) < 0)
                    _exit(2);
            }
            _exit(0);
        }
    }
    for (int w = 0; w < 2; w++) {
        int status;
        waitpid(kids[w], &status, 0);
        CHECKM(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: status %d", w,
               status);
    }
    char **keys;
    size_t n;
    CHECK_OK(dom_store_keys(b, d, &keys, &n, &err));
    CHECKM(n == 2 * ROUNDS + 1, "%zu keys, not %d: a write lost another's", n, 2 * ROUNDS + 1);
    dom_strv_free(keys, n);
    CHECK_OK(dom_destroy(b, d, &err));
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-store-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(state_dir, sizeof state_dir, "%s/state", tmpl);
    struct dom_backend *b = NULL;
    CHECK_OK(dom_sim_open(state_dir, &b, &err));
    if (!b)
        return 1;
    test_many(b);
    test_legacy(b);
    test_all_or_nothing(b);
    test_two_writers(b);
    dom_close(b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim_store");
}
