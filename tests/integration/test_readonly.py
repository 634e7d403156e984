#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The read-only socket: reads work, every change is refused by the
daemon itself (not only by the client library), exactly as libvirtd
refuses it (daemon/hyved_dispatch.h, HYVED_PROC_WRITE): OPERATION_DENIED
(29) from DOMAIN (20), "operation forbidden: read only access prevents
<libvirt API>"."""
import os
import stat
import uuid as uuidlib

import libvirt

import hyvetest
import hyverpc
from hyvetest import virsh, domain_xml, write_file

OPERATION_DENIED = libvirt.VIR_ERR_OPERATION_DENIED   # 29, as libvirtd (virCheckReadOnlyGoto)
FROM_DOMAIN = libvirt.VIR_FROM_DOMAIN                # 20


def denied(api):
    return "operation forbidden: read only access prevents " + api


class ReadOnlyTest(hyvetest.DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conn = libvirt.open(cls.daemon.uri)
        cls.existing_uuid = str(uuidlib.uuid4())
        conn.defineXML(domain_xml("ro-existing", cls.existing_uuid))
        conn.close()

    def test_sockets_exist(self):
        for path in (self.daemon.sock, self.daemon.sock_ro):
            self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode), path)

    def test_virsh_readonly_reads(self):
        out = virsh(self.daemon.uri_ro, "list", "--all", "--name", readonly=True).stdout
        self.assertIn("ro-existing", out.split())
        out = virsh(self.daemon.uri_ro, "dominfo", "ro-existing", readonly=True).stdout
        self.assertRegex(out, r"(?m)^UUID: +%s$" % self.existing_uuid)
        xml = virsh(self.daemon.uri_ro, "dumpxml", "ro-existing", readonly=True).stdout
        self.assertIn("<name>ro-existing</name>", xml)

    def test_virsh_readonly_define_refused(self):
        path = write_file(self.tmp, "ro.xml", domain_xml("ro-new"))
        p = virsh(self.daemon.uri_ro, "define", path, readonly=True, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("read only access prevents", p.stderr)
        self.assertNotIn("ro-new", virsh(self.daemon.uri, "list", "--all", "--name").stdout.split())

    def test_python_readonly_refused(self):
        conn = libvirt.openReadOnly(self.daemon.uri_ro)
        try:
            with self.assertRaises(libvirt.libvirtError) as cm:
                conn.defineXML(domain_xml("ro-py"))
            self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_OPERATION_DENIED)
            dom = conn.lookupByName("ro-existing")
            with self.assertRaises(libvirt.libvirtError):
                dom.undefine()
        finally:
            conn.close()

    def test_ro_socket_refuses_even_without_ro_flag(self):
        # Open the -ro socket WITHOUT the read-only flag: the client library
        # now lets mutating calls through, so the daemon must refuse them.
        conn = libvirt.open(self.daemon.uri_ro)
        try:
            self.assertEqual(conn.getType(), "BHYVE")
            dom = conn.lookupByName("ro-existing")
            calls = [("virDomainDefineXML", lambda: conn.defineXML(domain_xml("ro-sneaky"))),
                     ("virDomainUndefine", dom.undefine),
                     ("virDomainSetAutostart", lambda: dom.setAutostart(1))]
            for api, call in calls:
                with self.assertRaises(libvirt.libvirtError, msg=api) as cm:
                    call()
                e = cm.exception
                self.assertEqual((e.get_error_code(), e.get_error_domain(), e.get_error_message()),
                                 (OPERATION_DENIED, FROM_DOMAIN, denied(api)), api)
            # reads still work, but not the secure XML
            self.assertIn("<name>ro-existing</name>", dom.XMLDesc(0))
            with self.assertRaises(libvirt.libvirtError) as cm:
                dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
            self.assertEqual(cm.exception.get_error_code(), OPERATION_DENIED, str(cm.exception))
        finally:
            conn.close()
        rw = libvirt.open(self.daemon.uri)
        names = [d.name() for d in rw.listAllDomains(0)]
        self.assertNotIn("ro-sneaky", names)
        self.assertIn("ro-existing", names)
        self.assertEqual(rw.lookupByName("ro-existing").autostart(), 0)
        rw.close()

    def test_raw_define_on_ro_socket(self):
        c = hyverpc.RawClient(self.daemon.sock_ro)
        try:
            c.open("bhyve:///system", 0)
            with self.assertRaises(hyverpc.RemoteError) as cm:
                c.define_xml(domain_xml("ro-raw"))
            e = cm.exception
            self.assertEqual((e.code, e.domain, e.level, e.message),
                             (OPERATION_DENIED, FROM_DOMAIN, 2, denied("virDomainDefineXML")))
            # the connection survives the refusal
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()
        # and the same call on the rw socket works
        c = hyverpc.RawClient(self.daemon.sock)
        try:
            c.open("bhyve:///system", 0)
            name, uuid, dom_id = c.define_xml(domain_xml("ro-raw"))
            self.assertEqual((name, dom_id), ("ro-raw", -1))
            self.assertEqual(len(uuid), 16)
        finally:
            c.close()
        virsh(self.daemon.uri, "undefine", "ro-raw")


if __name__ == "__main__":
    hyvetest.main()
