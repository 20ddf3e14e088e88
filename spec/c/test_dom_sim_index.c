/* spec/c/test_dom_sim_index.c: the sim's index of domains (DIR/index), kept by appending a line
 * per change: names stay taken and free as domains come and go, lookups by name and the host's
 * free memory follow it, the file is folded back when the replaced lines pile up, and an index
 * cut short in a line (a writer killed) is rebuilt from the domains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/dom.h"
#include "domain/sim/dom_sim.h"

#include "check.h"

static char state_dir[256];
static struct xerr err;

static uint32_t create(struct dom_backend *b, const char *name, uint64_t kb)
{
    struct dom_create c = { .name = name, .type = DOM_PV, .memory_kb = kb };
    uint32_t d = 0;
    CHECK_OK(dom_create(b, &c, &d, &err));
    return d;
}

static size_t index_lines(void)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/index", state_dir);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    while (f && fgets(line, sizeof line, f))
        n++;
    if (f)
        fclose(f);
    return n;
}

static uint64_t used_kb(struct dom_backend *b)
{
    struct dom_host h;
    CHECK_OK(dom_host(b, &h, &err));
    return h.total_memory_kb - h.free_memory_kb;
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-index-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(state_dir, sizeof state_dir, "%s/state", tmpl);
    struct dom_backend *b = NULL;
    CHECK_OK(dom_sim_open(state_dir, &b, &err));
    if (!b)
        return 1;
    uint64_t base = used_kb(b);
    uint32_t a = create(b, "a", 1024), bb = create(b, "b", 2048);
    create(b, "c", 4096);
    CHECK(used_kb(b) == base + 7168);
    struct dom_create again = { .name = "a", .type = DOM_PV, .memory_kb = 1024 };
    uint32_t d = 0;
    CHECK_CODE(dom_create(b, &again, &d, &err), "EXISTS");
    /* a destroyed domain's name is free again, and found under its new domid */
    CHECK_OK(dom_destroy(b, bb, &err));
    CHECK(used_kb(b) == base + 5120);
    uint32_t b2 = create(b, "b", 1024);
    struct dom_info info;
    CHECK_OK(dom_find(b, "b", &info, &err));
    CHECK(info.domid == b2 && b2 != bb);
    CHECK_CODE(dom_find(b, "gone", &info, &err), "NODOMAIN");
    /* comings and goings do not grow the file without bound */
    for (int i = 0; i < 150; i++) {
        uint32_t t = create(b, "t", 1024);
        CHECK_OK(dom_destroy(b, t, &err));
    }
    size_t lines = index_lines();
    CHECKM(lines > 0 && lines <= 2 * 3 + 64 + 1 + 4, "%zu lines for 3 domains", lines);
    CHECK(used_kb(b) == base + 6144);
    /* a line cut short: the index is rebuilt from the domains themselves */
    char path[512];
    snprintf(path, sizeof path, "%s/index", state_dir);
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fputs("77 0 1024 half", f);
        fclose(f);
    }
    /* a change appended now would be read as the end of that line */
    CHECK_OK(dom_destroy(b, b2, &err));
    CHECK(used_kb(b) == base + 5120);
    CHECK_CODE(dom_find(b, "b", &info, &err), "NODOMAIN");
    CHECK_CODE(dom_create(b, &again, &d, &err), "EXISTS");
    CHECK_OK(dom_find(b, "a", &info, &err));
    CHECK(info.domid == a);
    CHECK(used_kb(b) == base + 5120);
    dom_close(b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim_index");
}
