/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_vol.c: volumes of a dir pool in a temporary directory,
 * through the public storage API: create (sparse and allocated), clone
 * (holes kept), resize rules, delete, wipe, lookups, 50 volumes created
 * from 4 threads, name clashes, impossible sizes (nothing left behind, ENOSPC
 * on a 16 MiB tmpfs in a private mount namespace when root), refusals while
 * a (stand-in) running domain or a transfer uses a volume, refresh of files
 * made outside, REFRESH event after a transfer, resolve_volume.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib/gstdio.h>

#include "test_common.h"
#include "hyve_storage_priv.h"

/* The case tables hold printf formats. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

#define MiB (1024ull * 1024)

static char *tmp;
static char *pool_dir;
static HyveStorage *st;
static HyvePoolObj *pool;
static GPtrArray *events;               /* "ID EVENT NAME" */
static char *busy_path;                 /* the stand-in domain 'vm1' uses it */
G_LOCK_DEFINE_STATIC(busy);

static char *
fake_vol_user(const char *path, gpointer data)
{
    char *ret = NULL;

    (void)data;
    G_LOCK(busy);
    if (busy_path && strcmp(path, busy_path) == 0)
        ret = g_strdup("vm1");
    G_UNLOCK(busy);
    return ret;
}

static void
set_busy(const char *path)
{
    G_LOCK(busy);
    g_free(busy_path);
    busy_path = g_strdup(path);
    G_UNLOCK(busy);
}

static void
event_sink(const HyvePoolEvent *ev, gpointer data)
{
    (void)data;
    g_ptr_array_add(events, g_strdup_printf("%d %d %s", ev->id, ev->event, ev->name));
}

static HyveStorage *
storage_new(const char *root)
{
    g_autofree char *cfg_dir = g_build_filename(root, "config", NULL);
    g_autofree char *state_dir = g_build_filename(root, "state", NULL);
    HyveStorageConfig cfg = {
        .privileged = TRUE,
        .config_dir = cfg_dir,
        .state_dir = state_dir,
        .schema_dir = HYVE_LIBVIRT_SCHEMA_DIR,
        .default_pool_path = NULL,
    };
    g_autoptr(GError) err = NULL;
    HyveStorage *s = hyve_storage_new(&cfg, &err);

    ck_assert_msg(s, "hyve_storage_new: %s", err ? err->message : "?");
    return s;
}

static HyvePoolObj *
pool_new(HyveStorage *s, const char *name, const char *dir)
{
    g_autofree char *xml = g_strdup_printf("<pool type='dir'><name>%s</name><target><path>%s"
                                           "</path></target></pool>", name, dir);
    g_autoptr(GError) err = NULL;
    HyvePoolObj *p = hyve_storage_pool_define_xml(s, xml, 0, &err);

    ck_assert_msg(p, "pool define %s: %s", name, err ? err->message : "?");
    ck_assert_msg(hyve_storage_pool_build(s, p, 0, &err), "pool build %s: %s", name,
                  err ? err->message : "?");
    ck_assert_msg(hyve_storage_pool_start(s, p, 0, &err), "pool start %s: %s", name,
                  err ? err->message : "?");
    return p;
}

static void
setup(void)
{
    tmp = test_tmpdir_new("hyve-vol-XXXXXX");
    pool_dir = g_build_filename(tmp, "pool", NULL);
    events = g_ptr_array_new_with_free_func(g_free);
    st = storage_new(tmp);
    hyve_storage_set_vol_user_func(st, fake_vol_user, NULL);
    pool = pool_new(st, "p", pool_dir);
    hyve_storage_set_event_sink(st, event_sink, NULL);
}

static void
teardown(void)
{
    g_clear_pointer(&pool, hyve_pool_obj_unref);
    g_clear_pointer(&st, hyve_storage_free);
    test_tree_remove(tmp);
    g_clear_pointer(&tmp, g_free);
    g_clear_pointer(&pool_dir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
    set_busy(NULL);
}

/* ---- helpers ------------------------------------------------------------- */

static void
assert_error(const GError *err, const char *what, int code, const char *text)
{
    ck_assert_msg(err, "%s: no error (expected %d '%s')", what, code, text);
    ck_assert_msg(err->domain == hyve_error_quark(HYVE_FROM_STORAGE),
                  "%s: error domain %s: %s", what, g_quark_to_string(err->domain), err->message);
    ck_assert_msg(err->code == code && strstr(err->message, text),
                  "%s: got %d '%s', expected %d '%s'", what, err->code, err->message, code,
                  text);
}

static char *
vol_xml(const char *name, guint64 capacity, guint64 allocation)
{
    return g_strdup_printf("<volume><name>%s</name><capacity unit='bytes'>%" G_GUINT64_FORMAT
                           "</capacity><allocation unit='bytes'>%" G_GUINT64_FORMAT
                           "</allocation></volume>", name, capacity, allocation);
}

static void
create_ok(const char *name, guint64 capacity, guint64 allocation)
{
    g_autofree char *xml = vol_xml(name, capacity, allocation);
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };

    ck_assert_msg(hyve_storage_vol_create_xml(st, pool, xml, 0, &id, &err),
                  "create %s: %s", name, err ? err->message : "?");
    ck_assert_str_eq(id.name, name);
    ck_assert_str_eq(id.pool, "p");
    hyve_vol_ident_clear(&id);
}

static char *
vol_path(const char *name)
{
    return g_build_filename(pool_dir, name, NULL);
}

static struct stat
stat_ok(const char *path)
{
    struct stat sb;

    ck_assert_msg(stat(path, &sb) == 0, "stat %s: %s", path, g_strerror(errno));
    return sb;
}

static gint
cmp_str_ptr(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in @dir, sorted, joined by ','. */
static char *
dir_names(const char *dir)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;

    ck_assert(d);
    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_str_ptr);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(",", (char **)names->pdata);
}

static char *
list_names(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) vols = hyve_storage_pool_list_volumes(st, pool, 0, &err);
    g_autoptr(GPtrArray) names = g_ptr_array_new();

    ck_assert_msg(vols, "list volumes: %s", err ? err->message : "?");
    for (guint i = 0; i < vols->len; i++)
        g_ptr_array_add(names, ((HyveVolIdent *)g_ptr_array_index(vols, i))->name);
    g_ptr_array_sort(names, cmp_str_ptr);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(",", (char **)names->pdata);
}

/* Offset of the first non-zero byte of @buf, or -1. */
static gssize
first_nonzero(const char *buf, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        if (buf[i])
            return i;
    }
    return -1;
}

static void
write_at(const char *path, off_t off, char byte, size_t len)
{
    g_autofree char *buf = g_malloc(len);
    int fd = open(path, O_WRONLY);

    memset(buf, byte, len);
    ck_assert_msg(fd >= 0, "open %s", path);
    ck_assert(pwrite(fd, buf, len, off) == (ssize_t)len);
    ck_assert(fsync(fd) == 0);
    close(fd);
}

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
    { "smaller", 4 * MiB, 0 },
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
    guint64 cap = c->capacity ? c->capacity : 16 * MiB;
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

/* ---- resize ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    guint64 capacity;             /* argument */
    guint flags;
    gboolean busy;                /* the stand-in domain uses it */
    int code;                     /* 0 = succeeds */
    const char *text;
    guint64 want;                 /* size afterwards (start: 2 MiB, 1 MiB allocated) */
    guint64 min_alloc;
} ResizeCase;

#define RS_ALLOC HYVE_VOL_RESIZE_ALLOCATE
#define RS_DELTA HYVE_VOL_RESIZE_DELTA
#define RS_SHRINK HYVE_VOL_RESIZE_SHRINK

static const ResizeCase resize_cases[] = {
    { "grow", 4 * MiB, 0, FALSE, 0, NULL, 4 * MiB, MiB },
    { "grow delta", MiB, RS_DELTA, FALSE, 0, NULL, 3 * MiB, MiB },
    { "grow allocate", 6 * MiB, RS_ALLOC, FALSE, 0, NULL, 6 * MiB, 5 * MiB },
    { "grow while used", 3 * MiB, 0, TRUE, 0, NULL, 3 * MiB, MiB },
    { "same size", 2 * MiB, 0, FALSE, 0, NULL, 2 * MiB, MiB },
    { "shrink without flag", MiB, 0, FALSE, 8,
      "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
      2 * MiB, MiB },
    { "shrink", MiB, RS_SHRINK, FALSE, 0, NULL, MiB, 0 },
    { "shrink delta", 1536 * 1024, RS_SHRINK | RS_DELTA, FALSE, 0, NULL, 512 * 1024, 0 },
    { "shrink delta below 0", 8 * MiB, RS_SHRINK | RS_DELTA, FALSE, 0, NULL, 0, 0 },
    { "shrink while used", MiB, RS_SHRINK, TRUE, 55,
      "storage volume 'r' is in use by domain 'vm1'", 2 * MiB, MiB },
    { "allocate past free space", 1ull << 60, RS_ALLOC, FALSE, 8,
      "Not enough space left in storage pool", 2 * MiB, MiB },
    { "bad flag", MiB, 8, FALSE, 8, "unsupported flags (0x8) in function "
      "hyve_storage_vol_resize", 2 * MiB, MiB },
};

START_TEST(test_resize)
{
    const ResizeCase *c = &resize_cases[_i];
    g_autofree char *path = vol_path("r");
    g_autoptr(GError) err = NULL;
    HyveVolInfo info;
    struct stat sb;
    gboolean ok;

    create_ok("r", 2 * MiB, MiB);
    if (c->busy)
        set_busy(path);
    ok = hyve_storage_vol_resize(st, pool, "r", c->capacity, c->flags, &err);
    if (c->code) {
        ck_assert_msg(!ok, "%s: succeeded", c->name);
        assert_error(err, c->name, c->code, c->text);
    } else {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
    }
    sb = stat_ok(path);
    ck_assert_msg((guint64)sb.st_size == c->want, "%s: size %lld", c->name,
                  (long long)sb.st_size);
    ck_assert_msg((guint64)sb.st_blocks * 512 >= c->min_alloc, "%s: allocated %lld", c->name,
                  (long long)sb.st_blocks * 512);
    ck_assert(hyve_storage_vol_get_info(st, pool, "r", 0, &info, NULL));
    ck_assert_msg(info.capacity == c->want, "%s: info capacity %" G_GUINT64_FORMAT, c->name,
                  info.capacity);
}
END_TEST

/* ---- delete, wipe, refusals ------------------------------------------------- */

typedef enum { BUSY_NONE, BUSY_DOMAIN, BUSY_TRANSFER } BusyKind;

typedef struct {
    const char *name;
    const char *vol;              /* volume deleted */
    guint flags;
    BusyKind busy;
    int code;
    const char *text;
} DeleteCase;

static const DeleteCase delete_cases[] = {
    { "delete", "d", 0, BUSY_NONE, 0, NULL },
    { "unknown", "nosuch", 0, BUSY_NONE, 50, "no storage vol with matching name 'nosuch'" },
    { "used by a domain", "d", 0, BUSY_DOMAIN, 55, "storage volume 'd' is in use by domain 'vm1'" },
    { "used by a transfer", "d", 0, BUSY_TRANSFER, 55, "volume 'd' is in use by a transfer" },
    { "zeroed", "d", 1, BUSY_NONE, 3, "zeroing" },
    { "bad flag", "d", 4, BUSY_NONE, 8, "unsupported flags (0x4)" },
};

START_TEST(test_delete)
{
    const DeleteCase *c = &delete_cases[_i];
    g_autofree char *path = vol_path("d");
    g_autofree char *tpath = NULL;
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };
    guint64 cap = 0;
    gboolean ok;

    create_ok("d", MiB, 0);
    if (c->busy == BUSY_DOMAIN)
        set_busy(path);
    if (c->busy == BUSY_TRANSFER)
        ck_assert(hyve_storage_vol_acquire(st, pool, "d", HYVE_VOL_USE_READ, &tpath, &cap, NULL));
    ok = hyve_storage_vol_delete(st, pool, c->vol, c->flags, &err);
    if (c->code) {
        ck_assert_msg(!ok, "%s: deleted", c->name);
        assert_error(err, c->name, c->code, c->text);
        ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "%s: file gone", c->name);
        ck_assert_msg(hyve_storage_vol_lookup_by_name(st, pool, "d", &id, NULL),
                      "%s: not listed", c->name);
        hyve_vol_ident_clear(&id);
    } else {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
        ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "%s: file left", c->name);
        ck_assert(!hyve_storage_vol_lookup_by_name(st, pool, "d", &id, &err));
        assert_error(err, c->name, 50, "no storage vol with matching name 'd'");
        ck_assert_int_eq(hyve_storage_pool_num_volumes(st, pool, NULL), 0);
    }
    if (c->busy == BUSY_TRANSFER) {
        ck_assert_str_eq(tpath, path);
        ck_assert(cap == MiB);
        hyve_storage_vol_release(st, pool, "d", FALSE);
        g_clear_error(&err);
        ck_assert_msg(hyve_storage_vol_delete(st, pool, "d", 0, &err), "%s: after release: %s",
                      c->name, err ? err->message : "?");
    }
}
END_TEST

START_TEST(test_wipe)
{
    g_autofree char *path = vol_path("w");
    g_autofree char *data = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;
    struct stat sb;

    create_ok("w", 8 * MiB, 0);
    write_at(path, MiB, 'x', 64 * 1024);
    write_at(path, 8 * MiB - 4096, 'y', 4096);
    ck_assert(stat_ok(path).st_blocks > 0);
    ck_assert_msg(hyve_storage_vol_wipe(st, pool, "w", 0, 0, &err), "wipe: %s",
                  err ? err->message : "?");
    sb = stat_ok(path);
    ck_assert_msg(sb.st_size == (off_t)(8 * MiB) && sb.st_blocks == 0,
                  "wipe: size %lld blocks %lld", (long long)sb.st_size, (long long)sb.st_blocks);
    ck_assert(g_file_get_contents(path, &data, &len, NULL));
    ck_assert_msg(first_nonzero(data, len) < 0, "wipe: byte %zd is not 0",
                  first_nonzero(data, len));

    /* An allocated volume keeps its size and reads zeros too. */
    g_autofree char *path2 = vol_path("w2");
    g_autofree char *data2 = NULL;
    create_ok("w2", MiB, MiB);
    write_at(path2, 4096, 'z', 4096);
    ck_assert(hyve_storage_vol_wipe(st, pool, "w2", 0, 0, NULL));
    ck_assert(g_file_get_contents(path2, &data2, &len, NULL));
    ck_assert(len == MiB);
    ck_assert_msg(first_nonzero(data2, len) < 0, "wipe allocated: byte %zd is not 0",
                  first_nonzero(data2, len));

    ck_assert(!hyve_storage_vol_wipe(st, pool, "w", 1, 0, &err));
    assert_error(err, "wipe nnsa", 3, "wiping algorithm 1 is not supported");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_wipe(st, pool, "nosuch", 0, 0, &err));
    assert_error(err, "wipe unknown", 50, "no storage vol with matching name 'nosuch'");
}
END_TEST

/* ---- lookups ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    gboolean by_key;
    const char *arg;              /* @P = pool dir, @T = tmp dir */
    const char *found;            /* volume name, NULL = not found */
    const char *text;
} LookupCase;

static const LookupCase lookup_cases[] = {
    { "key", TRUE, "@P/a", "a", NULL },
    { "key other", TRUE, "@P/b", "b", NULL },
    { "key unknown", TRUE, "@P/c", NULL, "no storage vol with matching key '@P/c'" },
    { "key not normalized", TRUE, "@P//a", NULL, "no storage vol with matching key" },
    { "path", FALSE, "@P/a", "a", NULL },
    { "path double slash", FALSE, "@P//b", "b", NULL },
    { "path dot", FALSE, "@P/./a", "a", NULL },
    { "path through symlink", FALSE, "@T/link/a", "a", NULL },
    { "path unknown", FALSE, "@P/zz", NULL, "no storage vol with matching path '@P/zz'" },
    { "path directory", FALSE, "@P", NULL, "no storage vol with matching path" },
};

static char *
expand(const char *in)
{
    g_autoptr(GString) s = g_string_new(in);

    g_string_replace(s, "@P", pool_dir, 0);
    g_string_replace(s, "@T", tmp, 0);
    return g_strdup(s->str);
}

START_TEST(test_lookup)
{
    const LookupCase *c = &lookup_cases[_i];
    g_autofree char *link = g_build_filename(tmp, "link", NULL);
    g_autofree char *arg = expand(c->arg);
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };
    gboolean ok;

    create_ok("a", 4096, 0);
    create_ok("b", 4096, 0);
    ck_assert(symlink(pool_dir, link) == 0);
    if (c->by_key)
        ok = hyve_storage_vol_lookup_by_key(st, arg, &id, &err);
    else
        ok = hyve_storage_vol_lookup_by_path(st, arg, &id, &err);
    if (c->found) {
        g_autofree char *key = vol_path(c->found);

        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
        ck_assert_msg(g_strcmp0(id.name, c->found) == 0 && g_strcmp0(id.pool, "p") == 0 &&
                      g_strcmp0(id.key, key) == 0, "%s: found %s/%s", c->name, id.pool,
                      id.name);
    } else {
        g_autofree char *text = expand(c->text);

        ck_assert_msg(!ok, "%s: found %s", c->name, id.name);
        assert_error(err, c->name, 50, text);
    }
    hyve_vol_ident_clear(&id);
}
END_TEST

/* ---- concurrency -------------------------------------------------------------- */

typedef struct {
    guint thread;
    gboolean same_names;          /* every thread tries the same names */
    guint ok, exist, other;
    char *first_error;
} CreatorData;

#define N_THREADS 4
#define N_VOLS 50

static gpointer
creator(gpointer data)
{
    CreatorData *d = data;

    for (guint i = d->thread; i < N_VOLS; i += N_THREADS) {
        g_autofree char *name = g_strdup_printf("v%02u", d->same_names ? i / N_THREADS : i);
        g_autofree char *xml = vol_xml(name, MiB, (i % 3) ? 0 : 64 * 1024);
        g_autoptr(GError) err = NULL;

        if (hyve_storage_vol_create_xml(st, pool, xml, 0, NULL, &err))
            d->ok++;
        else if (err->code == 90)
            d->exist++;
        else {
            d->other++;
            if (!d->first_error)
                d->first_error = g_strdup(err->message);
        }
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    gboolean same = _i == 1;
    const char *what = same ? "same names" : "distinct names";
    CreatorData data[N_THREADS] = { 0 };
    GThread *threads[N_THREADS];
    guint ok = 0, exist = 0, want = same ? (N_VOLS + N_THREADS - 1) / N_THREADS : N_VOLS;
    g_autoptr(GString) names = g_string_new(NULL);
    g_autofree char *on_disk = NULL;
    g_autofree char *listed = NULL;

    for (guint t = 0; t < N_THREADS; t++) {
        data[t].thread = t;
        data[t].same_names = same;
        threads[t] = g_thread_new("creator", creator, &data[t]);
    }
    for (guint t = 0; t < N_THREADS; t++) {
        g_thread_join(threads[t]);
        ck_assert_msg(data[t].other == 0, "%s: thread %u: %s", what, t, data[t].first_error);
        ok += data[t].ok;
        exist += data[t].exist;
        g_free(data[t].first_error);
    }
    ck_assert_msg(ok == want && ok + exist == N_VOLS, "%s: %u created, %u clashes", what, ok,
                  exist);
    for (guint i = 0; i < want; i++)
        g_string_append_printf(names, "%sv%02u", i ? "," : "", i);
    on_disk = dir_names(pool_dir);
    listed = list_names();
    ck_assert_msg(strcmp(on_disk, names->str) == 0, "%s: on disk %s", what, on_disk);
    ck_assert_msg(strcmp(listed, names->str) == 0, "%s: listed %s", what, listed);
    /* A refresh finds exactly the same. */
    ck_assert(hyve_storage_pool_refresh(st, pool, 0, NULL));
    g_free(listed);
    listed = list_names();
    ck_assert_msg(strcmp(listed, names->str) == 0, "%s: after refresh %s", what, listed);
}
END_TEST

/* ---- files made outside, events, resolve ---------------------------------------- */

START_TEST(test_refresh_outside)
{
    g_autofree char *plain = vol_path("outside.img");
    g_autofree char *qcow = vol_path("disk.qcow2");
    g_autofree char *hidden = vol_path(".hidden");
    g_autofree char *sub = vol_path("subdir");
    g_autofree char *listed = NULL;
    g_autofree char *xml = NULL;
    /* qcow2 header: magic, version 3, ..., virtual size 1 GiB at 24 */
    static const guint8 qhead[32] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3,
                                      [24] = 0, 0, 0, 0, 0x40, 0, 0, 0 };
    HyveVolInfo info;

    ck_assert(g_file_set_contents(plain, "12345", 5, NULL));
    ck_assert(g_file_set_contents(qcow, (const char *)qhead, sizeof(qhead), NULL));
    ck_assert(g_file_set_contents(hidden, "x", 1, NULL));
    ck_assert(g_mkdir(sub, 0700) == 0);
    ck_assert(hyve_storage_pool_refresh(st, pool, 0, NULL));
    listed = list_names();
    ck_assert_str_eq(listed, "disk.qcow2,outside.img");
    ck_assert(hyve_storage_vol_get_info(st, pool, "outside.img", 0, &info, NULL));
    ck_assert(info.capacity == 5);
    ck_assert(hyve_storage_vol_get_info(st, pool, "disk.qcow2", 0, &info, NULL));
    ck_assert_msg(info.capacity == 1ull << 30, "qcow2 capacity %" G_GUINT64_FORMAT,
                  info.capacity);
    xml = hyve_storage_vol_get_xml(st, pool, "disk.qcow2", 0, NULL);
    ck_assert_msg(xml && strstr(xml, "qcow2"), "qcow2 xml: %s", xml);
    /* listed and transferable as a file (32 bytes), not cloned or resized */
    g_autofree char *qpath = NULL;
    guint64 qsize = 0;
    g_autoptr(GError) err = NULL;
    ck_assert(hyve_storage_vol_acquire(st, pool, "disk.qcow2", HYVE_VOL_USE_READ, &qpath, &qsize,
                                       NULL));
    ck_assert_msg(qsize == sizeof(qhead), "qcow2 transfer size %" G_GUINT64_FORMAT, qsize);
    hyve_storage_vol_release(st, pool, "disk.qcow2", FALSE);
    ck_assert(!hyve_storage_vol_resize(st, pool, "disk.qcow2", 2ull << 30, 0, &err));
    assert_error(err, "resize qcow2", 67, "resizing a volume of format 'qcow2' is not supported");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_create_xml_from(st, pool, "<volume><name>c</name></volume>",
                                                pool, "disk.qcow2", 0, NULL, &err));
    assert_error(err, "clone qcow2", 67, "cloning a volume of format 'qcow2' is not supported");
    ck_assert(stat_ok(qcow).st_size == sizeof(qhead));

    /* get_info re-reads the file (as libvirt refreshes a volume first). */
    ck_assert(g_file_set_contents(plain, "1234567890", 10, NULL));
    ck_assert(hyve_storage_vol_get_info(st, pool, "outside.img", 0, &info, NULL));
    ck_assert_msg(info.capacity == 10, "capacity after a write %" G_GUINT64_FORMAT,
                  info.capacity);
}
END_TEST

START_TEST(test_transfer_marks)
{
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    guint64 cap = 0;
    guint before = events->len;

    create_ok("t", MiB, 0);
    ck_assert(hyve_storage_vol_acquire(st, pool, "t", HYVE_VOL_USE_WRITE, &path, &cap, NULL));
    ck_assert(cap == MiB);
    /* a second writer, wipe, resize, delete and pool destroy are refused */
    ck_assert(!hyve_storage_vol_acquire(st, pool, "t", HYVE_VOL_USE_WRITE, NULL, NULL, &err));
    assert_error(err, "second writer", 55, "volume 't' is in use by a transfer");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_resize(st, pool, "t", 2 * MiB, 0, &err));
    assert_error(err, "resize during transfer", 55, "volume 't' is in use by a transfer");
    g_clear_error(&err);
    ck_assert(!hyve_storage_pool_destroy(st, pool, &err));
    assert_error(err, "destroy during transfer", 55, "pool 'p' has asynchronous jobs running.");
    g_clear_error(&err);
    write_at(path, 2 * MiB - 1, 'e', 1);
    g_autofree char *ext = vol_path("ext.img");
    ck_assert(g_file_set_contents(ext, "x", 1, NULL));
    hyve_storage_vol_release(st, pool, "t", TRUE);
    /* the whole pool was rescanned, as libvirt does after an upload */
    g_autofree char *listed = list_names();
    ck_assert_str_eq(listed, "ext.img,t");
    ck_assert_msg(events->len == before + 1, "%u events after release", events->len - before);
    ck_assert_str_eq(g_ptr_array_index(events, before), "1 0 p");
    HyveVolInfo info;
    ck_assert(hyve_storage_vol_get_info(st, pool, "t", 0, &info, NULL));
    ck_assert(info.capacity == 2 * MiB);
    ck_assert(hyve_storage_vol_resize(st, pool, "t", 3 * MiB, 0, NULL));
    ck_assert(hyve_storage_pool_destroy(st, pool, NULL));
    ck_assert(!hyve_storage_pool_list_volumes(st, pool, 0, &err));
    assert_error(err, "list inactive", 55, "storage pool 'p' is not active");
}
END_TEST

typedef struct {
    const char *name;
    const char *pool;
    const char *vol;
    int code;
    const char *text;
} ResolveCase;

static const ResolveCase resolve_cases[] = {
    { "ok", "p", "r", 0, NULL },
    { "unknown pool", "nopool", "r", 49, "no storage pool with matching name 'nopool'" },
    { "unknown volume", "p", "x", 50, "no storage vol with matching name 'x'" },
    { "inactive pool", "q", "r", 55, "storage pool 'q' containing volume 'r' is not active" },
};

START_TEST(test_resolve)
{
    const ResolveCase *c = &resolve_cases[_i];
    g_autofree char *qdir = g_build_filename(tmp, "q", NULL);
    g_autofree char *qxml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s"
                                            "</path></target></pool>", qdir);
    g_autoptr(HyvePoolObj) q = hyve_storage_pool_define_xml(st, qxml, 0, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;

    ck_assert(q);
    create_ok("r", 4096, 0);
    path = hyve_storage_resolve_volume(st, c->pool, c->vol, &err);
    if (c->code) {
        ck_assert_msg(!path, "%s: resolved to %s", c->name, path);
        assert_error(err, c->name, c->code, c->text);
    } else {
        g_autofree char *want = vol_path("r");

        ck_assert_msg(g_strcmp0(path, want) == 0, "%s: %s", c->name, path);
    }
}
END_TEST

/* ---- the dir backend through pool operations --------------------------------- */

typedef enum { DB_START_MISSING, DB_BUILD_MODE, DB_BUILD_DEFAULT_MODE, DB_BUILD_OVER_FILE,
               DB_DELETE_NONEMPTY, DB_DELETE, DB_RELATIVE, DB_SAME_DIR, DB_SIZES } DirOp;

typedef struct {
    const char *name;
    DirOp op;
    int code;
    const char *text;             /* @D = the pool's directory */
} DirCase;

static const DirCase dir_cases[] = {
    { "start without directory", DB_START_MISSING, 38,
      "cannot open directory '@D': No such file or directory" },
    { "build with mode", DB_BUILD_MODE, 0, NULL },
    { "build default mode", DB_BUILD_DEFAULT_MODE, 0, NULL },
    { "build over a file", DB_BUILD_OVER_FILE, 38, "cannot create path '@D'" },
    { "delete non-empty", DB_DELETE_NONEMPTY, 9,
      "failed to remove pool '@D': Directory not empty" },
    { "delete", DB_DELETE, 0, NULL },
    { "relative target", DB_RELATIVE, 27, "absolute" },
    { "same directory", DB_SAME_DIR, 9, "Storage source conflict with pool: 'p'" },
    { "sizes", DB_SIZES, 0, NULL },
};

START_TEST(test_dir_backend)
{
    const DirCase *c = &dir_cases[_i];
    g_autofree char *dir = g_build_filename(tmp, "q", "sub", NULL);
    g_autofree char *xml = NULL;
    g_autoptr(HyvePoolObj) q = NULL;
    g_autoptr(GError) err = NULL;
    gboolean ok = TRUE;
    struct stat sb;

    if (c->op == DB_BUILD_MODE)
        xml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s/</path>"
                              "<permissions><mode>0750</mode></permissions></target></pool>",
                              dir);
    else if (c->op == DB_RELATIVE)
        xml = g_strdup("<pool type='dir'><name>q</name><target><path>rel/dir</path>"
                       "</target></pool>");
    else if (c->op == DB_SAME_DIR)
        xml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s//</path>"
                              "</target></pool>", pool_dir);
    else
        xml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s</path>"
                              "</target></pool>", dir);
    q = hyve_storage_pool_define_xml(st, xml, 0, &err);
    if (c->op == DB_RELATIVE || c->op == DB_SAME_DIR) {
        ck_assert_msg(!q, "%s: defined", c->name);
        ok = FALSE;
        goto check;
    }
    ck_assert_msg(q, "%s: define: %s", c->name, err ? err->message : "?");
    switch (c->op) {
    case DB_START_MISSING:
        ok = hyve_storage_pool_start(st, q, 0, &err);
        break;
    case DB_BUILD_MODE:
    case DB_BUILD_DEFAULT_MODE:
        ok = hyve_storage_pool_build(st, q, 0, &err) && stat(dir, &sb) == 0;
        if (ok)
            ck_assert_msg((sb.st_mode & 07777) == (c->op == DB_BUILD_MODE ? 0750 : 0711),
                          "%s: mode %o", c->name, sb.st_mode & 07777);
        break;
    case DB_BUILD_OVER_FILE: {
        g_autofree char *parent = g_path_get_dirname(dir);

        ck_assert(g_mkdir(parent, 0700) == 0);
        ck_assert(g_file_set_contents(dir, "", 0, NULL));
        ok = hyve_storage_pool_build(st, q, 0, &err);
        break;
    }
    case DB_DELETE_NONEMPTY:
    case DB_DELETE: {
        g_autofree char *f = g_build_filename(dir, "f", NULL);

        ck_assert(hyve_storage_pool_build(st, q, 0, NULL));
        if (c->op == DB_DELETE_NONEMPTY)
            ck_assert(g_file_set_contents(f, "", 0, NULL));
        ok = hyve_storage_pool_delete(st, q, 0, &err);
        ck_assert_msg(g_file_test(dir, G_FILE_TEST_IS_DIR) == (c->op == DB_DELETE_NONEMPTY),
                      "%s: directory %s", c->name, dir);
        break;
    }
    case DB_SIZES: {
        HyvePoolInfo info;

        ck_assert(hyve_storage_pool_build(st, q, 0, NULL));
        ok = hyve_storage_pool_start(st, q, 0, &err);
        hyve_pool_obj_get_info(q, &info);
        ck_assert_msg(info.state == 2 && info.capacity > 0 && info.available > 0 &&
                      info.available <= info.capacity && info.allocation <= info.capacity,
                      "%s: %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
                      c->name, info.capacity, info.allocation, info.available);
        break;
    }
    default:
        break;
    }
check:
    if (c->code) {
        g_autoptr(GString) text = g_string_new(c->text);

        g_string_replace(text, "@D", dir, 0);
        ck_assert_msg(!ok, "%s: succeeded", c->name);
        assert_error(err, c->name, c->code, text->str);
    } else {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
    }
}
END_TEST

/* ---- a volume being built refuses other operations ------------------------------ */

typedef enum { BO_DELETE, BO_RESIZE, BO_WIPE, BO_ACQUIRE, BO_CLONE_FROM, BO_RESOLVE,
               BO_INFO, BO_LIST } BuildingOp;

static const struct {
    const char *name;
    BuildingOp op;
    gboolean refused;
} building_cases[] = {
    { "delete", BO_DELETE, TRUE },
    { "resize", BO_RESIZE, TRUE },
    { "wipe", BO_WIPE, TRUE },
    { "download", BO_ACQUIRE, TRUE },
    { "clone from", BO_CLONE_FROM, TRUE },
    { "resolve", BO_RESOLVE, TRUE },
    { "info", BO_INFO, FALSE },
    { "list", BO_LIST, FALSE },
};

static void
set_building(const char *name, guint value)
{
    g_mutex_lock(&pool->lock);
    HyveVolObj *vol = hyve_pool_obj_find_vol_locked(pool, name);
    ck_assert(vol);
    vol->building = value;
    g_mutex_unlock(&pool->lock);
}

START_TEST(test_building)
{
    const char *what = building_cases[_i].name;
    g_autofree char *path = vol_path("b");
    g_autofree char *got = NULL;
    g_autoptr(GError) err = NULL;
    gboolean ok = FALSE;
    HyveVolInfo info;

    create_ok("b", MiB, 0);
    set_building("b", 1);
    switch (building_cases[_i].op) {
    case BO_DELETE:
        ok = hyve_storage_vol_delete(st, pool, "b", 0, &err);
        break;
    case BO_RESIZE:
        ok = hyve_storage_vol_resize(st, pool, "b", 2 * MiB, 0, &err);
        break;
    case BO_WIPE:
        ok = hyve_storage_vol_wipe(st, pool, "b", 0, 0, &err);
        break;
    case BO_ACQUIRE:
        ok = hyve_storage_vol_acquire(st, pool, "b", HYVE_VOL_USE_READ, NULL, NULL, &err);
        break;
    case BO_CLONE_FROM:
        ok = hyve_storage_vol_create_xml_from(st, pool, "<volume><name>c</name></volume>", pool,
                                              "b", 0, NULL, &err);
        break;
    case BO_RESOLVE:
        got = hyve_storage_resolve_volume(st, "p", "b", &err);
        ok = got != NULL;
        break;
    case BO_INFO:
        ok = hyve_storage_vol_get_info(st, pool, "b", 0, &info, &err) && info.capacity == MiB;
        break;
    case BO_LIST:
        got = list_names();
        ok = strcmp(got, "b") == 0;
        break;
    }
    if (building_cases[_i].refused) {
        ck_assert_msg(!ok, "%s: allowed on a volume being built", what);
        assert_error(err, what, 55, "volume 'b' is still being allocated.");
    } else {
        ck_assert_msg(ok, "%s: %s", what, err ? err->message : "refused");
    }
    set_building("b", 0);
    g_clear_error(&err);
    ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "%s: file gone", what);
    ck_assert_msg(hyve_storage_vol_delete(st, pool, "b", 0, &err), "%s: delete afterwards: %s",
                  what, err ? err->message : "?");
}
END_TEST

static Suite *
storage_vol_suite(void)
{
    Suite *s = suite_create("storage-vol");
    struct {
        const char *name;
        const TTest *test;
        int n;
    } tests[] = {
        { "create", test_create, G_N_ELEMENTS(create_cases) },
        { "create-fail", test_create_fail, G_N_ELEMENTS(fail_cases) },
        { "enospc", test_enospc, 1 },
        { "clone", test_clone, G_N_ELEMENTS(clone_cases) },
        { "clone-fail", test_clone_fail, 1 },
        { "resize", test_resize, G_N_ELEMENTS(resize_cases) },
        { "delete", test_delete, G_N_ELEMENTS(delete_cases) },
        { "wipe", test_wipe, 1 },
        { "lookup", test_lookup, G_N_ELEMENTS(lookup_cases) },
        { "concurrent", test_concurrent, 2 },
        { "refresh-outside", test_refresh_outside, 1 },
        { "transfer-marks", test_transfer_marks, 1 },
        { "resolve", test_resolve, G_N_ELEMENTS(resolve_cases) },
        { "dir-backend", test_dir_backend, G_N_ELEMENTS(dir_cases) },
        { "building", test_building, G_N_ELEMENTS(building_cases) },
    };

    for (guint i = 0; i < G_N_ELEMENTS(tests); i++) {
        TCase *tc = tcase_create(tests[i].name);

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, tests[i].test, 0, tests[i].n);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    return test_suite_run(storage_vol_suite());
}
