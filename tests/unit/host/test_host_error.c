/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_host_error.c: driver/hyve_error.c: libvirt's message prefix for
 * every error code, one GError quark per libvirt error domain (also when
 * first used from many threads), and foreign quarks left unmapped.
 */
#include "hyve-config.h"

#include <check.h>
#include <string.h>

#include "hyve_error.h"
#include "test_host.h"

typedef struct {
    HyveErrorCode code;
    const char *prefix;       /* libvirt's message without detail */
    const char *with_detail;  /* message for detail "x" */
} PrefixCase;

static const PrefixCase prefix_cases[] = {
    { HYVE_ERR_INTERNAL_ERROR, "internal error", "internal error: x" },
    { HYVE_ERR_NO_SUPPORT, "this function is not supported by the connection driver",
      "this function is not supported by the connection driver: x" },
    { HYVE_ERR_INVALID_ARG, "invalid argument", "invalid argument: x" },
    { HYVE_ERR_OPERATION_FAILED, "operation failed", "operation failed: x" },
    { HYVE_ERR_OS_TYPE, "unknown OS type", "unknown OS type x" },
    { HYVE_ERR_NO_NAME, "missing name information", "missing name information in x" },
    { HYVE_ERR_XML_ERROR, "XML description is invalid or not well formed", "XML error: x" },
    { HYVE_ERR_DOM_EXIST, "this domain exists already", "domain x exists already" },
    { HYVE_ERR_OPERATION_DENIED, "operation forbidden for read only access",
      "operation forbidden: x" },
    { HYVE_ERR_XML_DETAIL, "parser error", "x" },
    { HYVE_ERR_SYSTEM_ERROR, "system call error", "x" },
    { HYVE_ERR_RPC, "RPC error", "x" },
    { HYVE_ERR_NO_DOMAIN, "Domain not found", "Domain not found: x" },
    { HYVE_ERR_NO_NETWORK, "Network not found", "Network not found: x" },
    { HYVE_ERR_NO_STORAGE_POOL, "Storage pool not found", "Storage pool not found: x" },
    { HYVE_ERR_OPERATION_INVALID, "Requested operation is not valid",
      "Requested operation is not valid: x" },
    { HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration", "unsupported configuration: x" },
    { HYVE_ERR_INVALID_STREAM, "invalid stream pointer", "invalid stream pointer in x" },
    { HYVE_ERR_ARGUMENT_UNSUPPORTED, "argument unsupported", "argument unsupported: x" },
    { HYVE_ERR_NO_DOMAIN_METADATA, "metadata not found", "metadata not found: x" },
    { HYVE_ERR_OPERATION_UNSUPPORTED, "Operation not supported", "Operation not supported: x" },
    { HYVE_ERR_STORAGE_VOL_EXIST, "this storage volume exists already",
      "storage volume x exists already" },
    { HYVE_ERR_XML_INVALID_SCHEMA, "XML document failed to validate against schema",
      "XML document failed to validate against schema: x" },
    { HYVE_ERR_AUTH_UNAVAILABLE, "authentication unavailable", "authentication unavailable: x" },
};

START_TEST(test_error_prefix)
{
    const PrefixCase *c = &prefix_cases[_i];
    g_autoptr(GError) with = NULL;
    g_autoptr(GError) without = NULL;
    HyveErrorFrom from = HYVE_FROM_NONE;

    ck_assert_msg(g_strcmp0(hyve_error_code_prefix(c->code), c->prefix) == 0,
                  "code %d: prefix '%s', want '%s'", c->code,
                  hyve_error_code_prefix(c->code), c->prefix);
    hyve_error_set(&with, HYVE_FROM_DOMAIN, c->code, "%s", "x");
    ck_assert_msg(with && g_str_equal(with->message, c->with_detail),
                  "code %d: message '%s', want '%s'", c->code,
                  with ? with->message : "(none)", c->with_detail);
    ck_assert_msg(with->code == (int)c->code, "code %d: GError code %d", c->code, with->code);
    ck_assert_msg(hyve_error_from_quark(with->domain, &from) && from == HYVE_FROM_DOMAIN,
                  "code %d: domain %d, want %d", c->code, from, HYVE_FROM_DOMAIN);
    hyve_error_set(&without, HYVE_FROM_BHYVE, c->code, NULL);
    ck_assert_msg(without && g_str_equal(without->message, c->prefix),
                  "code %d: detail-less message '%s', want '%s'", c->code,
                  without ? without->message : "(none)", c->prefix);
}
END_TEST

static const HyveErrorFrom quark_cases[] = {
    HYVE_FROM_NONE, HYVE_FROM_XML, HYVE_FROM_RPC, HYVE_FROM_CONF, HYVE_FROM_REMOTE,
    HYVE_FROM_STORAGE, HYVE_FROM_NETWORK, HYVE_FROM_DOMAIN, HYVE_FROM_NODEDEV,
    HYVE_FROM_CAPABILITIES, HYVE_FROM_STREAMS, HYVE_FROM_ACCESS, HYVE_FROM_BHYVE,
    HYVE_FROM_POLKIT,
};

START_TEST(test_error_quark)
{
    HyveErrorFrom want = quark_cases[_i];
    HyveErrorFrom got = (HyveErrorFrom)-1;
    GQuark q = hyve_error_quark(want);

    ck_assert_msg(q != 0, "from %d: no quark", want);
    ck_assert_msg(q == hyve_error_quark(want), "from %d: quark not stable", want);
    ck_assert_msg(hyve_error_from_quark(q, &got) && got == want,
                  "from %d: mapped back to %d", want, got);
    for (guint j = 0; j < G_N_ELEMENTS(quark_cases); j++) {
        if (quark_cases[j] != want)
            ck_assert_msg(hyve_error_quark(quark_cases[j]) != q,
                          "from %d: quark shared with %d", want, quark_cases[j]);
    }
}
END_TEST

static gpointer
quark_thread(gpointer data)
{
    return GUINT_TO_POINTER(hyve_error_quark((HyveErrorFrom)GPOINTER_TO_INT(data)));
}

START_TEST(test_error_foreign)
{
    GThread *threads[8];
    HyveErrorFrom from = HYVE_FROM_BHYVE;
    g_autoptr(GError) none = NULL;

    ck_assert_msg(!hyve_error_from_quark(G_FILE_ERROR, &from), "G_FILE_ERROR mapped");
    ck_assert_msg(!hyve_error_from_quark(g_quark_from_static_string("hyve-error-"), &from),
                  "bare prefix mapped");
    ck_assert_msg(!hyve_error_from_quark(g_quark_from_static_string("hyve-error-5x"), &from),
                  "trailing garbage mapped");
    ck_assert_msg(!hyve_error_from_quark(0, &from), "quark 0 mapped");
    ck_assert_int_eq(from, HYVE_FROM_BHYVE);
    /* first use of a fresh domain number from many threads: one quark */
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("quark", quark_thread, GINT_TO_POINTER(61));
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        ck_assert_uint_eq(GPOINTER_TO_UINT(g_thread_join(threads[i])), hyve_error_quark(61));
    hyve_error_set(NULL, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN, "%s", "ignored");
    hyve_error_set(&none, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN, "%s", "");
    ck_assert_str_eq(none->message, "Domain not found");
}
END_TEST

void
test_host_add_error_tcases(Suite *s)
{
    TCase *tc;

    tc = tcase_create("error-prefix");
    tcase_add_loop_test(tc, test_error_prefix, 0, G_N_ELEMENTS(prefix_cases));
    suite_add_tcase(s, tc);
    tc = tcase_create("error-quark");
    tcase_add_loop_test(tc, test_error_quark, 0, G_N_ELEMENTS(quark_cases));
    tcase_add_test(tc, test_error_foreign);
    suite_add_tcase(s, tc);
}
