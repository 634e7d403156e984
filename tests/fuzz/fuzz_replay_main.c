/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_replay_main.c: main() for the harnesses in builds without libFuzzer.
 * Each argument is a file or a directory (every regular file in it, sorted,
 * not recursive; a missing directory is skipped). Every file is fed to
 * LLVMFuzzerTestOneInput once; a crash is the test failing. Prints how many
 * inputs ran; fails when none did (an empty corpus is a broken test).
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

/* Harnesses that need no set-up do not define it. */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static guint
run_file(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        fprintf(stderr, "cannot read %s: %s\n", path, err->message);
        exit(2);
    }
    /* a private copy of exactly @len bytes, so ASan sees overreads */
    {
        g_autofree uint8_t *copy = g_memdup2(data, len ? len : 1);
        LLVMFuzzerTestOneInput(copy, len);
    }
    return 1;
}

static guint
run_dir(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    guint n = 0;

    if (!dir)
        return 0;
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_REGULAR) && name[0] != '.')
            g_ptr_array_add(names, g_steal_pointer(&child));
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        if (g_getenv("FUZZ_REPLAY_VERBOSE"))
            fprintf(stderr, "%s\n", (const char *) names->pdata[i]);
        n += run_file(names->pdata[i]);
    }
    return n;
}

int
main(int argc, char **argv)
{
    guint total = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        guint n;

        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR))
            n = run_dir(argv[i]);
        else if (g_file_test(argv[i], G_FILE_TEST_EXISTS))
            n = run_file(argv[i]);
        else
            n = 0;
        printf("%s: %u inputs\n", argv[i], n);
        total += n;
    }
    printf("%u inputs replayed without a crash\n", total);
    return total > 0 ? 0 : 1;
}
