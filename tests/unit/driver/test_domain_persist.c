/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_persist.c: domain configuration on disk: define, reload,
 * redefine, undefine, autostart links, atomic replacement (a failed write
 * leaves the old file), failed undefine, broken files skipped on load,
 * left-over temporary and trashed files removed on load.
 */
#include "test_driver_fixture.h"

/* ---- persistence ------------------------------------------------------- */

START_TEST(test_define_reload_undefine)
{
    g_autoptr(HyveDomainObj) obj = define_ok("alpha", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "alpha.xml", NULL);
    g_autofree char *xml1 = NULL, *xml2 = NULL, *file = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) again = NULL, upd = NULL, reload = NULL;
    HyveDomainInfo info;
    struct stat st;

    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 0) == 1, "one DEFINED/ADDED event");
    ck_assert_msg(stat(config_dir, &st) == 0 && (st.st_mode & 0777) == 0700,
                  "config dir mode %o", st.st_mode & 0777);
    ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "config file %s written", path);
    file = test_read_file(path);
    ck_assert_msg(strstr(file, "<name>alpha</name>") && strstr(file, UUID_A), "file content");
    xml1 = hyve_domain_obj_get_xml(obj, 0, &err);
    ck_assert_msg(xml1, "get_xml: %s", err ? err->message : "");
    ck_assert_msg(hyve_domain_obj_is_persistent(obj) && !hyve_domain_obj_is_active(obj),
                  "persistent and inactive");
    hyve_domain_obj_get_info(obj, &info);
    ck_assert_msg(info.state == HYVE_DOMAIN_STATE_SHUTOFF && info.max_mem_kib == 65536 &&
                  info.nr_vcpus == 1, "info state %d mem %" G_GUINT64_FORMAT, info.state,
                  info.max_mem_kib);

    /* reload from disk: same XML */
    reopen();
    again = hyve_driver_lookup_by_name(drv, "alpha", &err);
    ck_assert_msg(again, "reloaded lookup: %s", err ? err->message : "");
    xml2 = hyve_domain_obj_get_xml(again, HYVE_DOMAIN_XML_INACTIVE, &err);
    ck_assert_msg(g_str_equal(xml1, xml2), "reloaded XML differs:\n%s\n---\n%s", xml1, xml2);

    /* redefine same name + uuid: update */
    upd = define_ok("alpha", UUID_A, 131072);
    ck_assert_msg(upd == again, "redefine returns the same object");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 1) == 1, "one DEFINED/UPDATED event");
    g_free(file);
    file = test_read_file(path);
    ck_assert_msg(strstr(file, "<memory unit='KiB'>131072</memory>"), "file updated:\n%s", file);
    reopen();
    reload = hyve_driver_lookup_by_name(drv, "alpha", NULL);
    ck_assert(reload);
    hyve_domain_obj_get_info(reload, &info);
    ck_assert_msg(info.max_mem_kib == 131072, "update survives reload");

    /* undefine */
    ck_assert_msg(hyve_driver_undefine(drv, reload, 0, &err), "undefine: %s",
                  err ? err->message : "");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_UNDEFINED, 0) == 1, "UNDEFINED/REMOVED event");
    ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "config file removed");
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "alpha", &err), "gone after undefine");
    assert_error(err, "lookup after undefine",
                 "42 57 Domain not found: no domain with matching name 'alpha'");
    g_clear_error(&err);
    ck_assert_msg(!hyve_driver_undefine(drv, reload, 0, &err), "second undefine fails");
    assert_error(err, "undefine stale object",
                 "42 57 Domain not found: no domain with matching uuid '" UUID_A "' (alpha)");
    reopen();
    ck_assert_msg(hyve_driver_num_domains(drv, FALSE) == 0, "nothing after reload");
}
END_TEST

START_TEST(test_autostart)
{
    g_autoptr(HyveDomainObj) obj = define_ok("auto", UUID_A, 65536);
    g_autofree char *link = g_build_filename(config_dir, "autostart", "auto.xml", NULL);
    g_autofree char *target = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) re = NULL;

    ck_assert(!hyve_domain_obj_get_autostart(obj));
    ck_assert_msg(hyve_driver_set_autostart(drv, obj, TRUE, &err), "autostart on: %s",
                  err ? err->message : "");
    target = g_file_read_link(link, NULL);
    ck_assert_msg(target && g_str_equal(target, "../auto.xml"), "link target %s",
                  target ? target : "(none)");
    ck_assert_msg(g_file_test(link, G_FILE_TEST_IS_REGULAR), "link resolves to the config");
    reopen();
    re = hyve_driver_lookup_by_name(drv, "auto", NULL);
    ck_assert_msg(re && hyve_domain_obj_get_autostart(re), "autostart survives reload");
    ck_assert(hyve_driver_set_autostart(drv, re, FALSE, NULL));
    ck_assert_msg(!g_file_test(link, G_FILE_TEST_EXISTS), "link removed on autostart off");
    ck_assert(hyve_driver_set_autostart(drv, re, TRUE, NULL));
    ck_assert(hyve_driver_undefine(drv, re, 0, NULL));
    ck_assert_msg(!g_file_test(link, G_FILE_TEST_EXISTS) &&
                  !g_file_test(link, G_FILE_TEST_IS_SYMLINK), "undefine removes the link");
    ck_assert_msg(!hyve_driver_set_autostart(drv, re, TRUE, &err), "autostart on removed");
    assert_error(err, "autostart undefined",
                 "42 57 Domain not found: no domain with matching uuid '" UUID_A "' (auto)");
}
END_TEST

START_TEST(test_atomic_write_failure)
{
    g_autoptr(HyveDomainObj) obj = define_ok("atom", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "atom.xml", NULL);
    g_autofree char *tmp = g_strdup_printf("%s.new", path);
    g_autofree char *before = test_read_file(path);
    g_autofree char *xml = dom_xml("atom", UUID_A, 262144);
    g_autofree char *after = NULL, *live = NULL;
    g_autoptr(GError) err = NULL;
    HyveDomainObj *res;
    guint updates = count_events(HYVE_DOMAIN_EVENT_DEFINED, 1);

    /* something that is not a file sits where the temp file goes */
    ck_assert(g_mkdir(tmp, 0700) == 0);
    res = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(!res, "define must fail when the temp file cannot be created");
    ck_assert_msg(err && err->code == HYVE_ERR_SYSTEM_ERROR && strstr(err->message, tmp) &&
                  strstr(err->message, g_strerror(EISDIR)),
                  "system error with path and errno text: %s", err ? err->message : "");
    after = test_read_file(path);
    ck_assert_msg(after && g_str_equal(before, after), "old file intact");
    live = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(strstr(live, "<memory unit='KiB'>65536</memory>"), "old definition kept");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 1) == updates, "no event on failure");
    rmdir(tmp);

    /* a read-only directory (only meaningful when not root) */
    if (geteuid() != 0) {
        g_clear_error(&err);
        ck_assert(chmod(config_dir, 0500) == 0);
        res = hyve_driver_define_xml(drv, xml, 0, &err);
        chmod(config_dir, 0700);
        ck_assert_msg(!res && err && err->code == HYVE_ERR_SYSTEM_ERROR, "read-only dir fails");
        g_free(after);
        after = test_read_file(path);
        ck_assert_msg(g_str_equal(before, after), "old file intact (read-only dir)");
    }
    /* and once the obstacle is gone the update works */
    res = hyve_driver_define_xml(drv, xml, 0, NULL);
    ck_assert_msg(res, "define works again");
    hyve_domain_obj_unref(res);
    ck_assert_msg(!g_file_test(tmp, G_FILE_TEST_EXISTS), "no temp file left behind");
}
END_TEST

START_TEST(test_undefine_failure)
{
    g_autoptr(HyveDomainObj) obj = define_ok("stuck", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "stuck.xml", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) still = NULL;

    /* a config "file" that cannot be unlinked */
    ck_assert(unlink(path) == 0 && g_mkdir(path, 0700) == 0);
    ck_assert_msg(!hyve_driver_undefine(drv, obj, 0, &err), "undefine must fail");
    ck_assert_msg(err->code == HYVE_ERR_SYSTEM_ERROR && strstr(err->message, path),
                  "system error naming the file: %s", err->message);
    still = hyve_driver_lookup_by_name(drv, "stuck", NULL);
    ck_assert_msg(still == obj && hyve_domain_obj_is_persistent(obj), "domain kept");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_UNDEFINED, 0) == 0, "no event on failure");
    rmdir(path);
}
END_TEST

START_TEST(test_broken_files_skipped)
{
    g_autoptr(HyveDomainObj) obj = define_ok("good", UUID_A, 65536);
    g_autofree char *bad = g_build_filename(config_dir, "bad.xml", NULL);
    g_autofree char *wrong = g_build_filename(config_dir, "wrong.xml", NULL);
    g_autofree char *other = dom_xml("notwrong", UUID_B, 65536);
    g_autoptr(GPtrArray) all = NULL;

    ck_assert(g_file_set_contents(bad, "<domain type='bhyve'><name>bad", -1, NULL));
    ck_assert(g_file_set_contents(wrong, other, -1, NULL));
    reopen();
    all = hyve_driver_list_domains(drv, 0, NULL);
    ck_assert_msg(all->len == 1, "only the good domain loads, got %u", all->len);
    ck_assert_msg(g_file_test(bad, G_FILE_TEST_EXISTS) && g_file_test(wrong, G_FILE_TEST_EXISTS),
                  "broken files are never deleted");
}
END_TEST

/* An undefine renames the file to <name>.xml.del for a background thread
 * to unlink; one left by a daemon that stopped first is never loaded and is
 * removed at the next load, as is a <name>.xml.new of a killed write. */
START_TEST(test_trash_removed_on_load)
{
    g_autoptr(HyveDomainObj) obj = define_ok("gone", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "gone.xml", NULL);
    g_autofree char *trash = g_build_filename(config_dir, "gone.xml.del", NULL);
    g_autofree char *temp = g_build_filename(config_dir, "gone.xml.new", NULL);
    g_autofree char *xml = test_read_file(path);
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GError) err = NULL;

    ck_assert_msg(hyve_driver_undefine(drv, obj, 0, &err), "undefine: %s",
                  err ? err->message : "");
    ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "name gone at once");
    for (int i = 0; i < 500 && g_file_test(trash, G_FILE_TEST_EXISTS); i++)
        g_usleep(10000);
    ck_assert_msg(!g_file_test(trash, G_FILE_TEST_EXISTS), "the background unlink ran");

    /* what a daemon stopped before its reaper ran leaves behind */
    ck_assert(g_file_set_contents(trash, xml, -1, NULL));
    ck_assert(g_file_set_contents(temp, xml, -1, NULL));
    reopen();
    all = hyve_driver_list_domains(drv, 0, NULL);
    ck_assert_msg(all->len == 0, "a trashed definition never loads, got %u", all->len);
    ck_assert_msg(!g_file_test(trash, G_FILE_TEST_EXISTS) && !g_file_test(temp, G_FILE_TEST_EXISTS),
                  "left-overs removed at load");
}
END_TEST

typedef struct {
    const char *name;
    gboolean named;             /* the header comment names it (else: its UUID) */
} CommentNameCase;

static const CommentNameCase comment_name_cases[] = {
    { "a--b", FALSE },
    { "a---", FALSE },
    { "--x", FALSE },
    { "-x", FALSE },
    { "a b", FALSE },
    { "a;b", FALSE },
    { "a-b", TRUE },
    { "vm.1_x", TRUE },
};

/* A domain's config file stays well-formed whatever its name ("--" may not
 * appear in an XML comment): the header comment names the domain only when
 * the name is safe there and on a shell command line, else by UUID; the
 * domain survives a restart with the same XML. */
START_TEST(test_comment_safe_name)
{
    const CommentNameCase *c = &comment_name_cases[_i];
    g_autoptr(HyveDomainObj) obj = define_ok(c->name, UUID_A, 65536);
    g_autofree char *file_name = g_strdup_printf("%s.xml", c->name);
    g_autofree char *path = g_build_filename(config_dir, file_name, NULL);
    g_autofree char *want = g_strdup_printf(" edit %s\n", c->named ? c->name : UUID_A);
    g_autofree char *file = test_read_file(path);
    g_autofree char *xml1 = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_INACTIVE, NULL);
    g_autofree char *xml2 = NULL;
    g_autoptr(HyveDomainObj) again = NULL;
    g_autoptr(GError) err = NULL;

    reopen();
    again = hyve_driver_lookup_by_name(drv, c->name, &err);
    ck_assert_msg(again, "'%s' lost at restart: %s", c->name, err ? err->message : "");
    xml2 = hyve_domain_obj_get_xml(again, HYVE_DOMAIN_XML_INACTIVE, NULL);
    ck_assert_msg(xml1 && xml2 && g_str_equal(xml1, xml2), "'%s': XML differs:\n%s\n---\n%s",
                  c->name, xml1, xml2);
    /* the file was read before the restart */
    ck_assert_msg(file && strstr(file, want), "'%s': no '%s' in\n%s", c->name, want, file);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("domain-persist");
    TCase *tc = driver_tcase_new(s);

    tcase_add_test(tc, test_define_reload_undefine);
    tcase_add_test(tc, test_autostart);
    tcase_add_test(tc, test_atomic_write_failure);
    tcase_add_test(tc, test_undefine_failure);
    tcase_add_test(tc, test_broken_files_skipped);
    tcase_add_test(tc, test_trash_removed_on_load);
    tcase_add_loop_test(tc, test_comment_safe_name, 0, G_N_ELEMENTS(comment_name_cases));
    return test_suite_run(s);
}
