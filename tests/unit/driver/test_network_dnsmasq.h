/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_dnsmasq.h: what the two files of the network-dnsmasq test
 * program share (test_network_dnsmasq.c: config golden files, host files,
 * spawn with a fake dnsmasq, main; test_network_leases.c: the lease file
 * parser and reader, and, as root in namespaces of its own, the real
 * dnsmasq with a real DHCP exchange).
 */
#pragma once

#include <string.h>
#include "test_driver_common.h"
#include "hyve_network_priv.h"

#define DNSMASQ_GOLDEN_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/network/dnsmasq"

/* Parses @xml (schema-validated) as the define path does (bridge/MAC
 * assigned), asserted with @what in the message. */
HyveNetworkDef *dnsmasq_test_def(const char *what, const char *xml);

/* Runs @argv (no shell); TRUE when it exits 0. Output into *@out (g_free)
 * when not NULL, stdout and stderr together. */
gboolean dnsmasq_test_run(const char *const *argv, char **out);

/* Root only (main entered private namespaces): the cases with the real
 * dnsmasq. Where a helper process's pid is written: main kills what is
 * left. */
extern const char *dnsmasq_test_pid_dir;
void network_leases_add_tests(Suite *s, gboolean root);
