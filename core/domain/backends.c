/* core/domain/backends.c: the one place that names the backends: every kind, in order of
 * preference (the first whose probe says yes is the default). */
#include "libxl/dom_libxl.h"
#include "sim/dom_sim.h"

const struct dom_backend_kind *const dom_backend_kinds[] = {
    &dom_libxl_kind,
    &dom_sim_kind,
    NULL,
};
