/* vmm.c: VM lifecycle and guest memory slots. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm_priv.h"

static int
vmm_ioctl_errno(int r)
{
    return r < 0 ? -errno : r;
}

int
vmm_create_dev(const char *devpath, const char *name, struct vmm_vm **out)
{
    struct vmm_vm *vm;
    uint64_t idmap = VMM_IDENTITY_MAP_ADDR;
    int r;

    *out = NULL;
    vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->kvm_fd = vm->vm_fd = -1;
    pthread_mutex_init(&vm->route_lock, NULL);
    vm->next_gsi = VMM_FIRST_MSI_GSI;
    snprintf(vm->name, sizeof(vm->name), "%s", name ? name : "");

    vm->kvm_fd = open(devpath ? devpath : "/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        r = -errno;
        goto fail;
    }
    r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (r != KVM_API_VERSION) {
        r = r < 0 ? -errno : -ENOTSUP;
        goto fail;
    }
    vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->run_size < (int)sizeof(struct kvm_run)) {
        r = vm->run_size < 0 ? -errno : -EINVAL;
        goto fail;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        r = -errno;
        goto fail;
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_TSS_ADDR) < 0) {
        r = -errno;
        goto fail;
    }
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
        r = -errno;
        goto fail;
    }
    *out = vm;
    return 0;

 fail:
    vmm_destroy(vm);
    return r;
}

int
vmm_create(const char *name, struct vmm_vm **out)
{
    return vmm_create_dev(NULL, name, out);
}

void
vmm_destroy(struct vmm_vm *vm)
{
    if (!vm)
        return;
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    pthread_mutex_destroy(&vm->route_lock);
    free(vm);
}

const char *
vmm_name(const struct vmm_vm *vm)
{
    return vm->name;
}

int
vmm_check_extension(struct vmm_vm *vm, long cap)
{
    return vmm_ioctl_errno(ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap));
}

int
vmm_set_memory(struct vmm_vm *vm, uint32_t slot, uint64_t gpa,
               uint64_t len, void *host)
{
    struct kvm_userspace_memory_region reg = {
        .slot = slot,
        .flags = 0,
        .guest_phys_addr = gpa,
        .memory_size = len,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };

    if ((gpa & 0xFFF) || (len & 0xFFF) || ((uintptr_t)host & 0xFFF))
        return -EINVAL;
    return vmm_ioctl_errno(ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg));
}
