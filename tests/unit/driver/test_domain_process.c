/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_process.c: running domains through the real driver and the
 * real bhyve-runner on this host's /dev/kvm (an emulated one is enough):
 * start/destroy/shutdown/reset/suspend/resume, exit decoding with the
 * on_* actions, events in order, status files, reattach after the driver
 * is freed, transient domains, racing operations. The guests are tiny
 * synthetic bzImages (64-bit entry code) that write a line to COM1 and
 * then spin, power off, reset or triple-fault.
 * argv[1]: the bhyve-runner binary. Skipped (77) without a usable /dev/kvm.
 */
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
static GByteArray *
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

static void
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

static HyveDriver *
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

static HyveDriver *
open_driver(void)
{
    g_autoptr(GError) err = NULL;
    HyveDriver *d = open_driver_or_null(&err);

    ck_assert_msg(d, "hyve_driver_new: %s", err ? err->message : "");
    return d;
}

static void
setup(void)
{
    tmpdir = test_tmpdir_new("hyve-process-XXXXXX");
    events = g_ptr_array_new_with_free_func(g_free);
    drv = open_driver();
}

static void
teardown(void)
{
    hyve_driver_free(drv);
    drv = NULL;
    test_tree_remove(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
}

/* Domain XML for a guest running @action; @extra goes inside <domain>. */
static char *
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

static HyveDomainObj *
define_guest(const char *name, const char *action, const char *extra)
{
    g_autofree char *xml = guest_xml(name, action, extra);
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj = hyve_driver_define_xml(drv, xml, 0, &err);

    ck_assert_msg(obj, "define %s: %s", name, err ? err->message : "");
    return obj;
}

static void
start_ok(HyveDomainObj *obj, guint flags)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(hyve_driver_domain_start(drv, obj, flags, &err), "start %s: %s", obj->name,
                  err ? err->message : "");
}

static void
assert_state(HyveDomainObj *obj, int state, int reason, const char *ctx)
{
    HyveDomainInfo info;

    hyve_domain_obj_get_info(obj, &info);
    ck_assert_msg((int)info.state == state && info.reason == reason,
                  "%s: state %d/%d, want %d/%d", ctx, info.state, info.reason, state, reason);
}

/* Waits up to @secs for the state (exit handling runs on a driver thread). */
static void
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
static char *
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

static void
assert_events(const char *want, const char *ctx)
{
    g_autofree char *got = events_str();

    ck_assert_msg(g_str_equal(got, want), "%s: events\n  got:  %s\n  want: %s", ctx, got, want);
}

static pid_t
runner_pid(HyveDomainObj *obj)
{
    pid_t pid;

    g_mutex_lock(&obj->lock);
    pid = obj->run ? obj->run->pid : 0;
    g_mutex_unlock(&obj->lock);
    return pid;
}

static gboolean
run_file_exists(const char *name, const char *ext)
{
    g_autofree char *p = g_strdup_printf("%s/run/%s.%s", tmpdir, name, ext);

    return g_file_test(p, G_FILE_TEST_EXISTS);
}

/* The pid is gone (not even a zombie left unreaped). */
static gboolean
pid_gone(pid_t pid)
{
    for (int i = 0; i < 250; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return TRUE;
        g_usleep(20000);
    }
    return FALSE;
}

#define EV(e, d, id) #e "/" #d "@" #id

static void
clear_events(void)
{
    if (drv)
        hyve_driver_flush_events(drv);
    g_mutex_lock(&events_lock);
    g_ptr_array_set_size(events, 0);
    g_mutex_unlock(&events_lock);
}

/* Runner processes of this test's domains still alive (zombies excluded). */
static guint
live_runners(void)
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
            state != 'Z')
            n++;
    }
    return n;
}

START_TEST(test_start_destroy)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL, *xml2 = NULL;
    char buf[256] = { 0 };
    gsize got = 0;
    HyveDomainInfo info;
    pid_t pid;
    int fd;

    clear_events();
    start_ok(obj, 0);
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "started");
    assert_events("vm1:2/0@1", "start");
    ck_assert_int_eq(obj->id, 1);
    ck_assert(hyve_domain_obj_is_active(obj));
    ck_assert(!hyve_domain_obj_is_updated(obj));
    pid = runner_pid(obj);
    ck_assert_msg(pid > 0 && kill(pid, 0) == 0, "runner %d alive", pid);
    ck_assert(run_file_exists("vm1", "conf") && run_file_exists("vm1", "pid") &&
              run_file_exists("vm1", "xml") && run_file_exists("vm1", "ctl"));

    xml = hyve_domain_obj_get_xml(obj, 0, &err);
    ck_assert_msg(strstr(xml, "<domain type='bhyve' id='1'>") &&
                  strstr(xml, "<source path='/dev/pts/") && strstr(xml, "tty='/dev/pts/"),
                  "live XML:\n%s", xml);
    xml2 = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_INACTIVE, &err);
    ck_assert_msg(!strstr(xml2, "/dev/pts/") && !strstr(xml2, "id='1'"), "inactive XML:\n%s",
                  xml2);

    /* the guest's line on the console pty */
    fd = hyve_driver_domain_open_console(drv, obj, NULL, &err);
    ck_assert_msg(fd >= 0, "open console: %s", err ? err->message : "");
    for (int i = 0; i < 500 && !strstr(buf, "HYVE-GUEST up"); i++) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

        if (n > 0)
            got += n;
        else
            g_usleep(20000);
    }
    close(fd);
    ck_assert_msg(strstr(buf, "HYVE-GUEST up"), "console read '%s'", buf);

    /* the spinning guest uses CPU time */
    for (int i = 0; i < 100; i++) {
        hyve_domain_obj_get_info(obj, &info);
        if (info.cpu_time_ns > 0)
            break;
        g_usleep(20000);
    }
    ck_assert_msg(info.cpu_time_ns > 0, "cpu time %" G_GUINT64_FORMAT, info.cpu_time_ns);

    clear_events();
    ck_assert_msg(hyve_driver_domain_destroy(drv, obj, 0, &err), "destroy: %s",
                  err ? err->message : "");
    assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, "destroyed");
    assert_events("vm1:5/1@-1", "destroy");
    ck_assert_int_eq(obj->id, -1);
    ck_assert_msg(pid_gone(pid), "runner %d still there", pid);
    ck_assert(!run_file_exists("vm1", "conf") && !run_file_exists("vm1", "pid") &&
              !run_file_exists("vm1", "xml") && !run_file_exists("vm1", "ctl"));
    g_clear_pointer(&xml, g_free);
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(!strstr(xml, "/dev/pts/") && !strstr(xml, " id="), "stopped XML:\n%s", xml);
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* A guest that ends on its own, and what the driver makes of it. */
static const struct {
    const char *name;
    const char *action;
    const char *extra;
    int state, reason;          /* final, when @loops is FALSE */
    const char *events;         /* exact (or the prefix when @loops) */
    gboolean loops;             /* restarts forever: destroyed by the test */
} exits[] = {
    { "poweroff", ACT_POWEROFF, NULL, 5, 1, "x:2/0@1 x:6/0@1 x:6/1@1 x:5/0@-1", FALSE },
    { "reset-destroy", ACT_RESET, "<on_reboot>destroy</on_reboot>", 5, 1,
      "x:2/0@1 x:6/0@1 x:6/1@1 x:5/0@-1", FALSE },
    { "poweroff-restart", ACT_POWEROFF, "<on_poweroff>restart</on_poweroff>", 0, 0,
      "x:2/0@1 x:6/0@1 x:6/1@1 x:2/0@1 x:6/0@1 x:6/1@1 x:2/0@1", TRUE },
    { "reset-restart", ACT_RESET, NULL, 0, 0, "x:2/0@1 x:REBOOT@1 x:REBOOT@1", TRUE },
};

START_TEST(test_guest_exit)
{
    g_autoptr(HyveDomainObj) obj = define_guest("x", exits[_i].action, exits[_i].extra);
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL;

    clear_events();
    start_ok(obj, 0);
    if (!exits[_i].loops) {
        wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, exits[_i].reason, 30, exits[_i].name);
        got = events_str();
        ck_assert_msg(g_str_equal(got, exits[_i].events), "%s: events\n  got:  %s\n  want: %s",
                      exits[_i].name, got, exits[_i].events);
        ck_assert_msg(!run_file_exists("x", "xml") && !run_file_exists("x", "pid"),
                      "%s: run files left", exits[_i].name);
    } else {
        for (int i = 0; i < 1500; i++) {
            g_free(got);
            got = events_str();
            if (g_str_has_prefix(got, exits[_i].events))
                break;
            g_usleep(20000);
        }
        ck_assert_msg(g_str_has_prefix(got, exits[_i].events),
                      "%s: events\n  got:  %s\n  want: %s...", exits[_i].name, got,
                      exits[_i].events);
        ck_assert_int_eq(obj->id, 1);
        ck_assert_msg(hyve_driver_domain_destroy(drv, obj, 0, &err), "%s: destroy: %s",
                      exits[_i].name, err ? err->message : "");
        assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, exits[_i].name);
    }
    ck_assert_msg(live_runners() == 0, "%s: runners left", exits[_i].name);
}
END_TEST

START_TEST(test_runner_killed)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    pid_t pid;

    start_ok(obj, 0);
    clear_events();
    pid = runner_pid(obj);
    ck_assert(kill(pid, SIGKILL) == 0);
    wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 3, 20, "killed");
    assert_events("vm1:5/5@-1", "killed");
    ck_assert(pid_gone(pid));
    ck_assert(!run_file_exists("vm1", "xml"));
}
END_TEST


static void
assert_fails(gboolean ok, GError *err, const char *ctx, int code, const char *msg)
{
    ck_assert_msg(!ok, "%s: succeeded, want error %d '%s'", ctx, code, msg);
    ck_assert_msg(err && err->code == code && g_str_has_suffix(err->message, msg),
                  "%s: got %d '%s', want %d '%s'", ctx, err ? err->code : 0,
                  err ? err->message : "", code, msg);
}

/* Operations on the wrong state, unsupported flags and modes. */
START_TEST(test_wrong_state)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    GError *err = NULL;

#define TRY(call, ctx, code, msg) \
    do { gboolean ok_ = (call); assert_fails(ok_, err, ctx, code, msg); g_clear_error(&err); } while (0)
    TRY(hyve_driver_domain_destroy(drv, obj, 0, &err), "destroy inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_shutdown(drv, obj, 0, &err), "shutdown inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_reboot(drv, obj, 0, &err), "reboot inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_reset(drv, obj, 0, &err), "reset inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_suspend(drv, obj, &err), "suspend inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_resume(drv, obj, &err), "resume inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_open_console(drv, obj, NULL, &err) >= 0, "console inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_start(drv, obj, HYVE_DOMAIN_START_AUTODESTROY, &err), "autodestroy",
        8, "unsupported flags (0x2) in function hyve_driver_domain_start");
    TRY(hyve_driver_domain_destroy(drv, obj, 4, &err), "destroy flags", 8,
        "unsupported flags (0x4) in function hyve_driver_domain_destroy");
    TRY(hyve_driver_domain_shutdown(drv, obj, HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT, &err),
        "agent mode", 3, "shutdown mode 'agent' is not supported: bhyve domains only have the "
        "ACPI power button (mode 'acpi')");
    TRY(hyve_driver_domain_reboot(drv, obj, HYVE_DOMAIN_SHUTDOWN_INITCTL, &err),
        "initctl mode", 3, "reboot mode 'initctl' is not supported: bhyve domains only have "
        "the ACPI power button (mode 'acpi')");

    start_ok(obj, 0);
    TRY(hyve_driver_domain_start(drv, obj, 0, &err), "start running", 55,
        "domain is already running");
    TRY(hyve_driver_domain_resume(drv, obj, &err), "resume running", 55,
        "domain is not paused");
    TRY(hyve_driver_domain_open_console(drv, obj, "serial1", &err) >= 0, "console serial1", 1,
        "cannot find character device serial1");
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));
    TRY(hyve_driver_domain_shutdown(drv, obj, 0, &err), "shutdown paused", 55,
        "domain is not running");
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
#undef TRY
}
END_TEST

/* The power button of a guest that never enables it stays pending: the
 * domain keeps running; destroy ends it. */
START_TEST(test_shutdown_pending)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;

    start_ok(obj, 0);
    clear_events();
    ck_assert_msg(hyve_driver_domain_shutdown(drv, obj, HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
                                              &err), "shutdown: %s", err ? err->message : "");
    ck_assert_msg(hyve_driver_domain_reboot(drv, obj, 0, &err), "reboot: %s",
                  err ? err->message : "");
    g_usleep(300000);
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "after the button");
    assert_events("", "button pressed");
    ck_assert(hyve_driver_domain_destroy(drv, obj, HYVE_DOMAIN_DESTROY_GRACEFUL, &err));
    assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, "destroyed");
    assert_events("vm1:5/1@-1", "graceful destroy");
}
END_TEST

START_TEST(test_pause_resume)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *status = NULL, *path = g_strdup_printf("%s/run/vm1.xml", tmpdir);

    clear_events();
    start_ok(obj, HYVE_DOMAIN_START_PAUSED);
    assert_state(obj, HYVE_DOMAIN_STATE_PAUSED, 1, "started paused");
    ck_assert(g_file_get_contents(path, &status, NULL, NULL));
    ck_assert_msg(g_str_has_prefix(status, "<domstatus state='3' reason='1' pid='"),
                  "status file: %s", status);
    ck_assert(hyve_driver_domain_resume(drv, obj, &err));
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 5, "resumed");
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));
    assert_state(obj, HYVE_DOMAIN_STATE_PAUSED, 1, "suspended");
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));      /* no-op */
    ck_assert(hyve_driver_domain_resume(drv, obj, &err));
    assert_events("vm1:2/0@1 vm1:3/0@1 vm1:4/0@1 vm1:3/0@1 vm1:4/0@1", "pause/resume");
    g_free(status);
    ck_assert(g_file_get_contents(path, &status, NULL, NULL));
    ck_assert_msg(g_str_has_prefix(status, "<domstatus state='1' reason='5' pid='"),
                  "status file: %s", status);
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
}
END_TEST

START_TEST(test_reset)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    pid_t pid1, pid2;

    start_ok(obj, 0);
    pid1 = runner_pid(obj);
    clear_events();
    ck_assert_msg(hyve_driver_domain_reset(drv, obj, 0, &err), "reset: %s",
                  err ? err->message : "");
    pid2 = runner_pid(obj);
    ck_assert_msg(pid2 > 0 && pid2 != pid1, "new runner %d (was %d)", pid2, pid1);
    ck_assert(pid_gone(pid1));
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "reset");
    ck_assert_int_eq(obj->id, 1);
    assert_events("vm1:REBOOT@1", "reset");

    /* a paused domain stays paused through a reset */
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));
    clear_events();
    ck_assert_msg(hyve_driver_domain_reset(drv, obj, 0, &err), "reset paused: %s",
                  err ? err->message : "");
    assert_state(obj, HYVE_DOMAIN_STATE_PAUSED, 1, "reset while paused");
    assert_events("vm1:REBOOT@1", "reset paused");
    ck_assert(pid_gone(pid2));
    pid2 = runner_pid(obj);
    ck_assert(hyve_driver_domain_resume(drv, obj, &err));
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert(pid_gone(pid2));
}
END_TEST

/* The driver goes away (runners keep running), a new one reattaches. */
START_TEST(test_reattach)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) b = define_guest("b", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) c = define_guest("c", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *tx = guest_xml("t", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) t = NULL;
    HyveDomainObj *o;
    pid_t pa, pb, pc, pt;

    start_ok(a, 0);
    start_ok(b, 0);
    start_ok(c, HYVE_DOMAIN_START_PAUSED);
    t = hyve_driver_create_xml(drv, tx, 0, &err);
    ck_assert_msg(t, "create: %s", err ? err->message : "");
    ck_assert_msg(hyve_driver_domain_shutdown(drv, b, 0, &err), "shutdown b");
    pa = runner_pid(a);
    pb = runner_pid(b);
    pc = runner_pid(c);
    pt = runner_pid(t);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&b, hyve_domain_obj_unref);
    g_clear_pointer(&c, hyve_domain_obj_unref);
    g_clear_pointer(&t, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    ck_assert_msg(kill(pa, 0) == 0 && kill(pb, 0) == 0 && kill(pc, 0) == 0 && kill(pt, 0) == 0,
                  "runners survive the driver");
    /* b dies while no driver watches */
    ck_assert(kill(pb, SIGKILL) == 0);
    g_usleep(100000);
    clear_events();
    drv = open_driver();

    o = hyve_driver_lookup_by_name(drv, "a", &err);
    ck_assert(o);
    assert_state(o, HYVE_DOMAIN_STATE_RUNNING, 1, "a reattached");
    ck_assert_int_eq(o->id, 1);
    ck_assert_int_eq(runner_pid(o), pa);
    xml = hyve_domain_obj_get_xml(o, 0, NULL);
    ck_assert_msg(strstr(xml, "<source path='/dev/pts/"), "a: consoles known again:\n%s", xml);
    hyve_domain_obj_unref(o);

    o = hyve_driver_lookup_by_name(drv, "b", &err);
    assert_state(o, HYVE_DOMAIN_STATE_SHUTOFF, 3, "b died meanwhile");
    ck_assert_int_eq(o->id, -1);
    hyve_domain_obj_unref(o);
    ck_assert(!run_file_exists("b", "xml") && !run_file_exists("b", "conf"));

    o = hyve_driver_lookup_by_name(drv, "c", &err);
    assert_state(o, HYVE_DOMAIN_STATE_PAUSED, 1, "c paused");
    ck_assert(hyve_driver_domain_resume(drv, o, &err));
    hyve_domain_obj_unref(o);

    t = hyve_driver_lookup_by_name(drv, "t", &err);
    ck_assert_msg(t && !hyve_domain_obj_is_persistent(t), "transient t back");
    ck_assert_int_eq(t->id, 4);
    hyve_driver_flush_events(drv);
    assert_events("b:5/5@-1 c:4/0@3", "after reattach");

    /* new ids continue after the reattached ones; a reattached runner is watched */
    o = hyve_driver_lookup_by_name(drv, "b", &err);
    start_ok(o, 0);
    ck_assert_int_eq(o->id, 5);
    hyve_domain_obj_unref(o);
    clear_events();
    ck_assert(kill(pt, SIGKILL) == 0);
    for (int i = 0; i < 500 && hyve_driver_num_domains(drv, TRUE) == 4; i++)
        g_usleep(20000);
    assert_events("t:5/5@-1", "reattached t killed");
    o = hyve_driver_lookup_by_name(drv, "t", NULL);
    ck_assert_msg(!o, "transient t gone");

    for (const char *const *n = (const char *const[]){ "a", "b", "c", NULL }; *n; n++) {
        o = hyve_driver_lookup_by_name(drv, *n, NULL);
        ck_assert_msg(hyve_driver_domain_destroy(drv, o, 0, &err), "destroy %s: %s", *n,
                      err ? err->message : "");
        hyve_domain_obj_unref(o);
    }
    ck_assert(pid_gone(pa) && pid_gone(pc));
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

START_TEST(test_transient)
{
    g_autofree char *xml = guest_xml("tr", ACT_SPIN, NULL);
    g_autofree char *xml2 = NULL;
    g_autoptr(HyveDomainObj) obj = NULL, p = NULL, again = NULL;
    g_autoptr(GError) err = NULL;
    GError *e = NULL;

    clear_events();
    obj = hyve_driver_create_xml(drv, xml, 0, &err);
    ck_assert_msg(obj, "create: %s", err ? err->message : "");
    ck_assert(!hyve_domain_obj_is_persistent(obj));
    /* same name, no uuid given: another domain (as libvirt) */
    again = hyve_driver_create_xml(drv, xml, 0, &e);
    ck_assert_msg(!again && e && e->code == 9 &&
                  strstr(e->message, "domain 'tr' already exists with uuid "),
                  "create again: %s", e ? e->message : "");
    g_clear_error(&e);
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    assert_events("tr:2/0@1 tr:5/1@-1", "transient");
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "tr", NULL), "transient vanished");
    ck_assert_msg(!run_file_exists("tr", "xml"), "no status file");

    /* create of an inactive persistent domain runs the new definition;
     * the persistent one comes back at stop */
    p = define_guest("p", ACT_SPIN, NULL);
    xml2 = guest_xml("p", ACT_SPIN, "<description>live one</description>");
    {
        g_autofree char *uuid = NULL;
        char s[HYVE_UUID_STRING_LEN];
        g_autoptr(HyveDomainObj) c = NULL;
        g_autofree char *live = NULL, *inactive = NULL;

        hyve_uuid_format(p->uuid, s);
        uuid = g_strdup_printf("<name>p</name><uuid>%s</uuid>", s);
        {
            g_auto(GStrv) parts = g_strsplit(xml2, "<name>p</name>", 2);
            g_free(xml2);
            xml2 = g_strjoinv(uuid, parts);
        }
        c = hyve_driver_create_xml(drv, xml2, 0, &err);
        ck_assert_msg(c == p, "create runs the persistent domain: %s", err ? err->message : "");
        ck_assert(hyve_domain_obj_is_persistent(p));
        live = hyve_domain_obj_get_xml(p, 0, NULL);
        inactive = hyve_domain_obj_get_xml(p, HYVE_DOMAIN_XML_INACTIVE, NULL);
        ck_assert_msg(strstr(live, "live one") && !strstr(inactive, "live one"),
                      "live vs persistent definition");
        ck_assert(!hyve_domain_obj_is_updated(p));
        ck_assert(hyve_driver_domain_destroy(drv, p, 0, &err));
        g_free(live);
        live = hyve_domain_obj_get_xml(p, 0, NULL);
        ck_assert_msg(!strstr(live, "live one"), "persistent definition back");
    }
}
END_TEST

/* define while running -> updated, applied at stop; undefine while running
 * -> transient, vanishes at stop. */
START_TEST(test_redefine_undefine_running)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) o2 = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    char s[HYVE_UUID_STRING_LEN];

    start_ok(obj, 0);
    ck_assert(!hyve_domain_obj_is_updated(obj));
    hyve_uuid_format(obj->uuid, s);
    xml = g_strdup_printf("<domain type='bhyve'><name>vm1</name><uuid>%s</uuid>"
                          "<memory unit='MiB'>96</memory><os><type>hvm</type>"
                          "<kernel>/nonexistent</kernel></os></domain>", s);
    o2 = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(o2 == obj, "redefine: %s", err ? err->message : "");
    ck_assert(hyve_domain_obj_is_updated(obj));
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert(!hyve_domain_obj_is_updated(obj));
    g_free(xml);
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(strstr(xml, "<kernel>/nonexistent</kernel>"), "new definition:\n%s", xml);

    /* a start that fails leaves it SHUTOFF with no event */
    clear_events();
    {
        GError *e = NULL;
        gboolean ok = hyve_driver_domain_start(drv, obj, 0, &e);

        ck_assert_msg(!ok && e, "start with a missing kernel fails");
        g_clear_error(&e);
    }
    assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, "failed start");
    assert_events("", "failed start");
    ck_assert_uint_eq(live_runners(), 0);

    g_clear_pointer(&obj, hyve_domain_obj_unref);
    obj = define_guest("vm2", ACT_SPIN, NULL);
    start_ok(obj, 0);
    ck_assert(hyve_driver_undefine(drv, obj, 0, &err));
    ck_assert(!hyve_domain_obj_is_persistent(obj) && hyve_domain_obj_is_active(obj));
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "vm2", NULL), "undefined domain vanished");
}
END_TEST

START_TEST(test_autostart)
{
    g_autoptr(HyveDomainObj) b = define_guest("b", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) c = define_guest("c", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;

    ck_assert(hyve_driver_set_autostart(drv, b, TRUE, &err));
    ck_assert(hyve_driver_set_autostart(drv, a, TRUE, &err));
    clear_events();
    hyve_driver_autostart(drv);
    assert_events("a:2/0@1 b:2/0@2", "autostart in name order");
    ck_assert(!hyve_domain_obj_is_active(c));
    hyve_driver_autostart(drv);                 /* running ones are left alone */
    assert_events("a:2/0@1 b:2/0@2", "second autostart");
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, &err));
    ck_assert(hyve_driver_domain_destroy(drv, b, 0, &err));
}
END_TEST

/* What the guest does after the host pressed the power button, played by
 * the runner's control socket ("poweroff": exit 1 as for ACPI S5). */
static void
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

static const struct {
    const char *name;
    gboolean reboot;            /* virsh reboot instead of shutdown */
    gboolean reattach;          /* the driver is replaced in between */
    const char *extra;
    const char *events;
    int state, reason;
} buttons[] = {
    { "shutdown", FALSE, FALSE, NULL, "b:6/0@1 b:6/2@1 b:5/0@-1", 5, 1 },
    { "shutdown-reattached", FALSE, TRUE, NULL, "b:6/0@1 b:6/2@1 b:5/0@-1", 5, 1 },
    { "reboot", TRUE, FALSE, NULL, "b:REBOOT@1", 1, 1 },
    { "reboot-reattached", TRUE, TRUE, NULL, "b:REBOOT@1", 1, 1 },
    { "shutdown-restart", FALSE, FALSE, "<on_poweroff>restart</on_poweroff>",
      "b:6/0@1 b:6/2@1 b:2/0@1", 1, 1 },
};

START_TEST(test_power_button)
{
    g_autoptr(HyveDomainObj) obj = define_guest("b", ACT_SPIN, buttons[_i].extra);
    g_autoptr(GError) err = NULL;
    const char *name = buttons[_i].name;
    pid_t pid;

    start_ok(obj, 0);
    pid = runner_pid(obj);
    if (buttons[_i].reboot)
        ck_assert_msg(hyve_driver_domain_reboot(drv, obj, 0, &err), "%s: %s", name,
                      err ? err->message : "");
    else
        ck_assert_msg(hyve_driver_domain_shutdown(drv, obj, 0, &err), "%s: %s", name,
                      err ? err->message : "");
    if (buttons[_i].reattach) {
        g_clear_pointer(&obj, hyve_domain_obj_unref);
        hyve_driver_free(drv);
        drv = open_driver();
        obj = hyve_driver_lookup_by_name(drv, "b", &err);
        ck_assert_msg(runner_pid(obj) == pid, "%s: reattached", name);
    }
    clear_events();
    guest_powers_off(obj);
    ck_assert_msg(pid_gone(pid), "%s: old runner gone", name);
    wait_state(obj, buttons[_i].state, buttons[_i].reason, 20, name);
    /* a restart: until the new runner is published */
    for (int i = 0; i < 500 && hyve_domain_obj_is_active(obj) &&
         (runner_pid(obj) == pid || runner_pid(obj) == 0); i++)
        g_usleep(20000);
    hyve_driver_flush_events(drv);
    {
        g_autofree char *got = events_str();

        ck_assert_msg(g_str_equal(got, buttons[_i].events), "%s: events\n  got:  %s\n  want: %s",
                      name, got, buttons[_i].events);
    }
    if (hyve_domain_obj_is_active(obj)) {
        ck_assert_int_eq(obj->id, 1);
        ck_assert_msg(runner_pid(obj) != pid, "%s: a new runner", name);
        /* the next power-off is the guest's own again */
        clear_events();
        guest_powers_off(obj);
        if (buttons[_i].extra) {
            for (int i = 0; i < 250; i++) {
                g_autofree char *now = events_str();

                if (g_str_has_suffix(now, "b:2/0@1"))
                    break;
                g_usleep(20000);
            }
            assert_events("b:6/0@1 b:6/1@1 b:2/0@1", name);
            ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
        } else {
            wait_state(obj, 5, 1, 20, name);
            assert_events("b:6/0@1 b:6/1@1 b:5/0@-1", name);
        }
    }
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* A runner that is not our child (started by a driver in another process,
 * like a daemon before its restart): its end comes from the exit file, or
 * there is none because it was killed. */
static const struct {
    const char *name;
    gboolean kill;
    const char *events;
    int reason;
} foreign[] = {
    { "poweroff", FALSE, "f:6/0@1 f:6/1@1 f:5/0@-1", 1 },
    { "killed", TRUE, "f:5/5@-1", 3 },
};

static const char *self_path;

START_TEST(test_foreign_runner)
{
    g_autoptr(HyveDomainObj) obj = define_guest("f", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    const char *argv[] = { self_path, "--start-in", tmpdir, runner_path, "f", NULL };
    g_autofree char *out = NULL;
    int status = -1;
    pid_t pid, ppid = 0;

    g_clear_pointer(&obj, hyve_domain_obj_unref);
    hyve_driver_free(drv);
    ck_assert_msg(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, &status, &err) && status == 0,
                  "%s: starting in another process: %s (status %d) %s", foreign[_i].name,
                  err ? err->message : "", status, out ? out : "");
    drv = open_driver();
    obj = hyve_driver_lookup_by_name(drv, "f", &err);
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, foreign[_i].name);
    pid = runner_pid(obj);
    ck_assert(hyve_proc_stat(pid, NULL, &ppid, NULL, NULL));
    ck_assert_msg(ppid != getpid(), "%s: runner %d is not our child", foreign[_i].name, pid);
    clear_events();
    if (foreign[_i].kill)
        ck_assert(kill(pid, SIGKILL) == 0);
    else
        guest_powers_off(obj);
    wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, foreign[_i].reason, 20, foreign[_i].name);
    assert_events(foreign[_i].events, foreign[_i].name);
    ck_assert(pid_gone(pid));
}
END_TEST

/* --start-in DIR RUNNER NAME: start a domain with a driver of this process
 * and leave it running. */
static int
start_in(char **argv)
{
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj;

    tmpdir = argv[2];
    runner_path = argv[3];
    events = g_ptr_array_new_with_free_func(g_free);
    if (!(drv = open_driver_or_null(&err))) {
        g_print("driver: %s\n", err->message);
        return 1;
    }
    obj = hyve_driver_lookup_by_name(drv, argv[4], &err);
    if (!obj || !hyve_driver_domain_start(drv, obj, 0, &err)) {
        g_print("start %s: %s\n", argv[4], err->message);
        return 1;
    }
    hyve_domain_obj_unref(obj);
    hyve_driver_free(drv);
    return 0;
}

/* Several threads race start/destroy/shutdown/suspend/resume/reset on one
 * domain: every call succeeds or fails with "not valid in this state",
 * the events alternate consistently, and at the end the domain is either
 * SHUTOFF with no runner or active with exactly one. */
typedef struct {
    HyveDomainObj *obj;
    guint seed;
    GString *unexpected;        /* guarded by events_lock */
} Racer;

static gpointer
racer(gpointer data)
{
    Racer *r = data;
    g_autoptr(GRand) rnd = g_rand_new_with_seed(r->seed);

    for (int i = 0; i < 12; i++) {
        GError *e = NULL;
        int op = g_rand_int_range(rnd, 0, 6);

        switch (op) {
        case 0: hyve_driver_domain_start(drv, r->obj, 0, &e); break;
        case 1: hyve_driver_domain_destroy(drv, r->obj, 0, &e); break;
        case 2: hyve_driver_domain_shutdown(drv, r->obj, 0, &e); break;
        case 3: hyve_driver_domain_suspend(drv, r->obj, &e); break;
        case 4: hyve_driver_domain_resume(drv, r->obj, &e); break;
        default: hyve_driver_domain_reset(drv, r->obj, 0, &e); break;
        }
        if (e && e->code != 55) {
            g_mutex_lock(&events_lock);
            g_string_append_printf(r->unexpected, "op %d: %d %s\n", op, e->code, e->message);
            g_mutex_unlock(&events_lock);
        }
        g_clear_error(&e);
    }
    return NULL;
}

START_TEST(test_race)
{
    g_autoptr(HyveDomainObj) obj = define_guest("race", ACT_SPIN, NULL);
    g_autoptr(GString) unexpected = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    Racer r[4];
    GThread *t[4];
    gboolean running = FALSE, active;
    HyveDomainInfo info;

    clear_events();
    for (guint i = 0; i < G_N_ELEMENTS(t); i++) {
        r[i] = (Racer){ .obj = obj, .seed = 1000 * _i + i, .unexpected = unexpected };
        t[i] = g_thread_new("racer", racer, &r[i]);
    }
    for (guint i = 0; i < G_N_ELEMENTS(t); i++)
        g_thread_join(t[i]);
    ck_assert_msg(unexpected->len == 0, "round %d: unexpected errors:\n%s", _i,
                  unexpected->str);

    hyve_domain_obj_get_info(obj, &info);
    g_mutex_lock(&obj->lock);
    active = obj->id > 0;
    ck_assert_msg(active ? (obj->run && obj->run->pid > 0 && kill(obj->run->pid, 0) == 0 &&
                            (info.state == HYVE_DOMAIN_STATE_RUNNING ||
                             info.state == HYVE_DOMAIN_STATE_PAUSED))
                         : (!obj->run && info.state == HYVE_DOMAIN_STATE_SHUTOFF),
                  "round %d: inconsistent: id %d state %d run %p", _i, obj->id, info.state,
                  (void *)obj->run);
    g_mutex_unlock(&obj->lock);
    ck_assert_msg(live_runners() == (active ? 1u : 0u), "round %d: %u runners, active %d", _i,
                  live_runners(), active);

    /* the events tell one consistent story */
    hyve_driver_flush_events(drv);
    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++) {
        const char *e = g_ptr_array_index(events, i);

        if (g_str_has_prefix(e, "race:2/"))
            ck_assert_msg(!running, "round %d: event %u %s while running", _i, i, e);
        else
            ck_assert_msg(running, "round %d: event %u %s while stopped", _i, i, e);
        running = !g_str_has_prefix(e, "race:5/") && (running || g_str_has_prefix(e, "race:2/"));
    }
    g_mutex_unlock(&events_lock);
    ck_assert_msg(running == active, "round %d: events end %s, domain %s", _i,
                  running ? "running" : "stopped", active ? "active" : "inactive");
    if (active)
        ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

static Suite *
process_suite(void)
{
    Suite *s = suite_create("domain-process");
    TCase *tc = tcase_create("process");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_start_destroy);
    tcase_add_loop_test(tc, test_guest_exit, 0, G_N_ELEMENTS(exits));
    tcase_add_test(tc, test_runner_killed);
    tcase_add_test(tc, test_wrong_state);
    tcase_add_test(tc, test_shutdown_pending);
    tcase_add_test(tc, test_pause_resume);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_reattach);
    tcase_add_test(tc, test_transient);
    tcase_add_test(tc, test_redefine_undefine_running);
    tcase_add_test(tc, test_autostart);
    tcase_add_loop_test(tc, test_power_button, 0, G_N_ELEMENTS(buttons));
    tcase_add_loop_test(tc, test_foreign_runner, 0, G_N_ELEMENTS(foreign));
    tcase_add_loop_test(tc, test_race, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int
main(int argc, char **argv)
{
    int fd;

    self_path = g_canonicalize_filename(argv[0], NULL);
    if (argc == 5 && g_str_equal(argv[1], "--start-in"))
        return start_in(argv);
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
    return test_suite_run(process_suite());
}
