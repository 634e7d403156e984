/* test_vmm.c: vmm-kmod pure logic: CPUID patching and the host probe with
 * fake device / cpuinfo / sysfs module trees; plus VM creation on this
 * host's /dev/kvm when it can be opened. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm.h"

#include "test_common.h"

START_TEST(test_cpuid_patch)
{
    struct kvm_cpuid_entry2 e[5];
    static const int ids[] = { 0, 1, 5 };
    unsigned k;

    for (k = 0; k < G_N_ELEMENTS(ids); k++) {
        memset(e, 0, sizeof(e));
        e[0].function = 1;
        e[0].ebx = 0xFF00ABCD;
        e[0].ecx = 0;
        e[0].edx = 1u << 28;
        e[1].function = 0xB; e[1].index = 0; e[1].edx = 7;
        e[2].function = 0xB; e[2].index = 1; e[2].edx = 7;
        e[3].function = 6; e[3].ecx = 0xF;
        e[4].function = 0x40000000; e[4].ebx = 0x4B4D564B;
        vmm_cpuid_patch(e, 5, ids[k], ids[k] == 0 ? 1 : 6, true);
        ck_assert_msg(e[0].ebx >> 24 == (unsigned)ids[k], "id %d: APIC id in leaf 1", ids[k]);
        ck_assert_msg((e[0].ebx & 0xFFFF) == 0xABCD, "id %d: leaf 1 EBX low bits kept", ids[k]);
        ck_assert_msg(((e[0].ebx >> 16) & 0xFF) == (ids[k] == 0 ? 1u : 8u), "id %d: logical count", ids[k]);
        ck_assert_msg(e[0].ecx & (1u << 31), "id %d: hypervisor bit", ids[k]);
        ck_assert_msg(e[0].ecx & (1u << 24), "id %d: TSC deadline", ids[k]);
        ck_assert_msg(!!(e[0].edx & (1u << 28)) == (ids[k] != 0), "id %d: HTT", ids[k]);
        ck_assert_msg(e[1].edx == (unsigned)ids[k] && e[2].edx == (unsigned)ids[k], "id %d: x2APIC id", ids[k]);
        ck_assert_msg(e[3].ecx == 0x7, "id %d: EPB cleared", ids[k]);
        ck_assert_msg(e[4].ebx == 0x4B4D564B, "id %d: KVM signature kept", ids[k]);
    }
}
END_TEST

static const struct {
    const char *name;
    bool dev_exists;
    const char *flags;
    bool pvm;
    enum vmm_probe_result want;
} probes[] = {
    { "no-device", false, "fpu vmx sse", false, VMM_PROBE_NO_DEVICE },
    { "vmx", true, "fpu vme vmx sse", false, VMM_PROBE_OK },
    { "svm", true, "fpu svm", false, VMM_PROBE_OK },
    { "no-flag", true, "fpu sse hypervisor", false, VMM_PROBE_EMULATED },
    { "pvm-module", true, "fpu vmx", true, VMM_PROBE_EMULATED },
    { "vmx-substring", true, "fpu vmxfoo avx", false, VMM_PROBE_EMULATED },
};

START_TEST(test_probe)
{
    g_autofree char *dir = g_dir_make_tmp("hyve-probe-XXXXXX", NULL);
    g_autofree char *dev = g_build_filename(dir, "kvm", NULL);
    g_autofree char *cpuinfo = g_build_filename(dir, "cpuinfo", NULL);
    g_autofree char *mods = g_build_filename(dir, "module", NULL);
    g_autofree char *pvm = g_build_filename(mods, "kvm_pvm", NULL);
    g_autofree char *text = g_strdup_printf("processor\t: 0\nflags\t\t: %s\n\n", probes[_i].flags);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);
    const char *reason = NULL;
    enum vmm_probe_result r;

    g_mkdir_with_parents(mods, 0700);
    if (probes[_i].pvm)
        g_mkdir(pvm, 0700);
    if (probes[_i].dev_exists)
        ck_assert(g_file_set_contents(dev, "", 0, NULL));
    ck_assert(g_file_set_contents(cpuinfo, text, -1, NULL));
    r = vmm_probe_paths(dev, cpuinfo, mods, &reason);
    ck_assert_msg(r == probes[_i].want, "%s: result %d (%s)", probes[_i].name, r, reason);
    ck_assert_msg(reason && g_str_equal(reason, vmm_probe_result_string(r)), "%s: reason", probes[_i].name);
    (void)!system(rm);
}
END_TEST

/* On a host with a usable /dev/kvm (hardware or emulated): the VM-wide and
 * vCPU calls succeed and the MP states are as documented. */
START_TEST(test_vm)
{
    struct vmm_vm *vm = NULL;
    struct vmm_vcpu *v0 = NULL, *v1 = NULL;
    uint32_t st = 99;
    uint64_t val = 0;
    void *ram;
    int r, gsi;

    if (vmm_probe(NULL) == VMM_PROBE_NO_DEVICE || vmm_probe(NULL) == VMM_PROBE_NO_PERMISSION)
        return;
    ck_assert_int_eq(vmm_create("unit", &vm), 0);
    ck_assert_str_eq(vmm_name(vm), "unit");
    ck_assert_int_eq(vmm_create_irqchip(vm), 0);
    ram = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_int_eq(vmm_set_memory(vm, 0, 0, 2 << 20, ram), 0);
    ck_assert_int_eq(vmm_set_memory(vm, 1, 0x1001, 4096, ram), -EINVAL);
    ck_assert_int_eq(vmm_vcpu_create(vm, 0, &v0), 0);
    ck_assert_int_eq(vmm_vcpu_create(vm, 1, &v1), 0);
    ck_assert_int_eq(vmm_vcpu_setup_cpuid(v0, 2), 0);
    ck_assert_int_eq(vmm_vcpu_set_boot_msrs(v0), 0);
    ck_assert_int_eq(vmm_vcpu_get_msr(v0, 0x1A0, &val), 0);
    ck_assert_uint_eq(val & 1, 1);
    ck_assert_int_eq(vmm_vcpu_setup_lapic_lint(v0), 0);
    ck_assert_int_eq(vmm_vcpu_get_mp_state(v0, &st), 0);
    ck_assert_uint_eq(st, KVM_MP_STATE_RUNNABLE);
    ck_assert_int_eq(vmm_vcpu_get_mp_state(v1, &st), 0);
    ck_assert_uint_eq(st, KVM_MP_STATE_UNINITIALIZED);
    ck_assert_int_eq(vmm_irq_line(vm, 4, 1), 0);
    ck_assert_int_eq(vmm_irq_line(vm, 4, 0), 0);
    gsi = vmm_msi_route_alloc(vm);
    ck_assert_int_ge(gsi, 24);
    r = vmm_set_msi_route(vm, gsi, 0xFEE00000, 0, 0x41);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(vmm_set_msi_route(vm, 7, 0xFEE00000, 0, 0x41), -ENOENT);
    vmm_vcpu_kick(v0);
    ck_assert_int_eq(vmm_vcpu_run(v0), -EINTR);     /* immediate_exit */
    ck_assert_uint_eq(vmm_vcpu_run_struct(v0)->immediate_exit, 0);
    vmm_vcpu_close(v0);
    vmm_vcpu_close(v1);
    vmm_destroy(vm);
    munmap(ram, 2 << 20);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("vmm");
    TCase *tc = tcase_create("vmm");

    tcase_add_test(tc, test_cpuid_patch);
    tcase_add_loop_test(tc, test_probe, 0, G_N_ELEMENTS(probes));
    tcase_add_test(tc, test_vm);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
