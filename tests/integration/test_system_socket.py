#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real system socket: a system-mode daemon (no --root) inside a
private mount namespace with tmpfs over /run/libvirt, /etc/libvirt,
/var/{log,cache,lib}/libvirt, reached by plain `virsh -c bhyve:///system`
(no socket parameter): the stock client must find
/var/run/libvirt/virtbhyved-sock by itself."""
import os
import stat
import subprocess
import unittest
import uuid as uuidlib

import libvirt

import hyvetest
from hyvetest import Daemon, virsh, validate_xml, domain_xml, write_file

URI = "bhyve:///system"


class SystemSocketTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(root="/", name="system").start()
        cls.tmp = cls.daemon.log_dir

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()

    def test_socket_paths(self):
        self.assertEqual(self.daemon.sock, "/var/run/libvirt/virtbhyved-sock")
        rw = os.stat("/var/run/libvirt/virtbhyved-sock")
        ro = os.stat("/var/run/libvirt/virtbhyved-sock-ro")
        self.assertTrue(stat.S_ISSOCK(rw.st_mode))
        self.assertTrue(stat.S_ISSOCK(ro.st_mode))
        self.assertEqual(stat.S_IMODE(ro.st_mode) & 0o006, 0o006,
                         "the read-only socket must be usable by everyone")

    def test_plain_virsh(self):
        self.assertEqual(virsh(URI, "uri").stdout.strip(), URI)
        out = virsh(URI, "version").stdout
        self.assertRegex(out, r"(?m)^Running hypervisor: +BHYVE \d+\.\d+\.\d+$")
        u = str(uuidlib.uuid4())
        path = write_file(self.tmp, "sys.xml", domain_xml("sys-dom", u))
        self.assertIn("Domain 'sys-dom' defined from", virsh(URI, "define", path).stdout)
        self.assertIn("sys-dom", virsh(URI, "list", "--all", "--name").stdout.split())
        self.assertRegex(virsh(URI, "dominfo", "sys-dom").stdout, r"(?m)^UUID: +%s$" % u)
        # the definition is stored below the system directories
        stored = [os.path.join(d, f) for top in hyvetest.SYSTEM_DIRS
                  for d, _, files in os.walk(top) for f in files if f == "sys-dom.xml"]
        self.assertTrue(stored, "no sys-dom.xml below %s" % (hyvetest.SYSTEM_DIRS,))
        self.assertIn("Domain 'sys-dom' has been undefined", virsh(URI, "undefine", "sys-dom").stdout)
        self.assertNotIn("sys-dom", virsh(URI, "list", "--all", "--name").stdout.split())

    def test_plain_virsh_readonly(self):
        self.assertEqual(virsh(URI, "hostname", readonly=True).returncode, 0)
        path = write_file(self.tmp, "sys-ro.xml", domain_xml("sys-ro"))
        p = virsh(URI, "define", path, readonly=True, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("sys-ro", virsh(URI, "list", "--all", "--name").stdout.split())

    def test_python_default_paths(self):
        conn = libvirt.open(URI)
        self.assertEqual(conn.getType(), "BHYVE")
        self.assertEqual(conn.getURI(), URI)
        conn.close()
        conn = libvirt.openReadOnly(URI)
        self.assertEqual(conn.getType(), "BHYVE")
        conn.close()

    def test_capabilities_validate(self):
        # The stock pipeline, printed for the record: libvirt 9.0's
        # capability.rng has no guest <domain type='bhyve'>, so it reports
        # exactly that element; everything else must be valid.
        p = subprocess.run("virsh -c bhyve:///system capabilities | virt-xml-validate - capability",
                           shell=True, capture_output=True, text=True, env=hyvetest.client_env())
        print("\n$ virsh -c bhyve:///system capabilities | virt-xml-validate - capability\n"
              + p.stdout + p.stderr + "(exit status %d)" % p.returncode)
        if p.returncode != 0:
            errors = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l]
            self.assertTrue(errors, p.stdout + p.stderr)
            for line in errors:
                self.assertIn("element domain:", line)
        caps = virsh(URI, "capabilities").stdout
        ok, out = hyvetest.validate_capabilities(caps)
        self.assertTrue(ok, out)


if __name__ == "__main__":
    hyvetest.in_private_namespace("the system socket test")
    hyvetest.main()
