/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_packet.c: framing of libvirt RPC packets (see hyved_packet.h).
 *
 * All encoding and decoding goes through xdrmem streams over one flat
 * buffer; the rpcgen filters from hyved_protocol.x enforce the string and
 * array maxima, this file enforces the packet limits and exact lengths.
 */
#include <string.h>

#include "hyved_packet.h"
#include "hyved_protocol.h"
#include "hyve_error.h"

#define HYVED_PACKET_MIN (HYVED_MESSAGE_LEN_MAX + HYVED_MESSAGE_HEADER_MAX)

gboolean
hyved_packet_parse_length(const guint8 buf[4], guint32 *total_len, GError **error)
{
    guint32 len = ((guint32)buf[0] << 24) | ((guint32)buf[1] << 16) |
                  ((guint32)buf[2] << 8) | (guint32)buf[3];

    if (len < HYVED_PACKET_MIN) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "packet length %u is smaller than the minimum %u",
                       len, HYVED_PACKET_MIN);
        return FALSE;
    }
    if (len - HYVED_MESSAGE_LEN_MAX > HYVED_MESSAGE_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "packet length %u exceeds the maximum %u",
                       len, HYVED_MESSAGE_MAX + HYVED_MESSAGE_LEN_MAX);
        return FALSE;
    }
    *total_len = len;
    return TRUE;
}

static bool_t
hyved_packet_xdr_header(XDR *xdrs, HyvedHeader *hdr)
{
    return xdr_u_int(xdrs, &hdr->prog) &&
           xdr_u_int(xdrs, &hdr->vers) &&
           xdr_int(xdrs, &hdr->proc) &&
           xdr_int(xdrs, &hdr->type) &&
           xdr_u_int(xdrs, &hdr->serial) &&
           xdr_int(xdrs, &hdr->status);
}

gboolean
hyved_packet_decode_header(const guint8 *buf, gsize len, HyvedHeader *hdr, GError **error)
{
    XDR xdrs;
    gboolean ok;

    if (len < HYVED_MESSAGE_HEADER_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "message header truncated: %zu of %u bytes",
                       (size_t)len, HYVED_MESSAGE_HEADER_MAX);
        return FALSE;
    }
    xdrmem_create(&xdrs, (char *)buf, HYVED_MESSAGE_HEADER_MAX, XDR_DECODE);
    ok = hyved_packet_xdr_header(&xdrs, hdr);
    xdr_destroy(&xdrs);
    if (!ok) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "unable to decode message header");
        return FALSE;
    }
    return TRUE;
}

static gboolean
hyved_packet_is_canonical(const guint8 *payload, gsize len, xdrproc_t filter, void *obj)
{
    g_autofree guint8 *buf = NULL;
    XDR xdrs;
    gboolean ok;

    if (xdr_sizeof(filter, obj) != len)
        return FALSE;
    if (len == 0)
        return TRUE;
    buf = g_malloc(len);
    xdrmem_create(&xdrs, (char *)buf, (u_int)len, XDR_ENCODE);
    ok = filter(&xdrs, obj) && xdr_getpos(&xdrs) == len;
    xdr_destroy(&xdrs);
    return ok && memcmp(buf, payload, len) == 0;
}

gboolean
hyved_packet_decode_payload(const guint8 *payload, gsize len, xdrproc_t filter,
                            void *obj, GError **error)
{
    XDR xdrs;
    gboolean ok;
    guint pos;

    if (len > HYVED_MESSAGE_PAYLOAD_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "message payload of %zu bytes exceeds the maximum %u",
                       (size_t)len, HYVED_MESSAGE_PAYLOAD_MAX);
        return FALSE;
    }
    if (!filter)
        filter = (xdrproc_t)hyved_xdr_void;

    /* xdrmem never writes when decoding; the cast only drops const. */
    xdrmem_create(&xdrs, (char *)(len ? payload : (const guint8 *)""), (u_int)len,
                  XDR_DECODE);
    ok = filter(&xdrs, obj);
    pos = xdr_getpos(&xdrs);
    xdr_destroy(&xdrs);

    if (!ok) {
        xdr_free(filter, obj);
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "unable to decode message payload (%zu bytes): truncated "
                       "or a string/array exceeds its limit", (size_t)len);
        return FALSE;
    }
    if (pos != len) {
        xdr_free(filter, obj);
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "message payload has %zu trailing bytes",
                       (size_t)(len - pos));
        return FALSE;
    }
    /* Only canonical XDR is accepted: re-encoding must give the same bytes.
     * This rejects what the decoders let through silently: strings with an
     * embedded NUL (the C string would end there), non-zero padding and
     * char/short values that do not fit. libvirt clients never send those. */
    if (!hyved_packet_is_canonical(payload, len, filter, obj)) {
        xdr_free(filter, obj);
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "message payload is not canonical XDR (embedded NUL byte in a "
                       "string, non-zero padding or out-of-range value)");
        return FALSE;
    }
    return TRUE;
}

/* Encodes length word + header + payload into a buffer of exactly
 * @payload_len + 28 bytes. */
static GBytes *
hyved_packet_encode_sized(const HyvedHeader *hdr, xdrproc_t filter, void *obj,
                          gsize payload_len, GError **error)
{
    gsize total = HYVED_PACKET_MIN + payload_len;
    g_autofree guint8 *buf = g_malloc0(total);
    HyvedHeader h = *hdr;
    guint32 len32 = (guint32)total;
    XDR xdrs;
    gboolean ok;
    guint pos;

    xdrmem_create(&xdrs, (char *)buf, (u_int)total, XDR_ENCODE);
    ok = xdr_u_int(&xdrs, &len32) &&
         hyved_packet_xdr_header(&xdrs, &h) &&
         filter(&xdrs, obj);
    pos = xdr_getpos(&xdrs);
    xdr_destroy(&xdrs);

    if (!ok || pos != total) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "unable to encode message payload for procedure %d",
                       hdr->proc);
        return NULL;
    }
    return g_bytes_new_take(g_steal_pointer(&buf), total);
}

GBytes *
hyved_packet_encode(const HyvedHeader *hdr, xdrproc_t filter, void *obj, GError **error)
{
    unsigned long size;

    if (!filter)
        filter = (xdrproc_t)hyved_xdr_void;

    /* xdr_sizeof() runs the filter in counting mode; a value that cannot be
     * encoded (string/array above its limit) makes the real encode below
     * fail, so a wrong estimate is never sent. */
    size = xdr_sizeof(filter, obj);
    if (size > HYVED_MESSAGE_PAYLOAD_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "message payload of %lu bytes for procedure %d exceeds the maximum %u",
                       size, hdr->proc, HYVED_MESSAGE_PAYLOAD_MAX);
        return NULL;
    }
    return hyved_packet_encode_sized(hdr, filter, obj, size, error);
}

GBytes *
hyved_packet_encode_raw(const HyvedHeader *hdr, const void *data, gsize len)
{
    gsize total;
    guint8 *buf;
    HyvedHeader h = *hdr;
    guint32 len32;
    XDR xdrs;
    gboolean ok;

    g_return_val_if_fail(len <= HYVED_MESSAGE_PAYLOAD_MAX, NULL);
    g_return_val_if_fail(data != NULL || len == 0, NULL);

    total = HYVED_PACKET_MIN + len;
    len32 = (guint32)total;
    buf = g_malloc(total);
    xdrmem_create(&xdrs, (char *)buf, HYVED_PACKET_MIN, XDR_ENCODE);
    ok = xdr_u_int(&xdrs, &len32) && hyved_packet_xdr_header(&xdrs, &h);
    xdr_destroy(&xdrs);
    g_assert(ok);
    if (len)
        memcpy(buf + HYVED_PACKET_MIN, data, len);
    return g_bytes_new_take(buf, total);
}

static GBytes *
hyved_packet_encode_error_type(const HyvedHeader *orig, gint32 type, int code,
                               int domain, const char *message)
{
    HyvedHeader hdr = *orig;
    remote_error err = { 0 };
    g_autofree char *msg = NULL;
    char *msgp;
    GBytes *ret;
    g_autoptr(GError) local = NULL;

    hdr.type = type;
    hdr.status = HYVED_STATUS_ERROR;

    if (message) {
        /* Keep the payload encodable whatever the caller passed. Not
         * g_strndup(message, MAX): that pads the copy to 4 MiB. */
        msg = g_strndup(message, strnlen(message, HYVED_STRING_MAX));
        msgp = msg;
        err.message = &msgp;
    }
    err.code = code;
    err.domain = domain;
    err.level = 2;  /* VIR_ERR_ERROR */

    ret = hyved_packet_encode(&hdr, (xdrproc_t)xdr_remote_error, &err, &local);
    /* Cannot fail: every field is bounded above. */
    g_assert(ret != NULL);
    return ret;
}

GBytes *
hyved_packet_encode_error(const HyvedHeader *call, int code, int domain,
                          const char *message)
{
    return hyved_packet_encode_error_type(call, HYVED_TYPE_REPLY, code, domain,
                                          message);
}

GBytes *
hyved_packet_encode_stream_error(const HyvedHeader *stream, int code, int domain,
                                 const char *message)
{
    return hyved_packet_encode_error_type(stream, HYVED_TYPE_STREAM, code, domain,
                                          message);
}
