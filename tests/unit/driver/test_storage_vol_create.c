/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_vol_create.c (storage-vol, with test_storage_vol.c): volume
 * create (sparse and allocated), failed creates leaving nothing behind
 * (ENOSPC on a small tmpfs in a private mount namespace when root), clone
 * (holes kept) and its refusals.
 */

#include "test_storage_vol.h"

/* ---- create ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *xml;              /* %s = volume name */
    guint64 size, min_alloc, max_alloc;
} CreateCase;

static const CreateCase create_cases[] = {
    { "sparse", "<volume><name>%s</name><capacity unit='MiB'>64</capacity>"
      "<allocation>0</allocation></volume>", 64 * MiB, 0, 0 },
    /* libvirt: no <allocation> means fully allocated */
    { "no-allocation-element", "<volume type='file'><name>%s</name>"
      "<capacity unit='KiB'>1024</capacity></volume>", MiB, MiB, 2 * MiB },
    { "allocated-part", "<volume><name>%s</name><capacity unit='M'>16</capacity>"
      "<allocation unit='M'>8</allocation></volume>", 16 * MiB, 8 * MiB, 9 * MiB },
    { "allocated-full", "<volume><name>%s</name><capacity unit='bytes'>4194304</capacity>"
      "<allocation unit='bytes'>4194304</allocation><target><format type='raw'/></target>"
      "</volume>", 4 * MiB, 4 * MiB, 5 * MiB },
    { "allocation-clamped", "<volume><name>%s</name><capacity>1048576</capacity>"
      "<allocation>8388608</allocation></volume>", MiB, MiB, 2 * MiB },
};

START_TEST(test_create)
{
    const CreateCase *c = &create_cases[_i];
    g_autofree char *xml = g_strdup_printf(c->xml, c->name);
    g_autofree char *path = vol_path(c->name);
    g_autofree char *got_path = NULL;
    g_autofree char *dump = NULL;
    g_autofree char *schema_err = NULL;
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 }, by_key = { 0 }, by_path = { 0 };
    HyveVolInfo info;
    struct stat sb;

    ck_assert_msg(hyve_storage_vol_create_xml(st, pool, xml, 0, &id, &err),
                  "%s: %s", c->name, err ? err->message : "?");
    ck_assert_msg(g_strcmp0(id.key, path) == 0, "%s: key %s", c->name, id.key);
    sb = stat_ok(path);
    ck_assert_msg(S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600, "%s: mode %o", c->name,
                  sb.st_mode);
    ck_assert_msg((guint64)sb.st_size == c->size, "%s: size %lld", c->name,
                  (long long)sb.st_size);
    ck_assert_msg((guint64)sb.st_blocks * 512 >= c->min_alloc &&
                  (guint64)sb.st_blocks * 512 <= c->max_alloc,
                  "%s: %lld bytes allocated", c->name, (long long)sb.st_blocks * 512);

    ck_assert(hyve_storage_vol_get_info(st, pool, c->name, 0, &info, NULL));
    ck_assert_msg(info.type == 0 && info.capacity == c->size &&
                  info.allocation == (guint64)sb.st_blocks * 512,
                  "%s: info %d %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, c->name, info.type,
                  info.capacity, info.allocation);
    ck_assert(hyve_storage_vol_get_info(st, pool, c->name, 1, &info, NULL));
    ck_assert_msg(info.allocation == c->size, "%s: physical %" G_GUINT64_FORMAT, c->name,
                  info.allocation);
    got_path = hyve_storage_vol_get_path(st, pool, c->name, NULL);
    ck_assert_str_eq(got_path, path);

    ck_assert(hyve_storage_vol_lookup_by_key(st, path, &by_key, NULL));
    ck_assert(hyve_storage_vol_lookup_by_path(st, path, &by_path, NULL));
    ck_assert_msg(g_strcmp0(by_key.name, c->name) == 0 && g_strcmp0(by_path.name, c->name) == 0
                  && g_strcmp0(by_path.pool, "p") == 0, "%s: lookups", c->name);

    dump = hyve_storage_vol_get_xml(st, pool, c->name, 0, &err);
    ck_assert_msg(dump, "%s: xml: %s", c->name, err ? err->message : "?");
    ck_assert_msg(strstr(dump, path) && strstr(dump, "raw"), "%s: xml %s", c->name, dump);
    ck_assert_msg(test_schema_validate_file(dump, "storagevol.rng", &schema_err),
                  "%s: %s\n%s", c->name, schema_err, dump);
    ck_assert_int_eq(hyve_storage_pool_num_volumes(st, pool, NULL), 1);
    hyve_vol_ident_clear(&id);
    hyve_vol_ident_clear(&by_key);
    hyve_vol_ident_clear(&by_path);
}
END_TEST

/* ---- failed creates leave nothing -------------------------------------------- */

typedef struct {
    const char *name;
    const char *xml;
    guint flags;
    int code;
    const char *text;
} FailCase;

static const FailCase fail_cases[] = {
    { "name clash", "<volume><name>dup</name><capacity>1</capacity></volume>", 0,
      90, "storage volume 'dup' exists already" },
    { "capacity 2^63", "<volume><name>huge</name><capacity>9223372036854775808</capacity>"
      "</volume>", 0, 82, "value too large" },
    { "capacity 2^63-1", "<volume><name>huge</name><capacity>9223372036854775807</capacity>"
      "</volume>", 0, 38, "huge' to 9223372036854775807 bytes: File too large" },
    { "qcow2", "<volume><name>q</name><capacity>1</capacity><target><format type='qcow2'/>"
      "</target></volume>", 0, 67, "storage volume format 'qcow2' is not supported by hyve" },
    { "no capacity", "<volume><name>nocap</name></volume>", 0, 27, "capacity" },
    { "malformed", "<volume><name>x</name", 0, 27, "" },
    { "metadata prealloc", "<volume><name>m</name><capacity>1</capacity></volume>", 1,
      67, "metadata preallocation is not supported for raw volumes" },
    { "bad flag", "<volume><name>m</name><capacity>1</capacity></volume>", 64,
      8, "unsupported flags (0x40) in function hyve_storage_vol_create_xml" },
    { "hidden name", "<volume><name>.hidden</name><capacity>1</capacity></volume>", 0,
      8, "volume name '.hidden' cannot start with '.'" },
};

START_TEST(test_create_fail)
{
    const FailCase *c = &fail_cases[_i];
    g_autoptr(GError) err = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *listed = NULL;

    create_ok("dup", MiB, 0);
    before = dir_names(pool_dir);
    ck_assert_msg(!hyve_storage_vol_create_xml(st, pool, c->xml, c->flags, NULL, &err),
                  "%s: created", c->name);
    assert_error(err, c->name, c->code, c->text);
    after = dir_names(pool_dir);
    ck_assert_msg(strcmp(before, after) == 0, "%s: left behind: %s", c->name, after);
    listed = list_names();
    ck_assert_msg(strcmp(listed, "dup") == 0, "%s: listed %s", c->name, listed);
}
END_TEST

/* ENOSPC: a 16 MiB tmpfs mounted in a private mount namespace of a child.
 * The child reports "ok" or what went wrong through a pipe; 77 = skipped. */
static int
enospc_child(const char *root, GString *msg)
{
    g_autofree char *small = g_build_filename(root, "small", NULL);
    g_autofree char *sroot = g_build_filename(root, "small-state", NULL);
    g_autofree char *big = NULL;
    g_autoptr(GError) err = NULL;
    HyveStorage *s;
    HyvePoolObj *p;

    if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0)
        return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        g_mkdir_with_parents(small, 0700) < 0 ||
        mount("tmpfs", small, "tmpfs", 0, "size=16m") < 0)
        return 77;
    s = storage_new(sroot);
    p = pool_new(s, "small", small);
    if (!hyve_storage_vol_create_xml(s, p, "<volume><name>fits</name><capacity unit='M'>8"
                                     "</capacity><allocation unit='M'>8</allocation></volume>",
                                     0, NULL, &err)) {
        g_string_printf(msg, "8 MiB on 16 MiB tmpfs failed: %s", err->message);
        return 1;
    }
    if (hyve_storage_vol_create_xml(s, p, "<volume><name>big</name><capacity unit='M'>64"
                                    "</capacity><allocation unit='M'>32</allocation></volume>",
                                    0, NULL, &err)) {
        g_string_printf(msg, "32 MiB allocated on a 16 MiB tmpfs");
        return 1;
    }
    big = g_build_filename(small, "big", NULL);
    g_autofree char *want = g_strdup_printf("cannot allocate 33554432 bytes in file '%s': "
                                            "No space left on device", big);
    if (err->code != 38 || !strstr(err->message, want)) {
        g_string_printf(msg, "error %d '%s'", err->code, err->message);
        return 1;
    }
    if (g_file_test(big, G_FILE_TEST_EXISTS)) {
        g_string_printf(msg, "%s left behind", big);
        return 1;
    }
    if (hyve_storage_pool_num_volumes(s, p, NULL) != 1) {
        g_string_printf(msg, "%d volumes listed", hyve_storage_pool_num_volumes(s, p, NULL));
        return 1;
    }
    hyve_pool_obj_unref(p);
    hyve_storage_free(s);
    umount(small);
    return 0;
}

START_TEST(test_enospc)
{
    int fds[2], status;
    char buf[1024] = "";
    pid_t pid;

    ck_assert(pipe(fds) == 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        g_autoptr(GString) msg = g_string_new("");
        int rc;

        close(fds[0]);
        rc = enospc_child(tmp, msg);
        if (write(fds[1], msg->str, msg->len) < 0)
            rc = 2;
        _exit(rc);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fds[0]);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status), "enospc child crashed");
    if (WEXITSTATUS(status) == 77) {
        fprintf(stderr, "test_enospc: skipped (needs root and mount namespaces)\n");
        return;
    }
    ck_assert_msg(WEXITSTATUS(status) == 0, "enospc: %s", buf);
}
END_TEST

/* ---- clone ----------------------------------------------------------------- */

typedef struct {
    const char *name;
    guint64 capacity;             /* new volume; 0 = no <capacity> element */
    guint64 alloc;                /* <allocation> of the new volume */
} CloneCase;

static const CloneCase clone_cases[] = {
    { "same size", 16 * MiB, 0 },
    { "larger", 32 * MiB, 0 },
    { "smaller: raised to the source's capacity", 4 * MiB, 0 },
    { "capacity from source", 0, 0 },
    { "fully allocated", 16 * MiB, 16 * MiB },
};

START_TEST(test_clone)
{
    const CloneCase *c = &clone_cases[_i];
    g_autofree char *src = vol_path("src");
    g_autofree char *dst = vol_path("copy");
    g_autofree char *xml = NULL;
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    g_autoptr(GError) err = NULL;
    guint64 cap = MAX(c->capacity, 16 * MiB);   /* libvirt: never smaller than the source */
    gsize la, lb;
    struct stat sb;
    int fd;

    create_ok("src", 16 * MiB, 0);
    write_at(src, 0, 'a', 4096);
    write_at(src, 8 * MiB, 'b', 4096);
    if (c->capacity)
        xml = vol_xml("copy", c->capacity, c->alloc);
    else
        xml = g_strdup("<volume><name>copy</name></volume>");
    ck_assert_msg(hyve_storage_vol_create_xml_from(st, pool, xml, pool, "src", 0, NULL, &err),
                  "%s: %s", c->name, err ? err->message : "?");
    sb = stat_ok(dst);
    ck_assert_msg((guint64)sb.st_size == cap, "%s: size %lld", c->name, (long long)sb.st_size);
    ck_assert(g_file_get_contents(src, &a, &la, NULL));
    ck_assert(g_file_get_contents(dst, &b, &lb, NULL));
    ck_assert_msg(memcmp(a, b, MIN(la, lb)) == 0, "%s: data differs", c->name);
    if (lb > la)
        ck_assert_msg(first_nonzero(b + la, lb - la) < 0, "%s: data past the source",
                      c->name);
    if (c->alloc) {
        ck_assert_msg((guint64)sb.st_blocks * 512 >= cap, "%s: not allocated", c->name);
        return;
    }
    /* Holes kept: data only where the source had data. */
    ck_assert_msg((guint64)sb.st_blocks * 512 <= 64 * 1024, "%s: %lld bytes allocated",
                  c->name, (long long)sb.st_blocks * 512);
    fd = open(dst, O_RDONLY);
    ck_assert(fd >= 0);
    ck_assert_msg(lseek(fd, 0, SEEK_DATA) == 0, "%s: no data at 0", c->name);
    off_t next = lseek(fd, 4096, SEEK_DATA);
    if (cap > 8 * MiB)
        ck_assert_msg(next == (off_t)(8 * MiB), "%s: next data at %lld", c->name,
                      (long long)next);
    else
        ck_assert_msg(next < 0 && errno == ENXIO, "%s: data past 4 KiB", c->name);
    close(fd);
}
END_TEST

START_TEST(test_clone_fail)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *names = NULL;

    create_ok("src", MiB, 0);
    ck_assert(!hyve_storage_vol_create_xml_from(st, pool, "<volume><name>c</name>"
                                                "<capacity>1</capacity></volume>", pool,
                                                "nosuch", 0, NULL, &err));
    assert_error(err, "missing source", 50, "no storage vol with matching name 'nosuch'");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_create_xml_from(st, pool, "<volume><name>src</name>"
                                                "<capacity>1</capacity></volume>", pool,
                                                "src", 0, NULL, &err));
    assert_error(err, "clone onto itself", 90, "storage volume 'src' exists already");
    names = dir_names(pool_dir);
    ck_assert_str_eq(names, "src");
    /* The source is usable again afterwards. */
    ck_assert(hyve_storage_vol_delete(st, pool, "src", 0, NULL));
}
END_TEST

void
storage_vol_add_create_tests(Suite *s)
{
    const StorageVolTest tests[] = {
        { "create", test_create, G_N_ELEMENTS(create_cases) },
        { "create-fail", test_create_fail, G_N_ELEMENTS(fail_cases) },
        { "enospc", test_enospc, 1 },
        { "clone", test_clone, G_N_ELEMENTS(clone_cases) },
        { "clone-fail", test_clone_fail, 1 },
    };

    storage_vol_add_tests(s, tests, G_N_ELEMENTS(tests));
}
