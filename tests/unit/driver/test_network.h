/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network.h: what the two files of the network-core test program
 * share (test_network.c: fixture, helpers, lifecycle, persistence, main;
 * test_network_ops.c: refusals, filters, ports, leases, threads, and the
 * root-only cases that start real bridges, nft tables and dnsmasq inside
 * the program's own network namespace).
 */
#pragma once

#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "test_common.h"
#include "hyve_domain_obj.h"
#include "hyve_network_priv.h"

extern char *tmp, *cfg_dir, *state_dir;
extern HyveNetworks *nets;
extern gboolean in_netns;       /* root, inside namespaces of our own */

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define UUID_B "66666666-7777-8888-9999-aaaaaaaaaaaa"

#define OK(call) \
    do { \
        g_autoptr(GError) ok_err = NULL; \
        GError **error = &ok_err; \
        ck_assert_msg((call), "%s: %s", #call, ok_err ? ok_err->message : "(no error)"); \
    } while (0)

char *take_events(void);
HyveNetworks *open_nets(gboolean define_default);
void reopen(void);
void setup(void);
void teardown(void);
/* A forward mode='bridge' network on host bridge @bridge (nothing on the
 * host is touched when it starts); uuid may be NULL. */
char *bridge_xml(const char *name, const char *uuid, const char *bridge);
/* A NAT network on @bridge, 10.@n.0.1/24 with DHCP. */
char *nat_xml(const char *name, const char *bridge, int n);
HyveNetObj *define(const char *xml);
HyveNetObj *lookup(const char *name);
void check_error(const char *what, const GError *err, int code, const char *message);
char *list_names(guint flags);
char *net_file(const char *dir, const char *name);
/* The test namespace's network devices other than lo: NULL when none. */
const char *spare_device(void);

void network_add_ops_tests(TCase *tc);
void network_add_host_tests(TCase *tc);
