/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_error.h: errors that travel to libvirt clients.
 *
 * Every GError raised inside the driver or daemon that a client may see uses
 * one of the quarks below. The quark names libvirt's error *domain*
 * (virErrorDomain, "where it came from"); the GError code is libvirt's
 * virErrorNumber. The daemon turns such a GError into a remote_error with
 * exactly those two numbers, so clients see the codes they expect.
 *
 * Report once, where the failure is detected, with hyve_error_set(); callers
 * only propagate (g_propagate_error) or add context (g_prefix_error).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* libvirt virErrorNumber values (libvirt/virterror.h). */
typedef enum {
    HYVE_ERR_OK = 0,
    HYVE_ERR_INTERNAL_ERROR = 1,
    HYVE_ERR_NO_MEMORY = 2,
    HYVE_ERR_NO_SUPPORT = 3,
    HYVE_ERR_NO_CONNECT = 5,
    HYVE_ERR_INVALID_CONN = 6,
    HYVE_ERR_INVALID_DOMAIN = 7,
    HYVE_ERR_INVALID_ARG = 8,
    HYVE_ERR_OPERATION_FAILED = 9,
    HYVE_ERR_OS_TYPE = 16,
    HYVE_ERR_NO_KERNEL = 17,
    HYVE_ERR_NO_NAME = 21,
    HYVE_ERR_XML_ERROR = 27,
    HYVE_ERR_DOM_EXIST = 28,
    HYVE_ERR_OPERATION_DENIED = 29,
    HYVE_ERR_OPEN_FAILED = 30,
    HYVE_ERR_READ_FAILED = 31,
    HYVE_ERR_PARSE_FAILED = 32,
    HYVE_ERR_CONF_SYNTAX = 33,
    HYVE_ERR_WRITE_FAILED = 34,
    HYVE_ERR_XML_DETAIL = 35,
    HYVE_ERR_INVALID_NETWORK = 36,
    HYVE_ERR_NETWORK_EXIST = 37,
    HYVE_ERR_SYSTEM_ERROR = 38,
    HYVE_ERR_RPC = 39,
    HYVE_ERR_NO_DOMAIN = 42,
    HYVE_ERR_NO_NETWORK = 43,
    HYVE_ERR_INVALID_MAC = 44,
    HYVE_ERR_AUTH_FAILED = 45,
    HYVE_ERR_INVALID_STORAGE_POOL = 46,
    HYVE_ERR_INVALID_STORAGE_VOL = 47,
    HYVE_ERR_NO_STORAGE_POOL = 49,
    HYVE_ERR_NO_STORAGE_VOL = 50,
    HYVE_ERR_NO_NODE_DEVICE = 53,
    HYVE_ERR_OPERATION_INVALID = 55,
    HYVE_ERR_NO_SECRET = 66,
    HYVE_ERR_CONFIG_UNSUPPORTED = 67,
    HYVE_ERR_OPERATION_TIMEOUT = 68,
    HYVE_ERR_INVALID_STREAM = 73,
    HYVE_ERR_ARGUMENT_UNSUPPORTED = 74,
    HYVE_ERR_STORAGE_PROBE_FAILED = 75,
    HYVE_ERR_STORAGE_POOL_BUILT = 76,
    HYVE_ERR_OPERATION_ABORTED = 78,
    HYVE_ERR_AUTH_CANCELLED = 79,
    HYVE_ERR_NO_DOMAIN_METADATA = 80,
    HYVE_ERR_OVERFLOW = 82,
    HYVE_ERR_OPERATION_UNSUPPORTED = 84,
    HYVE_ERR_RESOURCE_BUSY = 87,
    HYVE_ERR_ACCESS_DENIED = 88,
    HYVE_ERR_STORAGE_VOL_EXIST = 90,
    HYVE_ERR_XML_INVALID_SCHEMA = 92,
    HYVE_ERR_AUTH_UNAVAILABLE = 94,
} HyveErrorCode;

/* libvirt virErrorDomain values (libvirt/virterror.h). */
typedef enum {
    HYVE_FROM_NONE = 0,
    HYVE_FROM_XML = 5,
    HYVE_FROM_RPC = 7,
    HYVE_FROM_CONF = 9,
    HYVE_FROM_REMOTE = 13,
    HYVE_FROM_STORAGE = 18,
    HYVE_FROM_NETWORK = 19,
    HYVE_FROM_DOMAIN = 20,
    HYVE_FROM_NODEDEV = 22,
    HYVE_FROM_CAPABILITIES = 44,
    HYVE_FROM_STREAMS = 38,
    HYVE_FROM_ACCESS = 55,
    HYVE_FROM_BHYVE = 57,
    HYVE_FROM_POLKIT = 60,
} HyveErrorFrom;

/*
 * One GQuark per libvirt error domain; hyve_error_quark(from) returns it
 * (created on first use, thread-safe) and hyve_error_from_quark() maps back.
 * A GError whose domain is not a hyve quark is reported to clients as
 * HYVE_ERR_INTERNAL_ERROR from HYVE_FROM_BHYVE with its message.
 */
GQuark hyve_error_quark(HyveErrorFrom from);
gboolean hyve_error_from_quark(GQuark quark, HyveErrorFrom *from);

/*
 * Set *error like libvirt's virReportError(): the message is libvirt's
 * standard prefix for @code (e.g. "Requested operation is not valid: ")
 * followed by the formatted detail, so clients print what libvirt would.
 * No-op when error is NULL.
 */
void hyve_error_set(GError **error, HyveErrorFrom from, HyveErrorCode code,
                    const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* SYSTEM_ERROR "<formatted text>: <strerror(@err)>" (libvirt's
 * virReportSystemError); always returns FALSE so callers can
 * `return hyve_error_set_errno(...)`. */
gboolean hyve_error_set_errno(GError **error, HyveErrorFrom from, int err,
                              const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* libvirt's standard prefix text for a code ("Domain not found", ...). */
const char *hyve_error_code_prefix(HyveErrorCode code);

G_END_DECLS
