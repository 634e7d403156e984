/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_storage_xml.c: the storage pool and volume XML parsers
 * (hyve_pool_def_parse, hyve_vol_def_parse) without RelaxNG (the API's
 * VALIDATE flag off: hyve's own checks always run).
 *
 * fuzz-pool-xml: parse; on success copy, format, parse the formatted text
 * again and format it: both texts must be equal.
 * fuzz-vol-xml (FUZZ_VOL): parse for a dir pool and for a logical pool;
 * on success copy and format (a parsed volume has no key/path yet: the
 * backend sets them, so there is no round trip here).
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>

#include "hyve_storage_def.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet_logs();
    return 0;
}

static void
check_error(const GError *err)
{
    if (!err || !err->message) {
        fprintf(stderr, "parse failed without an error\n");
        abort();
    }
}

#ifndef FUZZ_VOL
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzz_strndup(data, size);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolDef) def = NULL;
    g_autoptr(HyvePoolDef) copy = NULL;
    g_autoptr(HyvePoolDef) def2 = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    g_autofree char *out_copy = NULL;

    fuzz_quiet_logs();
    if (!(def = hyve_pool_def_parse(xml, FALSE, NULL, &err))) {
        check_error(err);
        return 0;
    }
    copy = hyve_pool_def_copy(def);
    out = hyve_pool_def_format(def);
    out_copy = hyve_pool_def_format(copy);
    if (g_strcmp0(out, out_copy) != 0) {
        fprintf(stderr, "copy formats differently:\n%s\n---\n%s\n", out, out_copy);
        abort();
    }
    if (!(def2 = hyve_pool_def_parse(out, FALSE, NULL, &err))) {
        fprintf(stderr, "formatted pool does not parse again: %s\n%s\n", err->message, out);
        abort();
    }
    out2 = hyve_pool_def_format(def2);
    if (g_strcmp0(out, out2) != 0) {
        fprintf(stderr, "format(parse(format(def))) differs:\n%s\n---\n%s\n", out, out2);
        abort();
    }
    return 0;
}
#else
static void
one_vol(const char *xml, HyvePoolType type)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveVolDef) def = NULL;
    g_autoptr(HyveVolDef) copy = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out_copy = NULL;

    if (!(def = hyve_vol_def_parse(xml, type, FALSE, NULL, &err))) {
        check_error(err);
        return;
    }
    /* as a backend does before formatting */
    if (!def->target_path)
        def->target_path = g_strdup_printf("/fuzz/pool/%s", def->name);
    if (!def->key)
        def->key = g_strdup(def->target_path);
    copy = hyve_vol_def_copy(def);
    out = hyve_vol_def_format(def, type);
    out_copy = hyve_vol_def_format(copy, type);
    if (g_strcmp0(out, out_copy) != 0) {
        fprintf(stderr, "copy formats differently:\n%s\n---\n%s\n", out, out_copy);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzz_strndup(data, size);

    fuzz_quiet_logs();
    one_vol(xml, HYVE_POOL_TYPE_DIR);
    one_vol(xml, HYVE_POOL_TYPE_LOGICAL);
    return 0;
}
#endif
