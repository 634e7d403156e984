/*
 * hvr_error.h: the runner's GError domain.
 *
 * Design note: bhyve-runner is a separate process and does not link the
 * driver, but its error codes carry the libvirt virErrorNumber values the
 * driver would use for the same problem, so a message relayed by the driver
 * keeps its meaning.  Errors are reported once, where detected; callers add
 * context with g_prefix_error().  Thread-safe (constant data).
 */
#ifndef HVR_ERROR_H
#define HVR_ERROR_H

#include <glib.h>

#define HVR_ERROR hvr_error_quark()
GQuark hvr_error_quark(void);

typedef enum {
    HVR_ERROR_INTERNAL = 1,             /* VIR_ERR_INTERNAL_ERROR */
    HVR_ERROR_OPEN_FAILED = 30,         /* VIR_ERR_OPEN_FAILED */
    HVR_ERROR_READ_FAILED = 31,         /* VIR_ERR_READ_FAILED */
    HVR_ERROR_CONF_SYNTAX = 33,         /* VIR_ERR_CONF_SYNTAX */
    HVR_ERROR_SYSTEM = 38,              /* VIR_ERR_SYSTEM_ERROR */
    HVR_ERROR_OPERATION_INVALID = 55,   /* VIR_ERR_OPERATION_INVALID */
    HVR_ERROR_CONFIG_UNSUPPORTED = 67,  /* VIR_ERR_CONFIG_UNSUPPORTED */
} HvrErrorCode;

#endif
