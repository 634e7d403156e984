/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_log.c: route GLib logging through a level threshold; output goes
 * to GLib's default writer (journal when stderr is the journal, else stderr).
 */
#include "hyve-config.h"

#include "hyved_log.h"

static int log_threshold = 3;

gboolean
hyved_log_level_enabled(int threshold, GLogLevelFlags level)
{
    int lvl;

    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        lvl = 4;
    else if (level & G_LOG_LEVEL_WARNING)
        lvl = 3;
    else if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
        lvl = 2;
    else
        lvl = 1;
    return lvl >= threshold;
}

static GLogWriterOutput
hyved_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                 gpointer user_data)
{
    if (!hyved_log_level_enabled(log_threshold, level))
        return G_LOG_WRITER_HANDLED;
    return g_log_writer_default(level, fields, n_fields, user_data);
}

void
hyved_log_setup(int level)
{
    log_threshold = CLAMP(level, 1, 4);
    if (log_threshold <= 2)
        g_log_set_debug_enabled(TRUE);
    g_log_set_writer_func(hyved_log_writer, NULL, NULL);
}
