#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Virtual networks (issue 6) with the real virsh and /usr/bin/python3
libvirt. The whole test runs in a network + mount namespace of its own
(hyvetest.in_network_namespace): the daemon's bridges, dnsmasq and nftables
tables live there; a DHCP client runs in a second namespace joined by a
veth. Root only (else skipped). Covers: the 'default' network of a first
start; lifecycle through virsh (define, list, info, dumpxml validated with
virt-xml-validate, start, autostart, destroy, undefine, create) and python
(list filters, lookups, lifecycle events); the bridge, dnsmasq and the
`inet hyve_<name>` table while running and gone after destroy; a real DHCP
lease shown by net-dhcp-leases and getDHCPLeases; daemon restart (SIGTERM:
persistent network and its dnsmasq kept, transient torn down; SIGKILL: both
kept); refusals with exact codes; the read-only socket."""
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

import hyvetest
from hyvetest import virsh, wait_until, write_file, validate_xml

FROM_NETWORK = libvirt.VIR_FROM_NETWORK     # 19
NFT = shutil.which("nft") or "/usr/sbin/nft"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def net_xml(name, bridge, net, forward="nat", dhcp=True, uuid=None, prefix=24):
    """A network on BRIDGE with address NET.1/PREFIX (NET like '10.77.1')."""
    fwd = "" if forward is None else "<forward mode='%s'/>" % forward
    rng = ("<dhcp><range start='%s.10' end='%s.99'/></dhcp>" % (net, net)) if dhcp else ""
    return ("<network><name>%s</name>%s<bridge name='%s'/>%s"
            "<ip address='%s.1' prefix='%d'>%s</ip></network>"
            % (name, "<uuid>%s</uuid>" % uuid if uuid else "", bridge, fwd, net, prefix, rng))


def lv_err(fn, *args):
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return e
    raise AssertionError("%r%r succeeded" % (fn, args))


def dev_exists(name):
    return os.path.exists("/sys/class/net/" + name)


def nft_table(name):
    p = subprocess.run([NFT, "list", "table", "inet", "hyve_" + name],
                       capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def state_dir(daemon):
    return os.path.join(daemon.root, "run", "libvirt", "bhyve", "network")


def config_dir(daemon):
    return os.path.join(daemon.root, "etc", "libvirt", "bhyve", "networks")


def dnsmasq_pids(daemon, name):
    """Live dnsmasq processes serving network NAME of DAEMON (by conf file)."""
    want = ("--conf-file=" + os.path.join(state_dir(daemon), name + ".conf")).encode()
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % e, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % e) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if want in argv:
            out.append(int(e))
    return out


def info_field(text, field):
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no %r in:\n%s" % (field, text))


class NetCase(hyvetest.DaemonTestCase):
    """A shared daemon; every test removes the networks it made."""

    def setUp(self):
        self.conn = libvirt.open(self.daemon.uri)
        self.made = []

    def tearDown(self):
        for net in self.conn.listAllNetworks(0):
            if net.name() not in self.made:
                continue
            try:
                if net.isActive():
                    net.destroy()
                if net.isPersistent():
                    net.undefine()
            except libvirt.libvirtError:
                pass
        self.conn.close()

    def define(self, xml):
        net = self.conn.networkDefineXML(xml)
        self.made.append(net.name())
        return net

    def create(self, xml):
        net = self.conn.networkCreateXML(xml)
        self.made.append(net.name())
        return net

    def file(self, name, text):
        return write_file(self.tmp, name, text)

    def assertLvErr(self, e, code, message=None, contains=None):
        got = (e.get_error_code(), e.get_error_domain())
        self.assertEqual(got, (code, FROM_NETWORK), e.get_error_message())
        if message is not None:
            self.assertEqual(e.get_error_message(), message)
        if contains is not None:
            self.assertIn(contains, e.get_error_message())

    def assertRunning(self, name, bridge, addr):
        self.assertTrue(dev_exists(bridge), "no bridge %s" % bridge)
        p = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", bridge],
                           capture_output=True, text=True)
        self.assertIn(addr, p.stdout)
        self.assertEqual(len(dnsmasq_pids(self.daemon, name)), 1, "dnsmasq of %s" % name)

    def assertTornDown(self, name, bridge):
        self.assertTrue(wait_until(lambda: not dnsmasq_pids(self.daemon, name), 10),
                        "dnsmasq of %s still runs" % name)
        self.assertFalse(dev_exists(bridge), "bridge %s left" % bridge)
        self.assertIsNone(nft_table(name), "nft table hyve_%s left" % name)


class LifecycleTest(NetCase):

    def test_default_network_first_start(self):
        net = self.conn.networkLookupByName("default")
        self.assertEqual((net.isActive(), net.isPersistent(), net.autostart()), (0, 1, 0))
        self.assertEqual(net.bridgeName(), "virbr0")
        root = ET.fromstring(net.XMLDesc(0))
        self.assertEqual(root.find("forward").get("mode"), "nat")
        self.assertEqual(root.find("ip").get("address"), "192.168.122.1")
        self.assertTrue(os.path.exists(os.path.join(config_dir(self.daemon), "default.xml")))
        # nothing touched until started
        self.assertFalse(dev_exists("virbr0"))
        self.assertIsNone(nft_table("default"))

    def test_virsh_lifecycle(self):
        name, br, sub = "lc", "hvbr1", "10.77.1"
        self.made.append(name)
        path = self.file("lc.xml", net_xml(name, br, sub))
        out = virsh(self.daemon.uri, "net-define", path).stdout
        self.assertIn("Network %s defined from %s" % (name, path), out)
        lst = virsh(self.daemon.uri, "net-list", "--all").stdout
        self.assertRegex(lst, r"(?m)^ lc +inactive +no +yes$")
        self.assertNotIn(" lc ", virsh(self.daemon.uri, "net-list").stdout)
        info = virsh(self.daemon.uri, "net-info", name).stdout
        self.assertEqual([info_field(info, f) for f in ("Name", "Active", "Persistent",
                                                         "Autostart", "Bridge")],
                         [name, "no", "yes", "no", br])
        uuid = info_field(info, "UUID")
        for flags in ([], ["--inactive"]):
            x = virsh(self.daemon.uri, "net-dumpxml", name, *flags).stdout
            ok, msg = validate_xml(x, "network")
            self.assertTrue(ok, "%s\n%s" % (msg, x))
            self.assertIn("<uuid>%s</uuid>" % uuid, x)
        self.assertFalse(dev_exists(br))

        self.assertIn("Network %s started" % name,
                      virsh(self.daemon.uri, "net-start", name).stdout)
        self.assertRunning(name, br, sub + ".1/24")
        self.assertRegex(virsh(self.daemon.uri, "net-list").stdout, r"(?m)^ lc +active +no +yes$")
        live = virsh(self.daemon.uri, "net-dumpxml", name).stdout
        ok, msg = validate_xml(live, "network")
        self.assertTrue(ok, "%s\n%s" % (msg, live))
        self.assertIn("<port start='1024' end='65535'/>", live)
        self.assertNotIn("<port start=", virsh(self.daemon.uri, "net-dumpxml", "--inactive",
                                               name).stdout)
        mac = ET.fromstring(live).find("mac").get("address")
        with open("/sys/class/net/%s/address" % br) as f:
            self.assertEqual(f.read().strip(), mac)
        table = nft_table(name)
        self.assertIsNotNone(table, "no nft table inet hyve_lc while running")
        self.assertIn("masquerade", table)
        self.assertIn('"%s"' % br, table)
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            self.assertEqual(f.read().strip(), "1")
        p = virsh(self.daemon.uri, "net-start", name, check=False)
        self.assertIn("network is already active", p.stderr)

        self.assertIn("marked as autostarted", virsh(self.daemon.uri, "net-autostart",
                                                     name).stdout)
        link = os.path.join(config_dir(self.daemon), "autostart", name + ".xml")
        self.assertTrue(os.path.lexists(link))
        self.assertEqual(info_field(virsh(self.daemon.uri, "net-info", name).stdout,
                                    "Autostart"), "yes")
        virsh(self.daemon.uri, "net-autostart", "--disable", name)
        self.assertFalse(os.path.lexists(link))

        self.assertIn("Network %s destroyed" % name,
                      virsh(self.daemon.uri, "net-destroy", name).stdout)
        self.assertTornDown(name, br)
        p = virsh(self.daemon.uri, "net-destroy", name, check=False)
        self.assertIn("network '%s' is not active" % name, p.stderr)
        self.assertIn("has been undefined", virsh(self.daemon.uri, "net-undefine", name).stdout)
        self.assertNotIn(name, virsh(self.daemon.uri, "net-list", "--all", "--name").stdout.split())
        self.assertFalse(os.path.exists(os.path.join(config_dir(self.daemon), name + ".xml")))

    def test_virsh_create_transient(self):
        name, br = "tr", "hvbr2"
        self.made.append(name)
        path = self.file("tr.xml", net_xml(name, br, "10.77.2"))
        self.assertIn("Network %s created from %s" % (name, path),
                      virsh(self.daemon.uri, "net-create", path).stdout)
        info = virsh(self.daemon.uri, "net-info", name).stdout
        self.assertEqual((info_field(info, "Active"), info_field(info, "Persistent")),
                         ("yes", "no"))
        self.assertRunning(name, br, "10.77.2.1/24")
        p = virsh(self.daemon.uri, "net-autostart", name, check=False)
        self.assertIn("cannot set autostart for transient network", p.stderr)
        p = virsh(self.daemon.uri, "net-undefine", name, check=False)
        self.assertIn("can't undefine transient network", p.stderr)
        virsh(self.daemon.uri, "net-destroy", name)
        self.assertTornDown(name, br)
        self.assertNotIn(name, virsh(self.daemon.uri, "net-list", "--all", "--name").stdout.split())

    def test_python_lists_and_lookups(self):
        a = self.define(net_xml("pa", "hvbr3", "10.77.3"))
        b = self.define(net_xml("pb", "hvbr4", "10.77.4"))
        b.create()
        b.setAutostart(1)
        c = self.create(net_xml("pc", "hvbr5", "10.77.5"))
        L = libvirt
        cases = [
            (0, {"pa", "pb", "pc"}),
            (L.VIR_CONNECT_LIST_NETWORKS_ACTIVE, {"pb", "pc"}),
            (L.VIR_CONNECT_LIST_NETWORKS_INACTIVE, {"pa"}),
            (L.VIR_CONNECT_LIST_NETWORKS_PERSISTENT, {"pa", "pb"}),
            (L.VIR_CONNECT_LIST_NETWORKS_TRANSIENT, {"pc"}),
            (L.VIR_CONNECT_LIST_NETWORKS_AUTOSTART, {"pb"}),
            (L.VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART, {"pa", "pc"}),
            (L.VIR_CONNECT_LIST_NETWORKS_ACTIVE | L.VIR_CONNECT_LIST_NETWORKS_PERSISTENT,
             {"pb"}),
        ]
        mine = {"pa", "pb", "pc"}
        for flags, want in cases:
            got = {n.name() for n in self.conn.listAllNetworks(flags)} & mine
            self.assertEqual(got, want, "flags 0x%x" % flags)
        self.assertEqual(set(self.conn.listNetworks()) & mine, {"pb", "pc"})
        self.assertEqual(set(self.conn.listDefinedNetworks()) & mine, {"pa"})
        self.assertEqual(self.conn.numOfNetworks(), len(self.conn.listNetworks()))
        self.assertEqual(self.conn.numOfDefinedNetworks(), len(self.conn.listDefinedNetworks()))
        for n in (a, b, c):
            self.assertEqual(self.conn.networkLookupByUUIDString(n.UUIDString()).name(), n.name())
            self.assertEqual(self.conn.networkLookupByUUID(n.UUID()).name(), n.name())
        self.assertEqual([c.isActive(), c.isPersistent(), c.autostart()], [1, 0, 0])
        self.assertEqual([b.isActive(), b.isPersistent(), b.autostart()], [1, 1, 1])
        self.assertEqual(c.bridgeName(), "hvbr5")
        e = lv_err(self.conn.networkLookupByName, "nosuch")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_NETWORK,
                         "Network not found: no network with matching name 'nosuch'")
        u = str(uuidlib.uuid4())
        e = lv_err(self.conn.networkLookupByUUIDString, u)
        self.assertLvErr(e, libvirt.VIR_ERR_NO_NETWORK, contains=u)
        b.setAutostart(0)

    def test_forward_modes(self):
        r = self.create(net_xml("rt", "hvbr15", "10.77.15", forward="route"))
        o = self.create(net_xml("op", "hvbr16", "10.77.16", forward="open"))
        i = self.create(net_xml("iso", "hvbr17", "10.77.17", forward=None))
        t = nft_table("rt")
        self.assertTrue(t and "masquerade" not in t and "hvbr15" in t, t)
        self.assertIsNone(nft_table("op"), "open mode has no rules")
        t = nft_table("iso")
        self.assertTrue(t and "masquerade" not in t and "reject" in t, t)
        for n in (r, o, i):
            br = n.bridgeName()
            self.assertTrue(dev_exists(br))
            n.destroy()
            self.assertTornDown(n.name(), br)
        # mode='bridge': an existing host bridge; hyve touches nothing
        subprocess.run(["ip", "link", "add", "hvbr18", "type", "bridge"], check=True)
        try:
            n = self.create("<network><name>brm</name><forward mode='bridge'/>"
                            "<bridge name='hvbr18'/></network>")
            self.assertEqual(n.bridgeName(), "hvbr18")
            self.assertIsNone(nft_table("brm"))
            self.assertEqual(dnsmasq_pids(self.daemon, "brm"), [])
            n.destroy()
            self.assertTrue(dev_exists("hvbr18"), "destroy removed the host's bridge")
        finally:
            subprocess.run(["ip", "link", "del", "hvbr18"])


class EventsTest(NetCase):

    def test_lifecycle_events(self):
        hyvetest.start_event_loop()
        got = []
        cond = threading.Condition()
        names = {getattr(libvirt, "VIR_NETWORK_EVENT_" + k): k
                 for k in ("DEFINED", "UNDEFINED", "STARTED", "STOPPED")}

        def cb(conn, net, event, detail, opaque):
            with cond:
                got.append((net.name(), names.get(event, event), detail))
                cond.notify_all()

        econn = libvirt.open(self.daemon.uri)
        cid = econn.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, cb, None)
        try:
            n = self.define(net_xml("ev", "hvbr6", "10.77.6"))
            n.create()
            n.destroy()
            n.undefine()
            t = self.create(net_xml("evt", "hvbr7", "10.77.7"))
            t.destroy()
            want = [("ev", "DEFINED", 0), ("ev", "STARTED", 0), ("ev", "STOPPED", 0),
                    ("ev", "UNDEFINED", 0), ("evt", "STARTED", 0), ("evt", "STOPPED", 0)]
            with cond:
                cond.wait_for(lambda: len(got) >= len(want), 20)
            time.sleep(0.5)
            self.assertEqual(got, want)
        finally:
            econn.networkEventDeregisterAny(cid)
            econn.close()


class ErrorsTest(NetCase):

    def test_refusals(self):
        L = libvirt
        for xml in ("<network><name>bad</name>", "garbage",
                    "<network><name>bad</name><ip address='10.1.2.300' prefix='24'/></network>"):
            self.assertLvErr(lv_err(self.conn.networkDefineXML, xml), L.VIR_ERR_XML_ERROR)
            self.assertLvErr(lv_err(self.conn.networkCreateXML, xml), L.VIR_ERR_XML_ERROR)
        for mode in ("vepa", "passthrough", "private"):
            xml = ("<network><name>uf</name><forward mode='%s'><interface dev='eth9'/>"
                   "</forward></network>" % mode)
            msg = ("unsupported configuration: unsupported forward mode '%s' in network 'uf' "
                   "(hyve supports nat, route, open, bridge and none)" % mode)
            self.assertLvErr(lv_err(self.conn.networkDefineXML, xml),
                             L.VIR_ERR_CONFIG_UNSUPPORTED, msg)
            self.assertLvErr(lv_err(self.conn.networkCreateXML, xml),
                             L.VIR_ERR_CONFIG_UNSUPPORTED, msg)
        self.assertNotIn("uf", self.conn.listDefinedNetworks())

        e1 = self.define(net_xml("e1", "hvbr8", "10.77.8"))
        e1.create()
        # same bridge name as another network: refused at define and create
        for fn in (self.conn.networkDefineXML, self.conn.networkCreateXML):
            self.assertLvErr(lv_err(fn, net_xml("e2", "hvbr8", "10.77.9")),
                             L.VIR_ERR_INTERNAL_ERROR,
                             "internal error: bridge name 'hvbr8' already in use.")
        # same name, other uuid
        self.assertLvErr(lv_err(self.conn.networkDefineXML,
                                net_xml("e1", "hvbr8", "10.77.8", uuid=str(uuidlib.uuid4()))),
                         L.VIR_ERR_OPERATION_FAILED,
                         "operation failed: network 'e1' already exists with uuid %s"
                         % e1.UUIDString())
        # subnets overlapping an active network: refused at start
        for name, br, sub, prefix in (("e3", "hvbr9", "10.77.8", 25),
                                      ("e4", "hvbr10", "10.77.0", 16)):
            n = self.define(net_xml(name, br, sub, prefix=prefix))
            self.assertLvErr(lv_err(n.create), L.VIR_ERR_INTERNAL_ERROR,
                             "internal error: Network is already in use by interface hvbr8")
            self.assertFalse(dev_exists(br), "a refused start left %s" % br)
            self.assertEqual(n.isActive(), 0)
        self.assertLvErr(lv_err(e1.create), L.VIR_ERR_OPERATION_INVALID,
                         "Requested operation is not valid: network is already active")
        # a host route with the same subnet
        subprocess.run(["ip", "link", "add", "hv-r0", "type", "veth", "peer", "name", "hv-r1"],
                       check=True)
        try:
            subprocess.run(["ip", "addr", "add", "10.77.11.1/24", "dev", "hv-r0"], check=True)
            subprocess.run(["ip", "link", "set", "hv-r1", "up"], check=True)
            subprocess.run(["ip", "link", "set", "hv-r0", "up"], check=True)
            n = self.define(net_xml("e5", "hvbr11", "10.77.11"))
            self.assertLvErr(lv_err(n.create), L.VIR_ERR_INTERNAL_ERROR,
                             "internal error: Network is already in use by interface hv-r0")
            self.assertFalse(dev_exists("hvbr11"))
        finally:
            subprocess.run(["ip", "link", "del", "hv-r0"])
        # a host device with the bridge's name
        subprocess.run(["ip", "link", "add", "hvbr12", "type", "bridge"], check=True)
        try:
            n = self.define(net_xml("e6", "hvbr12", "10.77.12"))
            self.assertLvErr(lv_err(n.create), L.VIR_ERR_SYSTEM_ERROR,
                             "error creating bridge interface hvbr12: File exists")
            self.assertIsNone(nft_table("e6"))
            self.assertEqual(dnsmasq_pids(self.daemon, "e6"), [])
        finally:
            subprocess.run(["ip", "link", "del", "hvbr12"])
        e1.destroy()
        self.assertTornDown("e1", "hvbr8")

    def test_readonly_socket(self):
        n = self.define(net_xml("ro", "hvbr19", "10.77.19"))
        ro = libvirt.open(self.daemon.uri_ro)       # no RO flag: the daemon must refuse
        try:
            rn = ro.networkLookupByName("ro")
            self.assertIn("<name>ro</name>", rn.XMLDesc(0))
            self.assertIn("ro", [x.name() for x in ro.listAllNetworks(0)])
            calls = [
                ("virNetworkDefineXML", lambda: ro.networkDefineXML(
                    net_xml("ro2", "hvbr20", "10.77.20"))),
                ("virNetworkCreateXML", lambda: ro.networkCreateXML(
                    net_xml("ro2", "hvbr20", "10.77.20"))),
                ("virNetworkCreate", rn.create),
                ("virNetworkSetAutostart", lambda: rn.setAutostart(1)),
                ("virNetworkUndefine", rn.undefine),
                ("virNetworkDestroy", rn.destroy),
            ]
            for api, call in calls:
                e = lv_err(call)
                self.assertEqual((e.get_error_code(), e.get_error_domain(), e.get_error_message()),
                                 (libvirt.VIR_ERR_OPERATION_DENIED, FROM_NETWORK,
                                  "operation forbidden: read only access prevents " + api), api)
        finally:
            ro.close()
        path = self.file("ro2.xml", net_xml("ro2", "hvbr20", "10.77.20"))
        for args in (("net-define", path), ("net-start", "ro"), ("net-destroy", "ro")):
            p = virsh(self.daemon.uri_ro, *args, readonly=True, check=False)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn("read only access prevents", p.stderr)
        self.assertEqual((n.isActive(), n.autostart()), (0, 0))
        self.assertNotIn("ro2", [x.name() for x in self.conn.listAllNetworks(0)])


class DhcpTest(NetCase):

    def test_default_network_real_lease(self):
        net = self.conn.networkLookupByName("default")
        self.made.append("default-keep")      # tearDown leaves it defined
        net.create()
        peer = hyvetest.PeerNamespace()
        mac = "52:54:00:12:34:56"
        try:
            self.assertRunning("default", "virbr0", "192.168.122.1/24")
            t = nft_table("default")
            self.assertTrue(t and "masquerade" in t, t)
            peer.plug("virbr0", "hvveth0", "eth0", mac)
            env = peer.dhcp("eth0", self.tmp, hostname="guesty")
            self.assertIsNotNone(env, "udhcpc got no lease: %s\n%s"
                                 % (getattr(peer, "last_dhcp_output", ""), self.daemon.log()))
            ip = env["ip"]
            self.assertTrue(ip.startswith("192.168.122."), env)
            self.assertTrue(2 <= int(ip.rsplit(".", 1)[1]) <= 254, env)
            self.assertEqual(env.get("router"), "192.168.122.1")
            peer.run("busybox", "ping", "-c", "1", "-W", "3", "192.168.122.1")

            out = virsh(self.daemon.uri, "net-dhcp-leases", "default").stdout
            self.assertRegex(out, r"(?m)^ \S+ \S+ +%s +ipv4 +%s/24 +guesty +\S+ *$"
                             % (mac, ip.replace(".", r"\.")))
            out = virsh(self.daemon.uri, "net-dhcp-leases", "default", "--mac", mac).stdout
            self.assertIn(ip + "/24", out)
            out = virsh(self.daemon.uri, "net-dhcp-leases", "default", "--mac",
                        "52:54:00:00:00:01").stdout
            self.assertNotIn(ip, out)
            leases = net.DHCPLeases()
            self.assertEqual(len(leases), 1, leases)
            lease = leases[0]
            self.assertEqual((lease["iface"], lease["type"], lease["mac"], lease["ipaddr"],
                              lease["prefix"], lease["hostname"]),
                             ("virbr0", libvirt.VIR_IP_ADDR_TYPE_IPV4, mac, ip, 24, "guesty"))
            self.assertAlmostEqual(lease["expirytime"], time.time() + 3600, delta=120)
            self.assertEqual(len(net.DHCPLeases(mac)), 1)
            self.assertEqual(net.DHCPLeases("52:54:00:00:00:01"), [])
            e = lv_err(net.DHCPLeases, "nomac")
            self.assertLvErr(e, libvirt.VIR_ERR_INVALID_MAC)
        finally:
            peer.close()
            net.destroy()
        self.assertTornDown("default", "virbr0")
        self.assertEqual(net.isPersistent(), 1)


class RestartTest(NetCase):

    def test_sigterm_keeps_persistent_drops_transient_sigkill_keeps_both(self):
        d = self.daemon
        keep = self.define(net_xml("keep", "hvbr13", "10.77.13"))
        keep.create()
        self.create(net_xml("temp", "hvbr14", "10.77.14"))
        pk, pt = dnsmasq_pids(d, "keep"), dnsmasq_pids(d, "temp")
        self.assertEqual((len(pk), len(pt)), (1, 1))
        self.conn.close()
        self.assertEqual(d.stop(), 0)
        self.assertTrue(dev_exists("hvbr13"))
        self.assertIsNotNone(nft_table("keep"))
        self.assertEqual(dnsmasq_pids(d, "keep"), pk)
        self.assertTrue(wait_until(lambda: not dnsmasq_pids(d, "temp"), 10))
        self.assertFalse(dev_exists("hvbr14"), "clean shutdown left the transient bridge")
        self.assertIsNone(nft_table("temp"))
        d.start()
        self.conn = libvirt.open(d.uri)
        keep = self.conn.networkLookupByName("keep")
        self.assertEqual((keep.isActive(), keep.isPersistent()), (1, 1))
        self.assertEqual(dnsmasq_pids(d, "keep"), pk, "dnsmasq was restarted")
        self.assertNotIn("temp", [n.name() for n in self.conn.listAllNetworks(0)])

        self.create(net_xml("temp", "hvbr14", "10.77.14"))
        pt = dnsmasq_pids(d, "temp")
        self.conn.close()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc = None
        for br in ("hvbr13", "hvbr14"):
            self.assertTrue(dev_exists(br))
        self.assertEqual((dnsmasq_pids(d, "keep"), dnsmasq_pids(d, "temp")), (pk, pt))
        d.start()
        self.conn = libvirt.open(d.uri)
        temp = self.conn.networkLookupByName("temp")
        self.assertEqual((temp.isActive(), temp.isPersistent()), (1, 0))
        self.assertEqual(self.conn.networkLookupByName("keep").isActive(), 1)
        self.assertEqual((dnsmasq_pids(d, "keep"), dnsmasq_pids(d, "temp")), (pk, pt))
        self.assertIsNotNone(nft_table("temp"))
        temp.destroy()
        self.assertTornDown("temp", "hvbr14")

    def test_undefined_default_not_recreated(self):
        self.conn.networkLookupByName("default").undefine()
        self.conn.close()
        self.daemon.restart()
        self.conn = libvirt.open(self.daemon.uri)
        e = lv_err(self.conn.networkLookupByName, "default")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_NETWORK)


if __name__ == "__main__":
    hyvetest.in_network_namespace("the network test")
    for tool in (DNSMASQ, NFT, shutil.which("busybox") or "/bin/busybox"):
        if not os.access(tool, os.X_OK):
            hyvetest.skip("%s is missing (dnsmasq-base, nftables, busybox-static)" % tool)
    hyvetest.main()
