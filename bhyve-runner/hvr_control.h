/*
 * hvr_control.h: the per-VM control socket (control.socket=PATH).
 *
 * Design note: a SOCK_STREAM unix socket speaking a line protocol, one request
 * per line, one reply line per request (documented in bhyve-runner(8)):
 *   powerdown | poweroff | reset | pause | resume | status | stats
 * Replies are "ok[ PAYLOAD]" or "error CODE MESSAGE" where CODE is the
 * libvirt error number (e.g. 55 OPERATION_INVALID).  Requests are dispatched
 * from one table of typed handlers (name -> function).
 *
 * Thread-safety: everything runs in the main thread (GMainContext of the
 * machine); handlers call the thread-safe hvr_machine_* API.
 */
#ifndef HVR_CONTROL_H
#define HVR_CONTROL_H

#include "hvr_machine.h"

typedef struct _HvrControl HvrControl;

HvrControl *hvr_control_new(HvrMachine *m, const char *path, GError **error);
void hvr_control_free(HvrControl *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvrControl, hvr_control_free)

/* Handle one request line (without newline); returns the reply line without
 * newline (exposed for tests). */
char *hvr_control_handle(HvrMachine *m, const char *line);

#endif
