/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_domain_xml.c: the domain XML pipeline (hyve_domain_def_parse_string:
 * libxml2 with limits, RelaxNG, element whitelist, parse, validate,
 * defaults, limits), then format -> parse -> format, which must give the
 * same text (what a define stores is what the next load reads).
 *
 * fuzz-domain-xml: RelaxNG against a permissive schema (any document), so
 * the parser itself sees every input at full speed.
 * fuzz-domain-xml-schema (built with FUZZ_REAL_SCHEMA): libvirt's real
 * domain.rng, as the daemon runs it.
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>

#include "hyve_domain_def.h"
#include "fuzz_common.h"

#define FUZZ_EMULATOR "/usr/sbin/bhyve-runner"

static HyveDomainParseOptions opts = {
    .emulator = FUZZ_EMULATOR,
    .alt_emulator = "/usr/libexec/bhyve-runner",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet_logs();
#ifdef FUZZ_REAL_SCHEMA
    opts.schema_dir = HYVE_LIBVIRT_SCHEMA_DIR;
#else
    opts.schema_dir = fuzz_any_schema_dir();
#endif
    return 0;
}

static void
round_trip(const HyveDomainDef *def, guint flags)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = hyve_domain_def_format(def, -1, flags);
    g_autofree char *again = NULL;
    g_autoptr(HyveDomainDef) def2 = NULL;
    HyveDomainParseOptions any = opts;

    /* the formatted text always passes the real schema (golden tests); the
     * permissive one keeps this fast */
    any.schema_dir = fuzz_any_schema_dir();
    if (!(def2 = hyve_domain_def_parse_string(xml, &any, &err))) {
        fprintf(stderr, "formatted domain does not parse again: %s\n%s\n", err->message, xml);
        abort();
    }
    again = hyve_domain_def_format(def2, -1, flags);
    if (g_strcmp0(xml, again) != 0) {
        fprintf(stderr, "format(parse(format(def))) differs:\n%s\n---\n%s\n", xml, again);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzz_strndup(data, size);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainDef) def = NULL;
    g_autoptr(HyveDomainDef) copy = NULL;

    if (!opts.schema_dir)
        LLVMFuzzerInitialize(NULL, NULL);
    def = hyve_domain_def_parse_string(xml, &opts, &err);
    if (!def) {
        if (!err || !err->message) {
            fprintf(stderr, "parse failed without an error\n");
            abort();
        }
        return 0;
    }
    round_trip(def, HYVE_DOMAIN_XML_INACTIVE);
    round_trip(def, HYVE_DOMAIN_XML_SECURE);
    copy = hyve_domain_def_copy(def, NULL);
    if (copy) {
        g_autofree char *a = hyve_domain_def_format(def, 1, 0);
        g_autofree char *b = hyve_domain_def_format(copy, 1, 0);
        if (g_strcmp0(a, b) != 0) {
            fprintf(stderr, "copy formats differently:\n%s\n---\n%s\n", a, b);
            abort();
        }
    }
    return 0;
}
