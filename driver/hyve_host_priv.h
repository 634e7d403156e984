/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host_priv.h: what the hyve_host*.c and hyve_*capabilities.c files
 * share and nothing else uses: host file access (hyve_host_sysfs.c) and
 * the one guest hyve offers.
 */
#pragma once

#include "hyve_host.h"

G_BEGIN_DECLS

/* The guest every capabilities document describes. */
#define HYVE_CAPS_ARCH "x86_64"
#define HYVE_CAPS_MACHINE "pc"
#define HYVE_CAPS_VIRTTYPE "bhyve"

/* ---- hyve_host_sysfs.c ------------------------------------------------- */
/* @path below $HYVE_HOST_ROOT (when set); g_free. */
char *hyve_host_path(const char *path);
/* Whole file, or NULL (errno-style reason in @error when asked). */
char *hyve_host_read(const char *path, GError **error);
/* The file holds one decimal integer (surrounding white space allowed). */
gboolean hyve_host_read_int(const char *path, gint64 *value);
/* A cpulist file ("0-3,8") as sorted unique CPU numbers (guint); NULL
 * when missing or malformed. */
GArray *hyve_host_read_cpulist(const char *path);
/* Value in kB of @key ("MemTotal") in a meminfo file, also the per-node
 * form "Node 0 MemTotal:  123 kB". */
gboolean hyve_host_meminfo_value(const char *meminfo, const char *key, guint64 *kib);
/* Online CPU numbers (guint); without sysfs, 0..n-1. Never NULL. */
GArray *hyve_host_online_cpus(void);

G_END_DECLS
