/* vmm_probe.c: can this host run hyve guests at hardware speed? */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_priv.h"

static const char *const vmm_probe_reasons[VMM_PROBE_LAST] = {
    [VMM_PROBE_OK] = "hardware-assisted KVM is available",
    [VMM_PROBE_NO_DEVICE] = "/dev/kvm does not exist (load kvm_intel or kvm_amd)",
    [VMM_PROBE_NO_PERMISSION] = "/dev/kvm cannot be opened read-write (add the user to group kvm)",
    [VMM_PROBE_EMULATED] = "/dev/kvm is backed by emulated virtualization (kvm_pvm or no vmx/svm CPU flag)",
    [VMM_PROBE_BAD_API] = "/dev/kvm speaks an unsupported KVM API or lacks a required capability",
};

const char *
vmm_probe_result_string(enum vmm_probe_result r)
{
    if ((unsigned)r >= VMM_PROBE_LAST)
        return "unknown";
    return vmm_probe_reasons[r];
}

static bool
vmm_cpuinfo_has_hwvirt(const char *path)
{
    char line[8192];
    FILE *f = fopen(path, "re");
    bool found = false;

    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *tok, *save = NULL;

        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (tok = strtok_r(strchr(line, ':') ? strchr(line, ':') + 1 : line,
                            " \t\n", &save);
             tok; tok = strtok_r(NULL, " \t\n", &save)) {
            if (strcmp(tok, "vmx") == 0 || strcmp(tok, "svm") == 0) {
                found = true;
                break;
            }
        }
        break;  /* the first CPU is representative */
    }
    fclose(f);
    return found;
}

enum vmm_probe_result
vmm_probe_paths(const char *dev, const char *cpuinfo, const char *sysmodule,
                const char **reason)
{
    enum vmm_probe_result res;
    char path[512];
    struct stat st;
    int fd;

    dev = dev ? dev : "/dev/kvm";
    cpuinfo = cpuinfo ? cpuinfo : "/proc/cpuinfo";
    sysmodule = sysmodule ? sysmodule : "/sys/module";

    if (stat(dev, &st) < 0) {
        res = VMM_PROBE_NO_DEVICE;
        goto out;
    }
    fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        res = (errno == EACCES || errno == EPERM) ? VMM_PROBE_NO_PERMISSION
                                                  : VMM_PROBE_NO_DEVICE;
        goto out;
    }
    if (S_ISCHR(st.st_mode) &&
        (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION ||
         ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
         ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)) {
        close(fd);
        res = VMM_PROBE_BAD_API;
        goto out;
    }
    close(fd);
    snprintf(path, sizeof(path), "%s/kvm_pvm", sysmodule);
    if (access(path, F_OK) == 0 || !vmm_cpuinfo_has_hwvirt(cpuinfo)) {
        res = VMM_PROBE_EMULATED;
        goto out;
    }
    res = VMM_PROBE_OK;
 out:
    if (reason)
        *reason = vmm_probe_result_string(res);
    return res;
}

enum vmm_probe_result
vmm_probe(const char **reason)
{
    return vmm_probe_paths(NULL, NULL, NULL, reason);
}
