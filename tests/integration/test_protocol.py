#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Raw-socket behaviour: unknown procedures, garbage and oversized
packets (that client is dropped, the others keep working) and a client
that never reads (must not block anybody else)."""
import socket
import struct
import time

import libvirt

import hyvetest
import hyverpc
from hyverpc import RawClient, packet, u32

PROC_SUPPORTS_FEATURE = 60
PROC_GET_URI = 110


def is_dropped(sock, timeout=10):
    """True when the daemon closed SOCK (EOF or reset) within TIMEOUT seconds."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                return True
            # the daemon may answer something first (e.g. an error reply); keep reading
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


class ProtocolTest(hyvetest.DaemonTestCase):

    def setUp(self):
        # A well-behaved client that must keep working throughout.
        self.good = libvirt.open(self.daemon.uri)

    def tearDown(self):
        self.assertEqual(self.good.getType(), "BHYVE")
        self.good.close()
        self.assertDaemonAlive()

    def test_unknown_procedure_raw(self):
        c = RawClient(self.daemon.sock)
        try:
            c.open()
            for proc in (9999, 100000, 426 + 10000):
                with self.assertRaises(hyverpc.RemoteError) as cm:
                    c.call(proc)
                e = cm.exception
                self.assertEqual((e.code, e.domain, e.level), (39, 7, 2), str(e))
                self.assertEqual(e.message, "unknown procedure: %d" % proc)
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()

    def test_unknown_program(self):
        c = RawClient(self.daemon.sock)
        try:
            c.open()
            c.send_raw(packet(3, 77, prog=0x12345678))
            prog, vers, proc, mtype, serial, status, body = c.recv_packet()
            self.assertEqual((mtype, serial, status), (hyverpc.REPLY, 77, hyverpc.ERROR))
            e = hyverpc.decode_error(body)
            self.assertEqual(e.code, 39, str(e))
            c.serial = 78
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()

    def test_calls_before_open(self):
        c = RawClient(self.daemon.sock)
        try:
            self.assertEqual(c.auth_list(), [0])
            with self.assertRaises(hyverpc.RemoteError):
                c.call(hyverpc.PROC_CONNECT_LIST_ALL_DOMAINS, u32(1) + u32(0))
            c.call(hyverpc.PROC_CONNECT_OPEN, hyverpc.opt_string("bhyve:///system") + u32(0))
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()

    def test_preamble(self):
        # What libvirt 9.0 clients send before any real call.
        c = RawClient(self.daemon.sock)
        try:
            self.assertEqual(c.auth_list(), [0])
            feature = lambda n: hyverpc.Reader(c.call(PROC_SUPPORTS_FEATURE, hyverpc.i32(n))).i32()
            self.assertIn(feature(10), (0, 1))          # keepalive, asked before OPEN
            c.call(hyverpc.PROC_CONNECT_OPEN, hyverpc.opt_string("bhyve:///system") + u32(0))
            self.assertEqual(feature(14), 1)            # REMOTE_EVENT_CALLBACK
            self.assertIn(feature(15), (0, 1))          # REMOTE_CLOSE_CALLBACK
            for migration in (1, 3, 4, 5, 6):
                self.assertEqual(feature(migration), 0, "migration feature %d" % migration)
            # a second CONNECT_OPEN on the same connection is refused
            with self.assertRaises(hyverpc.RemoteError):
                c.call(hyverpc.PROC_CONNECT_OPEN, hyverpc.opt_string("bhyve:///system") + u32(0))
            self.assertEqual(c.get_type(), "BHYVE")
            c.call(hyverpc.PROC_CONNECT_CLOSE)
        finally:
            c.close()

    def test_open_without_uri(self):
        # `virsh` with no URI sends "" and then asks CONNECT_GET_URI.
        c = RawClient(self.daemon.sock)
        try:
            c.open("")
            uri = hyverpc.Reader(c.call(PROC_GET_URI)).string()
            self.assertEqual(uri, "bhyve:///system")
        finally:
            c.close()

    def test_garbage_dropped(self):
        cases = {
            "all ones": b"\xff" * 64,
            "length below header": u32(8) + b"\0" * 4,
            "length zero": u32(0) * 8,
            "oversized length": u32(hyverpc.MAX_MESSAGE + 4 + 1) + b"\0" * 24,
            "huge length": u32(0x7fffffff) + b"\0" * 24,
        }
        for name, data in cases.items():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.daemon.sock)
            try:
                s.sendall(data)
                self.assertTrue(is_dropped(s), "%s: daemon kept the connection" % name)
            finally:
                s.close()
            self.assertEqual(self.good.getHostname(), socket.gethostname(), name)

    def test_truncated_call_payload(self):
        # A well-framed CALL whose payload is too short to decode: error or
        # drop, but never a crash; other clients keep working.
        c = RawClient(self.daemon.sock)
        try:
            c.open()
            c.send_raw(packet(hyverpc.PROC_DOMAIN_DEFINE_XML, 5, u32(1000) + b"abc\0"))
            try:
                prog, vers, proc, mtype, serial, status, body = c.recv_packet()
                self.assertEqual((proc, serial, status),
                                 (hyverpc.PROC_DOMAIN_DEFINE_XML, 5, hyverpc.ERROR))
            except (ConnectionError, OSError):
                pass   # dropping the client is acceptable too
        finally:
            c.close()
        self.assertEqual(self.good.getType(), "BHYVE")

    def test_big_valid_packet_accepted(self):
        # Just under the 4 MiB string limit: a legal (if silly) define that
        # fails with an XML error, not a dropped connection.
        c = RawClient(self.daemon.sock, timeout=30)
        try:
            c.open()
            big = "<domain type='bhyve'><name>big</name><description>" + "x" * (3 << 20)
            with self.assertRaises(hyverpc.RemoteError) as cm:
                c.define_xml(big)
            self.assertEqual(cm.exception.code, 27, str(cm.exception))
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()

    def test_pipelined_calls(self):
        # 100 calls in one write: more than the daemon handles per wakeup
        # and than max_client_requests (reading pauses with whole packets
        # still buffered, and must resume). Inline calls (GET_TYPE,
        # LIST_ALL_DOMAINS), worker calls (GET_CAPABILITIES) and errors
        # (unknown procedure): each answered exactly once, with its proc.
        c = RawClient(self.daemon.sock, timeout=30)
        try:
            c.open()
            kinds = [(hyverpc.PROC_CONNECT_GET_TYPE, b""),
                     (hyverpc.PROC_CONNECT_LIST_ALL_DOMAINS, struct.pack(">iI", 1, 0)),
                     (hyverpc.PROC_CONNECT_GET_CAPABILITIES, b""),
                     (9999, b"")]
            calls = {1000 + i: kinds[i % len(kinds)] for i in range(100)}
            c.send_raw(b"".join(packet(proc, serial, arg)
                                for serial, (proc, arg) in calls.items()))
            seen = {}
            while len(seen) < len(calls):
                prog, vers, proc, mtype, serial, status, body = c.recv_packet()
                if mtype == hyverpc.MESSAGE:
                    continue
                self.assertNotIn(serial, seen, "serial %d answered twice" % serial)
                self.assertIn(serial, calls, "reply to unknown serial %d" % serial)
                self.assertEqual(proc, calls[serial][0], "serial %d" % serial)
                seen[serial] = status
            for serial, (proc, _) in calls.items():
                self.assertEqual(seen[serial], hyverpc.ERROR if proc == 9999 else hyverpc.OK,
                                 "serial %d proc %d" % (serial, proc))
            # one call dribbled a byte at a time, then the stream is in sync
            for byte in packet(hyverpc.PROC_CONNECT_GET_TYPE, 5000):
                c.send_raw(bytes([byte]))
                time.sleep(0.001)
            prog, vers, proc, mtype, serial, status, body = c.recv_packet()
            self.assertEqual((serial, proc, status),
                             (5000, hyverpc.PROC_CONNECT_GET_TYPE, hyverpc.OK))
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()

    def test_many_idle_connections(self):
        # Idle, never-authenticated connections: a few of them must not stop
        # new clients; a flood of them must not disturb clients already
        # connected, and new clients get in again once the flood is gone.
        # (Like libvirtd's max_anonymous_clients, the daemon may hold new
        # connections off while too many are still unauthenticated.)
        def idle(n):
            socks = []
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.daemon.sock)
                socks.append(s)
            return socks

        few = idle(5)
        try:
            conn = libvirt.open(self.daemon.uri)
            self.assertEqual(conn.getType(), "BHYVE")
            conn.close()
        finally:
            for s in few:
                s.close()

        flood = []
        try:
            flood = idle(100)
            for i in range(10):
                self.assertEqual(self.good.getHostname(), socket.gethostname(), i)
        finally:
            for s in flood:
                s.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = libvirt.open(self.daemon.uri)
                break
            except libvirt.libvirtError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.assertEqual(conn.getType(), "BHYVE")
        conn.close()

    def test_client_that_never_reads(self):
        # Fill the daemon's outgoing queue towards a client that never
        # reads its replies; others must not wait for it.
        c = RawClient(self.daemon.sock)
        c.open()
        c.sock.setblocking(False)
        call = packet(hyverpc.PROC_CONNECT_GET_CAPABILITIES, 0)
        sent = 0
        stalled_since = None
        deadline = time.monotonic() + 15
        try:
            while time.monotonic() < deadline and sent < 20000:
                try:
                    c.sock.send(call)
                    sent += 1
                    stalled_since = None
                except BlockingIOError:
                    # both socket buffers are full: the daemon stopped reading us
                    if stalled_since is None:
                        stalled_since = time.monotonic()
                    elif time.monotonic() - stalled_since > 1.0:
                        break
                    time.sleep(0.01)
            self.assertGreater(sent, 100)
            t0 = time.monotonic()
            for i in range(20):
                conn = libvirt.open(self.daemon.uri)
                self.assertEqual(conn.getType(), "BHYVE", i)
                self.assertTrue(conn.getCapabilities().startswith("<capabilities"), i)
                conn.close()
                self.assertEqual(self.good.getHostname(), socket.gethostname(), i)
            self.assertLess(time.monotonic() - t0, 20, "other clients were slowed down")
        finally:
            c.close()


if __name__ == "__main__":
    hyvetest.main()
