/* spec/bench/bench_cfg.c: xlua's xl.cfg parser against libxlutil's on one large config, in one
 * process, alternating the two; prints "XLUA_US REF_US" (the medians of ROUNDS parses each).
 *   bench_cfg [ROUNDS [SETTINGS]]
 * The config is made here: SETTINGS settings of every kind an xl.cfg has (numbers, strings with
 * escapes, lists of strings, nested lists, comments, += appends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxlutil.h>

#include "xlcfg/cfg_parse.h"

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

static char *make_config(int settings, size_t *len)
{
    size_t cap = (size_t)settings * 200 + 64, n = 0;
    char *t = malloc(cap);
    if (!t)
        exit(99);
    for (int i = 0; i < settings; i++) {
        switch (i % 5) {
        case 0:
            n += (size_t)snprintf(t + n, cap - n, "# setting %d\nmemory_%d = %d\n", i, i, i * 7);
            break;
        case 1:
            n += (size_t)snprintf(t + n, cap - n, "name_%d = \"guest-%d \\\"q\\\" \\t z\"\n", i, i);
            break;
        case 2:
            n += (size_t)snprintf(t + n, cap - n, "disk_%d = [ 'phy:/dev/vg/d%d,xvda,w', "
                                  "'file:/var/img/%d.img,xvdb,r' ]\n", i, i, i);
            break;
        case 3:
            n += (size_t)snprintf(t + n, cap - n, "vif_%d = [ [ 'mac=00:16:3e:00:00:%02x', "
                                  "'bridge=br0' ], [ 'x', 0x%x ] ]\n", i, i & 0xff, i);
            break;
        default:
            n += (size_t)snprintf(t + n, cap - n, "extra_%d = \"a\"\nextra_%d += \"b c d\"\n",
                                  i, i);
        }
    }
    *len = n;
    return t;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int parse_xlua(const char *text, size_t len)
{
    struct cfg_file *f;
    struct xerr e;
    if (cfg_parse(text, len, "bench.cfg", &f, &e) < 0) {
        fprintf(stderr, "bench_cfg: xlua: %s\n", e.message);
        return -1;
    }
    cfg_free(f);
    return 0;
}

static int parse_ref(const char *text, size_t len, FILE *report)
{
    XLU_Config *c = xlu_cfg_init(report, "bench.cfg");
    if (!c || xlu_cfg_readdata(c, text, (int)len) != 0) {
        fprintf(stderr, "bench_cfg: libxlutil refused the config\n");
        return -1;
    }
    xlu_cfg_destroy(c);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    int settings = argc > 2 ? atoi(argv[2]) : 20000;
    if (rounds < 1 || settings < 1) {
        fprintf(stderr, "usage: bench_cfg [ROUNDS [SETTINGS]]\n");
        return 2;
    }
    size_t len;
    char *text = make_config(settings, &len);
    FILE *devnull = fopen("/dev/null", "w");
    long long *mine = calloc((size_t)rounds, sizeof *mine);
    long long *ref = calloc((size_t)rounds, sizeof *ref);
    if (!devnull || !mine || !ref)
        return 99;
    /* The side that goes first alternates: the first parse of a round may pay for the heap
     * the other side's free gave back to the kernel. */
    for (int r = 0; r < rounds; r++) {
        for (int side = 0; side < 2; side++) {
            long long t0 = now_ns();
            if ((side + r) % 2 == 0) {
                if (parse_xlua(text, len) < 0)
                    return 1;
                mine[r] = now_ns() - t0;
            } else {
                if (parse_ref(text, len, r == 0 ? stderr : devnull) < 0)
                    return 1;
                ref[r] = now_ns() - t0;
            }
        }
    }
    qsort(mine, (size_t)rounds, sizeof *mine, cmp);
    qsort(ref, (size_t)rounds, sizeof *ref, cmp);
    printf("%lld %lld %zu\n", mine[rounds / 2] / 1000, ref[rounds / 2] / 1000, len);
    free(text);
    free(mine);
    free(ref);
    fclose(devnull);
    return 0;
}
