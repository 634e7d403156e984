/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_common.c: private temporary directory, permissive schemas, quiet
 * logging for the harnesses (see fuzz_common.h).
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "fuzz_common.h"

static char *tmpdir;
static char *schema_dir;

/* Drops what parsers log about refused input; a g_critical (failed
 * g_return_if_fail) or g_error is printed and aborts here with SIGABRT,
 * which libFuzzer records as a crash (glib's own abort on a fatal level is
 * a SIGTRAP, which it does not). */
static void
drop_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    (void) data;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL)) {
        fprintf(stderr, "%s: %s\n", domain ? domain : "?", message);
        abort();
    }
}

void
fuzz_quiet_logs(void)
{
    static gsize done;

    if (!g_once_init_enter(&done))
        return;
    g_log_set_default_handler(drop_log, NULL);
    /* a failed g_return_if_fail is a bug the fuzzer found */
    g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
    g_once_init_leave(&done, 1);
}

static void
remove_tree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                remove_tree(child);
            else
                g_unlink(child);
        }
    }
    g_rmdir(path);
}

static void
remove_tmpdir(void)
{
    if (tmpdir)
        remove_tree(tmpdir);
}

const char *
fuzz_tmpdir(void)
{
    if (!tmpdir) {
        g_autoptr(GError) err = NULL;

        /* tmpfs where there is one: the dispatch harness writes and
         * removes definition files for every input */
        if (!g_getenv("TMPDIR") && access("/dev/shm", W_OK) == 0) {
            tmpdir = g_strdup("/dev/shm/hyve-fuzz-XXXXXX");
            if (!g_mkdtemp(tmpdir))
                g_clear_pointer(&tmpdir, g_free);
        }
        if (!tmpdir)
            tmpdir = g_dir_make_tmp("hyve-fuzz-XXXXXX", &err);
        if (!tmpdir)
            g_error("cannot create a temporary directory: %s", err->message);
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

/* Any element with any attributes, text and children. */
static const char any_rng[] =
    "<grammar xmlns='http://relaxng.org/ns/structure/1.0'>\n"
    "  <start><ref name='any'/></start>\n"
    "  <define name='any'>\n"
    "    <element><anyName/>\n"
    "      <zeroOrMore><choice>\n"
    "        <attribute><anyName/></attribute>\n"
    "        <text/>\n"
    "        <ref name='any'/>\n"
    "      </choice></zeroOrMore>\n"
    "    </element>\n"
    "  </define>\n"
    "</grammar>\n";

const char *
fuzz_any_schema_dir(void)
{
    static const char *const files[] = {
        "domain.rng", "network.rng", "storagepool.rng", "storagevol.rng",
    };

    if (!schema_dir) {
        g_autoptr(GError) err = NULL;
        char *dir = g_build_filename(fuzz_tmpdir(), "any-schema", NULL);

        if (g_mkdir_with_parents(dir, 0700) < 0)
            g_error("cannot create %s", dir);
        for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
            g_autofree char *path = g_build_filename(dir, files[i], NULL);
            if (!g_file_set_contents(path, any_rng, -1, &err))
                g_error("cannot write %s: %s", path, err->message);
        }
        schema_dir = dir;
    }
    return schema_dir;
}

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    return g_strndup((const char *) data, size);
}
