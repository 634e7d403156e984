#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Domain definitions through virsh and python3-libvirt: define (200 of
them), list, dumpxml round trip, redefine, undefine, autostart, errors."""
import os
import re
import threading
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

import hyvetest
from hyvetest import virsh, validate_xml, domain_xml, write_file

MANY = 200


def names_of(conn, flags=0, prefix=""):
    return sorted(d.name() for d in conn.listAllDomains(flags) if d.name().startswith(prefix))


def virsh_names(uri, *opts, prefix=""):
    out = virsh(uri, "list", "--name", *opts).stdout
    return sorted(n for n in out.split() if n.startswith(prefix))


class DomainTest(hyvetest.DaemonTestCase):

    def setUp(self):
        self.conn = libvirt.open(self.daemon.uri)

    def tearDown(self):
        self.conn.close()

    # -- many domains -------------------------------------------------
    def test_define_many_python(self):
        uuids = {}
        for i in range(MANY):
            name = "py-%03d" % i
            u = str(uuidlib.uuid4())
            dom = self.conn.defineXML(domain_xml(name, u))
            self.assertEqual(dom.name(), name)
            self.assertEqual(dom.UUIDString(), u)
            self.assertEqual(dom.ID(), -1, name)
            uuids[name] = u
        listed = self.conn.listAllDomains(0)
        mine = {d.name(): d for d in listed if d.name().startswith("py-")}
        self.assertEqual(sorted(mine), sorted(uuids))
        for name, dom in mine.items():
            self.assertEqual(dom.UUIDString(), uuids[name], name)
            self.assertEqual(dom.isActive(), 0, name)
            self.assertEqual(dom.isPersistent(), 1, name)
            self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_SHUTOFF, name)
        # filters: all are inactive + persistent, none active
        self.assertEqual(names_of(self.conn, libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE, "py-"),
                         sorted(uuids))
        self.assertEqual(names_of(self.conn, libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE, "py-"), [])
        self.assertEqual(names_of(self.conn, libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT, "py-"),
                         sorted(uuids))
        # older listing APIs agree
        defined = [n for n in self.conn.listDefinedDomains() if n.startswith("py-")]
        self.assertEqual(sorted(defined), sorted(uuids))
        self.assertGreaterEqual(self.conn.numOfDefinedDomains(), MANY)
        # virsh sees them, one line each, shut off
        out = virsh(self.daemon.uri, "list", "--all").stdout
        rows = [l.split() for l in out.splitlines() if re.match(r"^\s*-\s+py-\d{3}\s", l)]
        self.assertEqual(len(rows), MANY, out)
        for row in rows:
            self.assertEqual(row[2:], ["shut", "off"], row)
        # lookups by name and by uuid
        for name in ("py-000", "py-123", "py-199"):
            self.assertEqual(self.conn.lookupByName(name).UUIDString(), uuids[name])
            self.assertEqual(self.conn.lookupByUUIDString(uuids[name]).name(), name)
        for name, dom in mine.items():
            dom.undefine()
        self.assertEqual(names_of(self.conn, 0, "py-"), [])

    def test_define_many_virsh(self):
        script = []
        for i in range(MANY):
            path = write_file(self.tmp, "vs-%03d.xml" % i, domain_xml("vs-%03d" % i))
            script.append("define " + path)
        out = virsh(self.daemon.uri, input="\n".join(script) + "\n").stdout
        self.assertEqual(len(re.findall(r"(?m)^Domain 'vs-\d{3}' defined from ", out)), MANY, out)
        expected = ["vs-%03d" % i for i in range(MANY)]
        self.assertEqual(virsh_names(self.daemon.uri, "--all", prefix="vs-"), expected)
        self.assertEqual(virsh_names(self.daemon.uri, "--inactive", prefix="vs-"), expected)
        self.assertEqual(virsh_names(self.daemon.uri, prefix="vs-"), [])   # none running
        script = ["undefine vs-%03d" % i for i in range(MANY)]
        out = virsh(self.daemon.uri, input="\n".join(script) + "\n").stdout
        self.assertEqual(len(re.findall(r"(?m)^Domain 'vs-\d{3}' has been undefined", out)), MANY,
                         out)
        self.assertEqual(virsh_names(self.daemon.uri, "--all", prefix="vs-"), [])

    def test_concurrent_clients(self):
        # 8 connections defining, reading and undefining at the same time
        errors = []

        def worker(w):
            try:
                conn = libvirt.open(self.daemon.uri)
                for i in range(25):
                    name = "cc-%d-%02d" % (w, i)
                    dom = conn.defineXML(domain_xml(name))
                    if conn.lookupByName(name).UUIDString() != dom.UUIDString():
                        errors.append("%s: lookup returned another uuid" % name)
                    if "<name>%s</name>" % name not in dom.XMLDesc(0):
                        errors.append("%s: wrong XML" % name)
                    if i % 2:
                        dom.undefine()
                conn.close()
            except libvirt.libvirtError as e:
                errors.append("worker %d: %s" % (w, e))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        expected = sorted("cc-%d-%02d" % (w, i) for w in range(8) for i in range(0, 25, 2))
        self.assertEqual(names_of(self.conn, 0, "cc-"), expected)
        for n in expected:
            self.conn.lookupByName(n).undefine()

    # -- XML ----------------------------------------------------------
    def test_dumpxml_round_trip(self):
        u = str(uuidlib.uuid4())
        src = write_file(self.tmp, "rt.xml", domain_xml("rt-dom", u, memory_kib=524288, vcpus=2))
        virsh(self.daemon.uri, "define", src)
        first = virsh(self.daemon.uri, "dumpxml", "rt-dom").stdout
        ok, out = validate_xml(first, "domain")
        self.assertTrue(ok, "dumpxml does not validate: %s\n%s" % (out, first))
        root = ET.fromstring(first)
        self.assertEqual(root.get("type"), "bhyve")
        self.assertEqual(root.findtext("name"), "rt-dom")
        self.assertEqual(root.findtext("uuid"), u)
        mem = root.find("memory")
        factor = {"KiB": 1, "k": 1, "MiB": 1024, "M": 1024, "GiB": 1024 * 1024}[mem.get("unit", "KiB")]
        self.assertEqual(int(mem.text) * factor, 524288)
        self.assertEqual(root.findtext("vcpu").strip(), "2")
        self.assertEqual(root.findtext("os/type"), "hvm")
        kernel, initrd = hyvetest.debian_kernel()
        self.assertEqual(root.findtext("os/kernel"), kernel)
        self.assertEqual(root.findtext("os/initrd"), initrd)
        self.assertEqual(root.findtext("os/cmdline"), "console=ttyS0")
        # python returns the same document
        self.assertEqual(self.conn.lookupByName("rt-dom").XMLDesc(0).strip(), first.strip())
        # redefine from the dump: identical dump, same identity
        dumped = write_file(self.tmp, "rt-dump.xml", first)
        virsh(self.daemon.uri, "define", dumped)
        second = virsh(self.daemon.uri, "dumpxml", "rt-dom").stdout
        self.assertEqual(second, first)
        inactive = virsh(self.daemon.uri, "dumpxml", "--inactive", "rt-dom").stdout
        self.assertEqual(inactive, first)   # not running: live == persistent
        self.assertEqual(self.conn.lookupByName("rt-dom").UUIDString(), u)
        virsh(self.daemon.uri, "undefine", "rt-dom")

    def test_redefine_updates(self):
        u = str(uuidlib.uuid4())
        dom = self.conn.defineXML(domain_xml("upd-dom", u, memory_kib=262144, vcpus=1))
        self.assertEqual(dom.maxMemory(), 262144)
        info = virsh(self.daemon.uri, "dominfo", "upd-dom").stdout
        self.assertRegex(info, r"(?m)^Max memory: +262144 KiB$")
        self.assertRegex(info, r"(?m)^CPU\(s\): +1$")
        dom2 = self.conn.defineXML(domain_xml("upd-dom", u, memory_kib=1048576, vcpus=4))
        self.assertEqual(dom2.UUIDString(), u)
        self.assertEqual(names_of(self.conn, 0, "upd-"), ["upd-dom"])
        info = virsh(self.daemon.uri, "dominfo", "upd-dom").stdout
        self.assertRegex(info, r"(?m)^Max memory: +1048576 KiB$")
        self.assertRegex(info, r"(?m)^CPU\(s\): +4$")
        self.assertRegex(info, r"(?m)^UUID: +%s$" % u)
        self.assertRegex(info, r"(?m)^State: +shut off$")
        self.assertRegex(info, r"(?m)^Persistent: +yes$")
        self.assertRegex(info, r"(?m)^OS Type: +hvm$")
        state, maxmem, mem, nvcpu, cputime = self.conn.lookupByName("upd-dom").info()
        self.assertEqual((state, maxmem, nvcpu, cputime), (libvirt.VIR_DOMAIN_SHUTOFF, 1048576, 4, 0))
        dom2.undefine()

    def test_undefine(self):
        virsh(self.daemon.uri, "define", write_file(self.tmp, "und.xml", domain_xml("und-dom")))
        out = virsh(self.daemon.uri, "undefine", "und-dom").stdout
        self.assertIn("Domain 'und-dom' has been undefined", out)
        p = virsh(self.daemon.uri, "dominfo", "und-dom", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("failed to get domain 'und-dom'", p.stderr)
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.lookupByName("und-dom")
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)
        # a stale handle is refused too
        dom = self.conn.defineXML(domain_xml("und-dom2"))
        dom.undefine()
        with self.assertRaises(libvirt.libvirtError) as cm:
            dom.undefine()
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)
        with self.assertRaises(libvirt.libvirtError) as cm:
            dom.XMLDesc(0)
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)

    def test_autostart(self):
        for n in ("as-a", "as-b", "as-c"):
            self.conn.defineXML(domain_xml(n))
        out = virsh(self.daemon.uri, "autostart", "as-b").stdout
        self.assertIn("Domain 'as-b' marked as autostarted", out)
        self.assertEqual(self.conn.lookupByName("as-b").autostart(), 1)
        self.assertEqual(self.conn.lookupByName("as-a").autostart(), 0)
        self.assertRegex(virsh(self.daemon.uri, "dominfo", "as-b").stdout,
                         r"(?m)^Autostart: +enable$")
        self.assertRegex(virsh(self.daemon.uri, "dominfo", "as-a").stdout,
                         r"(?m)^Autostart: +disable$")
        self.assertEqual(virsh_names(self.daemon.uri, "--all", "--autostart", prefix="as-"),
                         ["as-b"])
        self.assertEqual(virsh_names(self.daemon.uri, "--all", "--no-autostart", prefix="as-"),
                         ["as-a", "as-c"])
        self.assertEqual(virsh_names(self.daemon.uri, "--inactive", prefix="as-"),
                         ["as-a", "as-b", "as-c"])
        self.assertEqual(names_of(self.conn, libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART, "as-"),
                         ["as-b"])
        self.assertEqual(names_of(self.conn, libvirt.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART, "as-"),
                         ["as-a", "as-c"])
        # python setter, then disable through virsh
        self.conn.lookupByName("as-c").setAutostart(1)
        self.assertEqual(virsh_names(self.daemon.uri, "--all", "--autostart", prefix="as-"),
                         ["as-b", "as-c"])
        out = virsh(self.daemon.uri, "autostart", "--disable", "as-b").stdout
        self.assertIn("Domain 'as-b' unmarked as autostarted", out)
        self.assertEqual(self.conn.lookupByName("as-b").autostart(), 0)
        self.assertEqual(names_of(self.conn, libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART, "as-"),
                         ["as-c"])
        # redefining keeps the autostart flag
        dom = self.conn.lookupByName("as-c")
        self.conn.defineXML(dom.XMLDesc(0))
        self.assertEqual(self.conn.lookupByName("as-c").autostart(), 1)
        for n in ("as-a", "as-b", "as-c"):
            self.conn.lookupByName(n).undefine()

    # -- errors -------------------------------------------------------
    def test_malformed_xml(self):
        for bad in ("<domain type='bhyve'><name>x</name>", "not xml at all", "<domain"):
            with self.assertRaises(libvirt.libvirtError) as cm:
                self.conn.defineXML(bad)
            self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_XML_ERROR,
                             "%r: %s" % (bad, cm.exception))
        path = write_file(self.tmp, "bad.xml", "<domain type='bhyve'><name>bad</name>")
        p = virsh(self.daemon.uri, "define", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("error: Failed to define domain from " + path, p.stderr)
        self.assertEqual(names_of(self.conn, 0, "bad"), [])

    def test_error_codes_travel(self):
        # The driver's error codes reach the client unchanged.
        cases = [
            # well-formed, but not libvirt's domain schema
            ("schema", domain_xml("err-schema").replace("<vcpu placement='static'>1</vcpu>",
                                                        "<vcpu placement='static'>one</vcpu>"),
             libvirt.VIR_ERR_XML_INVALID_SCHEMA if hasattr(libvirt, "VIR_ERR_XML_INVALID_SCHEMA")
             else 92),
            # valid libvirt XML hyve does not support
            ("unsupported", domain_xml("err-kvm").replace("<domain type='bhyve'>",
                                                          "<domain type='kvm'>"),
             libvirt.VIR_ERR_CONFIG_UNSUPPORTED),
        ]
        for name, xml, code in cases:
            with self.assertRaises(libvirt.libvirtError, msg=name) as cm:
                self.conn.defineXML(xml)
            self.assertEqual(cm.exception.get_error_code(), code, "%s: %s" % (name, cm.exception))
            self.assertTrue(cm.exception.get_error_message(), name)
        self.assertEqual(names_of(self.conn, 0, "err-"), [])
        # virsh shows the daemon's message verbatim
        path = write_file(self.tmp, "kvm.xml", cases[1][1])
        p = virsh(self.daemon.uri, "define", path, check=False)
        self.assertEqual(p.returncode, 1)
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.defineXML(cases[1][1])
        self.assertIn(cm.exception.get_error_message(), p.stderr)

    def test_duplicate_name_other_uuid(self):
        u1 = str(uuidlib.uuid4())
        self.conn.defineXML(domain_xml("dup-dom", u1))
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.defineXML(domain_xml("dup-dom", str(uuidlib.uuid4())))
        self.assertIn(cm.exception.get_error_code(),
                      (libvirt.VIR_ERR_OPERATION_FAILED, libvirt.VIR_ERR_DOM_EXIST), str(cm.exception))
        self.assertIn("dup-dom", str(cm.exception))
        # same uuid under another name: also refused
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.defineXML(domain_xml("dup-other", u1))
        self.assertIn(cm.exception.get_error_code(),
                      (libvirt.VIR_ERR_OPERATION_FAILED, libvirt.VIR_ERR_DOM_EXIST), str(cm.exception))
        # the original is untouched
        self.assertEqual(self.conn.lookupByName("dup-dom").UUIDString(), u1)
        self.assertEqual(names_of(self.conn, 0, "dup-"), ["dup-dom"])
        self.conn.lookupByName("dup-dom").undefine()

    def test_unknown_domain(self):
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.lookupByName("no-such-domain")
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.lookupByUUIDString(str(uuidlib.uuid4()))
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)
        p = virsh(self.daemon.uri, "dumpxml", "no-such-domain", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed to get domain 'no-such-domain'", p.stderr)

    def test_unknown_procedure_is_no_support(self):
        # A call hyve does not implement: the client maps the daemon's
        # "unknown procedure" error to VIR_ERR_NO_SUPPORT.
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.getCPUModelNames("x86_64")
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_SUPPORT,
                         str(cm.exception))
        # and the connection is still usable
        self.assertEqual(self.conn.getType(), "BHYVE")


if __name__ == "__main__":
    hyvetest.main()
