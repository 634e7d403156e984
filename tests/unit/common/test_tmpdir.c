/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_tmpdir.c: temporary directory trees for the unit tests. */
#include "hyve-config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_common.h"

char *
test_tmpdir_new(const char *tmpl)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp(tmpl, &err);

    ck_assert_msg(dir, "temporary directory %s: %s", tmpl, err ? err->message : "?");
    return dir;
}

static void
test_tree_remove_entry(const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700);
    dir = g_dir_open(path, 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        test_tree_remove_entry(child);
    }
    rmdir(path);
}

void
test_tree_remove(const char *path)
{
    struct stat st;

    test_tree_remove_entry(path);
    ck_assert_msg(lstat(path, &st) < 0, "cannot remove %s", path);
}
