/* spec/fuzz/fuzz_cfg_diff.c: libFuzzer target: xlua's xl.cfg parser against libxlutil's, with
 * the oracle of spec/c/test_cfg_diff.c (same verdict, same values and lines, the documented
 * differences allowed): that test's random configs, but grown by coverage.
 * Inputs with a NUL byte are left out: xlua rejects them, and libxlutil 4.17 fails an assertion
 * on one inside a quoted string (xlu__cfgl_dequote: `'\0'` aborts xl too). */
#define main test_cfg_diff_main
#include "../c/test_cfg_diff.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, 0, size))
        return 0;
    compare("fuzz.cfg", (const char *)data, size, NULL);
    if (failures)
        abort();
    return 0;
}
