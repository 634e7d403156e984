/*
 * vmm_priv.h: private state of vmm-kmod.  Not installed, not used outside.
 *
 * Ownership: struct vmm_vm owns kvm_fd and vm_fd; struct vmm_vcpu owns its fd
 * and the mmap'ed kvm_run.  Thread-safety: route_lock guards the GSI routing
 * table (routes, nroutes, next_gsi); everything else is immutable after
 * creation or only touched by the vCPU's own thread (see vmm.h).
 */
#ifndef HYVE_VMM_PRIV_H
#define HYVE_VMM_PRIV_H

#include <pthread.h>
#include "vmm.h"

#define VMM_MAX_ROUTES 1024
#define VMM_FIRST_MSI_GSI 24

struct vmm_vm {
    char name[64];
    int kvm_fd;                 /* /dev/kvm */
    int vm_fd;
    int run_size;               /* KVM_GET_VCPU_MMAP_SIZE */
    pthread_mutex_t route_lock; /* guards routes, nroutes, next_gsi */
    struct kvm_irq_routing_entry routes[VMM_MAX_ROUTES];
    unsigned nroutes;
    unsigned next_gsi;
};

struct vmm_vcpu {
    struct vmm_vm *vm;
    int id;
    int fd;
    struct kvm_run *run;        /* mmap'ed, run_size bytes */
};

int vmm_routes_push_locked(struct vmm_vm *vm);

#endif
