/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_stats.c: the statistics procedures (hyved_remote_domain_stats.c
 * over hyve_driver_stats.c) through the real in-process server with raw
 * packets. A domain is made "running" by hand: its HyveDomainRun names this
 * test process (whose threads "vcpu0", "vcpu1" burn CPU like vCPU threads)
 * and a fake runner control socket that answers "stats" with known
 * counters; a sparse file is its disk. So every number checked has one
 * known source: the kernel's accounting, the runner's counters, the file.
 */
#include "hyve-config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "test_daemon_util.h"
#include "hyve_domain_obj.h"
#include "hyve_process.h"

#define DISK_SIZE (G_GUINT64_CONSTANT(64) << 20)
#define MAC "52:54:00:aa:bb:cc"

typedef struct {
    TestServer *ts;
    int fd;
    char *disk;
    char *ctl;
    char *payload;              /* the fake runner's "stats" answer */
    int listen_fd;
    GThread *runner;
    GThread *vcpu[2];
    gint stop;
    gint spun;                  /* vCPU threads done burning CPU */
    HyveDomainObj *on, *off;
    remote_nonnull_domain on_dom, off_dom;
} Fx;

static const char *
domain_xml(const char *name, const char *disk)
{
    return g_strdup_printf(
        "<domain type='bhyve'><name>%s</name>"
        "<memory unit='KiB'>262144</memory><currentMemory unit='KiB'>131072</currentMemory>"
        "<vcpu current='3'>4</vcpu>"
        "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os>"
        "<devices><disk type='file' device='disk'><driver name='file' type='raw'/>"
        "<source file='%s'/><target dev='vda' bus='virtio'/></disk>"
        "<interface type='bridge'><source bridge='br0'/><mac address='" MAC "'/>"
        "<target dev='lo'/><model type='virtio'/></interface>"
        "</devices></domain>", name, disk);
}

static gpointer
vcpu_thread(gpointer data)
{
    Fx *fx = data;
    struct timespec ts = { 0 };

    while (ts.tv_nsec < 30000000 && ts.tv_sec == 0)      /* 30 ms of this thread's CPU time */
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    g_atomic_int_inc(&fx->spun);
    while (!g_atomic_int_get(&fx->stop))
        g_usleep(2000);
    return NULL;
}

static gpointer
runner_thread(gpointer data)
{
    Fx *fx = data;

    while (!g_atomic_int_get(&fx->stop)) {
        struct pollfd pfd = { .fd = fx->listen_fd, .events = POLLIN };
        char req[128] = { 0 };
        g_autofree char *reply = NULL;
        int c;

        if (poll(&pfd, 1, 20) <= 0 || (c = accept(fx->listen_fd, NULL, NULL)) < 0)
            continue;
        if (recv(c, req, sizeof(req) - 1, 0) > 0 && g_str_has_prefix(req, "stats\n"))
            reply = g_strdup_printf("ok %s\n", fx->payload);
        else
            reply = g_strdup("error 55 unexpected request\n");
        (void)!send(c, reply, strlen(reply), MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static guint64
self_start_time(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) f = NULL;

    ck_assert(g_file_get_contents("/proc/self/stat", &text, NULL, NULL));
    f = g_strsplit(strrchr(text, ')') + 2, " ", -1);
    return g_ascii_strtoull(f[22 - 3], NULL, 10);
}

static HyveDomainObj *
define(Fx *fx, const char *name, remote_nonnull_domain *wire)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = (char *)domain_xml(name, fx->disk);
    HyveDomainObj *obj = hyve_driver_define_xml(fx->ts->driver, xml, 0, &err);

    ck_assert_msg(obj, "define %s: %s", name, err ? err->message : "?");
    wire->name = (char *)name;
    memcpy(wire->uuid, obj->uuid, HYVE_UUID_LEN);
    wire->id = -1;
    return obj;
}

/* @runner_up FALSE: the control socket does not exist (runner not answering). */
static void
fx_setup(Fx *fx, gboolean runner_up)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    HyveDomainDef *def;
    int fd;

    memset(fx, 0, sizeof(*fx));
    fx->ts = test_server_start(HYVED_AUTH_NONE, NULL);
    fx->disk = g_build_filename(fx->ts->dir, "disk.img", NULL);
    fx->ctl = g_build_filename(fx->ts->dir, "vm-on.ctl", NULL);
    fd = open(fx->disk, O_CREAT | O_WRONLY, 0600);
    ck_assert(fd >= 0 && ftruncate(fd, (off_t)DISK_SIZE) == 0);
    ck_assert(pwrite(fd, "x", 1, 1 << 20) == 1 && pwrite(fd, "y", 1, 8 << 20) == 1);
    ck_assert(fsync(fd) == 0);
    close(fd);
    fx->on = define(fx, "vm-on", &fx->on_dom);
    fx->off = define(fx, "vm-off", &fx->off_dom);

    def = fx->on->def;
    fx->payload = g_strdup_printf(
        "uptime_ms=10 vcpu0.time_ns=5000 vcpu1.time_ns=6000 vcpu2.time_ns=7000 "
        "blk%1$u.reads=11 blk%1$u.read_bytes=4096 blk%1$u.writes=22 blk%1$u.write_bytes=8192 "
        "blk%1$u.flushes=3 blk%1$u.errors=0 net%2$u.rx_packets=5 net%2$u.tx_packets=6 "
        "net%2$u.rx_bytes=500 net%2$u.tx_bytes=600",
        ((HyveDiskDef *)g_ptr_array_index(def->disks, 0))->addr.slot,
        ((HyveNetDef *)g_ptr_array_index(def->nets, 0))->addr.slot);
    fx->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sun.sun_path, fx->ctl, sizeof(sun.sun_path));
    if (runner_up) {
        ck_assert(bind(fx->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
        ck_assert(listen(fx->listen_fd, 8) == 0);
        fx->runner = g_thread_new("fake-runner", runner_thread, fx);
    }
    fx->vcpu[0] = g_thread_new("vcpu0", vcpu_thread, fx);
    fx->vcpu[1] = g_thread_new("vcpu1", vcpu_thread, fx);
    while (g_atomic_int_get(&fx->spun) < 2)
        g_usleep(1000);

    g_mutex_lock(&fx->on->lock);
    fx->on->run = g_new0(HyveDomainRun, 1);
    fx->on->run->pid = getpid();
    fx->on->run->start_time = self_start_time();
    fx->on->run->pidfd = -1;
    fx->on->run->paths.control = g_strdup(fx->ctl);
    fx->on->id = 7;
    fx->on->state = HYVE_DOMAIN_STATE_RUNNING;
    fx->on->reason = 1;
    g_mutex_unlock(&fx->on->lock);
    fx->on_dom.id = 7;

    fx->fd = test_connect(fx->ts->sock_ro);
    test_open(fx->fd, "bhyve:///system", 1);
}

static void
fx_teardown(Fx *fx)
{
    g_atomic_int_set(&fx->stop, 1);
    for (int i = 0; i < 2; i++)
        g_thread_join(fx->vcpu[i]);
    if (fx->runner)
        g_thread_join(fx->runner);
    close(fx->listen_fd);
    close(fx->fd);
    g_mutex_lock(&fx->on->lock);
    g_free(fx->on->run->paths.control);
    g_clear_pointer(&fx->on->run, g_free);
    fx->on->id = -1;
    fx->on->state = HYVE_DOMAIN_STATE_SHUTOFF;
    g_mutex_unlock(&fx->on->lock);
    hyve_domain_obj_unref(fx->on);
    hyve_domain_obj_unref(fx->off);
    test_server_stop(fx->ts);
    g_free(fx->disk);
    g_free(fx->ctl);
    g_free(fx->payload);
}

static void
call_ok(Fx *fx, const char *what, gint32 proc, xdrproc_t af, void *a, xdrproc_t rf, void *r)
{
    TestReply rep = { 0 };

    ck_assert_msg(test_call(fx->fd, proc, 10, af, a, rf, r, &rep), "%s: no reply", what);
    ck_assert_msg(!rep.is_error, "%s: error %d: %s", what, rep.code, rep.message);
    test_reply_clear(&rep);
}

/* ---- DOMAIN_GET_VCPU_PIN_INFO has no generated types: libvirt's layout ---- */
typedef struct { remote_nonnull_domain dom; int ncpumaps, maplen; u_int flags; } PinArgs;
typedef struct { u_int len; char *val; int num; } PinRet;
static bool_t
xdr_pin_args(XDR *x, PinArgs *a)
{
    return xdr_remote_nonnull_domain(x, &a->dom) && xdr_int(x, &a->ncpumaps) &&
           xdr_int(x, &a->maplen) && xdr_u_int(x, &a->flags);
}
static bool_t
xdr_pin_ret(XDR *x, PinRet *r)
{
    return xdr_bytes(x, &r->val, &r->len, REMOTE_CPUMAPS_MAX) && xdr_int(x, &r->num);
}

/* ---- errors: a table of calls and what libvirt answers ------------------- */

typedef struct {
    const char *name;
    gint32 proc;
    gboolean inactive;          /* on vm-off instead of vm-on */
    int i1, i2;                 /* maxinfo/maplen, nparams, maxStats, ncpumaps/maplen */
    guint flags;
    const char *path;
    int code, domain;
    const char *message;        /* prefix */
} ErrCase;

static const ErrCase err_cases[] = {
    { "vcpus-maxinfo-limit", REMOTE_PROC_DOMAIN_GET_VCPUS, FALSE, 16385, 1, 0, NULL,
      1, 7, "internal error: maxinfo > REMOTE_VCPUINFO_MAX" },
    { "vcpus-map-limit", REMOTE_PROC_DOMAIN_GET_VCPUS, FALSE, 16384, 1024, 0, NULL,
      1, 7, "internal error: maxinfo * maplen > REMOTE_CPUMAPS_MAX" },
    { "vcpus-map-overflow", REMOTE_PROC_DOMAIN_GET_VCPUS, FALSE, 4, INT_MAX, 0, NULL,
      1, 7, "internal error: maxinfo * maplen > REMOTE_CPUMAPS_MAX" },
    { "vcpus-maxinfo-negative", REMOTE_PROC_DOMAIN_GET_VCPUS, FALSE, -5, 1, 0, NULL,
      8, 20, "invalid argument: maxinfo in virDomainGetVcpus must be greater than zero" },
    { "vcpus-inactive", REMOTE_PROC_DOMAIN_GET_VCPUS, TRUE, 4, 1, 0, NULL,
      55, 57, "Requested operation is not valid: domain is not running" },
    { "pin-limit", REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO, FALSE, 16385, 1, 0, NULL,
      1, 7, "internal error: ncpumaps > REMOTE_VCPUINFO_MAX" },
    { "pin-maplen-zero", REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO, FALSE, 4, 0, 0, NULL,
      8, 20, "invalid argument: maplen in virDomainGetVcpuPinInfo must be greater than zero" },
    { "blkstat-bad-path", REMOTE_PROC_DOMAIN_BLOCK_STATS, FALSE, 0, 0, 0, "sdz",
      8, 57, "invalid argument: invalid path: sdz" },
    { "blkstat-inactive", REMOTE_PROC_DOMAIN_BLOCK_STATS, TRUE, 0, 0, 0, "vda",
      55, 57, "Requested operation is not valid: domain is not running" },
    { "blkstatflags-nparams-limit", REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS, FALSE, 17, 0, 0,
      "vda", 1, 7, "internal error: nparams too large" },
    { "blkstatflags-bad-flags", REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS, FALSE, 5, 0, 1,
      "vda", 8, 57, "invalid argument: unsupported flags (0x1)" },
    { "ifstat-bad-dev", REMOTE_PROC_DOMAIN_INTERFACE_STATS, FALSE, 0, 0, 0, "eth9",
      8, 57, "invalid argument: invalid path, 'eth9' is not a known interface" },
    { "ifstat-inactive", REMOTE_PROC_DOMAIN_INTERFACE_STATS, TRUE, 0, 0, 0, MAC,
      55, 57, "Requested operation is not valid: domain is not running" },
    { "memstat-limit", REMOTE_PROC_DOMAIN_MEMORY_STATS, FALSE, 1025, 0, 0, NULL,
      1, 7, "internal error: maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX" },
    { "memstat-inactive", REMOTE_PROC_DOMAIN_MEMORY_STATS, TRUE, 10, 0, 0, NULL,
      55, 57, "Requested operation is not valid: domain is not running" },
    { "blkinfo-bad-path", REMOTE_PROC_DOMAIN_GET_BLOCK_INFO, FALSE, 0, 0, 0, "/nope",
      8, 57, "invalid argument: invalid path /nope not assigned to domain" },
    { "blkinfo-bad-flags", REMOTE_PROC_DOMAIN_GET_BLOCK_INFO, FALSE, 0, 0, 2, "vda",
      8, 57, "invalid argument: unsupported flags (0x2)" },
    { "control-inactive", REMOTE_PROC_DOMAIN_GET_CONTROL_INFO, TRUE, 0, 0, 0, NULL,
      55, 57, "Requested operation is not valid: domain is not running" },
    { "allstats-bad-flags", REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS, FALSE, 0, 0, 1u << 20,
      NULL, 8, 57, "invalid argument: unsupported flags (0x100000)" },
    { "allstats-enforce", REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS, FALSE, 64, 0, 1u << 31,
      NULL, 74, 57, "argument unsupported: Stats types bits 0x40 are not supported" },
};

START_TEST(test_error_case)
{
    const ErrCase *c = &err_cases[_i];
    Fx fx;
    remote_nonnull_domain *dom;
    TestReply rep = { 0 };
    union {
        remote_domain_get_vcpus_args vcpus;
        PinArgs pin;
        remote_domain_block_stats_args blk;
        remote_domain_block_stats_flags_args blkf;
        remote_domain_interface_stats_args ifs;
        remote_domain_memory_stats_args mem;
        remote_domain_get_block_info_args info;
        remote_domain_get_control_info_args ctl;
        remote_connect_get_all_domain_stats_args all;
    } a;
    xdrproc_t af = NULL;

    fx_setup(&fx, TRUE);
    dom = c->inactive ? &fx.off_dom : &fx.on_dom;
    memset(&a, 0, sizeof(a));
    switch (c->proc) {
    case REMOTE_PROC_DOMAIN_GET_VCPUS:
        a.vcpus = (remote_domain_get_vcpus_args){ *dom, c->i1, c->i2 };
        af = (xdrproc_t)xdr_remote_domain_get_vcpus_args;
        break;
    case REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO:
        a.pin = (PinArgs){ *dom, c->i1, c->i2, c->flags };
        af = (xdrproc_t)xdr_pin_args;
        break;
    case REMOTE_PROC_DOMAIN_BLOCK_STATS:
    case REMOTE_PROC_DOMAIN_INTERFACE_STATS:
        a.blk = (remote_domain_block_stats_args){ *dom, (char *)c->path };
        af = c->proc == REMOTE_PROC_DOMAIN_BLOCK_STATS ?
             (xdrproc_t)xdr_remote_domain_block_stats_args :
             (xdrproc_t)xdr_remote_domain_interface_stats_args;
        break;
    case REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS:
        a.blkf = (remote_domain_block_stats_flags_args){ *dom, (char *)c->path, c->i1, c->flags };
        af = (xdrproc_t)xdr_remote_domain_block_stats_flags_args;
        break;
    case REMOTE_PROC_DOMAIN_MEMORY_STATS:
        a.mem = (remote_domain_memory_stats_args){ *dom, (u_int)c->i1, c->flags };
        af = (xdrproc_t)xdr_remote_domain_memory_stats_args;
        break;
    case REMOTE_PROC_DOMAIN_GET_BLOCK_INFO:
        a.info = (remote_domain_get_block_info_args){ *dom, (char *)c->path, c->flags };
        af = (xdrproc_t)xdr_remote_domain_get_block_info_args;
        break;
    case REMOTE_PROC_DOMAIN_GET_CONTROL_INFO:
        a.ctl = (remote_domain_get_control_info_args){ *dom, c->flags };
        af = (xdrproc_t)xdr_remote_domain_get_control_info_args;
        break;
    case REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS:
        a.all.stats = (u_int)c->i1;
        a.all.flags = c->flags;
        af = (xdrproc_t)xdr_remote_connect_get_all_domain_stats_args;
        break;
    }
    ck_assert_msg(test_call(fx.fd, c->proc, 5, af, &a, NULL, NULL, &rep), "%s: no reply", c->name);
    ck_assert_msg(rep.is_error, "%s: no error", c->name);
    ck_assert_msg(rep.code == c->code && rep.domain == c->domain,
                  "%s: code %d domain %d (want %d %d): %s", c->name, rep.code, rep.domain,
                  c->code, c->domain, rep.message);
    ck_assert_msg(g_str_has_prefix(rep.message, c->message), "%s: message '%s'", c->name,
                  rep.message);
    test_reply_clear(&rep);
    fx_teardown(&fx);
}
END_TEST

/* ---- values ------------------------------------------------------------- */

static void
get_vcpus(Fx *fx, int maxinfo, int maplen, remote_domain_get_vcpus_ret *r)
{
    remote_domain_get_vcpus_args a = { fx->on_dom, maxinfo, maplen };

    memset(r, 0, sizeof(*r));
    call_ok(fx, "GET_VCPUS", REMOTE_PROC_DOMAIN_GET_VCPUS,
            (xdrproc_t)xdr_remote_domain_get_vcpus_args, &a,
            (xdrproc_t)xdr_remote_domain_get_vcpus_ret, r);
}

START_TEST(test_vcpus)
{
    Fx fx;
    remote_domain_get_vcpus_ret r;
    PinArgs pa;
    PinRet pr = { 0 };
    cpu_set_t mine;

    fx_setup(&fx, TRUE);
    ck_assert(sched_getaffinity(0, sizeof(mine), &mine) == 0);
    get_vcpus(&fx, 4, 2, &r);
    ck_assert_uint_eq(r.info.info_len, 3);          /* <vcpu current='3'> */
    ck_assert_uint_eq(r.cpumaps.cpumaps_len, 4 * 2);
    for (guint i = 0; i < 3; i++) {
        remote_vcpu_info *v = &r.info.info_val[i];
        const guint8 *map = (const guint8 *)r.cpumaps.cpumaps_val + i * 2;

        ck_assert_uint_eq(v->number, i);
        ck_assert_int_eq(v->state, 1);
        for (int cpu = 0; cpu < 16; cpu++)
            ck_assert_msg(!!(map[cpu / 8] & (1 << (cpu % 8))) == !!CPU_ISSET(cpu, &mine),
                          "vcpu %u: cpu %d in the map differs from the affinity", i, cpu);
        if (i < 2) {
            /* the thread's own accounting (30 ms spun), not the runner's 5000 ns */
            ck_assert_msg(v->cpu_time >= 20000000, "vcpu %u time %" G_GUINT64_FORMAT, i,
                          (guint64)v->cpu_time);
            ck_assert_int_ge(v->cpu, 0);
        } else {
            /* no such thread: the runner's count, last CPU unknown */
            ck_assert_uint_eq(v->cpu_time, 7000);
            ck_assert_int_eq(v->cpu, -1);
        }
    }
    ck_assert_int_eq(((guint8 *)r.cpumaps.cpumaps_val)[6] | ((guint8 *)r.cpumaps.cpumaps_val)[7], 0);
    xdr_free((xdrproc_t)xdr_remote_domain_get_vcpus_ret, (char *)&r);
    get_vcpus(&fx, 2, 0, &r);
    ck_assert_uint_eq(r.info.info_len, 2);
    ck_assert_uint_eq(r.cpumaps.cpumaps_len, 0);
    xdr_free((xdrproc_t)xdr_remote_domain_get_vcpus_ret, (char *)&r);

    /* pinning info works on an inactive domain: the maximum count of vCPUs */
    pa = (PinArgs){ fx.off_dom, 8, 1, 0 };
    call_ok(&fx, "PIN_INFO", REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO, (xdrproc_t)xdr_pin_args, &pa,
            (xdrproc_t)xdr_pin_ret, &pr);
    ck_assert_int_eq(pr.num, 4);
    ck_assert_uint_eq(pr.len, 8);
    for (int i = 0; i < 4; i++)
        ck_assert_msg((guint8)pr.val[i] != 0 && pr.val[i] == pr.val[0], "pin map %d", i);
    ck_assert_int_eq(pr.val[4] | pr.val[7], 0);
    xdr_free((xdrproc_t)xdr_pin_ret, (char *)&pr);
    fx_teardown(&fx);
}
END_TEST

static void
check_disk_sizes(Fx *fx, remote_nonnull_domain *dom)
{
    remote_domain_get_block_info_args a = { *dom, fx->disk, 0 };
    remote_domain_get_block_info_ret r = { 0 };
    struct stat st;

    ck_assert(stat(fx->disk, &st) == 0);
    call_ok(fx, "GET_BLOCK_INFO", REMOTE_PROC_DOMAIN_GET_BLOCK_INFO,
            (xdrproc_t)xdr_remote_domain_get_block_info_args, &a,
            (xdrproc_t)xdr_remote_domain_get_block_info_ret, &r);
    ck_assert_uint_eq(r.capacity, DISK_SIZE);
    ck_assert_uint_eq(r.physical, DISK_SIZE);
    ck_assert_uint_eq(r.allocation, (guint64)st.st_blocks * 512);
    ck_assert(r.allocation > 0 && r.allocation < DISK_SIZE);
}

START_TEST(test_block)
{
    Fx fx;
    const char *paths[] = { "vda", NULL, "" };
    remote_domain_block_stats_flags_args fa;
    remote_domain_block_stats_flags_ret fr = { 0 };

    fx_setup(&fx, TRUE);
    paths[1] = fx.disk;
    for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
        remote_domain_block_stats_args a = { fx.on_dom, (char *)paths[i] };
        remote_domain_block_stats_ret r = { 0 };

        call_ok(&fx, paths[i], REMOTE_PROC_DOMAIN_BLOCK_STATS,
                (xdrproc_t)xdr_remote_domain_block_stats_args, &a,
                (xdrproc_t)xdr_remote_domain_block_stats_ret, &r);
        ck_assert_msg(r.rd_req == 11 && r.rd_bytes == 4096 && r.wr_req == 22 &&
                      r.wr_bytes == 8192 && r.errs == 0, "block stats of '%s'", paths[i]);
    }
    /* typed parameters: nparams 0 asks for the count */
    fa = (remote_domain_block_stats_flags_args){ fx.on_dom, (char *)"vda", 0, 0 };
    call_ok(&fx, "BLOCK_STATS_FLAGS 0", REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS,
            (xdrproc_t)xdr_remote_domain_block_stats_flags_args, &fa,
            (xdrproc_t)xdr_remote_domain_block_stats_flags_ret, &fr);
    ck_assert_int_eq(fr.nparams, 5);
    ck_assert_uint_eq(fr.params.params_len, 0);
    xdr_free((xdrproc_t)xdr_remote_domain_block_stats_flags_ret, (char *)&fr);
    fa.nparams = 16;
    memset(&fr, 0, sizeof(fr));
    call_ok(&fx, "BLOCK_STATS_FLAGS 16", REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS,
            (xdrproc_t)xdr_remote_domain_block_stats_flags_args, &fa,
            (xdrproc_t)xdr_remote_domain_block_stats_flags_ret, &fr);
    ck_assert_uint_eq(fr.params.params_len, 5);
    {
        static const struct { const char *f; gint64 v; } want[] = {
            { "rd_operations", 11 }, { "rd_bytes", 4096 }, { "wr_operations", 22 },
            { "wr_bytes", 8192 }, { "errs", 0 } };

        for (guint i = 0; i < 5; i++) {
            remote_typed_param *p = &fr.params.params_val[i];

            ck_assert_str_eq(p->field, want[i].f);
            ck_assert_int_eq(p->value.type, 3);
            ck_assert_int_eq(p->value.remote_typed_param_value_u.l, want[i].v);
        }
    }
    xdr_free((xdrproc_t)xdr_remote_domain_block_stats_flags_ret, (char *)&fr);
    fa.nparams = 2;
    memset(&fr, 0, sizeof(fr));
    call_ok(&fx, "BLOCK_STATS_FLAGS 2", REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS,
            (xdrproc_t)xdr_remote_domain_block_stats_flags_args, &fa,
            (xdrproc_t)xdr_remote_domain_block_stats_flags_ret, &fr);
    ck_assert_uint_eq(fr.params.params_len, 2);
    xdr_free((xdrproc_t)xdr_remote_domain_block_stats_flags_ret, (char *)&fr);
    /* sizes: running or not */
    check_disk_sizes(&fx, &fx.on_dom);
    check_disk_sizes(&fx, &fx.off_dom);
    fx_teardown(&fx);
}
END_TEST

/* The 12 first counters of "lo" in /proc/net/dev. */
static void
host_lo(gint64 cols[12])
{
    g_autofree char *text = NULL;
    const char *p;
    char *end;

    ck_assert(g_file_get_contents("/proc/net/dev", &text, NULL, NULL));
    p = strstr(text, " lo:");
    ck_assert(p);
    p += 4;
    for (int i = 0; i < 12; i++, p = end)
        cols[i] = g_ascii_strtoll(p, &end, 10);
}

START_TEST(test_net_mem_control)
{
    Fx fx;
    const char *devs[] = { MAC, "LO", "lo" };
    remote_domain_memory_stats_args ma;
    remote_domain_memory_stats_ret mr = { 0 };
    remote_domain_get_control_info_args ca;
    remote_domain_get_control_info_ret cr = { 0 };
    gint64 lo[12];

    fx_setup(&fx, TRUE);
    for (guint i = 0; i < G_N_ELEMENTS(devs); i++) {
        remote_domain_interface_stats_args a = { fx.on_dom, (char *)devs[i] };
        remote_domain_interface_stats_ret r = { 0 };
        TestReply rep = { 0 };

        ck_assert(test_call(fx.fd, REMOTE_PROC_DOMAIN_INTERFACE_STATS, 3,
                            (xdrproc_t)xdr_remote_domain_interface_stats_args, &a,
                            (xdrproc_t)xdr_remote_domain_interface_stats_ret, &r, &rep));
        if (i == 1) {           /* names are case-sensitive */
            ck_assert_msg(rep.is_error && rep.code == 8, "dev %s", devs[i]);
            test_reply_clear(&rep);
            continue;
        }
        ck_assert_msg(!rep.is_error, "dev %s: %s", devs[i], rep.message);
        ck_assert_msg(r.rx_bytes == 500 && r.rx_packets == 5 && r.tx_bytes == 600 &&
                      r.tx_packets == 6, "counters of %s", devs[i]);
        /* errors and drops: the host side ("lo" here) with rx and tx swapped */
        host_lo(lo);
        ck_assert_msg(r.rx_errs == lo[10] && r.rx_drop == lo[11] && r.tx_errs == lo[2] &&
                      r.tx_drop == lo[3], "host counters of %s", devs[i]);
    }
    ma = (remote_domain_memory_stats_args){ fx.on_dom, 10, 0 };
    call_ok(&fx, "MEMORY_STATS", REMOTE_PROC_DOMAIN_MEMORY_STATS,
            (xdrproc_t)xdr_remote_domain_memory_stats_args, &ma,
            (xdrproc_t)xdr_remote_domain_memory_stats_ret, &mr);
    ck_assert_uint_eq(mr.stats.stats_len, 2);
    ck_assert_int_eq(mr.stats.stats_val[0].tag, 6);
    ck_assert_uint_eq(mr.stats.stats_val[0].val, 262144);   /* no balloon: all of <memory> */
    ck_assert_int_eq(mr.stats.stats_val[1].tag, 7);
    ck_assert(mr.stats.stats_val[1].val > 1024);     /* this process's RSS, KiB */
    xdr_free((xdrproc_t)xdr_remote_domain_memory_stats_ret, (char *)&mr);
    ma.maxStats = 1;
    memset(&mr, 0, sizeof(mr));
    call_ok(&fx, "MEMORY_STATS 1", REMOTE_PROC_DOMAIN_MEMORY_STATS,
            (xdrproc_t)xdr_remote_domain_memory_stats_args, &ma,
            (xdrproc_t)xdr_remote_domain_memory_stats_ret, &mr);
    ck_assert_uint_eq(mr.stats.stats_len, 1);
    xdr_free((xdrproc_t)xdr_remote_domain_memory_stats_ret, (char *)&mr);

    ca = (remote_domain_get_control_info_args){ fx.on_dom, 0 };
    cr.state = 99;
    call_ok(&fx, "CONTROL_INFO", REMOTE_PROC_DOMAIN_GET_CONTROL_INFO,
            (xdrproc_t)xdr_remote_domain_get_control_info_args, &ca,
            (xdrproc_t)xdr_remote_domain_get_control_info_ret, &cr);
    ck_assert(cr.state == 0 && cr.details == 0 && cr.stateTime == 0);
    fx_teardown(&fx);
}
END_TEST

static remote_typed_param *
param(remote_domain_stats_record *rec, const char *field)
{
    for (u_int i = 0; i < rec->params.params_len; i++) {
        if (strcmp(rec->params.params_val[i].field, field) == 0)
            return &rec->params.params_val[i];
    }
    return NULL;
}

/* The value of @field, asserting its type; absent -> fails. */
static guint64
num(remote_domain_stats_record *rec, const char *field, int type)
{
    remote_typed_param *p = param(rec, field);

    ck_assert_msg(p, "%s: no %s", rec->dom.name, field);
    ck_assert_msg(p->value.type == type, "%s: %s has type %d", rec->dom.name, field,
                  p->value.type);
    switch (type) {
    case 1: return (guint64)p->value.remote_typed_param_value_u.i;
    case 2: return p->value.remote_typed_param_value_u.ui;
    default: return p->value.remote_typed_param_value_u.ul;
    }
}

static void
all_stats(Fx *fx, remote_nonnull_domain *doms, u_int ndoms, u_int stats, u_int flags,
          remote_connect_get_all_domain_stats_ret *r)
{
    remote_connect_get_all_domain_stats_args a = { { ndoms, doms }, stats, flags };

    memset(r, 0, sizeof(*r));
    call_ok(fx, "GET_ALL_DOMAIN_STATS", REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS,
            (xdrproc_t)xdr_remote_connect_get_all_domain_stats_args, &a,
            (xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, r);
}

START_TEST(test_all_stats)
{
    Fx fx;
    remote_connect_get_all_domain_stats_ret r;
    remote_domain_stats_record *on, *off;
    remote_nonnull_domain two[2];

    fx_setup(&fx, _i == 0);
    all_stats(&fx, NULL, 0, 0, 0, &r);
    ck_assert_uint_eq(r.retStats.retStats_len, 2);
    off = &r.retStats.retStats_val[0];
    on = &r.retStats.retStats_val[1];
    ck_assert_str_eq(off->dom.name, "vm-off");
    ck_assert_str_eq(on->dom.name, "vm-on");
    ck_assert_int_eq(on->dom.id, 7);

    ck_assert_uint_eq(num(on, "state.state", 1), 1);
    ck_assert_uint_eq(num(on, "state.reason", 1), 1);
    ck_assert(num(on, "cpu.time", 4) >= 40000000);    /* the two vCPU threads' 60 ms */
    ck_assert(num(on, "cpu.time", 4) == num(on, "cpu.user", 4) + num(on, "cpu.system", 4));
    ck_assert_uint_eq(num(on, "balloon.current", 4), 262144);
    ck_assert_uint_eq(num(on, "balloon.maximum", 4), 262144);
    ck_assert(num(on, "balloon.rss", 4) > 1024);
    ck_assert_uint_eq(num(on, "vcpu.current", 2), 3);
    ck_assert_uint_eq(num(on, "vcpu.maximum", 2), 4);
    ck_assert_uint_eq(num(on, "vcpu.1.state", 1), 1);
    ck_assert(num(on, "vcpu.1.time", 4) >= 20000000);
    ck_assert_uint_eq(num(on, "vcpu.2.time", 4), _i == 0 ? 7000 : 0);
    ck_assert(!param(on, "vcpu.3.time"));
    ck_assert_uint_eq(num(on, "net.count", 2), 1);
    ck_assert_str_eq(param(on, "net.0.name")->value.remote_typed_param_value_u.s, "lo");
    ck_assert_uint_eq(num(on, "block.count", 2), 1);
    ck_assert_str_eq(param(on, "block.0.name")->value.remote_typed_param_value_u.s, "vda");
    ck_assert_str_eq(param(on, "block.0.path")->value.remote_typed_param_value_u.s, fx.disk);
    ck_assert_uint_eq(num(on, "block.0.capacity", 4), DISK_SIZE);
    ck_assert_uint_eq(num(on, "block.0.physical", 4), DISK_SIZE);
    if (_i == 0) {
        ck_assert_uint_eq(num(on, "net.0.rx.bytes", 4), 500);
        ck_assert_uint_eq(num(on, "net.0.tx.pkts", 4), 6);
        ck_assert_uint_eq(num(on, "block.0.rd.reqs", 4), 11);
        ck_assert_uint_eq(num(on, "block.0.wr.bytes", 4), 8192);
        ck_assert_uint_eq(num(on, "block.0.fl.reqs", 4), 3);
    } else {
        /* the runner does not answer: only its counters are missing */
        ck_assert(!param(on, "net.0.rx.bytes") && !param(on, "block.0.rd.reqs"));
    }
    ck_assert(param(on, "net.0.rx.errs") && param(on, "net.0.tx.drop"));   /* from "lo" */

    /* inactive: what the definition and the disk image tell */
    ck_assert_uint_eq(num(off, "state.state", 1), 5);
    ck_assert(!param(off, "cpu.time") && !param(off, "vcpu.0.time") && !param(off, "net.count"));
    ck_assert_uint_eq(num(off, "balloon.maximum", 4), 262144);
    ck_assert_uint_eq(num(off, "balloon.current", 4), 131072);   /* <currentMemory> */
    ck_assert_uint_eq(num(off, "vcpu.current", 2), 3);
    ck_assert_uint_eq(num(off, "block.0.capacity", 4), DISK_SIZE);
    ck_assert(!param(off, "block.0.rd.reqs"));
    xdr_free((xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, (char *)&r);

    /* virt-manager's groups (STATE|CPU_TOTAL|VCPU) on the active domains */
    all_stats(&fx, NULL, 0, 11, 1, &r);
    ck_assert_uint_eq(r.retStats.retStats_len, 1);
    on = &r.retStats.retStats_val[0];
    ck_assert_str_eq(on->dom.name, "vm-on");
    ck_assert(param(on, "cpu.time") && param(on, "vcpu.0.time"));
    ck_assert(!param(on, "balloon.current") && !param(on, "block.count"));
    xdr_free((xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, (char *)&r);

    /* an explicit list: a vanished domain is skipped, filters apply */
    two[0] = fx.off_dom;
    two[1] = fx.on_dom;
    memset(two[1].uuid, 0x5a, sizeof(two[1].uuid));
    all_stats(&fx, two, 2, 1, 0, &r);
    ck_assert_uint_eq(r.retStats.retStats_len, 1);
    ck_assert_str_eq(r.retStats.retStats_val[0].dom.name, "vm-off");
    ck_assert_uint_eq(r.retStats.retStats_val[0].params.params_len, 2);
    xdr_free((xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, (char *)&r);
    two[1] = fx.on_dom;
    all_stats(&fx, two, 2, 1, 2 | 64, &r);              /* INACTIVE|SHUTOFF */
    ck_assert_uint_eq(r.retStats.retStats_len, 1);
    ck_assert_str_eq(r.retStats.retStats_val[0].dom.name, "vm-off");
    xdr_free((xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, (char *)&r);
    /* a domain listed twice: two records, the same numbers */
    two[0] = fx.on_dom;
    all_stats(&fx, two, 2, 0, 0, &r);
    ck_assert_uint_eq(r.retStats.retStats_len, 2);
    ck_assert_uint_eq(r.retStats.retStats_val[0].params.params_len,
                      r.retStats.retStats_val[1].params.params_len);
    ck_assert_uint_eq(num(&r.retStats.retStats_val[1], "vcpu.0.time", 4),
                      num(&r.retStats.retStats_val[0], "vcpu.0.time", 4));
    ck_assert_str_eq(param(&r.retStats.retStats_val[1], "block.0.path")->value
                     .remote_typed_param_value_u.s, fx.disk);
    xdr_free((xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, (char *)&r);
    fx_teardown(&fx);
}
END_TEST

START_TEST(test_runner_down)
{
    Fx fx;
    remote_domain_block_stats_args a;
    TestReply rep = { 0 };

    fx_setup(&fx, FALSE);
    a = (remote_domain_block_stats_args){ fx.on_dom, (char *)"vda" };
    ck_assert(test_call(fx.fd, REMOTE_PROC_DOMAIN_BLOCK_STATS, 3,
                        (xdrproc_t)xdr_remote_domain_block_stats_args, &a, NULL, NULL, &rep));
    ck_assert_msg(rep.is_error && rep.code == 9 && rep.domain == 57 &&
                  strstr(rep.message, "cannot talk to bhyve-runner of domain vm-on"),
                  "runner down: %d %s", rep.code, rep.message);
    test_reply_clear(&rep);
    fx_teardown(&fx);
}
END_TEST


int
main(void)
{
    Suite *s = suite_create("daemon-stats");
    TCase *errors = tcase_create("errors");
    TCase *values = tcase_create("values");

    tcase_set_timeout(errors, 60);
    tcase_set_timeout(values, 60);
    tcase_add_loop_test(errors, test_error_case, 0, G_N_ELEMENTS(err_cases));
    tcase_add_test(values, test_vcpus);
    tcase_add_test(values, test_block);
    tcase_add_test(values, test_net_mem_control);
    tcase_add_loop_test(values, test_all_stats, 0, 2);
    tcase_add_test(values, test_runner_down);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, values);
    return test_suite_run(s);
}
