/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_capabilities.c: libvirt's domain capabilities XML, what a
 * bhyve domain may contain. This is the one place that describes what the
 * runner can do; keep it in step with the definition checks in
 * hyve_domain_validate.c.
 *
 * The element order follows libvirt 9.0's domaincaps.rng (tests/unit/host
 * validates the output against the installed schema).
 */
#include "hyve-config.h"

#include "hyve_host_priv.h"

/* libvirt 9.0 virArch names: any of these is a known but unsupported
 * architecture (NO_SUPPORT), anything else is unknown (INVALID_ARG). */
static const char *const hyve_caps_libvirt_archs[] = {
    "alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64",
    "lm32", "m68k", "microblaze", "microblazeel", "mips", "mipsel", "mips64",
    "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle", "ppc64",
    "ppc64le", "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb",
    "sparc", "sparc64", "unicore32", "x86_64", "xtensa", "xtensaeb", NULL,
};

static gboolean
hyve_caps_check_domcaps_args(const char *emulator, const char *arch,
                             const char *machine, const char *virttype,
                             guint flags, GError **error)
{
    if (flags != 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function bhyveConnectGetDomainCapabilities",
                       flags);
        return FALSE;
    }
    if (virttype && g_ascii_strcasecmp(virttype, HYVE_CAPS_VIRTTYPE) != 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unknown virttype: %s", virttype);
        return FALSE;
    }
    if (arch && !g_strv_contains(hyve_caps_libvirt_archs, arch)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unknown architecture: %s", arch);
        return FALSE;
    }
    if (arch && !g_str_equal(arch, HYVE_CAPS_ARCH)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_SUPPORT,
                       "unsupported architecture: %s", arch);
        return FALSE;
    }
    if (emulator && !g_str_equal(emulator, HYVE_EMULATOR_PATH)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "emulator '%s' is not supported, use '%s'",
                       emulator, HYVE_EMULATOR_PATH);
        return FALSE;
    }
    if (machine && !g_str_equal(machine, HYVE_CAPS_MACHINE)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "the machine '%s' is not supported by emulator '%s'",
                       machine, HYVE_EMULATOR_PATH);
        return FALSE;
    }
    return TRUE;
}

char *
hyve_host_domain_capabilities_xml(const char *emulator, const char *arch,
                                  const char *machine, const char *virttype,
                                  guint flags, GError **error)
{
    int max_vcpus;

    if (!hyve_caps_check_domcaps_args(emulator, arch, machine, virttype, flags, error))
        return NULL;
    if ((max_vcpus = hyve_host_max_vcpus(NULL, error)) < 0)
        return NULL;

    return g_strdup_printf(
        "<domainCapabilities>\n"
        "  <path>" HYVE_EMULATOR_PATH "</path>\n"
        "  <domain>" HYVE_CAPS_VIRTTYPE "</domain>\n"
        "  <machine>" HYVE_CAPS_MACHINE "</machine>\n"
        "  <arch>" HYVE_CAPS_ARCH "</arch>\n"
        "  <vcpu max='%d'/>\n"
        "  <iothreads supported='no'/>\n"
        "  <os supported='yes'>\n"
        "    <enum name='firmware'/>\n"
        "    <loader supported='no'/>\n"
        "  </os>\n"
        "  <cpu>\n"
        "    <mode name='host-passthrough' supported='yes'>\n"
        "      <enum name='hostPassthroughMigratable'>\n"
        "        <value>off</value>\n"
        "      </enum>\n"
        "    </mode>\n"
        "    <mode name='maximum' supported='no'/>\n"
        "    <mode name='host-model' supported='no'/>\n"
        "    <mode name='custom' supported='no'/>\n"
        "  </cpu>\n"
        "  <devices>\n"
        "    <disk supported='yes'>\n"
        "      <enum name='diskDevice'>\n"
        "        <value>disk</value>\n"
        "      </enum>\n"
        "      <enum name='bus'>\n"
        "        <value>virtio</value>\n"
        "      </enum>\n"
        "    </disk>\n"
        "    <graphics supported='no'/>\n"
        "    <video supported='no'/>\n"
        "    <hostdev supported='no'/>\n"
        "    <rng supported='yes'>\n"
        "      <enum name='model'>\n"
        "        <value>virtio</value>\n"
        "      </enum>\n"
        "      <enum name='backendModel'>\n"
        "        <value>random</value>\n"
        "      </enum>\n"
        "    </rng>\n"
        "    <filesystem supported='no'/>\n"
        "    <tpm supported='no'/>\n"
        "    <redirdev supported='no'/>\n"
        "    <channel supported='no'/>\n"
        "  </devices>\n"
        "  <features>\n"
        "    <gic supported='no'/>\n"
        "    <vmcoreinfo supported='no'/>\n"
        "    <genid supported='no'/>\n"
        "    <backingStoreInput supported='no'/>\n"
        "    <backup supported='no'/>\n"
        "    <sev supported='no'/>\n"
        "    <sgx supported='no'/>\n"
        "    <hyperv supported='no'/>\n"
        "  </features>\n"
        "</domainCapabilities>\n", max_vcpus);
}
