#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fault injection against the real daemon with the real clients (issue 7).

1. SIGKILL of the daemon at random moments during 1000 define / redefine /
   undefine calls (python3-libvirt) on 20 domain names: at every kill each
   config file is exactly the last acknowledged version of its domain or,
   for the one call in flight, the version that call sent; nothing
   acknowledged is lost, nothing is torn, and the restarted daemon lists
   exactly what is on disk.
2. A full filesystem (a 1 MiB tmpfs as the config dir and a dir pool's
   target), out of blocks and out of inodes: define, redefine, pool-define,
   net-define, vol-create-as (virsh) and vol-create (python) fail with
   SYSTEM_ERROR "No space left on device", leave nothing half-written (the
   tree is byte for byte unchanged), the daemon keeps serving and restarts
   on the full filesystem; after space is freed the same calls work.
3. SIGKILL of a domain's bhyve-runner (host's emulated /dev/kvm), 10 times:
   the domain goes SHUTOFF/CRASHED with the lifecycle event libvirt's own
   drivers send for a dead hypervisor process (STOPPED/FAILED) within 1 s;
   its tap, state files, sockets and pty are gone; the daemon's fds do not
   grow.

Longer or harsher runs: HYVE_FAULTS_OPS (1000), HYVE_FAULTS_KILL_EVERY
(50-150 operations), HYVE_FAULTS_RUNNER_ROUNDS (10), HYVE_FAULTS_SEED (the
seed a run prints, to repeat it).

The program runs in a mount and network namespace of its own
(hyvetest.in_network_namespace): the tmpfs and the bridge/taps stay there.
Figures are printed for RELIABILITY.md."""
import errno
import os
import random
import signal
import subprocess
import time
import unittest

import libvirt

import hyvetest
from hyvetest import virsh
import faults_lib as fl
from faults_lib import KillableDaemon, Version, Torn

SEED = int(os.environ.get("HYVE_FAULTS_SEED", "0")) or random.randrange(1 << 30)


def figure(text):
    """A figure for RELIABILITY.md on a line of its own (continuations start
    with two spaces)."""
    print(("" if text.startswith("  ") else "\n") + "FIGURE: " + text, flush=True)


# -- 1. SIGKILL of the daemon during define / redefine / undefine --------------

class DaemonKillTest(unittest.TestCase):
    OPS = int(os.environ.get("HYVE_FAULTS_OPS", "1000"))
    NAMES = ["fk-%02d" % i for i in range(20)]

    def setUp(self):
        self.d = KillableDaemon(name="kill-define").start()

    def tearDown(self):
        fl.finish(self.d)

    # what is on disk, checked against the model
    def disk_state(self, versions):
        """({name: Version}, torn [(file, why)], leftovers [file]) of the config dir."""
        cdir = fl.config_dir(self.d)
        found, torn, other = {}, [], []
        for entry in sorted(os.listdir(cdir)):
            path = os.path.join(cdir, entry)
            if os.path.isdir(path):
                continue        # autostart/, storage/, networks/
            if not entry.endswith(".xml"):
                other.append(entry)
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            try:
                ver = fl.classify(text, versions)
            except Torn as e:
                torn.append((entry, str(e)))
                continue
            if entry != ver.name + ".xml":
                torn.append((entry, "holds %r" % ver))
                continue
            found[ver.name] = ver
        return found, torn, other

    def daemon_listing(self):
        """{name: (uuid, version number)} as the daemon reports them."""
        conn = libvirt.open(self.d.uri)
        try:
            out = {}
            for dom in conn.listAllDomains(0):
                xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
                tok = [w for w in xml.split() if w.startswith("hyve.fv=")]
                out[dom.name()] = (dom.UUIDString(), tok[0] if tok else None)
            return out
        finally:
            conn.close()

    def test_cut_write_files(self):
        """What a daemon killed inside a write leaves (a partial <name>.xml.new
        beside the complete <name>.xml, or alone for a new domain or pool):
        the next daemon loads the complete files only and removes the partial
        ones. Deterministic complement of the random kills above."""
        rnd = random.Random(SEED)
        uuid_a = fl.new_uuid()
        a1, a2 = Version(1, "cw-a", uuid_a, rnd), Version(2, "cw-a", uuid_a, rnd)
        b1 = Version(3, "cw-b", fl.new_uuid(), rnd)
        versions = {1: a1, 2: a2, 3: b1}
        conn = libvirt.open(self.d.uri)
        conn.defineXML(a1.xml())
        pdir = os.path.join(self.d.root, "cw-pool")
        pxml = pool_xml("cwpool", pdir)
        pool = conn.storagePoolDefineXML(pxml, 0)
        pool.build(0)
        nxml = "<network><name>cwnet</name><bridge name='cwbr0'/></network>"
        conn.networkDefineXML(nxml)
        conn.close()
        self.d.sigkill()
        cdir = fl.config_dir(self.d)
        sdir = os.path.join(cdir, "storage")
        ndir = os.path.join(cdir, "networks")
        with open(os.path.join(cdir, "cw-a.xml")) as f:
            complete = f.read()
        partial = {os.path.join(cdir, "cw-a.xml.new"): a2.xml()[:700],
                   os.path.join(cdir, "cw-b.xml.new"): b1.xml()[:300],
                   os.path.join(sdir, "cwpool.xml.new"): pxml[:50],
                   os.path.join(sdir, "cwpool2.xml.new"): "",
                   os.path.join(ndir, "cwnet.xml.new"): nxml[:20],
                   os.path.join(ndir, "cwnet2.xml.new"): nxml.replace("cwnet", "cwnet2")[:30]}
        for path, text in partial.items():
            with open(path, "w") as f:
                f.write(text)
        self.d.start()
        conn = libvirt.open(self.d.uri)
        try:
            self.assertEqual(sorted(d.name() for d in conn.listAllDomains(0)), ["cw-a"])
            self.assertIs(fl.classify(conn.lookupByName("cw-a").XMLDesc(
                libvirt.VIR_DOMAIN_XML_INACTIVE), versions), a1)
            pools = [p.name() for p in conn.listAllStoragePools(0)]
            self.assertIn("cwpool", pools)
            self.assertNotIn("cwpool2", pools)
            nets = [n.name() for n in conn.listAllNetworks(0)]
            self.assertIn("cwnet", nets)
            self.assertNotIn("cwnet2", nets)
        finally:
            conn.close()
        with open(os.path.join(cdir, "cw-a.xml")) as f:
            self.assertEqual(f.read(), complete)
        left = sorted(p for p in partial if os.path.exists(p))
        self.assertEqual(left, [], "partial temporary files kept by the restarted daemon")
        figure("cut writes: %d partial *.xml.new files (domains, pools, networks) beside complete ones: "
               "complete versions loaded, partial ones removed at start" % len(partial))

    def test_sigkill_during_define_undefine(self):
        rnd = random.Random(SEED)
        versions = {}           # v -> Version
        acked = {n: None for n in self.NAMES}   # last acknowledged state
        uuids = {n: fl.new_uuid() for n in self.NAMES}
        counts = {"define": 0, "redefine": 0, "undefine": 0}
        stats = {"kills": 0, "in_doubt": 0, "doubt_new": 0, "doubt_old": 0, "files": 0,
                 "torn": 0, "lost": 0, "leftover": 0, "tmp_at_kill": 0, "errors": 0}
        problems = []
        restart_times = []
        low, high = (int(x) for x in os.environ.get("HYVE_FAULTS_KILL_EVERY", "50-150")
                     .split("-"))
        killer = fl.Killer(self.d, rnd, low, high)
        killer.start()
        conn = libvirt.open(self.d.uri)
        t0 = time.monotonic()

        def check_disk(pending):
            """Daemon is dead: every file is the acknowledged version or the
            pending call's; returns the resolved states."""
            found, torn, other = self.disk_state(versions)
            stats["files"] += len(found) + len(torn)
            stats["torn"] += len(torn)
            for entry, why in torn:
                problems.append("torn %s: %s" % (entry, why))
            stray = [n for n in found if n not in acked]
            for n in stray:
                problems.append("unexpected file for %s" % n)
            # a temporary file of a write cut short may be there (the next
            # daemon removes it, checked after the restart); nothing else
            for entry in other:
                if entry.endswith(".xml.new"):
                    stats["tmp_at_kill"] += 1
                else:
                    problems.append("unexpected file %s in the config dir" % entry)
            resolved = dict(acked)
            for n in self.NAMES:
                allowed = [acked[n]]
                if pending and pending[0] == n:
                    allowed.append(pending[1])
                got = found.get(n)
                if any(got is a for a in allowed):
                    resolved[n] = got
                    if pending and pending[0] == n and pending[1] is not acked[n]:
                        stats["doubt_new" if got is pending[1] else "doubt_old"] += 1
                    continue
                if any(n == e[:-4] for e, _ in torn):
                    continue
                stats["lost"] += 1
                problems.append("%s: on disk %r, acknowledged %r%s" % (
                    n, got, acked[n], ", in flight %r" % (pending[1],) if pending and
                    pending[0] == n else ""))
                resolved[n] = got
            return resolved

        def kill_check_restart(pending):
            nonlocal conn
            try:
                conn.close()
            except libvirt.libvirtError:
                pass
            resolved = check_disk(pending)
            acked.update(resolved)
            t = time.monotonic()
            self.d.start()
            restart_times.append(time.monotonic() - t)
            listing = self.daemon_listing()
            left = [e for e in os.listdir(fl.config_dir(self.d)) if e.endswith(".new")]
            stats["leftover"] += len(left)
            for entry in left:
                problems.append("temporary file %s still there after the restart" % entry)
            want = {n: (v.uuid, "hyve.fv=%d" % v.v) for n, v in acked.items() if v}
            if listing != want:
                problems.append("after restart %d the daemon lists %r, the disk holds %r"
                                % (len(restart_times), sorted(listing), sorted(want)))
            conn = libvirt.open(self.d.uri)

        ops = 0
        while ops < self.OPS:
            name = rnd.choice(self.NAMES)
            cur = acked[name]
            if cur is None:
                what = "define"
                if rnd.random() < 0.5:
                    uuids[name] = fl.new_uuid()     # a new domain of an old name
            else:
                what = "undefine" if rnd.random() < 0.25 else "redefine"
            new = None
            if what != "undefine":
                v = len(versions) + 1
                new = versions[v] = Version(v, name, uuids[name], rnd)
            killer.started()
            ops += 1
            counts[what] += 1
            try:
                if new is not None:
                    conn.defineXML(new.xml())
                else:
                    conn.lookupByName(name).undefine()
                acked[name] = new
                continue
            except libvirt.libvirtError as e:
                err = e
            if not killer.killed.wait(5):
                stats["errors"] += 1
                problems.append("%s %s failed with the daemon alive: %s"
                                % (what, name, err.get_error_message()))
                break
            stats["in_doubt"] += 1
            kill_check_restart((name, new))
            killer.restarted()
        killer.stop()
        killer.join()
        stats["kills"] = killer.kills
        # a last kill after the final acknowledged call: nothing may be lost
        self.d.sigkill()
        stats["kills"] += 1
        kill_check_restart(None)
        elapsed = time.monotonic() - t0
        virsh_names = sorted(virsh(self.d.uri, "list", "--all", "--name").stdout.split())
        on_disk = sorted(n for n, v in acked.items() if v)
        if virsh_names != on_disk:
            problems.append("virsh list --all: %r, on disk %r" % (virsh_names, on_disk))

        figure("daemon SIGKILL during define/redefine/undefine: %d operations "
               "(%d define, %d redefine, %d undefine) in %.1f s, seed %d"
               % (ops, counts["define"], counts["redefine"], counts["undefine"], elapsed, SEED))
        figure("  kills %d (%d with a call in flight: %d took effect, %d did not), "
               "restarts median %.0f ms max %.0f ms"
               % (stats["kills"], stats["in_doubt"], stats["doubt_new"], stats["doubt_old"],
                  1000 * fl.median(restart_times), 1000 * max(restart_times)))
        figure("  config files checked %d: torn %d, lost %d, unexpected errors %d; "
               "temporary files of cut writes %d, left after the restart %d; final domains "
               "%d, listed by the daemon = on disk"
               % (stats["files"], stats["torn"], stats["lost"], stats["errors"],
                  stats["tmp_at_kill"], stats["leftover"], len(on_disk)))
        self.assertEqual(problems, [])
        self.assertGreaterEqual(stats["kills"], self.OPS // high)


# -- 2. a full filesystem ---------------------------------------------------------

NO_SPACE = "No space left on device"
NET_XML = ("<network><name>fullnet</name><bridge name='hvfnet0'/>"
           "<ip address='192.168.231.1' netmask='255.255.255.0'/></network>")


def pool_xml(name, path):
    return ("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
            % (name, path))


def vol_xml(name, capacity, allocation):
    return ("<volume><name>%s</name><capacity unit='bytes'>%d</capacity>"
            "<allocation unit='bytes'>%d</allocation></volume>" % (name, capacity, allocation))


def fill(path):
    """Writes PATH until the filesystem is full; returns the bytes written."""
    n = 0
    chunk = b"\xa5" * 4096
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                w = f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
            n += w
            if w < len(chunk):
                chunk = chunk[:len(chunk) - w] or b"\xa5"
    return n


def tree(top):
    """{relative path: bytes} of every file below TOP (directories as None)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), top)] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, top)] = fh.read()
    return out


class FullFsTest(unittest.TestCase):
    SIZE = 1 << 20

    def setUp(self):
        self.d = KillableDaemon(name="full-fs")
        self.etc = os.path.join(self.d.root, "etc", "libvirt")
        os.makedirs(self.etc)
        self.conn = None

    def boot(self, opts=""):
        """The tmpfs on the daemon's config dir (etc/libvirt below --root), then the daemon."""
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755%s" % (self.SIZE, opts),
                        "hyve-faults-full", self.etc], check=True)
        self.d.start()
        self.conn = libvirt.open(self.d.uri)
        st = os.statvfs(self.etc)
        self.assertEqual(st.f_blocks * st.f_frsize, self.SIZE, "the config dir is not the tmpfs")

    def tearDown(self):
        if self.conn:
            self.conn.close()
        self.d.stop()
        subprocess.run(["umount", self.etc], check=False)
        fl.finish(self.d)

    def assertNoSpace(self, e, what, code=libvirt.VIR_ERR_SYSTEM_ERROR):
        self.assertIsNotNone(e, what + " succeeded on a full filesystem")
        if isinstance(e, libvirt.libvirtError):
            self.assertEqual(e.get_error_code(), code,
                             "%s: error code %d: %s" % (what, e.get_error_code(),
                                                        e.get_error_message()))
            msg = e.get_error_message()
        else:
            msg = e
        self.assertIn(NO_SPACE, msg, what)
        print("  %s: %s" % (what, msg.strip().splitlines()[-1]), flush=True)

    def err(self, fn, *args):
        try:
            fn(*args)
        except libvirt.libvirtError as e:
            return e
        return None

    def test_full_filesystem(self):
        t0 = time.monotonic()
        self.boot()
        cdir = fl.config_dir(self.d)
        pdir = os.path.join(self.etc, "pool")
        rnd = random.Random(SEED)
        uuid_a = fl.new_uuid()
        a1 = Version(1, "full-a", uuid_a, rnd)
        a2 = Version(2, "full-a", uuid_a, rnd)
        b1 = Version(3, "full-b", fl.new_uuid(), rnd)
        versions = {1: a1, 2: a2, 3: b1}
        self.conn.defineXML(a1.xml())
        pool = self.conn.storagePoolDefineXML(pool_xml("full", pdir), 0)
        pool.build(0)
        pool.create(0)
        pool.createXML(vol_xml("keep.img", 65536, 65536), 0)

        # fill it up
        filler = os.path.join(self.etc, "filler")
        filled = fill(filler)
        st = os.statvfs(self.etc)
        self.assertEqual(st.f_bavail, 0, "the tmpfs is not full")
        before = tree(self.etc)
        xml_a = self.conn.lookupByName("full-a").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        print("  tmpfs of %d KiB filled with %d KiB" % (self.SIZE >> 10, filled >> 10))

        # every write fails cleanly
        self.assertNoSpace(self.err(self.conn.defineXML, b1.xml()), "define (new)")
        self.assertNoSpace(self.err(self.conn.defineXML, a2.xml()), "define (redefine)")
        self.assertNoSpace(self.err(self.conn.storagePoolDefineXML,
                                    pool_xml("full2", os.path.join(self.d.root, "p2")), 0),
                           "pool-define")
        self.assertNoSpace(self.err(self.conn.networkDefineXML, NET_XML), "net-define")
        p = virsh(self.d.uri, "vol-create-as", "full", "big.img", "256K",
                  "--allocation", "256K", check=False)
        self.assertNotEqual(p.returncode, 0, "virsh vol-create-as succeeded")
        self.assertNoSpace(p.stderr, "virsh vol-create-as --allocation")
        self.assertNoSpace(self.err(pool.createXML, vol_xml("big2.img", 131072, 131072), 0),
                           "vol-create (python, allocated)")

        # nothing half-written: the tree is byte for byte what it was
        after = tree(self.etc)
        changed = sorted(k for k in set(before) | set(after)
                         if before.get(k, "absent") != after.get(k, "absent"))
        self.assertEqual(changed, [], "files changed by failed calls")
        self.assertIs(fl.classify(before[os.path.relpath(os.path.join(cdir, "full-a.xml"),
                                                         self.etc)].decode(), versions), a1)
        print("  config dir, storage dir and pool dir unchanged (%d entries compared)"
              % len(after))

        # the daemon keeps serving, its view unchanged
        self.assertTrue(self.d.alive())
        self.assertEqual(sorted(d.name() for d in self.conn.listAllDomains(0)), ["full-a"])
        self.assertEqual(self.conn.lookupByName("full-a").XMLDesc(
            libvirt.VIR_DOMAIN_XML_INACTIVE), xml_a, "a failed redefine changed the definition")
        e = self.err(self.conn.lookupByName, "full-b")
        self.assertEqual(e and e.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)
        pools = [p.name() for p in self.conn.listAllStoragePools(0)]
        self.assertIn("full", pools)
        self.assertNotIn("full2", pools)
        pool.refresh(0)
        self.assertEqual(pool.listVolumes(), ["keep.img"])
        self.assertEqual(virsh(self.d.uri, "list", "--all", "--name").stdout.split(), ["full-a"])
        # a sparse volume needs no blocks: it works even now
        sparse = pool.createXML(vol_xml("sparse.img", 1 << 20, 0), 0)
        sparse.delete(0)

        # a daemon started on the full filesystem comes up with the same view
        self.conn.close()
        self.d.sigkill()
        self.d.start()
        self.conn = libvirt.open(self.d.uri)
        self.assertEqual(self.conn.lookupByName("full-a").XMLDesc(
            libvirt.VIR_DOMAIN_XML_INACTIVE), xml_a, "after a restart on the full filesystem")
        pool = self.conn.storagePoolLookupByName("full")
        self.assertEqual(pool.listVolumes(), ["keep.img"])

        # space freed: the same calls work
        os.unlink(filler)
        self.conn.defineXML(b1.xml())
        self.conn.defineXML(a2.xml())
        for v in (a2, b1):
            with open(os.path.join(cdir, v.name + ".xml")) as f:
                self.assertIs(fl.classify(f.read(), versions), v)
        self.conn.storagePoolDefineXML(pool_xml("full2", os.path.join(self.d.root, "p2")), 0)
        self.conn.networkDefineXML(NET_XML).undefine()
        virsh(self.d.uri, "vol-create-as", "full", "big.img", "256K", "--allocation", "256K")
        self.assertGreaterEqual(os.stat(os.path.join(pdir, "big.img")).st_blocks * 512, 256 << 10)
        pool.createXML(vol_xml("big2.img", 131072, 131072), 0)
        self.assertEqual(sorted(pool.listVolumes()), ["big.img", "big2.img", "keep.img"])
        self.assertEqual(sorted(d.name() for d in self.conn.listAllDomains(0)),
                         ["full-a", "full-b"])
        left = [f for f in os.listdir(cdir) if f.endswith(".new")]
        self.assertEqual(left, [])
        figure("full filesystem (%d KiB tmpfs): define, redefine, pool-define, net-define, "
               "vol-create-as, "
               "vol-create -> SYSTEM_ERROR '%s', 0 files changed, daemon kept serving, all "
               "worked once space was freed (%.1f s)"
               % (self.SIZE >> 10, NO_SPACE, time.monotonic() - t0))


    def test_no_inodes(self):
        """The other way a filesystem is full: no inodes left."""
        t0 = time.monotonic()
        self.boot(",nr_inodes=64")
        cdir = fl.config_dir(self.d)
        pdir = os.path.join(self.etc, "pool")
        rnd = random.Random(SEED)
        uuid_a = fl.new_uuid()
        a1, a2 = Version(1, "ino-a", uuid_a, rnd), Version(2, "ino-a", uuid_a, rnd)
        b1 = Version(3, "ino-b", fl.new_uuid(), rnd)
        versions = {1: a1, 2: a2, 3: b1}
        self.conn.defineXML(a1.xml())
        pool = self.conn.storagePoolDefineXML(pool_xml("full", pdir), 0)
        pool.build(0)
        pool.create(0)
        fdir = os.path.join(self.etc, "fill")
        os.mkdir(fdir)
        n = 0
        while True:
            try:
                open(os.path.join(fdir, "%d" % n), "x").close()
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
                break
            n += 1
        self.assertEqual(os.statvfs(self.etc).f_ffree, 0)
        before = tree(self.etc)
        self.assertNoSpace(self.err(self.conn.defineXML, b1.xml()), "no inodes: define (new)")
        self.assertNoSpace(self.err(self.conn.defineXML, a2.xml()), "no inodes: redefine")
        self.assertNoSpace(self.err(self.conn.networkDefineXML, NET_XML), "no inodes: net-define")
        p = virsh(self.d.uri, "vol-create-as", "full", "sparse.img", "1M", "--allocation", "0",
                  check=False)
        self.assertNotEqual(p.returncode, 0, "virsh vol-create-as succeeded")
        self.assertNoSpace(p.stderr, "no inodes: virsh vol-create-as (sparse)")
        after = tree(self.etc)
        self.assertEqual(sorted(k for k in set(before) | set(after)
                                if before.get(k, "absent") != after.get(k, "absent")), [])
        self.assertEqual(self.conn.lookupByName("ino-a").XMLDesc(
            libvirt.VIR_DOMAIN_XML_INACTIVE).count("hyve.fv=1 "), 1)
        self.assertEqual(sorted(d.name() for d in self.conn.listAllDomains(0)), ["ino-a"])
        pool.refresh(0)
        self.assertEqual(pool.listVolumes(), [])
        subprocess.run(["rm", "-rf", fdir], check=True)
        self.conn.defineXML(b1.xml())
        self.conn.defineXML(a2.xml())
        for v in (a2, b1):
            with open(os.path.join(cdir, v.name + ".xml")) as f:
                self.assertIs(fl.classify(f.read(), versions), v)
        virsh(self.d.uri, "vol-create-as", "full", "sparse.img", "1M", "--allocation", "0")
        self.assertEqual(pool.listVolumes(), ["sparse.img"])
        figure("no inodes left (tmpfs nr_inodes=64, %d files made): define, redefine, net-define, "
               "sparse vol-create-as -> SYSTEM_ERROR '%s', 0 files changed, all worked once "
               "inodes were freed (%.1f s)" % (n, NO_SPACE, time.monotonic() - t0))


# -- 3. SIGKILL of a runner ---------------------------------------------------------

BRIDGE = "hvfbr0"


def runner_domain_xml(name):
    xml = hyvetest.domain_xml(name, memory_kib=131072)
    nic = ("    <interface type='bridge'>\n      <source bridge='%s'/>\n"
           "      <model type='virtio'/>\n    </interface>\n" % BRIDGE)
    return xml.replace("  </devices>", nic + "  </devices>")


def pty_of(xml):
    """The console's pty path in a running domain's XML."""
    import xml.etree.ElementTree as ET
    for c in ET.fromstring(xml).iter("console"):
        src = c.find("source")
        if src is not None and src.get("path"):
            return src.get("path")
        if c.get("tty"):
            return c.get("tty")
    return None


def pty_holders(path):
    """Pids with PATH open (a scan of /proc/*/fd)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if path in fl.fd_targets(int(entry)).values():
                out.append(int(entry))
        except OSError:
            continue
    return out


class RunnerKillTest(unittest.TestCase):
    ROUNDS = int(os.environ.get("HYVE_FAULTS_RUNNER_ROUNDS", "10"))
    NAME = "rk"

    def setUp(self):
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
        self.cg_mount = fl.cgroup2_mount()
        self.d = KillableDaemon(name="runner-kill").start()
        fl.ensure_event_loop()
        self.conn = libvirt.open(self.d.uri)
        self.events = fl.TimedEvents()
        self.listener = libvirt.open(self.d.uri)
        self.cb = self.listener.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self.events.lifecycle, None)

    def tearDown(self):
        try:
            self.listener.domainEventDeregisterAny(self.cb)
        except libvirt.libvirtError:
            pass
        self.listener.close()
        self.conn.close()
        try:
            fl.finish(self.d)
        finally:
            subprocess.run(["ip", "link", "del", BRIDGE], check=False)

    def domain_files(self):
        sdir = fl.state_dir(self.d)
        return sorted(f for f in os.listdir(sdir) if f == self.NAME or
                      f.startswith(self.NAME + ".") or f.startswith(self.NAME + "-"))

    def test_sigkill_runner(self):
        t_all = time.monotonic()
        dom = self.conn.defineXML(runner_domain_xml(self.NAME))
        dpid = self.d.proc.pid
        base_devs = fl.net_devices()
        base_files = self.domain_files()
        fd_series = [len(fl.fd_targets(dpid))]
        latencies, start_times = [], []
        running_files = None
        cgroups = set()
        for rnd in range(self.ROUNDS):
            what = "round %d" % (rnd + 1)
            t = time.monotonic()
            dom.create()
            start_times.append(time.monotonic() - t)
            # the runner: its pidfile (not its command line or uid, which the
            # sandbox work may change)
            runner = fl.runner_pid(self.d, self.NAME)
            self.assertTrue(runner and fl.pid_alive(runner), what + ": runner pid %r" % runner)
            self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_RUNNING,
                                           libvirt.VIR_DOMAIN_RUNNING_BOOTED], what)
            taps = sorted(fl.net_devices() - base_devs)
            self.assertEqual(len(taps), 1, what + ": new network devices %r" % taps)
            self.assertEqual(os.path.basename(os.readlink(
                "/sys/class/net/%s/master" % taps[0])), BRIDGE, what)
            pty = pty_of(dom.XMLDesc(0))
            self.assertTrue(pty and os.path.exists(pty), what + ": console pty %r" % pty)
            files = self.domain_files()
            self.assertGreater(len(files), len(base_files), what + ": no state files")
            # a cgroup of the runner's own (where the daemon uses cgroup v2)
            cg = fl.cgroup_of(runner)
            own_cg = None
            if self.cg_mount and cg and cg != fl.cgroup_of(dpid):
                own_cg = os.path.join(self.cg_mount, cg.lstrip("/"))
                self.assertTrue(os.path.isdir(own_cg), what + ": no cgroup " + own_cg)
                cgroups.add(cg)
            running_files = running_files or files
            # drop events of the start
            while not self.events.q.empty():
                self.events.q.get_nowait()

            t0 = time.monotonic()
            os.kill(runner, signal.SIGKILL)
            ev = self.events.wait_for(lambda e: e[1] == self.NAME and
                                      e[2] == libvirt.VIR_DOMAIN_EVENT_STOPPED, timeout=10)
            self.assertIsNotNone(ev, what + ": no STOPPED event within 10 s")
            latencies.append(ev[0] - t0)
            # libvirt's drivers (qemu, ch) send STOPPED/FAILED when the
            # hypervisor process dies and leave the domain SHUTOFF/CRASHED
            self.assertEqual(ev[3], libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED, what)
            self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF,
                                           libvirt.VIR_DOMAIN_SHUTOFF_CRASHED], what)
            self.assertEqual(self.conn.lookupByName(self.NAME).ID(), -1, what)

            # everything of the run is gone
            self.assertTrue(hyvetest.wait_until(lambda: not os.path.exists("/proc/%d" % runner),
                                                timeout=5),
                            what + ": the killed runner was not reaped")
            hyvetest.wait_until(lambda: fl.net_devices() == base_devs, timeout=5)
            self.assertEqual(sorted(fl.net_devices() - base_devs), [], what + ": tap left")
            hyvetest.wait_until(lambda: self.domain_files() == base_files, timeout=5)
            self.assertEqual(self.domain_files(), base_files, what + ": state files left")
            if own_cg:
                hyvetest.wait_until(lambda: not os.path.exists(own_cg), timeout=5)
                self.assertFalse(os.path.exists(own_cg), what + ": cgroup left: " + own_cg)
            if not hyvetest.wait_until(lambda: not os.path.exists(pty), timeout=2):
                # the number may have been reused by another program since
                holders = pty_holders(pty)
                self.assertNotIn(dpid, holders, what + ": the daemon still holds " + pty)
            dfds = fl.fd_targets(dpid).values()
            for bad in (pty, "/dev/net/tun", fl.state_dir(self.d) + "/" + self.NAME):
                self.assertFalse([t for t in dfds if t.startswith(bad)],
                                 "%s: daemon fd on %s left: %r" % (what, bad, sorted(dfds)))
            fd_series.append(len(fl.fd_targets(dpid)))
            extra = []
            while not self.events.q.empty():
                extra.append(self.events.q.get_nowait()[1:])
            self.assertEqual(extra, [], what + ": more events after the STOPPED one")
            self.assertTrue(self.d.alive())

        self.assertEqual(self.d.runner_pids(), [])
        # fds: the same after every round as after the first
        self.assertEqual(set(fd_series[1:]), {fd_series[1]},
                         "daemon fd count per round: %r" % fd_series)
        self.assertLessEqual(max(latencies), 1.0, "event latencies %r" % latencies)
        figure("runner SIGKILL x%d: SHUTOFF/CRASHED + event STOPPED/FAILED, latency median "
               "%.1f ms max %.1f ms (limit 1000); tap, state files %s, control socket and pty "
               "gone each time; daemon fds %s (before the first start: %d)"
               % (self.ROUNDS, 1000 * fl.median(latencies), 1000 * max(latencies),
                  ",".join(running_files or []), "/".join(map(str, fd_series[1:])),
                  fd_series[0]))
        figure("  runner cgroup: %s" % (
            "%s, removed after each crash" % sorted(cgroups)[0] if cgroups else
            "none of its own (no cgroup v2 use by the daemon here; mount %s)" % self.cg_mount))
        figure("  domain start median %.0f ms; whole test %.1f s"
               % (1000 * fl.median(start_times), time.monotonic() - t_all))


if __name__ == "__main__":
    hyvetest.in_network_namespace("the fault-injection test")
    print("seed %d (HYVE_FAULTS_SEED to repeat)" % SEED, flush=True)
    hyvetest.main()
