#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Consoles of running domains on the host (no lab): DOMAIN_OPEN_CONSOLE
through python3-libvirt streams and `virsh console` on a pty. One holder
per domain: a second open fails unless FORCE, which takes over (the old
stream gets an error); the holder is released when its stream ends; a
destroyed domain ends the stream with EOF. (Guest output on the console
is checked in the lab, where guests boot.)"""
import os
import pty
import select
import subprocess
import threading
import time

import libvirt

import hyvetest
from hyvetest import client_env
from test_lifecycle import RunningTestCase, err_of, wait_until

FORCE = libvirt.VIR_DOMAIN_CONSOLE_FORCE
SAFE = libvirt.VIR_DOMAIN_CONSOLE_SAFE
BUSY = "operation failed: Active console session exists for this domain"
TAKEN = "stream had I/O failure"


class StreamReader:
    """Blocking recv() of a python stream on a thread: what it returned,
    b'' for EOF, or the libvirtError it raised."""

    def __init__(self, stream):
        self.stream = stream
        self.data = b""
        self.result = None          # "eof" or ("error", code, message)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                chunk = self.stream.recv(4096)
                if chunk == b"" or chunk is None:
                    self.result = "eof"
                    return
                if isinstance(chunk, bytes):
                    self.data += chunk
        except libvirt.libvirtError as e:
            self.result = ("error", e.get_error_code(), e.get_error_message())

    def wait(self, timeout=15):
        self.thread.join(timeout)
        return self.result


class VirshConsole:
    """`virsh console NAME` with its stdin/stdout/stderr on a pty."""

    def __init__(self, uri, name, *opts):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([hyvetest.VIRSH, "-c", uri, "console"] + list(opts) + [name],
                                     stdin=slave, stdout=slave, stderr=slave,
                                     env=client_env(), start_new_session=True)
        os.close(slave)
        self.out = b""

    def read_until(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:         # EIO: virsh gone
                    break
                if not chunk:
                    break
                self.out += chunk
        return text.encode() in self.out

    def send(self, data):
        os.write(self.master, data)

    def wait(self, timeout=15):
        """Exit status (None if still running), output drained."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.read_until("\0never\0", timeout=0.3)
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)

    def text(self):
        return self.out.decode("utf-8", "replace")


def daemon_ptys(daemon):
    """How many /dev/pts descriptors the daemon holds: one per open console
    stream (virsh prints its banner before it opens the console)."""
    fd_dir = "/proc/%d/fd" % daemon.proc.pid
    n = 0
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)).startswith("/dev/pts/"):
                n += 1
        except OSError:
            pass
    return n


class ConsoleTest(RunningTestCase):

    def start(self, name):
        dom = self.define(name)
        dom.create()
        return dom

    def open_console(self, conn, name, flags=0, dev=None):
        st = conn.newStream(0)
        conn.lookupByName(name).openConsole(dev, st, flags)
        return st

    def test_python_holder_and_force(self):
        name = "con-py"
        self.start(name)
        c1 = libvirt.open(self.daemon.uri)
        c2 = libvirt.open(self.daemon.uri)
        try:
            st1 = self.open_console(c1, name, FORCE)
            # a second holder: refused, on another connection and on the same one
            for conn in (c2, c1):
                st = conn.newStream(0)
                self.assertEqual(err_of(conn.lookupByName(name).openConsole, None, st, 0),
                                 (libvirt.VIR_ERR_OPERATION_FAILED, BUSY))
                self.assertEqual(err_of(conn.lookupByName(name).openConsole, None, st, SAFE),
                                 (libvirt.VIR_ERR_OPERATION_FAILED, BUSY))
            # data goes to the pty (the guest's serial port) without error
            self.assertEqual(st1.send(b"\r\n"), 2)
            # From here c1 only reads st1: libvirt's client sends nothing else
            # on a connection while a thread blocks in recv on its stream.
            r1 = StreamReader(st1)
            # FORCE takes over: the old stream gets the error
            st2 = self.open_console(c2, name, FORCE | SAFE)
            r2 = StreamReader(st2)
            self.assertEqual(r1.wait(), ("error", libvirt.VIR_ERR_RPC, TAKEN))
            self.assertIsNone(r2.result, "new holder's stream ended early")
            self.assertEqual(daemon_ptys(self.daemon), 1, "the old holder's pty stays open")
            # the new holder holds: a plain open is refused again
            st = c1.newStream(0)
            self.assertEqual(err_of(c1.lookupByName(name).openConsole, None, st, 0)[1], BUSY)
            # (c2 is only st2's from here)
            # destroy: EOF on the holder's stream
            c1.lookupByName(name).destroy()
            self.assertEqual(r2.wait(), "eof")
            st2.finish()
            self.assertEqual(daemon_ptys(self.daemon), 0, "pty open after the stream ended")
            # inactive: OPERATION_INVALID
            st = c1.newStream(0)
            self.assertEqual(err_of(c1.lookupByName(name).openConsole, None, st, 0),
                             (libvirt.VIR_ERR_OPERATION_INVALID,
                              "Requested operation is not valid: domain is not running"))
            # EOF released the holder: after a restart a plain open works
            c1.lookupByName(name).create()
            st3 = self.open_console(c1, name, 0)
            st3.finish()
        finally:
            c1.close()
            c2.close()

    def test_release(self):
        """The holder goes when its stream ends: finish, abort, disconnect."""
        name = "con-release"
        self.start(name)
        st = self.open_console(self.conn, name)
        st.finish()
        st = self.open_console(self.conn, name)
        st.abort()
        other = libvirt.open(self.daemon.uri)
        self.open_console(other, name)
        other.close()           # no finish: the connection just goes
        st = wait_until(lambda: self._try_open(name), timeout=10)
        self.assertTrue(st, "console still held after its client disconnected")
        st.finish()

    def _try_open(self, name):
        try:
            return self.open_console(self.conn, name)
        except libvirt.libvirtError as e:
            if e.get_error_message() != BUSY:
                raise
            return None

    def test_devices_and_errors(self):
        name = "con-dev"
        self.start(name)
        for dev in ("serial0", "console0"):
            st = self.open_console(self.conn, name, 0, dev)
            st.finish()
        st = self.conn.newStream(0)
        code, msg = err_of(self.conn.lookupByName(name).openConsole, "serial7", st, 0)
        self.assertEqual(code, libvirt.VIR_ERR_INTERNAL_ERROR, msg)
        self.assertIn("serial7", msg)
        st = self.conn.newStream(0)
        self.assertEqual(err_of(self.conn.lookupByName(name).openConsole, None, st, 4)[0],
                         libvirt.VIR_ERR_INVALID_ARG)
        # the failed opens left no holder
        st = self.open_console(self.conn, name)
        st.finish()
        ro = libvirt.openReadOnly(self.daemon.uri_ro)
        try:
            st = ro.newStream(0)
            self.assertEqual(err_of(ro.lookupByName(name).openConsole, None, st, 0),
                             (libvirt.VIR_ERR_OPERATION_DENIED,
                              "operation forbidden: read only access prevents "
                              "virDomainOpenConsole"))
        finally:
            ro.close()

    def test_virsh_console(self):
        name = "con-virsh"
        self.start(name)
        v1 = VirshConsole(self.daemon.uri, name)
        v2 = None
        try:
            self.assertTrue(v1.read_until("Escape character is ^]"), v1.text())
            self.assertTrue(wait_until(lambda: daemon_ptys(self.daemon) == 1, timeout=10),
                            "virsh console did not open the console: " + v1.text())
            self.assertIsNone(v1.proc.poll(), "virsh console exited: " + v1.text())
            # python without FORCE: busy
            st = self.conn.newStream(0)
            self.assertEqual(err_of(self.conn.lookupByName(name).openConsole, None, st, 0),
                             (libvirt.VIR_ERR_OPERATION_FAILED, BUSY))
            # a second virsh without --force: the same error, exit 1
            v2 = VirshConsole(self.daemon.uri, name)
            self.assertEqual(v2.wait(), 1, v2.text())
            self.assertIn("error: " + BUSY, v2.text())
            v2.close()
            # virsh console --force takes over: the first virsh gets the error
            v2 = VirshConsole(self.daemon.uri, name, "--force")
            self.assertTrue(v2.read_until("Escape character is ^]"), v2.text())
            self.assertEqual(v1.wait(), 1, v1.text())
            self.assertIn(TAKEN, v1.text())
            self.assertEqual(daemon_ptys(self.daemon), 1, "the old holder's pty stays open")
            # typing reaches the console without trouble; Ctrl-] leaves, exit 0
            v2.send(b"root\r")
            time.sleep(0.2)
            v2.send(b"\x1d")
            self.assertEqual(v2.wait(), 0, v2.text())
            v2.close()
            # which released the console: virsh again, then destroy -> EOF, exit 0
            v2 = VirshConsole(self.daemon.uri, name)
            self.assertTrue(v2.read_until("Escape character is ^]"), v2.text())
            self.assertTrue(wait_until(lambda: daemon_ptys(self.daemon) == 1, timeout=10),
                            "virsh console did not open the console: " + v2.text())
            self.assertIsNone(v2.proc.poll(), "virsh console exited: " + v2.text())
            self.conn.lookupByName(name).destroy()
            self.assertEqual(v2.wait(), 0, v2.text())
            # inactive: virsh refuses by itself
            v3 = VirshConsole(self.daemon.uri, name)
            self.assertEqual(v3.wait(), 1, v3.text())
            self.assertIn("error: The domain is not running", v3.text())
            v3.close()
        finally:
            v1.close()
            if v2:
                v2.close()


if __name__ == "__main__":
    hyvetest.require_daemon()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        hyvetest.skip("no usable /dev/kvm")
    hyvetest.main()
