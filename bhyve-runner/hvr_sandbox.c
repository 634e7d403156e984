/* hvr_sandbox.c: mount namespace with an empty root, ids, capabilities,
 * no_new_privs (design note in hvr_sandbox.h; the seccomp filter is in
 * hvr_sandbox_filter.c). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_machine.h"
#include "hvr_sandbox.h"

static gboolean hvr_sandbox_on;

#ifdef HVR_SANITIZE
/* LeakSanitizer's exit-time check needs /proc and ptrace: run it now. */
extern void __lsan_do_leak_check(void) __attribute__((weak));
#endif

gboolean
hvr_sandbox_active(void)
{
    return __atomic_load_n(&hvr_sandbox_on, __ATOMIC_ACQUIRE);
}

static gboolean
hvr_sandbox_fail(GError **error, const char *what)
{
    g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "sandbox: %s: %s", what,
                g_strerror(errno));
    return FALSE;
}

gboolean
hvr_sandbox_check(const HvrConfig *cfg, GError **error)
{
    if (!cfg->sandbox)
        return TRUE;
    /* a switch to root would keep the runner root: leaving the keys out
     * (no switch) is the explicit way to run as the starting user */
    if (cfg->sandbox_uid == 0 || cfg->sandbox_gid == 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "sandbox.uid/sandbox.gid must not be 0 (root): leave them out to keep "
                    "the starting user");
        return FALSE;
    }
    if (geteuid() == 0)
        return TRUE;
    if ((cfg->sandbox_uid >= 0 && cfg->sandbox_uid != (int64_t)getuid()) ||
        (cfg->sandbox_gid >= 0 && cfg->sandbox_gid != (int64_t)getgid())) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "sandbox.uid/sandbox.gid need a runner started as root "
                    "(running as uid %u gid %u)", (unsigned)getuid(), (unsigned)getgid());
        return FALSE;
    }
    return TRUE;
}

static gboolean
hvr_write_proc(const char *path, const char *text, GError **error)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    gboolean ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

    if (!ok) {
        g_autofree char *what = g_strdup_printf("cannot write %s", path);

        if (fd >= 0)
            close(fd);
        return hvr_sandbox_fail(error, what);
    }
    close(fd);
    return TRUE;
}

/* Unprivileged: a user namespace mapping only our own ids, so that the
 * mount namespace below is ours.  FALSE without error: not allowed here. */
static gboolean
hvr_sandbox_userns(gboolean *entered, GError **error)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    g_autofree char *umap = g_strdup_printf("%u %u 1\n", (unsigned)uid, (unsigned)uid);
    g_autofree char *gmap = g_strdup_printf("%u %u 1\n", (unsigned)gid, (unsigned)gid);

    *entered = FALSE;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
        hvr_log("sandbox: no user namespace (%s): the host filesystem stays visible",
                g_strerror(errno));
        return TRUE;
    }
    if (!hvr_write_proc("/proc/self/setgroups", "deny", error) ||
        !hvr_write_proc("/proc/self/uid_map", umap, error) ||
        !hvr_write_proc("/proc/self/gid_map", gmap, error))
        return FALSE;
    *entered = TRUE;
    return TRUE;
}

/* In a fresh mount namespace: an empty tmpfs becomes "/", read-only, and
 * the old root is gone. */
static gboolean
hvr_sandbox_empty_root(GError **error)
{
    static const char *const dirs[] = { "/tmp", "/mnt", "/run", "/var/tmp" };
    const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    guint i;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return hvr_sandbox_fail(error, "cannot make the mount namespace private");
    for (i = 0; i < G_N_ELEMENTS(dirs); i++)
        if (mount("hyve-sandbox", dirs[i], "tmpfs", fl, "size=4k,nr_inodes=8,mode=0555") == 0)
            break;
    if (i == G_N_ELEMENTS(dirs))
        return hvr_sandbox_fail(error, "cannot mount an empty tmpfs");
    if (chdir(dirs[i]) < 0)
        return hvr_sandbox_fail(error, "cannot enter the empty root");
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        /* the old root is now stacked on "."; detach it */
        if (umount2(".", MNT_DETACH) < 0)
            return hvr_sandbox_fail(error, "cannot detach the old root");
    } else if (errno == EINVAL) {
        /* the old root is an initramfs (rootfs cannot be pivoted): move the
         * tmpfs over it and chroot (no capability left to chroot back) */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
            return hvr_sandbox_fail(error, "cannot move the empty root over /");
    } else {
        return hvr_sandbox_fail(error, "pivot_root");
    }
    if (chdir("/") < 0)
        return hvr_sandbox_fail(error, "chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | fl, NULL) < 0)
        return hvr_sandbox_fail(error, "cannot make the empty root read-only");
    return TRUE;
}

static gboolean
hvr_sandbox_ids(const HvrConfig *cfg, GError **error)
{
    if (cfg->sandbox_uid < 0 && cfg->sandbox_gid < 0)
        return TRUE;
    if (geteuid() != 0)
        return TRUE;        /* hvr_sandbox_check(): they are our own ids */
    if (setgroups(0, NULL) < 0)
        return hvr_sandbox_fail(error, "setgroups");
    if (cfg->sandbox_gid >= 0) {
        gid_t g = (gid_t)cfg->sandbox_gid;

        if (setresgid(g, g, g) < 0)
            return hvr_sandbox_fail(error, "setresgid");
    }
    if (cfg->sandbox_uid >= 0) {
        uid_t u = (uid_t)cfg->sandbox_uid;

        if (setresuid(u, u, u) < 0)
            return hvr_sandbox_fail(error, "setresuid");
    }
    return TRUE;
}

/* Empty the bounding set (needs CAP_SETPCAP, so before the uid switch). */
static void
hvr_sandbox_drop_bounding(void)
{
    int c;

    for (c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EPERM)
            break;
}

static gboolean
hvr_sandbox_drop_caps(GError **error)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (syscall(SYS_capset, &hdr, data) < 0)
        return hvr_sandbox_fail(error, "cannot drop capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return hvr_sandbox_fail(error, "PR_SET_NO_NEW_PRIVS");
    return TRUE;
}

/* Things the C library and GLib load lazily from files: g_strerror()
 * converts each message to UTF-8 once (iconv opens gconv-modules.cache),
 * so fill its cache for every errno while files can still be opened. */
static void
hvr_sandbox_warm_up(void)
{
    /* g_strerror() is declared G_GNUC_CONST: keep the calls */
    const char *volatile sink;
    int e;

    for (e = 1; e < 134; e++)
        sink = g_strerror(e);
    (void)sink;
}

gboolean
hvr_sandbox_enter(const HvrConfig *cfg, int exit_fd, GError **error)
{
    gboolean mountns = TRUE;

    if (!hvr_sandbox_check(cfg, error))
        return FALSE;
#ifdef HVR_SANITIZE
    if (__lsan_do_leak_check)
        __lsan_do_leak_check();
#endif
    if (geteuid() == 0) {
        if (unshare(CLONE_NEWNS) < 0)
            return hvr_sandbox_fail(error, "cannot create a mount namespace");
    } else if (!hvr_sandbox_userns(&mountns, error)) {
        return FALSE;
    }
    if (mountns && !hvr_sandbox_empty_root(error))
        return FALSE;
    hvr_sandbox_drop_bounding();
    if (!hvr_sandbox_ids(cfg, error) || !hvr_sandbox_drop_caps(error))
        return FALSE;
    hvr_sandbox_warm_up();
    if (!hvr_sandbox_filter_load(exit_fd, error))
        return FALSE;
    __atomic_store_n(&hvr_sandbox_on, TRUE, __ATOMIC_RELEASE);
    hvr_log("sandbox: entered (%s root, uid %u gid %u, no capabilities, seccomp filter)",
            mountns ? "empty" : "host", (unsigned)getuid(), (unsigned)getgid());
    return TRUE;
}
