#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real virt-install (virtinst 4.1) provisioning VMs on the freshly
built virtbhyved: direct kernel boot (--import --boot kernel=,initrd=,
kernel_args=), a new volume in the pool "default" (--disk size=N), the
virtual network "default" (--network network=default), a pty serial
console (--console pty, also attached with --autoconsole text), --memory,
--vcpus; the domain's XML and its running runner are checked through
python3-libvirt. Then virt-install's own defaults for a bhyve URI (SATA
disk, e1000 NIC, nmdm console, VNC graphics, UEFI, CD-ROM installs, a
missing "default" pool) each either work or fail with a message naming
the virt-install option to pass instead, leaving nothing behind.

The test runs in a network + mount namespace of its own
(hyvetest.in_network_namespace): the network's bridge, dnsmasq and nft
table stay there, and a tmpfs over each libvirt system directory takes
the pool that virt-install creates when "default" is missing and the
state of the daemon that serves `--connect bhyve:///system`. Root only (else skipped);
skipped without virt-install or /dev/kvm (the guest kernel need not boot:
on a kvm_pvm host it does not)."""
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
import hyvetest                                         # noqa: E402
from hyvetest import virsh, wait_until                  # noqa: E402

VIRT_INSTALL = shutil.which("virt-install") or "/usr/bin/virt-install"
SYSTEM_IMAGES = "/var/lib/libvirt/images"   # virt-install's default pool path as root
SYSTEM_DIRS_COVERED = all(os.path.isdir(d) for d in hyvetest.SYSTEM_DIRS)
GIB = 1 << 30


def kernel_args():
    kernel, initrd = hyvetest.debian_kernel()
    return "kernel=%s,initrd=%s,kernel_args=console=ttyS0 panic=-1" % (kernel, initrd)


def base_args(name, memory=256, vcpus=1):
    return ["--name", name, "--memory", str(memory), "--vcpus", str(vcpus),
            "--osinfo", "linux2022"]


# The options that turn virt-install's bhyve defaults into what hyve runs.
GOOD = ["--import", "--boot", None, "--disk", "size=1,bus=virtio",
        "--network", "network=default,model=virtio", "--console", "pty",
        "--graphics", "none", "--noautoconsole"]


def good_args(**over):
    args = list(GOOD)
    args[2] = kernel_args()
    for opt, value in over.items():
        flag = "--" + opt
        if value is None:           # drop the option (and its value)
            i = args.index(flag)
            del args[i:i + (1 if flag in ("--import", "--noautoconsole") else 2)]
        else:
            args[args.index(flag) + 1] = value
    return args


def pty_is_raw(fd):
    """The pty (master FD: Linux reports the pair's termios) is no longer
    canonical: a program on it has switched it to raw mode."""
    import termios
    try:
        return not termios.tcgetattr(fd)[3] & termios.ICANON
    except termios.error:
        return False


TMPFS_SOURCE = "hyve-virtinst"     # the source name of this test's tmpfs mounts


def covering_mount(path):
    """(mount point, fs type, source) of the mount in this mount namespace
    that PATH lies on (the last one mounted over the longest prefix)."""
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            point = fields[4].replace("\\040", " ")
            if path == point or path.startswith(point.rstrip("/") + "/"):
                if best is None or len(point) >= len(best[0]):
                    best = (point, fields[sep + 1], fields[sep + 2])
    return best


HOST_MNT_NS_ENV = "HYVE_VIRTINST_HOST_MNT_NS"   # set by the outer process


def in_own_mount_namespace():
    """This process is in a mount namespace other than the one the test was
    started in (recorded by the outer process) and other than PID 1's
    (where /proc/1 can be read: without CAP_SYS_PTRACE it cannot)."""
    own = os.stat("/proc/self/ns/mnt").st_ino
    outer = os.environ.get(HOST_MNT_NS_ENV)
    try:
        pid1 = os.stat("/proc/1/ns/mnt").st_ino
    except OSError:
        pid1 = None
    if outer is None and pid1 is None:
        return False        # nothing to compare with: assume the worst
    return own != pid1 and str(own) != outer


def require_own_tmpfs(path):
    """Refuse to touch PATH unless it lies on one of this test's tmpfs mounts
    in a mount namespace of its own (never the host's real files)."""
    if not in_own_mount_namespace():
        raise AssertionError("refusing to touch %s: not in a mount namespace of this test's"
                             % path)
    mount = covering_mount(path)
    if mount is None or mount[1:] != ("tmpfs", TMPFS_SOURCE):
        raise AssertionError("refusing to touch %s: it lies on %r, not on this test's tmpfs"
                             % (path, mount))


def text_of(root, path):
    el = root.find(path)
    return None if el is None else el.text


class VirtInstallCase(hyvetest.DaemonTestCase):
    """A daemon of the class's own with its network "default" started."""

    @classmethod
    def setUpClass(cls):
        cls.start_daemon()
        import libvirt
        cls.libvirt = libvirt
        cls.conn = libvirt.open(cls.uri)
        net = cls.conn.networkLookupByName("default")     # made by a first start
        if not net.isActive():
            net.create()

    @classmethod
    def tearDownClass(cls):
        try:
            net = cls.conn.networkLookupByName("default")
            if net.isActive():
                net.destroy()           # bridge and dnsmasq go with it
            cls.conn.close()
        finally:
            super().tearDownClass()

    @classmethod
    def start_daemon(cls):
        super().setUpClass()
        cls.uri = cls.daemon.uri

    def setUp(self):
        self.names = []

    def tearDown(self):
        for name in self.names:
            virsh(self.uri, "destroy", name, check=False)
            virsh(self.uri, "undefine", name, "--remove-all-storage", check=False)
        self.assertDaemonAlive()

    # -- helpers ---------------------------------------------------------
    def virt_install(self, name, args, timeout=180):
        self.names.append(name)
        cmd = [VIRT_INSTALL, "--connect", self.uri] + base_args(name) + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=hyvetest.client_env({"HOME": self.tmp}),
                           stdin=subprocess.DEVNULL, start_new_session=True)
        p.cmd = " ".join(cmd)
        return p

    def assertInstalled(self, p):
        self.assertEqual(p.returncode, 0, "%s\nfailed:\n%s%s" % (p.cmd, p.stdout, p.stderr))
        self.assertIn("Domain creation completed", p.stdout + p.stderr)

    def assertRefused(self, p, *needles):
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, "%s\nsucceeded:\n%s" % (p.cmd, out))
        for n in needles:
            self.assertIn(n, out, "%s: %r not in the output:\n%s" % (p.cmd, n, out))

    def assertNothingLeft(self, name):
        """No domain NAME and no volume NAME*.img in any pool."""
        self.assertNotIn(name, [d.name() for d in self.conn.listAllDomains(0)])
        for pool in self.conn.listAllStoragePools(0):
            if pool.isActive():
                pool.refresh(0)
                left = [v for v in pool.listVolumes() if v.startswith(name)]
                self.assertEqual(left, [], "volumes left in pool %s" % pool.name())

    def pool_target(self, pool):
        return ET.fromstring(pool.XMLDesc(0)).find("target/path").text

    def check_provisioned(self, name, memory_kib, vcpus, pool_name="default"):
        """The running domain NAME as virt-install made it."""
        libvirt = self.libvirt
        dom = self.conn.lookupByName(name)
        state, _ = dom.state()
        self.assertEqual(state, libvirt.VIR_DOMAIN_RUNNING)
        self.assertTrue(dom.isPersistent())
        root = ET.fromstring(dom.XMLDesc(0))
        kernel, initrd = hyvetest.debian_kernel()
        # direct kernel boot
        self.assertEqual(text_of(root, "os/kernel"), kernel)
        self.assertEqual(text_of(root, "os/initrd"), initrd)
        self.assertEqual(text_of(root, "os/cmdline"), "console=ttyS0 panic=-1")
        self.assertEqual(int(text_of(root, "memory")), memory_kib)
        self.assertEqual(root.find("memory").get("unit"), "KiB")
        self.assertEqual(int(text_of(root, "vcpu")), vcpus)
        caps = ET.fromstring(self.conn.getCapabilities())
        self.assertEqual(text_of(root, "devices/emulator"),
                         text_of(caps, "guest/arch/emulator"))
        # virt-install's osinfo metadata is kept
        self.assertIn("http://libosinfo.org/linux/2022", dom.XMLDesc(0))
        # the disk: a new 1 GiB raw volume NAME.img in the pool
        disks = root.findall("devices/disk")
        self.assertEqual(len(disks), 1)
        self.assertEqual(disks[0].find("target").get("bus"), "virtio")
        self.assertEqual(disks[0].find("target").get("dev"), "vda")
        path = disks[0].find("source").get("file")
        pool = self.conn.storagePoolLookupByName(pool_name)
        self.assertEqual(os.path.dirname(path), self.pool_target(pool))
        vol = pool.storageVolLookupByName(name + ".img")
        self.assertEqual(vol.path(), path)
        self.assertEqual(vol.info()[1], GIB)
        self.assertEqual(os.stat(path).st_size, GIB)
        # the interface: on network "default", a tap on its bridge
        ifs = root.findall("devices/interface")
        self.assertEqual(len(ifs), 1)
        self.assertEqual(ifs[0].get("type"), "network")
        src = ifs[0].find("source")
        self.assertEqual(src.get("network"), "default")
        bridge = ET.fromstring(self.conn.networkLookupByName("default").XMLDesc(0)) \
            .find("bridge").get("name")
        self.assertEqual(src.get("bridge"), bridge)
        self.assertEqual(ifs[0].find("model").get("type"), "virtio")
        tap = ifs[0].find("target").get("dev")
        self.assertEqual(os.path.basename(os.readlink("/sys/class/net/%s/master" % tap)), bridge)
        # serial port 0 on a pty, the console its alias
        serial = root.find("devices/serial")
        self.assertEqual(serial.get("type"), "pty")
        pts = serial.find("source").get("path")
        self.assertTrue(pts.startswith("/dev/pts/") and os.path.exists(pts), pts)
        console = root.find("devices/console")
        self.assertEqual((console.get("type"), console.get("tty")), ("pty", pts))
        self.assertEqual(console.find("target").get("type"), "serial")
        self.assertEqual(len(self.daemon.runner_pids()), 1)
        return dom


class VirtInstallTest(VirtInstallCase):
    """virt-install against a --root daemon through ?socket=."""

    # -- provisioning that works -----------------------------------------
    def test_provision_kernel_disk_network_console(self):
        vcpus = min(2, os.cpu_count() or 1)
        args = good_args() + ["--vcpus", str(vcpus), "--memory", "384"]
        p = self.virt_install("vi-good", args)
        self.assertInstalled(p)
        self.check_provisioned("vi-good", 384 * 1024, vcpus)
        # the definition survives a daemon restart, the VM keeps running
        self.daemon.restart()
        try:
            self.conn.close()
        except self.libvirt.libvirtError:
            pass                # its daemon is gone: closing may report that
        self.__class__.conn = self.libvirt.open(self.uri)
        self.check_provisioned("vi-good", 384 * 1024, vcpus)

    def test_autoconsole_text_attaches(self):
        """Without --noautoconsole virt-install runs `virsh console` on the pty
        console; ^] detaches and virt-install completes."""
        args = good_args(noautoconsole=None) + ["--autoconsole", "text"]
        cmd = [VIRT_INSTALL, "--connect", self.uri] + base_args("vi-console") + args
        self.names.append("vi-console")
        master, slave = pty.openpty()
        p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                             env=hyvetest.client_env({"HOME": self.tmp}), start_new_session=True)
        os.close(slave)
        out, sent, last = b"", 0, 0.0
        deadline = time.monotonic() + 120
        rc = None
        try:
            while time.monotonic() < deadline and p.poll() is None:
                if select.select([master], [], [], 0.2)[0]:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        break
                # ^] only once virsh console has put the pty in raw mode (its
                # tcsetattr(TCSAFLUSH) discards input typed before); again
                # every second while it stays raw, in case one was lost
                if (b"Escape character is ^]" in out and pty_is_raw(master)
                        and time.monotonic() - last >= 1.0):
                    os.write(master, b"\x1d")
                    sent, last = sent + 1, time.monotonic()
            try:
                rc = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            os.close(master)
        text = out.decode("utf-8", "replace")
        self.assertIsNotNone(rc, "virt-install did not exit (^] sent %d times):\n%s"
                             % (sent, text))
        self.assertTrue(sent, "no console attached:\n" + text)
        self.assertIn("console vi-console", text)
        self.assertIn("Connected to domain 'vi-console'", text)
        self.assertEqual(rc, 0, text)
        self.assertIn("Domain creation completed", text)
        dom = self.conn.lookupByName("vi-console")
        self.assertEqual(dom.state()[0], self.libvirt.VIR_DOMAIN_RUNNING)

    def test_default_pool_created_when_missing(self):
        """No pool "default": virt-install defines, builds, starts and
        autostarts one at /var/lib/libvirt/images (the tmpfs of this test)
        and creates the volume in it."""
        for pool in self.conn.listAllStoragePools(0):
            if pool.name() == "default":
                if pool.isActive():
                    pool.destroy()
                pool.undefine()
        require_own_tmpfs(SYSTEM_IMAGES)
        os.makedirs(SYSTEM_IMAGES, exist_ok=True)
        shutil.rmtree(SYSTEM_IMAGES)
        p = self.virt_install("vi-pool", good_args() + ["--osinfo", "detect=on,require=off"])
        self.assertInstalled(p)
        pool = self.conn.storagePoolLookupByName("default")
        self.assertTrue(pool.isActive())
        self.assertTrue(pool.autostart())
        self.assertEqual(self.pool_target(pool), SYSTEM_IMAGES)
        self.assertTrue(os.path.isdir(SYSTEM_IMAGES))
        dom = self.conn.lookupByName("vi-pool")
        path = ET.fromstring(dom.XMLDesc(0)).find("devices/disk/source").get("file")
        self.assertEqual(path, os.path.join(SYSTEM_IMAGES, "vi-pool.img"))
        self.assertEqual(os.stat(path).st_size, GIB)
        self.assertEqual(dom.state()[0], self.libvirt.VIR_DOMAIN_RUNNING)

    # -- virt-install's bhyve defaults: refused with the option to pass ----
    def test_own_defaults_name_every_option(self):
        """Only --disk size=1 --network network=default: virt-install picks
        bus sata, model e1000, an nmdm console and VNC graphics + video +
        tablet for bhyve; one refusal names each option, nothing is left."""
        args = ["--import", "--boot", kernel_args(), "--disk", "size=1",
                "--network", "network=default", "--noautoconsole"]
        p = self.virt_install("vi-defaults", args)
        self.assertRefused(p, "not supported by hyve",
                           "disk bus 'sata' (disk sda): set <target bus='virtio'/> "
                           "(virt-install: --disk ...,bus=virtio)",
                           "interface model 'e1000' (interface ",
                           "set <model type='virtio'/> (virt-install: --network ...,model=virtio)",
                           "console type 'nmdm': set type='pty'", "(virt-install: --console pty)",
                           "<graphics>", "<video>", "<input>",
                           "remove them (hyve guests have no display, only serial consoles) "
                           "(virt-install: --graphics none)")
        self.assertNothingLeft("vi-defaults")

    def test_each_default_alone(self):
        """Each default on its own gets exactly its own option."""
        cases = [
            ("disk", good_args(disk="size=1"), "disk bus 'sata'", "--disk ...,bus=virtio"),
            ("network", good_args(network="network=default"), "interface model 'e1000'",
             "--network ...,model=virtio"),
            ("console", good_args(console=None), "console type 'nmdm'", "--console pty"),
            ("graphics", good_args(graphics=None), "<graphics>", "--graphics none"),
        ]
        for what, args, item, option in cases:
            name = "vi-" + what
            p = self.virt_install(name, args)
            self.assertRefused(p, item, "(virt-install: %s)" % option)
            out = p.stdout + p.stderr
            self.assertEqual(out.count("(virt-install: "), 1, "%s: one item only:\n%s"
                             % (what, out))
            self.assertNothingLeft(name)

    def test_cdrom_install_refused(self):
        kernel, initrd = hyvetest.debian_kernel()
        p = self.virt_install("vi-cdrom", ["--cdrom", initrd, "--disk", "size=1,bus=virtio",
                                           "--network", "network=default,model=virtio",
                                           "--console", "pty", "--graphics", "none",
                                           "--noautoconsole"])
        self.assertRefused(p, "disk device 'cdrom'",
                           "hyve does not boot install media",
                           "(virt-install: --import --boot kernel=PATH,initrd=PATH,"
                           "kernel_args=ARGS)")
        self.assertNothingLeft("vi-cdrom")

    def test_uefi_refused(self):
        """--boot uefi: hyve's domain capabilities offer no firmware, so
        virt-install itself refuses before defining anything."""
        p = self.virt_install("vi-uefi", good_args() + ["--boot", "uefi"])
        self.assertRefused(p, "does not support UEFI")
        self.assertNothingLeft("vi-uefi")

    def test_no_kernel_refused(self):
        """No --boot kernel=: virt-install prefers UEFI for bhyve, finds no
        firmware (a warning) and boots from the disk; hyve refuses the start
        (it boots a kernel directly) and virt-install removes what it made."""
        args = [a for a in good_args() if a != kernel_args()]
        args.remove("--boot")
        p = self.virt_install("vi-nokernel", args)
        self.assertRefused(p, "Couldn't configure UEFI", "<kernel>", "direct kernel boot")
        self.assertNothingLeft("vi-nokernel")


@unittest.skipUnless(SYSTEM_DIRS_COVERED, "not every libvirt system directory exists to "
                     "cover with a tmpfs: %s" % " ".join(hyvetest.SYSTEM_DIRS))
class SystemUriTest(VirtInstallCase):
    """`virt-install --connect bhyve:///system`: a daemon on the real system
    paths (each under a tmpfs of this test's mount namespace)."""

    @classmethod
    def start_daemon(cls):
        for d in hyvetest.SYSTEM_DIRS:
            require_own_tmpfs(d)
        # HYVE_MACHINED=0: never register runners with the host's
        # systemd-machined (reachable through /run/dbus)
        cls.daemon = hyvetest.Daemon(root="/", name="system",
                                     env=dict(os.environ, HYVE_MACHINED="0")).start()
        cls.tmp = hyvetest.make_tmpdir()
        cls.uri = "bhyve:///system"

    def test_provision_system_uri(self):
        p = self.virt_install("vi-system", good_args())
        self.assertInstalled(p)
        self.check_provisioned("vi-system", 256 * 1024, 1)
        self.assertEqual(self.conn.getURI(), "bhyve:///system")


def enter_namespaces():
    """hyvetest.in_network_namespace, with every libvirt system directory
    present to mount a tmpfs on: the outer process creates the missing ones
    and removes them afterwards, under the lock every user of those
    directories takes (hyvetest.in_private_namespace does the same)."""
    if os.environ.get("HYVE_IN_NET_NS") == "1" or os.geteuid() != 0:
        hyvetest.in_network_namespace("the virt-install test")
        return
    os.environ[HOST_MNT_NS_ENV] = str(os.stat("/proc/self/ns/mnt").st_ino)
    import fcntl
    lock = open(hyvetest.SYSTEM_DIRS_LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    created = []
    try:
        for d in hyvetest.SYSTEM_DIRS:
            if not os.path.exists(d):
                os.makedirs(d)
                created.append(d)
        hyvetest.in_network_namespace("the virt-install test")     # exits
    finally:
        for d in reversed(created):
            try:
                os.rmdir(d)
            except OSError:
                pass
        lock.close()


if __name__ == "__main__":
    if not os.access(VIRT_INSTALL, os.X_OK):
        hyvetest.skip("virt-install is not installed (package virtinst)")
    enter_namespaces()
    # inside the namespaces: our own libvirt system directories (virt-install's
    # default pool path /var/lib/libvirt/images, the system daemon's sockets
    # and state), so nothing made here reaches the host
    if not in_own_mount_namespace():
        print("refusing to mount over the libvirt system directories: not in a mount "
              "namespace of this test's", file=sys.stderr)
        sys.exit(1)
    for d in hyvetest.SYSTEM_DIRS:
        if os.path.isdir(d):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", TMPFS_SOURCE, d],
                           check=True)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        hyvetest.skip("no usable /dev/kvm")
    hyvetest.main()
