/* spec/c/test_sim_runtime.c: the sim's runtime changes through the dom_ interface (memory,
 * vcpus, affinity, devices, cdrom, credit2), each refusal leaving config.json and the metadata
 * as they were, and the JSON editor (dom_sim_json.c) they rest on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "domain/dom.h"
#include "domain/sim/dom_sim_int.h"

#include "check.h"

static struct xerr err;
static char state_dir[256];

static void test_json_editor(void)
{
    char *a = sim_json_set("{\"b_info\": {\"max_vcpus\": 2}}", "b_info.sched_params.weight",
                           "512");
    uint64_t v = 0;
    CHECK(a && sim_json_u64(a, "b_info.sched_params.weight", &v) == 1 && v == 512);
    CHECK(sim_json_u64(a, "b_info.max_vcpus", &v) == 1 && v == 2);
    char *b = a ? sim_json_set(a, "b_info.max_vcpus", "4") : NULL;
    CHECK(b && sim_json_u64(b, "b_info.max_vcpus", &v) == 1 && v == 4);
    CHECK(b && sim_json_u64(b, "b_info.nothing", &v) == 0);
    CHECK(sim_json_set("[1]", "x", "1") == NULL); /* not an object */
    free(a);
    free(b);

    char *q = sim_json_quote("a\"b\\c\n");
    CHECK(streq(q, "\"a\\\"b\\\\c\\u000a\""));
    char buf[32];
    char *obj = NULL;
    if (q && asprintf(&obj, "{\"s\": %s}", q) > 0)
        CHECK(sim_json_str(obj, "s", buf, sizeof buf) == 1 && streq(buf, "a\"b\\c?"));
    free(obj);
    free(q);

    struct sim_span *e;
    size_t n;
    CHECK(sim_json_elements("[ {\"a\": [1, 2]}, \"x,y\", 3 ]", &e, &n) == 0 && n == 3);
    char *j = n == 3 ? sim_json_join(e, n, 1, "4") : NULL;
    CHECK(streq(j, "[\n{\"a\": [1, 2]},\n3,\n4\n]"));
    free(j);
    free(e);
    CHECK(sim_json_elements("[1, 2", &e, &n) < 0);
    CHECK(sim_json_elements("[]", &e, &n) == 0 && n == 0);
}

static char *config_of(struct dom_backend *b, uint32_t domid)
{
    char *json = NULL;
    CHECK_OK(dom_config(b, domid, &json, &err));
    return json ? json : strdup("");
}

static void info_of(struct dom_backend *b, uint32_t domid, struct dom_info *i)
{
    CHECK_OK(dom_info(b, domid, i, &err));
}

/* A refused change leaves the config and the metadata exactly as they were. */
#define REFUSED(call, want) do { \
    char *before_ = config_of(b, domid); struct dom_info bi_, ai_; info_of(b, domid, &bi_); \
    CHECK_CODE(call, want); \
    char *after_ = config_of(b, domid); info_of(b, domid, &ai_); \
    CHECKM(streq(before_, after_), "config changed by a refused %s", #call); \
    CHECK(bi_.memory_kb == ai_.memory_kb && bi_.max_memory_kb == ai_.max_memory_kb && \
          bi_.vcpus == ai_.vcpus && streq(bi_.digest, ai_.digest)); \
    free(before_); free(after_); } while (0)

static void test_memory_and_vcpus(struct dom_backend *b)
{
    const char *json = "{\"c_info\": {\"name\": \"\"}, \"b_info\": {\"max_vcpus\": 4, "
                       "\"avail_vcpus\": [0, 1], \"max_memkb\": 8192, \"target_memkb\": 4096}}";
    struct dom_create c = { .json = json, .name = "rt", .type = DOM_PV, .memory_kb = 4096,
                            .max_memory_kb = 8192, .vcpus = 4 };
    uint32_t domid = 0;
    CHECK_OK(dom_create(b, &c, &domid, &err));
    struct dom_info i;
    info_of(b, domid, &i);
    CHECKM(i.vcpus == 2, "vcpus online at create: %u (avail_vcpus has 2)", i.vcpus);

    REFUSED(dom_set_memory(b, domid, 9000, &err), "EINVAL");
    REFUSED(dom_set_memory(b, domid, 0, &err), "EINVAL");
    REFUSED(dom_set_max_memory(b, domid, 2048, &err), "EINVAL");
    CHECK_OK(dom_set_memory(b, domid, 2048, &err));
    info_of(b, domid, &i);
    CHECK(i.memory_kb == 2048);
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/domains/%u/memory", state_dir, domid);
    CHECK(stat(path, &st) == 0 && st.st_size == 2048 * 1024);
    char *cfg = config_of(b, domid);
    uint64_t v = 0;
    CHECK(sim_json_u64(cfg, "b_info.target_memkb", &v) == 1 && v == 2048);
    free(cfg);
    CHECK_OK(dom_set_max_memory(b, domid, 16384, &err));
    cfg = config_of(b, domid);
    CHECK(sim_json_u64(cfg, "b_info.max_memkb", &v) == 1 && v == 16384);
    free(cfg);

    REFUSED(dom_set_vcpus(b, domid, 0, &err), "EINVAL");
    REFUSED(dom_set_vcpus(b, domid, 5, &err), "EINVAL");
    CHECK_OK(dom_set_vcpus(b, domid, 3, &err));
    info_of(b, domid, &i);
    CHECK(i.vcpus == 3);
    cfg = config_of(b, domid);
    CHECKM(strstr(cfg, "\"avail_vcpus\": [0, 1, 2]") != NULL, "%s", cfg);
    free(cfg);

    struct dom_host host;
    CHECK_OK(dom_host(b, &host, &err));
    uint8_t map[DOM_CPUMAP_BYTES] = { 0 };
    map[host.max_cpus / 8] |= (uint8_t)(1u << (host.max_cpus % 8)); /* one past the last */
    REFUSED(dom_pin_vcpu(b, domid, 0, map, NULL, &err), "EINVAL");
    REFUSED(dom_pin_vcpu(b, domid, 4, NULL, NULL, &err), "EINVAL");
    memset(map, 0, sizeof map);
    map[0] = 1;
    CHECK_OK(dom_pin_vcpu(b, domid, 1, map, NULL, &err));
    struct dom_vcpu *vc = NULL;
    size_t n = 0;
    CHECK_OK(dom_vcpus(b, domid, &vc, &n, &err));
    CHECK(n == 4 && vc[1].hard[0] == 1 && vc[1].cpu == 0 && vc[2].online && !vc[3].online &&
          vc[3].cpu == -1);
    free(vc);

    struct dom_sched set = { 0, -1 }, out;
    REFUSED(dom_sched_credit2(b, domid, &set, &out, &err), "EINVAL");
    set = (struct dom_sched){ -1, 401 };
    REFUSED(dom_sched_credit2(b, domid, &set, &out, &err), "EINVAL");
    set = (struct dom_sched){ 100, 50 };
    CHECK_OK(dom_sched_credit2(b, domid, &set, &out, &err));
    CHECK(out.weight == 100 && out.cap == 50);
    CHECK_OK(dom_sched_credit2(b, domid, NULL, &out, &err));
    CHECK(out.weight == 100 && out.cap == 50);

    CHECK_CODE(dom_set_memory(b, 0, 1024, &err), "EPERM");
    CHECK_OK(dom_destroy(b, domid, &err));
}

static void test_devices(struct dom_backend *b)
{
    struct dom_create c = { .json = "{\"c_info\": {}, \"b_info\": {}}", .name = "dev",
                            .type = DOM_PV, .memory_kb = 4096 };
    uint32_t domid = 0;
    CHECK_OK(dom_create(b, &c, &domid, &err));
    const char *xvdb = "{\"pdev_path\": \"/x.img\", \"vdev\": \"xvdb\", \"readwrite\": 1}";
    CHECK_OK(dom_device_add(b, domid, DOM_DEV_DISK, xvdb, &err));
    REFUSED(dom_device_add(b, domid, DOM_DEV_DISK, xvdb, &err), "EXISTS");
    REFUSED(dom_device_add(b, domid, DOM_DEV_DISK, "{\"vdev\": \"floppy\"}", &err), "EINVAL");
    /* a disk is its device number, whatever the name: xvdb is 51728 and d1p0 */
    REFUSED(dom_device_add(b, domid, DOM_DEV_DISK, "{\"vdev\": \"51728\"}", &err), "EXISTS");
    REFUSED(dom_device_add(b, domid, DOM_DEV_DISK, "{\"vdev\": \"d1p0\"}", &err), "EXISTS");
    /* libxl's limits: no leading zero, xvd partitions < 256, disks < 2^20, sd 16, hd 4 */
    static const char *const bad[] = { "xvdb0", "xvdb256", "xvdzzzzzzzzzzzzzzzzzz", "xvdaaaaaa",
                                       "sdq", "sda16", "hde", "hda64", "4294967296", "xvd" };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char dev[80];
        snprintf(dev, sizeof dev, "{\"vdev\": \"%s\"}", bad[k]);
        REFUSED(dom_device_add(b, domid, DOM_DEV_DISK, dev, &err), "EINVAL");
    }
    REFUSED(dom_device_add(b, domid, DOM_DEV_DISK, "not json", &err), "EINVAL");
    REFUSED(dom_device_remove(b, domid, DOM_DEV_DISK, "xvdc", 0, &err), "ENODEV");
    char *list = NULL;
    CHECK_OK(dom_devices(b, domid, DOM_DEV_DISK, &list, &err));
    CHECKM(list && strstr(list, "\"devid\": 51728") != NULL && strstr(list, "\"state\": 4") != NULL, "%s",
           list);
    free(list);

    /* a cdrom: only a disk that is one takes a medium */
    CHECK_OK(dom_device_add(b, domid, DOM_DEV_DISK, "{\"vdev\": \"hdc\", \"is_cdrom\": 1}", &err));
    REFUSED(dom_cd_insert(b, domid, "{\"vdev\": \"xvdb\", \"pdev_path\": \"/a.iso\"}", &err),
            "EINVAL");
    CHECK_OK(dom_cd_insert(b, domid, "{\"vdev\": \"hdc\", \"pdev_path\": \"/a.iso\"}", &err));
    char *cfg = config_of(b, domid);
    CHECKM(strstr(cfg, "\"pdev_path\": \"/a.iso\"") != NULL, "%s", cfg);
    free(cfg);

    /* nics: the next devid, a mac of 00:16:3e when none is given */
    CHECK_OK(dom_device_add(b, domid, DOM_DEV_NIC, "{\"bridge\": \"br0\"}", &err));
    CHECK_OK(dom_device_add(b, domid, DOM_DEV_NIC, "{\"bridge\": \"br1\"}", &err));
    CHECK_OK(dom_devices(b, domid, DOM_DEV_NIC, &list, &err));
    CHECKM(list && strstr(list, "\"devid\": 1") != NULL && strstr(list, "00:16:3e:") != NULL, "%s",
           list);
    free(list);
    REFUSED(dom_device_add(b, domid, DOM_DEV_NIC, "{\"devid\": 1}", &err), "EXISTS");
    CHECK_OK(dom_device_remove(b, domid, DOM_DEV_NIC, "0", 0, &err));

    CHECK_OK(dom_device_add(b, domid, DOM_DEV_PCI, "{\"bus\": 3, \"func\": 1}", &err));
    REFUSED(dom_device_add(b, domid, DOM_DEV_PCI, "{\"bus\": 3, \"func\": 1}", &err), "EXISTS");
    CHECK_OK(dom_device_remove(b, domid, DOM_DEV_PCI, "0000:03:00.1", 1, &err));
    CHECK_OK(dom_device_remove(b, domid, DOM_DEV_DISK, "51728", 0, &err)); /* xvdb by number */
    cfg = config_of(b, domid);
    CHECKM(!strstr(cfg, "xvdb") && strstr(cfg, "hdc") != NULL && strstr(cfg, "br1") != NULL &&
           !strstr(cfg, "br0"), "%s", cfg);
    free(cfg);
    CHECK_CODE(dom_device_add(b, 0, DOM_DEV_DISK, xvdb, &err), "EPERM");
    CHECK_CODE(dom_device_add(b, 999, DOM_DEV_DISK, xvdb, &err), "NODOMAIN");
    CHECK_OK(dom_destroy(b, domid, &err));
}

int main(void)
{
    char tmpl[] = "/tmp/xlua-rt-test.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    snprintf(state_dir, sizeof state_dir, "%s/state", tmpl);
    setenv("XLUA_SIM_DIR", state_dir, 1);
    unsetenv("XLUA_BACKEND");
    test_json_editor();
    struct dom_backend *b = NULL;
    CHECK_OK(dom_open("sim", &b, &err));
    if (b) {
        test_memory_and_vcpus(b);
        test_devices(b);
        dom_close(b);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        failures++;
    return check_summary("test_sim_runtime");
}
