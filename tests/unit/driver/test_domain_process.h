/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_process.h: running domains through the real driver and the
 * real bhyve-runner on this host's /dev/kvm (an emulated one is enough).
 * The guests are tiny synthetic bzImages (64-bit entry code) that write a
 * line to COM1 and then spin, power off or reset. A fresh driver on a fresh
 * directory per test; events recorded as "NAME:EVENT/DETAIL@ID" or
 * "NAME:REBOOT@ID". Included by one test program each.
 */
#pragma once

#include "test_driver_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve_driver_priv.h"
#include "hyve_process.h"
#include "hyve_runner_control.h"

static const char *runner_path;
static char *tmpdir;
static HyveDriver *drv;
static GMutex events_lock;
static GPtrArray *events;       /* "EVENT/DETAIL@ID" strings, guarded by events_lock */

/* x86-64 guest actions, run after the COM1 message (hex machine code). */
#define ACT_SPIN ""
#define ACT_POWEROFF "66BA040666B8003466EF"        /* outw 0x3400 -> PM1a_CNT (S5) */
#define ACT_RESET "66BAF90CB006EE"                  /* outb 6 -> 0xCF9 */

/* A bzImage (boot protocol 2.15, 64-bit entry at +0x200) whose code writes
 * "HYVE-GUEST up" to COM1, runs @action, then spins with pause. */
static inline GByteArray *
guest_image(const char *action)
{
    static const guint8 print[] = {
        0x66, 0xBA, 0xF8, 0x03,                         /* mov dx, 0x3f8 */
        0x48, 0x8D, 0x35, 0, 0, 0, 0,                   /* lea rsi, [rip+msg] */
        0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8, /* lodsb; test al; jz; out; jmp */
    };
    static const guint8 spin[] = { 0xF3, 0x90, 0xEB, 0xFC };
    static const char msg[] = "HYVE-GUEST up\n";
    GByteArray *img = g_byte_array_new();
    guint8 setup[1024] = { 0 }, pad[0x200] = { 0 }, code[512];
    gsize n = 0, len = strlen(action) / 2;
    gint32 disp;

    memcpy(code, print, sizeof(print));
    n = sizeof(print);
    for (gsize i = 0; i < len; i++) {
        char h[3] = { action[2 * i], action[2 * i + 1], 0 };

        code[n++] = (guint8)strtoul(h, NULL, 16);
    }
    memcpy(code + n, spin, sizeof(spin));
    n += sizeof(spin);
    disp = (gint32)(n - 11);
    memcpy(code + 7, &disp, 4);
    memcpy(code + n, msg, sizeof(msg));
    n += sizeof(msg);

    setup[0x1F1] = 1;                                   /* setup_sects */
    setup[0x1FE] = 0x55; setup[0x1FF] = 0xAA;
    setup[0x202] = 'H'; setup[0x203] = 'd'; setup[0x204] = 'r'; setup[0x205] = 'S';
    setup[0x206] = 0x0F; setup[0x207] = 0x02;           /* protocol 2.15 */
    setup[0x211] = 1;                                   /* LOADED_HIGH */
    setup[0x22C] = 0xFF; setup[0x22D] = 0xFF; setup[0x22E] = 0xFF; setup[0x22F] = 0x7F;
    setup[0x232] = 0x20;                                /* kernel_alignment 2 MiB */
    setup[0x236] = 1;                                   /* XLF_KERNEL_64 */
    setup[0x238] = 0xFF; setup[0x239] = 0x07;           /* cmdline_size */
    setup[0x262] = 0x10;                                /* init_size 1 MiB */
    g_byte_array_append(img, setup, sizeof(setup));
    g_byte_array_append(img, pad, sizeof(pad));
    g_byte_array_append(img, code, n);
    g_byte_array_set_size(img, 1024 + 4096);
    return img;
}

static inline void
sink(const HyveDomainEvent *ev, gpointer data)
{
    char *s;

    (void)data;
    if (ev->id == HYVE_DOMAIN_EVENT_ID_REBOOT)
        s = g_strdup_printf("%s:REBOOT@%d", ev->name, ev->dom_id);
    else if (ev->id == HYVE_DOMAIN_EVENT_ID_LIFECYCLE)
        s = g_strdup_printf("%s:%d/%d@%d", ev->name, ev->event, ev->detail, ev->dom_id);
    else
        return;
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, s);
    g_mutex_unlock(&events_lock);
}

static inline HyveDriver *
open_driver_or_null(GError **err)
{
    HyveDriverConfig cfg = { 0 };
    HyveDriver *d;

    cfg.config_dir = g_build_filename(tmpdir, "etc", NULL);
    cfg.state_dir = g_build_filename(tmpdir, "run", NULL);
    cfg.log_dir = g_build_filename(tmpdir, "log", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.runner_path = g_strdup(runner_path);
    cfg.uri = g_strdup("bhyve:///session");
    g_mkdir_with_parents(cfg.log_dir, 0700);
    d = hyve_driver_new(&cfg, err);
    hyve_driver_config_clear(&cfg);
    if (d)
        hyve_driver_set_event_sink(d, sink, NULL);
    return d;
}

static inline HyveDriver *
open_driver(void)
{
    g_autoptr(GError) err = NULL;
    HyveDriver *d = open_driver_or_null(&err);

    ck_assert_msg(d, "hyve_driver_new: %s", err ? err->message : "");
    return d;
}

static inline void
setup(void)
{
    tmpdir = test_tmpdir_new("hyve-process-XXXXXX");
    events = g_ptr_array_new_with_free_func(g_free);
    drv = open_driver();
}

static inline guint runners_of_test(gboolean kill_them);

static inline void
teardown(void)
{
    hyve_driver_free(drv);
    drv = NULL;
    /* runners a failed test left running (our children are reaped at exit) */
    runners_of_test(TRUE);
    test_tree_remove(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
}

/* Domain XML for a guest running @action; @extra goes inside <domain>. */
static inline char *
guest_xml(const char *name, const char *action, const char *extra)
{
    g_autoptr(GByteArray) img = guest_image(action);
    g_autofree char *kernel = g_strdup_printf("%s/%s.bzImage", tmpdir, name);

    ck_assert(g_file_set_contents(kernel, (char *)img->data, img->len, NULL));
    return g_strdup_printf("<domain type='bhyve'><name>%s</name><memory unit='MiB'>64</memory>"
                           "<os><type>hvm</type><kernel>%s</kernel></os>%s"
                           "<devices><serial type='pty'/></devices></domain>",
                           name, kernel, extra ? extra : "");
}

static inline HyveDomainObj *
define_guest(const char *name, const char *action, const char *extra)
{
    g_autofree char *xml = guest_xml(name, action, extra);
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj = hyve_driver_define_xml(drv, xml, 0, &err);

    ck_assert_msg(obj, "define %s: %s", name, err ? err->message : "");
    return obj;
}

static inline void
start_ok(HyveDomainObj *obj, guint flags)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(hyve_driver_domain_start(drv, obj, flags, &err), "start %s: %s", obj->name,
                  err ? err->message : "");
}

static inline void
assert_state(HyveDomainObj *obj, int state, int reason, const char *ctx)
{
    HyveDomainInfo info;

    hyve_domain_obj_get_info(obj, &info);
    ck_assert_msg((int)info.state == state && info.reason == reason,
                  "%s: state %d/%d, want %d/%d", ctx, info.state, info.reason, state, reason);
}

/* Waits up to @secs for the state (exit handling runs on a driver thread). */
static inline void
wait_state(HyveDomainObj *obj, int state, int reason, int secs, const char *ctx)
{
    HyveDomainInfo info;

    for (int i = 0; i < secs * 50; i++) {
        hyve_domain_obj_get_info(obj, &info);
        if ((int)info.state == state && info.reason == reason)
            return;
        g_usleep(20000);
    }
    assert_state(obj, state, reason, ctx);
}

/* The events seen so far, joined with spaces. */
static inline char *
events_str(void)
{
    GString *s = g_string_new(NULL);

    hyve_driver_flush_events(drv);
    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (char *)g_ptr_array_index(events, i));
    g_mutex_unlock(&events_lock);
    return g_string_free(s, FALSE);
}

static inline void
assert_events(const char *want, const char *ctx)
{
    g_autofree char *got = events_str();

    ck_assert_msg(g_str_equal(got, want), "%s: events\n  got:  %s\n  want: %s", ctx, got, want);
}

static inline pid_t
runner_pid(HyveDomainObj *obj)
{
    pid_t pid;

    g_mutex_lock(&obj->lock);
    pid = obj->run ? obj->run->pid : 0;
    g_mutex_unlock(&obj->lock);
    return pid;
}

static inline gboolean
run_file_exists(const char *name, const char *ext)
{
    g_autofree char *p = g_strdup_printf("%s/run/%s.%s", tmpdir, name, ext);

    return g_file_test(p, G_FILE_TEST_EXISTS);
}

/* The pid is gone (not even a zombie left unreaped). */
static inline gboolean
pid_gone(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return TRUE;
        g_usleep(20000);
    }
    return FALSE;
}


static inline void
clear_events(void)
{
    if (drv)
        hyve_driver_flush_events(drv);
    g_mutex_lock(&events_lock);
    g_ptr_array_set_size(events, 0);
    g_mutex_unlock(&events_lock);
}

/* Runner processes of this test's domains still alive (zombies excluded);
 * with @kill_them, SIGKILLed (a failed test leaves none behind). */
static inline guint
runners_of_test(gboolean kill_them)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    g_autofree char *prefix = g_strdup_printf("%s/run/", tmpdir);
    const char *ent;
    guint n = 0;

    while ((ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", ent);
        g_autofree char *cmd = NULL;
        gsize len = 0;
        guint64 st;
        char state = 0;

        if (!g_ascii_isdigit(ent[0]) || !g_file_get_contents(path, &cmd, &len, NULL))
            continue;
        for (gsize i = 0; i + 1 < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (strstr(cmd, prefix) && hyve_proc_stat(atoi(ent), &st, NULL, NULL, &state) &&
            state != 'Z') {
            n++;
            if (kill_them)
                kill(atoi(ent), SIGKILL);
        }
    }
    return n;
}

static inline guint
live_runners(void)
{
    return runners_of_test(FALSE);
}

static inline void
assert_fails(gboolean ok, GError *err, const char *ctx, int code, const char *msg)
{
    ck_assert_msg(!ok, "%s: succeeded, want error %d '%s'", ctx, code, msg);
    ck_assert_msg(err && err->code == code && g_str_has_suffix(err->message, msg),
                  "%s: got %d '%s', want %d '%s'", ctx, err ? err->code : 0,
                  err ? err->message : "", code, msg);
}

/* What the guest does after the host pressed the power button, played by
 * the runner's control socket ("poweroff": exit 1 as for ACPI S5). */
static inline void
guest_powers_off(HyveDomainObj *obj)
{
    g_autofree char *ctl = NULL, *reply = NULL;
    g_autoptr(GError) err = NULL;

    g_mutex_lock(&obj->lock);
    ctl = g_strdup(obj->run->paths.control);
    g_mutex_unlock(&obj->lock);
    reply = hyve_runner_control(ctl, obj->name, "poweroff", 5000, &err);
    ck_assert_msg(reply, "poweroff: %s", err ? err->message : "");
}


/* main() of a test program: argv[1] is the bhyve-runner binary; skipped
 * (77) without a usable /dev/kvm. */
static inline int
process_test_main(int argc, char **argv, Suite *s)
{
    int fd;

    if (argc < 2) {
        g_printerr("usage: %s BHYVE-RUNNER\n", argv[0]);
        return 2;
    }
    runner_path = g_canonicalize_filename(argv[1], NULL);
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        g_print("SKIP: /dev/kvm: %s\n", g_strerror(errno));
        return 77;
    }
    close(fd);
    return test_suite_run(s);
}

static inline TCase *
process_tcase_new(Suite *s)
{
    TCase *tc = tcase_create("process");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}
