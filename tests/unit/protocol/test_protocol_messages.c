/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_messages.c: every struct/union of hyved_protocol.x (all
 * *_args, *_ret and *_msg payloads included) against an independent XDR
 * writer: round trip, truncation, trailing bytes, limits, garbage.
 * One loop iteration per type, the type name in every assertion.
 */
#include <check.h>
#include <string.h>

#include "hyved_packet.h"
#include "hyved_protocol.h"
#include "hyve_error.h"
#include "proto_model.h"
#include "test_protocol.h"

static const HyvedHeader dummy_hdr = {
    HYVED_PROGRAM_REMOTE, HYVED_PROGRAM_VERSION, 1, HYVED_TYPE_REPLY, 7, HYVED_STATUS_OK
};

/* Decodes @len bytes as @m; returns the object (caller frees) or NULL. */
static void *
decode(const ProtoMessage *m, const guint8 *buf, gsize len, GError **error)
{
    void *obj = g_malloc0(m->size);

    if (!hyved_packet_decode_payload(buf, len, m->filter, obj, error)) {
        g_free(obj);
        return NULL;
    }
    return obj;
}

static void
release(const ProtoMessage *m, void *obj)
{
    xdr_free(m->filter, obj);
    g_free(obj);
}

/* Encodes @obj with the packet codec and returns the payload part. */
static GBytes *
encode_payload(const ProtoMessage *m, void *obj)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) pkt = hyved_packet_encode(&dummy_hdr, m->filter, obj, &error);
    gsize len;
    const guint8 *data;

    ck_assert_msg(pkt != NULL, "%s: encode failed: %s", m->name,
                  error ? error->message : "?");
    data = g_bytes_get_data(pkt, &len);
    ck_assert_msg(len >= 28, "%s: packet too short", m->name);
    ck_assert_msg(((guint32)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]) == len,
                  "%s: length word does not match packet size", m->name);
    return g_bytes_new_from_bytes(pkt, 28, len - 28);
}

static void
assert_rpc_error(const ProtoMessage *m, const GError *error, const char *what)
{
    HyveErrorFrom from;

    ck_assert_msg(error != NULL, "%s: %s: no GError set", m->name, what);
    ck_assert_msg(hyve_error_from_quark(error->domain, &from) && from == HYVE_FROM_RPC,
                  "%s: %s: error domain is not RPC", m->name, what);
    ck_assert_msg(error->code == HYVE_ERR_RPC, "%s: %s: code %d, want 39",
                  m->name, what, error->code);
}

START_TEST(test_roundtrip)
{
    const ProtoMessage *m = &proto_messages[_i];
    int shape;

    for (shape = 0; shape < PROTO_SHAPE_LAST; shape++) {
        g_autoptr(GByteArray) sample = proto_sample(m->type, shape, NULL, FALSE, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) enc1 = NULL;
        g_autoptr(GBytes) enc2 = NULL;
        void *obj, *obj2;

        obj = decode(m, sample->data, sample->len, &error);
        ck_assert_msg(obj != NULL, "%s shape %d: decode of a valid sample failed: %s",
                      m->name, shape, error ? error->message : "?");
        ck_assert_msg(xdr_sizeof(m->filter, obj) == sample->len,
                      "%s shape %d: xdr_sizeof %lu != %u", m->name, shape,
                      xdr_sizeof(m->filter, obj), sample->len);

        /* populated struct -> bytes -> struct -> bytes */
        enc1 = encode_payload(m, obj);
        obj2 = decode(m, g_bytes_get_data(enc1, NULL), g_bytes_get_size(enc1), &error);
        ck_assert_msg(obj2 != NULL, "%s shape %d: decode of re-encoded bytes failed",
                      m->name, shape);
        enc2 = encode_payload(m, obj2);

        if (g_bytes_get_size(enc1) != sample->len ||
            memcmp(g_bytes_get_data(enc1, NULL), sample->data, sample->len) != 0) {
            g_autofree char *want = proto_to_hex(sample->data, sample->len);
            g_autofree char *got = proto_to_hex(g_bytes_get_data(enc1, NULL),
                                                g_bytes_get_size(enc1));
            ck_abort_msg("%s shape %d: re-encoded bytes differ\n want %s\n got  %s",
                         m->name, shape, want, got);
        }
        ck_assert_msg(g_bytes_equal(enc1, enc2), "%s shape %d: second round trip differs",
                      m->name, shape);
        release(m, obj);
        release(m, obj2);
    }
}
END_TEST

START_TEST(test_truncated)
{
    const ProtoMessage *m = &proto_messages[_i];
    g_autoptr(GByteArray) sample = proto_sample(m->type, PROTO_SHAPE_FULL, NULL, FALSE, NULL);
    guint cut;

    ck_assert_msg(sample->len > 0, "%s: empty sample", m->name);
    for (cut = 0; cut < sample->len; cut++) {
        g_autoptr(GError) error = NULL;
        /* a copy of exactly @cut bytes, so reading past it is a real overrun */
        g_autofree guint8 *buf = g_memdup2(sample->data, cut ? cut : 1);
        void *obj = decode(m, buf, cut, &error);

        ck_assert_msg(obj == NULL, "%s: prefix of %u/%u bytes was accepted",
                      m->name, cut, sample->len);
        assert_rpc_error(m, error, "truncated");
    }
}
END_TEST

START_TEST(test_trailing)
{
    const ProtoMessage *m = &proto_messages[_i];
    static const gsize extra[] = { 1, 3, 4, 8 };
    gsize k;

    for (k = 0; k < G_N_ELEMENTS(extra); k++) {
        g_autoptr(GByteArray) sample = proto_sample(m->type, PROTO_SHAPE_ALT, NULL, FALSE, NULL);
        g_autoptr(GError) error = NULL;
        guint8 pad[8] = { 0 };
        void *obj;

        g_byte_array_append(sample, pad, extra[k]);
        obj = decode(m, sample->data, sample->len, &error);
        ck_assert_msg(obj == NULL, "%s: %zu trailing bytes were accepted", m->name, extra[k]);
        assert_rpc_error(m, error, "trailing");
        ck_assert_msg(strstr(error->message, "trailing") != NULL,
                      "%s: unexpected message '%s'", m->name, error->message);
    }
}
END_TEST

/* For every bounded string/opaque/array reachable from the type: exactly
 * the bound decodes, bound + 1 is rejected (with the full data present, so
 * the rejection is the limit and not truncation). */
START_TEST(test_limits)
{
    const ProtoMessage *m = &proto_messages[_i];
    g_autoptr(GPtrArray) nodes = proto_bounded_nodes(m->type);
    guint i;

    for (i = 0; i < nodes->len; i++) {
        const ProtoType *node = nodes->pdata[i];
        g_autoptr(GByteArray) at = NULL;
        g_autoptr(GByteArray) over = NULL;
        g_autoptr(GError) error = NULL;
        gboolean hit = FALSE;
        void *obj;

        if (node->bound == 0xffffffffu)
            continue;
        at = proto_sample(m->type, PROTO_SHAPE_FULL, node, FALSE, &hit);
        if (!hit)
            continue;   /* only reachable through a union arm not taken */
        obj = decode(m, at->data, at->len, &error);
        ck_assert_msg(obj != NULL, "%s: %s with exactly %u elements rejected: %s",
                      m->name, node->name, node->bound, error ? error->message : "?");
        release(m, obj);

        over = proto_sample(m->type, PROTO_SHAPE_FULL, node, TRUE, &hit);
        ck_assert(hit);
        obj = decode(m, over->data, over->len, &error);
        ck_assert_msg(obj == NULL, "%s: %s with %u elements (max %u) accepted",
                      m->name, node->name, node->bound + 1, node->bound);
        assert_rpc_error(m, error, "over limit");
    }
}
END_TEST

/* Random bytes and mutated samples: never crash; whatever is accepted must
 * be canonical, i.e. re-encode to exactly the input. */
START_TEST(test_garbage)
{
    const ProtoMessage *m = &proto_messages[_i];
    g_autoptr(GRand) rand = g_rand_new_with_seed(0x6879766 + _i);
    g_autoptr(GByteArray) sample = proto_sample(m->type, PROTO_SHAPE_FULL, NULL, FALSE, NULL);
    int iter;

    for (iter = 0; iter < 96; iter++) {
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *buf = NULL;
        gsize len, j;
        void *obj;

        if (iter % 2 == 0) {
            len = g_rand_int_range(rand, 0, 160);
            buf = g_malloc(len ? len : 1);
            for (j = 0; j < len; j++)
                buf[j] = (guint8)g_rand_int(rand);
            if (len >= 4 && iter % 4 == 0)
                buf[0] = buf[1] = 0;    /* plausible small counts */
        } else {
            len = sample->len;
            buf = g_memdup2(sample->data, len);
            for (j = 0; j < 1 + (guint)iter % 3; j++)
                buf[g_rand_int_range(rand, 0, len)] ^= (guint8)g_rand_int_range(rand, 1, 256);
        }
        obj = decode(m, buf, len, &error);
        if (obj) {
            g_autoptr(GBytes) again = encode_payload(m, obj);

            ck_assert_msg(g_bytes_get_size(again) == len &&
                          memcmp(g_bytes_get_data(again, NULL), buf, len) == 0,
                          "%s: garbage #%d (%zu bytes) accepted but re-encodes differently",
                          m->name, iter, len);
            release(m, obj);
        } else {
            assert_rpc_error(m, error, "garbage");
        }
    }
}
END_TEST

/* Every *_args/_ret/_msg name belongs to a procedure of remote_procedure. */
START_TEST(test_names)
{
    const ProtoMessage *m = &proto_messages[_i];

    if (g_str_equal(m->role, "type"))
        return;
    ck_assert_msg(m->proc > 0, "%s: no REMOTE_PROC_ matches this %s struct",
                  m->name, m->role);
}
END_TEST

TCase *
test_protocol_messages_tcase(void)
{
    TCase *tc = tcase_create("messages");

    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, test_names, 0, proto_nmessages);
    tcase_add_loop_test(tc, test_roundtrip, 0, proto_nmessages);
    tcase_add_loop_test(tc, test_truncated, 0, proto_nmessages);
    tcase_add_loop_test(tc, test_trailing, 0, proto_nmessages);
    tcase_add_loop_test(tc, test_limits, 0, proto_nmessages);
    tcase_add_loop_test(tc, test_garbage, 0, proto_nmessages);
    return tc;
}
