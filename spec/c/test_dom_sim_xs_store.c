/* spec/c/test_dom_sim_xs_store.c: the sim's xenstore files (DIR/xs: root, dom-<domid>,
 * vm-<uuid>): a create and a destroy write and remove only their domain's files, children are
 * listed in creation order across files, two processes writing different domains' nodes at once
 * lose none, a crash between two file writes leaves a readable store, a transaction that read a
 * file after a change fails, the old single file is read and replaced, damaged files are EIO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "domain/dom.h"
#include "domain/dom_xs.h"
#include "domain/sim/dom_sim.h"

#include "check.h"

static char base[128];
static struct xerr err;

static int exists(const char *dir, const char *leaf)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, leaf);
    return stat(path, &st) == 0;
}

static int value_is(struct dom_xs *x, const char *path, const char *want)
{
    char *v;
    size_t n;
    struct xerr e;
    if (dom_xs_read(x, 0, path, &v, &n, &e) < 0)
        return 0;
    int ok = n == strlen(want) && memcmp(v, want, n) == 0;
    free(v);
    return ok;
}

/* The children of path joined by ',' into out ("" when it cannot be listed). */
static void list(struct dom_xs *x, const char *path, char *out, size_t cap)
{
    char **names = NULL;
    size_t n = 0, len = 0;
    out[0] = '\0';
    if (dom_xs_directory(x, 0, path, &names, &n, &err) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s", i ? "," : "",
                                names[i]);
        free(names[i]);
    }
    free(names);
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int c, ok = in && out;
    while (ok && (c = fgetc(in)) != EOF)
        fputc(c, out);
    if (out && fclose(out) != 0)
        ok = 0;
    if (in)
        fclose(in);
    return ok;
}

static void open_sim(const char *name, char *dir, struct dom_backend **b, struct dom_xs **x)
{
    snprintf(dir, 256, "%s/%s", base, name);
    *b = NULL;
    *x = NULL;
    CHECK_OK(dom_sim_open(dir, b, &err));
    if (*b)
        CHECK_OK(dom_xs_open(*b, x, &err));
}

static void close_sim(struct dom_backend *b, struct dom_xs *x)
{
    if (x)
        dom_xs_close(x);
    if (b)
        dom_close(b);
}

static void test_files_of_a_domain(void)
{
    char dir[256], xs[300], leaf[128], names[512];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("files", dir, &b, &x);
    if (!x)
        return;
    snprintf(xs, sizeof xs, "%s/xs", dir);
    const char *ua = "11111111-2222-4333-8444-000000000001";
    const char *ub = "11111111-2222-4333-8444-000000000002";
    struct dom_create a = { .name = "a", .type = DOM_PV, .memory_kb = 1024, .uuid = ua };
    struct dom_create bb = { .name = "b", .type = DOM_PV, .memory_kb = 1024, .uuid = ub };
    uint32_t da = 0, db = 0;
    CHECK_OK(dom_create(b, &a, &da, &err));
    CHECK_OK(dom_create(b, &bb, &db, &err));
    snprintf(leaf, sizeof leaf, "dom-%u", da);
    CHECK(exists(xs, "root") && exists(xs, leaf));
    snprintf(leaf, sizeof leaf, "vm-%s", ua);
    CHECK(exists(xs, leaf));
    CHECK(!exists(dir, "xenstore"));
    /* creation order across the files, as xenstored lists children */
    char want[128];
    list(x, "/local/domain", names, sizeof names);
    snprintf(want, sizeof want, "0,%u,%u", da, db);
    CHECKM(streq(names, want), "%s", names);
    list(x, "/vm", names, sizeof names);
    snprintf(want, sizeof want, "%s,%s", ua, ub);
    CHECKM(streq(names, want), "%s", names);
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/0/zz", "1", 1, &err));
    list(x, "/local/domain/0", names, sizeof names);
    CHECKM(streq(names, "name,domid,zz"), "%s", names);
    /* a node written by hand into a domain's directory goes into its file, in order */
    char p[128];
    snprintf(p, sizeof p, "/local/domain/%u/data/late", da);
    CHECK_OK(dom_xs_write(x, 0, p, "x", 1, &err));
    snprintf(p, sizeof p, "/local/domain/%u/data", da);
    list(x, p, names, sizeof names);
    CHECKM(streq(names, "late"), "%s", names);
    /* destroy removes the domain's files, and only those */
    CHECK_OK(dom_destroy(b, da, &err));
    snprintf(leaf, sizeof leaf, "dom-%u", da);
    CHECK(!exists(xs, leaf));
    snprintf(leaf, sizeof leaf, "vm-%s", ua);
    CHECK(!exists(xs, leaf));
    snprintf(leaf, sizeof leaf, "dom-%u", db);
    CHECK(exists(xs, leaf));
    snprintf(p, sizeof p, "/local/domain/%u/name", db);
    CHECK(value_is(x, p, "b"));
    CHECK_OK(dom_destroy(b, db, &err));
    list(x, "/local/domain", names, sizeof names);
    CHECKM(streq(names, "0"), "%s", names);
    close_sim(b, x);
}

/* Two processes write nodes of two domains (and of the root file) at once: none is lost. */
static void test_concurrent_writers(void)
{
    char dir[256];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("race", dir, &b, &x);
    if (!x)
        return;
    enum { N = 40 };
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            struct dom_backend *cb = NULL;
            struct dom_xs *cx = NULL;
            struct xerr e;
            int bad = dom_sim_open(dir, &cb, &e) < 0 || dom_xs_open(cb, &cx, &e) < 0;
            for (int i = 0; i < N && !bad; i++) {
                char p[128];
                snprintf(p, sizeof p, "/local/domain/%d/data/k%d", 500 + k, i);
                bad = dom_xs_write(cx, 0, p, "v", 1, &e) < 0;
                snprintf(p, sizeof p, "/tool/w%d/k%d", k, i);
                bad = bad || dom_xs_write(cx, 0, p, "v", 1, &e) < 0;
            }
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = -1;
        CHECK(kids[k] > 0 && waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0);
    }
    int missing = 0;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < N; i++) {
            char p[128];
            snprintf(p, sizeof p, "/local/domain/%d/data/k%d", 500 + k, i);
            missing += !value_is(x, p, "v");
            snprintf(p, sizeof p, "/tool/w%d/k%d", k, i);
            missing += !value_is(x, p, "v");
        }
    }
    CHECKM(missing == 0, "%d nodes lost", missing);
    close_sim(b, x);
}

/* A writer killed after a domain's file was replaced and before the root file was: every
 * file is whole, the domain's nodes are there, and the next change keeps them. */
static void test_crash_between_files(void)
{
    char dir[256], root[320], saved[320], p[128];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("crash", dir, &b, &x);
    if (!x)
        return;
    snprintf(root, sizeof root, "%s/xs/root", dir);
    snprintf(saved, sizeof saved, "%s/root.before", dir);
    struct dom_create a = { .name = "a", .type = DOM_PV, .memory_kb = 1024 };
    struct dom_create c = { .name = "c", .type = DOM_PV, .memory_kb = 1024 };
    uint32_t da = 0, dc = 0;
    CHECK_OK(dom_xs_write(x, 0, "/tool/first", "1", 1, &err));
    CHECK(copy_file(root, saved));
    CHECK_OK(dom_create(b, &a, &da, &err));
    CHECK(rename(saved, root) == 0);          /* the root file as before the create */
    snprintf(p, sizeof p, "/local/domain/%u/name", da);
    CHECK(value_is(x, p, "a"));
    CHECK(value_is(x, "/tool/first", "1"));
    CHECK_OK(dom_create(b, &c, &dc, &err));
    CHECK(value_is(x, p, "a"));
    snprintf(p, sizeof p, "/local/domain/%u/name", dc);
    CHECK(value_is(x, p, "c"));
    CHECK_OK(dom_destroy(b, da, &err));
    CHECK_OK(dom_destroy(b, dc, &err));
    close_sim(b, x);
}

/* A transaction reads files as it goes: one read after another process's change cannot
 * commit, even read-only; one whose reads all came before the change can. */
static void test_transaction_reads(void)
{
    char dir[256];
    struct dom_backend *b;
    struct dom_xs *x, *y = NULL;
    open_sim("tx", dir, &b, &x);
    if (!x)
        return;
    CHECK_OK(dom_xs_open(b, &y, &err));
    if (!y) {
        close_sim(b, x);
        return;
    }
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/7/a", "1", 1, &err));
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/8/a", "1", 1, &err));
    dom_xs_tx t = 0;
    char *v = NULL;
    size_t n;
    CHECK_OK(dom_xs_tx_start(y, &t, &err));
    CHECK_OK(dom_xs_read(y, t, "/local/domain/7/a", &v, &n, &err));
    free(v);
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/8/a", "2", 1, &err));
    /* domain 8's file is read after the change: what the transaction sees is no snapshot */
    v = NULL;
    CHECK_OK(dom_xs_read(y, t, "/local/domain/8/a", &v, &n, &err));
    free(v);
    CHECK_CODE(dom_xs_tx_end(y, t, 0, &err), "EAGAIN");
    CHECK_OK(dom_xs_tx_start(y, &t, &err));
    v = NULL;
    CHECK_OK(dom_xs_read(y, t, "/local/domain/8/a", &v, &n, &err));
    CHECK(v && n == 1 && v[0] == '2');
    free(v);
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/7/a", "3", 1, &err));
    CHECK_OK(dom_xs_tx_end(y, t, 0, &err));
    /* a transaction across two domains' files commits both */
    CHECK_OK(dom_xs_tx_start(y, &t, &err));
    CHECK_OK(dom_xs_write(y, t, "/local/domain/7/b", "b", 1, &err));
    CHECK_OK(dom_xs_write(y, t, "/local/domain/8/b", "b", 1, &err));
    CHECK_OK(dom_xs_rm(y, t, "/local/domain/7/a", &err));
    CHECK_OK(dom_xs_tx_end(y, t, 0, &err));
    CHECK(value_is(x, "/local/domain/7/b", "b") && value_is(x, "/local/domain/8/b", "b"));
    CHECK(!value_is(x, "/local/domain/7/a", "3"));
    CHECK_OK(dom_xs_rm(x, 0, "/local/domain/7", &err));
    CHECK_OK(dom_xs_rm(x, 0, "/local/domain/8", &err));
    dom_xs_close(y);
    close_sim(b, x);
}

/* A watch on /local/domain sees a domain's files come and go. */
static void test_watch_domains(void)
{
    char dir[256], p[128];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("watch", dir, &b, &x);
    if (!x)
        return;
    char *wp, *wt;
    CHECK_OK(dom_xs_watch(x, "/local/domain", "d", &err));
    CHECK(dom_xs_read_watch(x, 0, &wp, &wt, &err) == 1);
    free(wp);
    free(wt);
    struct dom_create a = { .name = "a", .type = DOM_PV, .memory_kb = 1024 };
    uint32_t da = 0;
    CHECK_OK(dom_create(b, &a, &da, &err));
    snprintf(p, sizeof p, "/local/domain/%u/name", da);
    int seen = 0, gone = 0;
    while (dom_xs_read_watch(x, 100, &wp, &wt, &err) == 1) {
        seen += streq(wp, p);
        free(wp);
        free(wt);
    }
    CHECK(seen == 1);
    CHECK_OK(dom_destroy(b, da, &err));
    snprintf(p, sizeof p, "/local/domain/%u", da);
    while (dom_xs_read_watch(x, 100, &wp, &wt, &err) == 1) {
        gone += streq(wp, p);
        free(wp);
        free(wt);
    }
    CHECK(gone == 1);
    close_sim(b, x);
}

/* The store of older versions, one file DIR/xenstore: read as it is, replaced by the files on
 * the first change, its order kept. */
static void test_old_single_file(void)
{
    char dir[256], path[320], names[256];
    snprintf(dir, sizeof dir, "%s/old", base);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/xenstore", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("xlua-sim-xenstore 1\ngen 5 introduced 2 released 1\n"
          "0 n0 / \n0 n0 /local \n0 n0 /local/domain \n3 n0,r9 /local/domain/9 \n"
          "3 n0,r9 /local/domain/9/name old\\x01\n0 n0 /local/domain/0 \n"
          "0 n0 /local/domain/0/name Domain-0\n0 n0 /vm \n4 n0 /vm/abc \n0 n0 /tool \n"
          "0 n0 /libxl \n", f);
    fclose(f);
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("old", dir, &b, &x);
    if (!x)
        return;
    CHECK(value_is(x, "/local/domain/9/name", "old\x01"));
    list(x, "/local/domain", names, sizeof names);
    CHECKM(streq(names, "9,0"), "%s", names);
    CHECK_OK(dom_xs_write(x, 0, "/tool/new", "1", 1, &err));
    CHECK(!exists(dir, "xenstore") && exists(dir, "xs/root") && exists(dir, "xs/dom-9") &&
          exists(dir, "xs/vm-abc"));
    CHECK(value_is(x, "/local/domain/9/name", "old\x01"));
    list(x, "/local/domain", names, sizeof names);
    CHECKM(streq(names, "9,0"), "%s", names);
    list(x, "/", names, sizeof names);
    CHECKM(streq(names, "local,vm,tool,libxl"), "%s", names);
    close_sim(b, x);
}

static void test_damaged_files(void)
{
    char dir[256], path[320];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("damaged", dir, &b, &x);
    if (!x)
        return;
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/3/a", "1", 1, &err));
    CHECK_OK(dom_xs_write(x, 0, "/local/domain/4/a", "1", 1, &err));
    snprintf(path, sizeof path, "%s/xs/dom-3", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        /* a node of another file's: as damaged as no magic at all */
        fputs("xlua-sim-xenstore-part 2\n1 99 n0 /local/domain/4/b x\n", f);
        fclose(f);
    }
    char *v;
    size_t n;
    CHECK_CODE(dom_xs_read(x, 0, "/local/domain/3/a", &v, &n, &err), "EIO");
    CHECK_CODE(dom_xs_write(x, 0, "/local/domain/3/b", "1", 1, &err), "EIO");
    CHECK(value_is(x, "/local/domain/4/a", "1"));   /* the other files are fine */
    unlink(path);
    snprintf(path, sizeof path, "%s/xs/root", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("not a xenstore\n", f);
        fclose(f);
    }
    CHECK_CODE(dom_xs_read(x, 0, "/local/domain/4/a", &v, &n, &err), "EIO");
    CHECK_CODE(dom_xs_write(x, 0, "/local/x", "1", 1, &err), "EIO");
    close_sim(b, x);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_size : -1;
}

static int starts_with(const char *path, const char *text)
{
    char buf[64] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strncmp(buf, text, strlen(text)) == 0;
}

/* The root file is one page rewritten in place (its inode kept); one an older version wrote,
 * one bigger than a page and a link planted in its place are replaced, never written through;
 * a root whose sum does not match is damaged. */
static void test_root_in_place(void)
{
    char dir[256], root[320], other[320];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("inplace", dir, &b, &x);
    if (!x)
        return;
    snprintf(root, sizeof root, "%s/xs/root", dir);
    snprintf(other, sizeof other, "%s/elsewhere", dir);
    CHECK_OK(dom_xs_write(x, 0, "/tool/a", "1", 1, &err));
    ino_t ino = inode_of(root);
    CHECK(ino != 0 && size_of(root) == 4096 && starts_with(root, "xlua-sim-xenstore 3\n"));
    struct dom_create a = { .name = "a", .type = DOM_PV, .memory_kb = 1024 };
    uint32_t da = 0;
    CHECK_OK(dom_create(b, &a, &da, &err));
    CHECK_OK(dom_xs_write(x, 0, "/tool/a", "2", 1, &err));
    CHECK(inode_of(root) == ino && value_is(x, "/tool/a", "2"));

    /* bigger than a page: replaced; back under a page: a page again, then in place */
    char big[3000];
    memset(big, 'v', sizeof big);
    CHECK_OK(dom_xs_write(x, 0, "/tool/big/1", big, sizeof big, &err));
    CHECK_OK(dom_xs_write(x, 0, "/tool/big/2", big, sizeof big, &err));
    CHECK(size_of(root) > 4096 && inode_of(root) != ino);
    CHECK_OK(dom_xs_rm(x, 0, "/tool/big", &err));
    CHECK(size_of(root) == 4096);
    ino = inode_of(root);
    CHECK_OK(dom_xs_write(x, 0, "/tool/a", "3", 1, &err));
    CHECK(inode_of(root) == ino && value_is(x, "/tool/a", "3"));

    /* an older version's root (no sum) is read, and replaced by the next change */
    FILE *f = fopen(root, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("xlua-sim-xenstore 2\ngen 50 introduced 1 released 0 seq 20\n"
              "0 1 n0 / \n0 2 n0 /local \n0 3 n0 /local/domain \n0 4 n0 /local/domain/0 \n"
              "0 5 n0 /vm \n0 6 n0 /tool \n0 7 n0 /libxl \n9 8 n0 /tool/a old\n", f);
        fclose(f);
    }
    CHECK(value_is(x, "/tool/a", "old"));
    ino = inode_of(root);
    CHECK_OK(dom_xs_write(x, 0, "/tool/b", "1", 1, &err));
    CHECK(inode_of(root) != ino && starts_with(root, "xlua-sim-xenstore 3\n"));
    CHECK(value_is(x, "/tool/a", "old") && value_is(x, "/tool/b", "1"));

    /* an older version's root of exactly a page: its head says so, it is replaced too */
    f = fopen(root, "w");
    CHECK(f != NULL);
    if (f) {
        int len = fprintf(f, "xlua-sim-xenstore 2\ngen 60 introduced 1 released 0 seq 20\n"
                             "0 1 n0 / \n0 6 n0 /tool \n9 8 n0 /tool/a page\n");
        for (int i = len; i < 4096; i++)
            fputc('\n', f);
        fclose(f);
    }
    CHECK(size_of(root) == 4096 && value_is(x, "/tool/a", "page"));
    ino = inode_of(root);
    CHECK_OK(dom_xs_write(x, 0, "/tool/b", "2", 1, &err));
    CHECK(inode_of(root) != ino && starts_with(root, "xlua-sim-xenstore 3\n"));
    CHECK(value_is(x, "/tool/a", "page") && value_is(x, "/tool/b", "2"));

    /* a link planted in its place: the file it points to is left alone */
    CHECK(rename(root, other) == 0 && symlink(other, root) == 0);
    CHECK_OK(dom_xs_write(x, 0, "/tool/c", "1", 1, &err));
    struct stat st;
    CHECK(lstat(root, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(value_is(x, "/tool/c", "1"));
    char *v = NULL;
    size_t n = 0;
    f = fopen(other, "r");
    CHECK(f != NULL);
    if (f) {
        char buf[8192];
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        CHECK(strstr(buf, "/tool/c") == NULL);
        fclose(f);
    }

    /* a sum that does not match: damaged */
    f = fopen(root, "r+");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 40, SEEK_SET);
        fputc('#', f);
        fclose(f);
    }
    CHECK_CODE(dom_xs_read(x, 0, "/tool/a", &v, &n, &err), "EIO");
    close_sim(b, x);
}

/* Readers hold no lock: reading while another process rewrites the root page never fails nor
 * sees a value that was never written. */
static void test_root_read_while_written(void)
{
    char dir[256];
    struct dom_backend *b;
    struct dom_xs *x;
    open_sim("torn", dir, &b, &x);
    if (!x)
        return;
    CHECK_OK(dom_xs_write(x, 0, "/tool/n", "0", 1, &err));
    enum { N = 300 };
    pid_t kid = fork();
    if (kid == 0) {
        struct dom_backend *cb = NULL;
        struct dom_xs *cx = NULL;
        struct xerr e;
        int bad = dom_sim_open(dir, &cb, &e) < 0 || dom_xs_open(cb, &cx, &e) < 0;
        for (int i = 1; i <= N && !bad; i++) {
            char v[16];
            int len = snprintf(v, sizeof v, "%d", i);
            bad = dom_xs_write(cx, 0, "/tool/n", v, (size_t)len, &e) < 0;
        }
        _exit(bad);
    }
    int failed = 0, wrong = 0, last = 0, status = -1;
    while (waitpid(kid, &status, WNOHANG) == 0) {
        char *v;
        size_t n;
        struct xerr e;
        if (dom_xs_read(x, 0, "/tool/n", &v, &n, &e) < 0) {
            failed++;
            continue;
        }
        int got = atoi(v);
        wrong += got < last || got > N;
        last = got;
        free(v);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECKM(failed == 0 && wrong == 0, "%d reads failed, %d wrong", failed, wrong);
    CHECK(value_is(x, "/tool/n", "300"));
    close_sim(b, x);
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-xs-store-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(base, sizeof base, "%s", tmpl);
    test_files_of_a_domain();
    test_concurrent_writers();
    test_crash_between_files();
    test_transaction_reads();
    test_watch_domains();
    test_old_single_file();
    test_damaged_files();
    test_root_in_place();
    test_root_read_while_written();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim_xs_store");
}
