#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""python3-libvirt event programs against hyve, with both event loops:
eventclient.py (what libvirt-python 9.0.0's examples/event-test.py does:
every domain event id, network, storage pool, node device and secret
events, a close callback, keepalive) and consoleclient.py (what
examples/consolecallback.py does: a persistent console on a
VIR_STREAM_NONBLOCK stream driven by stream event callbacks), each run
with virEventRegisterDefaultImpl and with libvirtaio (asyncio).

Guest-side console bytes come from a tiny guest of this test's own (a
bzImage whose 64-bit entry prints a banner and then echoes every byte it
reads from COM1, lower case turned upper case), so the console checks do
not need a guest kernel that boots (this host's /dev/kvm is emulated).

With HYVE_LIBVIRT_PYTHON_EXAMPLES=<dir> (a copy of libvirt-python's
examples/), the upstream event-test.py (all three of its loops) and
consolecallback.py (on a pty) run as well; without it those tests skip.
"""
import os
import pty
import queue
import select
import subprocess
import sys
import threading
import time
import uuid as uuidlib

import libvirt

import echoguest
import hyvetest
from hyvetest import client_env, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTCLIENT = os.path.join(HERE, "eventclient.py")
CONSOLECLIENT = os.path.join(HERE, "consoleclient.py")
EXAMPLES = os.environ.get("HYVE_LIBVIRT_PYTHON_EXAMPLES")
HAVE_KVM = os.access("/dev/kvm", os.R_OK | os.W_OK)
needs_kvm = hyvetest.unittest.skipUnless(HAVE_KVM and not hyvetest.VALGRIND,
                                         "runs domains: no usable /dev/kvm, or valgrind "
                                         "(3.19 lacks pidfd_open, which runner supervision needs)")
needs_examples = hyvetest.unittest.skipUnless(
    EXAMPLES, "HYVE_LIBVIRT_PYTHON_EXAMPLES (libvirt-python's examples/ dir) is not set")

# 1 old-style lifecycle + 27 domain ids + network 1 + pool 2 + nodedev 2 + secret 2
N_CALLBACKS = 35



def is_event(line, kinds, name):
    """LINE is an eventclient.py line about object NAME of one of KINDS ("a|b")."""
    return any(line == "EVENT %s %s" % (k, name) or line.startswith("EVENT %s %s " % (k, name))
               for k in kinds.split("|"))


class Program:
    """A client program with its stdout and stderr lines in one queue."""

    def __init__(self, argv, cwd=None, stdin=subprocess.PIPE):
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=client_env(), cwd=cwd,
                                     start_new_session=True)
        self.q = queue.Queue()
        self.lines = []
        self.raw = {"out": b"", "err": b""}
        for name, f in (("out", self.proc.stdout), ("err", self.proc.stderr)):
            threading.Thread(target=self._read, args=(name, f), daemon=True).start()

    def _read(self, name, f):
        buf = b""
        while True:
            chunk = f.read1(4096)
            if not chunk:
                break
            self.raw[name] += chunk
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.q.put((name, line.decode("utf-8", "replace").rstrip("\r")))
        self.q.put((name, None))

    def wait_line(self, pred, timeout=20):
        """The first new line (stdout or stderr) PRED accepts, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                name, line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                continue
            self.lines.append(line)
            if pred(line):
                return line
        return None

    def wait_raw(self, name, data, timeout=20):
        return wait_until(lambda: data in self.raw[name], timeout=timeout)

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def drain(self, settle=0.5):
        time.sleep(settle)
        while True:
            try:
                name, line = self.q.get_nowait()
            except queue.Empty:
                return self.lines
            if line is not None:
                self.lines.append(line)

    def finish(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass

    def dump(self):
        return "stdout:\n%s\nstderr:\n%s" % (self.raw["out"].decode("utf-8", "replace"),
                                            self.raw["err"].decode("utf-8", "replace"))


def dir_pool_xml(name, path):
    return ("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
            % (name, path))


def network_xml(name):
    return ("<network><name>%s</name><bridge name='hvce%d'/>"
            "<ip address='192.168.%d.1' netmask='255.255.255.0'/></network>"
            % (name, os.getpid() % 1000, 200 + os.getpid() % 50))


class ClientEventsTest(hyvetest.DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # readable by a sandboxed runner (another user): the daemon's root is 0755
        cls.kernel = os.path.join(cls.daemon.root, "echo-bzImage")
        with open(cls.kernel, "wb") as f:
            f.write(echoguest.echo_bzimage())
        os.chmod(cls.kernel, 0o644)

    def setUp(self):
        self.conn = libvirt.open(self.daemon.uri)
        self.progs = []

    def tearDown(self):
        for p in self.progs:
            p.kill()
        for dom in self.conn.listAllDomains():
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass
        self.conn.close()
        self.assertDaemonAlive()

    def program(self, argv, **kw):
        p = Program(argv, **kw)
        self.progs.append(p)
        return p

    # -- event-test.py's job -------------------------------------------------
    def monitor(self, loop, uri=None, readonly=True):
        argv = [sys.executable, EVENTCLIENT, "--loop", loop]
        if readonly:
            argv.append("--readonly")
        mon = self.program(argv + [uri or (self.daemon.uri_ro if readonly else self.daemon.uri)])
        ready = mon.wait_line(lambda l: l.startswith(("READY", "ERROR")))
        self.assertEqual(ready, "READY %d" % N_CALLBACKS, mon.dump())
        return mon

    def exercise(self, tag, run_domain):
        """Define/start/suspend/resume/reset/destroy/metadata/undefine a domain, a
        network define/undefine and a dir pool's whole life; returns the
        event lines a monitor must print for them, in order, per object."""
        name, net, pool = "ce-%s" % tag, "cenet-%s" % tag, "cepool-%s" % tag
        u = str(uuidlib.uuid4())
        dom = self.conn.defineXML(echoguest.domain_xml(name, self.kernel, uuid=u))
        want = [(0, 0)]                                  # Defined Added
        if run_domain:
            dom.create()
            did = run_id = dom.ID()
            dom.suspend()
            dom.resume()
            dom.reset()
            dom.destroy()
            want += [(2, 0, did), (3, 0, did), (4, 0, did), (5, 1)]
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, "events", None, None,
                        libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        dom.undefine()
        want.append((1, 0))                              # Undefined Removed
        lifecycle, legacy = [], []
        for w in want:
            did = w[2] if len(w) == 3 else -1
            lifecycle.append("EVENT domain-LIFECYCLE %s detail=%d event=%d id=%d"
                             % (name, w[1], w[0], did))
            legacy.append("EVENT domain-legacy %s detail=%d event=%d id=%d opaque=legacy"
                          % (name, w[1], w[0], did))
        metadata = ["EVENT domain-METADATA_CHANGE %s id=-1 mtype=%d nsuri=None"
                    % (name, libvirt.VIR_DOMAIN_METADATA_DESCRIPTION)]
        if run_domain:
            metadata.insert(0, "EVENT domain-REBOOT %s id=%d" % (name, run_id))

        n = self.conn.networkDefineXML(network_xml(net))
        n.undefine()
        nets = ["EVENT network-LIFECYCLE %s detail=0 event=%d" % (net, e)
                for e in (libvirt.VIR_NETWORK_EVENT_DEFINED, libvirt.VIR_NETWORK_EVENT_UNDEFINED)]

        path = hyvetest.make_tmpdir("hyve-it-pool-")
        p = self.conn.storagePoolDefineXML(dir_pool_xml(pool, path))
        p.create()
        p.refresh()
        p.destroy()
        p.undefine()
        pools = ["EVENT pool-LIFECYCLE %s detail=0 event=%d" % (pool, e)
                 for e in (libvirt.VIR_STORAGE_POOL_EVENT_DEFINED,
                           libvirt.VIR_STORAGE_POOL_EVENT_STARTED)]
        pools.append("EVENT pool-REFRESH %s" % pool)
        pools += ["EVENT pool-LIFECYCLE %s detail=0 event=%d" % (pool, e)
                  for e in (libvirt.VIR_STORAGE_POOL_EVENT_STOPPED,
                            libvirt.VIR_STORAGE_POOL_EVENT_UNDEFINED)]
        return {name: (lifecycle, legacy, metadata), net: nets, pool: pools}

    def check_monitor(self, loop, run_domain, readonly=True):
        mon = self.monitor(loop, readonly=readonly)
        want = self.exercise(loop + ("" if readonly else "-rw"), run_domain)
        (dname, (lifecycle, legacy, metadata)), (nname, nets), (pname, pools) = want.items()
        last = pools[-1]
        self.assertTrue(mon.wait_line(lambda l: l == last), mon.dump())
        for expected, kind in ((lifecycle, "domain-LIFECYCLE"), (legacy, "domain-legacy"),
                               (metadata, "domain-REBOOT|domain-METADATA_CHANGE")):
            wait_until(lambda: len([l for l in mon.drain(0.1) if is_event(l, kind, dname)])
                       >= len(expected), timeout=10)
        lines = mon.drain()
        for kind, name, expected in (("domain-LIFECYCLE", dname, lifecycle),
                                     ("domain-legacy", dname, legacy),
                                     ("domain-REBOOT|domain-METADATA_CHANGE", dname, metadata),
                                     ("network-LIFECYCLE", nname, nets),
                                     ("pool-LIFECYCLE", pname, [l for l in pools
                                                               if "LIFECYCLE" in l]),
                                     ("pool-REFRESH", pname, [pools[2]])):
            got = [l for l in lines if is_event(l, kind, name)]
            self.assertEqual(got, expected, "%s (%s loop)\n%s" % (kind, loop, mon.dump()))
        # nothing else about these objects, and no program error
        mine = [l for l in lines if any(" %s " % n in l + " " for n in (dname, nname, pname))]
        self.assertEqual(len(mine), len(lifecycle) + len(legacy) + len(metadata) + len(nets)
                         + len(pools), mon.dump())
        self.assertNotIn("Traceback", mon.raw["err"].decode(), mon.dump())
        mon.send(b"quit\n")
        self.assertEqual(mon.finish(), 0, mon.dump())
        self.assertIn("DEREGISTERED %d" % N_CALLBACKS, mon.lines + mon.drain(0), mon.dump())
        self.assertEqual(mon.raw["err"], b"", mon.dump())

    @needs_kvm
    def test_event_monitor_native(self):
        self.check_monitor("native", True)

    @needs_kvm
    def test_event_monitor_asyncio(self):
        self.check_monitor("asyncio", True)

    def test_event_monitor_rw_connection(self):
        """The same registrations and checks on a read-write connection (no
        domain run)."""
        self.check_monitor("asyncio", False, readonly=False)

    def test_close_callback(self):
        """The daemon going away reaches the close callback in both loops: EOF
        with the default loop; libvirtaio reports no HANGUP (asyncio's
        add_reader only says readable), so there the client's read of the EOF
        fails first and the reason is ERROR."""
        d = hyvetest.Daemon(name="close-callback").start()
        try:
            mons = [self.monitor(loop, uri=d.uri_ro) for loop in ("native", "asyncio")]
            d.stop()
            reasons = ({libvirt.VIR_CONNECT_CLOSE_REASON_EOF},
                       {libvirt.VIR_CONNECT_CLOSE_REASON_EOF,
                        libvirt.VIR_CONNECT_CLOSE_REASON_ERROR})
            for mon, want in zip(mons, reasons):
                line = mon.wait_line(lambda l: l.startswith("CLOSED"))
                self.assertTrue(line, mon.dump())
                self.assertIn(int(line.split()[1]), want, mon.dump())
                self.assertEqual(mon.finish(), 3, mon.dump())
        finally:
            d.cleanup()
        d.check_reports()

    # -- consolecallback.py's job ---------------------------------------------
    def check_console(self, loop):
        name = "cc-" + loop
        u = str(uuidlib.uuid4())
        dom = self.conn.defineXML(echoguest.domain_xml(name, self.kernel, uuid=u))
        con = self.program([sys.executable, CONSOLECLIENT, "--loop", loop, self.daemon.uri, u])
        shutoff = "STATE %d" % libvirt.VIR_DOMAIN_SHUTOFF
        self.assertTrue(con.wait_line(lambda l: l.startswith(shutoff)), con.dump())
        for round_, word in enumerate((b"ping", b"again")):
            dom.create()
            self.assertTrue(con.wait_line(lambda l: l == "CONSOLE open"),
                            "round %d: %s" % (round_, con.dump()))
            # the guest echoes upper case: these bytes went through it
            got = wait_until(lambda: self._echoed(con, word), timeout=30, step=0.5)
            self.assertTrue(got, "round %d: no %r from the guest; %s"
                            % (round_, word.upper(), con.dump()))
            seen = len(con.lines)
            dom.destroy()
            # the console's end and the STOPPED state come on two paths
            # (stream, event): either may be printed first
            ends = {"console": lambda l: l in ("CONSOLE closed", "CONSOLE eof"),
                    "state": lambda l: l.startswith(shutoff)}

            def missing():
                return [k for k, f in ends.items() if not any(map(f, con.lines[seen:]))]
            while missing() and con.wait_line(lambda l: any(f(l) for f in ends.values())):
                pass
            self.assertEqual(missing(), [], "round %d: %s" % (round_, con.dump()))
        con.send(b"\x1d")
        self.assertEqual(con.finish(), 0, con.dump())
        self.assertNotIn(b"ERROR", con.raw["err"], con.dump())
        dom.undefine()

    def _echoed(self, con, word):
        con.send(word + b"\r")
        return con.wait_raw("out", word.upper(), timeout=0.5)

    @needs_kvm
    def test_console_native(self):
        self.check_console("native")

    @needs_kvm
    def test_console_asyncio(self):
        self.check_console("asyncio")

    # -- the upstream examples, when a copy is at hand ---------------------------
    @needs_examples
    @needs_kvm
    def test_upstream_event_test(self):
        """event-test.py with each of its loops, the three at once: it runs
        for --timeout seconds whatever happens, so everything below must be
        over well before that."""
        script = os.path.join(EXAMPLES, "event-test.py")
        timeout = 60
        loops = ("native", "poll", "asyncio")
        exs = {}
        for loop in loops:
            exs[loop] = self.program([sys.executable, script, "--loop", loop, "--timeout",
                                      str(timeout), self.daemon.uri_ro],
                                     stdin=subprocess.DEVNULL)
        started = time.monotonic()
        for loop, ex in exs.items():
            self.assertTrue(ex.wait_line(lambda l: l.startswith("Using uri")), ex.dump())
        # they register everything after that line: wait until each printed
        # the events of one probe domain (at most a third of --timeout)
        pending = set(loops)
        for i in range(1000):
            if not pending or time.monotonic() - started > timeout / 3:
                break
            n = "probe-%d" % i
            self.conn.defineXML(echoguest.domain_xml(n, self.kernel))
            self.conn.lookupByName(n).undefine()
            for loop in sorted(pending):
                if exs[loop].wait_line(lambda l: ("Domain %s(-1) Undefined Removed" % n) in l,
                                       0.3):
                    pending.discard(loop)
        self.assertEqual(pending, set(), "no probe event after %.0f s: %s"
                         % (time.monotonic() - started,
                            "\n".join(exs[loop].dump() for loop in sorted(pending))))
        name = "up-events"
        dom = self.conn.defineXML(echoguest.domain_xml(name, self.kernel))
        dom.create()
        did = dom.ID()
        dom.suspend()
        dom.resume()
        dom.destroy()
        dom.undefine()
        want = ["Domain %s(-1) Defined Added" % name,
                "Domain %s(%d) Started Booted" % (name, did),
                "Domain %s(%d) Suspended Paused" % (name, did),
                "Domain %s(%d) Resumed Unpaused" % (name, did),
                "Domain %s(-1) Stopped Destroyed" % name,
                "Domain %s(-1) Undefined Removed" % name]
        done = time.monotonic() - started
        self.assertLess(done, timeout - 10, "the checks took %.0f s of event-test.py's "
                        "--timeout %d" % (done, timeout))
        for loop, ex in exs.items():
            self.assertEqual(ex.finish(timeout=timeout + 30), 0, ex.dump())
            lines = ex.drain(0)
            for cb in (1, 2):
                got = [l.split(" EVENT: ", 1)[1] for l in lines
                       if l.startswith("myDomainEventCallback%d EVENT: Domain %s(" % (cb, name))]
                self.assertEqual(got, want, "callback %d, loop %s: %s" % (cb, loop, ex.dump()))
            # With --timeout, 9.0.0's main() closes the connection and then its
            # atexit handler calls getURI() on it (an upstream bug, the same
            # with any driver): that one traceback is expected, no other.
            err = ex.raw["err"].decode("utf-8", "replace")
            err = err.split("Exception ignored in atexit callback", 1)[0]
            self.assertNotIn("Traceback", err, ex.dump())
            self.assertNotIn("ERROR", ex.raw["out"].decode(), ex.dump())

    @needs_examples
    @needs_kvm
    def test_upstream_consolecallback(self):
        script = os.path.join(EXAMPLES, "consolecallback.py")
        name = "up-console"
        u = str(uuidlib.uuid4())
        dom = self.conn.defineXML(echoguest.domain_xml(name, self.kernel, uuid=u))
        dom.create()
        master, slave = pty.openpty()
        cwd = hyvetest.make_tmpdir("hyve-it-cb-")      # it logs to ./msg.log
        proc = subprocess.Popen([sys.executable, script, self.daemon.uri, u], stdin=slave,
                                stdout=slave, stderr=slave, env=client_env(), cwd=cwd,
                                start_new_session=True)
        os.close(slave)
        out = b""

        def read(want, timeout):
            nonlocal out
            deadline = time.monotonic() + timeout
            while want not in out and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.1)
                if r:
                    try:
                        out += os.read(master, 4096)
                    except OSError:
                        break
            return want in out

        try:
            self.assertTrue(read(b"Escape character is ^]", 20), out)
            ok = False
            for _ in range(30):
                os.write(master, b"hello\r")
                if read(b"HELLO", 1):
                    ok = True
                    break
            self.assertTrue(ok, "no echo through consolecallback.py: %r" % out)
            os.write(master, b"\x1d")
            self.assertEqual(proc.wait(20), 0, out)
            with open(os.path.join(cwd, "msg.log")) as f:
                log = f.read()
            self.assertIn("%s initial state %d" % (u, libvirt.VIR_DOMAIN_RUNNING), log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
            dom.destroy()


if __name__ == "__main__":
    hyvetest.require_daemon()
    hyvetest.main()
