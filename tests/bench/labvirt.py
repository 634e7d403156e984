"""labvirt: the libvirt side of bench-runner, used inside L1 (the lab).

- HyvePeer: virtbhyved --root TMP -f CONF (runner_path = the bench's
  bhyve-runner), reached with the stock virsh (as tests/lab/test-domains-run
  does, through tests/lab/hyvevirt.py).
- QemuPeer: Debian's monolithic libvirtd with its QEMU driver in a private
  mount namespace (tmpfs on /etc/libvirt and libvirt's state dirs, qemu.conf
  user/group root, stdio_handler "file", no security driver, no cgroups, no
  namespaces; a passwd/group copy with the 'libvirt-qemu' user the driver
  resolves at init, bind-mounted), its own unix socket.
- virsh_boot(): `virsh start` -> "HYVE-GUEST: init" on `virsh console`
  (a pty); cycles(): N x (`virsh start`, `virsh destroy` as soon as start
  returned).

Both peers get the same kernel, initrd and command line; the domain XML is
each driver's own type (bhyve / kvm with machine pc)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
import hyvevirt as hv  # noqa: E402

QEMU = "/usr/bin/qemu-system-x86_64"


class PeerError(Exception):
    pass


def _wait_socket(proc, sock, uri, log_path, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise PeerError("daemon exited (%d): %s" % (
                proc.returncode, _tail(log_path)))
        if os.path.exists(sock):
            p = hv.virsh(uri, "uri", check=False, timeout=20)
            if p.returncode == 0:
                return
        time.sleep(0.1)
    raise PeerError("daemon did not answer on %s within %ds: %s" % (
        sock, timeout, _tail(log_path)))


def _tail(path, n=1500):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError as e:
        return "(%s)" % e


class _Peer:
    """A daemon run by the bench: `proc` (Popen or None) and `uri`."""

    def stop(self):
        if self.proc is None:
            return
        try:
            for n in hv.virsh(self.uri, "list", "--name",
                              timeout=30).split():
                hv.virsh(self.uri, "destroy", n, check=False, timeout=30)
        except (hv.Fail, subprocess.TimeoutExpired):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class HyvePeer(_Peer):
    name = "hyve"
    domain_type = "bhyve"

    def __init__(self, daemon, runner):
        self.daemon = daemon
        self.runner = runner
        self.root = tempfile.mkdtemp(prefix="hyve-bench-virt-", dir="/tmp")
        self.sock = os.path.join(self.root, "run", "libvirt",
                                 "virtbhyved-sock")
        self.uri = "bhyve+unix:///system?socket=" + self.sock
        self.log_path = os.path.join(self.root, "virtbhyved.log")
        self.proc = None

    def start(self, timeout=120):
        conf = os.path.join(self.root, "virtbhyved.conf")
        with open(conf, "w") as f:
            f.write('runner_path = "%s"\n' % self.runner)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.daemon, "--root", self.root, "-f", conf],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()
        _wait_socket(self.proc, self.sock, self.uri, self.log_path, timeout)

    def version(self):
        p = subprocess.run([self.daemon, "--version"], capture_output=True,
                           text=True)
        return (p.stdout or p.stderr).strip().splitlines()[0] if (
            p.stdout or p.stderr) else "virtbhyved"

    def xml(self, name, kernel, initrd, cmdline, mem_mib, vcpus):
        return hv.domain_xml(name, kernel, initrd, cmdline=cmdline,
                             memory_mib=mem_mib, vcpus=vcpus)

    def domain_log(self, name):
        return _tail(os.path.join(self.root, "var", "log", "libvirt",
                                  "bhyve", name + ".log"))


LIBVIRTD_CONF = """unix_sock_dir = "%(run)s"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:file:%(log)s"
"""

QEMU_CONF = """user = "root"
group = "root"
stdio_handler = "file"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
dynamic_ownership = 0
remember_owner = 0
"""

LIBVIRTD_SH = r"""set -e
X=$1
mount --bind $X/passwd /etc/passwd
mount --bind $X/group /etc/group
mount -t tmpfs none /etc/libvirt
cp $X/qemu.conf /etc/libvirt/qemu.conf
for d in /var/lib/libvirt /var/run/libvirt /var/cache/libvirt /var/log/libvirt; do
    mkdir -p $d
    mount -t tmpfs none $d
done
exec libvirtd -f $X/libvirtd.conf
"""


class QemuPeer(_Peer):
    name = "qemu-pc"
    domain_type = "kvm"

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="hyve-bench-libvirtd-", dir="/tmp")
        self.run = os.path.join(self.root, "run")
        os.makedirs(self.run)
        self.sock = os.path.join(self.run, "libvirt-sock")
        self.uri = "qemu+unix:///system?socket=" + self.sock
        self.log_path = os.path.join(self.root, "libvirtd.log")
        self.proc = None

    def start(self, timeout=120):
        if not shutil.which("libvirtd"):
            raise PeerError("libvirtd not installed")
        with open(os.path.join(self.root, "libvirtd.conf"), "w") as f:
            f.write(LIBVIRTD_CONF % {"run": self.run, "log": self.log_path})
        with open(os.path.join(self.root, "qemu.conf"), "w") as f:
            f.write(QEMU_CONF)
        for src, line in (("/etc/passwd",
                           "libvirt-qemu:x:64055:64055:Libvirt Qemu:"
                           "/var/lib/libvirt:/usr/sbin/nologin\n"),
                          ("/etc/group", "libvirt-qemu:x:64055:\n"
                           "kvm:x:64056:\nlibvirt:x:64057:\n")):
            with open(src) as f:
                text = f.read()
            have = {l.split(":")[0] for l in text.splitlines()}
            extra = "".join(l + "\n" for l in line.splitlines()
                            if l.split(":")[0] not in have)
            with open(os.path.join(self.root, os.path.basename(src)),
                      "w") as f:
                f.write(text + ("" if text.endswith("\n") else "\n") + extra)
        # virsh console makes libvirtd lock the pty in /var/lock (-> /run/lock,
        # a fresh tmpfs in the lab)
        os.makedirs(os.path.realpath("/var/lock"), exist_ok=True)
        sh = os.path.join(self.root, "start.sh")
        with open(sh, "w") as f:
            f.write(LIBVIRTD_SH)
        log = open(os.path.join(self.root, "stderr.log"), "a")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", sh,
             self.root], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()
        try:
            _wait_socket(self.proc, self.sock, self.uri, self.log_path,
                         timeout)
        except PeerError as e:
            raise PeerError("%s; stderr: %s" % (
                e, _tail(os.path.join(self.root, "stderr.log"))))

    def version(self):
        p = subprocess.run(["libvirtd", "--version"], capture_output=True,
                           text=True)
        return p.stdout.strip() + " (qemu driver)"

    def xml(self, name, kernel, initrd, cmdline, mem_mib, vcpus):
        return """<domain type='kvm'>
  <name>%s</name>
  <memory unit='MiB'>%d</memory>
  <vcpu>%d</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='host-passthrough'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>%s</emulator>
    <controller type='usb' model='none'/>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
""" % (escape(name), mem_mib, vcpus, escape(kernel), escape(initrd),
           escape(cmdline), QEMU)

    def domain_log(self, name):
        # the QEMU log lives in the daemon's private /var/log/libvirt
        return _tail(os.path.join("/proc", str(self.proc.pid) if self.proc
                                  else "0", "root", "var", "log", "libvirt",
                                  "qemu", name + ".log")) + \
            "\n--- libvirtd log ---\n" + _tail(self.log_path)


def define(peer, name, kernel, initrd, cmdline, mem_mib=256, vcpus=1):
    path = os.path.join(peer.root, name + ".xml")
    with open(path, "w") as f:
        f.write(peer.xml(name, kernel, initrd, cmdline, mem_mib, vcpus))
    hv.virsh(peer.uri, "define", path)


def virsh_boot(peer, name, timeout):
    """`virsh start` -> init marker on `virsh console`; then destroy.
    Returns {start_s (virsh start returned), boot_s (marker seen)}."""
    t0 = time.monotonic()
    hv.virsh(peer.uri, "start", name, timeout=timeout)
    t_ret = time.monotonic() - t0
    con = hv.Console(peer.uri, name)
    try:
        con.wait_marker("init", timeout)
        t_init = time.monotonic() - t0
    except hv.Fail as e:
        raise PeerError("%s: %s\n%s" % (peer.name, e, peer.domain_log(name)))
    finally:
        con.close()
        hv.virsh(peer.uri, "destroy", name, check=False, timeout=60)
    out = {"start_s": t_ret, "boot_s": t_init}
    if peer.name == "hyve":
        # which boot path the runner took (boot.kernel_cache: the daemon's
        # <root>/var/cache/libvirt/bhyve/kernel); the log is appended to
        lines = [l for l in peer.domain_log(name).splitlines()
                 if ": kernel: " in l]
        out["kernel_log"] = lines[-1:]
    return out


def cycles(peer, name, n, timeout=60):
    """n x (virsh start; virsh destroy at once); per-cycle seconds."""
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        hv.virsh(peer.uri, "start", name, timeout=timeout)
        t1 = time.monotonic()
        hv.virsh(peer.uri, "destroy", name, timeout=timeout)
        t2 = time.monotonic()
        out.append({"start_s": t1 - t0, "destroy_s": t2 - t1,
                    "cycle_s": t2 - t0})
    return out
