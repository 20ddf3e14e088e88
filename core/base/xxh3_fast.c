/* core/base/xxh3_fast.c: XXH3-128 updates on AVX2 where the CPU has it. Debian's libxxhash is
 * built for the x86-64 baseline (SSE2): 9 GB/s here where AVX2 gives 25, and the trailer and
 * the sim's image digest hash every byte of a save or restore. xxhash's own code, inlined and
 * compiled with -mavx2, is a unit of its own (xxh3_avx2.c), called only on a CPU with AVX2. */
#include "xxh3_fast.h"

#if XLUA_XXH3_AVX2
void xxh3_avx2_update(XXH3_state_t *s, const void *p, size_t n);
#endif

void xxh3_update(XXH3_state_t *s, const void *p, size_t n)
{
#if XLUA_XXH3_AVX2
    if (__builtin_cpu_supports("avx2")) {
        xxh3_avx2_update(s, p, n);
        return;
    }
#endif
    XXH3_128bits_update(s, p, n);
}
