/* core/base/xxh3_avx2.c: xxhash's XXH3 inlined, compiled with -mavx2 (core/CMakeLists.txt) on
 * x86-64 only; xxh3_fast.c calls it where the CPU has AVX2. Nothing else may be added here:
 * every instruction of this unit may be an AVX2 one. */
#if XLUA_XXH3_AVX2
#define XXH_INLINE_ALL
#include <xxhash.h>

void xxh3_avx2_update(XXH3_state_t *s, const void *p, size_t n);

void xxh3_avx2_update(XXH3_state_t *s, const void *p, size_t n)
{
    XXH3_128bits_update(s, p, n);
}
#else
typedef int xxh3_avx2_unused; /* an empty unit is not ISO C */
#endif
