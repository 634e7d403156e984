/* replay_main.c: main() for the runner harnesses in builds without
 * libFuzzer: runs LLVMFuzzerTestOneInput() once on every file named on the
 * command line or found (sorted) in the directories named there.  Missing
 * directories are skipped (an empty crashes/ folder is not stored in git).
 * Exit 0 after replaying at least one input; a harness that finds a
 * violated invariant aborts, which fails the test. */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "fuzz_runner.h"

static int
replay_file(const char *path)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        fprintf(stderr, "replay: %s\n", err->message);
        return -1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    return 0;
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    unsigned n = 0;
    int i;

    for (i = 1; i < argc; i++) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDir) dir = NULL;
        const char *name;
        guint k;

        if (g_file_test(argv[i], G_FILE_TEST_IS_REGULAR)) {
            if (replay_file(argv[i]) < 0)
                return 1;
            n++;
            continue;
        }
        if (!(dir = g_dir_open(argv[i], 0, NULL)))
            continue;
        while ((name = g_dir_read_name(dir)))
            if (name[0] != '.')
                g_ptr_array_add(names, g_build_filename(argv[i], name, NULL));
        g_ptr_array_sort(names, cmp_str);
        for (k = 0; k < names->len; k++) {
            if (replay_file(g_ptr_array_index(names, k)) < 0)
                return 1;
            n++;
        }
    }
    printf("replayed %u inputs\n", n);
    return n > 0 ? 0 : 1;
}
