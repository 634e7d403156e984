#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The least-privilege runner (issue 7), seen from outside on this host's
/dev/kvm (the guest need not boot): a domain started by a root daemon has a
bhyve-runner running as hyve-runner (Uid/Gid), with NoNewPrivs 1, Seccomp 2
(filter), no capabilities, its own mount namespace with an empty root,
only the descriptors it was handed or opened at setup, the daemon's
original soft descriptor limit (the daemon raises its own), and (where a
writable cgroup2 hierarchy is mounted) its own cgroup
<root>/hyve/<instance>/vm-<name>, gone after destroy. The daemon still
manages it: console, stats, suspend/resume, destroy, reattach after a
daemon restart, and removes its unix: serial sockets at the stop. A runner_user that does not exist fails the start
(INTERNAL_ERROR) with nothing left behind."""
import os
import pwd
import re
import resource
import stat

import libvirt

import hyvetest
from hyvetest import virsh, wait_until, domain_xml
from test_lifecycle import (MEM_KIB, RunningTestCase, err_of, runner_pids, state_dir,
                            conf_path)

RUNNER_USER = "hyve-runner"


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def cgroup2_root():
    """Where the daemon puts per-domain cgroups (hyve_cgroup.h), or None."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split() for line in f]
    for point in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        fstype = None
        for m in mounts:
            if len(m) >= 3 and m[1] == point:
                fstype = m[2]      # the last mount of a point hides the others
        if fstype == "cgroup2" and os.access(point, os.W_OK):
            return point
    return None


def escape(text, slash_as_dash):
    """hyve_cgroup_escape()."""
    out = ""
    for b in text.encode():
        c = chr(b)
        if slash_as_dash and c == "/":
            if out and not out.endswith("-"):
                out += "-"
        elif c.isascii() and (c.isalnum() or c in "_:" or (c == "." and out)
                              or (c == "-" and not slash_as_dash)):
            out += c
        else:
            out += "\\x%02x" % b
    if slash_as_dash:
        out = out.rstrip("-")
    return out or "-"


def runner_cgroup(pid):
    """The cgroup2 path of PID ("0::/path" line of /proc/PID/cgroup)."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def fd_targets(pid):
    fd_dir = "/proc/%d/fd" % pid
    out = {}
    for fd in os.listdir(fd_dir):
        try:
            out[int(fd)] = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            pass
    return out


def nofile_limits(pid):
    """(soft, hard) "Max open files" of PID."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None


class SandboxTest(RunningTestCase):

    @classmethod
    def setUpClass(cls):
        hyvetest.require_root("the runner switches to %s only for a root daemon" % RUNNER_USER)
        try:
            cls.pw = pwd.getpwnam(RUNNER_USER)
        except KeyError:
            hyvetest.skip("no user %s (tools/install-deps creates it)" % RUNNER_USER)
        # a daemon started with a soft descriptor limit below the hard one
        # raises it for itself; its runners get the original one back
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        cls.nofile_soft = min(soft, 1024, hard // 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (cls.nofile_soft, hard))
        try:
            super().setUpClass()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def start(self, name):
        dom = self.define(name)
        dom.create()
        pids = self.assertRunner(name, 1, "after start")
        return dom, pids[0]

    def expected_cgroup(self, name):
        return "/hyve/%s/vm-%s" % (escape(state_dir(self.daemon), True), escape(name, False))

    def assertConfined(self, name, pid):
        st = proc_status(pid)
        uid, gid = str(self.pw.pw_uid), str(self.pw.pw_gid)
        self.assertEqual(st["Uid"], [uid] * 4, "%s: Uid (real, effective, saved, fs)" % name)
        self.assertEqual(st["Gid"], [gid] * 4, "%s: Gid" % name)
        self.assertEqual(st.get("Groups", []), [], "%s: supplementary groups" % name)
        self.assertEqual(st["NoNewPrivs"], ["1"], "%s: NoNewPrivs" % name)
        self.assertEqual(st["Seccomp"], ["2"], "%s: Seccomp (2 = filter)" % name)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(int(st[cap][0], 16), 0, "%s: %s %s" % (name, cap, st[cap]))
        # own mount namespace, empty root
        self.assertNotEqual(os.readlink("/proc/%d/ns/mnt" % pid), os.readlink("/proc/self/ns/mnt"),
                            "%s: runner shares the host's mount namespace" % name)
        self.assertEqual(os.listdir("/proc/%d/root/" % pid), [], "%s: runner's root" % name)

    def assertOnlyHandedFds(self, name, pid, extra=()):
        """Every descriptor is one it was given (stdio, the log) or opened at
        setup (/dev/kvm and KVM's anonymous inodes, eventfds, its control
        socket, pty master, the exit file, its disks, the kernel/initrd at
        most)."""
        kernel, initrd = hyvetest.debian_kernel()
        allowed_paths = {"/dev/null", "/dev/kvm", "/dev/ptmx", kernel, initrd,
                         os.path.join(state_dir(self.daemon), name + ".exit")} | set(extra)
        allowed_re = re.compile(r"^(anon_inode:.*|socket:\[\d+\]|pipe:\[\d+\]|/dev/pts/\d+|"
                                r".*/%s\.log|/memfd:.*)$" % re.escape(name))
        fds = fd_targets(pid)
        unexpected = {fd: t for fd, t in fds.items()
                      if t not in allowed_paths and not allowed_re.match(t)}
        self.assertEqual(unexpected, {}, "%s: unexpected descriptors of the runner: %r (all: %r)"
                         % (name, unexpected, fds))
        self.assertIn("/dev/kvm", fds.values(), "%s: %r" % (name, fds))
        for fd in (0, 1, 2):
            self.assertIn(fd, fds, "%s: stdio %d" % (name, fd))

    def test_confined_runner(self):
        name = "sb-conf"
        disk = os.path.join(self.tmp, name + ".img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        xml = domain_xml(name, memory_kib=MEM_KIB).replace("</devices>", """
    <disk type='file' device='disk'>
      <driver name='file' type='raw'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>""" % disk)
        self.names.append(name)
        dom = self.conn.defineXML(xml)
        dom.create()
        pid = self.assertRunner(name, 1, "after start")[0]
        st = proc_status(pid)
        print("\nrunner %d: %s" % (pid, " ".join(
            "%s=%s" % (k, ",".join(st[k])) for k in ("Uid", "Gid", "NoNewPrivs", "Seccomp",
                                                      "CapEff", "CapBnd"))))
        print("runner fds: %s" % " ".join("%d:%s" % kv for kv in sorted(fd_targets(pid).items())))
        print("runner cgroup: %s, root: %r" % (runner_cgroup(pid),
                                              os.listdir("/proc/%d/root/" % pid)))
        self.assertConfined(name, pid)
        self.assertOnlyHandedFds(name, pid, extra=[disk])
        daemon_nofile = nofile_limits(self.daemon.proc.pid)
        self.assertEqual(daemon_nofile[0], daemon_nofile[1], "daemon raised its soft limit")
        self.assertEqual(nofile_limits(pid)[0], self.nofile_soft,
                         "runner's soft descriptor limit (the daemon's original one)")
        self.assertIn(disk, fd_targets(pid).values(), "disk opened at setup")

    def test_cgroup(self):
        root = cgroup2_root()
        if root is None:
            self.skipTest("no writable cgroup2 hierarchy")
        name = "sb-cg x"
        dom, pid = self.start(name)
        want = self.expected_cgroup(name)
        self.assertEqual(runner_cgroup(pid), want, "cgroup of the runner")
        path = root + want
        self.assertTrue(os.path.isdir(path), path)
        with open(os.path.join(path, "cgroup.procs")) as f:
            self.assertEqual([int(x) for x in f.read().split()], [pid], "cgroup.procs")
        with open(os.path.join(path, "cpu.stat")) as f:
            usage = int(re.search(r"usage_usec (\d+)", f.read()).group(1))
        self.assertGreater(usage, 0, "cpu.stat usage_usec")
        # controllers: those the parent offers (this host's hybrid unified
        # hierarchy offers none; a pure v2 host memory and cpu)
        with open(os.path.join(os.path.dirname(path), "cgroup.controllers")) as f:
            offered = f.read().split()
        with open(os.path.join(os.path.dirname(os.path.dirname(path)), "cgroup.controllers")) as f:
            top_offered = f.read().split()
        for c in ("memory", "cpu"):
            if c in top_offered:
                self.assertIn(c, offered, "controller %s enabled for the domains" % c)
        dom.destroy()
        self.assertFalse(os.path.exists(path), "%s left after destroy" % path)
        self.assertFalse(os.path.exists(os.path.dirname(path)),
                         "empty instance cgroup left after the last domain")

    def test_console_stats_suspend_destroy(self):
        name = "sb-ops"
        dom, pid = self.start(name)
        self.assertConfined(name, pid)
        # console: the daemon opens the pty the runner made before dropping root
        tty = virsh(self.daemon.uri, "ttyconsole", name).stdout.strip()
        self.assertTrue(tty.startswith("/dev/pts/"), tty)
        self.assertTrue(stat.S_ISCHR(os.stat(tty).st_mode), tty)
        st = self.conn.newStream(0)
        dom.openConsole(None, st, 0)
        self.assertEqual(st.send(b"\r"), 1)
        st.abort()
        # stats
        info = dom.info()
        self.assertEqual(info[0], libvirt.VIR_DOMAIN_RUNNING)
        self.assertEqual(info[1], MEM_KIB)
        self.assertTrue(wait_until(lambda: dom.info()[4] > 0, timeout=10), "cpu time stays 0")
        (got_dom, rec), = self.conn.domainListGetStats([dom], 0)
        self.assertEqual(got_dom.name(), name)
        self.assertEqual(rec["state.state"], libvirt.VIR_DOMAIN_RUNNING)
        self.assertIn("vcpu.0.state", rec)
        out = virsh(self.daemon.uri, "domstats", name).stdout
        self.assertIn("cpu.time=", out)
        # suspend / resume through the control socket
        dom.suspend()
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER])
        dom.resume()
        self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING)
        dom.destroy()
        self.assertEqual(runner_pids(self.daemon, name), [])
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF,
                                       libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED])
        left = [f for f in os.listdir(state_dir(self.daemon)) if f.startswith(name + ".")]
        self.assertEqual(left, [], "run files left after destroy")

    def test_unix_serial_removed(self):
        """The runner binds a unix: serial socket before it confines itself
        and cannot unlink it afterwards: the daemon removes it at destroy
        and when the runner dies (SIGKILL)."""
        name = "sb-unix"
        sock = os.path.join(self.tmp, name + ".sock")
        xml = domain_xml(name, memory_kib=MEM_KIB).replace("</devices>", """
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='1'/>
    </serial>
  </devices>""" % sock)
        self.names.append(name)
        dom = self.conn.defineXML(xml)
        for how in ("destroy", "SIGKILL"):
            dom.create()
            pid = self.assertRunner(name, 1, "after start")[0]
            self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode), "%s: %s" % (how, sock))
            if how == "destroy":
                dom.destroy()
            else:
                os.kill(pid, 9)
                self.assertTrue(wait_until(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF,
                                           timeout=10), "domain not SHUTOFF after SIGKILL")
            self.assertTrue(wait_until(lambda: not os.path.lexists(sock), timeout=5),
                            "%s: serial socket %s left after %s" % (name, sock, how))

    def test_unix_serial_symlinked_dir_kept(self):
        """The daemon (root) removes a serial socket without following a
        symbolic link in the last component of its directory: one another
        user could swap in is not followed, the socket behind it stays."""
        name = "sb-unix-link"
        real = os.path.join(self.tmp, "real-dir")
        link = os.path.join(self.tmp, "link-dir")
        os.mkdir(real)
        os.symlink(real, link)
        sock = os.path.join(real, "s.sock")
        # the daemon removes the runner's config after the sockets
        conf = os.path.join(state_dir(self.daemon), name + ".conf")
        xml = domain_xml(name, memory_kib=MEM_KIB).replace("</devices>", """
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='1'/>
    </serial>
  </devices>""" % os.path.join(link, "s.sock"))
        self.names.append(name)
        dom = self.conn.defineXML(xml)
        dom.create()
        self.assertRunner(name, 1, "after start")
        self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode), sock)
        self.assertTrue(os.path.exists(conf), conf)
        dom.destroy()
        self.assertTrue(wait_until(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF,
                                   timeout=10), "domain not SHUTOFF after destroy")
        self.assertTrue(wait_until(lambda: not os.path.lexists(conf), timeout=5),
                        "%s: runner config %s left after destroy" % (name, conf))
        self.assertTrue(os.path.lexists(sock) and stat.S_ISSOCK(os.lstat(sock).st_mode),
                        "%s: socket behind the symlinked directory was removed" % sock)

    def test_reattach_after_restart(self):
        name = "sb-re"
        dom, pid = self.start(name)
        dom_id = dom.ID()
        root = cgroup2_root()
        stale = root + self.expected_cgroup("sb-stale") if root else None
        if root:
            os.mkdir(stale)         # as a daemon killed during a start leaves it
        self.conn.close()
        self.daemon.restart()
        if root:
            self.assertFalse(os.path.exists(stale), "empty cgroup %s kept at restart" % stale)
            self.assertTrue(os.path.isdir(root + self.expected_cgroup(name)),
                            "the reattached runner's cgroup went")
        self.conn = libvirt.open(self.daemon.uri)
        dom = self.conn.lookupByName(name)
        self.assertEqual((dom.ID(), dom.state()[0]), (dom_id, libvirt.VIR_DOMAIN_RUNNING),
                         "after restart; log:\n" + self.daemon.log()[-3000:])
        self.assertEqual(runner_pids(self.daemon, name), [pid], "same runner")
        self.assertConfined(name, pid)
        dom.suspend()
        dom.resume()
        path = root + self.expected_cgroup(name) if root else None
        if root:
            self.assertEqual(runner_cgroup(pid), self.expected_cgroup(name))
        dom.destroy()
        self.assertEqual(runner_pids(self.daemon, name), [])
        if root:
            self.assertFalse(os.path.exists(path), "%s left after destroy (reattached)" % path)

    def test_killed_runner_cleans_cgroup(self):
        root = cgroup2_root()
        if root is None:
            self.skipTest("no writable cgroup2 hierarchy")
        name = "sb-kill"
        dom, pid = self.start(name)
        path = root + self.expected_cgroup(name)
        self.assertTrue(os.path.isdir(path))
        os.kill(pid, 9)
        self.assertTrue(wait_until(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF,
                                   timeout=10), "domain not SHUTOFF after SIGKILL")
        self.assertTrue(wait_until(lambda: not os.path.exists(path), timeout=5),
                        "%s left after the runner was killed" % path)


def runner_of(root, name):
    """Pid of the live bhyve-runner whose config is ROOT/.../NAME.conf."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")[:-1]
        except OSError:
            continue
        if (len(argv) >= 3 and argv[-2] == b"-c" and argv[-1].startswith(root.encode() + b"/")
                and argv[-1].endswith(b"/" + name.encode() + b".conf")):
            return int(entry)
    return None


class SessionSandboxTest(hyvetest.DaemonTestCase):
    """A session daemon (runner_user ""): the runner keeps the daemon's
    user (here root, so it can still unshare) but is confined all the same."""

    daemon_args = ("--session",)

    @classmethod
    def setUpClass(cls):
        hyvetest.require_root("the session daemon's runner is checked as root's")
        super().setUpClass()

    def test_confined_without_uid_switch(self):
        name = "sb-session"
        uri = "bhyve+unix:///session?socket=" + self.daemon.sock
        with libvirt.open(uri) as conn:
            dom = conn.defineXML(domain_xml(name, memory_kib=MEM_KIB))
            dom.create()
            try:
                self.assertTrue(wait_until(lambda: runner_of(self.daemon.root, name)), "no runner")
                pid = runner_of(self.daemon.root, name)
                st = proc_status(pid)
                self.assertEqual(st["Uid"], ["0"] * 4, "session runner keeps the daemon's uid")
                self.assertEqual((st["NoNewPrivs"], st["Seccomp"]), (["1"], ["2"]))
                self.assertEqual(int(st["CapEff"][0], 16), 0, "CapEff %s" % st["CapEff"])
                self.assertEqual(os.listdir("/proc/%d/root/" % pid), [], "runner's root")
                dom.suspend()
                dom.resume()
            finally:
                dom.destroy()
            self.assertEqual(runner_of(self.daemon.root, name), None)


class MissingUserTest(hyvetest.DaemonTestCase):
    """runner_user names no user: every start fails, nothing is left."""

    @classmethod
    def setUpClass(cls):
        hyvetest.require_root("runner_user applies to a root daemon")
        cls.conf_dir = hyvetest.make_tmpdir()
        conf = os.path.join(cls.conf_dir, "virtbhyved.conf")
        with open(conf, "w") as f:
            f.write('runner_user = "hyve-no-such-user"\n')
        cls.daemon_args = ("--config", conf)
        super().setUpClass()

    def test_start_fails(self):
        name = "sb-nouser"
        with libvirt.open(self.daemon.uri) as conn:
            dom = conn.defineXML(domain_xml(name, memory_kib=MEM_KIB))
            code, msg = err_of(dom.create)
            self.assertEqual((code, msg), (libvirt.VIR_ERR_INTERNAL_ERROR,
                             "internal error: runner user 'hyve-no-such-user' does not exist "
                             "(runner_user in virtbhyved.conf)"))
            self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_SHUTOFF)
            self.assertEqual(runner_pids(self.daemon, name), [])
            self.assertFalse(os.path.exists(conf_path(self.daemon, name)), "config left")
            r = virsh(self.daemon.uri, "start", name, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("runner user 'hyve-no-such-user' does not exist", r.stderr)


if __name__ == "__main__":
    hyvetest.main()
