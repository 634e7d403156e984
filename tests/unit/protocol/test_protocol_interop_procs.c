/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_interop_procs.c: the fake server's canned replies for
 * test_protocol_interop.c, one handler per procedure the virsh and python
 * cases call, with values only these replies carry (so the cases can tell
 * them apart in the client's output), and the events they queue.
 */
#include <string.h>

#include "test_protocol_interop_procs.h"

const guint8 vm1_uuid[16] = {
    0x77, 0xa7, 0xcf, 0xd9, 0x1e, 0x57, 0x52, 0x52,
    0x92, 0xd9, 0x0b, 0xcd, 0xeb, 0xe7, 0xa3, 0xc9,
};

remote_nonnull_domain
vm1(void)
{
    remote_nonnull_domain d = { (char *)"vm1", { 0 }, 5 };

    memcpy(d.uuid, vm1_uuid, 16);
    return d;
}

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

const guint8 net_uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

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

const guint8 pool_uuid[16] = { 9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7, 6, 6, 6, 6 };

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

#define P(proc, a, r, h) \
    { REMOTE_PROC_##proc, #proc, (xdrproc_t)xdr_remote_##a, sizeof(remote_##a), \
      (xdrproc_t)xdr_remote_##r, sizeof(remote_##r), h }
#define PV(proc, a, h) \
    { REMOTE_PROC_##proc, #proc, (xdrproc_t)xdr_remote_##a, sizeof(remote_##a), NULL, 0, h }

const ProtoFakeProc interop_procs[] = {
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
const gsize interop_nprocs = G_N_ELEMENTS(interop_procs);
