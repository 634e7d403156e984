/*
 * fuzz_runner.h: shared pieces of the bhyve-runner fuzz harnesses.
 *
 * Design note: the harnesses drive the runner's real device code (the `hvr`
 * library) on a machine built here without KVM: guest RAM is a heap buffer
 * wrapped by hvr_mem_new_from() with canary bytes on both sides, and the VM
 * handle is a struct vmm_vm whose descriptors are -1, so every KVM ioctl the
 * device code issues (irqfd, ioeventfd, MSI routes and signals, IRQ lines)
 * fails with EBADF and touches nothing.  Everything is created and freed per
 * input, so each input runs from the same state (deterministic replay).
 *
 * FuzzIn is a cursor over the fuzz input; reads past the end return zeros.
 * fuzz_check() aborts with a message: libFuzzer records it as a crash.
 */
#ifndef FUZZ_RUNNER_H
#define FUZZ_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvr_machine.h"

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} FuzzIn;

uint8_t fuzz_u8(FuzzIn *in);
uint16_t fuzz_u16(FuzzIn *in);
uint32_t fuzz_u32(FuzzIn *in);
uint64_t fuzz_u64(FuzzIn *in);
static inline bool fuzz_more(const FuzzIn *in) { return in->pos < in->len; }

#define FUZZ_CANARY 64

typedef struct {
    HvrMachine m;
    uint8_t *block;             /* canary | RAM | canary */
    uint8_t *ram;
    size_t ram_size;
} FuzzMachine;

/* A machine with @ram_size bytes of RAM, a detached or attached PCI bus
 * (@with_buses: port and MMIO buses, PCI on 0xCF8 and the PM device), no
 * KVM. */
FuzzMachine *fuzz_machine_new(size_t ram_size, bool with_buses);
/* Stops and frees every device, then the machine. */
void fuzz_machine_free(FuzzMachine *fm);
/* Aborts unless the canaries around RAM are intact. */
void fuzz_machine_check_canaries(FuzzMachine *fm);

void fuzz_check_fail(const char *file, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4) G_GNUC_NORETURN;
#define fuzz_check(cond, ...) do { \
        if (!(cond)) \
            fuzz_check_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/* A private temporary directory for the whole process (removed at exit). */
const char *fuzz_tmpdir(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
