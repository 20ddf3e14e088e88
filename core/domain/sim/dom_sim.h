/* core/domain/sim/dom_sim.h: the sim backend (a simulated hypervisor in a state directory): its
 * kind for backends.c, and opening it on a given directory (tests do). */
#ifndef XLUA_DOM_SIM_H
#define XLUA_DOM_SIM_H

#include "domain/dom.h"

extern const struct dom_backend_kind dom_sim_kind;

/* state_dir NULL: $XLUA_SIM_DIR, else /var/lib/xlua/sim for root, else
 * $XDG_STATE_HOME/xlua/sim or ~/.local/state/xlua/sim. */
int dom_sim_open(const char *state_dir, struct dom_backend **out, struct xerr *err);

/* Make the domain's device nodes in the sim's xenstore (frontends under
 * /local/domain/<domid>/device, backends under /local/domain/0/backend/<kind>/<domid>) match
 * the disks and nics of its config.json: for hotplug, after config.json changed. Takes the
 * sim's lock; sim_xs_sync_devices in dom_sim_int.h is the same for a caller that holds it. */
int dom_sim_xs_sync_devices(struct dom_backend *b, uint32_t domid, struct xerr *err);

#endif
