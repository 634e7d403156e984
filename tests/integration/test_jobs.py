#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Jobs and managed save, which hyve does not have: what virsh and
python3-libvirt see. Managed save is refused with libvirt's NO_SUPPORT
(code and domain, the text naming virDomainManagedSave), on a read-only
connection with OPERATION_DENIED before that; the job of any domain,
running or shut off, is "none" with zero counters (virDomainGetJobInfo)
and type NONE with no parameters (virDomainGetJobStats, `virsh
domjobinfo`, also --completed); an unknown domain is NO_DOMAIN. The
running domain runs on this host's /dev/kvm (its guest need not boot)."""
import os
import unittest

import libvirt

import hyvetest
from hyvetest import virsh

RUNNING = "jobs-run"
STOPPED = "jobs-off"
GONE = "jobs-gone"
NO_JOB = [libvirt.VIR_DOMAIN_JOB_NONE] + [0] * 11


class JobsTest(hyvetest.DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.conn = libvirt.open(cls.daemon.uri)
        cls.conn.defineXML(hyvetest.domain_xml(RUNNING, memory_kib=131072)).create()
        cls.conn.defineXML(hyvetest.domain_xml(STOPPED, memory_kib=131072))
        # a handle on a domain the daemon no longer has
        cls.gone = cls.conn.defineXML(hyvetest.domain_xml(GONE, memory_kib=131072))
        cls.gone.undefine()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.conn.lookupByName(RUNNING).destroy()
        except libvirt.libvirtError:
            pass
        cls.conn.close()
        super().tearDownClass()

    def assertError(self, cm, code, domain, case):
        e = cm.exception
        self.assertEqual((e.get_error_code(), e.get_error_domain()), (code, domain),
                         "%s: %s" % (case, e))

    def test_managed_save_no_support(self):
        for name in (RUNNING, STOPPED):
            p = virsh(self.daemon.uri, "managedsave", name, check=False)
            self.assertNotEqual(p.returncode, 0, name)
            self.assertIn("this function is not supported by the connection driver: "
                          "virDomainManagedSave", p.stderr, name)
            with self.assertRaises(libvirt.libvirtError) as cm:
                self.conn.lookupByName(name).managedSave(0)
            self.assertError(cm, libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_FROM_DOMAIN,
                             "managedSave of " + name)
        dom = self.conn.lookupByName(RUNNING)
        self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING)
        self.assertEqual(dom.hasManagedSaveImage(0), 0)

    def test_managed_save_read_only_denied(self):
        ro = libvirt.openReadOnly(self.daemon.uri_ro)
        try:
            with self.assertRaises(libvirt.libvirtError) as cm:
                ro.lookupByName(RUNNING).managedSave(0)
            self.assertError(cm, libvirt.VIR_ERR_OPERATION_DENIED, libvirt.VIR_FROM_DOMAIN,
                             "read-only managedSave")
            # reading the job is allowed there
            self.assertEqual(ro.lookupByName(RUNNING).jobInfo(), NO_JOB)
            self.assertEqual(ro.lookupByName(RUNNING).jobStats(0), {"type": 0})
        finally:
            ro.close()

    def test_job_info_none(self):
        for name in (RUNNING, STOPPED):
            self.assertEqual(self.conn.lookupByName(name).jobInfo(), NO_JOB, name)

    def test_job_stats_none(self):
        for name in (RUNNING, STOPPED):
            dom = self.conn.lookupByName(name)
            for flags in (0, libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED,
                          libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED
                          | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED):
                self.assertEqual(dom.jobStats(flags), {"type": libvirt.VIR_DOMAIN_JOB_NONE},
                                 "%s flags %d" % (name, flags))
            with self.assertRaises(libvirt.libvirtError) as cm:
                dom.jobStats(0x100)
            # libvirt's driver-side flag check: from the driver (bhyve)
            self.assertError(cm, libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_FROM_BHYVE,
                             "jobStats flags 0x100 of " + name)

    def test_virsh_domjobinfo(self):
        for name in (RUNNING, STOPPED):
            for extra in ([], ["--completed"]):
                out = virsh(self.daemon.uri, "domjobinfo", name, *extra).stdout
                lines = [l.split() for l in out.splitlines() if l.strip()]
                self.assertEqual(lines, [["Job", "type:", "None"]], "%s %s" % (name, extra))

    def test_unknown_domain(self):
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.gone.jobInfo()
        self.assertError(cm, libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_FROM_BHYVE,
                         "jobInfo of an undefined domain")
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.gone.jobStats(0)
        self.assertError(cm, libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_FROM_BHYVE,
                         "jobStats of an undefined domain")
        p = virsh(self.daemon.uri, "domjobinfo", GONE, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("failed to get domain '%s'" % GONE, p.stderr)


if __name__ == "__main__":
    hyvetest.require_daemon()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        hyvetest.skip("no usable /dev/kvm")
    hyvetest.main()
