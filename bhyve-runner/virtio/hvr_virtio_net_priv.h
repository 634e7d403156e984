/* hvr_virtio_net_priv.h: what hvr_virtio_net.c (device, transmit,
 * notifications) and hvr_virtio_net_rx.c (receive) share.  Private to
 * the virtio-net model; all of it runs under the device lock. */
#pragma once

#include <linux/if_tun.h>
#include <sys/uio.h>

#include "hvr_devices.h"
#include "hvr_virtio_pci.h"

#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_RING_F_EVENT_IDX 29
#define BIT(b) (1ULL << (b))

#define NET_HDR_LEN 12
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define GSO_NONE  0
#define GSO_TCPV4 1
#define GSO_TCPV6 4
#define GSO_ECN   0x80

#define HVR_NET_TAP_FULL (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define HVR_NET_MAX_FRAME (65536 + 256)
#define HVR_NET_MRG_MAX 256         /* buffers for one merged frame */

typedef struct {
    uint16_t head;
    uint32_t len;
    unsigned niov;
} HvrNetBuf;

typedef struct {
    int nb;                     /* pending receive buffers in bufs */
    unsigned niov;              /* their segments in rxiov */
    size_t space;
    bool full;                  /* gathering stopped by a limit */
} HvrNetGather;

typedef struct {
    int fd;
    unsigned tap_flags;         /* what the tap may hand us */
    unsigned want_flags;        /* what the driver accepted */
    uint64_t seen_features;     /* driver features want_flags was made from */
    bool seen_valid;
    HvrVqElem elem;
    uint8_t *scratch;           /* soft checksum: HVR_NET_MAX_FRAME bytes */
    struct iovec *rxiov;        /* MRG_RXBUF: IOV_MAX entries */
    HvrNetBuf *bufs;            /* MRG_RXBUF: HVR_NET_MRG_MAX */
    size_t held_len;            /* a frame in scratch waiting for buffers */
    bool rx_waiting;            /* MRG_RXBUF: too few buffers at rx_wait_avail */
    uint16_t rx_wait_avail;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, rx_soft_csum;
} HvrNet;

/* hvr_virtio_net_rx.c */
void hvr_net_sync_offloads(HvrVirtioDev *dev, HvrNet *n);
uint16_t hvr_net_avail_idx(HvrVirtqueue *vq);
void hvr_net_rx(HvrVirtioDev *dev, HvrNet *n);
/* hvr_virtio_net.c: EVENT_IDX */
bool hvr_net_event_idx(HvrVirtioDev *dev);
void hvr_net_publish_avail_event(HvrVirtqueue *vq, uint16_t idx);
void hvr_net_interrupt(HvrVirtioDev *dev, unsigned q, uint16_t old);
