/* vmm_cpuid.c: KVM_GET_SUPPORTED_CPUID -> per-vCPU patch -> KVM_SET_CPUID2. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vmm_priv.h"

#define VMM_CPUID_MAX 256

void
vmm_cpuid_patch(struct kvm_cpuid_entry2 *ent, uint32_t nent, int vcpu_id,
                int nvcpus, bool tsc_deadline)
{
    uint32_t i, lp = 1;

    while (lp < (uint32_t)nvcpus)
        lp <<= 1;
    for (i = 0; i < nent; i++) {
        struct kvm_cpuid_entry2 *e = &ent[i];

        switch (e->function) {
        case 0x1:
            e->ebx = (e->ebx & 0x0000FFFFu) | ((uint32_t)vcpu_id << 24) |
                     ((lp & 0xFF) << 16);
            e->ecx |= 1u << 31;                 /* hypervisor present */
            if (tsc_deadline)
                e->ecx |= 1u << 24;
            if (nvcpus > 1)
                e->edx |= 1u << 28;             /* HTT: several logical CPUs */
            else
                e->edx &= ~(1u << 28);
            break;
        case 0x6:
            e->ecx &= ~(1u << 3);               /* no energy-perf bias MSR */
            break;
        case 0xA:
            if ((e->eax & 0xFF) < 2 || ((e->eax >> 8) & 0xFF) == 0)
                e->eax = e->ebx = e->ecx = e->edx = 0;
            break;
        case 0xB:
        case 0x1F:
            e->edx = (uint32_t)vcpu_id;         /* x2APIC ID */
            break;
        default:
            break;
        }
    }
}

int
vmm_vcpu_setup_cpuid(struct vmm_vcpu *v, int nvcpus)
{
    struct kvm_cpuid2 *c;
    int r;

    c = calloc(1, sizeof(*c) + VMM_CPUID_MAX * sizeof(c->entries[0]));
    if (!c)
        return -ENOMEM;
    c->nent = VMM_CPUID_MAX;
    if (ioctl(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
        r = -errno;
        goto out;
    }
    vmm_cpuid_patch(c->entries, c->nent, v->id, nvcpus,
                    ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION,
                          KVM_CAP_TSC_DEADLINE_TIMER) > 0);
    r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
 out:
    free(c);
    return r;
}
