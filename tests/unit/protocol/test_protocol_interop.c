/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_interop.c: the stock virsh 9.0 client against replies and
 * events encoded with our hyved_protocol.x, and arguments it sends decoded
 * with it. Checks the layouts that the Appendix A packets do not cover
 * (typed params, stats, leases, addresses, events, ...): a wrong field
 * order or type makes virsh fail to decode or print other values.
 * Skipped when virsh is not installed.
 */
#include <check.h>
#include <string.h>

#include "proto_fakesrv.h"

#define PYTHON3 "/usr/bin/python3"   /* python3-libvirt lives in Debian's system python */
#include "test_protocol.h"

static const guint8 vm1_uuid[16] = {
    0x77, 0xa7, 0xcf, 0xd9, 0x1e, 0x57, 0x52, 0x52,
    0x92, 0xd9, 0x0b, 0xcd, 0xeb, 0xe7, 0xa3, 0xc9,
};

static remote_nonnull_domain
vm1(void)
{
    remote_nonnull_domain d = { (char *)"vm1", { 0 }, 5 };

    memcpy(d.uuid, vm1_uuid, 16);
    return d;
}

#define RET(type) type *r = ret
#define ARGS(type) type *a = args

static gboolean
h_dom(ProtoFakeConn *c, void *args, void *ret)
{
    /* lookup by name/id/uuid all return { dom } */
    ((remote_domain_lookup_by_name_ret *)ret)->dom = vm1();
    return TRUE;
}

static gboolean
h_get_info(ProtoFakeConn *c, void *args, void *ret)
{
    RET(remote_domain_get_info_ret);
    r->state = 1;
    r->maxMem = 2097152;
    r->memory = 1048576;
    r->nrVirtCpu = 2;
    r->cpuTime = 7000000000ull;
    return TRUE;
}

static gboolean
h_node_cpu_stats(ProtoFakeConn *c, void *args, void *ret)
{
    static remote_node_get_cpu_stats p[] = {
        { (char *)"kernel", 1001 }, { (char *)"user", 2002 },
        { (char *)"idle", 3003 }, { (char *)"iowait", 4004 },
    };
    ARGS(remote_node_get_cpu_stats_args);
    RET(remote_node_get_cpu_stats_ret);

    proto_fake_log(c, "CPU_STATS cpuNum=%d nparams=%d", a->cpuNum, a->nparams);
    r->nparams = 4;
    if (a->nparams) {
        r->params.params_len = 4;
        r->params.params_val = p;
    }
    return TRUE;
}

static gboolean
h_node_mem_stats(ProtoFakeConn *c, void *args, void *ret)
{
    static remote_node_get_memory_stats p[] = {
        { (char *)"total", 16777216 }, { (char *)"free", 8388608 },
        { (char *)"buffers", 111 }, { (char *)"cached", 222 },
    };
    ARGS(remote_node_get_memory_stats_args);
    RET(remote_node_get_memory_stats_ret);

    proto_fake_log(c, "MEM_STATS cellNum=%d nparams=%d", a->cellNum, a->nparams);
    r->nparams = 4;
    if (a->nparams) {
        r->params.params_len = 4;
        r->params.params_val = p;
    }
    return TRUE;
}

static gboolean
h_all_stats(ProtoFakeConn *c, void *args, void *ret)
{
    static remote_typed_param p[8];
    static remote_domain_stats_record rec;
    ARGS(remote_connect_get_all_domain_stats_args);
    RET(remote_connect_get_all_domain_stats_ret);

    proto_fake_log(c, "ALL_STATS ndoms=%u dom=%s stats=%u flags=%u", a->doms.doms_len,
                   a->doms.doms_len ? a->doms.doms_val[0].name : "-", a->stats, a->flags);
    p[0].field = (char *)"state.state";
    p[0].value.type = REMOTE_TYPED_PARAM_INT;
    p[0].value.remote_typed_param_value_u.i = 1;
    p[1].field = (char *)"vcpu.current";
    p[1].value.type = REMOTE_TYPED_PARAM_UINT;
    p[1].value.remote_typed_param_value_u.ui = 2;
    p[2].field = (char *)"cpu.time";
    p[2].value.type = REMOTE_TYPED_PARAM_ULLONG;
    p[2].value.remote_typed_param_value_u.ul = 98765432109ull;
    p[3].field = (char *)"x.delta";
    p[3].value.type = REMOTE_TYPED_PARAM_LLONG;
    p[3].value.remote_typed_param_value_u.l = -42;
    p[4].field = (char *)"x.ratio";
    p[4].value.type = REMOTE_TYPED_PARAM_DOUBLE;
    p[4].value.remote_typed_param_value_u.d = 0.25;
    p[5].field = (char *)"x.flag";
    p[5].value.type = REMOTE_TYPED_PARAM_BOOLEAN;
    p[5].value.remote_typed_param_value_u.b = 1;
    p[6].field = (char *)"block.0.name";
    p[6].value.type = REMOTE_TYPED_PARAM_STRING;
    p[6].value.remote_typed_param_value_u.s = (char *)"vda";
    rec.dom = vm1();
    rec.params.params_len = 7;
    rec.params.params_val = p;
    r->retStats.retStats_len = 1;
    r->retStats.retStats_val = &rec;
    return TRUE;
}

static gboolean
h_ifaddr(ProtoFakeConn *c, void *args, void *ret)
{
    static char *hw = (char *)"52:54:00:aa:bb:cc";
    static remote_domain_ip_addr addrs[] = {
        { 0, (char *)"192.168.122.10", 24 }, { 1, (char *)"fd00::10", 64 },
    };
    static remote_domain_interface ifs[1];
    ARGS(remote_domain_interface_addresses_args);
    RET(remote_domain_interface_addresses_ret);

    proto_fake_log(c, "IFADDR dom=%s source=%u flags=%u", a->dom.name, a->source, a->flags);
    ifs[0].name = (char *)"vnet0";
    ifs[0].hwaddr = &hw;
    ifs[0].addrs.addrs_len = 2;
    ifs[0].addrs.addrs_val = addrs;
    r->ifaces.ifaces_len = 1;
    r->ifaces.ifaces_val = ifs;
    return TRUE;
}

static const guint8 net_uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static gboolean
h_net(ProtoFakeConn *c, void *args, void *ret)
{
    RET(remote_network_lookup_by_name_ret);
    r->net.name = (char *)"default";
    memcpy(r->net.uuid, net_uuid, 16);
    return TRUE;
}

static gboolean
h_leases(ProtoFakeConn *c, void *args, void *ret)
{
    static char *mac = (char *)"52:54:00:aa:bb:cc", *host = (char *)"guest1",
        *cid = (char *)"01:52:54:00:aa:bb:cc";
    static remote_network_dhcp_lease l;
    ARGS(remote_network_get_dhcp_leases_args);
    RET(remote_network_get_dhcp_leases_ret);

    proto_fake_log(c, "LEASES net=%s mac=%s need=%d flags=%u", a->net.name,
                   a->mac ? *a->mac : "-", a->need_results, a->flags);
    l.iface = (char *)"virbr0";
    l.expirytime = 2000000000;
    l.type = 0;
    l.mac = &mac;
    l.iaid = NULL;
    l.ipaddr = (char *)"192.168.122.77";
    l.prefix = 24;
    l.hostname = &host;
    l.clientid = &cid;
    r->leases.leases_len = a->need_results ? 1 : 0;
    r->leases.leases_val = &l;
    r->ret = 1;
    return TRUE;
}

static gboolean
h_ifstat(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_interface_stats_args);
    RET(remote_domain_interface_stats_ret);

    proto_fake_log(c, "IFSTAT device=%s", a->device);
    r->rx_bytes = 1111;
    r->rx_packets = 2222;
    r->rx_errs = 3333;
    r->rx_drop = 4444;
    r->tx_bytes = 5555;
    r->tx_packets = 6666;
    r->tx_errs = 7777;
    r->tx_drop = 8888;
    return TRUE;
}

static gboolean
h_blkstat(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_block_stats_args);
    RET(remote_domain_block_stats_ret);

    proto_fake_log(c, "BLKSTAT path=%s", a->path);
    r->rd_req = 11;
    r->rd_bytes = 22;
    r->wr_req = 33;
    r->wr_bytes = 44;
    r->errs = 55;
    return TRUE;
}

static gboolean
h_memstat(ProtoFakeConn *c, void *args, void *ret)
{
    static remote_domain_memory_stat s[] = { { 6, 1048576 }, { 7, 524288 }, { 4, 65536 } };
    ARGS(remote_domain_memory_stats_args);
    RET(remote_domain_memory_stats_ret);

    proto_fake_log(c, "MEMSTAT maxStats=%u", a->maxStats);
    r->stats.stats_len = 3;
    r->stats.stats_val = s;
    return TRUE;
}

static gboolean
h_blkinfo(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_get_block_info_args);
    RET(remote_domain_get_block_info_ret);

    proto_fake_log(c, "BLKINFO path=%s flags=%u", a->path, a->flags);
    r->capacity = 10737418240ull;
    r->allocation = 2147483648ull;
    r->physical = 3221225472ull;
    return TRUE;
}

static gboolean
h_control(ProtoFakeConn *c, void *args, void *ret)
{
    RET(remote_domain_get_control_info_ret);
    r->state = 2;   /* OCCUPIED */
    r->details = 0;
    r->stateTime = 1500;
    return TRUE;
}

static gboolean
h_hostname(ProtoFakeConn *c, void *args, void *ret)
{
    ((remote_domain_get_hostname_ret *)ret)->hostname = (char *)"guest1.example";
    return TRUE;
}

static gboolean
h_jobinfo(ProtoFakeConn *c, void *args, void *ret)
{
    RET(remote_domain_get_job_info_ret);
    r->type = 2;   /* UNBOUNDED */
    r->timeElapsed = 4321;
    r->dataTotal = 3145728;
    r->dataProcessed = 1048576;
    r->dataRemaining = 2097152;
    return TRUE;
}

static gboolean
h_vcpus_flags(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_get_vcpus_flags_args);

    /* 4 = VIR_DOMAIN_VCPU_MAXIMUM, 2 = CONFIG */
    proto_fake_log(c, "GET_VCPUS_FLAGS flags=%u", a->flags);
    ((remote_domain_get_vcpus_flags_ret *)ret)->num = (a->flags & 4 ? 8 : 3) +
                                                      (a->flags & 2 ? 0 : 1);
    return TRUE;
}

static gboolean
h_set_vcpus(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_set_vcpus_flags_args);

    proto_fake_log(c, "SET_VCPUS dom=%s nvcpus=%u flags=%u", a->dom.name, a->nvcpus, a->flags);
    return TRUE;
}

static gboolean
h_get_metadata(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_get_metadata_args);

    proto_fake_log(c, "GET_METADATA type=%d uri=%s flags=%u", a->type,
                   a->uri ? *a->uri : "-", a->flags);
    ((remote_domain_get_metadata_ret *)ret)->metadata =
        a->type == 1 ? (char *)"Title of vm1" : (char *)"<note>hello</note>";
    return TRUE;
}

static gboolean
h_set_metadata(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_domain_set_metadata_args);

    proto_fake_log(c, "SET_METADATA type=%d metadata=%s key=%s uri=%s flags=%u", a->type,
                   a->metadata ? *a->metadata : "-", a->key ? *a->key : "-",
                   a->uri ? *a->uri : "-", a->flags);
    return TRUE;
}

static gboolean
h_cpu_map(ProtoFakeConn *c, void *args, void *ret)
{
    static char map[] = { 0x0b };
    ARGS(remote_node_get_cpu_map_args);
    RET(remote_node_get_cpu_map_ret);

    proto_fake_log(c, "CPU_MAP need_map=%d need_online=%d", a->need_map, a->need_online);
    if (a->need_map) {
        r->cpumap.cpumap_len = 1;
        r->cpumap.cpumap_val = map;
    }
    r->online = 3;
    r->ret = 4;
    return TRUE;
}

static gboolean
h_cells_free(ProtoFakeConn *c, void *args, void *ret)
{
    static u_quad_t cells[] = { 8589934592ull };
    ARGS(remote_node_get_cells_free_memory_args);
    RET(remote_node_get_cells_free_memory_ret);

    proto_fake_log(c, "CELLS start=%d max=%d", a->startCell, a->maxcells);
    r->cells.cells_len = 1;
    r->cells.cells_val = cells;
    return TRUE;
}

static gboolean
h_sysinfo(ProtoFakeConn *c, void *args, void *ret)
{
    ((remote_connect_get_sysinfo_ret *)ret)->sysinfo =
        (char *)"<sysinfo type='smbios'><system><entry name='product'>hyve-test</entry>"
                "</system></sysinfo>";
    return TRUE;
}

static gboolean
h_max_vcpus(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_connect_get_max_vcpus_args);

    proto_fake_log(c, "MAX_VCPUS type=%s", a->type ? *a->type : "-");
    ((remote_connect_get_max_vcpus_ret *)ret)->max_vcpus = 77;
    return TRUE;
}

static gboolean
h_nodedevs(ProtoFakeConn *c, void *args, void *ret)
{
    static remote_nonnull_node_device devs[] = { { (char *)"computer" },
                                                 { (char *)"pci_0000_00_1f_2" } };
    ARGS(remote_connect_list_all_node_devices_args);
    RET(remote_connect_list_all_node_devices_ret);

    proto_fake_log(c, "NODEDEVS need=%d flags=%u", a->need_results, a->flags);
    r->devices.devices_len = 2;
    r->devices.devices_val = devs;
    r->ret = 2;
    return TRUE;
}

static gboolean
h_nodedev(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_node_device_lookup_by_name_args);

    proto_fake_log(c, "NODEDEV_LOOKUP name=%s", a->name);
    ((remote_node_device_lookup_by_name_ret *)ret)->dev.name = (char *)"computer";
    return TRUE;
}

static gboolean
h_nodedev_xml(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_node_device_get_xml_desc_args);

    proto_fake_log(c, "NODEDEV_XML name=%s flags=%u", a->name, a->flags);
    ((remote_node_device_get_xml_desc_ret *)ret)->xml =
        (char *)"<device><name>computer</name><capability type='system'/></device>";
    return TRUE;
}

static const guint8 pool_uuid[16] = { 9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7, 6, 6, 6, 6 };

static gboolean
h_pool(ProtoFakeConn *c, void *args, void *ret)
{
    RET(remote_storage_pool_lookup_by_name_ret);
    r->pool.name = (char *)"default";
    memcpy(r->pool.uuid, pool_uuid, 16);
    return TRUE;
}

static gboolean
h_pool_info(ProtoFakeConn *c, void *args, void *ret)
{
    RET(remote_storage_pool_get_info_ret);
    r->state = 2;
    r->capacity = 107374182400ull;
    r->allocation = 32212254720ull;
    r->available = 75161927680ull;
    return TRUE;
}

static gboolean
h_one(ProtoFakeConn *c, void *args, void *ret)
{
    /* every { int x } reply used below: is_persistent, autostart, is_active */
    *(int *)ret = 1;
    return TRUE;
}

static gboolean
h_vol(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_storage_vol_lookup_by_name_args);
    RET(remote_storage_vol_lookup_by_name_ret);

    proto_fake_log(c, "VOL_LOOKUP pool=%s name=%s", a->pool.name, a->name);
    r->vol.pool = (char *)"default";
    r->vol.name = (char *)"disk1.img";
    r->vol.key = (char *)"/var/lib/hyve/images/disk1.img";
    return TRUE;
}

static gboolean
h_vol_info(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_storage_vol_get_info_args);
    RET(remote_storage_vol_get_info_ret);

    proto_fake_log(c, "VOL_INFO key=%s", a->vol.key);
    r->type = 0;
    r->capacity = 1073741824;
    r->allocation = 4096;
    return TRUE;
}

/* ---- events --------------------------------------------------------- */

static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
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

static gboolean
h_is_secure(ProtoFakeConn *c, void *args, void *ret)
{
    proto_fake_log(c, "IS_SECURE");
    ((remote_connect_is_secure_ret *)ret)->secure = 1;
    return TRUE;
}

static gboolean
h_num_devices(ProtoFakeConn *c, void *args, void *ret)
{
    ARGS(remote_node_num_of_devices_args);

    proto_fake_log(c, "NUM_DEVICES cap=%s flags=%u", a->cap ? *a->cap : "-", a->flags);
    ((remote_node_num_of_devices_ret *)ret)->num = 2;
    return TRUE;
}

static gboolean
h_list_devices(ProtoFakeConn *c, void *args, void *ret)
{
    static char *names[] = { (char *)"pci_0000_00_1f_2", (char *)"pci_0000_00_02_0" };
    ARGS(remote_node_list_devices_args);
    RET(remote_node_list_devices_ret);

    proto_fake_log(c, "LIST_DEVICES cap=%s maxnames=%d flags=%u", a->cap ? *a->cap : "-",
                   a->maxnames, a->flags);
    r->names.names_len = MIN(2, a->maxnames);
    r->names.names_val = names;
    return TRUE;
}

static gboolean
h_close_callback(ProtoFakeConn *c, void *args, void *ret)
{
    remote_connect_event_connection_closed_msg m = { 1 };   /* EOF */

    proto_fake_log(c, "REGISTER_CLOSE_CALLBACK");
    proto_fake_queue_event(c, REMOTE_PROC_CONNECT_EVENT_CONNECTION_CLOSED,
                           (xdrproc_t)xdr_remote_connect_event_connection_closed_msg, &m);
    return TRUE;
}

#define P(proc, a, r, h) \
    { REMOTE_PROC_##proc, #proc, (xdrproc_t)xdr_remote_##a, sizeof(remote_##a), \
      (xdrproc_t)xdr_remote_##r, sizeof(remote_##r), h }
#define PV(proc, a, h) \
    { REMOTE_PROC_##proc, #proc, (xdrproc_t)xdr_remote_##a, sizeof(remote_##a), NULL, 0, h }

static const ProtoFakeProc procs[] = {
    P(DOMAIN_LOOKUP_BY_NAME, domain_lookup_by_name_args, domain_lookup_by_name_ret, h_dom),
    P(DOMAIN_LOOKUP_BY_ID, domain_lookup_by_id_args, domain_lookup_by_id_ret, h_dom),
    P(DOMAIN_LOOKUP_BY_UUID, domain_lookup_by_uuid_args, domain_lookup_by_uuid_ret, h_dom),
    P(DOMAIN_GET_INFO, domain_get_info_args, domain_get_info_ret, h_get_info),
    P(DOMAIN_IS_ACTIVE, domain_is_active_args, domain_is_active_ret, h_one),
    P(DOMAIN_IS_PERSISTENT, domain_is_persistent_args, domain_is_persistent_ret, h_one),
    P(NODE_GET_CPU_STATS, node_get_cpu_stats_args, node_get_cpu_stats_ret, h_node_cpu_stats),
    P(NODE_GET_MEMORY_STATS, node_get_memory_stats_args, node_get_memory_stats_ret,
      h_node_mem_stats),
    P(CONNECT_GET_ALL_DOMAIN_STATS, connect_get_all_domain_stats_args,
      connect_get_all_domain_stats_ret, h_all_stats),
    P(DOMAIN_INTERFACE_ADDRESSES, domain_interface_addresses_args,
      domain_interface_addresses_ret, h_ifaddr),
    P(NETWORK_LOOKUP_BY_NAME, network_lookup_by_name_args, network_lookup_by_name_ret, h_net),
    P(NETWORK_GET_DHCP_LEASES, network_get_dhcp_leases_args, network_get_dhcp_leases_ret,
      h_leases),
    P(DOMAIN_INTERFACE_STATS, domain_interface_stats_args, domain_interface_stats_ret, h_ifstat),
    P(DOMAIN_BLOCK_STATS, domain_block_stats_args, domain_block_stats_ret, h_blkstat),
    P(DOMAIN_MEMORY_STATS, domain_memory_stats_args, domain_memory_stats_ret, h_memstat),
    P(DOMAIN_GET_BLOCK_INFO, domain_get_block_info_args, domain_get_block_info_ret, h_blkinfo),
    P(DOMAIN_GET_CONTROL_INFO, domain_get_control_info_args, domain_get_control_info_ret,
      h_control),
    P(DOMAIN_GET_HOSTNAME, domain_get_hostname_args, domain_get_hostname_ret, h_hostname),
    P(DOMAIN_GET_JOB_INFO, domain_get_job_info_args, domain_get_job_info_ret, h_jobinfo),
    P(DOMAIN_GET_VCPUS_FLAGS, domain_get_vcpus_flags_args, domain_get_vcpus_flags_ret,
      h_vcpus_flags),
    PV(DOMAIN_SET_VCPUS_FLAGS, domain_set_vcpus_flags_args, h_set_vcpus),
    P(DOMAIN_GET_METADATA, domain_get_metadata_args, domain_get_metadata_ret, h_get_metadata),
    PV(DOMAIN_SET_METADATA, domain_set_metadata_args, h_set_metadata),
    P(NODE_GET_CPU_MAP, node_get_cpu_map_args, node_get_cpu_map_ret, h_cpu_map),
    P(NODE_GET_CELLS_FREE_MEMORY, node_get_cells_free_memory_args,
      node_get_cells_free_memory_ret, h_cells_free),
    P(CONNECT_GET_MAX_VCPUS, connect_get_max_vcpus_args, connect_get_max_vcpus_ret, h_max_vcpus),
    P(CONNECT_LIST_ALL_NODE_DEVICES, connect_list_all_node_devices_args,
      connect_list_all_node_devices_ret, h_nodedevs),
    P(NODE_DEVICE_LOOKUP_BY_NAME, node_device_lookup_by_name_args,
      node_device_lookup_by_name_ret, h_nodedev),
    P(NODE_DEVICE_GET_XML_DESC, node_device_get_xml_desc_args, node_device_get_xml_desc_ret,
      h_nodedev_xml),
    P(STORAGE_POOL_LOOKUP_BY_NAME, storage_pool_lookup_by_name_args,
      storage_pool_lookup_by_name_ret, h_pool),
    P(STORAGE_POOL_GET_INFO, storage_pool_get_info_args, storage_pool_get_info_ret, h_pool_info),
    P(STORAGE_POOL_IS_PERSISTENT, storage_pool_is_persistent_args,
      storage_pool_is_persistent_ret, h_one),
    P(STORAGE_POOL_IS_ACTIVE, storage_pool_is_active_args, storage_pool_is_active_ret, h_one),
    P(STORAGE_POOL_GET_AUTOSTART, storage_pool_get_autostart_args,
      storage_pool_get_autostart_ret, h_one),
    P(STORAGE_VOL_LOOKUP_BY_NAME, storage_vol_lookup_by_name_args,
      storage_vol_lookup_by_name_ret, h_vol),
    P(STORAGE_VOL_GET_INFO, storage_vol_get_info_args, storage_vol_get_info_ret, h_vol_info),
    PV(CONNECT_DOMAIN_EVENT_REGISTER_ANY, connect_domain_event_register_any_args,
       h_event_legacy),
    PV(CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, connect_domain_event_deregister_any_args, NULL),
    P(CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, connect_domain_event_callback_register_any_args,
      connect_domain_event_callback_register_any_ret, h_event_callback),
    PV(CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
       connect_domain_event_callback_deregister_any_args, NULL),
    P(CONNECT_NETWORK_EVENT_REGISTER_ANY, connect_network_event_register_any_args,
      connect_network_event_register_any_ret, h_net_event),
    PV(CONNECT_NETWORK_EVENT_DEREGISTER_ANY, connect_network_event_deregister_any_args, NULL),
    P(CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, connect_storage_pool_event_register_any_args,
      connect_storage_pool_event_register_any_ret, h_pool_event),
    PV(CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY, connect_storage_pool_event_deregister_any_args,
       NULL),
    P(CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY, connect_node_device_event_register_any_args,
      connect_node_device_event_register_any_ret, h_nodedev_event),
    PV(CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY, connect_node_device_event_deregister_any_args,
       NULL),
    P(CONNECT_SECRET_EVENT_REGISTER_ANY, connect_secret_event_register_any_args,
      connect_secret_event_register_any_ret, h_secret_event),
    PV(CONNECT_SECRET_EVENT_DEREGISTER_ANY, connect_secret_event_deregister_any_args, NULL),
    { REMOTE_PROC_CONNECT_IS_SECURE, "CONNECT_IS_SECURE", NULL, 0,
      (xdrproc_t)xdr_remote_connect_is_secure_ret, sizeof(remote_connect_is_secure_ret),
      h_is_secure },
    P(NODE_NUM_OF_DEVICES, node_num_of_devices_args, node_num_of_devices_ret, h_num_devices),
    P(NODE_LIST_DEVICES, node_list_devices_args, node_list_devices_ret, h_list_devices),
    { REMOTE_PROC_CONNECT_REGISTER_CLOSE_CALLBACK, "REGISTER_CLOSE_CALLBACK", NULL, 0, NULL, 0,
      h_close_callback },
    { REMOTE_PROC_CONNECT_UNREGISTER_CLOSE_CALLBACK, "UNREGISTER_CLOSE_CALLBACK", NULL, 0,
      NULL, 0, NULL },
    { REMOTE_PROC_CONNECT_GET_SYSINFO, "CONNECT_GET_SYSINFO",
      (xdrproc_t)xdr_remote_connect_get_sysinfo_args, sizeof(remote_connect_get_sysinfo_args),
      (xdrproc_t)xdr_remote_connect_get_sysinfo_ret, sizeof(remote_connect_get_sysinfo_ret),
      h_sysinfo },
};

typedef struct {
    const char *name;
    guint features;                 /* SUPPORTS_FEATURE bits answered 1 */
    const char *argv[8];            /* virsh arguments after -c URI */
    const char *out[10];            /* substrings expected in stdout */
    const char *log[4];             /* substrings expected in the server log */
    const char *python;             /* instead of virsh: python3 -c this, URI as argv[1] */
    const char *err;                /* substring expected in stderr (exit status then free) */
} InteropCase;

#define F_EVENT_CALLBACK (1u << 14)
#define F_CLOSE_CALLBACK (1u << 15)

#include "test_protocol_interop_cases.h"

START_TEST(test_virsh)
{
    const InteropCase *tc = &interop_cases[_i];
    g_autofree char *virsh = g_find_program_in_path("virsh");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *log = NULL;
    g_autoptr(GError) error = NULL;
    ProtoFakeServer *srv;
    int status = -1;
    gsize i;

    if (!virsh || (tc->python && !g_file_test(PYTHON3, G_FILE_TEST_IS_EXECUTABLE)))
        return;   /* reported once by test_clients_present */
    srv = proto_fake_server_start(procs, G_N_ELEMENTS(procs), tc->features);
    if (tc->python) {
        g_ptr_array_add(argv, (char *)PYTHON3);
        g_ptr_array_add(argv, (char *)"-c");
        g_ptr_array_add(argv, (char *)tc->python);
        g_ptr_array_add(argv, (char *)proto_fake_server_uri(srv));
    } else {
        g_ptr_array_add(argv, virsh);
        g_ptr_array_add(argv, (char *)"-c");
        g_ptr_array_add(argv, (char *)proto_fake_server_uri(srv));
        for (i = 0; tc->argv[i]; i++)
            g_ptr_array_add(argv, (char *)tc->argv[i]);
    }
    g_ptr_array_add(argv, NULL);
    ck_assert_msg(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error),
                  "%s: spawn: %s", tc->name, error ? error->message : "?");
    log = proto_fake_server_stop(srv);

    /* a case that expects an error message may end with a failure status */
    ck_assert_msg(tc->err || g_spawn_check_wait_status(status, NULL),
                  "%s: virsh failed\nstdout: %s\nstderr: %s\nserver: %s",
                  tc->name, out, err, log);
    ck_assert_msg(!strstr(log, "BADARGS") && !strstr(log, "BADRET"),
                  "%s: codec failure in server log:\n%s", tc->name, log);
    for (i = 0; tc->out[i]; i++)
        ck_assert_msg(strstr(out, tc->out[i]) != NULL,
                      "%s: stdout lacks '%s'\nstdout: %s\nserver: %s",
                      tc->name, tc->out[i], out, log);
    if (tc->err)
        ck_assert_msg(strstr(err, tc->err) != NULL, "%s: stderr lacks '%s'\nstderr: %s",
                      tc->name, tc->err, err);
    for (i = 0; tc->log[i]; i++)
        ck_assert_msg(strstr(log, tc->log[i]) != NULL,
                      "%s: server did not decode '%s'\nserver: %s", tc->name, tc->log[i], log);
}
END_TEST

START_TEST(test_clients_present)
{
    g_autofree char *virsh = g_find_program_in_path("virsh");

    if (!virsh)
        fprintf(stderr, "virsh not installed: interop cases skipped\n");
    if (!g_file_test(PYTHON3, G_FILE_TEST_IS_EXECUTABLE))
        fprintf(stderr, PYTHON3 " not installed: python interop cases skipped\n");
}
END_TEST

TCase *
test_protocol_interop_tcase(void)
{
    TCase *tc = tcase_create("interop");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_clients_present);
    tcase_add_loop_test(tc, test_virsh, 0, G_N_ELEMENTS(interop_cases));
    return tc;
}
