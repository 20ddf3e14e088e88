/* core/domain/sim/dom_sim.h: the sim backend (a simulated hypervisor in a state directory): its
 * kind for backends.c, and opening it on a given directory (tests do). */
#ifndef XLUA_DOM_SIM_H
#define XLUA_DOM_SIM_H

#include "domain/dom.h"

extern const struct dom_backend_kind dom_sim_kind;

/* state_dir NULL: $XLUA_SIM_DIR, else /var/lib/xlua/sim for root, else
 * $XDG_STATE_HOME/xlua/sim or ~/.local/state/xlua/sim. */
int dom_sim_open(const char *state_dir, struct dom_backend **out, struct xerr *err);

#endif
