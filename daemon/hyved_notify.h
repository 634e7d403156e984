/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_notify.h: tell systemd (Type=notify) about the daemon's state.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends @state (e.g. "READY=1") to $NOTIFY_SOCKET; FALSE when unset or failed. */
gboolean hyved_notify(const char *state);

G_END_DECLS
