/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_xml_fail.c (network-xml, with test_network_xml.c): network
 * definitions hyve refuses, each with the exact error code, domain
 * (always NETWORK) and message. The cases are data: network/bad/NAME.xml
 * (the input; one trailing newline is not part of it) and a line of
 * network/bad/expected.txt (format in its header). Inputs flagged valid
 * are valid libvirt XML (checked against network.rng) that hyve cannot do
 * or that break a rule the schema cannot express; every CONFIG_UNSUPPORTED
 * case parsed with validation must be such an input.
 */

#include "test_network_xml.h"

#define BAD_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/network/bad"

typedef struct {
    char *name;
    gboolean validate;            /* parse with schema validation */
    gboolean valid;               /* the input is valid against network.rng */
    int code;
    char *message;
} FailCase;

static GArray *failures;          /* FailCase, loaded before the tests fork */

/* "NAME FLAGS CODE MESSAGE" */
static void
load_case(const char *line, guint lineno)
{
    g_auto(GStrv) f = g_strsplit(line, " ", 4);
    g_auto(GStrv) flags = NULL;
    g_auto(GStrv) msg = NULL;
    FailCase c = { 0 };
    guint64 code;

    if (g_strv_length(f) != 4 || !g_ascii_string_to_unsigned(f[2], 10, 1, 100, &code, NULL))
        g_error("expected.txt:%u: not NAME FLAGS CODE MESSAGE", lineno);
    flags = g_strsplit(f[1], ",", -1);
    c.validate = g_strv_contains((const char *const *)flags, "validate");
    c.valid = g_strv_contains((const char *const *)flags, "valid");
    c.code = (int)code;
    c.name = g_strdup(f[0]);
    msg = g_strsplit(f[3], "\\n", -1);
    c.message = g_strjoinv("\n", msg);
    g_array_append_val(failures, c);
}

/* Runs before the tests are added (outside a test: failures abort). */
static void
load_cases(void)
{
    g_autofree char *text = test_read_file(BAD_DIR "/expected.txt");
    g_auto(GStrv) lines = NULL;

    if (!text)
        g_error("cannot read " BAD_DIR "/expected.txt");
    failures = g_array_new(FALSE, TRUE, sizeof(FailCase));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (*lines[i] && lines[i][0] != '#')
            load_case(lines[i], i + 1);
    }
}

/* Every case once, and no input without an expectation. */
START_TEST(test_cases_complete)
{
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GDir) dir = g_dir_open(BAD_DIR, 0, NULL);
    const char *file;

    for (guint i = 0; i < failures->len; i++) {
        const char *n = g_array_index(failures, FailCase, i).name;

        ck_assert_msg(g_hash_table_add(names, (gpointer)n), "case %s listed twice", n);
    }
    ck_assert_msg(dir, "cannot open " BAD_DIR);
    while ((file = g_dir_read_name(dir))) {
        g_autofree char *n = g_str_has_suffix(file, ".xml") ?
                             g_strndup(file, strlen(file) - 4) : NULL;

        ck_assert_msg(!n || g_hash_table_contains(names, n), "%s has no line in expected.txt",
                      file);
    }
    ck_assert_uint_ge(failures->len, 80);
}
END_TEST

START_TEST(test_failure)
{
    const FailCase *c = &g_array_index(failures, FailCase, _i);
    g_autofree char *path = g_strdup_printf(BAD_DIR "/%s.xml", c->name);
    g_autofree char *xml = test_read_file(path);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autofree char *got = NULL, *want = NULL, *out = NULL, *errors = NULL;
    g_auto(GStrv) parts = NULL;
    gboolean valid;

    ck_assert_msg(xml, "%s: cannot read %s", c->name, path);
    if (g_str_has_suffix(xml, "\n"))
        xml[strlen(xml) - 1] = '\0';
    valid = test_schema_validate_file(xml, "network.rng", &errors);
    ck_assert_msg(valid == c->valid, "%s: input is %svalid against network.rng: %s", c->name,
                  valid ? "" : "not ", errors ? errors : "");
    /* hyve's own refusals (checked with validation) are for valid libvirt XML */
    ck_assert_msg(c->code != HYVE_ERR_CONFIG_UNSUPPORTED || !c->validate || c->valid,
                  "%s: CONFIG_UNSUPPORTED for an input that is not valid libvirt XML", c->name);
    def = hyve_net_def_parse_string(xml, HYVE_LIBVIRT_SCHEMA_DIR, c->validate, &err);
    if (def)
        out = hyve_net_def_format(def, FALSE);
    ck_assert_msg(!def, "%s: accepted, formatted as:\n%s", c->name, out);
    ck_assert_msg(err, "%s: failure without a GError", c->name);
    got = test_error_line(err);
    parts = g_strsplit(got, HYVE_LIBVIRT_SCHEMA_DIR, -1);
    g_free(got);
    got = g_strjoinv("@SCHEMA_DIR@", parts);
    want = g_strdup_printf("%d %d %s", c->code, HYVE_FROM_NETWORK, c->message);
    ck_assert_msg(g_str_equal(got, want), "%s:\n  got:  %s\n  want: %s", c->name, got, want);
}
END_TEST

void
network_xml_add_failure_test(TCase *tc)
{
    load_cases();
    tcase_add_test(tc, test_cases_complete);
    tcase_add_loop_test(tc, test_failure, 0, failures->len);
}
