/*
 * hvr_iobus.h: port I/O and MMIO dispatch.
 *
 * Design note: a bus is a list of [base, base+len) ranges, each with one
 * handler and an opaque pointer; a vCPU exit is dispatched to the range that
 * contains the address.  Unclaimed reads return all ones, unclaimed writes are
 * dropped (never fatal: the guest controls them).  PCI BAR reprogramming moves
 * ranges at run time.
 *
 * Thread-safety: ranges are guarded by a GRWLock inside the bus (readers =
 * vCPU dispatch, writers = add/move/remove).  Handlers run on vCPU threads,
 * possibly concurrently for different vCPUs: each device serialises its own
 * state with its own lock.  A handler must not add/move/remove ranges of the
 * same bus (it would deadlock); BAR moves are done from the PCI config path,
 * which is on the port bus and moves ranges on the MMIO bus.
 */
#ifndef HVR_IOBUS_H
#define HVR_IOBUS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* @off is relative to the range base; @size is 1, 2, 4 or 8.  For reads the
 * handler stores the value in *val. */
typedef void (*HvrIoHandler)(void *opaque, uint64_t off, unsigned size,
                             bool write, uint64_t *val);

typedef struct _HvrIoBus HvrIoBus;

HvrIoBus *hvr_iobus_new(const char *name);
void hvr_iobus_free(HvrIoBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvrIoBus, hvr_iobus_free)

/* Returns an id (> 0), or 0 when the range overlaps another one. */
unsigned hvr_iobus_add(HvrIoBus *bus, uint64_t base, uint64_t len,
                       HvrIoHandler fn, void *opaque);
gboolean hvr_iobus_move(HvrIoBus *bus, unsigned id, uint64_t base);
void hvr_iobus_remove(HvrIoBus *bus, unsigned id);

/* Dispatch one access; returns FALSE when nothing claimed it. */
gboolean hvr_iobus_access(HvrIoBus *bus, uint64_t addr, unsigned size,
                          bool write, uint64_t *val);

#endif
