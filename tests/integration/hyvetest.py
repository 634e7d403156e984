# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared helpers for hyve's integration tests.

Every test program starts its own daemon (the freshly built
virtbhyved, path in $HYVE_DAEMON) with --root pointing at a private
temporary directory, so tests never touch the host's /run, /etc or /var
and can run next to each other. Clients are the real ones: virsh,
/usr/bin/python3 + python3-libvirt, Perl Sys::Virt.

Exit statuses follow meson: 0 pass, 77 skip, anything else fail.
"""
import fcntl
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid as uuidlib

SKIP = 77

SOURCE_ROOT = os.environ.get(
    "HYVE_SOURCE_ROOT",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DAEMON = os.environ.get("HYVE_DAEMON", os.path.join(SOURCE_ROOT, "build", "daemon", "virtbhyved"))
VIRSH = shutil.which("virsh") or "/usr/bin/virsh"
VALIDATE = shutil.which("virt-xml-validate") or "/usr/bin/virt-xml-validate"

# Where the daemon puts its sockets: with --root DIR, DIR/run/libvirt
# (the daemon's run state dir is /run); in system mode without --root,
# /var/run/libvirt, the path the clients compute (/var/run -> /run).
ROOTED_SOCKET_DIR = "run/libvirt"
SYSTEM_SOCKET_DIR = "/var/run/libvirt"
SOCK_NAME = "virtbhyved-sock"

# -- sanitizers and valgrind ---------------------------------------------------
# ASan/UBSan build (tools/run-tests' sanitizer stage): a daemon started here
# writes its sanitizer reports to its stderr (its log file) and so do the
# runners it spawns (their stderr is their domain log), whatever log_path
# the caller's ASAN_OPTIONS names: a sandboxed runner could not open a
# log_path file after leaving the host's filesystem. Those logs are scanned
# when the daemon is cleaned up; a report fails the test class (and the
# program). Processes not started through Daemon keep the caller's
# log_path (tools/run-tests collects those files).
#
# HYVE_VALGRIND=1: every Daemon runs under valgrind memcheck (suppressions:
# valgrind.supp next to this file), with longer start/stop timeouts; a
# memcheck error or definite leak fails the test the same way.
VALGRIND = os.environ.get("HYVE_VALGRIND") == "1"
VALGRIND_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")
VALGRIND_ERROR_EXIT = 99
# start/stop timeouts are multiplied by this (valgrind is ~20-50x slower)
TIMEOUT_SCALE = float(os.environ.get("HYVE_TIMEOUT_SCALE", "8" if VALGRIND else "1"))
_SANITIZER_OPTION_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
# A report's first line (ASan, LSan, UBSan, a sanitizer that could not write
# its log, a valgrind error summary that is not zero).
REPORT_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
    r"|SUMMARY: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
    r"|AddressSanitizer:DEADLYSIGNAL"
    r"|: runtime error: "
    r"|ERROR: Can't open file: "
    r"|ERROR SUMMARY: [1-9][0-9]* errors")
REPORT_CONTEXT = 60     # lines of a report shown in the failure


# valgrind 3.19 (Debian 12) does not emulate pidfd_open(2) (ENOSYS): the
# daemon cannot watch or stop the runners it starts under valgrind.
skip_if_valgrind_runners = unittest.skipIf(
    VALGRIND, "runs domains: valgrind 3.19 lacks pidfd_open, which runner supervision needs")


def daemon_env(base=None):
    """BASE (default os.environ) for a daemon under test: sanitizer reports
    to stderr (no log_path), glib's allocator valgrind-friendly."""
    env = dict(os.environ if base is None else base)
    for var in _SANITIZER_OPTION_VARS:
        if var in env:
            opts = [o for o in re.split(r"[:\s]+", env[var])
                    if o and not o.startswith(("log_path=", "log_exe_name="))]
            env[var] = ":".join(opts)
    if VALGRIND:
        env["G_SLICE"] = "always-malloc"
        env["G_DEBUG"] = "gc-friendly"
    return env


def valgrind_prefix(log_dir):
    """The valgrind memcheck command line a daemon is started under."""
    argv = [shutil.which("valgrind") or "/usr/bin/valgrind", "--tool=memcheck",
            "--error-exitcode=%d" % VALGRIND_ERROR_EXIT, "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--track-fds=no", "--num-callers=30", "--trace-children=no",
            "--child-silent-after-fork=yes",
            "--log-file=" + os.path.join(log_dir, "valgrind.%p.log")]
    if os.path.exists(VALGRIND_SUPP):
        argv.append("--suppressions=" + VALGRIND_SUPP)
    return argv


def find_reports(paths):
    """[(path, excerpt)] for every sanitizer/valgrind report in the files PATHS."""
    found = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - (32 << 20)))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        lines = text.splitlines()
        if os.path.basename(path).startswith("valgrind."):
            # memcheck lists its errors before the summary: show them all
            if any(REPORT_RE.search(l) for l in lines):
                body = [l for l in lines if not re.match(r"==\d+== (Memcheck|Copyright|Using Val"
                                                         r"grind|Command|Parent PID|$)", l)]
                found.append((path, "\n".join(body[:400])))
            continue
        i = 0
        while i < len(lines):
            if REPORT_RE.search(lines[i]):
                start = max(0, i - 2)
                found.append((path, "\n".join(lines[start:i + REPORT_CONTEXT])))
                i += REPORT_CONTEXT     # one excerpt per report
            else:
                i += 1
    return found

# Every daemon started by this process, so main() can dump their logs.
_DAEMONS = []
# Scratch directories to remove when interrupted.
_TMPDIRS = []


def make_tmpdir(prefix="hyve-it-files-"):
    path = tempfile.mkdtemp(prefix=prefix)
    _TMPDIRS.append(path)
    return path


def skip(reason):
    """Skip the whole test program (meson counts exit status 77 as skipped)."""
    print("SKIP: " + reason)
    sys.stdout.flush()
    sys.exit(SKIP)


def require_root(what):
    if os.geteuid() != 0:
        skip("%s needs root" % what)


def require_daemon():
    if not os.access(DAEMON, os.X_OK):
        print("FAIL: daemon binary %s is missing or not executable" % DAEMON)
        sys.exit(1)


def client_env(extra=None):
    """Environment for client programs: C locale, no inherited default URI."""
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env.pop("LIBVIRT_DEFAULT_URI", None)
    env.pop("VIRSH_DEFAULT_CONNECT_URI", None)
    env.pop("LIBVIRT_DEBUG", None)
    if extra:
        env.update(extra)
    return env


def uri_for(sock_path):
    return "bhyve+unix:///system?socket=" + sock_path


# ---- daemon process facts for the resource checks of the tests ----

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def stable_fd_count(pid, timeout=10):
    """The fd count once it did not change for 0.3 s."""
    deadline = time.monotonic() + timeout
    last, since = fd_count(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        n = fd_count(pid)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 0.3:
            break
    return last


def memory_checker(pid):
    """'ASan' or 'valgrind' when process PID runs under one (its RSS then
    says nothing about leaks: ASan's quarantine holds freed memory back,
    valgrind keeps its own heap), else None."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            maps = f.read()
        exe = os.readlink("/proc/%d/exe" % pid)
        with open("/proc/%d/exe" % pid, "rb") as f:
            image = f.read()
    except OSError:
        return None
    if "valgrind" in exe or "vgpreload" in maps:
        return "valgrind"
    if "libasan" in maps or "clang_rt.asan" in maps or b"__asan_init" in image:
        return "ASan"
    return None


def _runner_cgroup(pid):
    """The cgroup v2 directory of a runner under hyve's tree, or None."""
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::/hyve/"):
            rel = line[3:]
            for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                path = root + rel
                if os.path.isdir(path):
                    return path
    return None


class Daemon:
    """One virtbhyved process with its own --root directory."""

    def __init__(self, root=None, args=(), env=None, name="daemon"):
        """ROOT None: a fresh temporary directory. ROOT "/": the real system
        paths (no --root; only inside a private mount namespace!)."""
        self.owns_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="hyve-it-")
        self.system = self.root == "/"
        if self.system:
            self.log_dir = tempfile.mkdtemp(prefix="hyve-it-log-")
        else:
            os.chmod(self.root, 0o755)
            self.log_dir = self.root
        self.args = list(args)
        self.env = env
        self.name = name
        self.proc = None
        self.log_path = os.path.join(self.log_dir, "daemon.log")
        self.sock = None
        self.sock_ro = None
        self.exit_statuses = []
        self.reports = []           # (path, excerpt) found by cleanup()
        self.reports_raised = 0
        _DAEMONS.append(self)

    # -- lifetime ------------------------------------------------------
    def daemon_argv(self):
        """argv[0] of the daemon: the binary, under valgrind when asked."""
        if VALGRIND:
            return valgrind_prefix(self.log_dir) + [DAEMON]
        return [DAEMON]

    def command(self):
        if self.system:
            return self.daemon_argv() + self.args
        args = list(self.args)
        if os.geteuid() != 0 and "--session" not in args:
            # A non-root developer: still a system-layout daemon (both
            # sockets), without polkit, which would need a system bus.
            args.append("--system")
            if "--config" not in args:
                conf = os.path.join(self.root, "nonroot.conf")
                with open(conf, "w") as f:
                    f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
                args += ["--config", conf]
        return self.daemon_argv() + ["--root", self.root] + args

    def start(self, timeout=30):
        require_daemon()
        log = open(self.log_path, "ab")
        log.write(("---- start: %s\n" % " ".join(self.command())).encode())
        log.flush()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     env=daemon_env(self.env), start_new_session=True,
                                     preexec_fn=die_with_parent)
        log.close()
        self.sock, self.sock_ro = self._wait_for_socket(timeout * TIMEOUT_SCALE)
        return self

    def _wait_for_socket(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s before creating its socket; log:\n%s"
                                   % (self.name, self.proc.returncode, self.log()))
            if self.system:
                path = os.path.join(SYSTEM_SOCKET_DIR, SOCK_NAME)
            else:
                path = os.path.join(self.root, ROOTED_SOCKET_DIR, SOCK_NAME)
            if os.path.exists(path) and can_connect(path):
                return path, path + "-ro"
            time.sleep(0.05)
        raise RuntimeError("%s: no socket %s below %s after %ss; log:\n%s"
                           % (self.name, SOCK_NAME, self.root, timeout, self.log()))

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        status = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = self.proc.wait(timeout * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                status = None
        else:
            status = self.proc.returncode
        self.exit_statuses.append(status)
        self.proc = None
        return status

    def restart(self, timeout=30):
        status = self.stop()
        self.start(timeout)
        return status

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def runner_pids(self):
        """Live bhyve-runner processes of this daemon's domains: their command
        line ends with `-c <state dir>/NAME.conf`. A process whose parent is
        one of them is not counted: it shares its parent's command line
        without being a runner (LeakSanitizer's tracer, cloned by an ASan
        runner while it checks for leaks at exit)."""
        state = os.path.join(self.root, "run", "libvirt", "bhyve") + "/"
        pids = []
        ppids = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().split(b"\0")
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                zombie = fields[0] == "Z"
            except OSError:
                continue
            if argv and argv[-1] == b"":
                argv = argv[:-1]
            if (not zombie and len(argv) >= 3 and argv[-2] == b"-c"
                    and argv[-1].startswith(state.encode()) and argv[-1].endswith(b".conf")):
                pids.append(int(entry))
                ppids[int(entry)] = int(fields[1])
        return [p for p in pids if ppids[p] not in ppids]

    def kill_runners(self):
        """Runners outlive their daemon by design; a test's die with it."""
        if self.system:
            return
        cgroups = []
        for pid in self.runner_pids():
            cgroups.append(_runner_cgroup(pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # no daemon is left to remove their per-VM cgroups (hyve_cgroup.h):
        # the VM's directory and the daemon instance's above it, once empty
        for path in filter(None, cgroups):
            for d in (path, os.path.dirname(path)):
                for _ in range(100):
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:         # EBUSY until the runner is gone
                        time.sleep(0.02)

    def cleanup(self):
        self.stop()
        self.kill_runners()
        self._saved_log = self.log()
        self.collect_reports()
        if not os.environ.get("HYVE_KEEP_TMP"):
            if self.owns_root:
                shutil.rmtree(self.root, ignore_errors=True)
            elif self.system:
                shutil.rmtree(self.log_dir, ignore_errors=True)

    def report_files(self):
        """The files a report of this daemon or its runners can be in: the
        daemon's log, valgrind's logs, the runners' domain logs."""
        files = [self.log_path] + glob.glob(os.path.join(self.log_dir, "valgrind.*.log"))
        tops = ["/var/log/libvirt", "/var/cache/libvirt"] if self.system else [self.root]
        for top in tops:
            for dirpath, dirnames, filenames in os.walk(top):
                files += [os.path.join(dirpath, f) for f in filenames
                          if f.endswith(".log") and not f.startswith("valgrind.")]
        return sorted(set(files))

    def collect_reports(self):
        """Adds the sanitizer/valgrind reports now in this daemon's files to
        self.reports (each once); returns the new ones."""
        new = [r for r in find_reports(self.report_files()) if r not in self.reports]
        self.reports += new
        return new

    def check_reports(self):
        """AssertionError naming every report cleanup() found that was not
        raised yet."""
        fresh = self.reports[self.reports_raised:]
        self.reports_raised = len(self.reports)
        if fresh:
            raise AssertionError(
                "%s: %d sanitizer/valgrind report(s):\n%s" % (
                    self.name, len(fresh),
                    "\n".join("--- %s:\n%s" % (p, t) for p, t in fresh)))

    def log(self):
        if getattr(self, "_saved_log", None) is not None and not os.path.exists(self.log_path):
            return self._saved_log
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError as e:
            return "(no log: %s)" % e

    # -- what clients use ------------------------------------------------
    @property
    def uri(self):
        return uri_for(self.sock)

    @property
    def uri_ro(self):
        return uri_for(self.sock_ro)


def die_with_parent():
    """preexec_fn: the daemon gets SIGTERM when the test process dies, even
    when meson kills it on a timeout (no daemons left behind)."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _on_signal(signum, frame):
    # meson's timeout (SIGTERM) or ^C: clean up and leave at once (a
    # SystemExit raised inside a test would only be recorded as an error).
    for d in list(_DAEMONS):
        try:
            d.cleanup()
        except Exception:
            pass
    for t in _TMPDIRS:
        shutil.rmtree(t, ignore_errors=True)
    sys.stdout.write("\ninterrupted by signal %d\n" % signum)
    sys.stdout.flush()
    os._exit(128 + signum)


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


# -- private mount namespace ------------------------------------------------

# The system directories a system-mode daemon (and libvirt's clients) use.
SYSTEM_DIRS = ("/run/libvirt", "/etc/libvirt", "/var/log/libvirt",
               "/var/cache/libvirt", "/var/lib/libvirt")
_NS_ENV = "HYVE_IN_MOUNT_NS"
SYSTEM_DIRS_LOCK = "/run/lock/hyve-system-dirs.lock" if os.path.isdir("/run/lock") \
    else "/tmp/hyve-system-dirs.lock"


def _listing(dirs):
    return {d: sorted(os.listdir(d)) if os.path.isdir(d) else None for d in dirs}


def in_private_namespace(what, tmpfs_dirs=SYSTEM_DIRS, binds=()):
    """Re-run the calling script inside `unshare -m --propagation private`
    with a fresh tmpfs over each of TMPFS_DIRS and the (source, target)
    BINDS bind-mounted, so that a daemon using the real system paths leaves
    the host untouched. Returns inside the namespace; the outer process
    exits with the inner one's status (and fails it if anything leaked into
    the host's directories). Skips (77) when not root or when namespaces
    are not available."""
    if os.environ.get(_NS_ENV) == "1":
        for d in tmpfs_dirs:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "hyve-test", d], check=True)
        for src, dst in binds:
            subprocess.run(["mount", "--bind", src, dst], check=True)
        return
    require_root(what)
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        skip("%s needs mount namespaces: %s" % (what, probe.stderr.strip()))
    # Serialise with every other user of the host's system directories
    # (this test in other build trees, tools/run-demo): one of them may
    # create a missing mount point and remove it again afterwards.
    lock = open(SYSTEM_DIRS_LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    created = []
    for d in list(tmpfs_dirs) + [dst for _, dst in binds]:
        if not os.path.exists(d):
            os.makedirs(d)
            created.append(d)
    before = _listing(tmpfs_dirs)
    env = dict(os.environ)
    env[_NS_ENV] = "1"
    sys.stdout.flush()
    child = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                              sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:],
                             env=env)

    def forward(signum, frame):
        # pass meson's SIGTERM on; clean up below once the inner run ended
        try:
            child.send_signal(signum)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    rc = child.wait()
    after = _listing(tmpfs_dirs)
    for d in reversed(created):
        try:
            os.rmdir(d)
        except OSError:
            pass
    lock.close()
    if after != before:
        print("FAIL: the host's directories changed: before %r after %r" % (before, after))
        rc = rc or 1
    sys.exit(rc)


# -- domains -------------------------------------------------------------

def debian_kernel():
    """(kernel, initrd) of Debian's installed kernel, or plausible paths."""
    try:
        kernels = sorted(f for f in os.listdir("/boot") if f.startswith("vmlinuz-"))
    except OSError:
        kernels = []
    if kernels:
        ver = kernels[-1][len("vmlinuz-"):]
        return "/boot/vmlinuz-" + ver, "/boot/initrd.img-" + ver
    return "/boot/vmlinuz", "/boot/initrd.img"


def domain_xml(name, uuid=None, memory_kib=262144, vcpus=1, cmdline="console=ttyS0",
               kernel=None, initrd=None):
    """A domain booting KERNEL + INITRD (default: Debian's, debian_kernel();
    initrd="" for none), its serial port on a pty console."""
    if kernel is None:
        kernel, default_initrd = debian_kernel()
        initrd = default_initrd if initrd is None else initrd
    uuid = uuid or str(uuidlib.uuid4())
    return """<domain type='bhyve'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory unit='KiB'>%(mem)d</memory>
  <currentMemory unit='KiB'>%(mem)d</currentMemory>
  <vcpu placement='static'>%(vcpus)d</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>%(kernel)s</kernel>%(initrd)s
    <cmdline>%(cmdline)s</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
""" % {"name": name, "uuid": uuid, "mem": memory_kib, "vcpus": vcpus,
       "kernel": kernel, "cmdline": cmdline,
       "initrd": "\n    <initrd>%s</initrd>" % initrd if initrd else ""}


# -- client programs ---------------------------------------------------------

def virsh(uri, *args, input=None, check=True, readonly=False, user=None,
          env=None, timeout=120):
    """Run `virsh -c URI ARGS...`; returns CompletedProcess (text)."""
    cmd = [VIRSH, "-c", uri]
    if readonly:
        cmd.insert(1, "-r")
    cmd += list(args)
    kwargs = {}
    if user is not None:
        kwargs["user"] = user
    p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                       env=env or client_env(), timeout=timeout,
                       start_new_session=True, **kwargs)
    if check and p.returncode != 0:
        raise AssertionError("virsh %s failed (status %d)\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def validate_xml(text, schema):
    """virt-xml-validate - SCHEMA on TEXT; returns (ok, output)."""
    p = subprocess.run([VALIDATE, "-", schema], input=text, capture_output=True,
                       text=True, timeout=120)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


CAPS_SCHEMA = os.environ.get(
    "HYVE_CAPS_SCHEMA", os.path.join(SOURCE_ROOT, "build", "schemas", "capability-bhyve.rng"))


def validate_capabilities(caps):
    """Capabilities XML is valid when (1) it validates against hyve's
    capability-bhyve.rng (libvirt's schema + guest domain type 'bhyve') and
    (2) it validates against libvirt's installed capability schema once the
    one value that schema lacks (<domain type='bhyve'>) reads 'kvm'.
    Returns (ok, output)."""
    p = subprocess.run(["xmllint", "--noout", "--relaxng", CAPS_SCHEMA, "-"], input=caps,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return False, "%s: %s" % (CAPS_SCHEMA, (p.stdout + p.stderr).strip())
    stock = caps.replace("<domain type='bhyve'", "<domain type='kvm'")
    ok, out = validate_xml(stock, "capability")
    if not ok:
        return False, "libvirt's capability.rng (bhyve read as kvm): " + out
    return True, out


def wait_until(pred, timeout=20, step=0.05):
    """Polls @pred until it returns a true value (returned) or @timeout
    seconds pass (then its last value)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def write_file(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# -- test case base ----------------------------------------------------------

class DaemonTestCase(unittest.TestCase):
    """A test class sharing one isolated daemon (started in setUpClass)."""

    daemon_args = ()

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(args=cls.daemon_args, name=cls.__name__).start()
        cls.tmp = make_tmpdir()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.daemon.check_reports()

    def assertDaemonAlive(self):
        self.assertTrue(self.daemon.alive(),
                        "daemon died; log:\n" + self.daemon.log())


def main():
    """unittest.main that dumps every daemon's log when something failed."""
    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        import libvirt
        # errors are checked by the tests; don't also print them to stderr
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
    except ImportError:
        pass
    prog = unittest.main(exit=False, verbosity=2)
    result = prog.result
    ok = result.wasSuccessful()
    # Daemons a test left running stop now (their leak check runs at exit);
    # reports no test class raised fail the program here.
    for d in _DAEMONS:
        if d.proc is not None or getattr(d, "_saved_log", None) is None:
            try:
                d.cleanup()
            except Exception as e:      # the report check below still runs
                print("cleanup of %s failed: %s" % (d.name, e))
        try:
            d.check_reports()
        except AssertionError as e:
            print("FAIL: %s" % e)
            ok = False
    if not ok or os.environ.get("HYVE_TEST_VERBOSE"):
        for d in _DAEMONS:
            sys.stderr.write("\n==== log of %s (%s) ====\n%s\n==== end of log ====\n"
                             % (d.name, d.log_path, d.log()[-20000:]))
    if ok and result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(SKIP)
    sys.exit(0 if ok else 1)


# -- private network namespace (networking tests) ----------------------------

_NETNS_ENV = "HYVE_IN_NET_NS"
# Host names a networking test may create inside its namespace; after the
# run the host must have none of them that it did not have before.
HOST_NAME_PREFIXES = ("virbr", "vnet", "hyve", "hv")


def netns_inode(pid="self"):
    return os.stat("/proc/%s/ns/net" % pid).st_ino


def pids_in_netns(inode):
    """Processes whose network namespace is INODE."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat("/proc/%s/ns/net" % entry).st_ino == inode:
                out.append(int(entry))
        except OSError:
            continue
    return out


def _wait_netns_change(pid, old, timeout=10):
    """The network namespace inode of PID once it differs from OLD (None if
    PID died or kept OLD for TIMEOUT seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ino = netns_inode(pid)
        except OSError:
            return None
        if ino != old:
            return ino
        time.sleep(0.01)
    return None


def _kill_netns_processes(inode, timeout=10):
    """SIGKILL everything left in the namespace INODE (this test created it,
    so whatever is there is this test's: dnsmasq daemons, holders)."""
    pids = pids_in_netns(inode)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    wait_until(lambda: not pids_in_netns(inode), timeout)
    return pids


def host_net_names():
    """(interfaces, nft tables) of the current network namespace that carry
    one of HOST_NAME_PREFIXES: what a leak into the host would look like."""
    ifaces = set()
    try:
        with open("/proc/net/dev") as f:
            for line in f.readlines()[2:]:
                name = line.split(":", 1)[0].strip()
                if name.startswith(HOST_NAME_PREFIXES):
                    ifaces.add(name)
    except OSError:
        pass
    tables = set()
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if os.access(nft, os.X_OK):
        p = subprocess.run([nft, "list", "tables"], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            words = line.split()
            if len(words) == 3 and words[0] == "table" and words[2].startswith(("hyve_", "hyveu_")):
                tables.add(" ".join(words[1:]))
    return ifaces, tables


def in_network_namespace(what):
    """Re-run the calling script inside `unshare -m -n --propagation private`:
    a network namespace of its own (only `lo`, brought up) and a private
    mount namespace with a fresh sysfs on /sys, so /sys/class/net shows the
    namespace's devices. Bridges, dnsmasq, nftables tables and addresses the
    daemon under test makes stay there. Returns inside the namespace; the
    outer process exits with the inner one's status after killing whatever
    is left in that namespace (dnsmasq daemons outlive the daemon by design)
    and fails if a bridge, tap or hyve_ nft table appeared on the host.
    Skips (77) when not root or when namespaces are not available."""
    if os.environ.get(_NETNS_ENV) == "1":
        subprocess.run(["mount", "-t", "sysfs", "hyve-test-sysfs", "/sys"], check=True)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    require_root(what)
    if not shutil.which("ip"):
        skip("%s needs iproute2 (ip)" % what)
    probe = subprocess.run(["unshare", "-m", "-n", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        skip("%s needs network and mount namespaces: %s" % (what, probe.stderr.strip()))
    before = host_net_names()
    env = dict(os.environ)
    env[_NETNS_ENV] = "1"
    sys.stdout.flush()
    own = netns_inode()
    child = subprocess.Popen(["unshare", "-m", "-n", "--propagation", "private",
                              sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:],
                             env=env)
    inode = _wait_netns_change(child.pid, own)

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    rc = child.wait()
    if inode is not None:
        left = _kill_netns_processes(inode)
        if left:
            print("note: killed %d process(es) left in the test's network namespace" % len(left))
    after = host_net_names()
    new = (sorted(after[0] - before[0]), sorted(after[1] - before[1]))
    if new[0] or new[1]:
        print("FAIL: the host's network changed: new interfaces %s, new nft tables %s"
              % new)
        rc = rc or 1
    sys.exit(rc)


class PeerNamespace:
    """A second network namespace (held by an `unshare -n sleep` process)
    joined to a bridge of the caller's namespace by a veth pair: the far end
    of a "cable", e.g. for a DHCP client. Commands run there with nsenter."""

    def __init__(self):
        own = netns_inode()
        self.proc = subprocess.Popen(["unshare", "-n", "sleep", "3600"],
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        if _wait_netns_change(self.proc.pid, own) is None:
            self.close()
            raise RuntimeError("unshare -n did not make a network namespace")
        self.pid = self.proc.pid
        self.links = []
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv, check=True, timeout=120):
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-n"] + list(argv),
                           capture_output=True, text=True, timeout=timeout,
                           env=client_env())
        if check and p.returncode != 0:
            raise AssertionError("(peer namespace) %s failed (%d): %s"
                                 % (" ".join(argv), p.returncode, (p.stderr + p.stdout).strip()))
        return p

    def plug(self, bridge, host_if, peer_if="eth0", mac=None):
        """A veth pair: HOST_IF in the caller's namespace on BRIDGE, PEER_IF
        (with MAC) here, both up."""
        subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if,
                        "netns", str(self.pid)], check=True)
        self.links.append(host_if)
        subprocess.run(["ip", "link", "set", host_if, "master", bridge, "up"], check=True)
        if mac:
            self.run("ip", "link", "set", peer_if, "address", mac)
        self.run("ip", "link", "set", peer_if, "up")

    def dhcp(self, iface, directory, hostname=None, tries=10, wait_s=3):
        """busybox udhcpc on IFACE (one lease, then exits); its `bound`
        environment (ip, mask, router, dns, lease, ...) as a dict, or None
        when no lease came. The address is put on IFACE."""
        script = os.path.join(directory, "udhcpc-%d.sh" % self.pid)
        out = os.path.join(directory, "udhcpc-%d.env" % self.pid)
        with open(script, "w") as f:
            f.write('#!/bin/sh\n'
                    'case "$1" in\n'
                    'bound|renew)\n'
                    '    ip addr add "$ip/${mask:-24}" dev "$interface"\n'
                    '    env > "%s.tmp" && mv "%s.tmp" "%s" ;;\n'
                    'esac\n'
                    'exit 0\n' % (out, out, out))
        os.chmod(script, 0o755)
        busybox = shutil.which("busybox") or "/bin/busybox"
        argv = [busybox, "udhcpc", "-i", iface, "-n", "-q", "-t", str(tries),
                "-T", str(wait_s), "-s", script]
        if hostname:
            argv += ["-x", "hostname:" + hostname]
        p = self.run(*argv, check=False, timeout=tries * wait_s + 60)
        if p.returncode != 0 or not os.path.exists(out):
            self.last_dhcp_output = p.stdout + p.stderr
            return None
        env = {}
        with open(out) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = v
        return env

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for host_if in self.links:      # gone with the peer end, normally
            subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        self.links = []


_EVENT_LOOP = []


def start_event_loop():
    """python3-libvirt's default event loop on a daemon thread (once per
    process); call before opening connections that register events."""
    if _EVENT_LOOP:
        return
    import threading
    import libvirt
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    _EVENT_LOOP.append(t)
