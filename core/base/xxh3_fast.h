/* core/base/xxh3_fast.h: XXH3-128 updates with the widest vectors the CPU has (xxh3_fast.c). */
#ifndef XLUA_XXH3_FAST_H
#define XLUA_XXH3_FAST_H

#include <stddef.h>
#include <xxhash.h>

/* XXH3_128bits_update(s, p, n), faster where the CPU has AVX2: the same hash either way
 * (XXH3's result does not depend on the vector width), so a state may be reset, updated and
 * digested by libxxhash and updated here in any mix. */
void xxh3_update(XXH3_state_t *s, const void *p, size_t n);

#endif
