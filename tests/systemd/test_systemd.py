#!/usr/bin/python3
"""Real systemd (PID 1 of a systemd-nspawn container) with the freshly built
hyve installed the way a package would be.

The container's root is an overlay of the host's / whose upper layer got
`meson install --destdir` of the build (units, tmpfiles.d, sysusers.d, the
daemon and runner in the installed paths); the host's / is never written.
Inside it, each check fails on its own (one "ok"/"not ok" line each):

  tmpfiles     systemd-tmpfiles made the daemon's directories with their modes
               at boot, before any daemon ran
  sockets      virtbhyved.socket + -ro enabled and listening, the service not
               running; virsh activates it (Type=notify reached active, on the
               sockets systemd made); the -ro socket is read-only daemon-side
               and activates the service on its own
  machined     a running domain is machine bhyve-<id>-<name> (class vm,
               service virtbhyved, leader = the runner, in its scope with the
               cgroup limits); a daemon restart keeps it registered once;
               destroy -> gone
  guests       bhyve-guests.service: `systemctl stop` presses the power
               buttons, waits SHUTDOWN_TIMEOUT and destroys what is left
  no-machined  machined masked: domains start anyway, in hyve's own cgroups,
               one warning line in the journal
  no-dbus      the same without any system bus

Needs root, systemd-nspawn (systemd-container) and overlayfs; the domain
checks need /dev/kvm (the guest kernel need not boot). Exit 77 when it
cannot run.

Clean-up whatever happens: the script runs as PID 1 of its own pid + mount
namespaces (killed with its `unshare` parent), so meson's SIGKILL after a
timeout takes the container and the overlay mount with it; it stops itself
(DEADLINE_S) before meson's timeout so that close() runs; a later run
removes the /tmp/hyve-systemd-<pid>-* directory of a run that was killed.
"""

import ctypes
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.environ.get("HYVE_SOURCE_ROOT",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "integration"))
import hyvetest  # noqa: E402

BUILD = os.environ.get("HYVE_BUILD_ROOT", "")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
URI = "bhyve:///system"
RO_SOCK = "/run/libvirt/virtbhyved-sock-ro"
# host units that only slow the container's boot down (or reach the network)
MASK = ["postgresql.service", "lvm2-monitor.service", "lvm2-lvmpolld.socket",
        "dm-event.socket", "blk-availability.service", "systemd-timesyncd.service",
        "getty@tty1.service", "console-getty.service", "e2scrub_reap.service",
        "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
        "e2scrub_all.timer", "fstrim.timer", "man-db.timer", "libvirtd.service",
        "libvirtd.socket", "virtlogd.socket", "virtlockd.socket", "dnsmasq.service"]
# (path, mode) made by tmpfiles.d/virtbhyved.conf; removed from the overlay
# first so that only systemd-tmpfiles can have made them
TMPFILES = [("/run/libvirt", "755"), ("/run/libvirt/bhyve", "700"),
            ("/etc/libvirt/bhyve", "700"), ("/var/log/libvirt/bhyve", "700"),
            ("/var/cache/libvirt/bhyve", "700"), ("/var/lib/libvirt/bhyve", "755"),
            ("/var/lib/libvirt/bhyve/images", "711")]


# the whole script ends before meson's timeout (300 s) so that close() runs:
# meson sends SIGKILL 0.5 s after its SIGTERM
DEADLINE_S = 230
TMP_PREFIX = "hyve-systemd-"
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)


class Deadline(BaseException):
    pass


def die_with_parent():
    """preexec_fn of nspawn: SIGKILL when this script dies (even by SIGKILL);
    nspawn takes its container (PID 1 and everything inside) with it."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def enter_namespaces():
    """Runs this script again as PID 1 of its own pid and (private) mount
    namespaces, its `unshare` parent taking it along when killed: however
    the test ends (meson's SIGKILL included), the kernel kills everything
    it started (nspawn, the container's systemd, the runners inside) and
    the overlay mount goes with the namespace. Only the directory is left;
    sweep_stale() of a later run removes it."""
    os.environ["HYVE_SYSTEMD_OWNER"] = str(os.getpid())    # unshare keeps this pid
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "--pid", "--kill-child", "--mount-proc",
                          "--propagation", "private", sys.executable,
                          os.path.abspath(__file__)])


def sweep_stale():
    """Removes what an earlier run killed before its close() left behind:
    /tmp/hyve-systemd-<pid>-* whose test process is gone (and its overlay,
    should it be mounted in this namespace)."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), TMP_PREFIX + "*")):
        m = re.match(r"(\d+)-", os.path.basename(d)[len(TMP_PREFIX):])
        if not m:
            continue
        try:
            with open("/proc/%s/cmdline" % m.group(1), "rb") as f:
                if b"test_systemd.py" in f.read():
                    continue            # its owner still runs
        except OSError:
            pass
        root = os.path.join(d, "root")
        if subprocess.run(["findmnt", "-n", root], capture_output=True).returncode == 0:
            subprocess.run(["umount", "-l", root])
        print("# removing stale %s" % d)
        shutil.rmtree(d, ignore_errors=True)


class Container:
    def __init__(self):
        owner = int(os.environ.get("HYVE_SYSTEMD_OWNER", os.getpid()))
        self.tmp = tempfile.mkdtemp(prefix="%s%d-" % (TMP_PREFIX, owner))
        self.upper = os.path.join(self.tmp, "upper")
        self.work = os.path.join(self.tmp, "work")
        self.root = os.path.join(self.tmp, "root")
        for d in (self.upper, self.work, self.root):
            os.mkdir(d)
        self.mounted = False
        self.nspawn = None
        self.leader = None
        self.log_path = os.path.join(self.tmp, "nspawn.log")

    # -- set-up --------------------------------------------------------------

    def prepare(self):
        meson = shutil.which("meson")
        subprocess.run([meson, "install", "-C", BUILD, "--destdir", self.upper, "--no-rebuild",
                        "--quiet"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=/,upperdir=%s,workdir=%s" % (self.upper, self.work),
                        self.root], check=True, timeout=30)
        self.mounted = True
        etc = os.path.join(self.root, "etc", "systemd", "system")
        for unit in MASK:
            path = os.path.join(etc, unit)
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink("/dev/null", path)
        for path, _ in TMPFILES:
            shutil.rmtree(self.root + path, ignore_errors=True)
        # boot only what the checks need (basic.target: sockets, tmpfiles,
        # journald; D-Bus and logind), not the host's multi-user.target
        with open(os.path.join(etc, "hyve-test.target"), "w") as f:
            f.write("[Unit]\nDescription=hyve systemd test\nRequires=basic.target\n"
                    "Wants=dbus.socket systemd-logind.service\n"
                    "After=basic.target systemd-logind.service\nAllowIsolate=yes\n")
        default = os.path.join(etc, "default.target")
        if os.path.lexists(default):
            os.unlink(default)
        os.symlink("hyve-test.target", default)
        # An ASan build's daemon: no LeakSanitizer pass at exit. Its
        # stop-the-world intermittently never finishes inside the container
        # (the daemon's threads stay ptrace-stopped, `systemctl restart`
        # waits for the stop timeout); the sanitizer stage's integration
        # tests check the daemon for leaks. Ignored by a normal build.
        dropin = os.path.join(etc, "virtbhyved.service.d")
        os.makedirs(dropin, exist_ok=True)
        with open(os.path.join(dropin, "50-test-sanitizer.conf"), "w") as f:
            # the sanitizer options this test got, plus detect_leaks=0
            opts = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":") if o]
            f.write('[Service]\nEnvironment="ASAN_OPTIONS=%s"\n' % ":".join(
                [o for o in opts if not o.startswith("detect_leaks=")] + ["detect_leaks=0"]))
        subprocess.run(["systemctl", "--root=" + self.root, "enable", "virtbhyved.socket",
                        "virtbhyved-ro.socket"], check=True, capture_output=True, timeout=30)

    def boot(self, timeout=120):
        argv = ["systemd-nspawn", "-D", self.root, "--register=no", "-b",
                "--console=pipe", "--private-network", "-M", "hyvetest%s" % os.environ.get("HYVE_SYSTEMD_OWNER", os.getpid())]
        if not os.path.isdir("/run/systemd/system"):
            # no systemd on the host: no scope of its own to allocate
            argv.insert(3, "--keep-unit")
        for dev in ("/dev/kvm", "/dev/net/tun"):
            if os.path.exists(dev):
                argv.append("--bind=" + dev)
        log = open(self.log_path, "w")
        self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        log.close()
        hyvetest.wait_until(lambda: self._find_leader() or self.nspawn.poll() is not None,
                            timeout=60, step=0.2)
        if not self.leader:
            raise RuntimeError("the container's systemd did not start:\n" + self.boot_log())
        deadline = time.monotonic() + timeout
        while True:
            # fails while PID 1 has no private bus socket yet
            state = self.run("systemctl", "is-system-running", "--wait", timeout=timeout)
            if state.stdout.strip() in ("running", "degraded", "stopping") or \
                    time.monotonic() > deadline or self.nspawn.poll() is not None:
                break
            time.sleep(0.2)
        if state.stdout.strip() not in ("running", "degraded"):
            raise RuntimeError("systemd did not finish booting (%s%s)" % (state.stdout,
                                                                          state.stderr))
        if state.stdout.strip() == "degraded":
            print("# degraded boot, failed units:\n# " +
                  self.run("systemctl", "--failed", "--no-legend").stdout.replace("\n", "\n# "))

    def _find_leader(self):
        """The host pid of the container's PID 1 (a descendant of nspawn)."""
        todo = [self.nspawn.pid]
        while todo:
            pid = todo.pop()
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            for kid in kids:
                try:
                    with open("/proc/%d/status" % kid) as f:
                        nspid = [ln.split()[1:] for ln in f if ln.startswith("NSpid:")][0]
                except (OSError, IndexError):
                    continue
                if len(nspid) > 1 and nspid[-1] == "1":
                    self.leader = kid
                    return True
                todo.append(kid)
        return False

    def boot_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # -- inside --------------------------------------------------------------

    def run(self, *argv, input=None, timeout=60, check=False):
        cmd = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "-C", "-r",
               "-w", "env", "-i", "PATH=" + PATH, "LC_ALL=C"] + list(argv)
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError("%s: rc %d: %s%s" % (" ".join(argv), res.returncode,
                                                      res.stdout, res.stderr))
        return res

    def sh(self, script, **kw):
        return self.run("sh", "-c", script, **kw)

    def virsh(self, *args, **kw):
        return self.run("virsh", "-c", URI, *args, **kw)

    def prop(self, unit, name):
        return self.run("systemctl", "show", "-P", name, unit).stdout.strip()

    def journal_cursor(self):
        out = self.run("journalctl", "--show-cursor", "-n", "0", "-q").stdout
        m = re.search(r"-- cursor: (\S+)", out)
        return m.group(1) if m else None

    def journal(self, unit, cursor=None):
        args = ["journalctl", "--no-pager", "-o", "cat", "-u", unit]
        if cursor:
            args += ["--after-cursor", cursor]
        return self.run(*args).stdout

    # -- tear-down -----------------------------------------------------------

    def close(self, hurry=False):
        if self.nspawn and self.nspawn.poll() is None:
            if self.leader and not hurry:
                # no runner may slow the container's shutdown down
                try:
                    for uuid in self.virsh("list", "--uuid", timeout=20).stdout.split():
                        self.virsh("destroy", uuid, timeout=20)
                except (subprocess.TimeoutExpired, OSError):
                    pass
            self.nspawn.send_signal(signal.SIGTERM)      # the container powers off
            try:
                self.nspawn.wait(timeout=5 if hurry else 30)
            except subprocess.TimeoutExpired:
                if self.leader:
                    try:
                        os.kill(self.leader, signal.SIGKILL)   # its whole pid namespace
                    except ProcessLookupError:
                        pass
                self.nspawn.kill()
                self.nspawn.wait(timeout=30)
        if self.mounted:
            if subprocess.run(["umount", self.root]).returncode != 0:
                subprocess.run(["umount", "-l", self.root])
            self.mounted = False
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- helpers -----------------------------------------------------------------

def define_start(c, name):
    """Defines @name (unless it is) and starts it; the runner's pid."""
    if c.virsh("domuuid", name).returncode != 0:
        xml = hyvetest.domain_xml(name, memory_kib=131072)
        c.virsh("define", "/dev/stdin", input=xml, check=True)
    c.virsh("start", name, check=True, timeout=120)
    pid = int(c.run("cat", "/run/libvirt/bhyve/%s.pid" % name, check=True).stdout)
    return pid


def reset_domains(c):
    for name in c.virsh("list", "--all", "--name").stdout.split():
        c.virsh("destroy", name)
        c.virsh("undefine", name)


def cgroup_of(c, pid):
    out = c.run("cat", "/proc/%d/cgroup" % pid, check=True).stdout
    return [ln[3:] for ln in out.splitlines() if ln.startswith("0::")][0]


def machines(c):
    res = c.run("machinectl", "list", "--no-legend", "--no-pager")
    return [ln.split() for ln in res.stdout.splitlines() if ln.strip()]


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, expected %r" % (what, got, want))


# -- the checks ----------------------------------------------------------------

def check_tmpfiles(c):
    expect_eq(c.run("systemctl", "is-active", "hyve-test.target", "multi-user.target")
              .stdout.split(), ["active", "inactive"], "booted hyve-test.target only")
    expect_eq(c.run("systemctl", "is-active", "virtbhyved.service").stdout.strip(), "inactive",
              "the daemon must not have run before this check")
    for path, mode in TMPFILES:
        res = c.run("stat", "-c", "%a %U %F", path)
        expect_eq(res.stdout.strip(), "%s root directory" % mode, "tmpfiles: " + path)


def check_sockets(c):
    for unit in ("virtbhyved.socket", "virtbhyved-ro.socket"):
        expect_eq(c.run("systemctl", "is-enabled", unit).stdout.strip(), "enabled", unit)
        expect_eq(c.run("systemctl", "is-active", unit).stdout.strip(), "active", unit)
    expect_eq(c.run("systemctl", "is-active", "virtbhyved.service").stdout.strip(), "inactive",
              "service before the first client")
    socks = ("/run/libvirt/virtbhyved-sock", RO_SOCK)
    before = c.run("stat", "-c", "%i %a", *socks, check=True).stdout
    expect_eq([ln.split()[1] for ln in before.splitlines()], ["666", "666"], "socket modes")

    c.virsh("list", "--all", check=True)
    expect_eq(c.run("systemctl", "is-active", "virtbhyved.service").stdout.strip(), "active",
              "service after `virsh list`")
    expect_eq(c.prop("virtbhyved.service", "Type"), "notify", "Type")
    expect_eq(c.prop("virtbhyved.service", "StatusText").split()[0], "serving",
              "STATUS= sent with READY=1")
    main = int(c.prop("virtbhyved.service", "MainPID"))
    comm = c.run("cat", "/proc/%d/comm" % main).stdout.strip()
    expect_eq(comm, "virtbhyved", "MainPID")
    # the daemon serves on the sockets systemd made (same inodes, not re-bound)
    expect_eq(c.run("stat", "-c", "%i %a", *socks).stdout, before, "socket files after start")
    c.virsh("list", "--all", check=True)

    # -ro: read-only daemon-side, whatever the client asks
    ro_uri = "bhyve+unix:///system?socket=" + RO_SOCK
    c.run("virsh", "-r", "-c", URI, "list", check=True)
    res = c.run("virsh", "-c", ro_uri, "define", "/dev/stdin",
                input=hyvetest.domain_xml("rotest"))
    expect(res.returncode != 0 and "read only" in res.stderr,
           "define over the -ro socket must be refused: %s" % res.stderr)
    # the -ro socket alone activates the service too
    c.run("systemctl", "stop", "virtbhyved.service", check=True)
    expect_eq(c.run("systemctl", "is-active", "virtbhyved.service").stdout.strip(), "inactive",
              "service after stop")
    expect_eq(c.run("systemctl", "is-active", "virtbhyved-ro.socket").stdout.strip(), "active",
              "-ro socket after the service stopped")
    c.run("virsh", "-c", ro_uri, "list", check=True)
    expect_eq(c.run("systemctl", "is-active", "virtbhyved.service").stdout.strip(), "active",
              "service activated through the -ro socket")


def check_machined(c):
    cursor = c.journal_cursor()
    # machined takes host names only: '_' becomes '-'
    pid = define_start(c, "mach_1")
    dom_id = c.virsh("domid", "mach_1", check=True).stdout.strip()
    name = "bhyve-%s-mach-1" % dom_id
    rows = [m for m in machines(c) if m[0] == name]
    expect_eq([r[:3] for r in rows], [[name, "vm", "virtbhyved"]], "machinectl list")
    show = c.run("machinectl", "show", name, "-p", "Leader", "-p", "Class", "-p", "Service",
                 "-p", "Unit", check=True).stdout
    props = dict(ln.split("=", 1) for ln in show.splitlines() if "=" in ln)
    expect_eq(props.get("Leader"), str(pid), "machine leader = the runner")
    unit = props.get("Unit", "")
    expect_eq(cgroup_of(c, pid), "/machine.slice/" + unit, "the runner's cgroup")
    expect_eq(c.prop(unit, "Delegate"), "yes", "Delegate of " + unit)
    # hyve_cgroup.h's limits: 1 vCPU, no disk, 1 serial; 128 MiB guest
    expect_eq(c.prop(unit, "TasksMax"), str(2 + 1 + 1 + 32), "TasksMax")
    guest = 131072 * 1024
    expect_eq(c.prop(unit, "MemoryMax"), str(guest + (256 << 20) + guest // 64), "MemoryMax")
    expect("bhyve-guests.service" in c.prop(unit, "Before").split(),
           "the scope stops after bhyve-guests.service")

    log = c.journal("virtbhyved.service", cursor)
    expect("machined" not in log, "registration complained:\n" + log)
    c.run("machinectl", "status", name, check=True)

    c.run("systemctl", "restart", "virtbhyved.service", check=True)
    expect_eq(c.virsh("domstate", "mach_1").stdout.strip(), "running", "after daemon restart")
    rows = [m for m in machines(c) if m[0].endswith("-mach-1")]
    expect_eq([r[0] for r in rows], [name], "registered once after a daemon restart")
    show = c.run("machinectl", "show", name, "-p", "Leader", check=True).stdout.strip()
    expect_eq(show, "Leader=%d" % pid, "same leader after restart")

    c.virsh("destroy", "mach_1", check=True)
    expect(hyvetest.wait_until(lambda: not [m for m in machines(c) if m[0] == name],
                               timeout=15),
           "machine %s still registered after destroy: %s" % (name, machines(c)))
    # the restarted daemon knew the machine of the runner it reattached
    log = c.run("cat", "/var/log/libvirt/bhyve/mach_1.log").stdout
    expect("terminating machine %s" % name in log,
           "no TerminateMachine after a reattach:\n" + log[-1500:])
    pid2 = define_start(c, "mach_1")
    name2 = "bhyve-%s-mach-1" % c.virsh("domid", "mach_1").stdout.strip()
    expect([m for m in machines(c) if m[0] == name2], "registered again after a new start")
    expect_eq(cgroup_of(c, pid2).split("/")[1], "machine.slice", "second run's cgroup")
    reset_domains(c)


def check_guests(c):
    c.sh("cat > /etc/default/bhyve-guests", input="URI=%s\nSHUTDOWN_TIMEOUT=4\n" % URI,
         check=True)
    for name in ("gst-a", "gst-b"):
        define_start(c, name)
    c.run("systemctl", "start", "bhyve-guests.service", check=True)
    expect_eq(c.run("systemctl", "is-active", "bhyve-guests.service").stdout.strip(), "active",
              "bhyve-guests after start")
    cursor = c.journal_cursor()
    t0 = time.monotonic()
    c.run("systemctl", "stop", "bhyve-guests.service", check=True, timeout=120)
    took = time.monotonic() - t0
    expect_eq(c.virsh("list", "--name").stdout.split(), [], "running domains after stop")
    log = c.journal("bhyve-guests.service", cursor)
    for name in ("gst-a", "gst-b"):
        expect(("shutting down domain %s" % name) in log or
               ("domain %s did not accept the power button" % name) in log,
               "power button of %s not tried:\n%s" % (name, log))
        # the guests do not boot here: nothing answers the power button
        expect("domain %s did not shut down in 4 s: destroyed" % name in log,
               "%s not destroyed after the grace period:\n%s" % (name, log))
        expect_eq(c.virsh("domstate", "--reason", name).stdout.strip(),
                  "shut off (destroyed)", "state of " + name)
    expect(log.index("domain gst-b") < log.index("domain gst-a"),
           "reverse name order:\n" + log)
    expect(4 <= took < 60, "stop took %.1f s (grace period 4 s)" % took)
    expect(not [m for m in machines(c) if "gst-" in m[0]], "machines left: %s" % machines(c))
    reset_domains(c)


def _start_without_machined(c, what):
    c.run("systemctl", "restart", "virtbhyved.service", check=True)
    cursor = c.journal_cursor()
    pid = define_start(c, "nomach")
    expect_eq(c.virsh("domstate", "nomach").stdout.strip(), "running", what)
    expect(cgroup_of(c, pid).startswith("/hyve/"),
           "runner in hyve's own cgroup (%s): %s" % (what, cgroup_of(c, pid)))
    c.virsh("destroy", "nomach", check=True)
    define_start(c, "nomach")
    log = c.journal("virtbhyved.service", cursor)
    lines = [ln for ln in log.splitlines() if "systemd-machined unavailable" in ln]
    expect_eq(len(lines), 1, "warnings about machined (%s) in:\n%s" % (what, log))
    errors = [ln for ln in log.splitlines() if "rror" in ln]
    expect_eq(errors, [], "errors in the daemon's log (%s)" % what)
    reset_domains(c)


def check_no_machined(c):
    c.run("systemctl", "mask", "--now", "systemd-machined.service", check=True)
    try:
        _start_without_machined(c, "machined masked")
    finally:
        c.run("systemctl", "unmask", "systemd-machined.service")


def check_no_dbus(c):
    # masked: logind or machined restarting would pull dbus.socket back in
    c.run("systemctl", "mask", "--runtime", "--now", "dbus.socket", "dbus.service", check=True)
    try:
        c.run("rm", "-f", "/run/dbus/system_bus_socket", check=True)
        _start_without_machined(c, "no system bus")
        expect(c.run("test", "-e", "/run/dbus/system_bus_socket").returncode != 0,
               "the system bus came back during the check")
    finally:
        c.run("systemctl", "unmask", "--runtime", "dbus.socket", "dbus.service")
        c.run("systemctl", "start", "dbus.socket")


CHECKS = [("tmpfiles", check_tmpfiles, False), ("sockets", check_sockets, False),
          ("machined", check_machined, True), ("guests", check_guests, True),
          ("no-machined", check_no_machined, True), ("no-dbus", check_no_dbus, True)]


def main():
    if os.geteuid() != 0:
        hyvetest.skip("needs root (overlay mount, systemd-nspawn)")
    for tool in ("systemd-nspawn", "nsenter", "unshare", "machinectl", "meson", "virsh"):
        if not shutil.which(tool):
            hyvetest.skip("%s not installed (systemd-container, util-linux, meson, "
                          "libvirt-clients)" % tool)
    if not os.path.exists("/lib/systemd/systemd"):
        hyvetest.skip("systemd is not installed")
    if not BUILD:
        hyvetest.skip("HYVE_BUILD_ROOT is not set (run through meson test)")
    have_kvm = os.path.exists("/dev/kvm")
    if os.getpid() != 1:
        sweep_stale()           # sees the other runs' processes from here only
        enter_namespaces()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)

    def on_alarm(signum, frame):
        raise Deadline("the test's own deadline (%d s) passed" % DEADLINE_S)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE_S)

    c = Container()
    failed = []
    hurry = False
    try:
        c.prepare()
        c.boot()
        for i, (name, fn, needs_kvm) in enumerate(CHECKS, 1):
            if needs_kvm and not have_kvm:
                print("ok %d - %s # SKIP no /dev/kvm" % (i, name))
                continue
            t0 = time.monotonic()
            try:
                fn(c)
                print("ok %d - %s (%.1f s)" % (i, name, time.monotonic() - t0), flush=True)
            except Exception as e:  # each check fails on its own
                failed.append(name)
                print("not ok %d - %s: %s" % (i, name, e), flush=True)
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
                print("# virtbhyved journal:\n# " +
                      c.journal("virtbhyved.service")[-1500:].replace("\n", "\n# "))
                try:
                    reset_domains(c)
                except Exception:
                    pass
    except subprocess.CalledProcessError as e:
        print("container set-up failed: %s\n%s" % (e, e.stderr or ""))
        failed.append("set-up")
    except RuntimeError as e:
        print("container set-up failed: %s\n%s" % (e, c.boot_log()))
        failed.append("set-up")
    except (Deadline, SystemExit) as e:
        print("not ok - stopped: %s" % e, flush=True)
        failed.append("deadline" if isinstance(e, Deadline) else "signal")
        hurry = True
    finally:
        signal.alarm(0)
        c.close(hurry)
    print("1..%d" % len(CHECKS))
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
