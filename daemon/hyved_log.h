/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_log.h: log filtering by libvirt-style level
 * (1 debug, 2 info, 3 warning, 4 error).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void hyved_log_setup(int level);
/* Whether a GLib log level passes the libvirt-style threshold. */
gboolean hyved_log_level_enabled(int threshold, GLogLevelFlags level);

G_END_DECLS
