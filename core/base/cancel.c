/* core/base/cancel.c: the one cancel flag (see cancel.h). */
#include "cancel.h"

volatile sig_atomic_t xcancel_signal;
