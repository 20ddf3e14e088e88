/* spec/c/test_dom_sim_files.c: the sim's next-domid, rewritten in place by each create (one
 * inode for the life of the state directory), read back by the next, never written through a
 * link planted in its place (a symlink or a second hard link is replaced by a file of our own),
 * and read as before when an older version wrote it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/dom.h"
#include "domain/sim/dom_sim.h"

#include "check.h"

#define CHECK_OK(call) do { int rc_ = (call); \
    CHECKM(rc_ >= 0, "%s", err.message); } while (0)

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

    dom_close(b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim_files");
}
