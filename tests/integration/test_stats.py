#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Statistics of running domains through virsh and python3-libvirt:
vcpuinfo/vcpupin, domstats (every group), domblkstat, domifstat,
dommemstat, domblkinfo, domcontrol, and the errors for inactive domains
and unknown devices.

The domain runs Debian's kernel in bhyve-runner on the host's /dev/kvm (an
emulated one is enough: the guest need not get far). Every number is
checked against its own source: the runner's control socket (device
counters), /proc (CPU time, RSS), the disk image (sizes), the tap inside
the daemon's network namespace (interface errors/drops).

The daemon runs in a private network namespace holding a bridge, so the
domain can have a bridge interface without touching the host's network.
"""
import os
import re
import shutil
import socket
import subprocess
import time

import libvirt

import hyverpc
import hyvetest
from hyvetest import virsh

DISK_SIZE = 64 << 20
BRIDGE = "hyvebr0"
MAC = "52:54:00:5e:01:02"
MEMORY_KIB = 262144


class NetnsDaemon(hyvetest.Daemon):
    """virtbhyved in a new network namespace with a bridge BRIDGE (up)."""

    def command(self):
        script = ("ip link set lo up && ip link add %s type bridge && ip link set %s up "
                  "&& exec \"$@\"" % (BRIDGE, BRIDGE))
        return ["unshare", "--net", "sh", "-c", script, "sh"] + super().command()


def can_unshare_net():
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    p = subprocess.run(["unshare", "--net", "ip", "link", "add", "probe0", "type", "bridge"],
                       capture_output=True)
    return p.returncode == 0 and os.path.exists("/dev/net/tun")


def stats_xml(name, disk, vcpus=2, net=True):
    kernel, initrd = hyvetest.debian_kernel()
    iface = ("<interface type='bridge'><source bridge='%s'/><mac address='%s'/>"
             "<model type='virtio'/></interface>" % (BRIDGE, MAC)) if net else ""
    return """<domain type='bhyve'>
  <name>%s</name>
  <memory unit='KiB'>%d</memory>
  <currentMemory unit='KiB'>%d</currentMemory>
  <vcpu placement='static' current='%d'>%d</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='file' type='raw'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    %s
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
""" % (name, MEMORY_KIB, MEMORY_KIB // 2, vcpus, vcpus + 1, kernel, initrd, disk, iface)


def runner_stats(ctl):
    """The runner's own counters: "stats" on its control socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(ctl)
        s.sendall(b"stats\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    line = buf.decode().strip()
    assert line.startswith("ok "), line
    return dict(kv.split("=", 1) for kv in line[3:].split() if "=" in kv)


def virsh_pairs(text):
    """'vda rd_req 5' / 'actual 1024' lines -> {key: int}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and re.match(r"^-?\d+$", parts[-1]):
            out[parts[-2]] = int(parts[-1])
    return out


def proc_net_dev(pid):
    """/proc/net/dev as the daemon (pid) sees it: name -> 16 counters."""
    with open("/proc/%d/net/dev" % pid) as f:
        lines = f.read().splitlines()[2:]
    return {l.split(":")[0].strip(): [int(x) for x in l.split(":")[1].split()] for l in lines}


class StatsTest(hyvetest.DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        hyvetest.require_root("running domains")
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            hyvetest.skip("no usable /dev/kvm")
        cls.with_net = can_unshare_net()
        cls.tmp = hyvetest.make_tmpdir()
        cls.daemon = (NetnsDaemon if cls.with_net else hyvetest.Daemon)(name=cls.__name__).start()
        cls.conn = libvirt.open(cls.daemon.uri)
        cls.disk = os.path.join(cls.tmp, "disk.img")
        with open(cls.disk, "wb") as f:
            f.truncate(DISK_SIZE)
            f.seek(3 << 20)
            f.write(b"x" * 8192)
            os.fsync(f.fileno())
        cls.on = cls.conn.defineXML(stats_xml("st-on", cls.disk, net=cls.with_net))
        cls.off = cls.conn.defineXML(stats_xml("st-off", cls.disk, net=cls.with_net))
        p = virsh(cls.daemon.uri, "start", "st-on", check=False)
        if p.returncode != 0:
            raise AssertionError("virsh start failed: %s%s\ndaemon log:\n%s"
                                 % (p.stdout, p.stderr, cls.daemon.log()[-5000:]))
        cls.ctl = cls.find_run_file("st-on.ctl")

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.on.isActive():
                cls.on.destroy()
            cls.conn.close()
        finally:
            super().tearDownClass()

    @classmethod
    def find_run_file(cls, name):
        for top, dirs, files in os.walk(cls.daemon.root):
            if name in files or name in dirs:
                return os.path.join(top, name)
        raise AssertionError("no %s below %s" % (name, cls.daemon.root))

    def runner_pid(self):
        with open(self.find_run_file("st-on.pid")) as f:
            return int(f.read().split()[0])

    def slot(self, device):
        """PCI slot of the live definition's <disk>/<interface> (its counters' key)."""
        xml = self.on.XMLDesc(0)
        m = re.search(r"<%s .*?<address type='pci' domain='0x0000' bus='0x00' slot='(0x[0-9a-f]+)'"
                      % device, xml, re.S)
        self.assertTrue(m, xml)
        return int(m.group(1), 16)

    def ifname(self):
        m = re.search(r"<interface type='bridge'>.*?<target dev='([^']+)'", self.on.XMLDesc(0), re.S)
        self.assertTrue(m, "live XML names no tap: " + self.on.XMLDesc(0))
        return m.group(1)

    # -- vCPUs ---------------------------------------------------------------
    def test_vcpuinfo(self):
        info, maps = self.on.vcpus()
        self.assertEqual([v[0] for v in info], [0, 1])          # current='2'
        ncpus = self.conn.getInfo()[2]
        pid = self.runner_pid()
        for number, state, cpu_time, cpu in info:
            self.assertEqual(state, libvirt.VIR_VCPU_RUNNING)
            self.assertGreaterEqual(cpu, -1)
            self.assertLess(cpu, ncpus)
            self.assertGreaterEqual(cpu_time, 0)
        # the vCPU threads' CPU time never exceeds the whole runner's
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total_ns = (int(fields[11]) + int(fields[12]) + 2) * 10 ** 9 // os.sysconf("SC_CLK_TCK")
        self.assertLessEqual(sum(v[2] for v in info), total_ns + 2 * 10 ** 7)
        self.assertEqual(len(maps), 2)
        for m in maps:
            self.assertEqual(len(m), ncpus)
            self.assertEqual(list(m), [c in os.sched_getaffinity(0) for c in range(ncpus)])
        out = virsh(self.daemon.uri, "vcpuinfo", "st-on").stdout
        self.assertEqual(len(re.findall(r"^VCPU:\s+\d+$", out, re.M)), 2, out)
        self.assertEqual(len(re.findall(r"^State:\s+running$", out, re.M)), 2, out)
        self.assertRegex(out, r"CPU time:\s+\d+\.\d+s")

    def test_vcpupin_inactive(self):
        pins = self.off.vcpuPinInfo(0)
        self.assertEqual(len(pins), 2)          # python asks for dominfo's count (current)
        ncpus = self.conn.getInfo()[2]
        for p in pins:
            self.assertEqual(list(p), [True] * ncpus)
        every = "0" if ncpus == 1 else "0-%d" % (ncpus - 1)
        out = virsh(self.daemon.uri, "vcpupin", "st-off").stdout       # virsh: the maximum
        self.assertEqual(re.findall(r"^\s*(\d+)\s+(\S+)\s*$", out, re.M),
                         [(str(i), every) for i in range(3)], out)
        # vcpuinfo of an inactive domain: virsh falls back to the pinning info
        out = virsh(self.daemon.uri, "vcpuinfo", "st-off").stdout
        self.assertEqual(len(re.findall(r"^CPU:\s+N/A$", out, re.M)), 2, out)
        self.assertEqual(re.findall(r"^CPU Affinity:\s+(\S+)$", out, re.M), ["y" * ncpus] * 2)

    # -- block ---------------------------------------------------------------
    def test_block_stats(self):
        slot = self.slot("disk")
        before = runner_stats(self.ctl)
        stats = self.on.blockStats("vda")
        flags = self.on.blockStatsFlags("vda")
        out = virsh(self.daemon.uri, "domblkstat", "st-on", "vda").stdout
        after = runner_stats(self.ctl)
        keys = ("reads", "read_bytes", "writes", "write_bytes", "errors")
        for i, k in enumerate(keys):
            key = "blk%d.%s" % (slot, k)
            self.assertIn(key, before)
            self.assertTrue(int(before[key]) <= stats[i] <= int(after[key]), (key, stats))
        self.assertEqual(sorted(flags), sorted(["rd_operations", "rd_bytes", "wr_operations",
                                                "wr_bytes", "errs"]))
        self.assertTrue(int(before["blk%d.reads" % slot]) <= flags["rd_operations"]
                        <= int(after["blk%d.reads" % slot]))
        got = virsh_pairs(out)
        self.assertEqual(set(got), {"rd_req", "rd_bytes", "wr_req", "wr_bytes", "errs"}, out)
        self.assertLessEqual(got["rd_req"], int(after["blk%d.reads" % slot]))
        # by source path, and the sum over all disks (no device)
        self.assertEqual(len(self.on.blockStats(self.disk)), 5)
        virsh(self.daemon.uri, "domblkstat", "st-on")

    def test_block_info(self):
        st = os.stat(self.disk)
        for dom in (self.on, self.off):
            cap, alloc, phys = dom.blockInfo("vda")
            self.assertEqual(cap, DISK_SIZE)
            self.assertEqual(phys, DISK_SIZE)
            self.assertEqual(alloc, st.st_blocks * 512)
            self.assertTrue(0 < alloc < DISK_SIZE)
        out = virsh(self.daemon.uri, "domblkinfo", "st-off", "vda").stdout
        self.assertRegex(out, r"Capacity:\s+%d\b" % DISK_SIZE)
        self.assertRegex(out, r"Allocation:\s+%d\b" % (st.st_blocks * 512))
        out = virsh(self.daemon.uri, "domblkinfo", "st-on", "--all").stdout
        self.assertRegex(out, r"vda\s+%d\s+%d\s+%d" % (DISK_SIZE, st.st_blocks * 512, DISK_SIZE))

    # -- network -------------------------------------------------------------
    def test_interface_stats(self):
        if not self.with_net:
            self.skipTest("needs root and a network namespace for a bridge interface")
        tap = self.ifname()
        slot = self.slot("interface")
        before = runner_stats(self.ctl)
        by_name = self.on.interfaceStats(tap)
        by_mac = self.on.interfaceStats(MAC)
        after = runner_stats(self.ctl)
        host = proc_net_dev(self.daemon.proc.pid)
        self.assertIn(tap, host, "the tap is in the daemon's namespace")
        for stats in (by_name, by_mac):
            rx_bytes, rx_pkts, rx_errs, rx_drop, tx_bytes, tx_pkts, tx_errs, tx_drop = stats
            for val, key in ((rx_bytes, "rx_bytes"), (rx_pkts, "rx_packets"),
                             (tx_bytes, "tx_bytes"), (tx_pkts, "tx_packets")):
                k = "net%d.%s" % (slot, key)
                self.assertTrue(int(before[k]) <= val <= int(after[k]), (k, stats))
            # the host side with rx/tx swapped (its tx is the guest's rx)
            self.assertLessEqual(rx_errs, host[tap][10])
            self.assertLessEqual(tx_errs, host[tap][2])
            self.assertGreaterEqual(rx_drop, 0)
            self.assertGreaterEqual(tx_drop, 0)
        out = virsh(self.daemon.uri, "domifstat", "st-on", tap).stdout
        self.assertEqual(set(virsh_pairs(out)),
                         {"rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes",
                          "tx_packets", "tx_errs", "tx_drop"}, out)

    # -- memory, control --------------------------------------------------------
    def test_memory_stats(self):
        mem = self.on.memoryStats()
        self.assertEqual(set(mem), {"actual", "rss"})
        self.assertEqual(mem["actual"], MEMORY_KIB)
        with open("/proc/%d/status" % self.runner_pid()) as f:
            rss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
        self.assertTrue(rss // 2 <= mem["rss"] <= rss * 2, (mem, rss))
        got = virsh_pairs(virsh(self.daemon.uri, "dommemstat", "st-on").stdout)
        self.assertEqual(got["actual"], MEMORY_KIB)
        self.assertIn("rss", got)

    def test_control_info(self):
        self.assertEqual(self.on.controlInfo(), [0, 0, 0])
        self.assertEqual(virsh(self.daemon.uri, "domcontrol", "st-on").stdout.strip(), "ok")

    # -- bulk --------------------------------------------------------------------
    def test_domstats_all_groups(self):
        recs = {d.name(): s for d, s in self.conn.getAllDomainStats() if d.name().startswith("st-")}
        self.assertEqual(sorted(recs), ["st-off", "st-on"])
        on, off = recs["st-on"], recs["st-off"]
        self.assertEqual(on["state.state"], libvirt.VIR_DOMAIN_RUNNING)
        self.assertEqual(on["state.reason"], libvirt.VIR_DOMAIN_RUNNING_BOOTED)
        self.assertEqual(on["cpu.time"], on["cpu.user"] + on["cpu.system"])
        self.assertEqual(on["balloon.maximum"], MEMORY_KIB)
        self.assertEqual(on["balloon.current"], MEMORY_KIB)
        self.assertGreater(on["balloon.rss"], 0)
        self.assertEqual((on["vcpu.current"], on["vcpu.maximum"]), (2, 3))
        self.assertEqual(on["vcpu.0.state"], libvirt.VIR_VCPU_RUNNING)
        self.assertIn("vcpu.1.time", on)
        self.assertNotIn("vcpu.2.state", on)
        self.assertEqual(on["block.count"], 1)
        self.assertEqual((on["block.0.name"], on["block.0.path"]), ("vda", self.disk))
        self.assertEqual(on["block.0.capacity"], DISK_SIZE)
        for k in ("rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes", "fl.reqs", "errors",
                  "allocation", "physical"):
            self.assertIn("block.0." + k, on)
        if self.with_net:
            self.assertEqual(on["net.count"], 1)
            self.assertEqual(on["net.0.name"], self.ifname())
            for k in ("rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts",
                      "tx.errs", "tx.drop"):
                self.assertIn("net.0." + k, on)
        # inactive: only what the definition and the image tell
        self.assertEqual(off["state.state"], libvirt.VIR_DOMAIN_SHUTOFF)
        self.assertEqual(off["balloon.maximum"], MEMORY_KIB)
        self.assertEqual(off["vcpu.maximum"], 3)
        self.assertEqual(off["block.0.capacity"], DISK_SIZE)
        for k in ("cpu.time", "vcpu.0.time", "net.count", "block.0.rd.reqs"):
            self.assertNotIn(k, off)
        # filters and lists as libvirt
        active = self.conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE,
                                             libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
        self.assertEqual([d.name() for d, s in active], ["st-on"])
        self.assertEqual(sorted(active[0][1]), ["state.reason", "state.state"])
        listed = self.conn.domainListGetStats([self.off], libvirt.VIR_DOMAIN_STATS_VCPU)
        self.assertEqual([(d.name(), s["vcpu.current"]) for d, s in listed], [("st-off", 2)])
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_PERF,
                                        libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS)
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)
        # virsh domstats prints every group
        out = virsh(self.daemon.uri, "domstats", "st-on", "st-off").stdout
        for field in ("state.state=1", "cpu.time=", "balloon.rss=", "vcpu.0.time=",
                      "block.0.name=vda", "block.0.capacity=%d" % DISK_SIZE, "state.state=5"):
            self.assertIn(field, out)
        if self.with_net:
            self.assertIn("net.0.rx.bytes=", out)
        # the read-only socket may read statistics too
        out = virsh(self.daemon.uri_ro, "domstats", "--vcpu", "st-on", readonly=True).stdout
        self.assertIn("vcpu.current=2", out)

    def test_domstats_hostile_list(self):
        """16384 copies of one domain (the protocol's limit) from the read-only
        socket: one record each, and the daemon keeps serving."""
        rc = hyverpc.RawClient(self.daemon.sock_ro, timeout=240)
        try:
            rc.open("bhyve:///system", 1)
            one = hyverpc.string("st-on") + self.on.UUID() + hyverpc.i32(self.on.ID())
            body = rc.call(344, hyverpc.u32(16384) + one * 16384 + hyverpc.u32(0)
                           + hyverpc.u32(0))
            self.assertEqual(hyverpc.Reader(body).u32(), 16384)
            # one more than the limit does not even decode
            with self.assertRaises(hyverpc.RemoteError) as cm:
                rc.call(344, hyverpc.u32(16385) + one * 16385 + hyverpc.u32(0) + hyverpc.u32(0))
            self.assertEqual(cm.exception.code, libvirt.VIR_ERR_RPC)
        finally:
            rc.close()
        self.assertEqual(self.on.state()[0], libvirt.VIR_DOMAIN_RUNNING)
        self.assertDaemonAlive()

    # -- errors ------------------------------------------------------------------
    def test_errors(self):
        cases = [
            (lambda: self.off.vcpus(), libvirt.VIR_ERR_OPERATION_INVALID, "not running"),
            (lambda: self.off.blockStats("vda"), libvirt.VIR_ERR_OPERATION_INVALID, "not running"),
            (lambda: self.off.memoryStats(), libvirt.VIR_ERR_OPERATION_INVALID, "not running"),
            (lambda: self.off.interfaceStats(MAC), libvirt.VIR_ERR_OPERATION_INVALID,
             "not running"),
            (lambda: self.off.controlInfo(), libvirt.VIR_ERR_OPERATION_INVALID, "not running"),
            (lambda: self.on.blockStats("sdz"), libvirt.VIR_ERR_INVALID_ARG,
             "invalid path: sdz"),
            (lambda: self.on.blockInfo("/nope.img"), libvirt.VIR_ERR_INVALID_ARG,
             "invalid path /nope.img not assigned to domain"),
            (lambda: self.on.interfaceStats("eth9"), libvirt.VIR_ERR_INVALID_ARG,
             "'eth9' is not a known interface"),
        ]
        for i, (fn, code, text) in enumerate(cases):
            with self.assertRaises(libvirt.libvirtError, msg="case %d" % i) as cm:
                fn()
            self.assertEqual(cm.exception.get_error_code(), code, "case %d" % i)
            self.assertIn(text, str(cm.exception), "case %d" % i)
        p = virsh(self.daemon.uri, "domblkstat", "st-off", "vda", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Requested operation is not valid: domain is not running", p.stderr)
        p = virsh(self.daemon.uri, "domblkinfo", "st-on", "sdz", check=False)
        self.assertIn("invalid path sdz not assigned to domain", p.stderr)


if __name__ == "__main__":
    hyvetest.main()
