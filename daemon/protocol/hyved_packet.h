/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_packet.h: framing of libvirt RPC packets (libvirt-rpc.md §2).
 *
 *   u32 length (whole packet, including itself)
 *   24-byte header {prog, vers, proc, type, serial, status}
 *   XDR payload
 *
 * Pure functions, no I/O, no global state: the server reads bytes, asks
 * these to validate and decode, and writes what they encode.
 */
#pragma once

#include <glib.h>
#include <rpc/rpc.h>

G_BEGIN_DECLS

#define HYVED_PROGRAM_REMOTE     0x20008086u
#define HYVED_PROGRAM_KEEPALIVE  0x6b656570u
#define HYVED_PROGRAM_VERSION    1u

#define HYVED_MESSAGE_LEN_MAX     4u          /* the length word */
#define HYVED_MESSAGE_HEADER_MAX  24u
#define HYVED_MESSAGE_MAX         33554432u   /* max of (length - 4) */
#define HYVED_MESSAGE_PAYLOAD_MAX (HYVED_MESSAGE_MAX - HYVED_MESSAGE_HEADER_MAX)
#define HYVED_STRING_MAX          4194304u
#define HYVED_STREAM_PAYLOAD_MAX  262120u     /* max stream data bytes per packet we send */
#define HYVED_NUM_FDS_MAX         32u

typedef enum {
    HYVED_TYPE_CALL = 0,
    HYVED_TYPE_REPLY = 1,
    HYVED_TYPE_MESSAGE = 2,
    HYVED_TYPE_STREAM = 3,
    HYVED_TYPE_CALL_WITH_FDS = 4,
    HYVED_TYPE_REPLY_WITH_FDS = 5,
    HYVED_TYPE_STREAM_HOLE = 6,
} HyvedMessageType;

typedef enum {
    HYVED_STATUS_OK = 0,
    HYVED_STATUS_ERROR = 1,
    HYVED_STATUS_CONTINUE = 2,
} HyvedMessageStatus;

/* Keepalive procedures */
#define HYVED_KEEPALIVE_PROC_PING 1
#define HYVED_KEEPALIVE_PROC_PONG 2

typedef struct {
    guint32 prog;
    guint32 vers;
    gint32 proc;
    gint32 type;
    guint32 serial;
    gint32 status;
} HyvedHeader;

/* Validates the 4-byte big-endian length word: 28 <= len and
 * len - 4 <= HYVED_MESSAGE_MAX. On success *total_len is the whole packet
 * size including the length word. Errors: code 39 (RPC), domain 7. */
gboolean hyved_packet_parse_length(const guint8 buf[4], guint32 *total_len, GError **error);

/* Decodes the 24-byte header at @buf (the bytes right after the length word). */
gboolean hyved_packet_decode_header(const guint8 *buf, gsize len, HyvedHeader *hdr, GError **error);

/* Decodes an XDR payload into @obj (zeroed by the caller, sized for @filter).
 * Fails (and frees what was partially decoded) on truncated input, on
 * violated array/string maxima, and on trailing bytes. */
gboolean hyved_packet_decode_payload(const guint8 *payload, gsize len, xdrproc_t filter,
                                     void *obj, GError **error);

/* Encodes length word + header + XDR payload of @obj (@filter NULL = empty
 * payload). Fails when the result would exceed HYVED_MESSAGE_MAX. */
GBytes *hyved_packet_encode(const HyvedHeader *hdr, xdrproc_t filter, void *obj, GError **error);

/* Length word + header + raw bytes (stream data). @len <= HYVED_MESSAGE_PAYLOAD_MAX. */
GBytes *hyved_packet_encode_raw(const HyvedHeader *hdr, const void *data, gsize len);

/* Error reply to @call: same prog/vers/proc/serial, type REPLY, status ERROR,
 * payload remote_error{code, domain, message, level=2, everything else absent/0}. */
GBytes *hyved_packet_encode_error(const HyvedHeader *call, int code, int domain,
                                  const char *message);

/* The same remote_error, but as a STREAM packet with status ERROR (stream errors). */
GBytes *hyved_packet_encode_stream_error(const HyvedHeader *stream, int code, int domain,
                                         const char *message);

G_END_DECLS
