/* vmm_vcpu.c: vCPUs, the shared kvm_run page, register state, MSRs, LAPIC. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm_priv.h"

#define VMM_IOCTL(fd, req, arg) (ioctl((fd), (req), (arg)) < 0 ? -errno : 0)

int
vmm_vcpu_create(struct vmm_vm *vm, int id, struct vmm_vcpu **out)
{
    struct vmm_vcpu *v;
    void *run;
    int r;

    *out = NULL;
    v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->vm = vm;
    v->id = id;
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0) {
        r = -errno;
        free(v);
        return r;
    }
    run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (run == MAP_FAILED) {
        r = -errno;
        close(v->fd);
        free(v);
        return r;
    }
    v->run = run;
    *out = v;
    return 0;
}

void
vmm_vcpu_close(struct vmm_vcpu *vcpu)
{
    if (!vcpu)
        return;
    munmap(vcpu->run, vcpu->vm->run_size);
    close(vcpu->fd);
    free(vcpu);
}

int
vmm_vcpu_id(const struct vmm_vcpu *vcpu)
{
    return vcpu->id;
}

struct kvm_run *
vmm_vcpu_run_struct(struct vmm_vcpu *vcpu)
{
    return vcpu->run;
}

int
vmm_vcpu_run(struct vmm_vcpu *vcpu)
{
    int r = ioctl(vcpu->fd, KVM_RUN, 0);

    if (r < 0) {
        r = -errno;
        if (r == -EINTR)
            __atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        return r;
    }
    return 0;
}

void
vmm_vcpu_kick(struct vmm_vcpu *vcpu)
{
    __atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

int vmm_vcpu_get_regs(struct vmm_vcpu *v, struct kvm_regs *r) { return VMM_IOCTL(v->fd, KVM_GET_REGS, r); }
int vmm_vcpu_set_regs(struct vmm_vcpu *v, const struct kvm_regs *r) { return VMM_IOCTL(v->fd, KVM_SET_REGS, r); }
int vmm_vcpu_get_sregs(struct vmm_vcpu *v, struct kvm_sregs *r) { return VMM_IOCTL(v->fd, KVM_GET_SREGS, r); }
int vmm_vcpu_set_sregs(struct vmm_vcpu *v, const struct kvm_sregs *r) { return VMM_IOCTL(v->fd, KVM_SET_SREGS, r); }
int vmm_vcpu_get_fpu(struct vmm_vcpu *v, struct kvm_fpu *f) { return VMM_IOCTL(v->fd, KVM_GET_FPU, f); }
int vmm_vcpu_set_fpu(struct vmm_vcpu *v, const struct kvm_fpu *f) { return VMM_IOCTL(v->fd, KVM_SET_FPU, f); }
int vmm_vcpu_get_lapic(struct vmm_vcpu *v, struct kvm_lapic_state *l) { return VMM_IOCTL(v->fd, KVM_GET_LAPIC, l); }
int vmm_vcpu_set_lapic(struct vmm_vcpu *v, const struct kvm_lapic_state *l) { return VMM_IOCTL(v->fd, KVM_SET_LAPIC, l); }

int
vmm_vcpu_get_mp_state(struct vmm_vcpu *v, uint32_t *state)
{
    struct kvm_mp_state mp;
    int r = VMM_IOCTL(v->fd, KVM_GET_MP_STATE, &mp);

    if (r == 0)
        *state = mp.mp_state;
    return r;
}

int
vmm_vcpu_set_mp_state(struct vmm_vcpu *v, uint32_t state)
{
    struct kvm_mp_state mp = { .mp_state = state };

    return VMM_IOCTL(v->fd, KVM_SET_MP_STATE, &mp);
}

struct vmm_msr1 {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[1];
};

int
vmm_vcpu_set_msr(struct vmm_vcpu *v, uint32_t index, uint64_t value)
{
    struct vmm_msr1 m = { .hdr.nmsrs = 1, .e[0] = { .index = index, .data = value } };
    int r = ioctl(v->fd, KVM_SET_MSRS, &m);

    if (r < 0)
        return -errno;
    return r == 1 ? 0 : -EINVAL;
}

int
vmm_vcpu_get_msr(struct vmm_vcpu *v, uint32_t index, uint64_t *value)
{
    struct vmm_msr1 m = { .hdr.nmsrs = 1, .e[0] = { .index = index } };
    int r = ioctl(v->fd, KVM_GET_MSRS, &m);

    if (r < 0)
        return -errno;
    if (r != 1)
        return -EINVAL;
    *value = m.e[0].data;
    return 0;
}

int
vmm_vcpu_set_boot_msrs(struct vmm_vcpu *v)
{
    static const struct { uint32_t idx; uint64_t val; } boot[] = {
        { 0x174, 0 }, { 0x175, 0 }, { 0x176, 0 },          /* SYSENTER_* */
        { 0xC0000081, 0 }, { 0xC0000082, 0 },              /* STAR, LSTAR */
        { 0xC0000083, 0 }, { 0xC0000084, 0 },              /* CSTAR, SFMASK */
        { 0xC0000102, 0 },                                 /* KERNEL_GS_BASE */
        { 0x10, 0 },                                       /* TSC */
        { 0x1A0, 1 },                                      /* MISC_ENABLE */
        { 0x2FF, 0x806 },                                  /* MTRRdefType */
    };
    size_t i;
    int r;

    for (i = 0; i < sizeof(boot) / sizeof(boot[0]); i++) {
        r = vmm_vcpu_set_msr(v, boot[i].idx, boot[i].val);
        /* MSRs that this KVM does not know are not fatal for the boot path
         * except the syscall ones, which every x86-64 KVM has. */
        if (r < 0 && boot[i].idx >= 0xC0000000)
            return r;
    }
    return 0;
}

int
vmm_vcpu_setup_lapic_lint(struct vmm_vcpu *v)
{
    struct kvm_lapic_state la;
    uint32_t lint0, lint1;
    int r;

    if ((r = vmm_vcpu_get_lapic(v, &la)) < 0)
        return r;
    memcpy(&lint0, &la.regs[0x350], 4);
    memcpy(&lint1, &la.regs[0x360], 4);
    lint0 = (lint0 & ~0x700u) | (7u << 8);   /* ExtINT */
    lint1 = (lint1 & ~0x700u) | (4u << 8);   /* NMI */
    memcpy(&la.regs[0x350], &lint0, 4);
    memcpy(&la.regs[0x360], &lint1, 4);
    return vmm_vcpu_set_lapic(v, &la);
}
