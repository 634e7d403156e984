#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A daemon restart keeps every definition, its XML and its autostart flag;
an undefine is persistent too. Autostart domains start when the daemon
starts and keep running (same id) across later restarts."""
import os
import time
import unittest
import xml.etree.ElementTree as ET
import uuid as uuidlib

import libvirt

import hyvetest
from hyvetest import Daemon, virsh, domain_xml


class RestartTest(unittest.TestCase):

    def setUp(self):
        self.daemon = Daemon(name="restart").start()

    def tearDown(self):
        self.daemon.cleanup()

    def snapshot(self):
        conn = libvirt.open(self.daemon.uri)
        try:
            return {d.name(): (d.UUIDString(), d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE),
                               d.autostart(), d.ID())
                    for d in conn.listAllDomains(0)}
        finally:
            conn.close()

    def test_restart_keeps_definitions(self):
        conn = libvirt.open(self.daemon.uri)
        uuids = {}
        for i in range(30):
            name = "keep-%02d" % i
            uuids[name] = str(uuidlib.uuid4())
            conn.defineXML(domain_xml(name, uuids[name], memory_kib=131072 * (1 + i % 4),
                                      vcpus=1 + i % 3))
        conn.lookupByName("keep-03").setAutostart(1)
        conn.lookupByName("keep-07").setAutostart(1)
        conn.lookupByName("keep-29").undefine()
        del uuids["keep-29"]
        conn.close()
        before = self.snapshot()
        self.assertEqual(sorted(before), sorted(uuids))

        status = self.daemon.restart()
        self.assertEqual(status, 0, "daemon did not exit cleanly on SIGTERM:\n" + self.daemon.log())

        after = self.snapshot()
        self.assertEqual(sorted(after), sorted(before))
        for name, (u, xml, autostart, dom_id) in before.items():
            self.assertEqual(after[name][0], u, name)
            self.assertEqual(after[name][1], xml, name)
            self.assertEqual(after[name][2], autostart, name)
            if autostart:
                self.assertGreater(after[name][3], 0, name + " was not autostarted")
            else:
                self.assertEqual(after[name][3], -1, name)
        self.assertEqual(sorted(n for n, v in after.items() if v[2]), ["keep-03", "keep-07"])
        out = virsh(self.daemon.uri, "list", "--all", "--autostart", "--name").stdout.split()
        self.assertEqual(out, ["keep-03", "keep-07"])

        # changes after the restart persist through the next one
        conn = libvirt.open(self.daemon.uri)
        conn.lookupByName("keep-00").undefine()
        conn.lookupByName("keep-03").setAutostart(0)
        conn.defineXML(domain_xml("keep-01", uuids["keep-01"], memory_kib=65536))
        conn.close()
        expected = self.snapshot()
        self.assertEqual(self.daemon.restart(), 0)
        self.assertEqual(self.snapshot(), expected)
        self.assertNotIn("keep-00", expected)
        mem = ET.fromstring(expected["keep-01"][1]).find("memory")
        self.assertEqual((mem.get("unit", "KiB"), mem.text), ("KiB", "65536"))

    def test_kill_keeps_definitions(self):
        # Definitions are on disk as soon as define returns: SIGKILL loses nothing.
        conn = libvirt.open(self.daemon.uri)
        u = str(uuidlib.uuid4())
        conn.defineXML(domain_xml("killed", u))
        conn.lookupByName("killed").setAutostart(1)
        conn.close()
        xml_before = self.snapshot()["killed"][1]
        self.daemon.proc.kill()
        self.daemon.proc.wait()
        self.daemon.proc = None
        self.daemon.start()
        snap = self.snapshot()
        self.assertEqual(snap["killed"][0], u)
        self.assertEqual(snap["killed"][1], xml_before)
        self.assertEqual(snap["killed"][2], 1)
        self.assertGreater(snap["killed"][3], 0, "autostart domain not started")

    def test_stale_socket_replaced(self):
        # After a SIGKILL the socket files stay behind; a new daemon must
        # replace them and be reachable.
        self.daemon.proc.kill()
        self.daemon.proc.wait()
        self.daemon.proc = None
        self.assertTrue(os.path.exists(self.daemon.sock))
        self.daemon.start()
        self.assertEqual(virsh(self.daemon.uri, "hostname").returncode, 0)


class TimeoutTest(unittest.TestCase):
    """--timeout=N: the daemon exits by itself after N idle seconds, but
    not while a client is connected."""

    def test_idle_timeout(self):
        d = Daemon(name="timeout", args=["--timeout=2"]).start()
        try:
            conn = libvirt.open(d.uri)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 4:
                self.assertEqual(conn.getType(), "BHYVE")
                time.sleep(0.5)
            self.assertTrue(d.alive(), "exited although a client was connected:\n" + d.log())
            conn.close()
            t1 = time.monotonic()
            status = d.proc.wait(15)
            waited = time.monotonic() - t1
            self.assertEqual(status, 0, d.log())
            # the whole timeout counts from the client's leaving (not from
            # the last once-a-second check that saw it)
            self.assertGreater(waited, 1.95, "exited %.2f s after the last client left "
                               "(--timeout=2)" % waited)
            self.assertLess(waited, 6, "idle exit came late")
            self.assertFalse(os.path.exists(d.sock), "socket left behind after a clean exit")
        finally:
            d.cleanup()


if __name__ == "__main__":
    hyvetest.main()
