#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Storage pools and volumes (issue 5) on dir pools, with the real virsh and
/usr/bin/python3 libvirt against an isolated daemon (--root in a temporary
directory): every pool procedure (define, create, build with and without
overwrite, start, destroy, delete, undefine, refresh, info against statvfs,
XML validated with virt-xml-validate, autostart, lists with every filter,
lookups, counts), the 'default' pool of a first start, pool events in order,
every volume procedure (create sparse / allocated / from XML, clone keeping
holes, delete, wipe, resize, info, XML, path, key, lookups, lists),
upload/download streams (a 256 MiB sparse file round-trips bit-exactly and
keeps its holes, offset/length, python sparse streams), concurrent creation
from several clients, exact errors for malformed XML, unsupported types and
formats and impossible sizes with nothing left behind, a full filesystem, the
read-only socket, daemon restarts, and a running domain whose disk is a
volume. Logical (LVM) pools need device-mapper: tests/lab/test-storage-run."""
import errno
import hashlib
import os
import queue
import random
import shutil
import stat
import subprocess
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

import hyvetest
from hyvetest import virsh, wait_until, write_file, validate_xml, domain_xml

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
FROM_STORAGE = libvirt.VIR_FROM_STORAGE     # 18

NO_POOL = "Storage pool not found: no storage pool with matching name '%s'"
NO_VOL = "Storage volume not found: no storage vol with matching name '%s'"
NOT_ACTIVE = "Requested operation is not valid: storage pool '%s' is not active"
ALREADY_ACTIVE = "Requested operation is not valid: storage pool '%s' is already active"
UNSUPPORTED_POOL = ("unsupported configuration: storage pool type '%s' is not supported by "
                    "hyve (supported: dir, logical)")
UNSUPPORTED_FMT = ("unsupported configuration: storage volume format '%s' is not supported "
                   "by hyve (supported: raw)")


# -- helpers ---------------------------------------------------------------

def pool_xml(name, path, uuid=None, ptype="dir", mode=None):
    perms = ""
    if mode is not None:
        perms = "<permissions><mode>%s</mode></permissions>" % mode
    return ("<pool type='%s'><name>%s</name>%s<target><path>%s</path>%s</target></pool>"
            % (ptype, name, "<uuid>%s</uuid>" % uuid if uuid else "", path, perms))


def vol_xml(name, capacity, allocation=None, unit="bytes", fmt=None, alloc_unit=None):
    alloc = ""
    if allocation is not None:
        alloc = "<allocation unit='%s'>%s</allocation>" % (alloc_unit or unit, allocation)
    target = "<target><format type='%s'/></target>" % fmt if fmt else ""
    return ("<volume><name>%s</name><capacity unit='%s'>%s</capacity>%s%s</volume>"
            % (name, unit, capacity, alloc, target))


def lv_err(fn, *args, **kw):
    """The libvirtError FN(*ARGS) raises; fails if it succeeds."""
    try:
        fn(*args, **kw)
    except libvirt.libvirtError as e:
        return e
    raise AssertionError("%s%r succeeded" % (getattr(fn, "__name__", fn), args))


def blocks(path):
    """Bytes really allocated to PATH."""
    return os.stat(path).st_blocks * 512


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def same_content(a, b):
    return subprocess.run(["cmp", a, b], capture_output=True).returncode == 0


def make_sparse(path, size, islands):
    """A SIZE-byte file with holes except at ISLANDS [(offset, length)] of
    random data; returns the islands' data."""
    rnd = random.Random(path)
    with open(path, "wb") as f:
        f.truncate(size)
        for off, length in islands:
            f.seek(off)
            f.write(rnd.randbytes(length))
    return path


def info_field(text, field):
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no %r in:\n%s" % (field, text))


class EventLoop:
    """The python default event loop on a thread (once per process)."""
    started = False

    @classmethod
    def ensure(cls):
        if not cls.started:
            libvirt.virEventRegisterDefaultImpl()

            def run():
                while True:
                    libvirt.virEventRunDefaultImpl()

            threading.Thread(target=run, daemon=True).start()
            cls.started = True


LIFECYCLE_NAMES = {getattr(libvirt, "VIR_STORAGE_POOL_EVENT_" + n): n for n in
                   ("DEFINED", "UNDEFINED", "STARTED", "STOPPED", "CREATED", "DELETED")}


class PoolEvents:
    """Pool lifecycle + refresh events of one connection as (pool, what)."""

    def __init__(self, uri, pool=None, readonly=False):
        EventLoop.ensure()
        self.conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
        self.got = []
        self.cond = threading.Condition()
        target = self.conn.storagePoolLookupByName(pool) if pool else None
        self.ids = [
            self.conn.storagePoolEventRegisterAny(
                target, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, self._lifecycle, None),
            self.conn.storagePoolEventRegisterAny(
                target, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, self._refresh, None),
        ]

    def _add(self, item):
        with self.cond:
            self.got.append(item)
            self.cond.notify_all()

    def _lifecycle(self, conn, pool, event, detail, opaque):
        self._add((pool.name(), LIFECYCLE_NAMES.get(event, str(event))))

    def _refresh(self, conn, pool, opaque):
        self._add((pool.name(), "REFRESH"))

    def of(self, name):
        with self.cond:
            return [w for n, w in self.got if n == name]

    def wait_count(self, name, n, timeout=20):
        end = time.monotonic() + timeout
        with self.cond:
            while len([1 for p, _ in self.got if p == name]) < n:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
        return self.of(name)

    def close(self):
        for i in self.ids:
            try:
                self.conn.storagePoolEventDeregisterAny(i)
            except libvirt.libvirtError:
                pass
        self.conn.close()


def config_dir(daemon):
    return os.path.join(daemon.root, "etc", "libvirt", "bhyve", "storage")


def state_dir(daemon):
    return os.path.join(daemon.root, "run", "libvirt", "bhyve", "storage")


class StorageCase(hyvetest.DaemonTestCase):
    """A shared daemon; every test removes the pools it made."""

    def setUp(self):
        self.conn = libvirt.open(self.daemon.uri)
        self.made = []

    def tearDown(self):
        for name in reversed(self.made):
            try:
                p = self.conn.storagePoolLookupByName(name)
            except libvirt.libvirtError:
                continue
            try:
                if p.isActive():
                    p.destroy()
                if p.isPersistent():
                    p.undefine()
            except libvirt.libvirtError:
                pass
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass
        self.assertDaemonAlive()

    def path_for(self, name):
        return os.path.join(self.tmp, "pool-" + name)

    def new_pool(self, name, build=True, start=True, persistent=True, path=None):
        path = path or self.path_for(name)
        self.made.append(name)
        xml = pool_xml(name, path)
        if persistent:
            p = self.conn.storagePoolDefineXML(xml, 0)
            if build:
                p.build(0)
            if start:
                p.create(0)
        else:
            p = self.conn.storagePoolCreateXML(
                xml, libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD if build else 0)
        return p, path

    def v(self, *args, **kw):
        return virsh(self.daemon.uri, *args, **kw)

    def assertLvErr(self, e, code, message=None, contains=None, domain=FROM_STORAGE):
        got = (e.get_error_code(), e.get_error_domain())
        self.assertEqual(got, (code, domain), "error %r: %s" % (got, e.get_error_message()))
        if message is not None:
            self.assertEqual(e.get_error_message(), message)
        if contains is not None:
            self.assertIn(contains, e.get_error_message())

    def pool_names(self, flags=0, only=None):
        names = sorted(p.name() for p in self.conn.listAllStoragePools(flags))
        return [n for n in names if only is None or n in only]


# -- pools ---------------------------------------------------------------------

class PoolTest(StorageCase):

    def test_00_default_pool_on_first_start(self):
        p = self.conn.storagePoolLookupByName("default")
        self.assertEqual((p.isActive(), p.isPersistent(), p.autostart()), (1, 1, 1))
        want = os.path.join(self.daemon.root, "var", "lib", "libvirt", "bhyve", "images")
        root = ET.fromstring(p.XMLDesc(0))
        self.assertEqual(root.get("type"), "dir")
        self.assertEqual(root.findtext("target/path"), want)
        st = os.stat(want)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o711)
        self.assertTrue(os.path.exists(os.path.join(config_dir(self.daemon), "default.xml")))
        self.assertTrue(os.path.islink(os.path.join(config_dir(self.daemon), "autostart",
                                                    "default.xml")))
        out = self.v("pool-list", "--autostart", "--name").stdout.split()
        self.assertIn("default", out)

    def test_virsh_pool_lifecycle(self):
        name, path = "vp-life", self.path_for("vp-life")
        self.made.append(name)
        xmlfile = write_file(self.tmp, name + ".xml", pool_xml(name, path))
        out = self.v("pool-define", xmlfile).stdout
        self.assertIn("Pool %s defined" % name, out)
        cfg = os.path.join(config_dir(self.daemon), name + ".xml")
        self.assertTrue(os.path.exists(cfg), cfg)
        self.assertIn(name, self.v("pool-list", "--inactive", "--name").stdout.split())
        self.assertNotIn(name, self.v("pool-list", "--name").stdout.split())
        info = self.v("pool-info", name).stdout
        self.assertEqual(info_field(info, "State"), "inactive")
        self.assertEqual(info_field(info, "Persistent"), "yes")
        self.assertEqual(info_field(info, "Autostart"), "no")
        self.assertFalse(os.path.exists(path))

        self.v("pool-build", name)
        self.assertTrue(os.path.isdir(path))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o711)
        self.v("pool-build", "--no-overwrite", name)
        self.v("pool-build", "--overwrite", name)
        self.assertTrue(os.path.isdir(path))

        self.v("pool-start", name)
        self.assertEqual(info_field(self.v("pool-info", name).stdout, "State"), "running")
        self.assertTrue(os.path.exists(os.path.join(state_dir(self.daemon), name + ".xml")))
        p = self.v("pool-start", name, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(ALREADY_ACTIVE % name, p.stderr)
        p = self.v("pool-build", name, check=False)
        self.assertEqual(p.returncode, 1, "pool-build of an active pool: " + p.stdout)

        self.v("pool-autostart", name)
        link = os.path.join(config_dir(self.daemon), "autostart", name + ".xml")
        self.assertTrue(os.path.islink(link))
        self.assertEqual(info_field(self.v("pool-info", name).stdout, "Autostart"), "yes")
        self.v("pool-autostart", "--disable", name)
        self.assertFalse(os.path.lexists(link))
        self.assertEqual(info_field(self.v("pool-info", name).stdout, "Autostart"), "no")

        # a file put there by hand shows up after a refresh
        with open(os.path.join(path, "by-hand.img"), "wb") as f:
            f.truncate(MiB)
        self.v("pool-refresh", name)
        self.assertIn("by-hand.img", self.v("vol-list", name).stdout)
        os.unlink(os.path.join(path, "by-hand.img"))
        self.v("pool-refresh", name)
        self.assertNotIn("by-hand.img", self.v("vol-list", name).stdout)

        self.v("pool-destroy", name)
        self.assertEqual(info_field(self.v("pool-info", name).stdout, "State"), "inactive")
        self.assertFalse(os.path.exists(os.path.join(state_dir(self.daemon), name + ".xml")))
        p = self.v("pool-destroy", name, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(NOT_ACTIVE % name, p.stderr)
        self.assertTrue(os.path.isdir(path), "destroy removed the directory")

        self.v("pool-delete", name)
        self.assertFalse(os.path.exists(path))
        self.v("pool-undefine", name)
        self.assertFalse(os.path.exists(cfg))
        self.assertNotIn(name, self.v("pool-list", "--all", "--name").stdout.split())
        p = self.v("pool-info", name, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(NO_POOL % name, p.stderr)

    def test_python_state_errors(self):
        pool, path = self.new_pool("py-state", build=False, start=False)
        e = lv_err(pool.destroy)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, NOT_ACTIVE % "py-state")
        e = lv_err(pool.refresh, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, NOT_ACTIVE % "py-state")
        e = lv_err(pool.listAllVolumes, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, NOT_ACTIVE % "py-state")
        e = lv_err(pool.build, libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE |
                   libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
        self.assertLvErr(e, libvirt.VIR_ERR_INVALID_ARG)
        e = lv_err(pool.build, libvirt.VIR_STORAGE_POOL_BUILD_REPAIR)
        self.assertLvErr(e, libvirt.VIR_ERR_NO_SUPPORT)
        self.assertFalse(os.path.exists(path), "a refused build made the directory")
        pool.build(libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
        pool.create(0)
        e = lv_err(pool.undefine)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID,
                         "Requested operation is not valid: storage pool 'py-state' is still active")
        e = lv_err(pool.delete, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, contains="py-state")
        pool.destroy()
        # delete of a directory that is not empty fails and keeps it
        with open(os.path.join(path, "keep.img"), "wb") as f:
            f.write(b"x")
        e = lv_err(pool.delete, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_FAILED, contains="not empty")
        self.assertTrue(os.path.exists(os.path.join(path, "keep.img")))
        os.unlink(os.path.join(path, "keep.img"))
        pool.delete(0)
        self.assertFalse(os.path.exists(path))
        # start without the directory fails and leaves it inactive
        self.assertRaises(libvirt.libvirtError, pool.create, 0)
        self.assertEqual(pool.isActive(), 0)
        # create with build makes it
        pool.create(libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
        self.assertTrue(os.path.isdir(path))
        self.assertEqual(pool.isActive(), 1)

    def test_transient_pool(self):
        name, path = "vp-trans", self.path_for("vp-trans")
        self.made.append(name)
        xmlfile = write_file(self.tmp, name + ".xml", pool_xml(name, path))
        p = self.v("pool-create", xmlfile, check=False)
        self.assertEqual(p.returncode, 1, "pool-create without the directory: " + p.stdout)
        self.assertNotIn(name, self.v("pool-list", "--all", "--name").stdout.split())
        self.v("pool-create", "--build", xmlfile)
        self.assertTrue(os.path.isdir(path))
        info = self.v("pool-info", name).stdout
        self.assertEqual((info_field(info, "State"), info_field(info, "Persistent")),
                         ("running", "no"))
        self.assertIn(name, self.v("pool-list", "--transient", "--name").stdout.split())
        self.assertFalse(os.path.exists(os.path.join(config_dir(self.daemon), name + ".xml")))
        self.assertTrue(os.path.exists(os.path.join(state_dir(self.daemon), name + ".xml")))
        pool = self.conn.storagePoolLookupByName(name)
        self.assertEqual((pool.isActive(), pool.isPersistent()), (1, 0))
        e = lv_err(pool.setAutostart, 1)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID,
                         "Requested operation is not valid: cannot set autostart for transient pool")
        e = lv_err(pool.undefine)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, contains="is not persistent")
        self.v("pool-destroy", name)
        self.assertNotIn(name, self.v("pool-list", "--all", "--name").stdout.split())
        self.assertFalse(os.path.exists(os.path.join(state_dir(self.daemon), name + ".xml")))
        self.assertTrue(os.path.isdir(path), "destroy of a transient pool removed its directory")

    def test_lists_with_every_filter(self):
        a, _ = self.new_pool("fl-a")                        # persistent, active, autostart
        a.setAutostart(1)
        self.new_pool("fl-b", start=False)                  # persistent, inactive
        self.new_pool("fl-c", persistent=False)             # transient, active
        ours = ("fl-a", "fl-b", "fl-c", "default")
        L = libvirt
        cases = [
            (0, ["default", "fl-a", "fl-b", "fl-c"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE, ["default", "fl-a", "fl-c"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE, ["fl-b"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT, ["default", "fl-a", "fl-b"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT, ["fl-c"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART, ["default", "fl-a"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART, ["fl-b", "fl-c"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_DIR, ["default", "fl-a", "fl-b", "fl-c"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_LOGICAL, []),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_ISCSI, []),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE | L.VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT,
             ["default", "fl-a"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE | L.VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT,
             []),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE | L.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE,
             ["default", "fl-a", "fl-b", "fl-c"]),
            (L.VIR_CONNECT_LIST_STORAGE_POOLS_DIR | L.VIR_CONNECT_LIST_STORAGE_POOLS_LOGICAL |
             L.VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART, ["fl-b", "fl-c"]),
        ]
        for t in ("FS", "NETFS", "DISK", "ISCSI", "SCSI", "MPATH", "RBD", "SHEEPDOG", "GLUSTER",
                  "ZFS", "VSTORAGE", "ISCSI_DIRECT"):
            flag = getattr(L, "VIR_CONNECT_LIST_STORAGE_POOLS_" + t, None)
            if flag is not None:
                cases.append((flag, []))
        for flags, want in cases:
            self.assertEqual(self.pool_names(flags, ours), want, "flags 0x%x" % flags)
        # the old calls and the counts
        active = sorted(n for n in self.conn.listStoragePools() if n in ours)
        defined = sorted(n for n in self.conn.listDefinedStoragePools() if n in ours)
        self.assertEqual((active, defined), (["default", "fl-a", "fl-c"], ["fl-b"]))
        self.assertEqual(self.conn.numOfStoragePools(), len(self.conn.listStoragePools()))
        self.assertEqual(self.conn.numOfDefinedStoragePools(),
                         len(self.conn.listDefinedStoragePools()))
        self.assertEqual(self.conn.numOfStoragePools() + self.conn.numOfDefinedStoragePools(),
                         len(self.conn.listAllStoragePools(0)))
        # virsh's filters
        vcases = [(["--all"], ["default", "fl-a", "fl-b", "fl-c"]), ([], ["default", "fl-a", "fl-c"]),
                  (["--inactive"], ["fl-b"]), (["--transient"], ["fl-c"]),
                  (["--persistent"], ["default", "fl-a"]),
                  (["--all", "--persistent"], ["default", "fl-a", "fl-b"]),
                  (["--autostart"], ["default", "fl-a"]), (["--no-autostart"], ["fl-c"]),
                  (["--all", "--no-autostart"], ["fl-b", "fl-c"]),
                  (["--all", "--type", "dir"], ["default", "fl-a", "fl-b", "fl-c"]),
                  (["--all", "--type", "logical"], [])]
        for opts, want in vcases:
            got = sorted(n for n in self.v("pool-list", "--name", *opts).stdout.split() if n in ours)
            self.assertEqual(got, want, "pool-list %s" % " ".join(opts))
        out = self.v("pool-list", "--all", "--details").stdout
        self.assertRegex(out, r"(?m)^ *fl-b +inactive +no +yes\b")

    def test_lookups(self):
        pool, path = self.new_pool("lk-a")
        uuid = pool.UUIDString()
        self.assertEqual(self.conn.storagePoolLookupByUUIDString(uuid).name(), "lk-a")
        self.assertEqual(self.conn.storagePoolLookupByUUID(uuidlib.UUID(uuid).bytes).name(),
                         "lk-a")
        self.assertEqual(self.conn.storagePoolLookupByTargetPath(path).name(), "lk-a")
        vol = pool.createXML(vol_xml("lk.img", MiB, 0), 0)
        self.assertEqual(vol.storagePoolLookupByVolume().name(), "lk-a")
        self.assertEqual(self.v("pool-name", uuid).stdout.strip(), "lk-a")
        self.assertEqual(self.v("pool-uuid", "lk-a").stdout.strip(), uuid)
        e = lv_err(self.conn.storagePoolLookupByName, "nope")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_POOL, NO_POOL % "nope")
        other = str(uuidlib.uuid4())
        e = lv_err(self.conn.storagePoolLookupByUUIDString, other)
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_POOL,
                         "Storage pool not found: no storage pool with matching uuid '%s'" % other)
        e = lv_err(self.conn.storagePoolLookupByTargetPath, "/nonexistent/dir")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_POOL, contains="/nonexistent/dir")

    def test_info_matches_statvfs(self):
        pool, path = self.new_pool("info-a")
        state, cap, alloc, avail = pool.info()
        sv = os.statvfs(path)
        self.assertEqual(state, libvirt.VIR_STORAGE_POOL_RUNNING)
        self.assertEqual(cap, sv.f_blocks * sv.f_frsize)
        slack = 256 * MiB      # other tests write meanwhile
        self.assertLess(abs(avail - sv.f_bavail * sv.f_frsize), slack, (avail, sv))
        self.assertLess(abs(alloc - (sv.f_blocks - sv.f_bfree) * sv.f_frsize), slack, (alloc, sv))
        root = ET.fromstring(pool.XMLDesc(0))
        for tag, val in (("capacity", cap), ("allocation", alloc), ("available", avail)):
            el = root.find(tag)
            self.assertEqual(el.get("unit"), "bytes", tag)
            self.assertLess(abs(int(el.text) - val), slack, tag)
        info = self.v("pool-info", "--bytes", "info-a").stdout
        self.assertEqual(info_field(info, "Capacity"), str(cap))
        pool.destroy()
        self.assertEqual(pool.info(), [libvirt.VIR_STORAGE_POOL_INACTIVE, 0, 0, 0])

    def test_dumpxml_validates(self):
        uuid = str(uuidlib.uuid4())
        name, path = "xml-a", self.path_for("xml-a")
        self.made.append(name)
        pool = self.conn.storagePoolDefineXML(pool_xml(name, path, uuid=uuid, mode="0750"), 0)
        pool.build(0)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o750)
        for opts in ([], ["--inactive"]):
            xml = self.v("pool-dumpxml", name, *opts).stdout
            ok, out = validate_xml(xml, "storagepool")
            self.assertTrue(ok, "pool-dumpxml %s: %s\n%s" % (opts, out, xml))
        pool.create(0)
        for opts in ([], ["--inactive"]):
            xml = self.v("pool-dumpxml", name, *opts).stdout
            ok, out = validate_xml(xml, "storagepool")
            self.assertTrue(ok, "pool-dumpxml %s: %s\n%s" % (opts, out, xml))
            root = ET.fromstring(xml)
            self.assertEqual((root.tag, root.get("type"), root.findtext("name"),
                              root.findtext("uuid"), root.findtext("target/path"),
                              root.findtext("target/permissions/mode")),
                             ("pool", "dir", name, uuid, path, "0750"))
        live = ET.fromstring(pool.XMLDesc(0))
        self.assertGreater(int(live.findtext("capacity")), 0)
        # the XML defines the same pool again (round trip)
        pool.destroy()
        again = self.conn.storagePoolDefineXML(pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE), 0)
        self.assertEqual(again.UUIDString(), uuid)

    def test_redefine_active_pool(self):
        # an active pool keeps its live definition until it stops
        pool, path = self.new_pool("redef")
        uuid = pool.UUIDString()
        path2 = path + "-new"
        self.conn.storagePoolDefineXML(pool_xml("redef", path2, uuid=uuid), 0)
        live = ET.fromstring(pool.XMLDesc(0))
        new = ET.fromstring(pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE))
        self.assertEqual(live.findtext("target/path"), path,
                         "the live definition of an active pool changed at define")
        self.assertEqual(new.findtext("target/path"), path2)
        vol = pool.createXML(vol_xml("r.img", MiB, 0), 0)
        self.assertEqual(vol.path(), os.path.join(path, "r.img"))
        vol.delete(0)
        pool.destroy()
        pool.build(0)
        pool.create(0)
        self.assertEqual(ET.fromstring(pool.XMLDesc(0)).findtext("target/path"), path2,
                         "the new definition was not used at the next start")
        self.assertEqual(pool.createXML(vol_xml("r.img", MiB, 0), 0).path(),
                         os.path.join(path2, "r.img"))

    def test_define_errors(self):
        before = self.pool_names()
        bad = ["<pool type='dir'><name>m</name>", "not xml", "<volume><name>v</name></volume>"]
        for text in bad:
            e = lv_err(self.conn.storagePoolDefineXML, text, 0)
            self.assertLvErr(e, libvirt.VIR_ERR_XML_ERROR)
        e = lv_err(self.conn.storagePoolDefineXML,
                   "<pool type='dir'><target><path>/tmp/x</path></target></pool>", 0)
        self.assertLvErr(e, libvirt.VIR_ERR_NO_NAME)
        iscsi = ("<pool type='iscsi'><name>is</name><source><host name='127.0.0.1'/>"
                 "<device path='iqn.2026-11.org.example:t'/></source>"
                 "<target><path>/dev/disk/by-path</path></target></pool>")
        for call in (self.conn.storagePoolDefineXML, self.conn.storagePoolCreateXML):
            e = lv_err(call, iscsi, 0)
            self.assertLvErr(e, libvirt.VIR_ERR_CONFIG_UNSUPPORTED, UNSUPPORTED_POOL % "iscsi")
        path = write_file(self.tmp, "iscsi.xml", iscsi)
        p = self.v("pool-define", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(UNSUPPORTED_POOL % "iscsi", p.stderr)
        # schema validation on request
        e = lv_err(self.conn.storagePoolDefineXML,
                   "<pool type='dir'><name>sv</name><bogus/><target><path>/tmp/sv</path>"
                   "</target></pool>", getattr(libvirt, "VIR_STORAGE_POOL_DEFINE_VALIDATE", 1))
        self.assertLvErr(e, libvirt.VIR_ERR_XML_INVALID_SCHEMA if hasattr(
            libvirt, "VIR_ERR_XML_INVALID_SCHEMA") else 92)
        for name in ("a/b", "../evil"):
            e = lv_err(self.conn.storagePoolDefineXML, pool_xml(name, "/tmp/x"), 0)
            self.assertLvErr(e, libvirt.VIR_ERR_XML_ERROR, contains="cannot contain '/'")
        lv_err(self.conn.storagePoolDefineXML, pool_xml("n" * 300, "/tmp/x"), 0)
        # the config dir holds only the drivers' own folders (networks: issue 6)
        self.assertEqual(sorted(os.listdir(os.path.dirname(config_dir(self.daemon)))),
                         ["networks", "storage"])
        e = lv_err(self.conn.storagePoolDefineXML, pool_xml("rel", "relative/dir"), 0)
        self.assertEqual(e.get_error_domain(), FROM_STORAGE, str(e))
        self.assertIn("relative/dir", e.get_error_message())
        self.assertEqual(self.pool_names(), before, "a refused definition was kept")
        # duplicates
        pool, path = self.new_pool("dup-a", build=False, start=False)
        e = lv_err(self.conn.storagePoolDefineXML, pool_xml("dup-a", path + "2",
                                                           uuid=str(uuidlib.uuid4())), 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_FAILED, contains="dup-a")
        e = lv_err(self.conn.storagePoolDefineXML,
                   pool_xml("dup-b", path + "3", uuid=pool.UUIDString()), 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_FAILED, contains="dup-a")
        e = lv_err(self.conn.storagePoolDefineXML, pool_xml("dup-c", path), 0)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_FAILED,
                         "operation failed: Storage source conflict with pool: 'dup-a'")
        self.assertEqual(self.pool_names(), sorted(before + ["dup-a"]))
        # redefining with the same uuid replaces the definition
        self.conn.storagePoolDefineXML(pool_xml("dup-a", path, uuid=pool.UUIDString(),
                                                mode="0700"), 0)
        self.assertIn("<mode>0700</mode>", pool.XMLDesc(0))

    def test_unsupported_flags(self):
        pool, _ = self.new_pool("flags-a")
        vol = pool.createXML(vol_xml("f.img", MiB, 0), 0)
        calls = [("virStorageVolGetXMLDesc", lambda: vol.XMLDesc(1)),
                 ("virStoragePoolGetXMLDesc", lambda: pool.XMLDesc(2)),
                 ("virStoragePoolRefresh", lambda: pool.refresh(1)),
                 ("virConnectListAllStoragePools", lambda: self.conn.listAllStoragePools(1 << 30)),
                 ("virStoragePoolListAllVolumes", lambda: pool.listAllVolumes(1)),
                 ("virStorageVolWipePattern", lambda: vol.wipePattern(0, 1)),
                 ("virStorageVolResize", lambda: vol.resize(2 * MiB, 1 << 8))]
        for api, call in calls:
            e = lv_err(call)
            self.assertEqual((e.get_error_code(), e.get_error_domain()),
                             (libvirt.VIR_ERR_INVALID_ARG, FROM_STORAGE), "%s: %s" % (api, e))
            self.assertIn("unsupported flags", e.get_error_message(), api)
        self.assertEqual(vol.info()[1], MiB)

    def test_capabilities_and_sources(self):
        caps = self.conn.getStoragePoolCapabilities(0)
        root = ET.fromstring(caps)
        supported = {p.get("type"): p.get("supported") for p in root.findall("pool")}
        self.assertEqual((supported.get("dir"), supported.get("logical")), ("yes", "yes"), caps)
        self.assertNotEqual(supported.get("iscsi"), "yes", caps)
        ok, out = validate_xml(caps, "storagepoolcaps")
        self.assertTrue(ok, "%s\n%s" % (out, caps))
        self.assertEqual(self.v("pool-capabilities").stdout.strip(), caps.strip())
        e = lv_err(self.conn.findStoragePoolSources, "logical", None, 0)
        self.assertEqual(e.get_error_code(), libvirt.VIR_ERR_NO_SUPPORT, str(e))

    def test_events_in_order(self):
        ev = PoolEvents(self.daemon.uri)
        ro = PoolEvents(self.daemon.uri_ro, readonly=True)
        try:
            name, path = "ev-a", self.path_for("ev-a")
            self.made.append(name)
            self.v("pool-define", write_file(self.tmp, name + ".xml", pool_xml(name, path)))
            only = PoolEvents(self.daemon.uri, pool=name)
            self.v("pool-build", name)
            self.v("pool-start", name)
            self.v("pool-refresh", name)
            self.v("vol-create-as", name, "e.img", "1M")
            src = make_sparse(os.path.join(self.tmp, "ev-src"), MiB, [(0, 4096)])
            self.v("vol-upload", "e.img", src, "--pool", name)
            self.v("vol-delete", "e.img", "--pool", name)
            self.v("pool-destroy", name)
            self.v("pool-delete", name)
            self.v("pool-undefine", name)
            want = ["DEFINED", "CREATED", "STARTED", "REFRESH", "REFRESH", "STOPPED", "DELETED",
                    "UNDEFINED"]
            self.assertEqual(ev.wait_count(name, len(want)), want)
            self.assertEqual(ro.wait_count(name, len(want)), want, "read-only listener")
            self.assertEqual(only.wait_count(name, len(want) - 1), want[1:])
            # transient: started and stopped only
            t = "ev-t"
            self.made.append(t)
            self.conn.storagePoolCreateXML(pool_xml(t, self.path_for(t)),
                                           libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD).destroy()
            self.assertEqual(ev.wait_count(t, 2), ["STARTED", "STOPPED"])
            time.sleep(0.5)
            self.assertEqual(ev.of(t), ["STARTED", "STOPPED"])
            self.assertEqual([p for p, _ in only.got if p != name], [],
                             "a pool-filtered registration saw other pools")
            only.close()
        finally:
            ev.close()
            ro.close()

    def test_virsh_pool_event(self):
        name, path = "vev-a", self.path_for("vev-a")
        self.made.append(name)
        procs = {kind: subprocess.Popen(
            [hyvetest.VIRSH, "-c", self.daemon.uri, "pool-event", "--event", kind, "--loop",
             "--timeout", "8"], env=hyvetest.client_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True) for kind in ("lifecycle", "refresh")}
        time.sleep(1.5)      # registered
        self.v("pool-define", write_file(self.tmp, name + ".xml", pool_xml(name, path)))
        self.v("pool-build", name)
        self.v("pool-start", name)
        self.v("pool-refresh", name)
        self.v("pool-destroy", name)
        self.v("pool-delete", name)
        self.v("pool-undefine", name)
        outs = {k: p.communicate(timeout=30)[0] for k, p in procs.items()}
        mine = {k: [l.strip() for l in out.splitlines() if "storage pool %s" % name in l]
                for k, out in outs.items()}
        self.assertEqual(mine["lifecycle"], [
            "event 'lifecycle' for storage pool %s: %s" % (name, w) for w in
            ("Defined", "Created", "Started", "Stopped", "Deleted", "Undefined")],
            outs["lifecycle"])
        self.assertEqual(mine["refresh"], ["event 'refresh' for storage pool %s" % name],
                         outs["refresh"])

    def test_readonly_socket_refuses_changes(self):
        pool, path = self.new_pool("ro-a")
        vol = pool.createXML(vol_xml("ro.img", MiB, 0), 0)
        ro = libvirt.open(self.daemon.uri_ro)       # no RO flag: the daemon must refuse
        try:
            rpool = ro.storagePoolLookupByName("ro-a")
            rvol = rpool.storageVolLookupByName("ro.img")
            self.assertIn("<name>ro-a</name>", rpool.XMLDesc(0))
            self.assertEqual(rvol.info()[1], MiB)
            self.assertIn("ro-a", [p.name() for p in ro.listAllStoragePools(0)])
            calls = [
                ("virStoragePoolDefineXML",
                 lambda: ro.storagePoolDefineXML(pool_xml("ro-new", path + "x"), 0)),
                ("virStoragePoolCreateXML",
                 lambda: ro.storagePoolCreateXML(pool_xml("ro-new", path + "x"), 0)),
                ("virStoragePoolBuild", lambda: rpool.build(0)),
                ("virStoragePoolCreate", lambda: rpool.create(0)),
                ("virStoragePoolRefresh", lambda: rpool.refresh(0)),
                ("virStoragePoolSetAutostart", lambda: rpool.setAutostart(1)),
                ("virStoragePoolDestroy", rpool.destroy),
                ("virStoragePoolDelete", lambda: rpool.delete(0)),
                ("virStoragePoolUndefine", rpool.undefine),
                ("virStorageVolCreateXML", lambda: rpool.createXML(vol_xml("ro2", MiB, 0), 0)),
                ("virStorageVolCreateXMLFrom",
                 lambda: rpool.createXMLFrom(vol_xml("ro3", MiB, 0), rvol, 0)),
                ("virStorageVolDelete", lambda: rvol.delete(0)),
                ("virStorageVolWipe", lambda: rvol.wipe(0)),
                ("virStorageVolWipePattern", lambda: rvol.wipePattern(0, 0)),
                ("virStorageVolResize", lambda: rvol.resize(2 * MiB, 0)),
                ("virStorageVolUpload", lambda: rvol.upload(ro.newStream(0), 0, 0, 0)),
                ("virStorageVolDownload", lambda: rvol.download(ro.newStream(0), 0, 0, 0)),
            ]
            for api, call in calls:
                e = lv_err(call)
                self.assertEqual((e.get_error_code(), e.get_error_domain(), e.get_error_message()),
                                 (libvirt.VIR_ERR_OPERATION_DENIED, FROM_STORAGE,
                                  "operation forbidden: read only access prevents " + api), api)
        finally:
            ro.close()
        self.assertEqual(pool.isActive(), 1)
        self.assertEqual(pool.autostart(), 0)
        self.assertEqual(sorted(pool.listVolumes()), ["ro.img"])
        self.assertEqual(vol.info()[1], MiB)
        self.assertNotIn("ro-new", self.pool_names())
        p = virsh(self.daemon.uri_ro, "pool-destroy", "ro-a", readonly=True, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(pool.isActive(), 1)


# -- volumes -------------------------------------------------------------------

class VolumeTest(StorageCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conn = libvirt.open(cls.daemon.uri)
        cls.pool_path = os.path.join(cls.tmp, "vols")
        p = conn.storagePoolDefineXML(pool_xml("vols", cls.pool_path), 0)
        p.build(0)
        p.create(0)
        conn.close()

    def setUp(self):
        super().setUp()
        self.pool = self.conn.storagePoolLookupByName("vols")

    def vpath(self, name):
        return os.path.join(self.pool_path, name)

    def test_create_as_sparse_and_allocated(self):
        self.v("vol-create-as", "vols", "sparse.img", "64M", "--allocation", "0")
        st = os.stat(self.vpath("sparse.img"))
        self.assertEqual((st.st_size, st.st_blocks), (64 * MiB, 0))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        info = self.v("vol-info", "sparse.img", "--pool", "vols", "--bytes").stdout
        self.assertEqual(info_field(info, "Type"), "file")
        self.assertEqual(info_field(info, "Capacity"), "%d bytes" % (64 * MiB))
        self.assertEqual(info_field(info, "Allocation"), "0 bytes")

        self.v("vol-create-as", "vols", "full.img", "8M", "--allocation", "8M")
        self.assertEqual(os.path.getsize(self.vpath("full.img")), 8 * MiB)
        self.assertGreaterEqual(blocks(self.vpath("full.img")), 8 * MiB)
        # without <allocation>, libvirt allocates the whole capacity
        self.v("vol-create-as", "vols", "dflt.img", "4M")
        self.assertGreaterEqual(blocks(self.vpath("dflt.img")), 4 * MiB)
        self.v("vol-create-as", "vols", "part.img", "16M", "--allocation", "4M")
        b = blocks(self.vpath("part.img"))
        self.assertTrue(4 * MiB <= b < 16 * MiB, b)
        vol = self.pool.storageVolLookupByName("part.img")
        t, cap, alloc = vol.info()
        self.assertEqual((t, cap), (libvirt.VIR_STORAGE_VOL_FILE, 16 * MiB))
        self.assertEqual(alloc, b)
        # allocation above capacity is clamped
        self.v("vol-create-as", "vols", "clamp.img", "1M", "--allocation", "4M")
        self.assertEqual(os.path.getsize(self.vpath("clamp.img")), MiB)
        # the name is taken
        p = self.v("vol-create-as", "vols", "full.img", "1M", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("storage volume 'full.img' exists already", p.stderr)
        e = lv_err(self.pool.createXML, vol_xml("full.img", MiB), 0)
        self.assertLvErr(e, libvirt.VIR_ERR_STORAGE_VOL_EXIST,
                         contains="storage volume 'full.img' exists already")
        self.assertEqual(os.path.getsize(self.vpath("full.img")), 8 * MiB)
        for n in ("sparse.img", "full.img", "dflt.img", "part.img", "clamp.img"):
            self.v("vol-delete", n, "--pool", "vols")

    def test_create_from_xml_units(self):
        cases = [("u-mib.img", "3", "MiB", 3 * MiB), ("u-kb.img", "4096", "KB", 4096000),
                 ("u-g.img", "1", "G", GiB), ("u-bytes.img", "12345", "bytes", 12345)]
        for name, val, unit, want in cases:
            path = write_file(self.tmp, name + ".xml", vol_xml(name, val, 0, unit=unit))
            self.v("vol-create", "vols", path)
            self.assertEqual(os.path.getsize(self.vpath(name)), want, name)
            self.assertEqual(blocks(self.vpath(name)), 0, name)
            self.assertEqual(self.pool.storageVolLookupByName(name).info()[1], want, name)
            self.pool.storageVolLookupByName(name).delete(0)
        vol = self.pool.createXML(
            "<volume type='file'><name>x.raw</name><capacity unit='M'>2</capacity>"
            "<allocation unit='K'>512</allocation><target><format type='raw'/>"
            "</target></volume>", 0)
        self.assertEqual(vol.info()[1], 2 * MiB)
        self.assertGreaterEqual(blocks(self.vpath("x.raw")), 512 * KiB)
        vol.delete(0)

    def test_info_xml_path_key_lookups(self):
        vol = self.pool.createXML(vol_xml("look.img", 5 * MiB, MiB), 0)
        path = self.vpath("look.img")
        self.assertEqual(vol.path(), path)
        self.assertEqual(vol.key(), path)
        self.assertEqual(vol.name(), "look.img")
        self.assertEqual(self.v("vol-path", "look.img", "--pool", "vols").stdout.strip(), path)
        self.assertEqual(self.v("vol-key", "look.img", "--pool", "vols").stdout.strip(), path)
        self.assertEqual(self.v("vol-name", path).stdout.strip(), "look.img")
        self.assertEqual(self.v("vol-pool", path).stdout.strip(), "vols")
        self.assertEqual(self.conn.storageVolLookupByKey(path).name(), "look.img")
        self.assertEqual(self.conn.storageVolLookupByPath(path).name(), "look.img")
        self.assertEqual(self.conn.storageVolLookupByPath(path).storagePoolLookupByVolume().name(),
                         "vols")
        xml = self.v("vol-dumpxml", "look.img", "--pool", "vols").stdout
        ok, out = validate_xml(xml, "storagevol")
        self.assertTrue(ok, "%s\n%s" % (out, xml))
        root = ET.fromstring(xml)
        self.assertEqual((root.get("type"), root.findtext("name"), root.findtext("key"),
                          root.findtext("target/path"), root.find("target/format").get("type")),
                         ("file", "look.img", path, path, "raw"))
        self.assertEqual(int(root.findtext("capacity")), 5 * MiB)
        self.assertEqual(root.find("capacity").get("unit"), "bytes")
        self.assertEqual(int(root.findtext("allocation")), blocks(path))
        self.assertEqual(int(root.findtext("physical")), 5 * MiB)
        info = self.v("vol-info", "look.img", "--pool", "vols", "--physical", "--bytes").stdout
        self.assertEqual(info_field(info, "Physical"), "%d bytes" % (5 * MiB))
        # lists
        out = self.v("vol-list", "vols").stdout
        self.assertRegex(out, r"(?m)^ *look\.img +%s *$" % path.replace(".", r"\."))
        self.assertIn("look.img", self.pool.listVolumes())
        self.assertIn("look.img", [v.name() for v in self.pool.listAllVolumes(0)])
        self.assertEqual(self.pool.numOfVolumes(), len(self.pool.listVolumes()))
        # not found
        e = lv_err(self.pool.storageVolLookupByName, "nope.img")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_VOL, NO_VOL % "nope.img")
        e = lv_err(self.conn.storageVolLookupByKey, "/no/such/key")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_VOL,
                         "Storage volume not found: no storage vol with matching key '/no/such/key'")
        e = lv_err(self.conn.storageVolLookupByPath, "/no/such/path")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_VOL,
                         "Storage volume not found: no storage vol with matching path "
                         "'/no/such/path'")
        vol.delete(0)

    def test_odd_names_escaped(self):
        from xml.sax.saxutils import escape
        ents = {"'": "&apos;", '"': "&quot;"}
        pname = "p&q<'r\""
        path = os.path.join(self.tmp, "odd & dir")
        self.made.append(pname)
        pool = self.conn.storagePoolDefineXML(pool_xml(escape(pname, ents), escape(path)), 0)
        pool.build(0)
        pool.create(0)
        self.assertEqual(pool.name(), pname)
        ok, out = validate_xml(pool.XMLDesc(0), "storagepool")
        self.assertTrue(ok, out)
        self.assertEqual(ET.fromstring(pool.XMLDesc(0)).findtext("target/path"), path)
        names = ["a&b<c>'d\".img", "sp ace \u00fc.img", "tab\tx.img"]
        for n in names:
            vol = pool.createXML("<volume><name>%s</name><capacity>1048576</capacity>"
                                 "</volume>" % escape(n, ents), 0)
            xml = vol.XMLDesc(0)
            ok, out = validate_xml(xml, "storagevol")
            self.assertTrue(ok, "%r: %s" % (n, out))
            root = ET.fromstring(xml)
            self.assertEqual((vol.name(), root.findtext("name"), root.findtext("target/path")),
                             (n, n, os.path.join(path, n)))
            self.assertEqual(self.conn.storageVolLookupByPath(os.path.join(path, n)).name(), n)
        self.assertEqual(sorted(os.listdir(path)), sorted(names))
        self.assertEqual(sorted(pool.listVolumes()), sorted(names))
        for n in names:
            pool.storageVolLookupByName(n).delete(0)

    def test_hidden_name_refused(self):
        # hidden files are not volumes (refresh skips them), so none is created
        before = sorted(os.listdir(self.pool_path))
        for name in (".dot.img", ".", ".."):
            e = lv_err(self.pool.createXML, vol_xml(name, MiB, 0), 0)
            self.assertEqual(e.get_error_domain(), FROM_STORAGE, str(e))
        self.assertEqual(sorted(os.listdir(self.pool_path)), before)

    def test_hidden_files_subdirs_and_qcow2(self):
        os.mkdir(self.vpath("subdir"))
        with open(self.vpath(".hidden"), "wb") as f:
            f.truncate(MiB)
        with open(self.vpath("q.qcow2"), "wb") as f:
            f.write(b"QFI\xfb\0\0\0\3" + b"\0" * 504)
            f.truncate(MiB)
        try:
            self.pool.refresh(0)
            names = self.pool.listVolumes()
            self.assertNotIn(".hidden", names)
            self.assertNotIn("subdir", names)
            self.assertIn("q.qcow2", names)
            xml = self.pool.storageVolLookupByName("q.qcow2").XMLDesc(0)
            self.assertEqual(ET.fromstring(xml).find("target/format").get("type"), "qcow2")
        finally:
            os.rmdir(self.vpath("subdir"))
            os.unlink(self.vpath(".hidden"))
            os.unlink(self.vpath("q.qcow2"))
            self.pool.refresh(0)

    def test_clone_keeps_holes(self):
        src = self.vpath("orig.img")
        self.v("vol-create-as", "vols", "orig.img", "64M", "--allocation", "0")
        rnd = random.Random(7)
        with open(src, "r+b") as f:
            for off in (0, 40 * MiB + 12345):
                f.seek(off)
                f.write(rnd.randbytes(MiB))
        self.pool.refresh(0)
        self.v("vol-clone", "orig.img", "copy.img", "--pool", "vols")
        dst = self.vpath("copy.img")
        self.assertEqual(os.path.getsize(dst), 64 * MiB)
        self.assertTrue(same_content(src, dst))
        self.assertLessEqual(blocks(dst), 4 * MiB, "the clone lost its holes")
        # from XML, larger, into another pool
        other, opath = self.new_pool("vols2")
        big = other.createXMLFrom(vol_xml("big.img", 128, 0, unit="MiB"),
                                  self.pool.storageVolLookupByName("orig.img"), 0)
        bpath = os.path.join(opath, "big.img")
        self.assertEqual(big.info()[1], 128 * MiB)
        self.assertEqual(os.path.getsize(bpath), 128 * MiB)
        with open(src, "rb") as a, open(bpath, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).digest(),
                             hashlib.sha256(b.read(64 * MiB)).digest())
            self.assertEqual(b.read().count(0), 64 * MiB)
        self.assertLessEqual(blocks(bpath), 4 * MiB)
        # a clone source that does not exist
        p = self.v("vol-clone", "nope.img", "n2.img", "--pool", "vols", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nope.img", p.stderr)
        self.assertFalse(os.path.exists(self.vpath("n2.img")))
        for n in ("orig.img", "copy.img"):
            self.v("vol-delete", n, "--pool", "vols")
        big.delete(0)

    def test_delete(self):
        self.v("vol-create-as", "vols", "del.img", "1M")
        self.v("vol-delete", "del.img", "--pool", "vols")
        self.assertFalse(os.path.exists(self.vpath("del.img")))
        self.assertNotIn("del.img", self.pool.listVolumes())
        p = self.v("vol-delete", "del.img", "--pool", "vols", check=False)
        self.assertEqual(p.returncode, 1)
        # virsh tries the name, then the argument as a key and as a path
        self.assertIn("failed to get vol 'del.img'", p.stderr)
        e = lv_err(self.pool.storageVolLookupByName, "del.img")
        self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_VOL, NO_VOL % "del.img")
        vol = self.pool.createXML(vol_xml("del2.img", MiB), 0)
        e = lv_err(vol.delete, libvirt.VIR_STORAGE_VOL_DELETE_ZEROED)
        self.assertLvErr(e, libvirt.VIR_ERR_NO_SUPPORT)
        self.assertTrue(os.path.exists(self.vpath("del2.img")))
        vol.delete(0)
        self.assertFalse(os.path.exists(self.vpath("del2.img")))

    def test_wipe(self):
        self.v("vol-create-as", "vols", "w.img", "32M", "--allocation", "0")
        path = self.vpath("w.img")
        with open(path, "r+b") as f:
            f.seek(5 * MiB)
            f.write(b"\xa5" * (2 * MiB))
        self.v("vol-wipe", "w.img", "--pool", "vols")
        self.assertEqual(os.path.getsize(path), 32 * MiB)
        with open(path, "rb") as f:
            self.assertEqual(f.read().count(0), 32 * MiB)
        self.assertLessEqual(blocks(path), MiB, "wipe filled a sparse volume")
        vol = self.pool.storageVolLookupByName("w.img")
        e = lv_err(vol.wipePattern, libvirt.VIR_STORAGE_VOL_WIPE_ALG_NNSA, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_NO_SUPPORT)
        vol.wipePattern(libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, 0)
        vol.delete(0)

    def test_resize(self):
        self.v("vol-create-as", "vols", "r.img", "8M", "--allocation", "0")
        path = self.vpath("r.img")
        with open(path, "r+b") as f:
            f.write(b"keep" * 1024)
        vol = self.pool.storageVolLookupByName("r.img")
        self.v("vol-resize", "r.img", "16M", "--pool", "vols")
        self.assertEqual((os.path.getsize(path), vol.info()[1]), (16 * MiB, 16 * MiB))
        self.assertLessEqual(blocks(path), MiB, "a plain grow allocated")
        p = self.v("vol-resize", "r.img", "4M", "--pool", "vols", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Can't shrink capacity below current capacity unless shrink flag "
                      "explicitly specified", p.stderr)
        e = lv_err(vol.resize, 4 * MiB, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_INVALID_ARG)
        self.assertEqual(os.path.getsize(path), 16 * MiB)
        self.v("vol-resize", "r.img", "4M", "--pool", "vols", "--shrink")
        self.assertEqual(os.path.getsize(path), 4 * MiB)
        self.v("vol-resize", "r.img", "4M", "--pool", "vols", "--delta")
        self.assertEqual(os.path.getsize(path), 8 * MiB)
        vol.resize(12 * MiB, libvirt.VIR_STORAGE_VOL_RESIZE_ALLOCATE)
        self.assertEqual(os.path.getsize(path), 12 * MiB)
        self.assertGreaterEqual(blocks(path), 4 * MiB, "ALLOCATE did not allocate the new part")
        with open(path, "rb") as f:
            self.assertEqual(f.read(4096), b"keep" * 1024)
        free = self.pool.info()[3]
        e = lv_err(vol.resize, free + 64 * GiB, libvirt.VIR_STORAGE_VOL_RESIZE_ALLOCATE)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_FAILED,
                         "operation failed: Not enough space left in storage pool")
        self.assertEqual(os.path.getsize(path), 12 * MiB)
        vol.delete(0)

    def test_errors_leave_nothing_behind(self):
        before = sorted(os.listdir(self.pool_path))
        vols_before = sorted(self.pool.listVolumes())
        L = libvirt
        cases = [
            ("malformed", "<volume><name>m.img</name><capacity>1", L.VIR_ERR_XML_ERROR, None),
            ("not xml", "garbage", L.VIR_ERR_XML_ERROR, None),
            ("no capacity", "<volume><name>nc.img</name></volume>", L.VIR_ERR_XML_ERROR, None),
            ("slash", vol_xml("a/b.img", MiB), L.VIR_ERR_XML_ERROR, None),
            ("qcow2", vol_xml("q.qcow2", MiB, 0, fmt="qcow2"), L.VIR_ERR_CONFIG_UNSUPPORTED,
             UNSUPPORTED_FMT % "qcow2"),
            ("vmdk", vol_xml("q.vmdk", MiB, 0, fmt="vmdk"), L.VIR_ERR_CONFIG_UNSUPPORTED,
             UNSUPPORTED_FMT % "vmdk"),
            ("2^63", vol_xml("huge.img", 1 << 63, 0), L.VIR_ERR_OVERFLOW, None),
            ("8 EiB", vol_xml("huge2.img", 8, 0, unit="EiB"), L.VIR_ERR_OVERFLOW, None),
            ("2^64", vol_xml("huge3.img", 1 << 64, 0), None, None),
            ("bad unit", vol_xml("bu.img", 1, 0, unit="XB"), L.VIR_ERR_INVALID_ARG,
             "unknown suffix 'XB'"),
            ("negative", vol_xml("neg.img", -1, 0), L.VIR_ERR_XML_ERROR, None),
        ]
        for what, xml, code, text in cases:
            e = lv_err(self.pool.createXML, xml, 0)
            if code is not None:
                self.assertEqual((e.get_error_code(), e.get_error_domain()),
                                 (code, FROM_STORAGE), "%s: %s" % (what, e))
            if text is not None:
                self.assertIn(text, e.get_error_message(), what)
        for what, xml in (
                ("backingStore", "<volume><name>b.img</name><capacity>1048576</capacity>"
                 "<backingStore><path>/tmp/base.img</path><format type='raw'/></backingStore>"
                 "</volume>"),
                ("encryption", "<volume><name>e.img</name><capacity>1048576</capacity><target>"
                 "<encryption format='luks'><secret type='passphrase' "
                 "uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption></target></volume>")):
            e = lv_err(self.pool.createXML, xml, 0)
            self.assertLvErr(e, libvirt.VIR_ERR_CONFIG_UNSUPPORTED, contains=what)
        e = lv_err(self.pool.createXML, vol_xml("pm.img", MiB, 0),
                   libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA)
        self.assertEqual((e.get_error_code(), e.get_error_domain()),
                         (libvirt.VIR_ERR_CONFIG_UNSUPPORTED, FROM_STORAGE), str(e))
        p = self.v("vol-create-as", "vols", "v8e.img", "8E", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("value too large", p.stderr)
        p = self.v("vol-create-as", "vols", "vq.img", "1M", "--format", "qcow2", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(UNSUPPORTED_FMT % "qcow2", p.stderr)
        self.pool.refresh(0)
        self.assertEqual(sorted(os.listdir(self.pool_path)), before)
        self.assertEqual(sorted(self.pool.listVolumes()), vols_before)

    def test_concurrent_create_four_clients(self):
        n_clients, per = 4, 25
        errors = queue.Queue()
        start = threading.Barrier(n_clients)

        def client(i):
            try:
                conn = libvirt.open(self.daemon.uri)
                pool = conn.storagePoolLookupByName("vols")
                start.wait()
                for j in range(per):
                    pool.createXML(vol_xml("cc%d-%02d.img" % (i, j), MiB, 0), 0)
                conn.close()
            except Exception as e:      # reported below
                errors.put("client %d: %r" % (i, e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertTrue(errors.empty(), list(errors.queue))
        want = sorted("cc%d-%02d.img" % (i, j) for i in range(n_clients) for j in range(per))
        got = sorted(n for n in self.pool.listVolumes() if n.startswith("cc"))
        self.assertEqual(got, want)
        self.assertEqual(sorted(n for n in os.listdir(self.pool_path) if n.startswith("cc")), want)
        # a new connection sees them too, after a refresh
        self.pool.refresh(0)
        self.assertEqual(sorted(n for n in self.pool.listVolumes() if n.startswith("cc")), want)

        # and all delete concurrently, each a disjoint set
        def deleter(i):
            try:
                conn = libvirt.open(self.daemon.uri)
                pool = conn.storagePoolLookupByName("vols")
                for j in range(per):
                    pool.storageVolLookupByName("cc%d-%02d.img" % (i, j)).delete(0)
                conn.close()
            except Exception as e:
                errors.put("deleter %d: %r" % (i, e))

        threads = [threading.Thread(target=deleter, args=(i,)) for i in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertTrue(errors.empty(), list(errors.queue))
        self.assertEqual([n for n in self.pool.listVolumes() if n.startswith("cc")], [])
        self.assertEqual([n for n in os.listdir(self.pool_path) if n.startswith("cc")], [])

    def test_inactive_pool_volume_calls(self):
        other, path = self.new_pool("vols-off")
        vol = other.createXML(vol_xml("o.img", MiB, 0), 0)
        other.destroy()
        for call in (lambda: other.createXML(vol_xml("o2.img", MiB, 0), 0),
                     lambda: other.storageVolLookupByName("o.img"),
                     other.listVolumes, other.numOfVolumes,
                     lambda: vol.info(), lambda: vol.delete(0)):
            e = lv_err(call)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, NOT_ACTIVE % "vols-off")
        self.assertTrue(os.path.exists(os.path.join(path, "o.img")))
        other.create(0)
        self.assertEqual(other.listVolumes(), ["o.img"])


# -- upload / download -----------------------------------------------------------

BIG = 256 * MiB
ISLANDS = [(0, 64 * KiB), (1 * MiB + 17, 3000), (37 * MiB, 2 * MiB), (100 * MiB + 4096, 512 * KiB),
           (128 * MiB - 100, 200), (200 * MiB, MiB + 1), (BIG - 4096, 4096)]
DATA_BYTES = sum(l for _, l in ISLANDS)


class TransferTest(StorageCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conn = libvirt.open(cls.daemon.uri)
        cls.pool_path = os.path.join(cls.tmp, "xfer")
        p = conn.storagePoolDefineXML(pool_xml("xfer", cls.pool_path), 0)
        p.build(0)
        p.create(0)
        conn.close()
        cls.src = make_sparse(os.path.join(cls.tmp, "src.img"), BIG, ISLANDS)
        cls.src_sha = sha256(cls.src)

    def setUp(self):
        super().setUp()
        self.pool = self.conn.storagePoolLookupByName("xfer")

    def vpath(self, name):
        return os.path.join(self.pool_path, name)

    def assertSparse(self, path, what):
        self.assertLessEqual(blocks(path), DATA_BYTES + 8 * MiB,
                             "%s: %d bytes allocated for %d of data" % (what, blocks(path),
                                                                         DATA_BYTES))

    def test_virsh_sparse_round_trip_256m(self):
        self.assertSparse(self.src, "the source file")
        self.v("vol-create-as", "xfer", "big.img", str(BIG), "--allocation", "0")
        t0 = time.monotonic()
        self.v("vol-upload", "big.img", self.src, "--pool", "xfer", "--sparse", timeout=300)
        t_up = time.monotonic() - t0
        vpath = self.vpath("big.img")
        self.assertEqual(os.path.getsize(vpath), BIG)
        self.assertTrue(same_content(self.src, vpath), "uploaded volume differs")
        self.assertSparse(vpath, "the uploaded volume")
        out = os.path.join(self.tmp, "down-sparse.img")
        t0 = time.monotonic()
        self.v("vol-download", "big.img", out, "--pool", "xfer", "--sparse", timeout=300)
        t_down = time.monotonic() - t0
        self.assertEqual(os.path.getsize(out), BIG)
        self.assertTrue(same_content(self.src, out), "sparse download differs")
        self.assertEqual(sha256(out), self.src_sha)
        self.assertSparse(out, "the sparse download")
        du = subprocess.run(["du", "-k", out], capture_output=True, text=True).stdout.split()[0]
        self.assertLess(int(du) * KiB, DATA_BYTES + 8 * MiB)
        os.unlink(out)
        # the same without --sparse: holes come as zeros, same bytes
        out2 = os.path.join(self.tmp, "down-full.img")
        self.v("vol-download", "big.img", out2, "--pool", "xfer", timeout=300)
        self.assertEqual(sha256(out2), self.src_sha)
        os.unlink(out2)
        print("256 MiB sparse: upload %.2fs, download %.2fs" % (t_up, t_down))
        self.v("vol-delete", "big.img", "--pool", "xfer")

    def test_offset_and_length(self):
        self.v("vol-create-as", "xfer", "ol.img", "8M", "--allocation", "0")
        vpath = self.vpath("ol.img")
        chunk = random.Random(3).randbytes(MiB)
        part = write_file(self.tmp, "part.bin", "")
        with open(part, "wb") as f:
            f.write(chunk)
        self.v("vol-upload", "ol.img", part, "--pool", "xfer", "--offset", str(3 * MiB),
               "--length", str(MiB))
        with open(vpath, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), 8 * MiB)
        self.assertEqual(data[3 * MiB:4 * MiB], chunk)
        self.assertEqual(data[:3 * MiB].count(0) + data[4 * MiB:].count(0), 7 * MiB)
        out = os.path.join(self.tmp, "ol-down.bin")
        self.v("vol-download", "ol.img", out, "--pool", "xfer", "--offset", str(3 * MiB + 5),
               "--length", "1000")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), chunk[5:1005])
        # to the end from an offset
        self.v("vol-download", "ol.img", out, "--pool", "xfer", "--offset", str(3 * MiB))
        self.assertEqual(os.path.getsize(out), 5 * MiB)
        with open(out, "rb") as f:
            self.assertEqual(f.read(MiB), chunk)
        os.unlink(out)
        # an upload longer than --length: refused, nothing beyond written
        vol = self.pool.storageVolLookupByName("ol.img")
        st = self.conn.newStream(0)
        vol.upload(st, 6 * MiB, 4096, 0)
        failed = False
        try:
            st.send(b"\x77" * 4096)
            st.send(b"\x88" * 4096)
            st.finish()
        except libvirt.libvirtError:
            failed = True
            try:
                st.abort()
            except libvirt.libvirtError:
                pass
        self.assertTrue(failed, "an upload past --length was accepted")
        with open(vpath, "rb") as f:
            f.seek(6 * MiB + 4096)
            self.assertEqual(f.read(4096).count(0), 4096, "data written past --length")
        # an offset past the end (hyve_storage.h: INVALID_ARG)
        e = lv_err(vol.download, self.conn.newStream(0), 64 * MiB, 0, 0)
        self.assertLvErr(e, libvirt.VIR_ERR_INVALID_ARG)
        # the length is a limit (libvirt reads to the end of the volume)
        self.v("vol-download", "ol.img", out, "--pool", "xfer", "--offset", str(7 * MiB),
               "--length", str(4 * MiB))
        self.assertEqual(os.path.getsize(out), MiB)
        os.unlink(out)
        # offset == capacity: nothing to read
        self.v("vol-download", "ol.img", out, "--pool", "xfer", "--offset", str(8 * MiB))
        self.assertEqual(os.path.getsize(out), 0)
        os.unlink(out)
        vol.delete(0)

    def test_sparse_ranges(self):
        size = 64 * MiB
        islands = [(2 * MiB, MiB), (10 * MiB + 100, 50000), (40 * MiB, 4 * MiB)]
        src = make_sparse(os.path.join(self.tmp, "rng-src.img"), size, islands)
        with open(src, "rb") as f:
            ref = f.read()
        self.v("vol-create-as", "xfer", "rng.img", str(size), "--allocation", "0")
        self.v("vol-upload", "rng.img", src, "--pool", "xfer", "--sparse")
        out = os.path.join(self.tmp, "rng-out.img")
        ranges = [(MiB, 2 * MiB + 4096),             # hole into data
                  (2 * MiB + 512 * KiB, 4 * MiB),    # data into hole
                  (5 * MiB, 3 * MiB),                # hole only
                  (10 * MiB, 20 * MiB),              # hole, data, hole
                  (42 * MiB + 3, 0)]                 # data to the end
        for off, length in ranges:
            for sparse in ([], ["--sparse"]):
                args = ["vol-download", "rng.img", out, "--pool", "xfer", "--offset", str(off)]
                if length:
                    args += ["--length", str(length)]
                if os.path.exists(out):
                    os.unlink(out)
                self.v(*(args + sparse))
                want = ref[off:off + length] if length else ref[off:]
                with open(out, "rb") as f:
                    got = f.read()
                self.assertEqual((len(got), hashlib.sha256(got).hexdigest()),
                                 (len(want), hashlib.sha256(want).hexdigest()),
                                 "download offset %d length %d %s" % (off, length, sparse))
        os.unlink(out)
        # a sparse upload at an offset punches holes only inside its range
        vpath = self.vpath("rng.img")
        ones = write_file(self.tmp, "ones.bin", "")
        with open(ones, "wb") as f:
            f.write(b"\xff" * size)
        self.v("vol-upload", "rng.img", ones, "--pool", "xfer")
        part = make_sparse(os.path.join(self.tmp, "rng-part.img"), 8 * MiB, [(3 * MiB, 4096)])
        self.v("vol-upload", "rng.img", part, "--pool", "xfer", "--sparse",
               "--offset", str(16 * MiB), "--length", str(8 * MiB))
        with open(part, "rb") as f:
            part_data = f.read()
        with open(vpath, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), size)
        self.assertEqual(data[16 * MiB:24 * MiB], part_data, "the uploaded range differs")
        self.assertEqual(data[:16 * MiB].count(0xff) + data[24 * MiB:].count(0xff),
                         size - 8 * MiB, "data outside the upload's range changed")
        self.v("vol-delete", "rng.img", "--pool", "xfer")

    def test_python_sparse_streams(self):
        vol = self.pool.createXML(vol_xml("py.img", BIG // 4, 0), 0)
        src = make_sparse(os.path.join(self.tmp, "py-src.img"), BIG // 4,
                          [(5000, 70000), (10 * MiB, MiB), (BIG // 4 - 10, 10)])
        fd = os.open(src, os.O_RDONLY)
        holes_sent = []

        def send_data(stream, nbytes, fd):
            return os.read(fd, nbytes)

        def in_data(stream, fd):
            cur = os.lseek(fd, 0, os.SEEK_CUR)
            try:
                data = os.lseek(fd, cur, os.SEEK_DATA)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                end = os.fstat(fd).st_size
                return [0, end - cur]
            hole = os.lseek(fd, cur, os.SEEK_HOLE)
            os.lseek(fd, cur, os.SEEK_SET)      # SEEK_DATA/SEEK_HOLE moved it
            if data > cur:
                return [0, data - cur]
            return [1, hole - cur]

        def skip(stream, length, fd):
            holes_sent.append(length)
            return os.lseek(fd, length, os.SEEK_CUR)

        st = self.conn.newStream(0)
        vol.upload(st, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
        st.sparseSendAll(send_data, in_data, skip, fd)
        st.finish()
        os.close(fd)
        self.assertGreaterEqual(len(holes_sent), 3)
        self.assertTrue(same_content(src, self.vpath("py.img")))
        self.assertLessEqual(blocks(self.vpath("py.img")), 4 * MiB)

        out = os.path.join(self.tmp, "py-down.img")
        ofd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        holes_got = []

        def recv(stream, buf, fd):
            return os.write(fd, buf)

        def recv_hole(stream, length, fd):
            holes_got.append(length)
            pos = os.lseek(fd, length, os.SEEK_CUR)
            os.ftruncate(fd, pos)
            return 0

        st = self.conn.newStream(0)
        vol.download(st, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
        st.sparseRecvAll(recv, recv_hole, ofd)
        st.finish()
        os.close(ofd)
        self.assertGreaterEqual(len(holes_got), 3, holes_got)
        # holes come at the file system's block granularity
        self.assertGreaterEqual(sum(holes_got), BIG // 4 - 2 * MiB, holes_got)
        self.assertTrue(same_content(src, out))
        self.assertLessEqual(blocks(out), 4 * MiB)

        # a plain (not sparse) download: no holes, the same bytes
        st = self.conn.newStream(0)
        vol.download(st, 0, 0, 0)
        h = hashlib.sha256()
        n = [0]

        def sink(stream, buf, opaque):
            h.update(buf)
            n[0] += len(buf)
            return len(buf)

        st.recvAll(sink, None)
        st.finish()
        self.assertEqual((n[0], h.hexdigest()), (BIG // 4, sha256(src)))

        os.unlink(out)
        vol.delete(0)

    def test_concurrent_downloads(self):
        vol = self.pool.createXML(vol_xml("conc.img", 64 * MiB, 0), 0)
        src = make_sparse(os.path.join(self.tmp, "conc-src.img"), 64 * MiB,
                          [(0, MiB), (20 * MiB, 3 * MiB + 7), (64 * MiB - 1, 1)])
        self.v("vol-upload", "conc.img", src, "--pool", "xfer", "--sparse")
        want = sha256(src)
        results = queue.Queue()

        def python_download(i):
            try:
                conn = libvirt.open(self.daemon.uri)
                v = conn.storageVolLookupByPath(vol.path())
                st = conn.newStream(0)
                v.download(st, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM if i % 2 else 0)
                h = hashlib.sha256()
                size = [0]

                def data(stream, buf, opaque):
                    h.update(buf)
                    size[0] += len(buf)
                    return len(buf)

                def hole(stream, length, opaque):
                    h.update(bytes(length))
                    size[0] += length
                    return 0

                if i % 2:
                    st.sparseRecvAll(data, hole, None)
                else:
                    st.recvAll(data, None)
                st.finish()
                conn.close()
                results.put((i, size[0], h.hexdigest()))
            except Exception as e:
                results.put((i, "error", repr(e)))

        outs = [os.path.join(self.tmp, "conc-%d.img" % i) for i in range(2)]
        procs = [subprocess.Popen([hyvetest.VIRSH, "-c", self.daemon.uri, "vol-download",
                                   "conc.img", out, "--pool", "xfer"] + (["--sparse"] if i else []),
                                  env=hyvetest.client_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for i, out in enumerate(outs)]
        threads = [threading.Thread(target=python_download, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for p in procs:
            out, _ = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, out)
        got = sorted(results.queue)
        self.assertEqual(got, [(i, 64 * MiB, want) for i in range(4)])
        for out in outs:
            self.assertEqual(sha256(out), want, out)
            os.unlink(out)
        vol.delete(0)

    def _killed_upload(self, name, nbytes):
        """virsh vol-upload from a FIFO: NBYTES arrive, the transfer is under
        way (the volume refuses a resize), then virsh is SIGKILLed."""
        vol = self.pool.storageVolLookupByName(name)
        capacity = vol.info()[1]
        fifo = os.path.join(self.tmp, "upload.fifo")
        os.mkfifo(fifo)
        p = subprocess.Popen([hyvetest.VIRSH, "-c", self.daemon.uri, "vol-upload", name,
                              fifo, "--pool", "xfer"], env=hyvetest.client_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            with open(fifo, "wb") as w:
                w.write(b"\x5a" * nbytes)
                w.flush()
                self.assertTrue(wait_until(lambda: not self._resizable(vol, capacity),
                                           timeout=20), "the upload did not start")
                p.kill()
                p.wait()
        finally:
            os.unlink(fifo)

    def test_client_killed_during_upload(self):
        vol = self.pool.createXML(vol_xml("killed.img", 512 * MiB, 0), 0)
        self._killed_upload("killed.img", 8 * MiB)
        self.assertTrue(wait_until(lambda: self._deletable(vol), timeout=20),
                        "the volume stays busy after its uploading client died")
        self.assertFalse(os.path.exists(self.vpath("killed.img")))
        self.assertDaemonAlive()
        self.pool.destroy()     # no transfer job left behind
        self.pool.create(0)

    def test_abort_releases_volume_at_once(self):
        # virStreamAbort waits for the daemon's answer: once it returned, the
        # transfer is over and the volume is free again (as after finish)
        refused = []
        for i in range(200):
            vol = self.pool.createXML(vol_xml("ab%03d.img" % i, MiB, 0), 0)
            st = self.conn.newStream(0)
            if i % 4 == 3:
                vol.download(st, 0, 0, 0)
            else:
                vol.upload(st, 0, 0, 0)
            st.abort()
            try:
                vol.delete(0)
            except libvirt.libvirtError as e:
                refused.append(e.get_error_message())
                wait_until(lambda: self._deletable(vol), timeout=10)
        self.assertEqual(refused, [], "delete right after abort refused %d of 200 times"
                         % len(refused))

    def test_no_descriptor_leak(self):
        fd_dir = "/proc/%d/fd" % self.daemon.proc.pid

        def fds():
            return len(os.listdir(fd_dir))

        vol = self.pool.createXML(vol_xml("leak.img", 4 * MiB, 0), 0)
        self.v("vol-list", "xfer")        # warm up whatever the daemon opens once
        before = fds()
        data = make_sparse(os.path.join(self.tmp, "leak-src"), 4 * MiB, [(MiB, 4096)])
        for i in range(10):
            if i % 3 == 2:
                self._killed_upload("leak.img", 8192)       # the client dies mid-transfer
            else:
                conn = libvirt.open(self.daemon.uri)
                v = conn.storageVolLookupByPath(vol.path())
                st = conn.newStream(0)
                v.upload(st, 0, 0, 0)
                st.send(b"y" * 8192)
                if i % 3 == 0:
                    st.finish()
                else:
                    st.abort()
                del st, v
                conn.close()
            self.assertTrue(wait_until(lambda: self._resizable(vol, 4 * MiB), timeout=10),
                            "round %d: the volume stays busy" % i)
            self.v("vol-download", "leak.img", os.path.join(self.tmp, "leak-out"), "--pool",
                   "xfer", "--sparse")
            self.v("vol-upload", "leak.img", data, "--pool", "xfer", "--sparse")
        self.assertTrue(wait_until(lambda: fds() <= before, timeout=20),
                        "the daemon holds %d descriptors, %d before 30 transfers"
                        % (fds(), before))
        wait_until(lambda: self._deletable(vol), timeout=10)

    def test_slow_reader_bounded_memory(self):
        def rss():
            with open("/proc/%d/status" % self.daemon.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * KiB
            return 0

        vol = self.pool.createXML(vol_xml("slow.img", 256 * MiB, 0), 0)
        before = rss()
        st = self.conn.newStream(0)
        vol.download(st, 0, 0, 0)       # not sparse: 256 MiB of zeros to send
        got = len(st.recv(65536))
        time.sleep(3)                   # a client that does not read
        grown = rss() - before
        st.abort()
        self.assertGreater(got, 0)
        self.assertLess(grown, 48 * MiB, "the daemon buffered %d MiB for a client that does "
                        "not read" % (grown // MiB))
        wait_until(lambda: self._deletable(vol), timeout=10)

    def test_pool_operations_during_transfers(self):
        vol = self.pool.createXML(vol_xml("busy-big.img", 128 * MiB, 0), 0)
        errors = queue.Queue()
        done = threading.Event()

        def downloader():
            try:
                conn = libvirt.open(self.daemon.uri)
                v = conn.storageVolLookupByPath(vol.path())
                for _ in range(3):
                    st = conn.newStream(0)
                    v.download(st, 0, 0, 0)
                    n = [0]

                    def sink(stream, buf, opaque):
                        n[0] += len(buf)
                        return len(buf)

                    st.recvAll(sink, None)
                    st.finish()
                    if n[0] != 128 * MiB:
                        errors.put("downloaded %d bytes" % n[0])
                conn.close()
            except Exception as e:
                errors.put("downloader: %r" % e)
            finally:
                done.set()

        def operator():
            try:
                conn = libvirt.open(self.daemon.uri)
                pool = conn.storagePoolLookupByName("xfer")
                i = 0
                while not done.is_set() or i < 5:
                    pool.refresh(0)
                    pool.listAllVolumes(0)
                    pool.info()
                    conn.listAllStoragePools(0)
                    v = pool.createXML(vol_xml("op%d.img" % i, MiB, 0), 0)
                    v.XMLDesc(0)
                    v.delete(0)
                    i += 1
                conn.close()
            except Exception as e:
                errors.put("operator: %r" % e)

        threads = [threading.Thread(target=downloader), threading.Thread(target=operator)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "hung (deadlock?)")
        self.assertTrue(errors.empty(), list(errors.queue))
        self.assertEqual([n for n in self.pool.listVolumes() if n.startswith("op")], [])
        vol.delete(0)

    def test_busy_during_transfer(self):
        vol = self.pool.createXML(vol_xml("busy.img", 4 * MiB, 0), 0)
        st = self.conn.newStream(0)
        vol.upload(st, 0, 0, 0)
        st.send(b"\x01" * 65536)
        try:
            e = lv_err(vol.delete, 0)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, contains="busy.img")
            e = lv_err(vol.resize, MiB, libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, contains="busy.img")
            e = lv_err(self.pool.destroy)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID,
                             contains="asynchronous jobs running")
        finally:
            st.finish()
        with open(self.vpath("busy.img"), "rb") as f:
            self.assertEqual(f.read(65536), b"\x01" * 65536)
        # an aborted transfer frees the volume too
        st = self.conn.newStream(0)
        vol.download(st, 0, 0, 0)
        st.abort()
        wait_until(lambda: self._deletable(vol), timeout=10)
        self.assertFalse(os.path.exists(self.vpath("busy.img")))

    @staticmethod
    def _resizable(vol, capacity):
        try:
            vol.resize(capacity, 0)
            return True
        except libvirt.libvirtError:
            return False

    @staticmethod
    def _deletable(vol):
        try:
            vol.delete(0)
            return True
        except libvirt.libvirtError:
            return False


# -- volumes in domains ------------------------------------------------------------

def volume_domain_xml(name, pool, volume):
    disk = ("<disk type='volume' device='disk'><driver name='file' type='raw'/>"
            "<source pool='%s' volume='%s'/><target dev='vda' bus='virtio'/></disk>"
            % (pool, volume))
    return domain_xml(name, memory_kib=131072).replace("<devices>", "<devices>\n    " + disk)


@hyvetest.skip_if_valgrind_runners
class DomainVolumeTest(StorageCase):

    def runner_pids(self):
        return self.daemon.runner_pids()

    def test_volume_disk(self):
        pool, path = self.new_pool("dv")
        vol = pool.createXML(vol_xml("disk.img", 16 * MiB, 0), 0)
        vpath = vol.path()
        dom = self.conn.defineXML(volume_domain_xml("dv-dom", "dv", "disk.img"))
        try:
            root = ET.fromstring(dom.XMLDesc(0))
            src = root.find("devices/disk/source")
            self.assertEqual((root.find("devices/disk").get("type"), src.get("pool"),
                              src.get("volume")), ("volume", "dv", "disk.img"))
            self.v("start", "dv-dom")
            live = ET.fromstring(self.v("dumpxml", "dv-dom").stdout)
            src = live.find("devices/disk/source")
            self.assertEqual((live.find("devices/disk").get("type"), src.get("pool"),
                              src.get("volume")), ("volume", "dv", "disk.img"))
            conf = os.path.join(self.daemon.root, "run", "libvirt", "bhyve", "dv-dom.conf")
            with open(conf) as f:
                self.assertIn(vpath, f.read(), "the runner was not given the volume's path")
            # the runner really opened it
            def opened():
                for pid in self.runner_pids():
                    fd_dir = "/proc/%d/fd" % pid
                    for fd in os.listdir(fd_dir):
                        try:
                            if os.readlink(os.path.join(fd_dir, fd)) == vpath:
                                return True
                        except OSError:
                            pass
                return False
            self.assertTrue(wait_until(opened, timeout=20), "no runner holds %s open" % vpath)

            p = self.v("vol-delete", "disk.img", "--pool", "dv", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("storage volume 'disk.img' is in use by domain 'dv-dom'", p.stderr)
            e = lv_err(vol.delete, 0)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID,
                             "Requested operation is not valid: storage volume 'disk.img' is in "
                             "use by domain 'dv-dom'")
            p = self.v("vol-resize", "disk.img", "8M", "--shrink", "--pool", "dv", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("dv-dom", p.stderr)
            self.assertEqual(os.path.getsize(vpath), 16 * MiB)
            self.assertTrue(os.path.exists(vpath))
            self.v("destroy", "dv-dom")
            self.v("vol-resize", "disk.img", "8M", "--shrink", "--pool", "dv")
            self.assertEqual(os.path.getsize(vpath), 8 * MiB)
            self.v("vol-delete", "disk.img", "--pool", "dv")
            self.assertFalse(os.path.exists(vpath))
            # a missing volume / an inactive pool: the start fails clearly
            e = lv_err(dom.create)
            self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_VOL, NO_VOL % "disk.img")
            pool.createXML(vol_xml("disk.img", MiB, 0), 0)
            pool.destroy()
            e = lv_err(dom.create)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID,
                             "Requested operation is not valid: storage pool 'dv' containing "
                             "volume 'disk.img' is not active")
            self.assertEqual(dom.isActive(), 0)
        finally:
            try:
                if dom.isActive():
                    dom.destroy()
            except libvirt.libvirtError:
                pass
            dom.undefine()

    def test_volume_user_after_daemon_restart(self):
        # a restarted daemon (the runner lives on) still knows who uses a volume
        pool, path = self.new_pool("dvr")
        vol = pool.createXML(vol_xml("disk.img", 16 * MiB, 0), 0)
        dom = self.conn.defineXML(volume_domain_xml("dvr-dom", "dvr", "disk.img"))
        try:
            dom.create()
            self.conn.close()
            self.daemon.restart()
            self.assertTrue(self.daemon.runner_pids(), "the runner died with the daemon")
            self.conn = libvirt.open(self.daemon.uri)
            dom = self.conn.lookupByName("dvr-dom")
            self.assertEqual(dom.isActive(), 1)
            live = ET.fromstring(dom.XMLDesc(0)).find("devices/disk/source")
            self.assertEqual((live.get("pool"), live.get("volume")), ("dvr", "disk.img"))
            vol = self.conn.storagePoolLookupByName("dvr").storageVolLookupByName("disk.img")
            e = lv_err(vol.resize, MiB, libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK)
            self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_INVALID, contains="dvr-dom")
            p = self.v("vol-delete", "disk.img", "--pool", "dvr", check=False)
            self.assertEqual(p.returncode, 1, "vol-delete after a daemon restart: " + p.stdout)
            self.assertIn("storage volume 'disk.img' is in use by domain 'dvr-dom'", p.stderr)
        finally:
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass


# -- daemon restarts ---------------------------------------------------------------

class RestartTest(StorageCase):

    def test_restart_keeps_pools(self):
        act, _ = self.new_pool("rs-active")
        act.createXML(vol_xml("keep.img", MiB, 0), 0)
        self.new_pool("rs-inactive", start=False)
        auto, _ = self.new_pool("rs-auto", start=False)
        auto.setAutostart(1)
        self.new_pool("rs-trans", persistent=False)
        gone, gone_path = self.new_pool("rs-gone")
        uuids = {p.name(): p.UUIDString() for p in self.conn.listAllStoragePools(0)}
        default = self.conn.storagePoolLookupByName("default")
        default.destroy()
        default.undefine()
        self.conn.close()
        for how in ("SIGTERM", "SIGKILL"):
            if how == "SIGTERM":
                self.daemon.stop()
            else:
                self.daemon.proc.kill()
                self.daemon.proc.wait()
                self.daemon.proc = None
                shutil.rmtree(gone_path)      # its target vanished meanwhile
            self.daemon.start()
            conn = libvirt.open(self.daemon.uri)
            try:
                def state(n):
                    p = conn.storagePoolLookupByName(n)
                    return (p.isActive(), p.isPersistent(), p.autostart())
                self.assertEqual(state("rs-active"), (1, 1, 0), how)
                self.assertEqual(state("rs-inactive"), (0, 1, 0), how)
                self.assertEqual(state("rs-auto"), (1, 1, 1), how)
                self.assertEqual(state("rs-trans"), (1, 0, 0), how)
                self.assertEqual(conn.storagePoolLookupByName("rs-active").listVolumes(),
                                 ["keep.img"], how)
                for n in ("rs-active", "rs-inactive", "rs-auto", "rs-trans"):
                    self.assertEqual(conn.storagePoolLookupByName(n).UUIDString(), uuids[n],
                                     "%s: %s changed its uuid" % (how, n))
                e = lv_err(conn.storagePoolLookupByName, "default")
                self.assertLvErr(e, libvirt.VIR_ERR_NO_STORAGE_POOL, NO_POOL % "default")
                if how == "SIGTERM":
                    self.assertEqual(state("rs-gone"), (1, 1, 0), how)
                else:
                    self.assertEqual(state("rs-gone"), (0, 1, 0),
                                     "a pool whose directory vanished stays active")
            finally:
                conn.close()
        self.conn = libvirt.open(self.daemon.uri)

    def test_bad_config_files_skipped(self):
        cfg = config_dir(self.daemon)
        bad = {"garbage.xml": "this is not xml",
               "wrongname.xml": pool_xml("othername", os.path.join(self.tmp, "wn")),
               "iscsi.xml": "<pool type='iscsi'><name>iscsi</name><source><host name='h'/>"
                            "<device path='iqn.x'/></source><target><path>/dev/x</path>"
                            "</target></pool>"}
        for name, text in bad.items():
            write_file(cfg, name, text)
        os.symlink("../nonexistent.xml", os.path.join(cfg, "autostart", "nonexistent.xml"))
        self.new_pool("good")
        self.conn.close()
        self.daemon.restart()
        self.conn = libvirt.open(self.daemon.uri)
        names = self.pool_names()
        self.assertIn("good", names)
        for n in ("garbage", "wrongname", "othername", "iscsi", "nonexistent"):
            self.assertNotIn(n, names)
        for name in bad:
            self.assertTrue(os.path.exists(os.path.join(cfg, name)), "%s was removed" % name)
            os.unlink(os.path.join(cfg, name))
        os.unlink(os.path.join(cfg, "autostart", "nonexistent.xml"))


class SessionTest(StorageCase):
    """--session: the default pool lives under the user's data dir."""

    daemon_args = ("--session",)

    def setUp(self):
        self.uri = "bhyve+unix:///session?socket=" + self.daemon.sock
        self.conn = libvirt.open(self.uri)
        self.made = []

    def test_session_default_pool(self):
        p = self.conn.storagePoolLookupByName("default")
        self.assertEqual((p.isActive(), p.isPersistent(), p.autostart()), (1, 1, 1))
        want = os.path.join(self.daemon.root, ".local", "share", "libvirt", "images")
        self.assertEqual(ET.fromstring(p.XMLDesc(0)).findtext("target/path"), want)
        self.assertTrue(os.path.isdir(want))
        vol = p.createXML(vol_xml("s.img", MiB, 0), 0)
        self.assertEqual(vol.path(), os.path.join(want, "s.img"))
        vol.delete(0)


# -- a full filesystem -------------------------------------------------------------

class SmallFsDaemon(hyvetest.Daemon):
    """A daemon in its own mount namespace with a 16 MiB tmpfs on MOUNT."""

    def __init__(self, mount, **kw):
        super().__init__(**kw)
        self.mount = mount

    def command(self):
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs -o size=16m,mode=0711 hyve-test-small "$0" && exec "$@"',
                self.mount] + super().command()


class NoSpaceTest(StorageCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = hyvetest.make_tmpdir()
        cls.mount = os.path.join(cls.tmp, "small")
        os.mkdir(cls.mount)
        if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"],
                                               capture_output=True).returncode != 0:
            raise __import__("unittest").SkipTest("needs root and mount namespaces for a tmpfs")
        cls.daemon = SmallFsDaemon(cls.mount, name=cls.__name__).start()

    def inside(self, *parts):
        """A path as the daemon sees it (its mount namespace)."""
        return os.path.join("/proc/%d/root" % self.daemon.proc.pid, self.mount.lstrip("/"),
                            *parts)

    def test_enospc_leaves_nothing(self):
        pool, _ = self.new_pool("small", build=False, path=self.mount)
        state, cap, alloc, avail = pool.info()
        self.assertEqual(cap, 16 * MiB, "the pool is not on the 16 MiB tmpfs")
        self.assertEqual(os.listdir(self.inside()), [])
        e = lv_err(pool.createXML, vol_xml("big.img", 64 * MiB, 64 * MiB), 0)
        self.assertIn("No space left on device", e.get_error_message())
        self.assertEqual(os.listdir(self.inside()), [], "a failed create left a file")
        pool.refresh(0)
        self.assertEqual(pool.listVolumes(), [])
        # sparse is fine, and an allocating resize past the space is refused
        vol = pool.createXML(vol_xml("sp.img", 64 * MiB, 0), 0)
        e = lv_err(vol.resize, 128 * MiB, libvirt.VIR_STORAGE_VOL_RESIZE_ALLOCATE)
        self.assertLvErr(e, libvirt.VIR_ERR_OPERATION_FAILED,
                         "operation failed: Not enough space left in storage pool")
        # a clone that does not fit
        with open(self.inside("sp.img"), "r+b") as f:
            f.write(os.urandom(10 * MiB))
        pool.refresh(0)
        e = lv_err(pool.createXMLFrom, vol_xml("cl.img", 64 * MiB, 64 * MiB), vol, 0)
        self.assertIn("No space left on device", e.get_error_message())
        self.assertEqual(sorted(os.listdir(self.inside())), ["sp.img"])
        vol.delete(0)


if __name__ == "__main__":
    hyvetest.main()
