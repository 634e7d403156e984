/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_config.c: parser for virtbhyved.conf (libvirt conf syntax).
 */
#include "hyve-config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hyved_config.h"

void
hyved_config_init(HyvedConfig *cfg, gboolean privileged)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->auth_unix_rw = privileged ? HYVED_AUTH_POLKIT : HYVED_AUTH_NONE;
    cfg->auth_unix_ro = HYVED_AUTH_NONE;
    cfg->unix_sock_rw_perms = 0;      /* 0 = derive from auth_unix_rw */
    cfg->unix_sock_ro_perms = 0666;
    cfg->max_clients = 5000;
    cfg->max_anonymous_clients = 20;
    cfg->max_workers = 20;
    cfg->prio_workers = 5;
    cfg->max_client_requests = 5;
    cfg->max_client_streams = 64;
    cfg->keepalive_interval = 5;
    cfg->keepalive_count = 5;
    cfg->log_level = 3;
    cfg->max_client_queue = 16 * 1024 * 1024;
    /* the system daemon's runners drop root for a dedicated user (issue 7) */
    cfg->runner_user = g_strdup(privileged ? HYVED_DEFAULT_RUNNER_USER : "");
    cfg->kernel_cache = 1;
    cfg->idle_timeout = -1;
    cfg->busy_poll_us = 100;
}

void
hyved_config_clear(HyvedConfig *cfg)
{
    g_clear_pointer(&cfg->unix_sock_group, g_free);
    g_clear_pointer(&cfg->runner_path, g_free);
    g_clear_pointer(&cfg->runner_user, g_free);
}

char *
hyved_config_default_runner_path(void)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *build_prefix = g_strconcat(HYVE_BUILD_ROOT, "/", NULL);

    if (exe && g_str_has_prefix(exe, build_prefix))
        return g_build_filename(HYVE_BUILD_ROOT, "bhyve-runner", "bhyve-runner", NULL);
    return g_build_filename(HYVE_SBINDIR, "bhyve-runner", NULL);
}

/* ---- values ------------------------------------------------------------ */

typedef enum { VAL_INT, VAL_STRING } ValType;

typedef struct {
    ValType type;
    gint64 num;
    char *str;
} Value;

typedef struct {
    const char *file;
    int line;
} Where;

#define CONF_ERR(error, w, ...) \
    conf_error((error), (w), g_strdup_printf(__VA_ARGS__))

static gboolean
conf_error(GError **error, const Where *w, char *msg)
{
    hyve_error_set(error, HYVE_FROM_CONF, HYVE_ERR_CONF_SYNTAX, "%s:%d: %s",
                   w->file, w->line, msg);
    g_free(msg);
    return FALSE;
}

static gboolean
want_int(const Where *w, const char *key, const Value *v, gint64 min, gint64 max,
         gint64 *out, GError **error)
{
    if (v->type != VAL_INT)
        return CONF_ERR(error, w, "'%s' expects an integer, not a string", key);
    if (v->num < min || v->num > max)
        return CONF_ERR(error, w, "'%s' = %" G_GINT64_FORMAT " is out of range [%"
                        G_GINT64_FORMAT "..%" G_GINT64_FORMAT "]", key, v->num, min, max);
    *out = v->num;
    return TRUE;
}

static gboolean
want_string(const Where *w, const char *key, const Value *v, GError **error)
{
    if (v->type != VAL_STRING)
        return CONF_ERR(error, w, "'%s' expects a quoted string", key);
    return TRUE;
}

static gboolean
set_perms(const Where *w, const char *key, const Value *v, guint *out, GError **error)
{
    char *end = NULL;
    guint64 mode;

    if (!want_string(w, key, v, error))
        return FALSE;
    errno = 0;
    mode = g_ascii_strtoull(v->str, &end, 8);
    if (!*v->str || errno || *end || mode > 0777)
        return CONF_ERR(error, w, "'%s' = \"%s\" is not an octal mode like \"0770\"", key, v->str);
    *out = (guint) mode;
    return TRUE;
}

static gboolean
set_auth(const Where *w, const char *key, const Value *v, HyvedAuth *out, GError **error)
{
    if (!want_string(w, key, v, error))
        return FALSE;
    if (g_str_equal(v->str, "none"))
        *out = HYVED_AUTH_NONE;
    else if (g_str_equal(v->str, "polkit"))
        *out = HYVED_AUTH_POLKIT;
    else
        return CONF_ERR(error, w, "'%s' = \"%s\": expected \"none\" or \"polkit\"", key, v->str);
    return TRUE;
}

/* ---- settings ------------------------------------------------------------ */

typedef enum {
    KEY_UINT,       /* guint, an integer in [min, max] */
    KEY_SIZE,       /* gsize, an integer in [min, max] */
    KEY_INT,        /* int, an integer in [min, max] */
    KEY_PERMS,      /* guint, an octal mode string */
    KEY_AUTH,       /* HyvedAuth, "none" or "polkit" */
    KEY_STRING,     /* char *, "" leaves it unset */
    KEY_PATH,       /* char *, an absolute path */
} KeyType;

typedef struct {
    const char *name;
    KeyType type;
    gsize offset;               /* of the field in HyvedConfig */
    gint64 min, max;            /* KEY_UINT, KEY_INT */
    gboolean minus_one_is_off;  /* KEY_INT: -1 turns it off, 0 is refused */
} ConfKey;

/* offsetof() that fails to compile when the field is not of @ctype's size. */
#define CONF_FIELD(field, ctype) \
    (offsetof(HyvedConfig, field) + \
     0 * sizeof(char[sizeof(((HyvedConfig *) NULL)->field) == sizeof(ctype) ? 1 : -1]))
#define CONF_NUM(field, type, ctype, min, max) \
    { #field, type, CONF_FIELD(field, ctype), min, max, FALSE }
#define CONF_STR(field, type, ctype) \
    { #field, type, CONF_FIELD(field, ctype), 0, 0, FALSE }

/* Every setting virtbhyved.conf may hold (documented in that file). */
static const ConfKey conf_keys[] = {
    CONF_STR(unix_sock_group, KEY_STRING, char *),
    CONF_STR(unix_sock_rw_perms, KEY_PERMS, guint),
    CONF_STR(unix_sock_ro_perms, KEY_PERMS, guint),
    CONF_STR(auth_unix_rw, KEY_AUTH, HyvedAuth),
    CONF_STR(auth_unix_ro, KEY_AUTH, HyvedAuth),
    CONF_NUM(max_clients, KEY_UINT, guint, 1, 1000000),
    CONF_NUM(max_anonymous_clients, KEY_UINT, guint, 0, 1000000),
    CONF_NUM(max_workers, KEY_UINT, guint, 1, 1000),
    CONF_NUM(prio_workers, KEY_UINT, guint, 0, 1000),
    CONF_NUM(max_client_requests, KEY_UINT, guint, 1, 10000),
    CONF_NUM(max_client_streams, KEY_UINT, guint, 1, 10000),
    CONF_NUM(max_client_queue, KEY_SIZE, gsize, 4096, G_GINT64_CONSTANT(1) << 30),
    { "keepalive_interval", KEY_INT, CONF_FIELD(keepalive_interval, int), -1, 3600, TRUE },
    CONF_NUM(keepalive_count, KEY_UINT, guint, 0, 1000),
    CONF_STR(runner_path, KEY_PATH, char *),
    CONF_STR(runner_user, KEY_STRING, char *),
    CONF_NUM(kernel_cache, KEY_INT, int, 0, 1),
    CONF_NUM(log_level, KEY_INT, int, 1, 4),
    CONF_NUM(idle_timeout, KEY_INT, int, 0, 31536000),
    CONF_NUM(busy_poll_us, KEY_UINT, guint, 0, 10000),
};

static gboolean
apply(HyvedConfig *cfg, const Where *w, const char *key, const Value *v, GError **error)
{
    const ConfKey *k = NULL;
    gpointer field;
    gint64 n = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(conf_keys) && !k; i++) {
        if (g_str_equal(key, conf_keys[i].name))
            k = &conf_keys[i];
    }
    if (!k)
        return CONF_ERR(error, w, "unknown setting '%s'", key);
    field = G_STRUCT_MEMBER_P(cfg, k->offset);

    switch (k->type) {
    case KEY_UINT:
        if (!want_int(w, key, v, k->min, k->max, &n, error))
            return FALSE;
        *(guint *) field = (guint) n;
        return TRUE;
    case KEY_SIZE:
        if (!want_int(w, key, v, k->min, k->max, &n, error))
            return FALSE;
        *(gsize *) field = (gsize) n;
        return TRUE;
    case KEY_INT:
        if (!want_int(w, key, v, k->min, k->max, &n, error))
            return FALSE;
        if (k->minus_one_is_off && n == 0)
            return CONF_ERR(error, w, "'%s' must be -1 (disabled) or at least 1", key);
        *(int *) field = (int) n;
        return TRUE;
    case KEY_PERMS:
        return set_perms(w, key, v, field, error);
    case KEY_AUTH:
        return set_auth(w, key, v, field, error);
    case KEY_STRING:
        if (!want_string(w, key, v, error))
            return FALSE;
        g_free(*(char **) field);
        *(char **) field = *v->str ? g_strdup(v->str) : NULL;
        return TRUE;
    case KEY_PATH:
        if (!want_string(w, key, v, error))
            return FALSE;
        if (!g_path_is_absolute(v->str))
            return CONF_ERR(error, w, "'%s' = \"%s\" must be an absolute path", key, v->str);
        g_free(*(char **) field);
        *(char **) field = g_strdup(v->str);
        return TRUE;
    }
    g_assert_not_reached();
}

/* ---- lexer --------------------------------------------------------------- */

static const char *
skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static gboolean
parse_value(const Where *w, const char **pp, const char *end, Value *v, GError **error)
{
    const char *p = *pp;

    if (p < end && *p == '"') {
        GString *s = g_string_new(NULL);
        p++;
        while (p < end && *p != '"' && *p != '\n') {
            if (*p == '\\' && p + 1 < end && p[1] != '\n')
                p++;
            g_string_append_c(s, *p++);
        }
        if (p >= end || *p != '"') {
            g_string_free(s, TRUE);
            return CONF_ERR(error, w, "unterminated string");
        }
        p++;
        v->type = VAL_STRING;
        v->str = g_string_free(s, FALSE);
    } else if (p < end && (*p == '-' || g_ascii_isdigit(*p))) {
        const char *start = p;
        g_autofree char *num = NULL;
        char *nend = NULL;

        p++;
        while (p < end && g_ascii_isdigit(*p))
            p++;
        num = g_strndup(start, p - start);
        errno = 0;
        v->num = g_ascii_strtoll(num, &nend, 10);
        if (errno || *nend || g_str_equal(num, "-"))
            return CONF_ERR(error, w, "malformed number '%s'", num);
        v->type = VAL_INT;
    } else if (p < end && *p == '[') {
        return CONF_ERR(error, w, "lists are not supported by any virtbhyved setting");
    } else {
        return CONF_ERR(error, w, "expected a number or a quoted string");
    }
    *pp = p;
    return TRUE;
}

gboolean
hyved_config_parse(HyvedConfig *cfg, const char *filename,
                   const char *data, gsize len, GError **error)
{
    const char *p = data;
    const char *end = data + len;
    Where w = { filename, 0 };

    while (p < end) {
        const char *key_start;
        g_autofree char *key = NULL;
        Value v = { 0 };
        gboolean ok;

        w.line++;
        p = skip_blank(p, end);
        if (p >= end)
            break;
        if (*p == '\n') {
            p++;
            continue;
        }
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            if (p < end)
                p++;
            continue;
        }
        key_start = p;
        while (p < end && (g_ascii_isalnum(*p) || *p == '_'))
            p++;
        if (p == key_start)
            return CONF_ERR(error, &w, "expected a setting name");
        key = g_strndup(key_start, p - key_start);
        p = skip_blank(p, end);
        if (p >= end || *p != '=')
            return CONF_ERR(error, &w, "expected '=' after '%s'", key);
        p = skip_blank(p + 1, end);
        if (!parse_value(&w, &p, end, &v, error))
            return FALSE;
        p = skip_blank(p, end);
        if (p < end && *p == '#') {
            while (p < end && *p != '\n')
                p++;
        }
        if (p < end && *p != '\n') {
            g_free(v.str);
            return CONF_ERR(error, &w, "unexpected text after the value of '%s'", key);
        }
        ok = apply(cfg, &w, key, &v, error);
        g_free(v.str);
        if (!ok)
            return FALSE;
        if (p < end)
            p++;
    }
    return TRUE;
}

gboolean
hyved_config_load(HyvedConfig *cfg, const char *path, gboolean must_exist, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        if (!must_exist && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        hyve_error_set(error, HYVE_FROM_CONF, HYVE_ERR_CONF_SYNTAX,
                       "cannot read %s: %s", path, local->message);
        return FALSE;
    }
    return hyved_config_parse(cfg, path, data, len, error);
}
