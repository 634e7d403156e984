/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_rpc_dispatch.c: whole calls through the daemon's dispatcher
 * (hyved_dispatch_call: program/status/procedure/auth checks, argument
 * decode, open/read-only checks, the handler on a real driver whose
 * directories live in a private temporary directory, reply encode).
 *
 * Input: one mode byte, then the bytes a client writes (packets as in
 * fuzz_rpc_decode.c). Mode bit 0: the connection is opened beforehand
 * (CONNECT_OPEN done, so most procedures are reached without the fuzzer
 * having to find that call first); bit 1: the client is on the read-only
 * socket; bit 2: not authenticated (a polkit socket before AUTH_POLKIT).
 *
 * Every reply must be a well-formed REPLY to the same call (same program,
 * procedure and serial). State is reset after each input: every domain,
 * network and pool the input defined is undefined again.
 *
 * Safety (the harness must not touch the host): a handler runs only for
 * procedures that cannot reach outside the driver's directories: every
 * read-only query, and of the state-changing ones only define/undefine,
 * autostart, metadata and config updates of inactive objects (nothing is
 * ever started: no runner, bridge, dnsmasq, LVM command or file outside
 * the temporary directory). The arguments of all other procedures are
 * decoded and freed, as the dispatcher would before its handler.
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"
#include "hyve_storage.h"
#include "hyve_network.h"
#include "fuzz_common.h"

#define FUZZ_MAX_PACKETS 64

static HyvedConfig cfg;
static HyveDriver *driver;
static HyvedServer *server;
static int sock[2] = { -1, -1 };

/* State-changing procedures whose handlers only change definitions. */
static const char *const write_ok_words[] = {
    "DEFINE",            /* *_DEFINE_XML*, *_UNDEFINE* */
    "SET_AUTOSTART",
    "SET_METADATA",
    "NETWORK_UPDATE",
};

/* Queries that are not pure reads of the driver's state. */
static const char *const read_denied[] = {
    "AUTH_POLKIT",                          /* asks polkit over D-Bus */
    "CONNECT_FIND_STORAGE_POOL_SOURCES",    /* runs LVM tools */
};

static gboolean
handler_allowed(const HyvedProcedure *p)
{
    for (gsize i = 0; i < G_N_ELEMENTS(read_denied); i++)
        if (g_str_equal(p->name, read_denied[i]))
            return FALSE;
    if (!(p->flags & HYVED_PROC_WRITE))
        return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(write_ok_words); i++)
        if (strstr(p->name, write_ok_words[i]))
            return TRUE;
    return FALSE;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) err = NULL;
    HyveDriverConfig dcfg = { 0 };
    const char *dir;
    g_autofree char *etc = NULL, *state = NULL, *log = NULL, *cache = NULL;

    (void) argc;
    (void) argv;
    if (driver)
        return 0;
    fuzz_quiet_logs();
    dir = fuzz_tmpdir();
    etc = g_build_filename(dir, "etc", NULL);
    state = g_build_filename(dir, "state", NULL);
    log = g_build_filename(dir, "log", NULL);
    cache = g_build_filename(dir, "cache", NULL);

    hyved_config_init(&cfg, TRUE);
    dcfg.privileged = TRUE;
    dcfg.config_dir = etc;
    dcfg.state_dir = state;
    dcfg.log_dir = log;
    dcfg.cache_dir = cache;
    dcfg.runner_path = (char *) "/bin/false";
    dcfg.uri = (char *) "bhyve:///system";
    if (!(driver = hyve_driver_new(&dcfg, &err)))
        g_error("driver: %s", err->message);
    if (!(server = hyved_server_new(&cfg, driver, TRUE, NULL, &err)))
        g_error("server: %s", err->message);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) < 0)
        g_error("socketpair failed");
    if (g_getenv("FUZZ_LIST_PROCS")) {
        g_autoptr(GArray) procs = hyved_dispatch_list_known();
        for (guint i = 0; i < procs->len; i++) {
            const HyvedProcedure *p = hyved_dispatch_find(g_array_index(procs, gint32, i));
            printf("%4d %-50s %s%s\n", p->proc, p->name,
                   (p->flags & HYVED_PROC_WRITE) ? "write " : "",
                   handler_allowed(p) ? "handler" : "decode-only");
        }
    }
    return 0;
}

static void
check_reply(const HyvedHeader *call, GBytes *reply)
{
    g_autoptr(GError) err = NULL;
    gsize n = 0;
    const guint8 *b = g_bytes_get_data(reply, &n);
    guint32 total = 0;
    HyvedHeader hdr;

    if (n < 28 || !hyved_packet_parse_length(b, &total, &err) || total != n ||
        !hyved_packet_decode_header(b + 4, n - 4, &hdr, &err) ||
        hdr.type != HYVED_TYPE_REPLY || hdr.prog != call->prog ||
        hdr.proc != call->proc || hdr.serial != call->serial ||
        (hdr.status != HYVED_STATUS_OK && hdr.status != HYVED_STATUS_ERROR)) {
        fprintf(stderr, "malformed reply to proc %d (%zu bytes)\n", call->proc, n);
        abort();
    }
    if (hdr.status == HYVED_STATUS_ERROR) {
        remote_error e;

        memset(&e, 0, sizeof(e));
        if (!hyved_packet_decode_payload(b + 28, n - 28, (xdrproc_t) xdr_remote_error, &e, &err)) {
            fprintf(stderr, "error reply to proc %d does not decode: %s\n", call->proc,
                    err->message);
            abort();
        }
        if (g_getenv("FUZZ_DEBUG"))
            fprintf(stderr, "proc %d: error %d/%d %s\n", call->proc, e.code, e.domain,
                    e.message ? *e.message : "");
        xdr_free((xdrproc_t) xdr_remote_error, (char *) &e);
    } else if (g_getenv("FUZZ_DEBUG")) {
        fprintf(stderr, "proc %d: ok (%zu bytes)\n", call->proc, n);
    }
}

static void
one_call(HyvedClient *client, const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    const HyvedProcedure *p = NULL;
    g_autoptr(GBytes) reply = NULL;

    if (hdr->prog == HYVED_PROGRAM_REMOTE && hdr->vers == HYVED_PROGRAM_VERSION)
        p = hyved_dispatch_find(hdr->proc);
    if (p && !handler_allowed(p)) {
        g_autofree void *args = g_malloc0(MAX(p->args_size, 1));
        if (g_getenv("FUZZ_DEBUG"))
            fprintf(stderr, "proc %d: decode only\n", hdr->proc);
        if (p->args_filter && p->args_size &&
            hyved_packet_decode_payload(payload, len, p->args_filter, args, NULL))
            xdr_free(p->args_filter, args);
        return;
    }
    reply = hyved_dispatch_call(server, client, hdr, payload, len);
    check_reply(hdr, reply);
}

static void
reset_driver(void)
{
    HyveStorage *st = hyve_driver_get_storage(driver);
    HyveNetworks *nets = hyve_driver_get_networks(driver);
    g_autoptr(GPtrArray) doms = hyve_driver_list_domains(driver, 0, NULL);
    g_autoptr(GPtrArray) pools = st ? hyve_storage_list_pools(st, 0, NULL) : NULL;
    g_autoptr(GPtrArray) netlist = nets ? hyve_networks_list(nets, 0, NULL) : NULL;

    for (guint i = 0; doms && i < doms->len; i++)
        if (!hyve_driver_undefine(driver, doms->pdata[i], 0, NULL))
            g_error("cannot undefine a domain the input defined");
    for (guint i = 0; pools && i < pools->len; i++)
        if (!hyve_storage_pool_undefine(st, pools->pdata[i], NULL))
            g_error("cannot undefine a pool the input defined");
    for (guint i = 0; netlist && i < netlist->len; i++)
        if (!hyve_networks_undefine(nets, netlist->pdata[i], NULL))
            g_error("cannot undefine a network the input defined");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    HyvedListener listener = { 0 };
    g_autoptr(HyvedClient) client = NULL;
    guint8 mode;
    gsize off = 1;

    LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1)
        return 0;
    mode = data[0];
    listener.readonly = (mode & 2) != 0;
    listener.auth = (mode & 4) ? HYVED_AUTH_POLKIT : HYVED_AUTH_NONE;
    client = hyved_client_new(server, sock[0], &listener);
    if (mode & 1) {
        g_autoptr(GError) err = NULL;
        if (!(mode & 4) && !hyved_client_set_open(client, "bhyve:///system",
                                                  listener.readonly, &err))
            g_error("open: %s", err->message);
    }

    for (int i = 0; i < FUZZ_MAX_PACKETS && size - off >= 4; i++) {
        g_autoptr(GError) err = NULL;
        guint32 total = 0;
        const guint8 *pkt;
        gsize pkt_len;
        HyvedHeader hdr;
        gsize poff;

        if (!hyved_packet_parse_length(data + off, &total, &err))
            break;
        pkt_len = MIN((gsize) total - 4, size - off - 4);
        pkt = data + off + 4;
        off += 4 + pkt_len;
        if (!hyved_packet_decode_header(pkt, pkt_len, &hdr, &err))
            break;
        if (hdr.type != HYVED_TYPE_CALL && hdr.type != HYVED_TYPE_CALL_WITH_FDS)
            continue;
        poff = HYVED_MESSAGE_HEADER_MAX + (hdr.type == HYVED_TYPE_CALL_WITH_FDS ? 4 : 0);
        if (poff > pkt_len)
            poff = pkt_len;
        one_call(client, &hdr, pkt + poff, pkt_len - poff);
    }
    hyved_client_set_closed(client);
    reset_driver();
    return 0;
}
