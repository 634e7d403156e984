/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_interop_events.c: the fake server's event procedures for
 * test_protocol_interop.c: each registration is answered and then queues
 * one event of its kind (domain legacy and callback forms, network,
 * storage pool, node device, secret, connection closed) for the client to
 * decode and print.
 */
#include <string.h>

#include "test_protocol_interop_procs.h"

gboolean
h_event_legacy(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_domain_event_register_any_args);

    proto_fake_log(c, "REGISTER_ANY %d", a->eventID);
    if (a->eventID == 0) {
        remote_domain_event_lifecycle_msg m = { vm1(), 2, 0 };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE,
                               (xdrproc_t)xdr_remote_domain_event_lifecycle_msg, &m);
    } else if (a->eventID == 1) {
        remote_domain_event_reboot_msg m = { vm1() };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_REBOOT,
                               (xdrproc_t)xdr_remote_domain_event_reboot_msg, &m);
    }
    return TRUE;
}

gboolean
h_event_callback(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_domain_event_callback_register_any_args);
    int cb = 100 + a->eventID;

    proto_fake_log(c, "CALLBACK_REGISTER_ANY %d dom=%s", a->eventID, a->dom ? a->dom->name : "-");
    ((remote_connect_domain_event_callback_register_any_ret *)ret)->callbackID = cb;
    switch (a->eventID) {
    case 0: {
        remote_domain_event_callback_lifecycle_msg m = { cb, { vm1(), 5, 1 } };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                               (xdrproc_t)xdr_remote_domain_event_callback_lifecycle_msg, &m);
        break;
    }
    case 1: {
        remote_domain_event_callback_reboot_msg m = { cb, { vm1() } };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
                               (xdrproc_t)xdr_remote_domain_event_callback_reboot_msg, &m);
        break;
    }
    case 2: {
        remote_domain_event_callback_rtc_change_msg m = { cb, { vm1(), -3600 } };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_RTC_CHANGE,
                               (xdrproc_t)xdr_remote_domain_event_callback_rtc_change_msg, &m);
        break;
    }
    case 15: {
        remote_domain_event_callback_device_removed_msg m = { cb, { vm1(), (char *)"net7" } };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED,
                               (xdrproc_t)xdr_remote_domain_event_callback_device_removed_msg, &m);
        break;
    }
    case 19: {
        remote_domain_event_callback_device_added_msg m = { cb, vm1(), (char *)"disk9" };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_ADDED,
                               (xdrproc_t)xdr_remote_domain_event_callback_device_added_msg, &m);
        break;
    }
    case 23: {
        char *ns = (char *)"http://example.org/ns";
        remote_domain_event_callback_metadata_change_msg m = { cb, vm1(), 2, &ns };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_METADATA_CHANGE,
                               (xdrproc_t)xdr_remote_domain_event_callback_metadata_change_msg,
                               &m);
        break;
    }
    case 24: {
        char *path = (char *)"/img/vm1.raw";
        remote_domain_event_block_threshold_msg m = { cb, vm1(), (char *)"vda", &path,
                                                       1024, 512 };
        proto_fake_queue_event(c, REMOTE_PROC_DOMAIN_EVENT_BLOCK_THRESHOLD,
                               (xdrproc_t)xdr_remote_domain_event_block_threshold_msg, &m);
        break;
    }
    default:
        break;
    }
    return TRUE;
}

gboolean
h_net_event(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_network_event_register_any_args);
    remote_network_event_lifecycle_msg m = { 200 + a->eventID, { (char *)"default", { 0 } },
                                             2, 0 };

    proto_fake_log(c, "NET_REGISTER %d net=%s", a->eventID, a->net ? a->net->name : "-");
    ((remote_connect_network_event_register_any_ret *)ret)->callbackID = m.callbackID;
    memcpy(m.net.uuid, net_uuid, 16);
    if (a->eventID == 0)
        proto_fake_queue_event(c, REMOTE_PROC_NETWORK_EVENT_LIFECYCLE,
                               (xdrproc_t)xdr_remote_network_event_lifecycle_msg, &m);
    return TRUE;
}

gboolean
h_pool_event(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_storage_pool_event_register_any_args);
    int cb = 300 + a->eventID;
    remote_nonnull_storage_pool pool = { (char *)"default", { 0 } };

    proto_fake_log(c, "POOL_REGISTER %d pool=%s", a->eventID, a->pool ? a->pool->name : "-");
    ((remote_connect_storage_pool_event_register_any_ret *)ret)->callbackID = cb;
    memcpy(pool.uuid, pool_uuid, 16);
    if (a->eventID == 0) {
        remote_storage_pool_event_lifecycle_msg m = { cb, pool, 3, 0 };
        proto_fake_queue_event(c, REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE,
                               (xdrproc_t)xdr_remote_storage_pool_event_lifecycle_msg, &m);
    } else if (a->eventID == 1) {
        remote_storage_pool_event_refresh_msg m = { cb, pool };
        proto_fake_queue_event(c, REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH,
                               (xdrproc_t)xdr_remote_storage_pool_event_refresh_msg, &m);
    }
    return TRUE;
}

gboolean
h_nodedev_event(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_node_device_event_register_any_args);
    int cb = 400 + a->eventID;
    remote_nonnull_node_device dev = { (char *)"computer" };

    proto_fake_log(c, "NODEDEV_REGISTER %d dev=%s", a->eventID, a->dev ? a->dev->name : "-");
    ((remote_connect_node_device_event_register_any_ret *)ret)->callbackID = cb;
    if (a->eventID == 0) {
        remote_node_device_event_lifecycle_msg m = { cb, dev, 1, 0 };
        proto_fake_queue_event(c, REMOTE_PROC_NODE_DEVICE_EVENT_LIFECYCLE,
                               (xdrproc_t)xdr_remote_node_device_event_lifecycle_msg, &m);
    } else if (a->eventID == 1) {
        remote_node_device_event_update_msg m = { cb, dev };
        proto_fake_queue_event(c, REMOTE_PROC_NODE_DEVICE_EVENT_UPDATE,
                               (xdrproc_t)xdr_remote_node_device_event_update_msg, &m);
    }
    return TRUE;
}

gboolean
h_secret_event(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_secret_event_register_any_args);
    int cb = 500 + a->eventID;
    remote_nonnull_secret sec = { { 0 }, 1, (char *)"/img/vm1.raw" };

    proto_fake_log(c, "SECRET_REGISTER %d secret=%s", a->eventID, a->secret ? "yes" : "-");
    ((remote_connect_secret_event_register_any_ret *)ret)->callbackID = cb;
    memcpy(sec.uuid, vm1_uuid, 16);
    if (a->eventID == 0) {
        remote_secret_event_lifecycle_msg m = { cb, sec, 0, 0 };
        proto_fake_queue_event(c, REMOTE_PROC_SECRET_EVENT_LIFECYCLE,
                               (xdrproc_t)xdr_remote_secret_event_lifecycle_msg, &m);
    } else if (a->eventID == 1) {
        remote_secret_event_value_changed_msg m = { cb, sec };
        proto_fake_queue_event(c, REMOTE_PROC_SECRET_EVENT_VALUE_CHANGED,
                               (xdrproc_t)xdr_remote_secret_event_value_changed_msg, &m);
    }
    return TRUE;
}

gboolean
h_close_callback(ProtoFakeConn *c, void *args, void *ret)
{
    remote_connect_event_connection_closed_msg m = { 1 };   /* EOF */

    proto_fake_log(c, "REGISTER_CLOSE_CALLBACK");
    proto_fake_queue_event(c, REMOTE_PROC_CONNECT_EVENT_CONNECTION_CLOSED,
                           (xdrproc_t)xdr_remote_connect_event_connection_closed_msg, &m);
    return TRUE;
}
