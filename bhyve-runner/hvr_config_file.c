/* hvr_config_file.c: value checks shared with the parser (backend specs,
 * MACs); read the configuration from a file or a descriptor; write the exit
 * file (exit.file=PATH) as the runner exits, by path or (in
 * the sandbox, which cannot open anything) through a descriptor opened
 * during setup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hvr_config.h"
#include "hvr_error.h"
#include "hyve/runner-exit.h"

gboolean
hvr_mac_valid(const char *s)
{
    int i;

    if (strlen(s) != 17)
        return FALSE;
    for (i = 0; i < 17; i++) {
        if (i % 3 == 2 ? s[i] != ':' : !g_ascii_isxdigit(s[i]))
            return FALSE;
    }
    return TRUE;
}

gboolean
hvr_backend_spec_valid(const char *spec)
{
    if (g_str_equal(spec, "pty") || g_str_equal(spec, "stdio") ||
        g_str_equal(spec, "null"))
        return TRUE;
    if (g_str_has_prefix(spec, "unix:/") || g_str_has_prefix(spec, "file:/"))
        return TRUE;
    return FALSE;
}

gboolean
hvr_config_load_file(HvrConfig *cfg, const char *path, GError **error)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, error)) {
        g_prefix_error(error, "cannot read configuration: ");
        return FALSE;
    }
    if (!hvr_config_parse(cfg, text, error)) {
        g_prefix_error(error, "%s: ", path);
        return FALSE;
    }
    return TRUE;
}

gboolean
hvr_config_load_fd(HvrConfig *cfg, int fd, GError **error)
{
    g_autoptr(GString) s = g_string_new(NULL);
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            g_set_error(error, HVR_ERROR, HVR_ERROR_READ_FAILED,
                        "cannot read configuration from fd %d: %s", fd, g_strerror(errno));
            return FALSE;
        }
        g_string_append_len(s, buf, n);
    }
    close(fd);
    if (strlen(s->str) != s->len) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX, "configuration contains a NUL byte");
        return FALSE;
    }
    if (!hvr_config_parse(cfg, s->str, error)) {
        g_prefix_error(error, "fd %d: ", fd);
        return FALSE;
    }
    return TRUE;
}

gboolean
hvr_exit_file_write(const char *path, int status, GError **error)
{
    const char *reason = hyve_runner_exit_to_string(status);
    g_autofree char *line = g_strdup_printf("status=%d reason=%s\n", status,
                                            reason ? reason : "error");

    /* CONSISTENT: temporary file in the same directory + rename; DURABLE:
     * fsync before the rename, so a crash never leaves a truncated line. */
    if (!g_file_set_contents_full(path, line, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, error)) {
        g_prefix_error(error, "cannot write the exit file: ");
        return FALSE;
    }
    return TRUE;
}

int
hvr_exit_file_open(const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0)
        g_set_error(error, HVR_ERROR, HVR_ERROR_OPEN_FAILED, "cannot open the exit file %s: %s",
                    path, g_strerror(errno));
    return fd;
}

gboolean
hvr_exit_file_write_fd(int fd, int status, GError **error)
{
    const char *reason = hyve_runner_exit_to_string(status);
    g_autofree char *line = g_strdup_printf("status=%d reason=%s\n", status,
                                            reason ? reason : "error");
    ssize_t n = pwrite(fd, line, strlen(line), 0);

    /* one write of a short line at offset 0 of an empty file: a reader
     * sees nothing or the whole line; then durable */
    if (n != (ssize_t)strlen(line) || fdatasync(fd) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot write the exit file: %s",
                    n >= 0 && n != (ssize_t)strlen(line) ? "short write" : g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}
