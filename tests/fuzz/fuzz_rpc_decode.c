/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_rpc_decode.c: the daemon's packet decoders, fed the bytes a client
 * writes to the socket: one or more packets, each a length word
 * (hyved_packet_parse_length), a header (hyved_packet_decode_header) and
 * an XDR payload. For a CALL (and CALL_WITH_FDS: the fd count comes first,
 * as hyved_client_read.c skips it) to a procedure the daemon knows, the
 * payload goes through that procedure's argument decoder
 * (hyved_packet_decode_payload with the table's args_filter) exactly as
 * hyved_dispatch_call does; what decodes is encoded again
 * (hyved_packet_encode) and that must decode and encode to the same
 * bytes. Also tries every packet's payload as a remote_error (what the
 * daemon's stream error path and clients decode) and the REPLY decoder of
 * the procedure. No handler runs: see fuzz_rpc_dispatch.c for that.
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyved_server.h"
#include "fuzz_common.h"

#define FUZZ_MAX_PACKETS 64

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet_logs();
    return 0;
}

/* Decodes @payload with @filter into zeroed storage of @size bytes; on
 * success checks encode -> decode -> encode gives the same bytes. */
static void
decode_one(const HyvedHeader *hdr, const guint8 *payload, gsize len,
           xdrproc_t filter, size_t size, const char *name)
{
    g_autofree void *obj = g_malloc0(MAX(size, 1));
    g_autofree void *obj2 = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) enc = NULL;
    g_autoptr(GBytes) enc2 = NULL;
    const guint8 *bytes;
    gsize n = 0;

    if (!filter || size == 0)
        return;
    if (!hyved_packet_decode_payload(payload, len, filter, obj, &err))
        return;
    enc = hyved_packet_encode(hdr, filter, obj, &err);
    xdr_free(filter, obj);
    if (!enc) {
        /* only the size limit may refuse what decoded */
        if (len + HYVED_MESSAGE_HEADER_MAX + 4 <= HYVED_MESSAGE_MAX) {
            fprintf(stderr, "%s: decoded arguments do not encode: %s\n", name, err->message);
            abort();
        }
        return;
    }
    bytes = g_bytes_get_data(enc, &n);
    obj2 = g_malloc0(MAX(size, 1));
    if (!hyved_packet_decode_payload(bytes + 28, n - 28, filter, obj2, &err)) {
        fprintf(stderr, "%s: re-encoded arguments do not decode: %s\n", name, err->message);
        abort();
    }
    enc2 = hyved_packet_encode(hdr, filter, obj2, NULL);
    xdr_free(filter, obj2);
    if (!enc2 || !g_bytes_equal(enc, enc2)) {
        fprintf(stderr, "%s: encode(decode(encode(args))) differs\n", name);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gsize off = 0;

    fuzz_quiet_logs();
    for (int i = 0; i < FUZZ_MAX_PACKETS && size - off >= 4; i++) {
        g_autoptr(GError) err = NULL;
        guint32 total = 0;
        const guint8 *pkt;
        gsize pkt_len;
        HyvedHeader hdr;
        const HyvedProcedure *p;
        gsize poff;

        if (!hyved_packet_parse_length(data + off, &total, &err))
            return 0;
        /* the daemon waits for the rest; the fuzzer gives what it has */
        pkt_len = MIN((gsize) total - 4, size - off - 4);
        pkt = data + off + 4;
        off += 4 + pkt_len;
        if (!hyved_packet_decode_header(pkt, pkt_len, &hdr, &err))
            return 0;
        poff = HYVED_MESSAGE_HEADER_MAX;
        if (hdr.type == HYVED_TYPE_CALL_WITH_FDS)
            poff += 4;
        if (poff > pkt_len)
            poff = pkt_len;

        decode_one(&hdr, pkt + poff, pkt_len - poff, (xdrproc_t) xdr_remote_error,
                   sizeof(remote_error), "remote_error");
        if (hdr.prog != HYVED_PROGRAM_REMOTE)
            continue;
        if (!(p = hyved_dispatch_find(hdr.proc)))
            continue;
        if (hdr.type == HYVED_TYPE_CALL || hdr.type == HYVED_TYPE_CALL_WITH_FDS)
            decode_one(&hdr, pkt + poff, pkt_len - poff, p->args_filter, p->args_size, p->name);
        else if (hdr.type == HYVED_TYPE_REPLY)
            decode_one(&hdr, pkt + poff, pkt_len - poff, p->ret_filter, p->ret_size, p->name);
    }
    return 0;
}
