/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_error.c: GError quarks that carry libvirt error domains, and
 * messages worded exactly like libvirt's, so clients print what they
 * would print for a libvirt daemon.
 */
#include "hyve-config.h"

#include <stdarg.h>
#include <string.h>

#include "hyve_error.h"

#define HYVE_ERROR_QUARK_PREFIX "hyve-error-"

/*
 * libvirt's two texts per error number (libvirt 9.0 virErrorMsgStrings):
 * @msg is used when the detail is empty, @msginfo otherwise, with its
 * single "%s" replaced by the detail. Only the numbers hyve_error.h names.
 */
typedef struct {
    HyveErrorCode code;
    const char *msg;
    const char *msginfo;
} HyveErrorText;

static const HyveErrorText hyve_error_texts[] = {
    { HYVE_ERR_INTERNAL_ERROR, "internal error", "internal error: %s" },
    { HYVE_ERR_NO_MEMORY, "out of memory", "out of memory: %s" },
    { HYVE_ERR_NO_SUPPORT, "this function is not supported by the connection driver",
      "this function is not supported by the connection driver: %s" },
    { HYVE_ERR_NO_CONNECT, "no connection driver available",
      "no connection driver available for %s" },
    { HYVE_ERR_INVALID_CONN, "invalid connection pointer in",
      "invalid connection pointer in %s" },
    { HYVE_ERR_INVALID_DOMAIN, "invalid domain pointer in", "invalid domain pointer in %s" },
    { HYVE_ERR_INVALID_ARG, "invalid argument", "invalid argument: %s" },
    { HYVE_ERR_OPERATION_FAILED, "operation failed", "operation failed: %s" },
    { HYVE_ERR_OS_TYPE, "unknown OS type", "unknown OS type %s" },
    { HYVE_ERR_NO_KERNEL, "missing kernel information", "missing kernel information: %s" },
    { HYVE_ERR_NO_NAME, "missing name information", "missing name information in %s" },
    { HYVE_ERR_XML_ERROR, "XML description is invalid or not well formed", "XML error: %s" },
    { HYVE_ERR_DOM_EXIST, "this domain exists already", "domain %s exists already" },
    { HYVE_ERR_OPERATION_DENIED, "operation forbidden for read only access",
      "operation forbidden: %s" },
    { HYVE_ERR_OPEN_FAILED, "failed to open configuration file",
      "failed to open configuration file %s" },
    { HYVE_ERR_READ_FAILED, "failed to read configuration file",
      "failed to read configuration file %s" },
    { HYVE_ERR_PARSE_FAILED, "failed to parse configuration file",
      "failed to parse configuration file %s" },
    { HYVE_ERR_CONF_SYNTAX, "configuration file syntax error",
      "configuration file syntax error: %s" },
    { HYVE_ERR_WRITE_FAILED, "failed to write configuration file",
      "failed to write configuration file: %s" },
    { HYVE_ERR_XML_DETAIL, "parser error", "%s" },
    { HYVE_ERR_INVALID_NETWORK, "invalid network pointer in", "invalid network pointer in %s" },
    { HYVE_ERR_NETWORK_EXIST, "this network exists already", "network %s exists already" },
    { HYVE_ERR_SYSTEM_ERROR, "system call error", "%s" },
    { HYVE_ERR_RPC, "RPC error", "%s" },
    { HYVE_ERR_NO_DOMAIN, "Domain not found", "Domain not found: %s" },
    { HYVE_ERR_NO_NETWORK, "Network not found", "Network not found: %s" },
    { HYVE_ERR_INVALID_MAC, "invalid MAC address", "invalid MAC address: %s" },
    { HYVE_ERR_AUTH_FAILED, "authentication failed", "authentication failed: %s" },
    { HYVE_ERR_INVALID_STORAGE_POOL, "invalid storage pool pointer in",
      "invalid storage pool pointer in %s" },
    { HYVE_ERR_INVALID_STORAGE_VOL, "invalid storage volume pointer in",
      "invalid storage volume pointer in %s" },
    { HYVE_ERR_NO_STORAGE_POOL, "Storage pool not found", "Storage pool not found: %s" },
    { HYVE_ERR_NO_STORAGE_VOL, "Storage volume not found", "Storage volume not found: %s" },
    { HYVE_ERR_NO_NODE_DEVICE, "Node device not found", "Node device not found: %s" },
    { HYVE_ERR_OPERATION_INVALID, "Requested operation is not valid",
      "Requested operation is not valid: %s" },
    { HYVE_ERR_NO_SECRET, "Secret not found", "Secret not found: %s" },
    { HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration",
      "unsupported configuration: %s" },
    { HYVE_ERR_OPERATION_TIMEOUT, "Timed out during operation",
      "Timed out during operation: %s" },
    { HYVE_ERR_INVALID_STREAM, "invalid stream pointer", "invalid stream pointer in %s" },
    { HYVE_ERR_ARGUMENT_UNSUPPORTED, "argument unsupported", "argument unsupported: %s" },
    { HYVE_ERR_STORAGE_PROBE_FAILED, "Storage pool probe failed",
      "Storage pool probe failed: %s" },
    { HYVE_ERR_STORAGE_POOL_BUILT, "Storage pool already built",
      "Storage pool already built: %s" },
    { HYVE_ERR_OPERATION_ABORTED, "operation aborted", "operation aborted: %s" },
    { HYVE_ERR_AUTH_CANCELLED, "authentication cancelled", "authentication cancelled: %s" },
    { HYVE_ERR_NO_DOMAIN_METADATA, "metadata not found", "metadata not found: %s" },
    { HYVE_ERR_OVERFLOW, "numerical overflow", "numerical overflow: %s" },
    { HYVE_ERR_OPERATION_UNSUPPORTED, "Operation not supported",
      "Operation not supported: %s" },
    { HYVE_ERR_RESOURCE_BUSY, "resource busy", "resource busy: %s" },
    { HYVE_ERR_ACCESS_DENIED, "access denied", "access denied: %s" },
    { HYVE_ERR_STORAGE_VOL_EXIST, "this storage volume exists already",
      "storage volume %s exists already" },
    { HYVE_ERR_XML_INVALID_SCHEMA, "XML document failed to validate against schema",
      "XML document failed to validate against schema: %s" },
    { HYVE_ERR_AUTH_UNAVAILABLE, "authentication unavailable",
      "authentication unavailable: %s" },
};

static const HyveErrorText *
hyve_error_text_lookup(HyveErrorCode code)
{
    for (gsize i = 0; i < G_N_ELEMENTS(hyve_error_texts); i++) {
        if (hyve_error_texts[i].code == code)
            return &hyve_error_texts[i];
    }
    return NULL;
}

/*
 * The quark's string is "hyve-error-<domain number>": built on demand and
 * interned by GLib (g_quark_from_string is thread-safe), so every
 * HyveErrorFrom value, even one added to the header later, has its quark.
 */
GQuark
hyve_error_quark(HyveErrorFrom from)
{
    char name[sizeof(HYVE_ERROR_QUARK_PREFIX) + 16];

    g_snprintf(name, sizeof(name), HYVE_ERROR_QUARK_PREFIX "%d", (int)from);
    return g_quark_from_string(name);
}

gboolean
hyve_error_from_quark(GQuark quark, HyveErrorFrom *from)
{
    const char *name = g_quark_to_string(quark);
    const char *num;
    char *end = NULL;
    gint64 val;

    if (!name || !g_str_has_prefix(name, HYVE_ERROR_QUARK_PREFIX))
        return FALSE;
    num = name + strlen(HYVE_ERROR_QUARK_PREFIX);
    if (!g_ascii_isdigit(*num))
        return FALSE;
    val = g_ascii_strtoll(num, &end, 10);
    if (*end != '\0' || val > G_MAXINT)
        return FALSE;
    if (from)
        *from = (HyveErrorFrom)val;
    return TRUE;
}

const char *
hyve_error_code_prefix(HyveErrorCode code)
{
    const HyveErrorText *text = hyve_error_text_lookup(code);

    return text ? text->msg : NULL;
}

/* libvirt's @msginfo with its "%s" replaced by @detail. */
static char *
hyve_error_format_info(const char *msginfo, const char *detail)
{
    const char *hole = strstr(msginfo, "%s");

    if (!hole)
        return g_strdup(msginfo);
    return g_strdup_printf("%.*s%s%s", (int)(hole - msginfo), msginfo, detail, hole + 2);
}

void
hyve_error_set(GError **error, HyveErrorFrom from, HyveErrorCode code,
               const char *fmt, ...)
{
    const HyveErrorText *text;
    g_autofree char *detail = NULL;
    g_autofree char *message = NULL;
    va_list args;

    if (!error)
        return;

    /* libvirt never raises "no error"; treat it as an internal error. */
    if (code == HYVE_ERR_OK)
        code = HYVE_ERR_INTERNAL_ERROR;

    if (fmt) {
        va_start(args, fmt);
        detail = g_strdup_vprintf(fmt, args);
        va_end(args);
    }

    text = hyve_error_text_lookup(code);
    if (!text)
        message = g_strdup(detail && *detail ? detail : "unknown error");
    else if (detail && *detail)
        message = hyve_error_format_info(text->msginfo, detail);
    else
        message = g_strdup(text->msg);

    g_set_error_literal(error, hyve_error_quark(from), (int)code, message);
}

gboolean
hyve_error_set_errno(GError **error, HyveErrorFrom from, int err, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list args;

    if (!error)
        return FALSE;
    va_start(args, fmt);
    what = g_strdup_vprintf(fmt, args);
    va_end(args);
    hyve_error_set(error, from, HYVE_ERR_SYSTEM_ERROR, "%s: %s", what, g_strerror(err));
    return FALSE;
}
