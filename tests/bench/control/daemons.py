# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemons bench-control measures: virtbhyved builds with --root in a
temporary directory, and Debian's monolithic libvirtd (QEMU driver) in a
private mount namespace (recipe: /work/notes/issue8.md). Every daemon
started here is stopped and its directory removed by stop(); stop_all()
runs at exit, also after Ctrl-C or an exception."""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_STARTED = []


def _die_with_parent():
    """preexec_fn: SIGKILL the daemon when bench-control dies unexpectedly."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def read_memory(pid):
    """(VmRSS, Pss) of PID in KiB; None for a value that cannot be read."""
    rss = pss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    """CPU time PID has used, in ns: the sum of its threads' schedstat
    run times (ns resolution), and utime+stime of /proc/PID/stat (clock
    ticks, but it keeps the time of threads that have exited). Returns
    (schedstat_ns, stat_ns); None for a value that cannot be read."""
    sched = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    sched += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        stat = (int(fields[11]) + int(fields[12])) * _TICK_NS
    except (OSError, ValueError, IndexError):
        return None, None
    return sched, stat


def cpu_delta_ns(before, after):
    """CPU ns between two cpu_ns() readings: the schedstat sum unless the
    tick count says more than one tick more was used (threads exited)."""
    if None in before or None in after:
        return None
    sched = after[0] - before[0]
    stat = after[1] - before[1]
    return stat if stat > sched + 2 * _TICK_NS else sched


class Daemon:
    """One daemon process; subclasses say how it starts."""
    driver = None          # "bhyve" or "kvm": which domain XML template
    uri_scheme = None

    def __init__(self, label):
        self.label = label
        self.dir = None
        self.proc = None
        self.log_path = None
        self.sock = None
        self.starts = 0

    # -- what subclasses provide --------------------------------------
    def argv(self):
        raise NotImplementedError

    def socket_path(self):
        raise NotImplementedError

    def prepare(self):
        """Fill self.dir before the first start."""

    def describe(self):
        raise NotImplementedError

    # -- lifetime -----------------------------------------------------
    @property
    def uri(self):
        return "%s+unix:///system?socket=%s" % (self.uri_scheme, self.sock)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=60):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="hyve-bench-%s-" % self.label)
            os.chmod(self.dir, 0o755)
            self.log_path = os.path.join(self.dir, "daemon.log")
            self.prepare()
            if self not in _STARTED:
                _STARTED.append(self)
        path = self.socket_path()
        if os.path.exists(path):
            os.unlink(path)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s at start; log tail:\n%s"
                                   % (self.label, self.proc.returncode, self.log_tail()))
            if os.path.exists(path) and _can_connect(path):
                self.sock = path
                return self
            time.sleep(0.05)
        raise RuntimeError("%s: no socket %s after %ss; log tail:\n%s"
                           % (self.label, path, timeout, self.log_tail()))

    def stop(self, timeout=20):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def remove(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log_tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def memory(self):
        return read_memory(self.pid) if self.alive() else (None, None)


def _git_describe(path):
    """git describe of the source tree a build output belongs to (the first
    directory above PATH with a .git), or None."""
    d = os.path.dirname(os.path.abspath(path))
    while d != "/":
        if os.path.exists(os.path.join(d, ".git")):
            r = subprocess.run(["git", "-C", d, "describe", "--always", "--dirty", "--tags"],
                               capture_output=True, text=True)
            return r.stdout.strip() or None
        d = os.path.dirname(d)
    return None


class HyveDaemon(Daemon):
    driver = "bhyve"
    uri_scheme = "bhyve"

    def __init__(self, label, binary):
        super().__init__(label)
        self.binary = os.path.abspath(binary)

    def argv(self):
        # DIR/etc and DIR/var (domain configs, fsync'ed) are on the disk
        # /tmp is on, like libvirtd's (LibvirtdDaemon); DIR/run holds the
        # sockets, so it stays visible here (no tmpfs in a private namespace)
        return [self.binary, "--root", self.dir]

    def socket_path(self):
        return os.path.join(self.dir, "run", "libvirt", "virtbhyved-sock")

    def describe(self):
        r = subprocess.run([self.binary, "--version"], capture_output=True, text=True)
        version = (r.stdout.strip() or "virtbhyved").splitlines()[0]
        desc = _git_describe(self.binary)
        return "%s, %s" % (version, ("git " + desc) if desc else self.binary)


class LibvirtdDaemon(Daemon):
    """Debian 12's monolithic libvirtd with the QEMU driver, in a private
    mount namespace: its /etc/libvirt and /var/{lib,cache,log}/libvirt are
    bind mounts of directories under DIR/state (on the disk /tmp is on, like
    virtbhyved's --root: both daemons fsync their domain configs there),
    /var/run/libvirt is a tmpfs; the qemu driver runs as root (it resolves its default user
    'libvirt-qemu' at init, so passwd/group copies carry that user)."""
    driver = "kvm"
    uri_scheme = "qemu"

    def __init__(self, label="libvirtd", binary="/usr/sbin/libvirtd"):
        super().__init__(label)
        self.binary = binary

    def prepare(self):
        os.makedirs(os.path.join(self.dir, "run"))
        with open(os.path.join(self.dir, "libvirtd.conf"), "w") as f:
            f.write('unix_sock_dir = "%s/run"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    % self.dir)
        for name, line in (("passwd", "libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:"
                            "/usr/sbin/nologin\n"),
                           ("group", "libvirt-qemu:x:64055:\n")):
            with open("/etc/" + name) as f:
                text = f.read()
            if not any(l.startswith("libvirt-qemu:") for l in text.splitlines()):
                text += ("" if text.endswith("\n") else "\n") + line
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)

    def argv(self):
        d = self.dir
        script = (
            "set -e; mount --make-rprivate /; "
            "mount --bind %(d)s/passwd /etc/passwd; mount --bind %(d)s/group /etc/group; "
            "for v in /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do "
            "mkdir -p $v %(d)s/state$v; mount --bind %(d)s/state$v $v; done; "
            "printf 'user = \"root\"\\ngroup = \"root\"\\n' > /etc/libvirt/qemu.conf; "
            "mkdir -p /var/run/libvirt; mount -t tmpfs none /var/run/libvirt; "
            "exec %(b)s -f %(d)s/libvirtd.conf" % {"d": d, "b": self.binary})
        return ["unshare", "-m", "sh", "-c", script]

    def socket_path(self):
        return os.path.join(self.dir, "run", "libvirt-sock")

    def describe(self):
        r = subprocess.run([self.binary, "--version"], capture_output=True, text=True)
        version = r.stdout.strip().replace("(libvirt) ", "") or "libvirtd"
        return "%s (monolithic, QEMU driver, Debian)" % version


def stop_all():
    """Stops every daemon started in this process and removes its directory."""
    while _STARTED:
        d = _STARTED.pop()
        try:
            d.remove()
        except Exception:       # keep going: the others still need stopping
            pass
