/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_packet.c: framing rules of hyved_packet.c: the length word,
 * the header, explicit size limits (32 MiB packets, 4 MiB strings, list
 * maxima) in both directions, and the error/stream helpers.
 */
#include <check.h>
#include <string.h>

#include "hyved_packet.h"
#include "hyved_protocol.h"
#include "hyve_error.h"
#include "proto_model.h"
#include "test_protocol.h"

static void
assert_rpc_error(const char *name, const GError *error)
{
    HyveErrorFrom from;

    ck_assert_msg(error != NULL, "%s: no GError", name);
    ck_assert_msg(hyve_error_from_quark(error->domain, &from) && from == HYVE_FROM_RPC,
                  "%s: error domain is not RPC", name);
    ck_assert_msg(error->code == HYVE_ERR_RPC, "%s: code %d, want 39", name, error->code);
}

/* ---- length word ---------------------------------------------------- */

static const struct {
    const char *name;
    guint32 len;
    gboolean ok;
} length_cases[] = {
    { "zero", 0, FALSE },
    { "only-length-word", 4, FALSE },
    { "one-short-of-header", 27, FALSE },
    { "empty-payload", 28, TRUE },
    { "small", 0x38, TRUE },
    { "max", 33554432 + 4, TRUE },
    { "max+1", 33554432 + 5, FALSE },
    { "64MiB", 64u << 20, FALSE },
    { "all-ones", 0xffffffffu, FALSE },
    { "high-bit", 0x80000020u, FALSE },
};

START_TEST(test_length)
{
    guint8 buf[4];
    guint32 len = length_cases[_i].len, got = 0;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    buf[0] = len >> 24;
    buf[1] = len >> 16;
    buf[2] = len >> 8;
    buf[3] = len;
    ok = hyved_packet_parse_length(buf, &got, &error);
    ck_assert_msg(ok == length_cases[_i].ok, "%s: parse_length(%u) returned %d",
                  length_cases[_i].name, len, ok);
    if (ok)
        ck_assert_msg(got == len, "%s: total %u", length_cases[_i].name, got);
    else
        assert_rpc_error(length_cases[_i].name, error);
}
END_TEST

START_TEST(test_header_truncated)
{
    g_autoptr(GBytes) pkt = proto_hex("00000020 20008086 00000001 0000003c 00000000 00000001"
                                      "00000000 0000000a");
    const guint8 *data = g_bytes_get_data(pkt, NULL);
    HyvedHeader h;
    gsize len;

    for (len = 0; len < 24; len++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *name = g_strdup_printf("header-%zu-bytes", len);

        ck_assert_msg(!hyved_packet_decode_header(data + 4, len, &h, &error),
                      "%s: accepted", name);
        assert_rpc_error(name, error);
    }
    ck_assert(hyved_packet_decode_header(data + 4, 24, &h, NULL));
    ck_assert_int_eq(h.proc, 60);
    ck_assert_uint_eq(h.serial, 1);
}
END_TEST

/* ---- explicit limits, decode direction ------------------------------- */

/* remote_domain_define_xml_args { string xml } with an xml of @n bytes */
static GByteArray *
define_xml_payload(guint32 n)
{
    GByteArray *b = g_byte_array_sized_new(n + 8);
    guint8 w[4] = { n >> 24, n >> 16, n >> 8, n };

    g_byte_array_append(b, w, 4);
    g_byte_array_set_size(b, 4 + n + (4 - n % 4) % 4);
    memset(b->data + 4, 'x', n);
    memset(b->data + 4 + n, 0, b->len - 4 - n);
    return b;
}

START_TEST(test_string_limit)
{
    static const struct { const char *name; guint32 n; gboolean ok; } cases[] = {
        { "4MiB-1", 4194303, TRUE },
        { "4MiB", 4194304, TRUE },
        { "4MiB+1", 4194305, FALSE },
        { "8MiB", 8388608, FALSE },
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) b = define_xml_payload(cases[i].n);
        g_autoptr(GError) error = NULL;
        remote_domain_define_xml_args args = { 0 };
        gboolean ok = hyved_packet_decode_payload(b->data, b->len,
                                                  (xdrproc_t)xdr_remote_domain_define_xml_args,
                                                  &args, &error);

        ck_assert_msg(ok == cases[i].ok, "%s: decode returned %d", cases[i].name, ok);
        if (ok) {
            ck_assert_msg(strlen(args.xml) == cases[i].n, "%s: length", cases[i].name);
            xdr_free((xdrproc_t)xdr_remote_domain_define_xml_args, &args);
        } else {
            assert_rpc_error(cases[i].name, error);
            ck_assert_msg(args.xml == NULL, "%s: partial string left allocated", cases[i].name);
        }
    }
}
END_TEST

/* remote_connect_list_all_domains_ret with @n domains named "d" */
static GByteArray *
domain_list_payload(guint32 n)
{
    GByteArray *b = g_byte_array_new();
    guint8 w[4] = { n >> 24, n >> 16, n >> 8, n };
    static const guint8 dom[28] = {
        0, 0, 0, 1, 'd', 0, 0, 0,
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        0xff, 0xff, 0xff, 0xff,
    };
    guint32 i;

    g_byte_array_append(b, w, 4);
    for (i = 0; i < n; i++)
        g_byte_array_append(b, dom, sizeof(dom));
    g_byte_array_append(b, w, 4);   /* ret */
    return b;
}

START_TEST(test_array_limit)
{
    static const struct { const char *name; guint32 n; gboolean ok; } cases[] = {
        { "16383-domains", 16383, TRUE },
        { "16384-domains", 16384, TRUE },
        { "16385-domains", 16385, FALSE },
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) b = domain_list_payload(cases[i].n);
        g_autoptr(GError) error = NULL;
        remote_connect_list_all_domains_ret ret = { 0 };
        gboolean ok = hyved_packet_decode_payload(b->data, b->len,
                                                  (xdrproc_t)xdr_remote_connect_list_all_domains_ret,
                                                  &ret, &error);

        ck_assert_msg(ok == cases[i].ok, "%s: decode returned %d", cases[i].name, ok);
        if (ok) {
            ck_assert_msg(ret.domains.domains_len == cases[i].n && ret.ret == cases[i].n,
                          "%s: counts", cases[i].name);
            ck_assert_msg(g_str_equal(ret.domains.domains_val[cases[i].n - 1].name, "d") &&
                          ret.domains.domains_val[cases[i].n - 1].id == -1,
                          "%s: last element", cases[i].name);
            xdr_free((xdrproc_t)xdr_remote_connect_list_all_domains_ret, &ret);
        } else {
            assert_rpc_error(cases[i].name, error);
        }
    }
}
END_TEST

/* Partially decoded objects are freed: a list whose 3rd element is cut
 * short leaves nothing behind in the caller's struct. */
START_TEST(test_partial_freed)
{
    g_autoptr(GByteArray) b = domain_list_payload(3);
    g_autoptr(GError) error = NULL;
    remote_connect_list_all_domains_ret ret = { 0 };

    ck_assert(!hyved_packet_decode_payload(b->data, 4 + 28 * 2 + 10,
                                           (xdrproc_t)xdr_remote_connect_list_all_domains_ret,
                                           &ret, &error));
    assert_rpc_error("partial-list", error);
    ck_assert_msg(ret.domains.domains_val == NULL, "partial-list: array left allocated");
}
END_TEST

START_TEST(test_bad_union_arm)
{
    /* remote_typed_param { field "a", value { type 8 (no such arm) } } */
    g_autoptr(GBytes) bad = proto_hex("00000001 61000000 00000008 00000000");
    g_autoptr(GBytes) good = proto_hex("00000001 61000000 00000001 fffffffe");
    g_autoptr(GError) error = NULL;
    remote_typed_param p = { 0 };

    ck_assert(!hyved_packet_decode_payload(g_bytes_get_data(bad, NULL), g_bytes_get_size(bad),
                                           (xdrproc_t)xdr_remote_typed_param, &p, &error));
    assert_rpc_error("typed-param-bad-type", error);
    ck_assert_msg(p.field == NULL, "typed-param-bad-type: field left allocated");

    ck_assert(hyved_packet_decode_payload(g_bytes_get_data(good, NULL), g_bytes_get_size(good),
                                          (xdrproc_t)xdr_remote_typed_param, &p, NULL));
    ck_assert_int_eq(p.value.type, REMOTE_TYPED_PARAM_INT);
    ck_assert_int_eq(p.value.remote_typed_param_value_u.i, -2);
    xdr_free((xdrproc_t)xdr_remote_typed_param, &p);
}
END_TEST

START_TEST(test_embedded_nul)
{
    /* remote_domain_lookup_by_name_args { name = "vm\0x" } (4 bytes on the wire) */
    g_autoptr(GBytes) bad = proto_hex("00000004 766d0078");
    g_autoptr(GError) error = NULL;
    remote_domain_lookup_by_name_args a = { 0 };

    ck_assert(!hyved_packet_decode_payload(g_bytes_get_data(bad, NULL), g_bytes_get_size(bad),
                                           (xdrproc_t)xdr_remote_domain_lookup_by_name_args,
                                           &a, &error));
    assert_rpc_error("embedded-nul", error);
    ck_assert_msg(strstr(error->message, "canonical") != NULL, "embedded-nul: '%s'", error->message);
    ck_assert_msg(a.name == NULL, "embedded-nul: string left allocated");
}
END_TEST

START_TEST(test_decode_payload_too_big)
{
    g_autoptr(GError) error = NULL;
    static const guint8 byte;

    /* The length alone is rejected; the buffer is never read that far. */
    ck_assert(!hyved_packet_decode_payload(&byte, HYVED_MESSAGE_PAYLOAD_MAX + 1, NULL, NULL,
                                           &error));
    assert_rpc_error("payload-too-big", error);
}
END_TEST

/* ---- explicit limits, encode direction -------------------------------- */

START_TEST(test_encode_limits)
{
    HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_DOMAIN_GET_MESSAGES,
                      HYVED_TYPE_REPLY, 3, HYVED_STATUS_OK };
    g_autofree char *big = g_malloc(4194304 + 2);
    char *strs[9];
    remote_domain_get_messages_ret msgs = { { 0, strs } };
    remote_domain_get_xml_desc_ret xml = { big };
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) pkt = NULL;
    int i;

    memset(big, 'm', 4194304 + 1);
    big[4194304 + 1] = '\0';
    /* one string over 4 MiB: refused by the rpcgen limit */
    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_domain_get_xml_desc_ret, &xml, &error);
    ck_assert_msg(pkt == NULL, "string-over-4MiB: encoded");
    assert_rpc_error("string-over-4MiB", error);
    g_clear_error(&error);

    /* exactly 4 MiB: fine */
    big[4194304] = '\0';
    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_domain_get_xml_desc_ret, &xml, &error);
    ck_assert_msg(pkt != NULL, "string-4MiB: %s", error ? error->message : "?");
    ck_assert_uint_eq(g_bytes_get_size(pkt), 28 + 4 + 4194304);
    g_clear_pointer(&pkt, g_bytes_unref);

    /* 9 strings of 4 MiB: every string is legal, the packet is > 32 MiB */
    for (i = 0; i < 9; i++)
        strs[i] = big;
    msgs.msgs.msgs_len = 9;
    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_domain_get_messages_ret, &msgs, &error);
    ck_assert_msg(pkt == NULL, "packet-over-32MiB: encoded");
    assert_rpc_error("packet-over-32MiB", error);
    g_clear_error(&error);

    /* 7 of them (28 MiB) still fit */
    msgs.msgs.msgs_len = 7;
    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_domain_get_messages_ret, &msgs, &error);
    ck_assert_msg(pkt != NULL, "packet-28MiB: %s", error ? error->message : "?");
}
END_TEST

START_TEST(test_encode_null_string)
{
    HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_CONNECT_GET_URI,
                      HYVED_TYPE_REPLY, 3, HYVED_STATUS_OK };
    remote_connect_get_uri_ret ret = { NULL };   /* nonnull string left NULL */
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_connect_get_uri_ret,
                                                &ret, &error);

    ck_assert_msg(pkt == NULL, "null-nonnull-string: encoded");
    assert_rpc_error("null-nonnull-string", error);
}
END_TEST

/* Handler mistakes must fail the encode, not crash the daemon. */
START_TEST(test_encode_null_array)
{
    HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS,
                      HYVED_TYPE_REPLY, 3, HYVED_STATUS_OK };
    remote_connect_list_all_domains_ret ret = { { 2, NULL }, 2 };
    remote_node_get_cpu_map_ret map = { { 4, NULL }, 4, 4 };
    remote_connect_list_all_domains_ret empty = { { 0, NULL }, 0 };
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) pkt = NULL;

    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_connect_list_all_domains_ret, &ret,
                              &error);
    ck_assert_msg(pkt == NULL, "null-array: encoded");
    assert_rpc_error("null-array", error);
    g_clear_error(&error);

    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_node_get_cpu_map_ret, &map, &error);
    ck_assert_msg(pkt == NULL, "null-opaque: encoded");
    assert_rpc_error("null-opaque", error);
    g_clear_error(&error);

    pkt = hyved_packet_encode(&h, (xdrproc_t)xdr_remote_connect_list_all_domains_ret, &empty,
                              &error);
    ck_assert_msg(pkt != NULL, "empty-null-array: %s", error ? error->message : "?");
    ck_assert_uint_eq(g_bytes_get_size(pkt), 28 + 8);
}
END_TEST

/* ---- error and stream helpers ---------------------------------------- */

START_TEST(test_stream_error)
{
    HyvedHeader s = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_DOMAIN_OPEN_CONSOLE,
                      HYVED_TYPE_STREAM, 8, HYVED_STATUS_CONTINUE };
    g_autoptr(GBytes) pkt = hyved_packet_encode_stream_error(&s, 38, 38, "console gone");
    gsize len;
    const guint8 *data = g_bytes_get_data(pkt, &len);
    remote_error err = { 0 };
    HyvedHeader h;

    ck_assert(hyved_packet_decode_header(data + 4, len - 4, &h, NULL));
    ck_assert_int_eq(h.proc, 201);
    ck_assert_int_eq(h.type, HYVED_TYPE_STREAM);
    ck_assert_uint_eq(h.serial, 8);
    ck_assert_int_eq(h.status, HYVED_STATUS_ERROR);
    ck_assert(hyved_packet_decode_payload(data + 28, len - 28, (xdrproc_t)xdr_remote_error,
                                          &err, NULL));
    ck_assert_int_eq(err.code, 38);
    ck_assert_int_eq(err.domain, 38);
    ck_assert_int_eq(err.level, 2);
    ck_assert_str_eq(*err.message, "console gone");
    xdr_free((xdrproc_t)xdr_remote_error, &err);
}
END_TEST

START_TEST(test_error_without_message)
{
    HyvedHeader c = { HYVED_PROGRAM_REMOTE, 1, 9999, HYVED_TYPE_CALL_WITH_FDS, 4,
                      HYVED_STATUS_OK };
    g_autoptr(GBytes) pkt = hyved_packet_encode_error(&c, 1, 57, NULL);
    g_autoptr(GBytes) want = proto_hex("00000048 20008086 00000001 0000270f 00000001 00000004"
                                       "00000001 | 00000001 00000039 | 00000000 | 00000002 |"
                                       "00000000 00000000 00000000 00000000 | 00000000 00000000 |"
                                       "00000000");

    ck_assert_msg(g_bytes_equal(pkt, want), "error-no-message: bytes differ");
}
END_TEST

START_TEST(test_raw_sizes)
{
    HyvedHeader s = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_DOMAIN_OPEN_CONSOLE,
                      HYVED_TYPE_STREAM, 8, HYVED_STATUS_CONTINUE };
    g_autofree guint8 *data = g_malloc(HYVED_STREAM_PAYLOAD_MAX);
    g_autoptr(GBytes) pkt = NULL;
    const guint8 *p;
    gsize i;

    for (i = 0; i < HYVED_STREAM_PAYLOAD_MAX; i++)
        data[i] = (guint8)(i * 13);
    pkt = hyved_packet_encode_raw(&s, data, HYVED_STREAM_PAYLOAD_MAX);
    ck_assert_uint_eq(g_bytes_get_size(pkt), 28 + HYVED_STREAM_PAYLOAD_MAX);
    p = g_bytes_get_data(pkt, NULL);
    ck_assert_uint_eq((guint32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3],
                      28 + HYVED_STREAM_PAYLOAD_MAX);
    ck_assert(memcmp(p + 28, data, HYVED_STREAM_PAYLOAD_MAX) == 0);
}
END_TEST

TCase *
test_protocol_packet_tcase(void)
{
    TCase *tc = tcase_create("packet");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_length, 0, G_N_ELEMENTS(length_cases));
    tcase_add_test(tc, test_header_truncated);
    tcase_add_test(tc, test_string_limit);
    tcase_add_test(tc, test_array_limit);
    tcase_add_test(tc, test_partial_freed);
    tcase_add_test(tc, test_bad_union_arm);
    tcase_add_test(tc, test_embedded_nul);
    tcase_add_test(tc, test_decode_payload_too_big);
    tcase_add_test(tc, test_encode_limits);
    tcase_add_test(tc, test_encode_null_string);
    tcase_add_test(tc, test_encode_null_array);
    tcase_add_test(tc, test_stream_error);
    tcase_add_test(tc, test_error_without_message);
    tcase_add_test(tc, test_raw_sizes);
    return tc;
}
