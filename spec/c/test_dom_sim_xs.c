/* spec/c/test_dom_sim_xs.c: the sim's xenstore through dom_xs.h: values of every byte survive
 * the file, device nodes re-synced from a changed config (dom_sim_xs_sync_devices, for
 * hotplug), a preserved domain's /vm node moving with its uuid, transactions across two
 * connections, watches that see removals once, and a damaged root file read as EIO (the files
 * themselves: test_dom_sim_xs_store.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/dom.h"
#include "domain/dom_xs.h"
#include "domain/sim/dom_sim.h"

#include "check.h"

static char state_dir[256];
static struct xerr err;

static int has(struct dom_xs *x, const char *path)
{
    char *v;
    size_t n;
    struct xerr e;
    if (dom_xs_read(x, 0, path, &v, &n, &e) < 0)
        return 0;
    free(v);
    return 1;
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

static void test_bytes(struct dom_xs *x)
{
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    CHECK_OK(dom_xs_write(x, 0, "/bytes", all, sizeof all, &err));
    char *v = NULL;
    size_t n = 0;
    CHECK_OK(dom_xs_read(x, 0, "/bytes", &v, &n, &err));
    CHECK(n == sizeof all && v && memcmp(v, all, n) == 0);
    free(v);
    CHECK_OK(dom_xs_rm(x, 0, "/bytes", &err));
    char big[DOM_XS_VALUE_MAX + 1];
    memset(big, 'a', sizeof big);
    CHECK_CODE(dom_xs_write(x, 0, "/big", big, sizeof big, &err), "E2BIG");
    /* the limit is on path, NUL and value together, as xenstored's */
    CHECK_CODE(dom_xs_write(x, 0, "/big", big, DOM_XS_VALUE_MAX - 4, &err), "E2BIG");
    CHECK_OK(dom_xs_write(x, 0, "/big", big, DOM_XS_VALUE_MAX - 5, &err));
    CHECK_OK(dom_xs_rm(x, 0, "/big", &err));
}

static void test_sync_devices(struct dom_backend *b, struct dom_xs *x)
{
    const char *json1 = "{\"c_info\": {\"type\": \"pv\", \"name\": \"hot\"}, \"b_info\": {},"
                        " \"disks\": [{\"vdev\": \"xvda\", \"pdev_path\": \"/a.img\","
                        " \"readwrite\": 1}]}";
    struct dom_create c = { .name = "hot", .type = DOM_PV, .memory_kb = 1024, .json = json1 };
    uint32_t d = 0;
    CHECK_OK(dom_create(b, &c, &d, &err));
    char p[256];
    snprintf(p, sizeof p, "/local/domain/0/backend/vbd/%u/51712/params", d);
    CHECK(value_is(x, p, "/a.img"));
    /* hotplug: the config gains a disk xvdb and a nic, loses xvda */
    const char *json2 = "{\"c_info\": {\"type\": \"pv\", \"name\": \"hot\"}, \"b_info\": {},"
                        " \"disks\": [{\"vdev\": \"xvdb\", \"pdev_path\": \"/b.img\"}],"
                        " \"nics\": [{\"devid\": 3, \"mac\": \"00:16:3e:aa:bb:cc\"}]}";
    char path[512];
    snprintf(path, sizeof path, "%s/domains/%u/config.json", state_dir, d);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(json2, f);
        fclose(f);
    }
    CHECK_OK(dom_sim_xs_sync_devices(b, d, &err));
    CHECK(!has(x, p));
    snprintf(p, sizeof p, "/local/domain/%u/device/vbd/51712", d);
    CHECK(!has(x, p));
    snprintf(p, sizeof p, "/local/domain/0/backend/vbd/%u/51728/params", d);
    CHECK(value_is(x, p, "/b.img"));
    snprintf(p, sizeof p, "/local/domain/0/backend/vbd/%u/51728/mode", d);
    CHECK(value_is(x, p, "r"));
    snprintf(p, sizeof p, "/local/domain/%u/device/vif/3/mac", d);
    CHECK(value_is(x, p, "00:16:3e:aa:bb:cc"));
    snprintf(p, sizeof p, "/local/domain/%u/name", d);
    CHECK(value_is(x, p, "hot"));
    CHECK_OK(dom_destroy(b, d, &err));
    CHECK_CODE(dom_sim_xs_sync_devices(b, d, &err), "ENOENT");
}

static void test_preserve(struct dom_backend *b, struct dom_xs *x)
{
    const char *uuid = "11111111-2222-4333-8444-555555555555";
    const char *other = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    struct dom_create c = { .name = "keep", .type = DOM_PV, .memory_kb = 1024, .uuid = uuid };
    uint32_t d = 0;
    CHECK_OK(dom_create(b, &c, &d, &err));
    CHECK_OK(dom_preserve(b, d, "--incarnation-1", other, &err));
    char p[256], vm[64];
    snprintf(vm, sizeof vm, "/vm/%s", other);
    snprintf(p, sizeof p, "/local/domain/%u/vm", d);
    CHECK(value_is(x, p, vm));
    snprintf(p, sizeof p, "/vm/%s/name", other);
    CHECK(value_is(x, p, "keep--incarnation-1"));
    snprintf(p, sizeof p, "/vm/%s/uuid", other);
    CHECK(value_is(x, p, other));
    snprintf(p, sizeof p, "/vm/%s", uuid);
    CHECK(!has(x, p));
    CHECK_OK(dom_destroy(b, d, &err));
    snprintf(p, sizeof p, "/vm/%s", other);
    CHECK(!has(x, p));
}

/* The refresh the runtime operations need (after mem-set or vcpu-set the metadata changes):
 * here the metadata is edited by hand, and a rename to the same name refreshes. */
static void test_refresh(struct dom_backend *b, struct dom_xs *x)
{
    struct dom_create c = { .name = "grow", .type = DOM_PV, .memory_kb = 2048, .vcpus = 2 };
    uint32_t d = 0;
    CHECK_OK(dom_create(b, &c, &d, &err));
    char path[512], p[128], *text = NULL;
    snprintf(path, sizeof path, "%s/domains/%u/meta", state_dir, d);
    FILE *f = fopen(path, "r");
    size_t cap = 0;
    CHECK(f && getdelim(&text, &cap, '\0', f) > 0);
    if (f)
        fclose(f);
    char *m = text ? strstr(text, "\nmemory_kb=2048\n") : NULL, *v = text ? strstr(text, "\nvcpus=2\n") : NULL;
    CHECK(m && v);
    if (m && v) {
        memcpy(m, "\nmemory_kb=1024\n", 16);
        v[7] = '1';
        /* without its sum (which no longer matches): read as a file an older version wrote */
        char *sum = strstr(text, "\nsum=");
        if (sum)
            sum[1] = '\0';
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
    }
    free(text);
    CHECK_OK(dom_xs_watch(x, "/local/domain", "refresh", &err));
    char *wp, *wt;
    CHECK(dom_xs_read_watch(x, 0, &wp, &wt, &err) == 1);   /* the watch's own first event */
    free(wp);
    free(wt);
    CHECK_OK(dom_rename(b, d, "grow", &err));
    snprintf(p, sizeof p, "/local/domain/%u/memory/target", d);
    CHECK(value_is(x, p, "1024"));
    snprintf(p, sizeof p, "/local/domain/%u/cpu/0/availability", d);
    CHECK(value_is(x, p, "online"));
    snprintf(p, sizeof p, "/local/domain/%u/cpu/1/availability", d);
    CHECK(value_is(x, p, "offline"));
    /* only what changed fires: the target and cpu 1, not the name */
    int seen = 0, name = 0;
    while (dom_xs_read_watch(x, 100, &wp, &wt, &err) == 1) {
        seen++;
        name += strstr(wp, "/name") != NULL;
        free(wp);
        free(wt);
    }
    CHECKM(seen == 2 && name == 0, "%d events, %d of the name", seen, name);
    CHECK_OK(dom_xs_unwatch(x, "/local/domain", "refresh", &err));
    CHECK_OK(dom_destroy(b, d, &err));
}

static void test_transactions(struct dom_xs *x, struct dom_xs *y)
{
    dom_xs_tx t = 0, u = 0;
    CHECK_OK(dom_xs_tx_start(x, &t, &err));
    CHECK_OK(dom_xs_write(x, t, "/tx/a", "1", 1, &err));
    CHECK(!has(x, "/tx/a"));
    CHECK_OK(dom_xs_tx_start(y, &u, &err));
    CHECK_OK(dom_xs_write(y, u, "/tx/b", "2", 1, &err));
    CHECK_OK(dom_xs_tx_end(x, t, 0, &err));
    CHECK(has(x, "/tx/a"));
    CHECK_CODE(dom_xs_tx_end(y, u, 0, &err), "EAGAIN");
    CHECK(!has(x, "/tx/b"));
    /* a read-only transaction commits whatever happened meanwhile */
    CHECK_OK(dom_xs_tx_start(y, &u, &err));
    CHECK_OK(dom_xs_write(x, 0, "/tx/c", "3", 1, &err));
    CHECK_OK(dom_xs_tx_end(y, u, 0, &err));
    /* an aborted one leaves nothing */
    CHECK_OK(dom_xs_tx_start(y, &u, &err));
    CHECK_OK(dom_xs_rm(y, u, "/tx", &err));
    CHECK_OK(dom_xs_tx_end(y, u, 1, &err));
    CHECK(has(x, "/tx/a"));
    CHECK_CODE(dom_xs_tx_end(y, u, 0, &err), "ENOENT");
    CHECK_OK(dom_xs_rm(x, 0, "/tx", &err));
}

static void test_watch(struct dom_xs *x, struct dom_xs *y)
{
    char *path, *token;
    CHECK_OK(dom_xs_write(y, 0, "/wt/a/b/c", "1", 1, &err));
    CHECK_OK(dom_xs_watch(x, "/wt/a", "tok", &err));
    CHECK_CODE(dom_xs_watch(x, "/wt/a", "tok", &err), "EEXIST");
    CHECK(dom_xs_read_watch(x, 0, &path, &token, &err) == 1 && streq(path, "/wt/a") &&
          streq(token, "tok"));
    free(path);
    free(token);
    CHECK(dom_xs_read_watch(x, 50, &path, &token, &err) == 0);
    /* removing a subtree fires once, for its top */
    CHECK_OK(dom_xs_rm(y, 0, "/wt/a/b", &err));
    CHECK(dom_xs_read_watch(x, 2000, &path, &token, &err) == 1 && streq(path, "/wt/a/b"));
    free(path);
    free(token);
    CHECK(dom_xs_read_watch(x, 50, &path, &token, &err) == 0);
    /* a change outside the watch does not fire it */
    CHECK_OK(dom_xs_write(y, 0, "/wt/other", "1", 1, &err));
    CHECK(dom_xs_read_watch(x, 100, &path, &token, &err) == 0);
    CHECK_OK(dom_xs_unwatch(x, "/wt/a", "tok", &err));
    CHECK_CODE(dom_xs_unwatch(x, "/wt/a", "tok", &err), "ENOENT");
    CHECK_OK(dom_xs_rm(y, 0, "/wt", &err));
}

static void test_damaged(struct dom_xs *x)
{
    char path[512];
    snprintf(path, sizeof path, "%s/xs/root", state_dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("not a xenstore\n", f);
        fclose(f);
    }
    char *v;
    size_t n;
    CHECK_CODE(dom_xs_read(x, 0, "/local", &v, &n, &err), "EIO");
    CHECK_CODE(dom_xs_write(x, 0, "/local/x", "1", 1, &err), "EIO");
    unlink(path);
    CHECK_OK(dom_xs_read(x, 0, "/local/domain/0", &v, &n, &err));
    free(v);
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-xs-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(state_dir, sizeof state_dir, "%s/state", tmpl);
    struct dom_backend *b = NULL;
    struct dom_xs *x = NULL, *y = NULL;
    CHECK_OK(dom_sim_open(state_dir, &b, &err));
    if (!b)
        return 1;
    CHECK_OK(dom_xs_open(b, &x, &err));
    CHECK_OK(dom_xs_open(b, &y, &err));
    if (!x || !y)
        return 1;
    test_bytes(x);
    test_sync_devices(b, x);
    test_preserve(b, x);
    test_refresh(b, x);
    test_transactions(x, y);
    test_watch(x, y);
    test_damaged(x);
    dom_xs_close(x);
    dom_xs_close(y);
    dom_close(b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_dom_sim_xs");
}
