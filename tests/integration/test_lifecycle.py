#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Running domains on the host (no lab): the start/stop/pause state machine
through virsh and python3-libvirt with the real bhyve-runner on this host's
/dev/kvm (the guest need not boot far for any of this): states and reasons,
ids, wrong-state errors, shutdown modes, lifecycle events (python callbacks
with and without a domain filter, the old python API, virsh event, the
legacy wire form), a runner killed under the daemon, concurrent clients
racing on one domain, and a daemon killed with SIGKILL while domains run."""
import os
import queue
import random
import re
import signal
import struct
import subprocess
import threading
import time
import uuid as uuidlib

import libvirt

import hyverpc
import hyvetest
from hyvetest import virsh, wait_until, domain_xml, write_file
from test_events import VirshEventWatcher

# Small guests: several run at once on a 2-core host.
MEM_KIB = 131072

E = libvirt  # short names for event constants below
LINE = "event 'lifecycle' for domain '%s': %s"


# -- helpers shared with test_console.py ------------------------------------

def state_dir(daemon):
    return os.path.join(daemon.root, "run", "libvirt", "bhyve")


def conf_path(daemon, name):
    return os.path.join(state_dir(daemon), name + ".conf")


def ere_escape(text):
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", text)


def runner_pids(daemon, name=None):
    """Pids of bhyve-runner processes of this daemon (of domain NAME, or
    of any domain), found with pgrep by their command line
    `... -c <state_dir>/X.conf` (zombies left out)."""
    if name is not None:
        pattern = "-c " + ere_escape(conf_path(daemon, name)) + "$"
    else:
        pattern = "-c " + ere_escape(state_dir(daemon) + "/") + "[^/]*[.]conf$"
    p = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise AssertionError("pgrep failed: %s" % p.stderr)
    alive = []
    for pid in (int(x) for x in p.stdout.split()):
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.append(pid)
        except OSError:
            pass
    return alive


def kill_runners(daemon):
    """Safety net: runners outlive their daemon by design; kill this test's."""
    for pid in runner_pids(daemon):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def err_of(fn, *args):
    """(code, message) of the libvirtError FN(*ARGS) raises; fails if none."""
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return e.get_error_code(), e.get_error_message()
    raise AssertionError("%s%r succeeded" % (getattr(fn, "__name__", fn), args))


class EventLoop:
    """The python default event loop on a thread (once per process)."""
    _started = False

    @classmethod
    def ensure(cls):
        if cls._started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, daemon=True).start()
        cls._started = True


class EventCollector:
    """Lifecycle events of one registration as (name, id, event, detail)."""

    def __init__(self):
        self.q = queue.Queue()
        self.got = []

    def lifecycle(self, conn, dom, event, detail, opaque=None):
        self.q.put((dom.name(), dom.ID(), event, detail))

    def reboot(self, conn, dom, opaque=None):
        self.q.put((dom.name(), dom.ID(), "reboot", None))

    def wait_for(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            try:
                self.got.append(self.q.get(timeout=0.1))
            except queue.Empty:
                pass
        return self.got

    def drain(self, settle=0.5):
        time.sleep(settle)
        while True:
            try:
                self.got.append(self.q.get_nowait())
            except queue.Empty:
                return self.got


class RunningTestCase(hyvetest.DaemonTestCase):
    """A shared daemon; every test stops what it started."""

    def setUp(self):
        self.conn = libvirt.open(self.daemon.uri)
        self.names = []

    def tearDown(self):
        for name in self.names:
            try:
                dom = self.conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
            except libvirt.libvirtError:
                pass
        self.conn.close()
        self.assertDaemonAlive()

    def define(self, name, **kw):
        self.names.append(name)
        return self.conn.defineXML(domain_xml(name, memory_kib=MEM_KIB, **kw))

    def domstate(self, name):
        return virsh(self.daemon.uri, "domstate", "--reason", name).stdout.strip()

    def assertRunner(self, name, count, msg=""):
        """Waits (a little) until NAME has COUNT runner processes; returns their pids."""
        wait_until(lambda: len(runner_pids(self.daemon, name)) == count, timeout=10)
        got = runner_pids(self.daemon, name)
        self.assertEqual(len(got), count, "%s: runner processes of %s: %r" % (msg, name, got))
        return got


# -- the tests ----------------------------------------------------------------

class LifecycleTest(RunningTestCase):

    def test_virsh_start_suspend_resume_destroy(self):
        name = "lc-virsh"
        self.names.append(name)
        path = write_file(self.tmp, name + ".xml", domain_xml(name, memory_kib=MEM_KIB))
        virsh(self.daemon.uri, "define", path)
        self.assertEqual(self.domstate(name), "shut off (unknown)")
        out = virsh(self.daemon.uri, "start", name).stdout
        self.assertIn("Domain '%s' started" % name, out)
        self.assertEqual(self.domstate(name), "running (booted)")
        dom_id = int(virsh(self.daemon.uri, "domid", name).stdout.strip())
        self.assertGreater(dom_id, 0)
        dom = self.conn.lookupByName(name)
        self.assertEqual(dom.ID(), dom_id)
        self.assertEqual(dom.isActive(), 1)
        self.assertEqual(self.conn.lookupByID(dom_id).name(), name)
        xml = virsh(self.daemon.uri, "dumpxml", name).stdout
        self.assertRegex(xml, r"<domain type='bhyve' id='%d'>" % dom_id)
        self.assertIn(name, virsh(self.daemon.uri, "list", "--name").stdout.split())
        pids = self.assertRunner(name, 1, "after start")
        with open(os.path.join(state_dir(self.daemon), name + ".pid")) as f:
            self.assertEqual(int(f.read().split()[0]), pids[0], "pidfile")

        virsh(self.daemon.uri, "suspend", name)
        self.assertEqual(self.domstate(name), "paused (user)")
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER])
        virsh(self.daemon.uri, "resume", name)
        self.assertEqual(self.domstate(name), "running (unpaused)")
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_RUNNING,
                                       libvirt.VIR_DOMAIN_RUNNING_UNPAUSED])
        self.assertEqual(int(virsh(self.daemon.uri, "domid", name).stdout.strip()), dom_id,
                         "id kept across suspend/resume")

        out = virsh(self.daemon.uri, "destroy", name).stdout
        self.assertIn("Domain '%s' destroyed" % name, out)
        self.assertEqual(self.domstate(name), "shut off (destroyed)")
        self.assertEqual(virsh(self.daemon.uri, "domid", name).stdout.strip(), "-")
        self.assertNotRegex(virsh(self.daemon.uri, "dumpxml", name).stdout, r"<domain [^>]*id=")
        self.assertEqual(self.conn.lookupByName(name).ID(), -1)
        self.assertRunner(name, 0, "after destroy")
        # persistent: still defined, and starts again with a new id
        virsh(self.daemon.uri, "start", name)
        new_id = int(virsh(self.daemon.uri, "domid", name).stdout.strip())
        self.assertGreater(new_id, dom_id)
        virsh(self.daemon.uri, "destroy", name)

    def test_python_create_and_paused_start(self):
        dom = self.define("lc-py")
        self.assertEqual(dom.create(), 0)
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED])
        self.assertGreater(self.conn.lookupByName("lc-py").ID(), 0)
        info = dom.info()
        self.assertEqual(info[0], libvirt.VIR_DOMAIN_RUNNING)
        dom.destroy()
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF,
                                       libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED])
        # start paused (python), then virsh start --paused
        self.assertEqual(dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED), 0)
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER])
        self.assertRunner("lc-py", 1, "paused start")
        dom.resume()
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_RUNNING,
                                       libvirt.VIR_DOMAIN_RUNNING_UNPAUSED])
        dom.destroy()
        virsh(self.daemon.uri, "start", "--paused", "lc-py")
        self.assertEqual(self.domstate("lc-py"), "paused (user)")
        virsh(self.daemon.uri, "destroy", "lc-py")
        self.assertEqual(self.domstate("lc-py"), "shut off (destroyed)")
        self.assertRunner("lc-py", 0, "after destroy")

    def test_transient(self):
        name = "lc-transient"
        self.names.append(name)
        path = write_file(self.tmp, name + ".xml", domain_xml(name, memory_kib=MEM_KIB))
        out = virsh(self.daemon.uri, "create", path).stdout
        self.assertIn("Domain '%s' created from %s" % (name, path), out)
        dom = self.conn.lookupByName(name)
        self.assertEqual(dom.isPersistent(), 0)
        self.assertGreater(dom.ID(), 0)
        self.assertEqual(self.domstate(name), "running (booted)")
        self.assertRunner(name, 1)
        virsh(self.daemon.uri, "destroy", name)
        code, msg = err_of(self.conn.lookupByName, name)
        self.assertEqual(code, libvirt.VIR_ERR_NO_DOMAIN, msg)
        p = virsh(self.daemon.uri, "domstate", name, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("failed to get domain '%s'" % name, p.stderr)
        self.assertNotIn(name, virsh(self.daemon.uri, "list", "--all", "--name").stdout.split())
        self.assertRunner(name, 0)
        # python createXML: returns the domain with its id
        dom = self.conn.createXML(domain_xml(name, memory_kib=MEM_KIB), 0)
        self.assertGreater(dom.ID(), 0)
        self.assertEqual(dom.isPersistent(), 0)
        dom.destroy()
        self.assertEqual(err_of(self.conn.lookupByName, name)[0], libvirt.VIR_ERR_NO_DOMAIN)

    def test_wrong_state_errors(self):
        name = "lc-wrong"
        dom = self.define(name)
        not_running = "Requested operation is not valid: domain is not running"
        for cmd in ("shutdown", "destroy", "suspend"):
            p = virsh(self.daemon.uri, cmd, name, check=False)
            self.assertEqual(p.returncode, 1, cmd)
            self.assertIn("error: " + not_running, p.stderr, cmd)
        for fn in (dom.shutdown, dom.destroy, dom.suspend, dom.reboot, dom.reset):
            args = (0,) if fn in (dom.reboot, dom.reset) else ()
            self.assertEqual(err_of(fn, *args), (libvirt.VIR_ERR_OPERATION_INVALID, not_running),
                             fn.__name__)
        self.assertEqual(err_of(dom.resume)[0], libvirt.VIR_ERR_OPERATION_INVALID)
        dom.create()
        self.assertEqual(err_of(dom.create),
                         (libvirt.VIR_ERR_OPERATION_INVALID,
                          "Requested operation is not valid: domain is already running"))
        self.assertEqual(dom.resume(), 0)     # running: nothing to do (libvirt)
        # virsh refuses by itself (it sees the id)
        p = virsh(self.daemon.uri, "start", name, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("error: Domain is already active", p.stderr)
        dom.suspend()
        self.assertEqual(err_of(dom.create)[0], libvirt.VIR_ERR_OPERATION_INVALID)
        # unsupported flags are refused, not ignored
        self.assertEqual(err_of(dom.destroyFlags, 1 << 5)[0], libvirt.VIR_ERR_INVALID_ARG)
        self.assertEqual(err_of(dom.reset, 1)[0], libvirt.VIR_ERR_INVALID_ARG)
        dom.destroy()
        self.assertEqual(err_of(dom.createWithFlags, 1 << 7)[0], libvirt.VIR_ERR_INVALID_ARG)
        self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_SHUTOFF)
        # read-only connections are refused as libvirtd does
        ro = libvirt.openReadOnly(self.daemon.uri_ro)
        try:
            rdom = ro.lookupByName(name)
            self.assertEqual(err_of(rdom.create),
                             (libvirt.VIR_ERR_OPERATION_DENIED,
                              "operation forbidden: read only access prevents virDomainCreate"))
            self.assertEqual(err_of(rdom.destroy)[0], libvirt.VIR_ERR_OPERATION_DENIED)
        finally:
            ro.close()
        self.assertRunner(name, 0)

    def test_shutdown_modes(self):
        name = "lc-modes"
        dom = self.define(name)
        dom.create()
        modes = {"agent": libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
                 "initctl": libvirt.VIR_DOMAIN_SHUTDOWN_INITCTL,
                 "signal": libvirt.VIR_DOMAIN_SHUTDOWN_SIGNAL,
                 "paravirt": libvirt.VIR_DOMAIN_SHUTDOWN_PARAVIRT}
        for mode, flag in modes.items():
            code, msg = err_of(dom.shutdownFlags, flag)
            self.assertEqual(code, libvirt.VIR_ERR_NO_SUPPORT, "shutdown %s: %s" % (mode, msg))
            self.assertEqual(err_of(dom.reboot, flag)[0], libvirt.VIR_ERR_NO_SUPPORT, mode)
            p = virsh(self.daemon.uri, "shutdown", "--mode", mode, name, check=False)
            self.assertEqual(p.returncode, 1, mode)
            self.assertIn("error: this function is not supported by the connection driver",
                          p.stderr, mode)
        # the power button: returns at once; this guest never handles it
        out = virsh(self.daemon.uri, "shutdown", "--mode", "acpi", name).stdout
        self.assertIn("Domain '%s' is being shutdown" % name, out)
        self.assertEqual(dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN), 0)
        self.assertEqual(dom.shutdown(), 0)
        time.sleep(0.5)
        self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING)
        self.assertRunner(name, 1)
        # ACPI reboot: the button now, a new start once the guest powers off
        # (never, here); a destroy meanwhile is final: no respawn
        out = virsh(self.daemon.uri, "reboot", name).stdout
        self.assertIn("Domain '%s' is being rebooted" % name, out)
        time.sleep(0.5)
        self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING)
        dom.destroy()
        time.sleep(1)
        self.assertEqual(self.domstate(name), "shut off (destroyed)")
        self.assertRunner(name, 0, "destroy with a reboot pending")

    def test_reset(self):
        """virsh reset: a hard reset is a new runner under the same id, a
        REBOOT event, no lifecycle event."""
        name = "lc-reset"
        dom = self.define(name)
        EventLoop.ensure()
        listener = libvirt.open(self.daemon.uri)
        ev = EventCollector()
        ldom = listener.lookupByName(name)
        cbs = [listener.domainEventRegisterAny(ldom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                               ev.lifecycle, None),
               listener.domainEventRegisterAny(ldom, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                               ev.reboot, None)]
        try:
            dom.create()
            dom_id = dom.ID()
            old_pid = self.assertRunner(name, 1)[0]
            out = virsh(self.daemon.uri, "reset", name).stdout
            self.assertIn("Domain '%s' was reset" % name, out)
            self.assertTrue(wait_until(lambda: runner_pids(self.daemon, name) not in
                                       ([], [old_pid]), timeout=10),
                            "no new runner after reset")
            self.assertEqual(self.conn.lookupByName(name).ID(), dom_id)
            self.assertEqual(self.domstate(name)[:7], "running")
            self.assertEqual(ev.wait_for(2), [
                (name, dom_id, E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                (name, dom_id, "reboot", None)])
            self.assertEqual(ev.drain(), ev.got[:2], "only the REBOOT event for a reset")
            dom.destroy()
            self.assertRunner(name, 0)
        finally:
            for cb in cbs:
                listener.domainEventDeregisterAny(cb)
            listener.close()

    def test_runner_killed(self):
        name = "lc-killed"
        dom = self.define(name)
        EventLoop.ensure()
        listener = libvirt.open(self.daemon.uri)
        ev = EventCollector()
        cb = listener.domainEventRegisterAny(listener.lookupByName(name),
                                             libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             ev.lifecycle, None)
        try:
            dom.create()
            dom_id = dom.ID()
            pid = self.assertRunner(name, 1)[0]
            os.kill(pid, signal.SIGKILL)
            got = ev.wait_for(2)
            self.assertEqual(got, [(name, dom_id, E.VIR_DOMAIN_EVENT_STARTED,
                                    E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                                   (name, -1, E.VIR_DOMAIN_EVENT_STOPPED,
                                    E.VIR_DOMAIN_EVENT_STOPPED_FAILED)])
            self.assertEqual(self.domstate(name), "shut off (crashed)")
            self.assertEqual(self.conn.lookupByName(name).ID(), -1)
            # and it starts again
            dom.create()
            self.assertEqual(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING)
            dom.destroy()
        finally:
            listener.domainEventDeregisterAny(cb)
            listener.close()


class EventTest(RunningTestCase):

    def test_python_events(self):
        EventLoop.ensure()
        a = self.define("ev-a")
        b = self.define("ev-b")
        listener = libvirt.open(self.daemon.uri)
        only_a = EventCollector()
        every = EventCollector()
        old_api = EventCollector()
        reboots = EventCollector()
        la = listener.lookupByName("ev-a")
        cb_a = listener.domainEventRegisterAny(la, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                               only_a.lifecycle, None)
        cb_all = listener.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                 every.lifecycle, None)
        cb_reboot = listener.domainEventRegisterAny(la, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                                    reboots.reboot, None)
        listener.domainEventRegister(old_api.lifecycle, None)
        try:
            a.create()
            ida = a.ID()
            b.create()
            idb = b.ID()
            a.suspend()
            a.resume()
            b.destroy()
            a.destroy()
            a.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
            ida2 = a.ID()
            a.destroy()
            want_a = [
                ("ev-a", ida, E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("ev-a", ida, E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                ("ev-a", ida, E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
                ("ev-a", -1, E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                ("ev-a", ida2, E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("ev-a", ida2, E.VIR_DOMAIN_EVENT_SUSPENDED,
                 E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                ("ev-a", -1, E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
            ]
            want_b = [
                ("ev-b", idb, E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("ev-b", -1, E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
            ]
            every.wait_for(len(want_a) + len(want_b))
            old_api.wait_for(len(want_a) + len(want_b))
            only_a.wait_for(len(want_a))
            for coll in (only_a, every, old_api):
                coll.drain()
            self.assertEqual(only_a.got, want_a, "filtered registration")
            for what, coll in (("unfiltered", every), ("old API", old_api)):
                self.assertEqual([e for e in coll.got if e[0] == "ev-a"], want_a, what)
                self.assertEqual([e for e in coll.got if e[0] == "ev-b"], want_b, what)
            self.assertEqual(self.assertRunner("ev-a", 0) + self.assertRunner("ev-b", 0), [])
            self.assertEqual(reboots.drain(0), [], "no reboot events")
        finally:
            listener.domainEventDeregisterAny(cb_a)
            listener.domainEventDeregisterAny(cb_all)
            listener.domainEventDeregisterAny(cb_reboot)
            listener.domainEventDeregister(old_api.lifecycle)
            listener.close()

    def test_virsh_event(self):
        name = "ev-virsh"
        dom = self.define(name)
        watcher = VirshEventWatcher(self.daemon.uri, timeout=120)
        try:
            # virsh registers after connecting: wait until it sees something
            synced = False
            for i in range(40):
                probe = "ev-sync-%d" % i
                self.conn.defineXML(domain_xml(probe)).undefine()
                if watcher.wait_for(LINE % (probe, "Undefined Removed"), timeout=0.5):
                    synced = True
                    break
            self.assertTrue(synced, "virsh event printed nothing: %r" % watcher.seen)
            virsh(self.daemon.uri, "start", name)
            virsh(self.daemon.uri, "reset", name)
            self.assertTrue(watcher.wait_for("event 'reboot' for domain '%s'" % name),
                            watcher.seen)
            virsh(self.daemon.uri, "suspend", name)
            virsh(self.daemon.uri, "resume", name)
            virsh(self.daemon.uri, "destroy", name)
            virsh(self.daemon.uri, "start", "--paused", name)
            pid = self.assertRunner(name, 1)[0]
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF)
            want = ["Started Booted", "Suspended Paused", "Resumed Unpaused", "Stopped Destroyed",
                    "Started Booted", "Suspended Paused", "Stopped Failed"]
            for w in want:
                watcher.wait_for(LINE % (name, w), timeout=10)
            mine = [l for l in watcher.seen if "'%s'" % name in l and "'lifecycle'" in l]
            self.assertEqual(mine, [LINE % (name, w) for w in want])
            self.assertIsNone(watcher.proc.poll(), "virsh event exited early")
        finally:
            watcher.stop()

    def test_legacy_wire_events(self):
        """The pre-callback registration (proc 105) gets proc 107 MESSAGEs."""
        name = "ev-legacy"
        dom = self.define(name)
        raw = hyverpc.RawClient(self.daemon.sock)
        try:
            raw.open()
            raw.call(105)                  # CONNECT_DOMAIN_EVENT_REGISTER
            dom.create()
            dom_id = dom.ID()
            dom.destroy()
            got = []
            deadline = time.monotonic() + 10
            while len(got) < 2 and time.monotonic() < deadline:
                prog, _, proc, mtype, serial, status, body = raw.recv_packet()
                if mtype != hyverpc.MESSAGE or proc != 107:
                    continue
                r = hyverpc.Reader(body)
                ev_name = r.string()
                ev_uuid = r.opaque(16)
                ev_id = r.i32()
                event = r.i32()
                detail = r.i32()
                if ev_name == name:
                    got.append((ev_name, str(uuidlib.UUID(bytes=ev_uuid)), ev_id, event, detail))
            u = dom.UUIDString()
            self.assertEqual(got, [(name, u, dom_id, E.VIR_DOMAIN_EVENT_STARTED,
                                    E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                                   (name, u, -1, E.VIR_DOMAIN_EVENT_STOPPED,
                                    E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)])
        finally:
            raw.close()


class RaceTest(RunningTestCase):

    def test_concurrent_clients(self):
        name = "race"
        dom = self.define(name)
        ops = ["start", "destroy", "shutdown", "suspend", "resume"]
        stop_at = time.monotonic() + 6
        problems = []
        counts = {}
        lock = threading.Lock()

        def note(what):
            with lock:
                counts[what] = counts.get(what, 0) + 1

        def python_client(seed):
            rnd = random.Random(seed)
            conn = libvirt.open(self.daemon.uri)
            try:
                d = conn.lookupByName(name)
                fns = {"start": d.create, "destroy": d.destroy, "shutdown": d.shutdown,
                       "suspend": d.suspend, "resume": d.resume}
                while time.monotonic() < stop_at:
                    op = rnd.choice(ops)
                    try:
                        fns[op]()
                        note(op + " ok")
                    except libvirt.libvirtError as e:
                        if e.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                            with lock:
                                problems.append("python %s: %d %s" % (op, e.get_error_code(),
                                                                      e.get_error_message()))
                        note(op + " refused")
            finally:
                conn.close()

        def virsh_client(seed):
            rnd = random.Random(seed)
            while time.monotonic() < stop_at:
                op = rnd.choice(ops)
                p = virsh(self.daemon.uri, op, name, check=False)
                if p.returncode != 0 and \
                        "Requested operation is not valid" not in p.stderr and \
                        "Domain is already active" not in p.stderr:
                    with lock:
                        problems.append("virsh %s: %s" % (op, p.stderr.strip()))
                note("virsh " + op)

        threads = [threading.Thread(target=python_client, args=(i,)) for i in range(4)]
        threads += [threading.Thread(target=virsh_client, args=(100 + i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "clients hung")
        self.assertEqual(problems, [], "unexpected errors (counts %r)" % counts)
        print("race: %r" % sorted(counts.items()))
        for op in ("start", "destroy", "suspend", "resume"):
            self.assertGreater(counts.get(op + " ok", 0), 0, "no %s got through: %r" % (op, counts))

        # consistent: the state says running/paused iff one runner lives
        state = dom.state()[0]
        pids = runner_pids(self.daemon, name)
        if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED):
            self.assertEqual(len(pids), 1, "state %d, runners %r" % (state, pids))
            self.assertGreater(self.conn.lookupByName(name).ID(), 0)   # not dom's cached id
            dom.destroy()
        else:
            self.assertEqual(state, libvirt.VIR_DOMAIN_SHUTOFF)
            self.assertEqual(pids, [], "shut off but runners %r" % pids)
        self.assertRunner(name, 0, "after the race")
        self.assertEqual(runner_pids(self.daemon), [], "leaked runners")
        # still fully usable
        dom.create()
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED])
        dom.destroy()


class DaemonKillTest(RunningTestCase):

    def test_sigkill_daemon_reattach(self):
        names = ["keep-%d" % i for i in range(3)]
        doms = [self.define(n) for n in names]
        for d in doms:
            d.create()
        doms[2].suspend()
        ids = {n: self.conn.lookupByName(n).ID() for n in names}
        pids = {n: self.assertRunner(n, 1)[0] for n in names}
        self.conn.close()

        self.daemon.proc.kill()
        self.daemon.proc.wait()
        self.daemon.proc = None
        time.sleep(0.5)
        for n in names:
            self.assertEqual(runner_pids(self.daemon, n), [pids[n]],
                             "%s: runner must survive the daemon" % n)
        self.daemon.start()
        self.conn = libvirt.open(self.daemon.uri)

        for n in names:
            dom = self.conn.lookupByName(n)
            self.assertEqual(dom.ID(), ids[n], n)
            self.assertEqual(runner_pids(self.daemon, n), [pids[n]], n)
        self.assertEqual(self.domstate(names[0]), "running (booted)")
        self.assertEqual(self.domstate(names[2]), "paused (user)")
        self.assertEqual(sorted(virsh(self.daemon.uri, "list", "--name").stdout.split()),
                         sorted(names))
        # everything still works on the reattached runners
        EventLoop.ensure()
        ev = EventCollector()
        cb = self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              ev.lifecycle, None)
        try:
            self.conn.lookupByName(names[2]).resume()
            self.assertEqual(self.domstate(names[2]), "running (unpaused)")
            virsh(self.daemon.uri, "destroy", names[0])
            self.assertEqual(self.domstate(names[0]), "shut off (destroyed)")
            self.assertRunner(names[0], 0)
            os.kill(pids[names[1]], signal.SIGKILL)
            wait_until(lambda: self.conn.lookupByName(names[1]).state()[0] ==
                       libvirt.VIR_DOMAIN_SHUTOFF)
            self.assertEqual(self.domstate(names[1]), "shut off (crashed)")
            got = ev.wait_for(3)
            self.assertEqual(sorted(got), sorted([
                (names[2], ids[names[2]], E.VIR_DOMAIN_EVENT_RESUMED,
                 E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
                (names[0], -1, E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                (names[1], -1, E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_FAILED),
            ]))
            # the console of a reattached domain opens, and ends with EOF at destroy
            cc = libvirt.open(self.daemon.uri)
            try:
                st = cc.newStream(0)
                cc.lookupByName(names[2]).openConsole(None, st, 0)
                eof = []

                def read_to_eof():
                    while st.recv(4096) != b"":
                        pass            # guest output, if any
                    eof.append(b"")

                reader = threading.Thread(target=read_to_eof, daemon=True)
                reader.start()
                self.conn.lookupByName(names[2]).destroy()
                reader.join(15)
                self.assertEqual(eof, [b""], "console of a reattached domain: no EOF")
                st.finish()
            finally:
                cc.close()
            # a new start gets an id past every reattached one
            dom = self.conn.lookupByName(names[0])
            dom.create()
            self.assertGreater(dom.ID(), max(ids.values()))
            for n in names:
                d = self.conn.lookupByName(n)
                if d.isActive():
                    d.destroy()
            self.assertEqual(runner_pids(self.daemon), [])
        finally:
            self.conn.domainEventDeregisterAny(cb)


if __name__ == "__main__":
    hyvetest.require_daemon()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        hyvetest.skip("no usable /dev/kvm")
    hyvetest.main()
