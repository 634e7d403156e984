#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Session mode as an unprivileged user (nobody, with a private HOME and
XDG dirs): the real libvirt client autospawns virtbhyved for
`bhyve:///session?mode=direct` and for `bhyve:///session` with
remote_mode = "direct" in ~/.config/libvirt/libvirt.conf, finding the
binary through $VIRTD_PATH, with --timeout=120; the spawned daemon runs as
that user with its socket in $XDG_RUNTIME_DIR/libvirt; it exits when idle
(idle_timeout in ~/.config/libvirt/virtbhyved.conf shortens libvirt's 120 s
for the test) and not while a client is connected or a domain runs.
Needs root (to run clients as another user)."""
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import time

import hyvetest
from hyvetest import wait_until

USER = "nobody"
DAEMON = os.path.realpath(hyvetest.DAEMON)
# idle_timeout the tests configure (seconds): the daemon stays at least
# this long after its last client left, long enough for spawned() to find
# it in /proc after the client that spawned it exited, even on a loaded CI
IDLE = 4


def kvm_group():
    try:
        g = grp.getgrnam("kvm")
    except KeyError:
        return None
    st = os.stat("/dev/kvm") if os.path.exists("/dev/kvm") else None
    if st is None or st.st_gid != g.gr_gid or not st.st_mode & 0o060 == 0o060:
        return None
    return g.gr_name


class Session:
    """HOME and XDG_RUNTIME_DIR of USER in a temp dir. XDG_CONFIG_HOME is
    not set: libvirt.conf and virtbhyved.conf are read from ~/.config/libvirt
    by the client and by the daemon it spawns."""

    def __init__(self):
        self.pw = pwd.getpwnam(USER)
        self.procs = []             # clients started as the user (Popen)
        self.top = hyvetest.make_tmpdir("hyve-it-session-")
        os.chmod(self.top, 0o755)
        self.home = os.path.join(self.top, "home")
        self.runtime = os.path.join(self.top, "run")
        for d, mode in ((self.home, 0o755), (self.runtime, 0o700)):
            os.mkdir(d, mode)
            os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        self.confdir = os.path.join(self.home, ".config", "libvirt")
        self.sock = os.path.join(self.runtime, "libvirt", "virtbhyved-sock")

    def env(self):
        env = {"HOME": self.home, "LC_ALL": "C", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
               "VIRTD_PATH": os.path.dirname(DAEMON)}
        if self.runtime:
            env["XDG_RUNTIME_DIR"] = self.runtime
        return env

    def no_runtime_dir(self):
        """No XDG_RUNTIME_DIR: libvirt's client and the daemon both fall back
        to ~/.cache (the socket is ~/.cache/libvirt/virtbhyved-sock)."""
        self.runtime = None
        self.sock = os.path.join(self.home, ".cache", "libvirt", "virtbhyved-sock")

    def write_conf(self, name, text):
        d = self.home
        for part in (".config", "libvirt"):
            d = os.path.join(d, part)
            if not os.path.isdir(d):
                os.mkdir(d, 0o755)
                os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, self.pw.pw_uid, self.pw.pw_gid)
        return path

    def popen(self, argv, groups=(), **kw):
        """ARGV as the user, not waited for (by default stdin, stdout and
        stderr are /dev/null). It stays in the test's process group (meson's
        kill on a timeout reaches it) and killed by kill_clients()."""
        for f in ("stdin", "stdout", "stderr"):
            kw.setdefault(f, subprocess.DEVNULL)
        p = subprocess.Popen(argv, env=self.env(), user=self.pw.pw_uid, group=self.pw.pw_gid,
                             extra_groups=list(groups), cwd=self.home, **kw)
        self.procs.append(p)
        return p

    def run(self, argv, check=True, groups=(), input=None):
        p = self.popen(argv, groups=groups, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(input, timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            self.procs.remove(p)
        res = subprocess.CompletedProcess(argv, p.returncode, out, err)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s" % (" ".join(argv), p.returncode,
                                                           out, err))
        return res

    def virsh(self, uri, *args, **kw):
        return self.run([hyvetest.VIRSH, "-c", uri] + list(args), **kw)

    def daemons(self):
        """[(pid, argv, uid)] of virtbhyved processes of this session (its HOME)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.path.realpath("/proc/%s/exe" % entry) != DAEMON:
                    continue
                with open("/proc/%s/environ" % entry, "rb") as f:
                    env = f.read().split(b"\0")
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = [a.decode() for a in f.read().split(b"\0") if a]
                with open("/proc/%s/status" % entry) as f:
                    uid = int([l for l in f if l.startswith("Uid:")][0].split()[1])
            except OSError:
                continue
            if ("HOME=" + self.home).encode() in env:
                found.append((int(entry), argv, uid))
        return found

    def runners(self):
        state = os.path.join(self.runtime or os.path.join(self.home, ".cache"),
                             "libvirt", "bhyve") + "/"
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = [a.decode() for a in f.read().split(b"\0") if a]
            except OSError:
                continue
            if len(argv) >= 2 and argv[-2] == "-c" and argv[-1].startswith(state):
                pids.append(int(entry))
        return pids

    def kill_clients(self):
        for p in list(self.procs):
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass

    def cleanup(self, timeout=10):
        """Kills the clients, then the daemons and runners of this session
        until none is left or TIMEOUT seconds passed; removes the files.
        Returns what survived: [(pid, what)]."""
        self.kill_clients()
        deadline = time.monotonic() + timeout
        while True:
            left = [(p, "daemon") for p, _, _ in self.daemons()] + \
                [(p, "runner") for p in self.runners()]
            if not left or time.monotonic() >= deadline:
                break
            for pid, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
        for p in list(self.procs):
            try:
                p.wait(max(0.01, deadline - time.monotonic()))
                self.procs.remove(p)
            except subprocess.TimeoutExpired:
                left.append((p.pid, "client"))
        shutil.rmtree(self.top, ignore_errors=True)
        return left


_LIVE = []


def _on_signal(signum, frame, previous={}):
    """meson's timeout or ^C: the spawned daemons and runners go too (they
    are not Daemon objects hyvetest knows), then hyvetest's handler. Fast:
    meson sends SIGKILL half a second later. The clients first (a virsh
    would spawn a daemon again)."""
    for s in list(_LIVE):
        s.kill_clients()
    for s in list(_LIVE):
        s.cleanup(timeout=0.3)
    prev = previous.get(signum)
    if callable(prev):
        prev(signum, frame)
    os._exit(128 + signum)


class SessionTest(hyvetest.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for sig in (signal.SIGTERM, signal.SIGINT):
            _on_signal.__defaults__[0][sig] = signal.getsignal(sig)
            signal.signal(sig, _on_signal)

    def setUp(self):
        self.s = Session()
        _LIVE.append(self.s)

    def tearDown(self):
        left = self.s.cleanup()
        _LIVE.remove(self.s)
        self.assertEqual(left, [], "processes of the session survived SIGKILL for 10 s")

    def spawned(self):
        """The one autospawned daemon: (pid, argv, uid)."""
        got = wait_until(self.s.daemons, timeout=10)
        self.assertEqual(len(got), 1, "autospawned daemons: %r" % (got,))
        return got[0]

    def assertExits(self, pid, within, msg):
        gone = wait_until(lambda: pid not in [p for p, _, _ in self.s.daemons()],
                          timeout=within, step=0.2)
        self.assertTrue(gone, msg)

    def test_autospawn_mode_direct(self):
        p = self.s.virsh("bhyve:///session?mode=direct", "list", "--all")
        self.assertIn("Id   Name   State", p.stdout)
        pid, argv, uid = self.spawned()
        self.assertEqual(argv, [DAEMON, "--timeout=120"])
        self.assertEqual(uid, self.s.pw.pw_uid, "the daemon runs as the user")
        st = os.stat(self.s.sock)
        self.assertEqual(st.st_uid, self.s.pw.pw_uid)
        self.assertEqual(st.st_mode & 0o777, 0o700, "session socket mode")
        self.assertFalse(os.path.exists(self.s.sock + "-ro"), "no read-only socket in session mode")
        # a second client reuses it (no second daemon)
        out = self.s.virsh("bhyve:///session?mode=direct", "uri").stdout.strip()
        self.assertEqual(out, "bhyve:///session?mode=direct")
        hostname = self.s.virsh("bhyve:///session?mode=direct", "hostname").stdout.strip()
        self.assertTrue(hostname)
        self.assertEqual([d[0] for d in self.s.daemons()], [pid])
        # what --timeout=120 does without idle_timeout in the configuration:
        # test_timeout_option (with a shorter one)
        os.kill(pid, signal.SIGTERM)
        self.assertExits(pid, 10, "SIGTERM")
        self.assertFalse(os.path.exists(self.s.sock), "socket left after exit")

    def start_daemon(self, *args):
        """The daemon run by hand as the user, as the client spawns it;
        returns it once its socket answers."""
        d = self.s.popen([DAEMON] + list(args))
        self.assertTrue(wait_until(lambda: hyvetest.can_connect(self.s.sock) or
                                   d.poll() is not None, timeout=30) and d.poll() is None,
                        "%s did not start" % " ".join(args))
        return d

    def test_timeout_option(self):
        """Without idle_timeout in virtbhyved.conf, --timeout=N (libvirt's
        client passes 120) decides: the daemon exits N seconds after its
        start with no client, not before."""
        d = self.start_daemon("--timeout=%d" % IDLE)
        ready = time.monotonic()
        time.sleep(IDLE - 1)
        self.assertIsNone(d.poll(), "exited before --timeout=%d" % IDLE)
        self.assertEqual(d.wait(10), 0, "exit status")
        waited = time.monotonic() - ready
        self.assertGreater(waited, IDLE - 0.05)
        self.assertLess(waited, IDLE + 3, "idle exit came late")

    def test_idle_timeout_zero_wins(self):
        """idle_timeout = 0 in virtbhyved.conf: never exits when idle, even
        with --timeout."""
        self.s.write_conf("virtbhyved.conf", "idle_timeout = 0\n")
        d = self.start_daemon("--timeout=1")
        time.sleep(4)
        self.assertIsNone(d.poll(), "exited although idle_timeout = 0")
        d.terminate()
        self.assertEqual(d.wait(10), 0, "exit status on SIGTERM")

    def test_other_uid_refused(self):
        """A session daemon serves its own user only: root (which the
        socket's 0700 modes do not stop) is disconnected at once, the user
        still gets in."""
        self.s.write_conf("virtbhyved.conf", "idle_timeout = %d\n" % IDLE)
        d = self.start_daemon()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(5)
            c.connect(self.s.sock)
            try:
                got = c.recv(1)
            except socket.timeout:
                got = None
            self.assertEqual(got, b"", "a root client was not disconnected")
        p = subprocess.run([hyvetest.VIRSH, "-c", "bhyve+unix:///session?socket=" + self.s.sock,
                            "hostname"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, "virsh as root got in: %s" % p.stdout)
        self.s.virsh("bhyve:///session?mode=direct", "hostname")
        self.assertIsNone(d.poll())

    def test_autospawn_without_xdg_runtime_dir(self):
        self.s.no_runtime_dir()
        self.s.write_conf("virtbhyved.conf", "idle_timeout = %d\n" % IDLE)
        self.s.virsh("bhyve:///session?mode=direct", "list", "--all")
        pid, argv, uid = self.spawned()
        self.assertEqual(argv, [DAEMON, "--timeout=120"])
        self.assertTrue(os.path.exists(self.s.sock), "no socket in ~/.cache/libvirt")
        self.assertExits(pid, IDLE + 5, "idle session daemon did not exit")
        self.assertFalse(os.path.exists(self.s.sock), "socket left after exit")

    def test_remote_mode_config(self):
        self.s.write_conf("libvirt.conf", 'remote_mode = "direct"\n')
        self.s.write_conf("virtbhyved.conf", "idle_timeout = %d\n" % IDLE)
        xml = hyvetest.domain_xml("sess-def", memory_kib=131072)
        path = os.path.join(self.s.home, "sess-def.xml")
        with open(path, "w") as f:
            f.write(xml)
        self.s.virsh("bhyve:///session", "define", path)
        pid, argv, _ = self.spawned()
        self.assertEqual(argv, [DAEMON, "--timeout=120"])
        self.assertExits(pid, IDLE + 5, "idle session daemon did not exit")
        # the next client spawns a new one, which finds the definition again
        out = self.s.virsh("bhyve:///session", "list", "--all", "--name").stdout.split()
        self.assertEqual(out, ["sess-def"])
        pid2, _, _ = self.spawned()
        self.assertNotEqual(pid2, pid)
        self.assertTrue(os.path.exists(os.path.join(self.s.confdir, "bhyve", "sess-def.xml")))
        self.assertExits(pid2, IDLE + 5, "idle session daemon did not exit")

    def test_short_clients_keep_it(self):
        """Clients that each stay a few ms, coming more often than the idle
        timeout, keep the one daemon (none of them is connected while the
        daemon checks once a second); after the last one it stays the whole
        timeout, then exits."""
        self.s.write_conf("virtbhyved.conf", "idle_timeout = %d\n" % IDLE)
        uri = "bhyve:///session?mode=direct"
        self.s.virsh(uri, "list", "--all")
        pid, _, _ = self.spawned()
        seen = set()
        t_end = time.monotonic() + 2 * IDLE + 1
        while time.monotonic() < t_end:
            self.s.virsh(uri, "list", "--all")
            seen.update(p for p, _, _ in self.s.daemons())
            time.sleep(0.3)
        left = time.monotonic()
        self.assertEqual(seen, {pid}, "daemons seen while clients came and went every "
                         "0.3 s (idle_timeout %d)" % IDLE)
        time.sleep(max(0, left + IDLE - 0.7 - time.monotonic()))
        self.assertEqual([d[0] for d in self.s.daemons()], [pid],
                         "exited before %d s after the last client" % IDLE)
        self.assertExits(pid, 5, "did not exit %d s after the last client" % IDLE)

    def test_no_idle_exit_with_client(self):
        self.s.write_conf("virtbhyved.conf", "idle_timeout = %d\n" % IDLE)
        script = ("import libvirt, sys\n"
                  "c = libvirt.open('bhyve:///session?mode=direct')\n"
                  "print(c.getType(), flush=True)\n"
                  "sys.stdin.readline()\n"
                  "print(len(c.listAllDomains()), flush=True)\n"
                  "c.close()\n")
        holder = self.s.popen(["/usr/bin/python3", "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), "BHYVE", holder.stderr.read()
                             if holder.poll() is not None else "")
            pid, _, _ = self.spawned()
            # with the socket there, the client's auto mode picks it (no
            # mode=direct, no remote_mode): Debian's legacy default would
            # otherwise spawn libvirtd
            p = self.s.virsh("bhyve:///session", "list", "--all", "--name", check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual([d[0] for d in self.s.daemons()], [pid])
            time.sleep(IDLE * 2 + 1)
            self.assertEqual([d[0] for d in self.s.daemons()], [pid],
                             "exited while a client was connected")
            out, err = holder.communicate("go\n", timeout=30)
            self.assertEqual(holder.returncode, 0, err)
            self.assertEqual(out.strip(), "0", "the connection still worked")
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
        self.assertExits(pid, IDLE + 5, "did not exit once the client left")

    def test_no_idle_exit_during_call(self):
        """A client asks for a domain start and leaves at once: the start
        goes on in a worker (here a stand-in runner that takes IDLE * 2 s
        to fail), and the daemon waits for it before its idle timeout
        starts again."""
        slow = os.path.join(self.s.home, "slow-runner")
        with open(slow, "w") as f:
            # exit status 4: the runner's "error" (0 would read as a reboot)
            f.write("#!/usr/bin/python3\nimport time\ntime.sleep(%d)\nraise SystemExit(4)\n"
                    % (IDLE * 2 + 2))
        os.chmod(slow, 0o755)
        self.s.write_conf("virtbhyved.conf", 'idle_timeout = %d\nrunner_path = "%s"\n'
                          % (IDLE, slow))
        uri = "bhyve:///session?mode=direct"
        path = os.path.join(self.s.home, "sess-slow.xml")
        with open(path, "w") as f:
            f.write(hyvetest.domain_xml("sess-slow", memory_kib=131072))
        self.s.virsh(uri, "define", path)
        pid, _, _ = self.spawned()
        starter = self.s.popen([hyvetest.VIRSH, "-c", uri, "start", "sess-slow"])
        self.assertTrue(wait_until(lambda: self.s.runners(), timeout=10),
                        "the stand-in runner did not start")
        starter.kill()
        starter.wait()
        left = time.monotonic()
        time.sleep(IDLE + 2)
        # a daemon that gave up serving waits for its workers before it
        # exits: its socket tells
        self.assertTrue(hyvetest.can_connect(self.s.sock) and
                        [d[0] for d in self.s.daemons()] == [pid],
                        "stopped serving %d s after the client left, while the start "
                        "it asked for was running" % (IDLE + 2))
        # the start fails when the stand-in exits; IDLE s later the daemon goes
        self.assertExits(pid, IDLE * 2 + 2 - (time.monotonic() - left) + IDLE + 5,
                         "did not exit after the failed start")
        self.assertEqual(self.s.runners(), [])

    def test_no_idle_exit_with_running_domain(self):
        group = kvm_group()
        if not group:
            self.skipTest("/dev/kvm is not usable through group kvm")
        self.s.write_conf("virtbhyved.conf", "idle_timeout = %d\n" % IDLE)
        uri = "bhyve:///session?mode=direct"
        path = os.path.join(self.s.home, "sess-run.xml")
        with open(path, "w") as f:
            f.write(hyvetest.domain_xml("sess-run", memory_kib=131072))
        self.s.virsh(uri, "define", path, groups=[group])
        self.s.virsh(uri, "start", "sess-run", groups=[group])
        pid, _, _ = self.spawned()
        runners = wait_until(self.s.runners, timeout=10)
        self.assertEqual(len(runners), 1, "runner of sess-run")
        with open("/proc/%d/status" % runners[0]) as f:
            uid = int([l for l in f if l.startswith("Uid:")][0].split()[1])
        self.assertEqual(uid, self.s.pw.pw_uid, "the runner runs as the user")
        time.sleep(IDLE * 2 + 1)
        self.assertEqual([d[0] for d in self.s.daemons()], [pid],
                         "exited while a domain was running")
        state = self.s.virsh(uri, "domstate", "sess-run", groups=[group]).stdout.strip()
        self.assertEqual(state, "running")
        self.s.virsh(uri, "destroy", "sess-run", groups=[group])
        self.assertExits(pid, IDLE + 5, "did not exit once the domain stopped")
        self.assertEqual(self.s.runners(), [])


if __name__ == "__main__":
    hyvetest.require_root("session mode as another user")
    hyvetest.require_daemon()
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        hyvetest.skip("no user %s" % USER)
    # the user must reach the binaries (VIRTD_PATH, the runner beside it)
    probe = subprocess.run([DAEMON, "--version"], capture_output=True, user=pw.pw_uid,
                           group=pw.pw_gid, extra_groups=[])
    if probe.returncode != 0:
        hyvetest.skip("%s cannot run %s: %s" % (USER, DAEMON, probe.stderr.decode().strip()))
    hyvetest.main()
