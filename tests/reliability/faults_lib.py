# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of tests/reliability/test_faults.py: versioned domain XML whose
every sent version can be recognised in the daemon's config files, the
parser that classifies such a file, a daemon that can be SIGKILLed and
restarted, the python event loop, and /proc views of a process."""
import os
import queue
import signal
import subprocess
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import hyvetest


def config_dir(daemon):
    """The system daemon's domain config dir below --root (hyved_paths.c)."""
    return os.path.join(daemon.root, "etc", "libvirt", "bhyve")


def state_dir(daemon):
    return os.path.join(daemon.root, "run", "libvirt", "bhyve")


# -- versioned definitions -----------------------------------------------------

class Version:
    """One definition the client sent: NAME, UUID, memory, vcpus and a
    cmdline carrying the version number V and padding of random length (so
    consecutive versions differ in size: a torn file cannot pass)."""

    def __init__(self, v, name, uuid, rnd):
        self.v = v
        self.name = name
        self.uuid = uuid
        self.mem_kib = 65536 * (1 + rnd.randrange(8))
        self.vcpus = 1 + rnd.randrange(4)
        self.cmdline = "console=ttyS0 hyve.fv=%d pad=%s" % (v, "p" * rnd.randrange(1500))

    def xml(self):
        return hyvetest.domain_xml(self.name, self.uuid, memory_kib=self.mem_kib,
                                   vcpus=self.vcpus, cmdline=self.cmdline)

    def __repr__(self):
        return "v%d(%s)" % (self.v, self.name)


def new_uuid():
    return str(uuidlib.uuid4())


class Torn(Exception):
    """A config file that is not exactly one version the client sent."""


def classify(text, versions):
    """The Version a config file's TEXT is (by its hyve.fv token), checking
    that every field equals what that version sent; raises Torn otherwise."""
    if not text:
        raise Torn("empty file")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise Torn("not well-formed XML (%s), %d bytes" % (e, len(text)))
    if root.tag != "domain":
        raise Torn("root element <%s>" % root.tag)
    cmdline = root.findtext("os/cmdline") or ""
    token = [w for w in cmdline.split() if w.startswith("hyve.fv=")]
    if len(token) != 1:
        raise Torn("no version token in cmdline %r" % cmdline[:80])
    try:
        ver = versions[int(token[0].split("=", 1)[1])]
    except (KeyError, ValueError):
        raise Torn("unknown version token %r" % token[0])
    mem = root.find("memory")
    mem_kib = int(mem.text) * {"KiB": 1, "MiB": 1024, "GiB": 1 << 20}[mem.get("unit", "KiB")]
    got = (root.findtext("name"), root.findtext("uuid"), mem_kib, int(root.findtext("vcpu")),
           cmdline)
    want = (ver.name, ver.uuid, ver.mem_kib, ver.vcpus, ver.cmdline)
    if got != want:
        raise Torn("fields %r differ from the version sent %r" % (got[:4], want[:4]))
    return ver


# -- a daemon that can be killed ------------------------------------------------

class KillableDaemon(hyvetest.Daemon):
    """hyvetest.Daemon plus SIGKILL and timed (re)starts."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.start_times = []

    def start(self, timeout=30):
        t0 = time.monotonic()
        super().start(timeout)
        self.start_times.append(time.monotonic() - t0)
        return self

    def sigkill(self):
        """SIGKILL and reap; the daemon's files stay as they were."""
        if self.proc is None:
            return None
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        status = self.proc.wait()
        self.exit_statuses.append(status)
        self.proc = None
        return status


def finish(daemon):
    """Stops and removes DAEMON; fails on sanitizer/valgrind reports in its
    logs where hyvetest checks for them (its check_reports)."""
    daemon.cleanup()
    check = getattr(daemon, "check_reports", None)
    if check:
        check()


def runner_pid(daemon, name, timeout=10):
    """The pid in the domain's pidfile (state dir) once it names a live
    process, else None."""
    path = os.path.join(state_dir(daemon), name + ".pid")

    def read():
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    return hyvetest.wait_until(read, timeout=timeout)


# -- /proc views -------------------------------------------------------------------

def fd_targets(pid):
    """{fd: readlink target} of PID's open descriptors."""
    out = {}
    base = "/proc/%d/fd" % pid
    for fd in os.listdir(base):
        try:
            out[int(fd)] = os.readlink(os.path.join(base, fd))
        except OSError:
            pass
    return out


def pid_alive(pid):
    """True while PID exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def net_devices():
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return set()


def cgroup2_mount():
    """A cgroup2 mount point visible in this mount namespace, or None. The
    namespace of in_network_namespace has a fresh sysfs on /sys that hides
    the host's cgroup mounts: the host's cgroup2 hierarchy is mounted again
    (tmpfs on /sys/fs/cgroup + cgroup2 on its 'unified', a hybrid layout)
    so the daemon can place runners as it would on the host."""
    def mounts():
        with open("/proc/self/mounts") as f:
            return [line.split()[1:3] for line in f]

    def find():
        for mnt, fstype in mounts():
            if fstype == "cgroup2" and os.path.isfile(os.path.join(mnt, "cgroup.procs")):
                return mnt
        return None

    if os.environ.get("HYVE_IN_NET_NS") == "1" and not find() and os.path.isdir("/sys/fs/cgroup"):
        if ["/sys/fs/cgroup", "cgroup2"] in mounts():          # the host: pure v2
            subprocess.run(["mount", "-t", "cgroup2", "hyve-faults-cg2", "/sys/fs/cgroup"],
                           check=False)
        else:                                                   # the host: hybrid
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "hyve-faults-cg",
                            "/sys/fs/cgroup"], check=False)
            os.makedirs("/sys/fs/cgroup/unified", exist_ok=True)
            subprocess.run(["mount", "-t", "cgroup2", "hyve-faults-cg2",
                            "/sys/fs/cgroup/unified"], check=False)
    return find()


def cgroup_of(pid):
    """PID's cgroup v2 path ('0::' line of /proc/PID/cgroup), or None."""
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


# -- events ---------------------------------------------------------------------

def ensure_event_loop():
    hyvetest.start_event_loop()


class TimedEvents:
    """Lifecycle events of one registration as (monotonic time, name, event, detail)."""

    def __init__(self):
        self.q = queue.Queue()

    def lifecycle(self, conn, dom, event, detail, opaque=None):
        self.q.put((time.monotonic(), dom.name(), event, detail))

    def wait_for(self, pred, timeout):
        """The first event PRED accepts within TIMEOUT s (others are dropped), or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if pred(ev):
                return ev


def median(values):
    s = sorted(values)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


class Killer(threading.Thread):
    """SIGKILLs DAEMON each time the client has started TARGET operations
    (a new random TARGET every LOW..HIGH operations), after a random delay of
    up to MAX_DELAY s so the signal lands in the middle of a call or just
    after it. The client calls started() before each operation and
    restarted() once it brought the daemon back."""

    def __init__(self, daemon, rnd, low=50, high=150, max_delay=0.004):
        super().__init__(daemon=True)
        self.d = daemon
        self.rnd = rnd
        self.low, self.high, self.max_delay = low, high, max_delay
        self.cond = threading.Condition()
        self.ops = 0
        self.target = rnd.randint(low, high)
        self.killed = threading.Event()
        self.stop_flag = False
        self.kills = 0

    def started(self):
        with self.cond:
            self.ops += 1
            self.cond.notify_all()

    def restarted(self):
        with self.cond:
            self.target = self.ops + self.rnd.randint(self.low, self.high)
            self.killed.clear()
            self.cond.notify_all()

    def stop(self):
        with self.cond:
            self.stop_flag = True
            self.cond.notify_all()

    def run(self):
        while True:
            with self.cond:
                while not self.stop_flag and (self.ops < self.target or self.killed.is_set()):
                    self.cond.wait()
                if self.stop_flag:
                    return
            time.sleep(self.rnd.uniform(0, self.max_delay))
            with self.cond:
                if self.stop_flag:
                    return
                self.d.sigkill()
                self.kills += 1
                self.killed.set()
