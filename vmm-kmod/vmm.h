/*
 * vmm.h: hyve's KVM access library (libvmmapi shape).
 *
 * Design note
 * -----------
 * This is the ONLY code in hyve that issues KVM ioctls.  It plays the part of
 * FreeBSD's libvmmapi for a KVM host: opaque handles (struct vmm_vm for one
 * virtual machine, struct vmm_vcpu for one virtual CPU), every function returns
 * 0 (or a non-negative value) on success and -errno on failure, nothing is
 * printed, no GLib.
 *
 * Ownership: vmm_create() returns a VM that owns its /dev/kvm, VM and vCPU file
 * descriptors; vmm_destroy() closes them all (a KVM VM dies with its last fd).
 * Guest memory is owned by the caller: vmm_set_memory() only registers a host
 * mapping as a KVM user memory slot; the caller must keep it mapped until the
 * VM is destroyed.
 *
 * Thread-safety contract:
 *  - VM-wide calls (memory slots, irqchip, GSI routing, irqfd, ioeventfd,
 *    irq line, MSI) may be called from any thread; KVM serialises them in the
 *    kernel.  vmm_set_msi_route() keeps a routing table in the vmm_vm and
 *    guards it with an internal mutex, so it may also be called concurrently.
 *  - A struct vmm_vcpu belongs to ONE thread (its vCPU thread) for
 *    vmm_vcpu_run() and the register accessors; the only call another thread
 *    may make on it is vmm_vcpu_kick() (and vmm_vcpu_get_stats()).
 *  - vmm_destroy() must only be called after every vCPU thread has stopped.
 *
 * CPUID decision: the hypervisor leaves 0x40000000.. keep KVM's own
 * "KVMKVMKVM" signature: the guest kernel then enables kvmclock, PV EOI,
 * PV IPIs/spinlocks and no_timer_check, which are all provided by KVM itself,
 * not by hyve; announcing "hyve" there would switch them off.
 */
#ifndef HYVE_VMM_H
#define HYVE_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct vmm_vm;
struct vmm_vcpu;

/* --- capability probe ---------------------------------------------------- */

enum vmm_probe_result {
    VMM_PROBE_OK = 0,
    VMM_PROBE_NO_DEVICE,        /* /dev/kvm does not exist */
    VMM_PROBE_NO_PERMISSION,    /* exists, cannot be opened read-write */
    VMM_PROBE_EMULATED,         /* kvm_pvm loaded or no vmx/svm CPU flag */
    VMM_PROBE_BAD_API,          /* KVM_GET_API_VERSION != 12 or caps missing */
    VMM_PROBE_LAST
};

/* Probe the host.  Returns the result; when @reason is not NULL it receives a
 * static English sentence describing it. */
enum vmm_probe_result vmm_probe(const char **reason);
/* Same, with an alternative device node, /proc/cpuinfo and /sys/module roots
 * (for tests); NULL means the default path. */
enum vmm_probe_result vmm_probe_paths(const char *dev, const char *cpuinfo,
                                      const char *sysmodule, const char **reason);
const char *vmm_probe_result_string(enum vmm_probe_result r);

/* --- VM ------------------------------------------------------------------- */

#define VMM_TSS_ADDR          0xFFFBD000ULL
#define VMM_IDENTITY_MAP_ADDR 0xFFFBC000ULL

/* Open /dev/kvm, create the VM, set TSS + identity map addresses.
 * @name is informational (kept for error contexts of callers). */
int vmm_create(const char *name, struct vmm_vm **out);
/* Same with an explicit device node (tests). */
int vmm_create_dev(const char *devpath, const char *name, struct vmm_vm **out);
void vmm_destroy(struct vmm_vm *vm);
const char *vmm_name(const struct vmm_vm *vm);
int vmm_check_extension(struct vmm_vm *vm, long cap);   /* >= 0 value */

/* Register [gpa, gpa+len) backed by host memory @host as slot @slot. len 0
 * deletes the slot. */
int vmm_set_memory(struct vmm_vm *vm, uint32_t slot, uint64_t gpa,
                   uint64_t len, void *host);

/* KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2 (speaker dummy) and the default GSI
 * routing table (GSI 0 -> IOAPIC pin 2, 1..23 -> pin n, 0..15 -> PICs).
 * Must be called before any vCPU exists. */
int vmm_create_irqchip(struct vmm_vm *vm);
/* Set a GSI line level (KVM_IRQ_LINE). */
int vmm_irq_line(struct vmm_vm *vm, uint32_t gsi, int level);
/* Deliver one MSI directly (KVM_SIGNAL_MSI).  Returns >0 delivered,
 * 0 blocked by the guest, -errno. */
int vmm_signal_msi(struct vmm_vm *vm, uint32_t addr_lo, uint32_t addr_hi,
                   uint32_t data);
/* Allocate a GSI (>= 24) for an MSI route; returns the GSI or -errno. */
int vmm_msi_route_alloc(struct vmm_vm *vm);
/* (Re)program the MSI route of a GSI from vmm_msi_route_alloc() and push
 * the whole routing table to KVM. */
int vmm_set_msi_route(struct vmm_vm *vm, uint32_t gsi, uint32_t addr_lo,
                      uint32_t addr_hi, uint32_t data);
/* Attach/detach an eventfd to a GSI (KVM_IRQFD). */
int vmm_irqfd(struct vmm_vm *vm, int fd, uint32_t gsi, bool assign);
/* Guest write to @addr (MMIO, or port when @pio) of @len bytes signals @fd.
 * @datamatch < 0 means any value. */
int vmm_ioeventfd(struct vmm_vm *vm, int fd, uint64_t addr, uint32_t len,
                  bool pio, int64_t datamatch, bool assign);

/* --- vCPU ----------------------------------------------------------------- */

int vmm_vcpu_create(struct vmm_vm *vm, int id, struct vmm_vcpu **out);
/* Only when the VM is being destroyed, after the thread stopped. */
void vmm_vcpu_close(struct vmm_vcpu *vcpu);
int vmm_vcpu_id(const struct vmm_vcpu *vcpu);
/* The mmap'ed shared run structure (valid until vmm_vcpu_close()). */
struct kvm_run *vmm_vcpu_run_struct(struct vmm_vcpu *vcpu);

/* One KVM_RUN.  Returns 0 and leaves the exit in vmm_vcpu_run_struct(),
 * -EINTR when kicked / interrupted by a signal (immediate_exit is cleared
 * again), or another -errno. */
int vmm_vcpu_run(struct vmm_vcpu *vcpu);
/* Ask a vCPU to leave KVM_RUN: sets immediate_exit; the caller then sends
 * its thread a signal with a no-op handler (vmm does not own threads).
 * Safe from any thread. */
void vmm_vcpu_kick(struct vmm_vcpu *vcpu);

int vmm_vcpu_get_regs(struct vmm_vcpu *vcpu, struct kvm_regs *regs);
int vmm_vcpu_set_regs(struct vmm_vcpu *vcpu, const struct kvm_regs *regs);
int vmm_vcpu_get_sregs(struct vmm_vcpu *vcpu, struct kvm_sregs *sregs);
int vmm_vcpu_set_sregs(struct vmm_vcpu *vcpu, const struct kvm_sregs *sregs);
int vmm_vcpu_get_fpu(struct vmm_vcpu *vcpu, struct kvm_fpu *fpu);
int vmm_vcpu_set_fpu(struct vmm_vcpu *vcpu, const struct kvm_fpu *fpu);
int vmm_vcpu_get_lapic(struct vmm_vcpu *vcpu, struct kvm_lapic_state *lapic);
int vmm_vcpu_set_lapic(struct vmm_vcpu *vcpu, const struct kvm_lapic_state *lapic);
int vmm_vcpu_get_mp_state(struct vmm_vcpu *vcpu, uint32_t *state);
int vmm_vcpu_set_mp_state(struct vmm_vcpu *vcpu, uint32_t state);
/* Set one MSR; returns 0 or -EINVAL when KVM refused it. */
int vmm_vcpu_set_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t value);
int vmm_vcpu_get_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t *value);
/* Default boot MSRs (SYSENTER/STAR/LSTAR/.. = 0, MISC_ENABLE fast strings,
 * MTRRdefType WB). */
int vmm_vcpu_set_boot_msrs(struct vmm_vcpu *vcpu);
/* LINT0 = ExtINT, LINT1 = NMI (virtual wire). */
int vmm_vcpu_setup_lapic_lint(struct vmm_vcpu *vcpu);

/* CPUID: supported -> patched for this vCPU (APIC ID = vCPU id, hypervisor
 * bit, TSC deadline when available, topology of @nvcpus) -> KVM_SET_CPUID2. */
int vmm_vcpu_setup_cpuid(struct vmm_vcpu *vcpu, int nvcpus);
/* Pure patch step (exported for unit tests). */
void vmm_cpuid_patch(struct kvm_cpuid_entry2 *ent, uint32_t nent, int vcpu_id,
                     int nvcpus, bool tsc_deadline);

#endif /* HYVE_VMM_H */
