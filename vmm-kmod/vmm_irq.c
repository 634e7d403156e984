/* vmm_irq.c: in-kernel irqchip, PIT, GSI routing, MSI, irqfd, ioeventfd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_priv.h"

static void
vmm_route_irqchip(struct vmm_vm *vm, uint32_t gsi, uint32_t chip, uint32_t pin)
{
    struct kvm_irq_routing_entry *e = &vm->routes[vm->nroutes++];

    memset(e, 0, sizeof(*e));
    e->gsi = gsi;
    e->type = KVM_IRQ_ROUTING_IRQCHIP;
    e->u.irqchip.irqchip = chip;
    e->u.irqchip.pin = pin;
}

int
vmm_routes_push_locked(struct vmm_vm *vm)
{
    struct kvm_irq_routing *tbl;
    size_t sz = sizeof(*tbl) + vm->nroutes * sizeof(tbl->entries[0]);
    int r;

    tbl = calloc(1, sz);
    if (!tbl)
        return -ENOMEM;
    tbl->nr = vm->nroutes;
    memcpy(tbl->entries, vm->routes, vm->nroutes * sizeof(tbl->entries[0]));
    r = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, tbl);
    r = r < 0 ? -errno : 0;
    free(tbl);
    return r;
}

int
vmm_create_irqchip(struct vmm_vm *vm)
{
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    uint32_t i;
    int r;

    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return -errno;
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return -errno;

    /* Legacy routes (QEMU/kvmtool layout): PIC master 0..7 (not 2), slave
     * 8..15, IOAPIC 1..23 (not 2) and GSI 0 -> IOAPIC pin 2, matching the
     * MADT override IRQ0 -> GSI 2. */
    pthread_mutex_lock(&vm->route_lock);
    vm->nroutes = 0;
    for (i = 0; i < 16; i++) {
        if (i == 2)
            continue;
        vmm_route_irqchip(vm, i, i < 8 ? KVM_IRQCHIP_PIC_MASTER
                                       : KVM_IRQCHIP_PIC_SLAVE, i % 8);
    }
    for (i = 0; i < 24; i++) {
        if (i == 2)
            continue;
        vmm_route_irqchip(vm, i, KVM_IRQCHIP_IOAPIC, i == 0 ? 2 : i);
    }
    r = vmm_routes_push_locked(vm);
    pthread_mutex_unlock(&vm->route_lock);
    return r;
}

int
vmm_irq_line(struct vmm_vm *vm, uint32_t gsi, int level)
{
    struct kvm_irq_level l = { .irq = gsi, .level = level ? 1 : 0 };

    return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int
vmm_signal_msi(struct vmm_vm *vm, uint32_t addr_lo, uint32_t addr_hi,
               uint32_t data)
{
    struct kvm_msi msi = {
        .address_lo = addr_lo, .address_hi = addr_hi, .data = data,
    };
    int r = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);

    return r < 0 ? -errno : r;
}

int
vmm_msi_route_alloc(struct vmm_vm *vm)
{
    int gsi;

    pthread_mutex_lock(&vm->route_lock);
    if (vm->nroutes >= VMM_MAX_ROUTES) {
        pthread_mutex_unlock(&vm->route_lock);
        return -ENOSPC;
    }
    gsi = vm->next_gsi++;
    /* A masked-off route (address 0) until the guest programs it. */
    memset(&vm->routes[vm->nroutes], 0, sizeof(vm->routes[0]));
    vm->routes[vm->nroutes].gsi = gsi;
    vm->routes[vm->nroutes].type = KVM_IRQ_ROUTING_MSI;
    vm->routes[vm->nroutes].u.msi.address_lo = 0xFEE00000;
    vm->nroutes++;
    pthread_mutex_unlock(&vm->route_lock);
    return gsi;
}

int
vmm_set_msi_route(struct vmm_vm *vm, uint32_t gsi, uint32_t addr_lo,
                  uint32_t addr_hi, uint32_t data)
{
    unsigned i;
    int r = -ENOENT;

    pthread_mutex_lock(&vm->route_lock);
    for (i = 0; i < vm->nroutes; i++) {
        struct kvm_irq_routing_entry *e = &vm->routes[i];

        if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
            continue;
        if (e->u.msi.address_lo == addr_lo && e->u.msi.address_hi == addr_hi &&
            e->u.msi.data == data) {
            r = 0;
            break;
        }
        e->u.msi.address_lo = addr_lo;
        e->u.msi.address_hi = addr_hi;
        e->u.msi.data = data;
        r = vmm_routes_push_locked(vm);
        break;
    }
    pthread_mutex_unlock(&vm->route_lock);
    return r;
}

int
vmm_irqfd(struct vmm_vm *vm, int fd, uint32_t gsi, bool assign)
{
    struct kvm_irqfd irqfd = {
        .fd = fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
    };

    return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int
vmm_ioeventfd(struct vmm_vm *vm, int fd, uint64_t addr, uint32_t len,
              bool pio, int64_t datamatch, bool assign)
{
    struct kvm_ioeventfd ev = {
        .addr = addr, .len = len, .fd = fd,
    };

    if (pio)
        ev.flags |= KVM_IOEVENTFD_FLAG_PIO;
    if (datamatch >= 0) {
        ev.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
        ev.datamatch = (uint64_t)datamatch;
    }
    if (!assign)
        ev.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
    return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}
