/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_common.h: helpers shared by the libFuzzer harnesses of tests/fuzz.
 *
 * Every harness defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). With -Dfuzzing=true it is linked with
 * -fsanitize=fuzzer; otherwise with fuzz_replay_main.c, which feeds it
 * every file of its seed corpus and regression folders (a normal test).
 *
 * Harnesses never touch the host: everything they write lives under one
 * private temporary directory (fuzz_tmpdir), removed at exit.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Once per process: drops glib log output below g_critical (parsers log
 * their refusals with g_message/g_debug; printing them would only slow the
 * fuzzer down) and makes g_critical/g_warning from a g_return_if_fail
 * abort, so that a failed precondition counts as a finding. */
void fuzz_quiet_logs(void);

/* A private directory (created on first use, removed with everything in it
 * at exit). */
const char *fuzz_tmpdir(void);

/* A directory holding permissive domain.rng, network.rng, storagepool.rng
 * and storagevol.rng that accept any well-formed document, so that the
 * parsers behind their (always-on) RelaxNG step are reached with any input
 * at full speed. Under fuzz_tmpdir(). */
const char *fuzz_any_schema_dir(void);

/* @data as a NUL-terminated string (embedded NULs end it early, as a C
 * string from the wire would). g_free it. */
char *fuzz_strndup(const uint8_t *data, size_t size);

G_END_DECLS
