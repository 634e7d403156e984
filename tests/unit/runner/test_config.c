/* test_config.c: bhyve-runner configuration parser, good and bad inputs. */
#include <check.h>
#include <string.h>

#include "hyve-config.h"
#include "hvr_config.h"
#include "hvr_error.h"
#include "hyve/runner-exit.h"

#include "test_common.h"

#define BASE "boot.kernel=/boot/vmlinuz\nname=vm1\n"

static const struct {
    const char *name;
    const char *text;
    const char *message;
} bad_cases[] = {
    { "unknown-key", BASE "bogus.key=1\n", "line 3: unknown key 'bogus.key'" },
    { "no-equals", BASE "cpus\n", "line 3: expected key=value" },
    { "empty-key", BASE "=3\n", "line 3: empty key" },
    { "empty-line", "name=vm1\n\nboot.kernel=/k\n", "line 2: empty line" },
    { "duplicate", BASE "cpus=2\ncpus=3\n", "line 4: duplicate key 'cpus'" },
    { "cpus-zero", BASE "cpus=0\n", "line 3: key 'cpus': expected a number of vCPUs from 1 to 64" },
    { "cpus-big", BASE "cpus=65\n", "line 3: key 'cpus': expected a number of vCPUs from 1 to 64" },
    { "cpus-text", BASE "cpus=two\n", "line 3: key 'cpus': expected a number of vCPUs from 1 to 64" },
    { "mem-suffix", BASE "memory.size=512X\n",
      "line 3: key 'memory.size': expected a size (bytes, or a number with suffix K, M or G)" },
    { "mem-small", BASE "memory.size=16M\n",
      "line 3: key 'memory.size': memory size must be a multiple of 1M between 32M and 1024G" },
    { "mem-unaligned", BASE "memory.size=33554433\n",
      "line 3: key 'memory.size': memory size must be a multiple of 1M between 32M and 1024G" },
    { "bool", BASE "memory.hugepages=yes\n", "line 3: key 'memory.hugepages': expected true or false" },
    { "relative-kernel", "boot.kernel=vmlinuz\nname=a\n", "line 1: key 'boot.kernel': expected an absolute path" },
    { "backend", BASE "com1.backend=tcp:1234\n",
      "line 3: key 'com1.backend': expected pty, stdio, null, unix:/PATH or file:/PATH" },
    { "backend-relative", BASE "com2.backend=unix:sock\n",
      "line 3: key 'com2.backend': expected pty, stdio, null, unix:/PATH or file:/PATH" },
    { "com3", BASE "com3.backend=pty\n", "line 3: unknown key 'com3.backend'" },
    { "slot0", BASE "pci.0.0.0.device=virtio-rng\n",
      "line 3: key 'pci.0.0.0.device': PCI slot 0 is the host bridge" },
    { "slot32", BASE "pci.0.32.0.device=virtio-rng\n",
      "line 3: key 'pci.0.32.0.device': PCI slot must be 1 to 31" },
    { "slot-leading-zero", BASE "pci.0.03.0.device=virtio-rng\n", "line 3: unknown key 'pci.0.03.0.device'" },
    { "function1", BASE "pci.0.3.1.device=virtio-rng\n", "line 3: unknown key 'pci.0.3.1.device'" },
    { "model", BASE "pci.0.3.0.device=e1000\n",
      "line 3: key 'pci.0.3.0.device': unknown device model (expected virtio-blk, virtio-net, virtio-console or virtio-rng)" },
    { "prop-without-device", BASE "pci.0.3.0.path=/d\n",
      "line 3: key 'pci.0.3.0.path': no pci.0.3.0.device in this slot" },
    { "prop-wrong-model", BASE "pci.0.3.0.device=virtio-rng\npci.0.3.0.path=/d\n",
      "line 4: key 'pci.0.3.0.path' is not valid for device virtio-rng" },
    { "blk-no-path", BASE "pci.0.3.0.device=virtio-blk\n",
      "line 3: virtio-blk in slot 3 needs pci.0.3.0.path" },
    { "serial-long", BASE "pci.0.3.0.device=virtio-blk\npci.0.3.0.path=/d\npci.0.3.0.serial=123456789012345678901\n",
      "line 5: key 'pci.0.3.0.serial': serial must be 1 to 20 characters" },
    { "serial-space", BASE "pci.0.3.0.device=virtio-blk\npci.0.3.0.path=/d\npci.0.3.0.serial=a b\n",
      "line 5: key 'pci.0.3.0.serial': serial must be printable ASCII without spaces" },
    { "net-none", BASE "pci.0.5.0.device=virtio-net\n",
      "line 3: virtio-net in slot 5 needs exactly one of pci.0.5.0.tap and pci.0.5.0.fd" },
    { "net-both", BASE "pci.0.5.0.device=virtio-net\npci.0.5.0.fd=5\npci.0.5.0.tap=tap0\n",
      "line 3: virtio-net in slot 5 needs exactly one of pci.0.5.0.tap and pci.0.5.0.fd" },
    { "net-fd", BASE "pci.0.5.0.device=virtio-net\npci.0.5.0.fd=1\n",
      "line 4: key 'pci.0.5.0.fd': expected a file descriptor number from 3 to 65535" },
    { "net-mac", BASE "pci.0.5.0.device=virtio-net\npci.0.5.0.tap=t\npci.0.5.0.mac=52:54:00:zz:00:01\n",
      "line 5: key 'pci.0.5.0.mac': expected a MAC address xx:xx:xx:xx:xx:xx" },
    { "tap-long", BASE "pci.0.5.0.device=virtio-net\npci.0.5.0.tap=abcdefghijklmnop\n",
      "line 4: key 'pci.0.5.0.tap': expected an interface name of 1 to 15 characters" },
    { "no-name", "boot.kernel=/k\n", "missing required key 'name'" },
    { "no-kernel", "name=x\n", "missing required key 'boot.kernel'" },
    { "empty-name", "boot.kernel=/k\nname=\n", "line 2: key 'name': empty value" },
    { "paused-bool", BASE "boot.paused=1\n", "line 3: key 'boot.paused': expected true or false" },
    { "exit-relative", BASE "exit.file=vm.exit\n", "line 3: key 'exit.file': expected an absolute path" },
    { "exit-duplicate", BASE "exit.file=/a\nexit.file=/b\n", "line 4: duplicate key 'exit.file'" },
    { "sandbox-bool", BASE "sandbox=yes\n", "line 3: key 'sandbox': expected true or false" },
    { "sandbox-uid-name", BASE "sandbox.uid=hyve-runner\n",
      "line 3: key 'sandbox.uid': expected a numeric id from 0 to 4294967294" },
    { "sandbox-uid-neg", BASE "sandbox.uid=-1\n",
      "line 3: key 'sandbox.uid': expected a numeric id from 0 to 4294967294" },
    { "sandbox-gid-max", BASE "sandbox.gid=4294967295\n",
      "line 3: key 'sandbox.gid': expected a numeric id from 0 to 4294967294" },
    { "sandbox-uid-dup", BASE "sandbox.uid=1\nsandbox.uid=2\n", "line 4: duplicate key 'sandbox.uid'" },
};

START_TEST(test_bad)
{
    g_autoptr(HvrConfig) cfg = hvr_config_new();
    g_autoptr(GError) err = NULL;

    ck_assert_msg(!hvr_config_parse(cfg, bad_cases[_i].text, &err),
                  "%s: parse succeeded", bad_cases[_i].name);
    ck_assert_msg(err && err->domain == HVR_ERROR && err->code == HVR_ERROR_CONF_SYNTAX,
                  "%s: wrong error code", bad_cases[_i].name);
    ck_assert_msg(g_str_equal(err->message, bad_cases[_i].message),
                  "%s: message '%s', expected '%s'", bad_cases[_i].name, err->message,
                  bad_cases[_i].message);
}
END_TEST

START_TEST(test_good)
{
    g_autoptr(HvrConfig) cfg = hvr_config_new();
    g_autoptr(GError) err = NULL;
    const char *text =
        "# comment\n"
        "boot.cmdline=console=ttyS0 panic=-1\n"
        "boot.initrd=/i.gz\n"
        "boot.kernel=/vmlinuz\n"
        "boot.paused=true\n"
        "com1.backend=unix:/run/c1\n"
        "com2.backend=file:/var/log/c2\n"
        "control.socket=/run/ctl\n"
        "cpus=4\n"
        "exit.file=/run/vm.exit\n"
        "memory.hugepages=false\n"
        "memory.mergeable=true\n"
        "memory.size=2G\n"
        "name=guest-1\n"
        "pci.0.2.0.device=virtio-blk\n"
        "pci.0.2.0.path=/dev/vg/disk\n"
        "pci.0.2.0.readonly=true\n"
        "pci.0.2.0.serial=SER-1\n"
        "pci.0.3.0.device=virtio-net\n"
        "pci.0.3.0.fd=7\n"
        "pci.0.3.0.mac=52:54:00:12:34:56\n"
        "pci.0.31.0.backend=pty\n"
        "pci.0.31.0.device=virtio-console\n"
        "sandbox=true\n"
        "sandbox.gid=4294967294\n"
        "sandbox.uid=994\n";

    ck_assert_msg(hvr_config_parse(cfg, text, &err), "good: %s", err ? err->message : "");
    ck_assert_str_eq(cfg->name, "guest-1");
    ck_assert_uint_eq(cfg->memory_size, 2ULL << 30);
    ck_assert_int_eq(cfg->cpus, 4);
    ck_assert(cfg->mergeable && !cfg->hugepages);
    ck_assert_str_eq(cfg->cmdline, "console=ttyS0 panic=-1");
    ck_assert_str_eq(cfg->com[0], "unix:/run/c1");
    ck_assert_str_eq(cfg->com[1], "file:/var/log/c2");
    ck_assert_int_eq(cfg->pci[2].model, HVR_PCI_VIRTIO_BLK);
    ck_assert(cfg->pci[2].readonly);
    ck_assert_str_eq(cfg->pci[2].serial, "SER-1");
    ck_assert_int_eq(cfg->pci[3].model, HVR_PCI_VIRTIO_NET);
    ck_assert_int_eq(cfg->pci[3].fd, 7);
    ck_assert_int_eq(cfg->pci[31].model, HVR_PCI_VIRTIO_CONSOLE);
    ck_assert_str_eq(cfg->pci[31].backend, "pty");
    ck_assert_int_eq(cfg->pci[4].model, HVR_PCI_NONE);
    ck_assert(cfg->boot_paused);
    ck_assert_str_eq(cfg->exit_file, "/run/vm.exit");
    ck_assert(cfg->sandbox);
    ck_assert_int_eq(cfg->sandbox_uid, 994);
    ck_assert_int_eq(cfg->sandbox_gid, 4294967294LL);
}
END_TEST

/* exit.file is known even when a line before it is bad (the runner then
 * reports the error there); without the key there is none. */
START_TEST(test_exit_file_early)
{
    g_autoptr(HvrConfig) cfg = hvr_config_new();
    g_autoptr(HvrConfig) plain = hvr_config_new();
    g_autoptr(HvrConfig) def = hvr_config_new();

    ck_assert(!hvr_config_parse(cfg, BASE "cpus=0\nexit.file=/run/x.exit\n", NULL));
    ck_assert_str_eq(cfg->exit_file, "/run/x.exit");
    ck_assert(!hvr_config_parse(plain, BASE "cpus=0\n", NULL));
    ck_assert(plain->exit_file == NULL);
    ck_assert(hvr_config_parse(def, BASE, NULL));
    ck_assert(!def->boot_paused && def->exit_file == NULL);
    /* sandbox off by default, no id switch */
    ck_assert(!def->sandbox && def->sandbox_uid == -1 && def->sandbox_gid == -1);
}
END_TEST

/* Every key of the parser's table is documented in bhyve-runner.conf(5),
 * and every documented key is accepted by the parser. */
START_TEST(test_documented)
{
    g_autofree char *path = g_build_filename(HYVE_SOURCE_ROOT, "docs", "man", "bhyve-runner.conf.5", NULL);
    g_autofree char *man = NULL;
    g_autoptr(GString) flat = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    const char *pat;
    guint i;

    ck_assert_msg(g_file_get_contents(path, &man, NULL, NULL), "cannot read %s", path);
    lines = g_strsplit(man, "\n", -1);
    for (i = 0; lines[i]; i++) {
        /* ".BI pci.0. S .0.path= path" -> "pci.0.S.0.path=path" */
        if (g_str_has_prefix(lines[i], ".BI ")) {   /* .TQ lines: the key follows */
            g_autofree char *l = g_strdup(lines[i] + 4);
            char *p, *q;

            for (p = q = l; *p; p++)
                if (*p != ' ')
                    *q++ = *p;
            *q = 0;
            g_string_append_printf(flat, "%s\n", l);
        }
    }
    for (i = 0; (pat = hvr_config_key_pattern(i)); i++) {
        g_auto(GStrv) parts = g_strsplit(pat, "*", -1);
        g_autofree char *joined = g_strjoinv("S", parts);
        g_autofree char *want = g_strconcat(joined, "=", NULL);

        ck_assert_msg(strstr(flat->str, want), "key %s is not documented in bhyve-runner.conf.5", pat);
    }
    ck_assert_uint_ge(i, 19);
}
END_TEST

/* include/hyve/runner-exit.h: bhyve's values and a complete name table */
static const struct { int status; const char *name; } exit_names[] = {
    { 0, "reboot" }, { 1, "poweroff" }, { 2, "halt" }, { 3, "triple-fault" }, { 4, "error" },
};

START_TEST(test_exit_names)
{
    ck_assert_msg(g_str_equal(hyve_runner_exit_to_string(exit_names[_i].status), exit_names[_i].name),
                  "status %d: '%s'", exit_names[_i].status,
                  hyve_runner_exit_to_string(exit_names[_i].status));
    ck_assert_int_eq(hyve_runner_exit_from_string(exit_names[_i].name), exit_names[_i].status);
    ck_assert(hyve_runner_exit_to_string(-1) == NULL);
    ck_assert(hyve_runner_exit_to_string(HYVE_RUNNER_EXIT_LAST) == NULL);
    ck_assert_int_eq(hyve_runner_exit_from_string("reboo"), -1);
    ck_assert_int_eq(hyve_runner_exit_from_string("poweroff2"), -1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-config");
    TCase *tc = tcase_create("parse");

    tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_documented);
    tcase_add_test(tc, test_exit_file_early);
    tcase_add_loop_test(tc, test_exit_names, 0, G_N_ELEMENTS(exit_names));
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
