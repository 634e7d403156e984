/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_driver_fixture.h: a real HyveDriver on a temp config directory,
 * with an event sink that records every event. Included by one test
 * program each (static definitions).
 */
#pragma once

#include "test_driver_common.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>


typedef struct {
    int event;
    int detail;
    int id;
    char *name;
    char *nsuri;
} SeenEvent;

static char *tmpdir;
static char *config_dir;
static HyveDriver *drv;
static GMutex events_lock;
static GPtrArray *events;       /* SeenEvent*, guarded by events_lock */

static inline void
seen_event_free(SeenEvent *e)
{
    g_free(e->name);
    g_free(e->nsuri);
    g_free(e);
}

static inline void
sink(const HyveDomainEvent *ev, gpointer data)
{
    SeenEvent *e = g_new0(SeenEvent, 1);

    e->id = ev->id;
    e->event = ev->event;
    e->detail = ev->detail;
    e->name = g_strdup(ev->name);
    e->nsuri = g_strdup(ev->nsuri);
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, e);
    g_mutex_unlock(&events_lock);
}

static inline HyveDriver *
open_driver(void)
{
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    HyveDriver *d;

    cfg.privileged = FALSE;
    cfg.config_dir = g_strdup(config_dir);
    cfg.state_dir = g_build_filename(tmpdir, "run", "bhyve", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.uri = g_strdup("bhyve:///session");
    d = hyve_driver_new(&cfg, &err);
    hyve_driver_config_clear(&cfg);
    ck_assert_msg(d, "hyve_driver_new: %s", err ? err->message : "");
    hyve_driver_set_event_sink(d, sink, NULL);
    return d;
}

static inline void
setup(void)
{
    tmpdir = test_tmpdir_new("hyve-driver-XXXXXX");
    config_dir = g_build_filename(tmpdir, "etc", "bhyve", NULL);
    events = g_ptr_array_new_with_free_func((GDestroyNotify)seen_event_free);
    drv = open_driver();
}

static inline void
teardown(void)
{
    hyve_driver_free(drv);
    drv = NULL;
    test_tree_remove(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    g_clear_pointer(&config_dir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
}

/* The TCase of a driver test program, in @s: a fresh driver on a fresh
 * directory for every test. */
static inline TCase *
driver_tcase_new(Suite *s)
{
    TCase *tc = tcase_create("driver");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}

static inline void
reopen(void)
{
    hyve_driver_free(drv);
    drv = open_driver();
}

static inline char *
dom_xml(const char *name, const char *uuid, guint mem_kib)
{
    return g_strdup_printf(
        "<domain type='bhyve'><name>%s</name>%s%s%s<memory>%u</memory>"
        "<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>",
        name, uuid ? "<uuid>" : "", uuid ? uuid : "", uuid ? "</uuid>" : "", mem_kib);
}

static inline HyveDomainObj *
define_ok(const char *name, const char *uuid, guint mem)
{
    g_autofree char *xml = dom_xml(name, uuid, mem);
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj = hyve_driver_define_xml(drv, xml, 0, &err);

    ck_assert_msg(obj, "define %s: %s", name, err ? err->message : "");
    return obj;
}

static inline void
assert_error(const GError *err, const char *ctx, const char *want)
{
    g_autofree char *got = NULL;

    ck_assert_msg(err, "%s: expected error '%s', got success", ctx, want);
    got = test_error_line(err);
    ck_assert_msg(g_str_equal(got, want), "%s:\n  got:  %s\n  want: %s", ctx, got, want);
}

static inline guint
count_events(int event, int detail)
{
    guint n = 0;

    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++) {
        SeenEvent *e = g_ptr_array_index(events, i);

        if (e->id == HYVE_DOMAIN_EVENT_ID_LIFECYCLE && e->event == event && e->detail == detail)
            n++;
    }
    g_mutex_unlock(&events_lock);
    return n;
}

#define UUID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define UUID_B "bbbbbbbb-0000-4000-8000-000000000002"

