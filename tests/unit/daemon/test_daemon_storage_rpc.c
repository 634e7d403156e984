/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_storage_rpc.c: TCase "rpc" of daemon-storage-stream (main in
 * test_daemon_storage_stream.c): the storage procedures' daemon side on the
 * real driver: read-only refusals, list limits, the pool capabilities
 * document (valid against libvirt's storagepoolcaps.rng), pool events with
 * their filter, and STORAGE_VOL_UPLOAD/DOWNLOAD through to a dir pool's
 * volume file.
 */
#include "hyve-config.h"

#include <check.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <libxml/relaxng.h>

#include "hyved_client_priv.h"
#include "test_daemon_storage.h"
#include "test_daemon_util.h"

/* ---- the RPC procedures ------------------------------------------------- */

/* A CALL with a raw payload; returns the reply's header and payload. */
static GBytes *
raw_call(int fd, gint32 proc, guint32 serial, const void *payload, gsize len, HyvedHeader *hdr)
{
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, proc, HYVED_TYPE_CALL, serial, 0 };
    g_autoptr(GBytes) pkt = hyved_packet_encode_raw(&call, payload, len);
    GBytes *reply = NULL;

    ck_assert(test_send_raw(fd, g_bytes_get_data(pkt, NULL), g_bytes_get_size(pkt)));
    do {
        g_clear_pointer(&reply, g_bytes_unref);
        ck_assert_msg(test_recv(fd, hdr, &reply, 10000, NULL), "proc %d: no reply", proc);
    } while (hdr->type == HYVED_TYPE_MESSAGE);
    ck_assert_msg(hdr->type == HYVED_TYPE_REPLY && hdr->serial == serial,
                  "proc %d: reply type %d serial %u", proc, hdr->type, hdr->serial);
    return reply;
}

static void
decode_error(const char *name, GBytes *payload, TestReply *r)
{
    g_autoptr(GError) err = NULL;
    remote_error e = { 0 };

    ck_assert_msg(hyved_packet_decode_payload(g_bytes_get_data(payload, NULL),
                                              g_bytes_get_size(payload),
                                              (xdrproc_t) xdr_remote_error, &e, &err),
                  "%s: undecodable error: %s", name, err ? err->message : "?");
    r->is_error = TRUE;
    r->code = e.code;
    r->domain = e.domain;
    r->message = g_strdup(e.message ? *e.message : "");
    xdr_free((xdrproc_t) xdr_remote_error, (char *) &e);
}

/* Every state-changing storage procedure, with an all-zero payload of its
 * args' size (empty strings, zero UUIDs and numbers decode from zeros);
 * libvirt refuses them all from libvirt-storage.c, hence error domain
 * STORAGE, virConnectFindStoragePoolSources included. */
static const struct {
    gint32 proc;
    gsize args_len;
    const char *api;
} ro_cases[] = {
    { REMOTE_PROC_CONNECT_FIND_STORAGE_POOL_SOURCES, 12, "virConnectFindStoragePoolSources" },
    { REMOTE_PROC_STORAGE_POOL_DEFINE_XML, 8, "virStoragePoolDefineXML" },
    { REMOTE_PROC_STORAGE_POOL_CREATE_XML, 8, "virStoragePoolCreateXML" },
    { REMOTE_PROC_STORAGE_POOL_CREATE, 24, "virStoragePoolCreate" },
    { REMOTE_PROC_STORAGE_POOL_BUILD, 24, "virStoragePoolBuild" },
    { REMOTE_PROC_STORAGE_POOL_DESTROY, 20, "virStoragePoolDestroy" },
    { REMOTE_PROC_STORAGE_POOL_DELETE, 24, "virStoragePoolDelete" },
    { REMOTE_PROC_STORAGE_POOL_UNDEFINE, 20, "virStoragePoolUndefine" },
    { REMOTE_PROC_STORAGE_POOL_REFRESH, 24, "virStoragePoolRefresh" },
    { REMOTE_PROC_STORAGE_POOL_SET_AUTOSTART, 24, "virStoragePoolSetAutostart" },
    { REMOTE_PROC_STORAGE_VOL_CREATE_XML, 28, "virStorageVolCreateXML" },
    { REMOTE_PROC_STORAGE_VOL_CREATE_XML_FROM, 40, "virStorageVolCreateXMLFrom" },
    { REMOTE_PROC_STORAGE_VOL_DELETE, 16, "virStorageVolDelete" },
    { REMOTE_PROC_STORAGE_VOL_WIPE, 16, "virStorageVolWipe" },
    { REMOTE_PROC_STORAGE_VOL_WIPE_PATTERN, 20, "virStorageVolWipePattern" },
    { REMOTE_PROC_STORAGE_VOL_RESIZE, 24, "virStorageVolResize" },
    { REMOTE_PROC_STORAGE_VOL_UPLOAD, 32, "virStorageVolUpload" },
    { REMOTE_PROC_STORAGE_VOL_DOWNLOAD, 32, "virStorageVolDownload" },
};

START_TEST(test_rpc_readonly)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_ro);
    guint8 zeros[64] = { 0 };
    remote_connect_list_all_storage_pools_args la = { .need_results = 1 };
    remote_connect_list_all_storage_pools_ret lr = { 0 };
    TestReply r;

    test_open(fd, "bhyve:///system", 1 /* VIR_CONNECT_RO */);
    for (gsize i = 0; i < G_N_ELEMENTS(ro_cases); i++) {
        HyvedHeader hdr;
        g_autoptr(GBytes) reply = raw_call(fd, ro_cases[i].proc, 100 + i, zeros,
                                           ro_cases[i].args_len, &hdr);
        g_autofree char *want = g_strdup_printf("operation forbidden: read only access "
                                                "prevents %s", ro_cases[i].api);
        TestReply e = { 0 };

        ck_assert_msg(hdr.status == HYVED_STATUS_ERROR, "%s: allowed read-only", ro_cases[i].api);
        decode_error(ro_cases[i].api, reply, &e);
        ck_assert_msg(e.code == HYVE_ERR_OPERATION_DENIED && e.domain == HYVE_FROM_STORAGE &&
                      g_str_equal(e.message, want),
                      "%s: error %d/%d '%s'", ro_cases[i].api, e.code, e.domain, e.message);
        test_reply_clear(&e);
    }
    /* queries work read-only */
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_LIST_ALL_STORAGE_POOLS, 200,
                        (xdrproc_t) xdr_remote_connect_list_all_storage_pools_args, &la,
                        (xdrproc_t) xdr_remote_connect_list_all_storage_pools_ret, &lr, &r));
    ck_assert_msg(!r.is_error, "list all pools read-only: %s", r.message);
    xdr_free((xdrproc_t) xdr_remote_connect_list_all_storage_pools_ret, (char *) &lr);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* List sizes beyond the protocol's limits: libvirtd's RPC errors. */
START_TEST(test_rpc_limits)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    remote_connect_list_storage_pools_args lp = { .maxnames = REMOTE_STORAGE_POOL_LIST_MAX + 1 };
    remote_connect_list_defined_storage_pools_args ld = { .maxnames = -1 };
    remote_storage_pool_list_volumes_args lv = {
        .pool = { .name = (char *) "nope" }, .maxnames = REMOTE_STORAGE_VOL_LIST_MAX + 1,
    };
    remote_connect_find_storage_pool_sources_args fs = { .type = (char *) "dir" };
    remote_connect_get_storage_pool_capabilities_args ca = { .flags = 1 };
    TestReply r;

    test_open(fd, "bhyve:///system", 0);
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_LIST_STORAGE_POOLS, 10,
                        (xdrproc_t) xdr_remote_connect_list_storage_pools_args, &lp, NULL, NULL,
                        &r));
    ck_assert_msg(r.is_error && r.code == HYVE_ERR_RPC &&
                  g_str_equal(r.message, "maxnames > REMOTE_STORAGE_POOL_LIST_MAX"),
                  "list pools limit: %d '%s'", r.code, r.message);
    test_reply_clear(&r);
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_LIST_DEFINED_STORAGE_POOLS, 11,
                        (xdrproc_t) xdr_remote_connect_list_defined_storage_pools_args, &ld,
                        NULL, NULL, &r));
    ck_assert_msg(r.is_error && r.code == HYVE_ERR_INVALID_ARG, "negative maxnames: %d '%s'",
                  r.code, r.message);
    test_reply_clear(&r);
    ck_assert(test_call(fd, REMOTE_PROC_STORAGE_POOL_LIST_VOLUMES, 12,
                        (xdrproc_t) xdr_remote_storage_pool_list_volumes_args, &lv, NULL, NULL,
                        &r));
    ck_assert_msg(r.is_error && r.code == HYVE_ERR_RPC &&
                  g_str_equal(r.message, "maxnames > REMOTE_STORAGE_VOL_LIST_MAX"),
                  "list volumes limit: %d '%s'", r.code, r.message);
    test_reply_clear(&r);
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_FIND_STORAGE_POOL_SOURCES, 13,
                        (xdrproc_t) xdr_remote_connect_find_storage_pool_sources_args, &fs,
                        NULL, NULL, &r));
    ck_assert_msg(r.is_error && r.code == HYVE_ERR_NO_SUPPORT && r.domain == HYVE_FROM_STORAGE,
                  "find pool sources: %d/%d '%s'", r.code, r.domain, r.message);
    test_reply_clear(&r);
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_GET_STORAGE_POOL_CAPABILITIES, 14,
                        (xdrproc_t) xdr_remote_connect_get_storage_pool_capabilities_args, &ca,
                        NULL, NULL, &r));
    ck_assert_msg(r.is_error && r.code == HYVE_ERR_INVALID_ARG && r.domain == HYVE_FROM_STORAGE,
                  "capabilities flags: %d/%d '%s'", r.code, r.domain, r.message);
    test_reply_clear(&r);
    close(fd);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_rpc_capabilities)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_ro);
    remote_connect_get_storage_pool_capabilities_args args = { 0 };
    remote_connect_get_storage_pool_capabilities_ret ret = { 0 };
    xmlRelaxNGParserCtxtPtr pctx;
    xmlRelaxNGPtr schema;
    xmlRelaxNGValidCtxtPtr vctx;
    xmlDocPtr doc;
    TestReply r;

    test_open(fd, "bhyve:///system", 1);
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_GET_STORAGE_POOL_CAPABILITIES, 10,
                        (xdrproc_t) xdr_remote_connect_get_storage_pool_capabilities_args, &args,
                        (xdrproc_t) xdr_remote_connect_get_storage_pool_capabilities_ret, &ret,
                        &r));
    ck_assert_msg(!r.is_error, "capabilities: %s", r.message);
    ck_assert_msg(strstr(ret.capabilities, "<pool type='dir' supported='yes'>") &&
                  strstr(ret.capabilities, "<pool type='logical' supported='yes'>") &&
                  strstr(ret.capabilities, "<pool type='fs' supported='no'/>") &&
                  strstr(ret.capabilities, "<pool type='vstorage' supported='no'/>") &&
                  strstr(ret.capabilities, "<defaultFormat type='raw'/>"),
                  "capabilities: %s", ret.capabilities);
    pctx = xmlRelaxNGNewParserCtxt("/usr/share/libvirt/schemas/storagepoolcaps.rng");
    schema = xmlRelaxNGParse(pctx);
    ck_assert_msg(schema, "storagepoolcaps.rng does not load");
    vctx = xmlRelaxNGNewValidCtxt(schema);
    doc = xmlReadMemory(ret.capabilities, strlen(ret.capabilities), "caps.xml", NULL,
                        XML_PARSE_NONET);
    ck_assert_msg(doc && xmlRelaxNGValidateDoc(vctx, doc) == 0,
                  "capabilities do not validate: %s", ret.capabilities);
    xmlFreeDoc(doc);
    xmlRelaxNGFreeValidCtxt(vctx);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pctx);
    xdr_free((xdrproc_t) xdr_remote_connect_get_storage_pool_capabilities_ret, (char *) &ret);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* Defines a dir pool at <ts->dir>/NAME; returns its wire identity. */
static void
define_pool(TestServer *ts, int fd, const char *name, guint32 serial,
            remote_nonnull_storage_pool *out)
{
    g_autofree char *path = g_build_filename(ts->dir, name, NULL);
    g_autofree char *xml = g_strdup_printf("<pool type='dir'><name>%s</name><target><path>%s"
                                           "</path></target></pool>", name, path);
    remote_storage_pool_define_xml_args args = { .xml = xml };
    remote_storage_pool_define_xml_ret ret = { 0 };
    TestReply r;

    ck_assert(test_call(fd, REMOTE_PROC_STORAGE_POOL_DEFINE_XML, serial,
                        (xdrproc_t) xdr_remote_storage_pool_define_xml_args, &args,
                        (xdrproc_t) xdr_remote_storage_pool_define_xml_ret, &ret, &r));
    ck_assert_msg(!r.is_error, "define %s: %s", name, r.message);
    *out = ret.pool;
}

/* An event MESSAGE of @proc; returns its payload. */
static GBytes *
expect_event(int fd, gint32 proc)
{
    HyvedHeader hdr;
    GBytes *payload = NULL;

    ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, NULL), "no event %d", proc);
    ck_assert_msg(hdr.type == HYVED_TYPE_MESSAGE && hdr.proc == proc,
                  "got type %d proc %d, wanted event %d", hdr.type, hdr.proc, proc);
    return payload;
}

/* Pool events reach callbacks registered for them, filtered by pool UUID. */
START_TEST(test_rpc_pool_events)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int efd = test_connect(ts->sock_ro);
    remote_nonnull_storage_pool other = { .name = (char *) "x" };
    remote_storage_pool filter = &other;
    remote_connect_storage_pool_event_register_any_args all = { .eventID = 0 };
    remote_connect_storage_pool_event_register_any_args filtered = { .eventID = 0,
                                                                     .pool = &filter[0] };
    remote_connect_storage_pool_event_register_any_args refresh = { .eventID = 1 };
    remote_connect_storage_pool_event_register_any_ret ret = { 0 };
    remote_nonnull_storage_pool pool = { 0 };
    remote_storage_pool_refresh_args ra = { 0 };
    remote_storage_pool_event_lifecycle_msg lc = { 0 };
    remote_storage_pool_event_refresh_msg rm = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) p1 = NULL;
    g_autoptr(GBytes) p2 = NULL;
    int cb_all, cb_refresh;
    TestReply r;

    memset(other.uuid, 0xab, sizeof(other.uuid));
    test_open(fd, "bhyve:///system", 0);
    test_open(efd, "bhyve:///system", 1);
    ck_assert(test_call(efd, REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, 10,
                        (xdrproc_t) xdr_remote_connect_storage_pool_event_register_any_args,
                        &filtered,
                        (xdrproc_t) xdr_remote_connect_storage_pool_event_register_any_ret, &ret,
                        &r) && !r.is_error);
    ck_assert(test_call(efd, REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, 11,
                        (xdrproc_t) xdr_remote_connect_storage_pool_event_register_any_args, &all,
                        (xdrproc_t) xdr_remote_connect_storage_pool_event_register_any_ret, &ret,
                        &r) && !r.is_error);
    cb_all = ret.callbackID;
    ck_assert(test_call(efd, REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, 12,
                        (xdrproc_t) xdr_remote_connect_storage_pool_event_register_any_args,
                        &refresh,
                        (xdrproc_t) xdr_remote_connect_storage_pool_event_register_any_ret, &ret,
                        &r) && !r.is_error);
    cb_refresh = ret.callbackID;

    define_pool(ts, fd, "evpool", 20, &pool);
    p1 = expect_event(efd, REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE);
    ck_assert(hyved_packet_decode_payload(g_bytes_get_data(p1, NULL), g_bytes_get_size(p1),
                                          (xdrproc_t) xdr_remote_storage_pool_event_lifecycle_msg,
                                          &lc, &err));
    ck_assert_msg(lc.callbackID == cb_all && g_str_equal(lc.pool.name, "evpool") &&
                  memcmp(lc.pool.uuid, pool.uuid, HYVE_UUID_LEN) == 0 &&
                  lc.event == HYVE_POOL_EVENT_DEFINED && lc.detail == 0,
                  "lifecycle event: callback %d pool %s event %d", lc.callbackID, lc.pool.name,
                  lc.event);
    /* start (builds the directory too) and refresh */
    {
        remote_storage_pool_create_args ca = { .pool = pool, .flags = 1 /* WITH_BUILD */ };

        ck_assert(test_call(fd, REMOTE_PROC_STORAGE_POOL_CREATE, 21,
                            (xdrproc_t) xdr_remote_storage_pool_create_args, &ca, NULL, NULL,
                            &r));
        ck_assert_msg(!r.is_error, "start: %s", r.message);
    }
    ra.pool = pool;
    ck_assert(test_call(fd, REMOTE_PROC_STORAGE_POOL_REFRESH, 22,
                        (xdrproc_t) xdr_remote_storage_pool_refresh_args, &ra, NULL, NULL, &r));
    ck_assert_msg(!r.is_error, "refresh: %s", r.message);
    for (;;) {
        g_autoptr(GBytes) p = NULL;
        HyvedHeader hdr;

        ck_assert_msg(test_recv(efd, &hdr, &p, 5000, NULL), "no refresh event");
        ck_assert_msg(hdr.type == HYVED_TYPE_MESSAGE, "unexpected packet type %d", hdr.type);
        if (hdr.proc == REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE)
            continue;       /* STARTED (CREATED) */
        ck_assert_int_eq(hdr.proc, REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH);
        p2 = g_steal_pointer(&p);
        break;
    }
    ck_assert(hyved_packet_decode_payload(g_bytes_get_data(p2, NULL), g_bytes_get_size(p2),
                                          (xdrproc_t) xdr_remote_storage_pool_event_refresh_msg,
                                          &rm, &err));
    ck_assert_msg(rm.callbackID == cb_refresh && g_str_equal(rm.pool.name, "evpool"),
                  "refresh event: callback %d pool %s", rm.callbackID, rm.pool.name);
    ck_assert_msg(!test_recv(efd, &(HyvedHeader) { 0 }, NULL, 300, NULL),
                  "an event for the filtered callback arrived");
    xdr_free((xdrproc_t) xdr_remote_storage_pool_event_lifecycle_msg, (char *) &lc);
    xdr_free((xdrproc_t) xdr_remote_storage_pool_event_refresh_msg, (char *) &rm);
    xdr_free((xdrproc_t) xdr_remote_nonnull_storage_pool, (char *) &pool);
    close(efd);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* STORAGE_VOL_UPLOAD and _DOWNLOAD through the driver: a sparse upload
 * (data, hole, data) lands in the volume file with its hole; a sparse
 * download gives it back as data, STREAM_HOLE, data, EOF. */
START_TEST(test_rpc_transfer)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    remote_nonnull_storage_pool pool = { 0 };
    remote_storage_pool_create_args ca = { 0 };
    remote_storage_vol_create_xml_args va = {
        .xml = (char *) "<volume><name>v</name><capacity>4194304</capacity>"
                       "<allocation>0</allocation></volume>",
    };
    remote_storage_vol_create_xml_ret vr = { 0 };
    remote_storage_vol_upload_args ua = { .flags = 1 /* SPARSE_STREAM */ };
    remote_storage_vol_download_args da = { .length = 3 * 1048576, .flags = 1 };
    g_autofree char *path = NULL;
    g_autofree char *contents = NULL;
    gsize size = 0;
    struct stat sb;
    HyvedHeader hdr;
    TestReply r;

    test_open(fd, "bhyve:///system", 0);
    define_pool(ts, fd, "xfer", 20, &pool);
    ca.pool = pool;
    ca.flags = 1;
    ck_assert(test_call(fd, REMOTE_PROC_STORAGE_POOL_CREATE, 21,
                        (xdrproc_t) xdr_remote_storage_pool_create_args, &ca, NULL, NULL, &r));
    ck_assert_msg(!r.is_error, "start: %s", r.message);
    va.pool = pool;
    ck_assert(test_call(fd, REMOTE_PROC_STORAGE_VOL_CREATE_XML, 22,
                        (xdrproc_t) xdr_remote_storage_vol_create_xml_args, &va,
                        (xdrproc_t) xdr_remote_storage_vol_create_xml_ret, &vr, &r));
    ck_assert_msg(!r.is_error, "vol create: %s", r.message);

    /* upload */
    ua.vol = vr.vol;
    ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, REMOTE_PROC_STORAGE_VOL_UPLOAD, HYVED_TYPE_CALL,
                        SERIAL, HYVED_STATUS_OK, (xdrproc_t) xdr_remote_storage_vol_upload_args,
                        &ua));
    ck_assert(test_recv(fd, &hdr, NULL, 5000, NULL) && hdr.type == HYVED_TYPE_REPLY &&
              hdr.status == HYVED_STATUS_OK);
    {
        HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_STORAGE_VOL_UPLOAD, 0, SERIAL, 0 };
        guint8 hole[12];
        g_autoptr(GBytes) d1 = NULL, d2 = NULL, d3 = NULL;

        h.type = HYVED_TYPE_STREAM;
        h.status = HYVED_STATUS_CONTINUE;
        d1 = hyved_packet_encode_raw(&h, "head", 4);
        d2 = hyved_packet_encode_raw(&h, "tail", 4);
        hole_payload(hole, 2 * 1048576, 0);
        h.type = HYVED_TYPE_STREAM_HOLE;
        d3 = hyved_packet_encode_raw(&h, hole, 12);
        ck_assert(test_send_raw(fd, g_bytes_get_data(d1, NULL), g_bytes_get_size(d1)));
        ck_assert(test_send_raw(fd, g_bytes_get_data(d3, NULL), g_bytes_get_size(d3)));
        ck_assert(test_send_raw(fd, g_bytes_get_data(d2, NULL), g_bytes_get_size(d2)));
        h.type = HYVED_TYPE_STREAM;
        h.status = HYVED_STATUS_OK;
        g_clear_pointer(&d1, g_bytes_unref);
        d1 = hyved_packet_encode_raw(&h, NULL, 0);
        ck_assert(test_send_raw(fd, g_bytes_get_data(d1, NULL), g_bytes_get_size(d1)));
        do {
            ck_assert_msg(test_recv(fd, &hdr, NULL, 10000, NULL), "upload: no finish confirm");
        } while (hdr.type == HYVED_TYPE_MESSAGE);
        ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.status == HYVED_STATUS_OK,
                      "upload finish: type %d status %d", hdr.type, hdr.status);
    }
    path = g_strdup(vr.vol.key);
    ck_assert(g_file_get_contents(path, &contents, &size, NULL));
    ck_assert_msg(size == 4194304 && memcmp(contents, "head", 4) == 0 &&
                  memcmp(contents + 4 + 2 * 1048576, "tail", 4) == 0,
                  "uploaded file: %zu bytes", size);
    ck_assert(stat(path, &sb) == 0);
    ck_assert_msg(sb.st_blocks * 512 < 1048576, "the hole was written: %lld blocks",
                  (long long) sb.st_blocks);

    /* download the first 3 MiB, sparse */
    da.vol = vr.vol;
    ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, REMOTE_PROC_STORAGE_VOL_DOWNLOAD,
                        HYVED_TYPE_CALL, SERIAL + 1, HYVED_STATUS_OK,
                        (xdrproc_t) xdr_remote_storage_vol_download_args, &da));
    {
        gsize data = 0, holes = 0;
        gboolean eof = FALSE;

        while (!eof) {
            g_autoptr(GBytes) p = NULL;

            ck_assert_msg(test_recv(fd, &hdr, &p, 10000, NULL), "download: packet missing");
            ck_assert_msg(hdr.serial == SERIAL + 1 && hdr.status != HYVED_STATUS_ERROR,
                          "download: type %d status %d", hdr.type, hdr.status);
            if (hdr.type == HYVED_TYPE_REPLY)
                continue;
            if (hdr.type == HYVED_TYPE_STREAM_HOLE) {
                guint64 be;

                ck_assert(g_bytes_get_size(p) == 12);
                memcpy(&be, g_bytes_get_data(p, NULL), 8);
                holes += GUINT64_FROM_BE(be);
            } else if (g_bytes_get_size(p) == 0) {
                eof = TRUE;
            } else {
                const char *d = g_bytes_get_data(p, NULL);

                for (gsize i = 0; i < g_bytes_get_size(p); i++)
                    ck_assert_msg(d[i] == contents[data + holes + i],
                                  "download: byte %zu differs", data + holes + i);
                data += g_bytes_get_size(p);
            }
        }
        ck_assert_msg(data + holes == 3 * 1048576 && holes >= 1048576,
                      "download: %zu data + %zu hole bytes", data, holes);
    }
    {
        HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_STORAGE_VOL_DOWNLOAD,
                          HYVED_TYPE_STREAM, SERIAL + 1, HYVED_STATUS_OK };
        g_autoptr(GBytes) fin = hyved_packet_encode_raw(&h, NULL, 0);

        ck_assert(test_send_raw(fd, g_bytes_get_data(fin, NULL), g_bytes_get_size(fin)));
        ck_assert_msg(test_recv(fd, &hdr, NULL, 10000, NULL) && hdr.type == HYVED_TYPE_STREAM &&
                      hdr.status == HYVED_STATUS_OK, "download finish not confirmed");
    }
    xdr_free((xdrproc_t) xdr_remote_storage_vol_create_xml_ret, (char *) &vr);
    xdr_free((xdrproc_t) xdr_remote_nonnull_storage_pool, (char *) &pool);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* Sends the empty STREAM packet of @status for the stream of @proc/@serial. */
static void
stream_send(int fd, gint32 proc, guint32 serial, gint32 status, const void *data, gsize len)
{
    HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, proc, HYVED_TYPE_STREAM, serial, status };
    g_autoptr(GBytes) pkt = hyved_packet_encode_raw(&h, data, len);

    ck_assert(test_send_raw(fd, g_bytes_get_data(pkt, NULL), g_bytes_get_size(pkt)));
}

/* A volume is free as soon as the client's abort is confirmed: 30 uploads
 * and 30 downloads aborted mid-transfer, each volume deleted right after
 * the confirmation, never refused as in use. */
START_TEST(test_rpc_abort_then_delete)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    remote_nonnull_storage_pool pool = { 0 };
    remote_storage_pool_create_args ca = { 0 };
    g_autofree guint8 *chunk = g_malloc0(65536);
    guint32 serial = 100;
    TestReply r;

    test_open(fd, "bhyve:///system", 0);
    define_pool(ts, fd, "abortdel", 20, &pool);
    ca.pool = pool;
    ca.flags = 1;
    ck_assert(test_call(fd, REMOTE_PROC_STORAGE_POOL_CREATE, 21,
                        (xdrproc_t) xdr_remote_storage_pool_create_args, &ca, NULL, NULL, &r));
    ck_assert_msg(!r.is_error, "start: %s", r.message);
    memset(chunk, 0x5a, 65536);
    for (int i = 0; i < 60; i++) {
        gboolean upload = i % 2 == 0;
        gint32 proc = upload ? REMOTE_PROC_STORAGE_VOL_UPLOAD : REMOTE_PROC_STORAGE_VOL_DOWNLOAD;
        g_autofree char *vname = g_strdup_printf("a%d.img", i);
        g_autofree char *xml = g_strdup_printf("<volume><name>%s</name><capacity>16777216"
                                               "</capacity><allocation>0</allocation></volume>",
                                               vname);
        remote_storage_vol_create_xml_args va = { .pool = pool, .xml = xml };
        remote_storage_vol_create_xml_ret vr = { 0 };
        remote_storage_vol_upload_args ua = { 0 };
        remote_storage_vol_delete_args del = { 0 };
        guint32 st_serial = ++serial;
        HyvedHeader hdr;

        ck_assert(test_call(fd, REMOTE_PROC_STORAGE_VOL_CREATE_XML, ++serial,
                            (xdrproc_t) xdr_remote_storage_vol_create_xml_args, &va,
                            (xdrproc_t) xdr_remote_storage_vol_create_xml_ret, &vr, &r));
        ck_assert_msg(!r.is_error, "round %d: vol create: %s", i, r.message);
        /* upload and download args have the same layout */
        ua.vol = vr.vol;
        ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, proc, HYVED_TYPE_CALL, st_serial,
                            HYVED_STATUS_OK, (xdrproc_t) xdr_remote_storage_vol_upload_args,
                            &ua));
        ck_assert_msg(test_recv(fd, &hdr, NULL, 5000, NULL) && hdr.type == HYVED_TYPE_REPLY &&
                      hdr.serial == st_serial && hdr.status == HYVED_STATUS_OK,
                      "round %d: %s refused", i, upload ? "upload" : "download");
        if (upload) {
            for (int k = 0; k < 4; k++)
                stream_send(fd, proc, st_serial, HYVED_STATUS_CONTINUE, chunk, 65536);
        } else {
            /* the transfer is under way: data arrived */
            ck_assert_msg(test_recv(fd, &hdr, NULL, 5000, NULL) &&
                          hdr.type == HYVED_TYPE_STREAM && hdr.serial == st_serial &&
                          hdr.status == HYVED_STATUS_CONTINUE, "round %d: no download data", i);
        }
        stream_send(fd, proc, st_serial, HYVED_STATUS_ERROR, NULL, 0);
        /* data already queued may come first, then the confirmation */
        for (;;) {
            ck_assert_msg(test_recv(fd, &hdr, NULL, 10000, NULL),
                          "round %d: abort not confirmed", i);
            if (hdr.type == HYVED_TYPE_MESSAGE ||
                (hdr.serial == st_serial && hdr.status == HYVED_STATUS_CONTINUE))
                continue;
            break;
        }
        ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.serial == st_serial &&
                      hdr.status == HYVED_STATUS_OK,
                      "round %d: abort answered with type %d status %d", i, hdr.type,
                      hdr.status);
        del.vol = vr.vol;
        ck_assert(test_call(fd, REMOTE_PROC_STORAGE_VOL_DELETE, ++serial,
                            (xdrproc_t) xdr_remote_storage_vol_delete_args, &del, NULL, NULL,
                            &r));
        ck_assert_msg(!r.is_error, "round %d (%s): delete right after the abort: %d '%s'", i,
                      upload ? "upload" : "download", r.code, r.message);
        xdr_free((xdrproc_t) xdr_remote_storage_vol_create_xml_ret, (char *) &vr);
    }
    xdr_free((xdrproc_t) xdr_remote_nonnull_storage_pool, (char *) &pool);
    close(fd);
    test_server_stop(ts);
}
END_TEST

void
test_daemon_storage_add_rpc(TCase *tc)
{
    tcase_add_test(tc, test_rpc_readonly);
    tcase_add_test(tc, test_rpc_limits);
    tcase_add_test(tc, test_rpc_capabilities);
    tcase_add_test(tc, test_rpc_pool_events);
    tcase_add_test(tc, test_rpc_transfer);
    tcase_add_test(tc, test_rpc_abort_then_delete);
}
