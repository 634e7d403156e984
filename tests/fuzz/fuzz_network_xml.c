/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_network_xml.c: the network XML parser (hyve_net_def_parse_string,
 * RelaxNG off: hyve's own checks always run), the bridge/MAC defaults, and
 * the formatter: format -> parse -> format must give the same text, and a
 * copy must format like the original. Both the config and the live form
 * are formatted. Then the texts a start would give dnsmasq (its config)
 * and nft (the table script) are generated, without running anything, and
 * checked for text that broke out of its value (newline/quote injection).
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyve_network_def.h"
#include "hyve_network_priv.h"
#include "fuzz_common.h"

/* Every option hyve_dnsmasq_conf_text writes (besides the user's own
 * <dnsmasq:option> lines, copied verbatim by design, as libvirt). A line
 * with another key means text from the definition broke out of its value
 * (newline injection into dnsmasq's configuration). */
static const char *const dnsmasq_keys[] = {
    "addn-hosts", "bind-dynamic", "cname", "dhcp-authoritative", "dhcp-boot",
    "dhcp-hostsfile", "dhcp-lease-max", "dhcp-no-override", "dhcp-option", "dhcp-range",
    "domain", "domain-needed", "enable-ra", "enable-tftp", "except-interface",
    "expand-hosts", "interface", "local", "log-queries", "no-resolv", "pid-file", "port",
    "ra-param", "server", "srv-host", "strict-order", "tftp-root", "txt-record",
};

static void
check_dnsmasq_conf(const HyveNetworkDef *def, const char *conf)
{
    g_auto(GStrv) lines = g_strsplit(conf, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i];
        g_autofree char *key = NULL;
        gboolean ok = FALSE;

        if (!*l || *l == '#')
            continue;
        for (const char *p = l; *p; p++) {
            if ((guchar) *p < 0x20 && *p != '\t') {
                fprintf(stderr, "control character 0x%02x in dnsmasq line %u:\n%s\n",
                        (guchar) *p, i, conf);
                abort();
            }
        }
        for (guint j = 0; def->dnsmasq_options && j < def->dnsmasq_options->len; j++)
            if (g_str_equal(l, (const char *) def->dnsmasq_options->pdata[j]))
                ok = TRUE;
        key = g_strndup(l, strcspn(l, "="));
        for (gsize j = 0; !ok && j < G_N_ELEMENTS(dnsmasq_keys); j++)
            ok = g_str_equal(key, dnsmasq_keys[j]);
        if (!ok) {
            fprintf(stderr, "unexpected dnsmasq option '%s' (line %u):\n%s\n", key, i, conf);
            abort();
        }
    }
}

/* The nft script: braces balance, quotes pair up on every line, no control
 * characters: a name or address from the definition cannot add rules. */
static void
check_nft_script(const char *script)
{
    int depth = 0;
    guint quotes = 0;

    for (const char *p = script; *p; p++) {
        if (*p == '"')
            quotes++;
        else if (*p == '\n') {
            if (quotes % 2) {
                fprintf(stderr, "unbalanced quotes in nft script:\n%s\n", script);
                abort();
            }
            quotes = 0;
        } else if ((guchar) *p < 0x20 && *p != '\t') {
            fprintf(stderr, "control character 0x%02x in nft script:\n%s\n", (guchar) *p, script);
            abort();
        } else if (quotes % 2 == 0 && *p == '{') {
            depth++;
        } else if (quotes % 2 == 0 && *p == '}' && --depth < 0) {
            break;
        }
    }
    if (depth != 0 || quotes % 2) {
        fprintf(stderr, "unbalanced braces or quotes in nft script:\n%s\n", script);
        abort();
    }
}

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
    /* what a start would hand to dnsmasq and nft (text only, nothing runs) */
    if (hyve_dnsmasq_needed(def)) {
        g_autofree char *conf = hyve_dnsmasq_conf_text(def, "/fuzz/state/network");
        check_dnsmasq_conf(def, conf);
    }
    {
        g_autofree char *script = hyve_net_firewall_script(def);
        if (script)
            check_nft_script(script);
    }
    return 0;
}
