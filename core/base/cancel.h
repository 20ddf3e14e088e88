/* core/base/cancel.h: a request to stop, made by a signal handler of the host (SIGINT, SIGTERM,
 * SIGHUP): the core's blocking reads, writes and polls give up at their next EINTR with errno
 * EINTR instead of restarting, so a save or restore stuck on a pipe can be put back. */
#ifndef XLUA_CANCEL_H
#define XLUA_CANCEL_H

#include <errno.h>
#include <signal.h>

/* The signal that asked, 0 when none. Only the host sets and clears it. */
extern volatile sig_atomic_t xcancel_signal;

/* Whether a stop was asked for: loops that move data check it between calls too, since a
 * blocking write the signal interrupted after it moved some bytes returns that count, not
 * EINTR. */
static inline int xcancel_requested(void)
{
    return xcancel_signal != 0;
}

/* Restart a system call that failed with errno EINTR? Not once a stop was asked for. */
static inline int xcancel_retry(int errnum)
{
    return errnum == EINTR && xcancel_signal == 0;
}

#endif
