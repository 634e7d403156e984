/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_runner_control.h: client of a bhyve-runner's control socket
 * (protocol in docs/man/bhyve-runner.8: one request line, one reply line,
 * "ok [payload]" or "error CODE message"). Blocking with a deadline; any
 * thread; no driver lock may be held across a call. Internal to driver/.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define HYVE_RUNNER_CONTROL_TIMEOUT_MS 5000

/* Sends @request and returns the payload after "ok" ("" when none).
 * "error CODE message" -> that libvirt code from BHYVE with the runner's
 * message; no socket / no answer within @timeout_ms -> OPERATION_FAILED
 * "cannot talk to bhyve-runner of domain ...: ..." (@what names the domain). */
char *hyve_runner_control(const char *socket_path, const char *what, const char *request,
                          int timeout_ms, GError **error);

/* Splits a "key=value key=value" payload into a table char* -> char*
 * (both owned). Tokens without '=' are ignored. */
GHashTable *hyve_runner_parse_pairs(const char *payload);

/* Value of @key in a table from hyve_runner_parse_pairs as a number;
 * @fallback when absent or not a number. */
gint64 hyve_runner_pairs_get(GHashTable *pairs, const char *key, gint64 fallback);

G_END_DECLS
