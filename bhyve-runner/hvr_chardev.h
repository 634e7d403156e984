/*
 * hvr_chardev.h: character backends for serial ports and virtio-console.
 *
 * Design note: a backend spec is "pty" (a new pseudo-terminal; its path is
 * logged and reported by the control socket), "stdio", "null",
 * "unix:/PATH" (a listening stream socket; one client at a time, output is
 * dropped while none is connected) or "file:/PATH" (output appended, no
 * input).  Output never blocks the caller: if the peer does not read, bytes
 * are dropped (a vCPU must never stall on a slow terminal).
 *
 * Thread-safety: hvr_chardev_write() may be called from any thread (an
 * internal mutex guards the output fd).  Input is read by GSources attached to
 * the main context, and the rx callback runs in the main thread.
 */
#ifndef HVR_CHARDEV_H
#define HVR_CHARDEV_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _HvrChardev HvrChardev;
typedef void (*HvrChardevRx)(void *opaque, const uint8_t *buf, size_t len);

HvrChardev *hvr_chardev_new(const char *spec, const char *label, GError **error);
void hvr_chardev_free(HvrChardev *chr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvrChardev, hvr_chardev_free)

/* Start delivering input to @fn (in the thread running @ctx). */
void hvr_chardev_attach(HvrChardev *chr, GMainContext *ctx, HvrChardevRx fn,
                        void *opaque);
void hvr_chardev_write(HvrChardev *chr, const uint8_t *buf, size_t len);
/* pty path or socket/file path, or the spec. */
const char *hvr_chardev_path(HvrChardev *chr);
uint64_t hvr_chardev_bytes_out(HvrChardev *chr);

#endif
