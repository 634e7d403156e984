#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Connection and host information through virsh and python3-libvirt."""
import os
import re
import socket
import time
import xml.etree.ElementTree as ET

import libvirt

import hyvetest
from hyvetest import virsh, validate_xml


class ConnectTest(hyvetest.DaemonTestCase):

    def test_python_open_and_type(self):
        conn = libvirt.open(self.daemon.uri)
        try:
            self.assertEqual(conn.getType(), "BHYVE")
            self.assertEqual(conn.getURI(), self.daemon.uri)
            self.assertEqual(conn.isAlive(), 1)
            ver = conn.getVersion()
            self.assertIsInstance(ver, int)
            self.assertGreater(ver, 0, "hypervisor version must be positive")
            self.assertLess(ver, 1000 * 1000 * 1000)
        finally:
            self.assertEqual(conn.close(), 0)

    def test_virsh_version(self):
        out = virsh(self.daemon.uri, "version").stdout
        self.assertRegex(out, r"(?m)^Using API: +BHYVE 9\.0\.0$")
        m = re.search(r"(?m)^Running hypervisor: +BHYVE (\d+)\.(\d+)\.(\d+)$", out)
        self.assertIsNotNone(m, "no hypervisor line in:\n" + out)
        # Same number through python: major*1e6 + minor*1e3 + micro.
        conn = libvirt.open(self.daemon.uri)
        ver = conn.getVersion()
        conn.close()
        major, minor, micro = (int(x) for x in m.groups())
        self.assertEqual(major * 1000000 + minor * 1000 + micro, ver)

    def test_virsh_uri_and_hostname(self):
        self.assertEqual(virsh(self.daemon.uri, "uri").stdout.strip(), self.daemon.uri)
        self.assertEqual(virsh(self.daemon.uri, "hostname").stdout.strip(), socket.gethostname())
        conn = libvirt.open(self.daemon.uri)
        self.assertEqual(conn.getHostname(), socket.gethostname())
        conn.close()

    def test_nodeinfo(self):
        conn = libvirt.open(self.daemon.uri)
        model, mem_mib, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
        conn.close()
        self.assertEqual(model, "x86_64")
        self.assertEqual(cpus, os.cpu_count())
        self.assertEqual(nodes * sockets * cores * threads, cpus)
        with open("/proc/meminfo") as f:
            total_kib = int(re.search(r"MemTotal:\s+(\d+) kB", f.read()).group(1))
        self.assertAlmostEqual(mem_mib, total_kib // 1024, delta=2)

        out = virsh(self.daemon.uri, "nodeinfo").stdout
        self.assertRegex(out, r"(?m)^CPU model: +x86_64$")
        self.assertRegex(out, r"(?m)^CPU\(s\): +%d$" % cpus)
        m = re.search(r"(?m)^Memory size: +(\d+) KiB$", out)
        self.assertIsNotNone(m, "no memory line in:\n" + out)
        self.assertEqual(int(m.group(1)), total_kib)

    def test_capabilities_validate(self):
        caps = virsh(self.daemon.uri, "capabilities").stdout
        ok, out = hyvetest.validate_capabilities(caps)
        self.assertTrue(ok, "capabilities do not validate: %s\n%s" % (out, caps))
        root = ET.fromstring(caps)
        self.assertEqual(root.findtext("host/cpu/arch"), "x86_64")
        guests = [g for g in root.findall("guest") if g.findtext("os_type") == "hvm"]
        self.assertTrue(guests, "no hvm guest in capabilities")
        arch = guests[0].find("arch")
        self.assertEqual(arch.get("name"), "x86_64")
        self.assertTrue(arch.findtext("emulator"), "no <emulator> in the guest arch")
        self.assertIn("bhyve", [d.get("type") for d in arch.findall("domain")])
        # python sees the same document
        conn = libvirt.open(self.daemon.uri)
        self.assertEqual(conn.getCapabilities().strip(), caps.strip())
        conn.close()

    def test_domcapabilities_validate(self):
        doc = virsh(self.daemon.uri, "domcapabilities").stdout
        ok, out = validate_xml(doc, "domaincaps")
        self.assertTrue(ok, "domcapabilities do not validate: %s\n%s" % (out, doc))
        root = ET.fromstring(doc)
        self.assertEqual(root.tag, "domainCapabilities")
        self.assertEqual(root.findtext("domain"), "bhyve")
        self.assertEqual(root.findtext("arch"), "x86_64")

    def test_domcapabilities_arguments(self):
        # what virt-install asks: the emulator and arch from the capabilities
        caps = ET.fromstring(virsh(self.daemon.uri, "capabilities").stdout)
        emulator = [g for g in caps.findall("guest")
                    if g.findtext("os_type") == "hvm"][0].findtext("arch/emulator")
        doc = virsh(self.daemon.uri, "domcapabilities", "--emulatorbin", emulator,
                    "--arch", "x86_64", "--virttype", "bhyve").stdout
        ok, out = validate_xml(doc, "domaincaps")
        self.assertTrue(ok, out)
        self.assertEqual(ET.fromstring(doc).findtext("path"), emulator)
        for bad in (["--virttype", "kvm"], ["--arch", "aarch64"]):
            p = virsh(self.daemon.uri, "domcapabilities", *bad, check=False)
            self.assertEqual(p.returncode, 1, bad)
            self.assertIn("error: ", p.stderr, bad)

    def test_virsh_many_commands_one_connection(self):
        # several commands on one connection (virsh's own command separator)
        out = virsh(self.daemon.uri, "hostname ; uri ; hostname").stdout.split()
        self.assertEqual(out, [socket.gethostname(), self.daemon.uri, socket.gethostname()])

    def test_many_sequential_connections(self):
        for i in range(50):
            conn = libvirt.open(self.daemon.uri)
            self.assertEqual(conn.getType(), "BHYVE", "connection %d" % i)
            conn.close()
        self.assertDaemonAlive()

    def test_keepalive(self):
        # With an event loop the client negotiates keepalive; a PING every
        # second, dead after 2 missed PONGs: the daemon must answer them.
        import threading
        libvirt.virEventRegisterDefaultImpl()
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                libvirt.virEventRunDefaultImpl()

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        conn = libvirt.open(self.daemon.uri)
        try:
            self.assertEqual(conn.setKeepAlive(1, 2), 0, "keepalive not supported")
            time.sleep(6)
            self.assertEqual(conn.isAlive(), 1)
            self.assertEqual(conn.getType(), "BHYVE")
        finally:
            conn.close()
            stop.set()      # the loop thread is a daemon thread

    def test_readonly_connection_reads(self):
        conn = libvirt.openReadOnly(self.daemon.uri_ro)
        try:
            self.assertEqual(conn.getType(), "BHYVE")
            self.assertEqual(conn.getHostname(), socket.gethostname())
            self.assertIsInstance(conn.listAllDomains(0), list)
        finally:
            conn.close()


class SessionTest(hyvetest.DaemonTestCase):
    """--session: one socket (no -ro), no authentication, bhyve:///session."""

    daemon_args = ("--session",)

    def test_session_socket(self):
        self.assertFalse(os.path.exists(self.daemon.sock_ro),
                         "a session daemon has no read-only socket")
        uri = "bhyve+unix:///session?socket=" + self.daemon.sock
        conn = libvirt.open(uri)
        try:
            self.assertEqual(conn.getType(), "BHYVE")
            dom = conn.defineXML(hyvetest.domain_xml("session-dom"))
            self.assertEqual([d.name() for d in conn.listAllDomains(0)], ["session-dom"])
            dom.undefine()
        finally:
            conn.close()
        self.assertEqual(virsh(uri, "uri").stdout.strip(), uri)
        self.assertEqual(virsh(uri, "hostname").stdout.strip(), socket.gethostname())


if __name__ == "__main__":
    hyvetest.main()
