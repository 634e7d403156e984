/* hvr_vcpu.c: vCPU setup and the KVM_RUN loop with exit dispatch. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "hvr_error.h"
#include "hvr_loader.h"
#include "hvr_machine.h"
#include "hyve/runner-exit.h"

#define HVR_KICK_SIGNAL SIGUSR1

gboolean
hvr_vcpu_setup(HvrMachine *m, HvrVcpu *v, GError **error)
{
    int r;

    if ((r = vmm_vcpu_create(m->vm, v->id, &v->vcpu)) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot create vCPU %d: %s",
                    v->id, g_strerror(-r));
        return FALSE;
    }
    if ((r = vmm_vcpu_setup_cpuid(v->vcpu, m->ncpus)) < 0 ||
        (r = vmm_vcpu_set_boot_msrs(v->vcpu)) < 0 ||
        (r = vmm_vcpu_setup_lapic_lint(v->vcpu)) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot set up vCPU %d: %s",
                    v->id, g_strerror(-r));
        return FALSE;
    }
    if (v->id == 0) {
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_fpu fpu;

        if ((r = vmm_vcpu_get_sregs(v->vcpu, &sregs)) < 0)
            goto fail;
        hvr_loader_bsp_state(&regs, &sregs, &fpu);
        if ((r = vmm_vcpu_set_sregs(v->vcpu, &sregs)) < 0 ||
            (r = vmm_vcpu_set_regs(v->vcpu, &regs)) < 0 ||
            (r = vmm_vcpu_set_fpu(v->vcpu, &fpu)) < 0)
            goto fail;
    }
    return TRUE;
 fail:
    g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                "cannot set the boot register state of vCPU 0: %s", g_strerror(-r));
    return FALSE;
}

static void
hvr_vcpu_signal_noop(int sig)
{
}

void
hvr_vcpu_kick(HvrVcpu *v)
{
    gboolean started;

    vmm_vcpu_kick(v->vcpu);
    g_mutex_lock(&v->m->lock);
    started = v->started;
    g_mutex_unlock(&v->m->lock);
    if (started)
        pthread_kill(v->tid, HVR_KICK_SIGNAL);
}

static void
hvr_vcpu_io(HvrVcpu *v, struct kvm_run *run)
{
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;
    bool write = run->io.direction == KVM_EXIT_IO_OUT;
    uint32_t i;

    for (i = 0; i < run->io.count; i++, data += size) {
        uint64_t val = 0;

        if (write)
            memcpy(&val, data, size);
        hvr_iobus_access(v->m->pio, run->io.port, size, write, &val);
        if (!write)
            memcpy(data, &val, size);
    }
}

static void
hvr_vcpu_mmio(HvrVcpu *v, struct kvm_run *run)
{
    unsigned len = run->mmio.len;
    uint64_t val = 0;

    if (len != 1 && len != 2 && len != 4 && len != 8) {
        if (!run->mmio.is_write)
            memset(run->mmio.data, 0xFF, sizeof(run->mmio.data));
        return;
    }
    if (run->mmio.is_write)
        memcpy(&val, run->mmio.data, len);
    hvr_iobus_access(v->m->mmio, run->mmio.phys_addr, len, run->mmio.is_write, &val);
    if (!run->mmio.is_write)
        memcpy(run->mmio.data, &val, len);
}

static void
hvr_vcpu_report_halt(HvrVcpu *v)
{
    struct kvm_regs regs;
    uint32_t mp = 0;
    gboolean halted = FALSE;

    if (vmm_vcpu_get_mp_state(v->vcpu, &mp) == 0) {
        if (mp == KVM_MP_STATE_UNINITIALIZED || mp == KVM_MP_STATE_INIT_RECEIVED)
            halted = TRUE;
        else if (mp == KVM_MP_STATE_HALTED && vmm_vcpu_get_regs(v->vcpu, &regs) == 0)
            halted = !(regs.rflags & 0x200);
    }
    hvr_machine_report_halt(v->m, v, halted);
}

/* Block while paused; returns FALSE when the machine is stopping. */
static gboolean
hvr_vcpu_wait_runnable(HvrVcpu *v)
{
    HvrMachine *m = v->m;
    gboolean go;

    g_mutex_lock(&m->lock);
    while (m->state == HVR_STATE_PAUSED) {
        if (!v->parked) {
            v->parked = TRUE;
            g_cond_broadcast(&m->cond);
        }
        g_cond_wait(&m->cond, &m->lock);
    }
    v->parked = FALSE;
    go = m->state != HVR_STATE_STOPPING;
    g_mutex_unlock(&m->lock);
    return go;
}

gpointer
hvr_vcpu_thread(gpointer data)
{
    HvrVcpu *v = data;
    HvrMachine *m = v->m;
    struct kvm_run *run = vmm_vcpu_run_struct(v->vcpu);
    struct sigaction sa = { .sa_handler = hvr_vcpu_signal_noop };
    sigset_t set;
    int r;

    sigemptyset(&sa.sa_mask);
    sigaction(HVR_KICK_SIGNAL, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, HVR_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    g_mutex_lock(&m->lock);
    v->tid = pthread_self();
    v->started = TRUE;
    g_mutex_unlock(&m->lock);

    while (hvr_vcpu_wait_runnable(v)) {
        int64_t t0 = g_get_monotonic_time();

        r = vmm_vcpu_run(v->vcpu);
        __atomic_add_fetch(&v->run_ns, (uint64_t)(g_get_monotonic_time() - t0) * 1000,
                           __ATOMIC_RELAXED);
        if (r == -EINTR || r == -EAGAIN) {
            if (g_atomic_int_compare_and_exchange(&v->halt_check, 1, 0))
                hvr_vcpu_report_halt(v);
            continue;
        }
        if (r < 0) {
            hvr_log("vCPU %d: KVM_RUN failed: %s", v->id, g_strerror(-r));
            hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_ERROR, "KVM_RUN failed");
            break;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            __atomic_add_fetch(&v->exits_io, 1, __ATOMIC_RELAXED);
            hvr_vcpu_io(v, run);
            break;
        case KVM_EXIT_MMIO:
            __atomic_add_fetch(&v->exits_mmio, 1, __ATOMIC_RELAXED);
            hvr_vcpu_mmio(v, run);
            break;
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_HLT:
            __atomic_add_fetch(&v->exits_other, 1, __ATOMIC_RELAXED);
            hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_HALT, "vCPU halted");
            break;
        case KVM_EXIT_SHUTDOWN:
            __atomic_add_fetch(&v->exits_other, 1, __ATOMIC_RELAXED);
            hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_TRIPLEFAULT, "triple fault");
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            __atomic_add_fetch(&v->exits_other, 1, __ATOMIC_RELAXED);
            if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
                hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_REBOOT, "system reset event");
            else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
                hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_POWEROFF, "system shutdown event");
            else
                hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_ERROR, "system crash event");
            break;
        case KVM_EXIT_FAIL_ENTRY:
            hvr_log("vCPU %d: VM entry failed, hardware reason 0x%llx", v->id,
                    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_ERROR, "VM entry failure");
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            hvr_log("vCPU %d: KVM internal error, suberror %u", v->id, run->internal.suberror);
            hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_ERROR, "KVM internal error");
            break;
        default:
            __atomic_add_fetch(&v->exits_other, 1, __ATOMIC_RELAXED);
            hvr_log("vCPU %d: unexpected exit reason %u", v->id, run->exit_reason);
            hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_ERROR, "unexpected VM exit");
            break;
        }
    }
    return NULL;
}
