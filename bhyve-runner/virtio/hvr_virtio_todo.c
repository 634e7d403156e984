/* temporary: virtio models not yet written */
#include "hvr_devices.h"
#include "hvr_error.h"
#define TODO(fn) gboolean fn(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error) \
{ g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED, "not implemented yet"); return FALSE; }
TODO(hvr_virtio_blk_create)
TODO(hvr_virtio_net_create)
TODO(hvr_virtio_console_create)
TODO(hvr_virtio_rng_create)
