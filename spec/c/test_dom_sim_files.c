/* spec/c/test_dom_sim_files.c: the sim's small state files rewritten in place. next-domid: by
 * each create (one inode for the life of the state directory), read back by the next, never
 * written through a link planted in its place (a symlink or a second hard link is replaced by
 * a file of our own), read as before when an older version wrote it. A domain's metadata: one
 * inode from create to destroy, readers never see half a change while a writer runs, a damaged
 * one is EIO, one an older version wrote (no sum) is read and then replaced whole. */
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

static char state_dir[256], next_path[300];
static struct xerr err;

static uint32_t create(struct dom_backend *b, const char *name)
{
    struct dom_create c = { .name = name, .type = DOM_PV, .memory_kb = 64 };
    uint32_t d = 0;
    CHECK_OK(dom_create(b, &c, &d, &err));
    return d;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int read_text(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (!f)
        return -1;
    size_t k = fread(out, 1, n - 1, f);
    out[k] = '\0';
    fclose(f);
    return 0;
}

static void meta_path(uint32_t d, char *out, size_t n)
{
    snprintf(out, n, "%s/domains/%u/meta", state_dir, d);
}

static void test_meta(struct dom_backend *b)
{
    uint32_t d = create(b, "meta");
    char path[300], text[2048];
    meta_path(d, path, sizeof path);
    struct stat st1, st2;
    CHECK(stat(path, &st1) == 0 && st1.st_size == 1024);
    CHECK_OK(dom_pause(b, d, &err));
    CHECK_OK(dom_unpause(b, d, &err));
    CHECK_OK(dom_rename(b, d, "meta2", &err));
    CHECK(stat(path, &st2) == 0 && st2.st_ino == st1.st_ino && st2.st_size == 1024);
    struct dom_info i;
    CHECK_OK(dom_info(b, d, &i, &err));
    CHECK(streq(i.name, "meta2") && i.state == DOM_RUNNING);

    /* a change readers would see half of (a lost write): the sum says so, EIO */
    CHECK(read_text(path, text, sizeof text) == 0);
    char *state = strstr(text, "\nstate=running\n");
    CHECK(state != NULL);
    if (state) {
        memcpy(state, "\nstate=paused!\n", 15);
        FILE *f = fopen(path, "r+");
        fwrite(text, 1, 1024, f);
        fclose(f);
        CHECK_CODE(dom_info(b, d, &i, &err), "EIO");
    }

    /* as an older version wrote it (no sum, shorter): read, then replaced whole */
    FILE *f = fopen(path, "w");
    fprintf(f, "domid=%u\nname=meta2\nuuid=%s\nstate=paused\ntype=pv\nmemory_kb=64\n"
            "max_memory_kb=64\nvcpus=1\ndigest=\npauses=1\ncreator=0\nreason=-1\n"
            "started=0\npending=0\n", d, i.uuid);
    fclose(f);
    CHECK(stat(path, &st1) == 0 && st1.st_size != 1024);
    CHECK_OK(dom_info(b, d, &i, &err));
    CHECK(i.state == DOM_PAUSED && i.memory_kb == 64);
    CHECK_OK(dom_unpause(b, d, &err));
    CHECK(stat(path, &st2) == 0 && st2.st_size == 1024 && st2.st_ino != st1.st_ino);
    CHECK_OK(dom_info(b, d, &i, &err));
    CHECK(i.state == DOM_RUNNING);
    CHECK_OK(dom_destroy(b, d, &err));
}

/* A writer pausing and unpausing as fast as it can; a reader never sees half a change. */
static void test_meta_readers(struct dom_backend *b)
{
    uint32_t d = create(b, "busy");
    pid_t pid = fork();
    if (pid == 0) {
        struct dom_backend *own;
        struct xerr e;
        if (dom_sim_open(state_dir, &own, &e) < 0)
            _exit(1);
        for (;;)
            if (dom_pause(own, d, &e) < 0 || dom_unpause(own, d, &e) < 0)
                _exit(2);
    }
    int bad = 0, paused = 0;
    for (int k = 0; k < 3000; k++) {
        struct dom_info i;
        if (dom_info(b, d, &i, &err) < 0 || !streq(i.name, "busy") ||
            (i.state != DOM_RUNNING && i.state != DOM_PAUSED))
            bad++;
        else
            paused += i.state == DOM_PAUSED;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECKM(bad == 0, "%d reads of 3000 were wrong (%s)", bad, err.message);
    CHECK(WIFSIGNALED(status));
    struct dom_info i;
    CHECK_OK(dom_info(b, d, &i, &err));     /* killed anywhere: still whole */
    (void)paused;
    CHECK_OK(dom_destroy(b, d, &err));
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-files-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(state_dir, sizeof state_dir, "%s/state", tmpl);
    snprintf(next_path, sizeof next_path, "%s/next-domid", state_dir);
    struct dom_backend *b = NULL;
    CHECK_OK(dom_sim_open(state_dir, &b, &err));
    if (!b)
        return 1;

    /* in place: the same inode from one create to the next */
    uint32_t a = create(b, "a");
    struct stat st1, st2;
    CHECK(stat(next_path, &st1) == 0);
    uint32_t c = create(b, "c");
    CHECK(stat(next_path, &st2) == 0);
    CHECK(st1.st_ino == st2.st_ino);
    CHECK(c == a + 1);

    /* as an older version wrote it ("N\n", shorter): read, then overwritten whole */
    write_text(next_path, "40\n");
    CHECK(create(b, "d") == 40);
    char text[64];
    CHECK(read_text(next_path, text, sizeof text) == 0 && strtoul(text, NULL, 10) == 41);
    CHECK(strlen(text) == 11);

    /* a symlink planted there: replaced, its target untouched */
    char victim[300];
    snprintf(victim, sizeof victim, "%s/victim", tmpl);
    write_text(victim, "precious\n");
    unlink(next_path);
    CHECK(symlink(victim, next_path) == 0);
    uint32_t e = create(b, "e");
    CHECK(read_text(victim, text, sizeof text) == 0 && streq(text, "precious\n"));
    struct stat lst;
    CHECK(lstat(next_path, &lst) == 0 && S_ISREG(lst.st_mode));
    CHECK(read_text(next_path, text, sizeof text) == 0 && strtoul(text, NULL, 10) == e + 1);

    /* a second hard link to it: replaced, the other name untouched */
    char other[300];
    snprintf(other, sizeof other, "%s/other", tmpl);
    CHECK(link(next_path, other) == 0);
    CHECK(read_text(other, text, sizeof text) == 0);
    char before[64];
    snprintf(before, sizeof before, "%s", text);
    uint32_t f = create(b, "f");
    CHECK(f == e + 1);
    CHECK(read_text(other, text, sizeof text) == 0 && streq(text, before));
    CHECK(read_text(next_path, text, sizeof text) == 0 && strtoul(text, NULL, 10) == f + 1);

    test_meta(b);
    test_meta_readers(b);
    dom_close(b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim_files");
}
