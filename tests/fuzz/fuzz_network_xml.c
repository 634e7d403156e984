/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_network_xml.c: the network XML parser (hyve_net_def_parse_string,
 * RelaxNG off: hyve's own checks always run), the bridge/MAC defaults, and
 * the formatter: format -> parse -> format must give the same text, and a
 * copy must format like the original. Both the config and the live form
 * are formatted.
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>

#include "hyve_network_def.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet_logs();
    return 0;
}

/* virbr0..virbr2 are "in use": the allocator has to look further */
static gboolean
bridge_in_use(const char *bridge, gpointer data)
{
    (void) data;
    return g_str_equal(bridge, "virbr0") || g_str_equal(bridge, "virbr1") ||
        g_str_equal(bridge, "virbr2");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzz_strndup(data, size);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autoptr(HyveNetworkDef) def2 = NULL;
    g_autoptr(HyveNetworkDef) copy = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    g_autofree char *out_copy = NULL;
    g_autofree char *live = NULL;

    fuzz_quiet_logs();
    if (!(def = hyve_net_def_parse_string(xml, NULL, FALSE, &err))) {
        if (!err || !err->message) {
            fprintf(stderr, "parse failed without an error\n");
            abort();
        }
        return 0;
    }
    if (!hyve_net_def_assign_bridge(def, bridge_in_use, NULL, &err))
        return 0;
    copy = hyve_net_def_copy(def);
    out = hyve_net_def_format(def, FALSE);
    live = hyve_net_def_format(def, TRUE);
    out_copy = hyve_net_def_format(copy, FALSE);
    if (g_strcmp0(out, out_copy) != 0) {
        fprintf(stderr, "copy formats differently:\n%s\n---\n%s\n", out, out_copy);
        abort();
    }
    if (!(def2 = hyve_net_def_parse_string(out, NULL, FALSE, &err))) {
        fprintf(stderr, "formatted network does not parse again: %s\n%s\n", err->message, out);
        abort();
    }
    out2 = hyve_net_def_format(def2, FALSE);
    if (g_strcmp0(out, out2) != 0) {
        fprintf(stderr, "format(parse(format(def))) differs:\n%s\n---\n%s\n", out, out2);
        abort();
    }
    return 0;
}
