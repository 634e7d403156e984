/*
 * hvr_machine.h: one virtual machine inside bhyve-runner.
 *
 * Design note: the machine owns the KVM VM (through vmm-kmod), guest RAM,
 * the port and MMIO buses, the PCI bus, the devices (created from the one
 * device table in hvr_devices.c) and one thread per vCPU.  The main thread
 * runs a GMainLoop for the control socket, signals and backend input; vCPU
 * threads run KVM_RUN and dispatch exits to the buses; block/net/console/rng
 * I/O runs on per-device threads (never on vCPU threads).
 *
 * Lifecycle: hvr_machine_new() builds everything without starting a thread
 * (so that the sandbox, hvr_sandbox.h, can be entered by a single-threaded
 * process between the two), hvr_machine_run() starts the device threads
 * (HvrDevice.start), then the vCPUs, and returns the bhyve exit status (include/hyve/runner-exit.h) once
 * any thread called hvr_machine_request_exit(); the first request wins.
 *
 * Thread-safety: `lock` guards state, paused, exit_status and the vCPU
 * `parked` counters; `cond` signals changes of them.  hvr_machine_request_exit,
 * _pause, _resume, _irq_line, _power_button and _format_stats may be called
 * from any thread.  Per-vCPU statistics are updated with atomics by their own
 * thread only.
 */
#ifndef HVR_MACHINE_H
#define HVR_MACHINE_H

#include <glib.h>
#include <pthread.h>
#include <stdint.h>

#include "hvr_config.h"
#include "hvr_iobus.h"
#include "hvr_mem.h"
#include "vmm.h"

typedef struct _HvrMachine HvrMachine;
typedef struct _HvrPci HvrPci;
typedef struct _HvrPm HvrPm;

typedef struct {
    HvrMachine *m;
    int id;
    struct vmm_vcpu *vcpu;
    GThread *thread;
    pthread_t tid;              /* valid once `started` */
    gboolean started;           /* guarded by machine lock */
    gboolean parked;            /* guarded by machine lock: waiting while paused */
    int halt_check;             /* atomic: report halt state at next exit */
    unsigned halt_round;        /* machine lock: round of the last report */
    gboolean halted;            /* machine lock: stopped for good in that round */
    /* statistics, written by the vCPU thread with atomics */
    uint64_t exits_io;
    uint64_t exits_mmio;
    uint64_t exits_other;
    uint64_t run_ns;
} HvrVcpu;

/* A device instance, for statistics and orderly teardown. */
typedef struct {
    const char *model;
    int slot;                   /* PCI slot or -1 */
    void *opaque;
    void (*stats)(void *opaque, GString *out);  /* appends " key=value"... */
    void (*start)(void *opaque);                /* start device threads */
    void (*stop)(void *opaque);                 /* stop device threads */
    void (*free)(void *opaque);
} HvrDevice;

typedef enum {
    HVR_STATE_CREATED,
    HVR_STATE_RUNNING,
    HVR_STATE_PAUSED,
    HVR_STATE_STOPPING,
} HvrState;

struct _HvrMachine {
    HvrConfig *cfg;             /* owned, immutable */
    struct vmm_vm *vm;
    HvrMem *mem;
    HvrIoBus *pio;
    HvrIoBus *mmio;
    HvrPci *pci;
    HvrPm *pm;
    int ncpus;
    HvrVcpu *vcpus;
    GPtrArray *devices;         /* HvrDevice*; filled during setup only */
    GPtrArray *consoles;        /* "name=path" strings; filled during setup only */
    GMainContext *ctx;
    GMainLoop *loop;

    GMutex lock;
    GCond cond;
    HvrState state;             /* lock */
    int exit_status;            /* lock; -1 until requested */
    unsigned halt_round;        /* lock: current halt-detection round */
    int64_t start_us;
};

HvrMachine *hvr_machine_new(HvrConfig *cfg, GError **error);  /* takes cfg */
void hvr_machine_free(HvrMachine *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvrMachine, hvr_machine_free)

int hvr_machine_run(HvrMachine *m);
void hvr_machine_request_exit(HvrMachine *m, int status, const char *why);
gboolean hvr_machine_pause(HvrMachine *m, GError **error);
gboolean hvr_machine_resume(HvrMachine *m, GError **error);
const char *hvr_machine_state_string(HvrMachine *m);
void hvr_machine_irq_line(HvrMachine *m, uint32_t gsi, int level);
void hvr_machine_add_device(HvrMachine *m, HvrDevice *dev);
/* A vCPU thread reports whether it is stopped for good (HLT with interrupts
 * disabled, or never started by INIT/SIPI); when every vCPU is, the machine
 * halts (exit 2, bhyve's VM_SUSPEND_HALT). */
void hvr_machine_report_halt(HvrMachine *m, HvrVcpu *v, gboolean halted);
void hvr_machine_format_stats(HvrMachine *m, GString *out);
/* Record where a character backend can be reached ("com1", "/dev/pts/3"). */
void hvr_machine_add_console(HvrMachine *m, const char *name, const char *path);

/* Log helpers: one line on stderr, prefixed with the VM name. */
void hvr_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Log at most once per @flag (for guest-triggered conditions). */
#define hvr_log_once(flag, ...) do { \
        if (!g_atomic_int_get(flag) && g_atomic_int_compare_and_exchange(flag, 0, 1)) \
            hvr_log(__VA_ARGS__); \
    } while (0)

/* vCPU thread body (hvr_vcpu.c). */
gpointer hvr_vcpu_thread(gpointer data);
gboolean hvr_vcpu_setup(HvrMachine *m, HvrVcpu *v, GError **error);
void hvr_vcpu_kick(HvrVcpu *v);

#endif
