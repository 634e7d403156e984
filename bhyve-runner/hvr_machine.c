/* hvr_machine.c: build, run and stop one VM. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>

#include "hvr_acpi.h"
#include "hvr_devices.h"
#include "hvr_error.h"
#include "hvr_loader.h"
#include "hvr_machine.h"
#include "hvr_pci.h"
#include "hvr_pm.h"
#include "hyve/runner-exit.h"

static char hvr_log_name[64] = "bhyve-runner";

void
hvr_log(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", hvr_log_name, msg);
}

void
hvr_machine_add_device(HvrMachine *m, HvrDevice *dev)
{
    g_ptr_array_add(m->devices, dev);
}

void
hvr_machine_add_console(HvrMachine *m, const char *name, const char *path)
{
    g_ptr_array_add(m->consoles, g_strdup_printf("%s=%s", name, path));
}

void
hvr_machine_irq_line(HvrMachine *m, uint32_t gsi, int level)
{
    int r = vmm_irq_line(m->vm, gsi, level);
    static int logged;

    if (r < 0)
        hvr_log_once(&logged, "cannot set IRQ %u: %s", gsi, g_strerror(-r));
}

static gboolean
hvr_machine_setup_memory(HvrMachine *m, GError **error)
{
    int r;

    m->mem = hvr_mem_new(m->cfg->memory_size, m->cfg->hugepages, m->cfg->mergeable, error);
    if (!m->mem)
        return FALSE;
    if ((r = vmm_set_memory(m->vm, 0, 0, m->mem->lowmem, m->mem->host)) < 0 ||
        (m->mem->highmem &&
         (r = vmm_set_memory(m->vm, 1, HVR_HIGHMEM_BASE, m->mem->highmem,
                             m->mem->host + m->mem->lowmem)) < 0)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                    "cannot register guest memory with KVM: %s", g_strerror(-r));
        return FALSE;
    }
    return TRUE;
}

HvrMachine *
hvr_machine_new(HvrConfig *cfg, GError **error)
{
    g_autoptr(HvrMachine) m = g_new0(HvrMachine, 1);
    int i, r;

    m->cfg = cfg;
    g_mutex_init(&m->lock);
    g_cond_init(&m->cond);
    m->exit_status = -1;
    m->state = HVR_STATE_CREATED;
    m->ncpus = cfg->cpus;
    m->devices = g_ptr_array_new();
    m->consoles = g_ptr_array_new_with_free_func(g_free);
    m->ctx = g_main_context_ref_thread_default();
    m->loop = g_main_loop_new(m->ctx, FALSE);
    m->pio = hvr_iobus_new("port");
    m->mmio = hvr_iobus_new("mmio");
    g_snprintf(hvr_log_name, sizeof(hvr_log_name), "bhyve-runner[%s]", cfg->name);

    {
        const char *reason;

        if (vmm_probe(&reason) == VMM_PROBE_EMULATED)
            hvr_log("warning: %s; guest kernels will run very slowly", reason);
    }
    if ((r = vmm_create(cfg->name, &m->vm)) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot create the KVM VM: %s",
                    g_strerror(-r));
        return NULL;
    }
    if ((r = vmm_create_irqchip(m->vm)) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                    "cannot create the in-kernel interrupt controllers: %s", g_strerror(-r));
        return NULL;
    }
    if (!hvr_machine_setup_memory(m, error))
        return NULL;
    if (!hvr_devices_create(m, error))
        return NULL;

    hvr_acpi_build(hvr_mem_gpa(m->mem, HVR_ACPI_BASE, HVR_ACPI_SIZE), HVR_ACPI_BASE, m->ncpus);
    if (!hvr_loader_load_cached(m->mem, cfg->kernel, cfg->initrd, cfg->cmdline,
                                HVR_ACPI_BASE + HVR_ACPI_RSDP_OFF, cfg->kernel_cache, NULL,
                                error))
        return NULL;

    m->vcpus = g_new0(HvrVcpu, m->ncpus);
    for (i = 0; i < m->ncpus; i++) {
        m->vcpus[i].m = m;
        m->vcpus[i].id = i;
        if (!hvr_vcpu_setup(m, &m->vcpus[i], error))
            return NULL;
    }
    return g_steal_pointer(&m);
}

void
hvr_machine_request_exit(HvrMachine *m, int status, const char *why)
{
    gboolean first = FALSE;

    g_mutex_lock(&m->lock);
    if (m->exit_status < 0) {
        m->exit_status = status;
        first = TRUE;
    }
    m->state = HVR_STATE_STOPPING;
    g_cond_broadcast(&m->cond);
    g_mutex_unlock(&m->lock);
    if (first)
        hvr_log("exiting with status %d (%s): %s", status,
                hyve_runner_exit_to_string(status), why);
    g_main_loop_quit(m->loop);
}

static gboolean
hvr_machine_sigterm(gpointer data)
{
    HvrMachine *m = data;

    hvr_log("SIGTERM: pressing the power button");
    hvr_pm_power_button(m->pm);
    return G_SOURCE_CONTINUE;
}

/* Every second, ask each vCPU whether it is halted for good.  With the
 * in-kernel LAPIC a HLT never exits to userspace, so this is the only way to
 * notice a guest that halted (Linux `halt -f`: every CPU in cli; hlt). */
static gboolean
hvr_machine_halt_poll(gpointer data)
{
    HvrMachine *m = data;
    int i;

    g_mutex_lock(&m->lock);
    if (m->state != HVR_STATE_RUNNING) {
        g_mutex_unlock(&m->lock);
        return G_SOURCE_CONTINUE;
    }
    m->halt_round++;
    g_mutex_unlock(&m->lock);
    for (i = 0; i < m->ncpus; i++) {
        g_atomic_int_set(&m->vcpus[i].halt_check, 1);
        hvr_vcpu_kick(&m->vcpus[i]);
    }
    return G_SOURCE_CONTINUE;
}

void
hvr_machine_report_halt(HvrMachine *m, HvrVcpu *v, gboolean halted)
{
    gboolean all = TRUE;
    int i;

    g_mutex_lock(&m->lock);
    v->halt_round = m->halt_round;
    v->halted = halted;
    for (i = 0; i < m->ncpus; i++)
        if (m->vcpus[i].halt_round != m->halt_round || !m->vcpus[i].halted)
            all = FALSE;
    all = all && m->state == HVR_STATE_RUNNING;
    g_mutex_unlock(&m->lock);
    if (all)
        hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_HALT, "all vCPUs halted with interrupts disabled");
}

static gboolean
hvr_machine_sigint(gpointer data)
{
    hvr_machine_request_exit(data, HYVE_RUNNER_EXIT_POWEROFF, "SIGINT (forced poweroff)");
    return G_SOURCE_CONTINUE;
}

int
hvr_machine_run(HvrMachine *m)
{
    sigset_t set;
    guint sigterm, sigint, halt_poll;
    int i, status;

    /* vCPU threads unblock the kick signal themselves; everything else
     * keeps it blocked so that kicks only land on vCPU threads. */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sigterm = g_unix_signal_add(SIGTERM, hvr_machine_sigterm, m);
    sigint = g_unix_signal_add(SIGINT, hvr_machine_sigint, m);
    halt_poll = g_timeout_add_seconds(1, hvr_machine_halt_poll, m);

    g_mutex_lock(&m->lock);
    /* boot.paused: the vCPU threads start and park until `resume` */
    if (m->state == HVR_STATE_CREATED)
        m->state = m->cfg->boot_paused ? HVR_STATE_PAUSED : HVR_STATE_RUNNING;
    g_mutex_unlock(&m->lock);
    m->start_us = g_get_monotonic_time();
    for (i = 0; i < (int)m->devices->len; i++) {
        HvrDevice *d = g_ptr_array_index(m->devices, i);

        if (d->start)
            d->start(d->opaque);
    }
    for (i = 0; i < m->ncpus; i++) {
        g_autofree char *name = g_strdup_printf("vcpu%d", i);

        m->vcpus[i].thread = g_thread_new(name, hvr_vcpu_thread, &m->vcpus[i]);
    }

    g_mutex_lock(&m->lock);
    while (m->exit_status < 0) {
        g_mutex_unlock(&m->lock);
        g_main_loop_run(m->loop);
        g_mutex_lock(&m->lock);
    }
    m->state = HVR_STATE_STOPPING;
    g_cond_broadcast(&m->cond);
    status = m->exit_status;
    g_mutex_unlock(&m->lock);

    for (i = 0; i < m->ncpus; i++)
        hvr_vcpu_kick(&m->vcpus[i]);
    for (i = 0; i < m->ncpus; i++) {
        g_thread_join(m->vcpus[i].thread);
        m->vcpus[i].thread = NULL;
    }
    for (i = 0; i < (int)m->devices->len; i++) {
        HvrDevice *d = g_ptr_array_index(m->devices, i);

        if (d->stop)
            d->stop(d->opaque);
    }
    g_source_remove(sigterm);
    g_source_remove(sigint);
    g_source_remove(halt_poll);
    return status;
}

static gboolean
hvr_machine_wait_parked(HvrMachine *m)
{
    int64_t deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    int i, parked;

    for (;;) {
        for (parked = 0, i = 0; i < m->ncpus; i++)
            parked += m->vcpus[i].parked;
        if (parked == m->ncpus || m->state != HVR_STATE_PAUSED)
            return TRUE;
        if (!g_cond_wait_until(&m->cond, &m->lock, deadline))
            return FALSE;
    }
}

gboolean
hvr_machine_pause(HvrMachine *m, GError **error)
{
    gboolean ok;
    int i;

    g_mutex_lock(&m->lock);
    if (m->state != HVR_STATE_RUNNING) {
        g_mutex_unlock(&m->lock);
        g_set_error(error, HVR_ERROR, HVR_ERROR_OPERATION_INVALID,
                    "domain is not running");
        return FALSE;
    }
    m->state = HVR_STATE_PAUSED;
    g_mutex_unlock(&m->lock);
    for (i = 0; i < m->ncpus; i++)
        hvr_vcpu_kick(&m->vcpus[i]);
    g_mutex_lock(&m->lock);
    ok = hvr_machine_wait_parked(m);
    g_mutex_unlock(&m->lock);
    if (!ok) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_INTERNAL,
                    "vCPUs did not stop within 5 seconds");
        return FALSE;
    }
    return TRUE;
}

gboolean
hvr_machine_resume(HvrMachine *m, GError **error)
{
    g_mutex_lock(&m->lock);
    if (m->state != HVR_STATE_PAUSED) {
        g_mutex_unlock(&m->lock);
        g_set_error(error, HVR_ERROR, HVR_ERROR_OPERATION_INVALID, "domain is not paused");
        return FALSE;
    }
    m->state = HVR_STATE_RUNNING;
    g_cond_broadcast(&m->cond);
    g_mutex_unlock(&m->lock);
    return TRUE;
}

const char *
hvr_machine_state_string(HvrMachine *m)
{
    static const char *const names[] = { "created", "running", "paused", "stopping" };
    HvrState s;

    g_mutex_lock(&m->lock);
    s = m->state;
    g_mutex_unlock(&m->lock);
    return names[s];
}

void
hvr_machine_format_stats(HvrMachine *m, GString *out)
{
    int i;
    guint d;

    g_string_append_printf(out, "uptime_ms=%" G_GINT64_FORMAT,
                           m->start_us ? (g_get_monotonic_time() - m->start_us) / 1000 : 0);
    for (i = 0; i < m->ncpus; i++) {
        HvrVcpu *v = &m->vcpus[i];

        g_string_append_printf(out,
            " vcpu%d.time_ns=%" G_GUINT64_FORMAT " vcpu%d.exits_io=%" G_GUINT64_FORMAT
            " vcpu%d.exits_mmio=%" G_GUINT64_FORMAT " vcpu%d.exits_other=%" G_GUINT64_FORMAT,
            i, __atomic_load_n(&v->run_ns, __ATOMIC_RELAXED),
            i, __atomic_load_n(&v->exits_io, __ATOMIC_RELAXED),
            i, __atomic_load_n(&v->exits_mmio, __ATOMIC_RELAXED),
            i, __atomic_load_n(&v->exits_other, __ATOMIC_RELAXED));
    }
    for (d = 0; d < m->devices->len; d++) {
        HvrDevice *dev = g_ptr_array_index(m->devices, d);

        if (dev->stats)
            dev->stats(dev->opaque, out);
    }
}

void
hvr_machine_free(HvrMachine *m)
{
    guint d;
    int i;

    if (!m)
        return;
    if (m->vcpus) {
        for (i = 0; i < m->ncpus; i++)
            vmm_vcpu_close(m->vcpus[i].vcpu);
        g_free(m->vcpus);
    }
    for (d = 0; d < m->devices->len; d++) {
        HvrDevice *dev = g_ptr_array_index(m->devices, d);

        if (dev->stop)
            dev->stop(dev->opaque);
        if (dev->free)
            dev->free(dev->opaque);
        g_free(dev);
    }
    g_ptr_array_unref(m->devices);
    g_ptr_array_unref(m->consoles);
    hvr_pci_free(m->pci);
    vmm_destroy(m->vm);
    hvr_mem_free(m->mem);
    hvr_iobus_free(m->pio);
    hvr_iobus_free(m->mmio);
    g_main_loop_unref(m->loop);
    g_main_context_unref(m->ctx);
    hvr_config_free(m->cfg);
    g_mutex_clear(&m->lock);
    g_cond_clear(&m->cond);
    g_free(m);
}
