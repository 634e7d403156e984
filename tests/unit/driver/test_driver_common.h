/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_driver_common.h: helpers shared by the driver unit tests. */
#pragma once

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "hyve-config.h"
#include "hyve_domain_def.h"
#include "hyve_domain_obj.h"
#include "hyve_driver.h"
#include "test_common.h"

#define TEST_EMULATOR "/usr/sbin/bhyve-runner"
#define TEST_XML_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/xml"

static inline char *
test_read_file(const char *path)
{
    char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, NULL))
        return NULL;
    return data;
}

/* "<code> <domain> <message>" for an error. */
static inline char *
test_error_line(const GError *err)
{
    HyveErrorFrom from = 0;

    if (!hyve_error_from_quark(err->domain, &from))
        from = -1;
    return g_strdup_printf("%d %d %s", err->code, (int)from, err->message);
}

/* Asserts @err is libvirt's error @code from domain @from (named @from_name
 * in the failure text) with exactly @message. */
static inline void
test_check_error_from(const char *what, const GError *err, HyveErrorFrom from,
                      const char *from_name, int code, const char *message)
{
    ck_assert_msg(err, "%s: no error", what);
    ck_assert_msg(err->domain == hyve_error_quark(from),
                  "%s: error domain %s, not %s (%s)", what,
                  g_quark_to_string(err->domain), from_name, err->message);
    ck_assert_msg(err->code == code && g_str_equal(err->message, message),
                  "%s: got %d '%s', want %d '%s'", what, err->code, err->message, code,
                  message);
}

static inline gboolean
test_regenerate(void)
{
    const char *v = g_getenv("HYVE_REGENERATE");

    return v && g_str_equal(v, "1");
}
