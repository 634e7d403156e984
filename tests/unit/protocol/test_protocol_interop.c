/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_interop.c: the stock virsh 9.0 client against replies and
 * events encoded with our hyved_protocol.x, and arguments it sends decoded
 * with it. Checks the layouts that the Appendix A packets do not cover
 * (typed params, stats, leases, addresses, events, ...): a wrong field
 * order or type makes virsh fail to decode or print other values.
 * Skipped when virsh is not installed. The canned replies are in
 * test_protocol_interop_procs.c, the cases in test_protocol_interop_cases.h.
 */
#include <check.h>
#include <string.h>

#include "proto_fakesrv.h"

#define PYTHON3 "/usr/bin/python3"   /* python3-libvirt lives in Debian's system python */
#include "test_protocol.h"
#include "test_protocol_interop_procs.h"

typedef struct {
    const char *name;
    guint features;                 /* SUPPORTS_FEATURE bits answered 1 */
    const char *argv[8];            /* virsh arguments after -c URI */
    const char *out[10];            /* substrings expected in stdout */
    const char *log[4];             /* substrings expected in the server log */
    const char *python;             /* instead of virsh: python3 -c this, URI as argv[1] */
    const char *err;                /* substring expected in stderr (exit status then free) */
} InteropCase;

#define F_EVENT_CALLBACK (1u << 14)
#define F_CLOSE_CALLBACK (1u << 15)

#include "test_protocol_interop_cases.h"

START_TEST(test_virsh)
{
    const InteropCase *tc = &interop_cases[_i];
    g_autofree char *virsh = g_find_program_in_path("virsh");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *log = NULL;
    g_autoptr(GError) error = NULL;
    ProtoFakeServer *srv;
    int status = -1;
    gsize i;

    if (!virsh || (tc->python && !g_file_test(PYTHON3, G_FILE_TEST_IS_EXECUTABLE)))
        return;   /* reported once by test_clients_present */
    srv = proto_fake_server_start(interop_procs, interop_nprocs, tc->features);
    if (tc->python) {
        g_ptr_array_add(argv, (char *)PYTHON3);
        g_ptr_array_add(argv, (char *)"-c");
        g_ptr_array_add(argv, (char *)tc->python);
        g_ptr_array_add(argv, (char *)proto_fake_server_uri(srv));
    } else {
        g_ptr_array_add(argv, virsh);
        g_ptr_array_add(argv, (char *)"-c");
        g_ptr_array_add(argv, (char *)proto_fake_server_uri(srv));
        for (i = 0; tc->argv[i]; i++)
            g_ptr_array_add(argv, (char *)tc->argv[i]);
    }
    g_ptr_array_add(argv, NULL);
    ck_assert_msg(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error),
                  "%s: spawn: %s", tc->name, error ? error->message : "?");
    log = proto_fake_server_stop(srv);

    /* a case that expects an error message may end with a failure status */
    ck_assert_msg(tc->err || g_spawn_check_wait_status(status, NULL),
                  "%s: virsh failed\nstdout: %s\nstderr: %s\nserver: %s",
                  tc->name, out, err, log);
    ck_assert_msg(!strstr(log, "BADARGS") && !strstr(log, "BADRET"),
                  "%s: codec failure in server log:\n%s", tc->name, log);
    for (i = 0; tc->out[i]; i++)
        ck_assert_msg(strstr(out, tc->out[i]) != NULL,
                      "%s: stdout lacks '%s'\nstdout: %s\nserver: %s",
                      tc->name, tc->out[i], out, log);
    if (tc->err)
        ck_assert_msg(strstr(err, tc->err) != NULL, "%s: stderr lacks '%s'\nstderr: %s",
                      tc->name, tc->err, err);
    for (i = 0; tc->log[i]; i++)
        ck_assert_msg(strstr(log, tc->log[i]) != NULL,
                      "%s: server did not decode '%s'\nserver: %s", tc->name, tc->log[i], log);
}
END_TEST

START_TEST(test_clients_present)
{
    g_autofree char *virsh = g_find_program_in_path("virsh");

    if (!virsh)
        fprintf(stderr, "virsh not installed: interop cases skipped\n");
    if (!g_file_test(PYTHON3, G_FILE_TEST_IS_EXECUTABLE))
        fprintf(stderr, PYTHON3 " not installed: python interop cases skipped\n");
}
END_TEST

TCase *
test_protocol_interop_tcase(void)
{
    TCase *tc = tcase_create("interop");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_clients_present);
    tcase_add_loop_test(tc, test_virsh, 0, G_N_ELEMENTS(interop_cases));
    return tc;
}
