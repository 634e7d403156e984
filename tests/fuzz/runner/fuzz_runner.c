/* fuzz_runner.c: a KVM-less machine and input helpers for the runner
 * harnesses (see fuzz_runner.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "fuzz_runner.h"
#include "hvr_pci.h"
#include "hvr_pm.h"
#include "vmm_priv.h"

static const uint8_t fuzz_canary_byte = 0xA5;

uint8_t
fuzz_u8(FuzzIn *in)
{
    return in->pos < in->len ? in->p[in->pos++] : 0;
}

uint16_t
fuzz_u16(FuzzIn *in)
{
    uint16_t lo = fuzz_u8(in);

    return lo | (uint16_t)fuzz_u8(in) << 8;
}

uint32_t
fuzz_u32(FuzzIn *in)
{
    uint32_t lo = fuzz_u16(in);

    return lo | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t
fuzz_u64(FuzzIn *in)
{
    uint64_t lo = fuzz_u32(in);

    return lo | (uint64_t)fuzz_u32(in) << 32;
}

void
fuzz_check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FUZZ INVARIANT VIOLATED at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* A VM handle whose descriptors are -1: every ioctl fails with EBADF. */
static struct vmm_vm *
fuzz_fake_vm(void)
{
    struct vmm_vm *vm = g_new0(struct vmm_vm, 1);

    vm->kvm_fd = vm->vm_fd = -1;
    pthread_mutex_init(&vm->route_lock, NULL);
    vm->next_gsi = VMM_FIRST_MSI_GSI;
    g_strlcpy(vm->name, "fuzz", sizeof(vm->name));
    return vm;
}

static void
fuzz_fake_vm_free(struct vmm_vm *vm)
{
    pthread_mutex_destroy(&vm->route_lock);
    g_free(vm);
}

FuzzMachine *
fuzz_machine_new(size_t ram_size, bool with_buses)
{
    FuzzMachine *fm = g_new0(FuzzMachine, 1);
    HvrMachine *m = &fm->m;

    fm->ram_size = ram_size;
    fm->block = g_malloc(ram_size + 2 * FUZZ_CANARY);
    memset(fm->block, fuzz_canary_byte, FUZZ_CANARY);
    fm->ram = fm->block + FUZZ_CANARY;
    memset(fm->ram, 0, ram_size);
    memset(fm->ram + ram_size, fuzz_canary_byte, FUZZ_CANARY);

    g_mutex_init(&m->lock);
    g_cond_init(&m->cond);
    m->exit_status = -1;
    m->state = HVR_STATE_RUNNING;
    m->vm = fuzz_fake_vm();
    m->mem = hvr_mem_new_from(fm->ram, ram_size);
    m->devices = g_ptr_array_new();
    m->ctx = g_main_context_new();
    m->loop = g_main_loop_new(m->ctx, FALSE);
    if (with_buses) {
        m->pio = hvr_iobus_new("pio");
        m->mmio = hvr_iobus_new("mmio");
        m->pci = hvr_pci_new(m);
        m->pm = hvr_pm_new(m);
    } else {
        m->pci = hvr_pci_new_detached();
    }
    return fm;
}

void
fuzz_machine_check_canaries(FuzzMachine *fm)
{
    size_t i;

    for (i = 0; i < FUZZ_CANARY; i++) {
        fuzz_check(fm->block[i] == fuzz_canary_byte,
                   "write below guest RAM (canary byte %zu before RAM)", FUZZ_CANARY - i);
        fuzz_check(fm->ram[fm->ram_size + i] == fuzz_canary_byte,
                   "write past the end of guest RAM (canary byte %zu after RAM)", i);
    }
}

void
fuzz_machine_free(FuzzMachine *fm)
{
    HvrMachine *m = &fm->m;
    guint i;

    fuzz_machine_check_canaries(fm);
    for (i = 0; i < m->devices->len; i++) {
        HvrDevice *d = g_ptr_array_index(m->devices, i);

        if (d->stop)
            d->stop(d->opaque);
    }
    for (i = 0; i < m->devices->len; i++) {
        HvrDevice *d = g_ptr_array_index(m->devices, i);

        if (d->free)
            d->free(d->opaque);
        g_free(d);
    }
    g_ptr_array_unref(m->devices);
    hvr_pci_free(m->pci);
    hvr_iobus_free(m->pio);
    hvr_iobus_free(m->mmio);
    hvr_mem_free(m->mem);
    fuzz_fake_vm_free(m->vm);
    g_main_loop_unref(m->loop);
    g_main_context_unref(m->ctx);
    g_cond_clear(&m->cond);
    g_mutex_clear(&m->lock);
    g_free(fm->block);
    g_free(fm);
}

static char *fuzz_dir;

static void
fuzz_tmpdir_remove(void)
{
    g_autoptr(GDir) d = g_dir_open(fuzz_dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(fuzz_dir, name, NULL);

        g_unlink(p);
    }
    g_rmdir(fuzz_dir);
}

const char *
fuzz_tmpdir(void)
{
    if (!fuzz_dir) {
        fuzz_dir = g_dir_make_tmp("hyve-fuzz-runner-XXXXXX", NULL);
        if (!fuzz_dir)
            fuzz_check_fail(__FILE__, __LINE__, "cannot create a temporary directory");
        atexit(fuzz_tmpdir_remove);
    }
    return fuzz_dir;
}
