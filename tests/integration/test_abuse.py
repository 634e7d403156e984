#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile and greedy clients against one system-mode daemon with tight
limits (virtbhyved.conf below): clients vanishing mid-call and mid-stream,
garbage and oversized packets, string/array limits, clients that never
read (events, a volume download), connection floods, max_clients,
pipelined calls against max_client_requests / max_workers.

After every case: the daemon is alive, a well-behaved python client (one
connection held for the whole run) and virsh get answers, and the
daemon's descriptor count is back to its baseline. Each case prints its
figures (fds, RSS, times); the last lines are a summary table.
"""
import os
import random
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

import libvirt

import hyvetest
from hyvetest import fd_count, memory_checker, stable_fd_count
import hyverpc
from hyverpc import RawClient, packet, u32, i32, string

CONFIG = {
    "max_clients": 40,
    "max_anonymous_clients": 10,
    "max_workers": 4,
    "prio_workers": 2,
    "max_client_requests": 5,
    "max_client_streams": 8,
    "max_client_queue": 262144,
    "keepalive_interval": 1,
    "keepalive_count": 3,
}

STREAM = 3
CONTINUE = 2
PROC_SUPPORTS_FEATURE = 60
PROC_VOL_UPLOAD = 208
PROC_VOL_DOWNLOAD = 209
PROC_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316
PROC_GET_ALL_DOMAIN_STATS = 344
PROC_LIST_DOMAINS = 37
PROC_DOMAIN_OPEN_CONSOLE = 201
PROC_DOMAIN_SUSPEND = 34
STRING_MAX = 4194304
DOMAIN_LIST_MAX = 16384
VOL_SIZE = 32 << 20

FIGURES = []
# valgrind/sanitizer runs are slower: time bounds scale with hyvetest's factor
SCALE = getattr(hyvetest, "TIMEOUT_SCALE", 1.0)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def raw_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def dropped(sock, timeout=10):
    timeout *= SCALE
    """True when the daemon closed SOCK within TIMEOUT (anything it still
    sends first is read and ignored)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(1 << 20):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def vol_xml(name, capacity):
    return ("<volume><name>%s</name><capacity unit='bytes'>%d</capacity>"
            "<target><format type='raw'/></target></volume>" % (name, capacity))


def nonnull_vol(pool, name, key):
    return string(pool) + string(name) + string(key)


class AbuseTest(hyvetest.DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        confdir = hyvetest.make_tmpdir("hyve-it-abuse-conf-")
        conf = os.path.join(confdir, "virtbhyved.conf")
        with open(conf, "w") as f:
            for k, v in CONFIG.items():
                f.write("%s = %d\n" % (k, v))
            if os.geteuid() != 0:
                f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
        cls.daemon_args = ("--config", conf)
        super().setUpClass()
        cls.pid = cls.daemon.proc.pid
        # instrumented daemon: RSS bounds are skipped, time bounds x5
        cls.checked = memory_checker(cls.pid)
        cls.slow = 5.0 if cls.checked else 1.0
        cls.good = libvirt.open(cls.daemon.uri)
        pool = cls.good.storagePoolLookupByName("default")
        if not pool.isActive():
            pool.create(0)
        cls.pool = pool
        cls.vol = pool.createXML(vol_xml("abuse.img", VOL_SIZE), 0)
        # data the transfers below move: not all zeros
        st = cls.good.newStream(0)
        cls.vol.upload(st, 0, 1 << 20, 0)
        cls.pattern = bytes(random.Random(7).getrandbits(8) for _ in range(4096)) * 256
        st.send(cls.pattern)
        st.finish()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.good.close()
        except libvirt.libvirtError:
            pass
        print("\nsummary (daemon %s, limits %s):" % (
            "as root" if os.geteuid() == 0 else "unprivileged",
            " ".join("%s=%d" % kv for kv in CONFIG.items())))
        print("  %-34s %9s %9s %10s %10s %9s" % ("case", "fds pre", "fds post",
                                                "RSS pre", "RSS post", "good max"))
        for f in FIGURES:
            print("  %-34s %9d %9d %7d KiB %7d KiB %7.0f ms" % f)
        super().tearDownClass()

    # -- the checks after every case ------------------------------------
    def setUp(self):
        self.fds0 = stable_fd_count(self.pid)
        self.rss0 = rss_kib(self.pid)
        self.good_max = 0.0

    def good_call(self):
        """One round of the well-behaved client; returns its latency in s."""
        t0 = time.monotonic()
        self.assertEqual(self.good.getType(), "BHYVE")
        self.good.listAllDomains(0)
        dt = time.monotonic() - t0
        self.good_max = max(self.good_max, dt)
        return dt

    def after(self, case):
        self.assertDaemonAlive()
        self.good_call()
        out = hyvetest.virsh(self.daemon.uri, "pool-list", "--all", "--name").stdout
        self.assertIn("default", out.split(), case)
        fds = stable_fd_count(self.pid)
        rss = rss_kib(self.pid)
        FIGURES.append((case, self.fds0, fds, self.rss0, rss, self.good_max * 1000))
        print("%s: daemon fds %d -> %d, RSS %d -> %d KiB, slowest good call %.0f ms"
              % (case, self.fds0, fds, self.rss0, rss, self.good_max * 1000))
        self.assertEqual(fds, self.fds0, "%s: daemon descriptors leaked" % case)
        self.assertLess(self.good_max, 2.0 * SCALE * self.slow,
                        "%s: the good client waited" % case)

    def opened(self, path=None):
        c = RawClient(path or self.daemon.sock)
        try:
            c.open("bhyve:///system", 0)
        except BaseException:
            c.close()
            raise
        return c

    def vol_arg(self):
        return nonnull_vol("default", "abuse.img", self.vol.key())

    # -- vanishing clients ------------------------------------------------
    def test_half_packets(self):
        call = packet(hyverpc.PROC_CONNECT_GET_CAPABILITIES, 1)
        pieces = [u32(1000)[:2], u32(1000), u32(1000) + b"\0" * 10, call[:27],
                  u32(28 + STRING_MAX) + call[4:28] + u32(STRING_MAX) + b"x" * 1000]
        n = 0
        for i in range(60):
            for j, piece in enumerate(pieces):
                if i % 2:
                    c = self.opened()
                    s = c.sock
                else:
                    s = raw_connect(self.daemon.sock)
                s.sendall(piece)
                s.close()
                n += 1
            self.good_call()
        print("half packets: %d connections sent part of a packet and closed" % n)
        self.after("half packets, close")

    def test_close_before_reply(self):
        n = 0
        for i in range(100):
            c = self.opened()
            c.send_raw(packet(hyverpc.PROC_CONNECT_GET_CAPABILITIES, 10) +
                       packet(hyverpc.PROC_CONNECT_LIST_ALL_DOMAINS, 11, i32(1) + u32(0)) +
                       packet(hyverpc.PROC_CONNECT_GET_HOSTNAME, 12))
            c.close()
            n += 3
        print("close before reply: %d calls whose client was gone" % n)
        self.after("calls, close before reply")

    # -- vanishing mid-stream ---------------------------------------------
    def check_volume_usable(self):
        t0 = time.monotonic()
        while True:
            st = self.good.newStream(0)
            try:
                self.vol.download(st, 0, 1 << 20, 0)
                break
            except libvirt.libvirtError as e:
                # released asynchronously after the client vanished
                if "still in use" not in str(e) or time.monotonic() - t0 > 5 * SCALE:
                    raise
                time.sleep(0.01)
        got = b""
        while len(got) < (1 << 20):
            chunk = st.recv(1 << 18)
            if not chunk:
                break
            got += chunk
        st.finish()
        self.assertEqual(got, self.pattern, "volume contents after the aborted transfer")

    def test_upload_aborted_by_close(self):
        busy_max = 0.0
        for i in range(10):
            c = self.opened()
            # the transfer of the previous client is released asynchronously
            # once the daemon saw its socket close: "still in use" until then
            t0 = time.monotonic()
            while True:
                try:
                    c.call(PROC_VOL_UPLOAD,
                           self.vol_arg() + struct.pack(">QQI", 2 << 20, 4 << 20, 0))
                    break
                except hyverpc.RemoteError as e:
                    if "still in use" not in e.message or time.monotonic() - t0 > 5 * SCALE:
                        raise
                    time.sleep(0.01)
            busy_max = max(busy_max, time.monotonic() - t0)
            for k in range(8):
                c.send_raw(packet(PROC_VOL_UPLOAD, c.serial - 1, b"\x5a" * 65536,
                                  mtype=STREAM, status=CONTINUE))
            c.close()
        print("upload aborted by close x10: volume released %.0f ms at most after the "
              "client vanished" % (busy_max * 1000))
        self.check_volume_usable()
        self.after("upload, socket closed mid-stream")

    def test_download_aborted_by_close(self):
        for i in range(10):
            c = self.opened()
            c.call(PROC_VOL_DOWNLOAD, self.vol_arg() + struct.pack(">QQI", 0, VOL_SIZE, 0))
            got = 0
            while got < 256 * 1024:
                prog, vers, proc, mtype, serial, status, body = c.recv_packet()
                self.assertEqual((proc, mtype, status), (PROC_VOL_DOWNLOAD, STREAM, CONTINUE))
                got += len(body)
            c.close()
        self.check_volume_usable()
        self.after("download, socket closed mid-stream")

    # -- garbage ------------------------------------------------------------
    def test_garbage(self):
        rng = random.Random(1234)
        outcomes = {"dropped": 0, "kept": 0}
        for i in range(300):
            s = raw_connect(self.daemon.sock)
            blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2048)))
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR) if i % 3 == 0 else None
            outcomes["dropped" if dropped(s, 0.2) else "kept"] += 1
            s.close()
            if i % 50 == 0:
                self.good_call()
        print("random garbage: 300 connections, %(dropped)d dropped by the daemon, "
              "%(kept)d still open after 0.2 s (then closed by us)" % outcomes)
        self.after("random garbage")

    def test_malformed_headers(self):
        hdr = lambda **kw: packet(hyverpc.PROC_CONNECT_GET_TYPE, 50, **kw)
        # (name, bytes, expected): "error" = an error reply with the call's
        # serial, connection kept; "ignored" = no answer, connection kept;
        # "dropped" = the daemon closes the connection
        cases = [
            ("wrong program", hdr(prog=0x11223344), "error"),
            ("wrong version", hdr(vers=7), "error"),
            ("call with status ERROR", hdr(status=1), "error"),
            ("type REPLY from a client", hdr(mtype=hyverpc.REPLY), "ignored"),
            ("type MESSAGE from a client", hdr(mtype=hyverpc.MESSAGE), "ignored"),
            ("STREAM for no stream", hdr(mtype=STREAM, status=CONTINUE), "ignored"),
            ("unknown type 99", hdr(mtype=99), "ignored"),
            ("length 0", u32(0) + b"\0" * 24, "dropped"),
            ("length 4", u32(4) + b"\0" * 24, "dropped"),
            ("length 27", u32(27) + b"\0" * 24, "dropped"),
            ("length 28, header cut", u32(28) + b"\0" * 24, "error"),
            ("length 2^31", u32(1 << 31) + b"\0" * 24, "dropped"),
            ("length 2^32-1", u32(0xffffffff) + b"\0" * 24, "dropped"),
            ("length 32 MiB + 5", u32(hyverpc.MAX_MESSAGE + 5) + b"\0" * 24, "dropped"),
        ]
        for name, data, want in cases:
            c = self.opened()
            try:
                c.send_raw(data)
                if want == "dropped":
                    self.assertTrue(dropped(c.sock, 5), name)
                    continue
                c.sock.settimeout(1.0 if want == "ignored" else 10)
                try:
                    prog, vers, proc, mtype, serial, status, body = c.recv_packet()
                    got = ("error" if (mtype, status) == (hyverpc.REPLY, hyverpc.ERROR)
                           else "answer type %d status %d" % (mtype, status))
                    if got == "error" and name != "length 28, header cut":
                        self.assertEqual(serial, 50, name)
                except socket.timeout:
                    got = "ignored"
                self.assertEqual(got, want, name)
                c.sock.settimeout(10)
                c.serial = 100
                self.assertEqual(c.get_type(), "BHYVE", name + ": connection kept")
            finally:
                c.close()
        print("malformed headers: %d cases answered/ignored/dropped as expected" % len(cases))
        self.after("malformed headers")

    # -- sizes -----------------------------------------------------------------
    def test_message_and_string_limits(self):
        c = RawClient(self.daemon.sock, timeout=60)
        c.open()
        try:
            # a CALL of the largest legal length (32 MiB after the length
            # word): read whole and answered (its payload does not decode)
            body = b"\0" * (hyverpc.MAX_MESSAGE - 24)
            t0 = time.monotonic()
            c.send_raw(packet(hyverpc.PROC_CONNECT_GET_TYPE, 70, body))
            prog, vers, proc, mtype, serial, status, reply = c.recv_packet()
            e = hyverpc.decode_error(reply)
            self.assertEqual((serial, status, e.code, e.message),
                             (70, hyverpc.ERROR, 39, "Unable to decode message payload"))
            print("32 MiB call answered in %.2f s, RSS now %d KiB"
                  % (time.monotonic() - t0, rss_kib(self.pid)))
            # strings: 4 MiB is the limit (libvirt's REMOTE_STRING_MAX)
            with self.assertRaises(hyverpc.RemoteError) as cm:
                c.define_xml("x" * (STRING_MAX + 1))
            self.assertEqual((cm.exception.code, cm.exception.message),
                             (39, "Unable to decode message payload"))
            with self.assertRaises(hyverpc.RemoteError) as cm:
                c.define_xml("<domain>" + "x" * (STRING_MAX - 8))
            self.assertEqual(cm.exception.code, 27, str(cm.exception))   # XML error
            # arrays: 16384 domains at most in GET_ALL_DOMAIN_STATS
            dom = string("") + b"\0" * 16 + i32(-1)
            with self.assertRaises(hyverpc.RemoteError) as cm:
                c.call(PROC_GET_ALL_DOMAIN_STATS, u32(DOMAIN_LIST_MAX + 1) +
                       dom * (DOMAIN_LIST_MAX + 1) + u32(0) + u32(0))
            self.assertEqual((cm.exception.code, cm.exception.message),
                             (39, "Unable to decode message payload"))
            try:
                c.call(PROC_GET_ALL_DOMAIN_STATS, u32(DOMAIN_LIST_MAX) +
                       dom * DOMAIN_LIST_MAX + u32(0) + u32(0))
            except hyverpc.RemoteError as e:
                self.assertNotEqual(e.code, 39, str(e))
            # counts asked of the daemon beyond the protocol's limits
            with self.assertRaises(hyverpc.RemoteError) as cm:
                c.call(PROC_LIST_DOMAINS, i32(DOMAIN_LIST_MAX + 1))
            print("list of %d domain ids: %s" % (DOMAIN_LIST_MAX + 1, cm.exception))
            # the same again: what the first round left in the allocator is
            # reused, nothing grows per round
            rss_first = rss_kib(self.pid)
            for i in range(3):
                c.send_raw(packet(hyverpc.PROC_CONNECT_GET_TYPE, 80 + i, body))
                self.assertEqual(c.recv_packet()[5], hyverpc.ERROR)
                with self.assertRaises(hyverpc.RemoteError):
                    c.define_xml("<domain>" + "x" * (STRING_MAX - 8))
            rss_more = rss_kib(self.pid)
            print("3 more rounds of 32 MiB calls and 4 MiB strings: RSS %d -> %d KiB"
                  % (rss_first, rss_more))
            if not self.checked:
                self.assertLess(rss_more - rss_first, 8 * 1024)
            c.serial = 100
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()
        # before CONNECT_OPEN only small packets are read
        s = raw_connect(self.daemon.sock)
        s.sendall(u32(1 << 20) + b"\0" * 24)
        self.assertTrue(dropped(s, 5), "1 MiB packet before open")
        s.close()
        self.after("max-size call, 4 MiB strings")

    # -- clients that never read --------------------------------------------
    def test_never_reads_events(self):
        c = self.opened()
        for i in range(50):
            c.call(PROC_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, i32(0) + u32(0))
        # from now on c never reads
        fds_with = stable_fd_count(self.pid)
        rss_before = rss_kib(self.pid)
        t0 = time.monotonic()
        pairs = 0
        rss_peak = rss_before
        while time.monotonic() - t0 < 60 * SCALE:
            name = "abuse-ev-%d" % pairs
            self.good.defineXML(hyvetest.domain_xml(name)).undefine()
            pairs += 1
            self.good_call()
            rss_peak = max(rss_peak, rss_kib(self.pid))
            if fd_count(self.pid) < fds_with:
                break
        detect = time.monotonic() - t0
        self.assertLess(fd_count(self.pid), fds_with, "the non-reading client was not dropped")
        print("never reads (events): dropped after %.2f s, %d define+undefine pairs = %d "
              "event messages for it; RSS %d -> peak %d KiB"
              % (detect, pairs, pairs * 2 * 50, rss_before, rss_peak))
        self.assertIn("queued and not read, dropping it", self.daemon.log())
        self.assertLess(rss_peak - rss_before, 32 * 1024)
        c.close()
        self.after("never reads: 50 event callbacks")

    def test_never_reads_download(self):
        c = self.opened()
        c.call(PROC_VOL_DOWNLOAD, self.vol_arg() + struct.pack(">QQI", 0, VOL_SIZE, 0))
        rss_before = rss_kib(self.pid)
        peak = rss_before
        for i in range(30):
            time.sleep(0.1)
            self.good_call()
            peak = max(peak, rss_kib(self.pid))
        print("never reads (download of %d MiB): RSS %d -> peak %d KiB over 3 s, "
              "connection kept (the stream waits for the client)"
              % (VOL_SIZE >> 20, rss_before, peak))
        self.assertLess(peak - rss_before, 8 * 1024, "the daemon buffered the stream")
        c.close()
        self.check_volume_usable()
        self.after("never reads: volume download")

    def test_never_reads_keepalive(self):
        # A client that negotiated keepalive and then neither reads nor
        # answers: dropped after keepalive_interval * keepalive_count.
        c = self.opened()
        self.assertEqual(hyverpc.Reader(c.call(PROC_SUPPORTS_FEATURE, i32(10))).i32(), 1)
        fds_with = stable_fd_count(self.pid)
        t0 = time.monotonic()
        while fd_count(self.pid) >= fds_with and time.monotonic() - t0 < 30 * SCALE:
            time.sleep(0.05)
        detect = time.monotonic() - t0
        print("never reads (keepalive): dropped after %.2f s (interval %d s x count %d)"
              % (detect, CONFIG["keepalive_interval"], CONFIG["keepalive_count"]))
        self.assertLess(fd_count(self.pid), fds_with)
        self.assertLess(detect, (CONFIG["keepalive_interval"] * (CONFIG["keepalive_count"] + 2) + 2)
                        * SCALE)
        c.close()
        self.after("never reads: keepalive silent")

    def test_never_reads_calls(self):
        # Calls piled up by a client that does not read its replies: the
        # daemon stops reading it at max_client_requests replies queued.
        c = self.opened()
        c.sock.setblocking(False)
        call = packet(hyverpc.PROC_CONNECT_GET_CAPABILITIES, 0)
        sent, stalled = 0, None
        rss_before = rss_kib(self.pid)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            try:
                c.sock.send(call)
                sent += 1
                stalled = None
            except BlockingIOError:
                if stalled is None:
                    stalled = time.monotonic()
                elif time.monotonic() - stalled > 1.0:
                    break
                time.sleep(0.01)
        self.good_call()
        print("never reads (calls): the daemon stopped taking calls after %d were sent; "
              "RSS %d -> %d KiB" % (sent, rss_before, rss_kib(self.pid)))
        self.assertIsNotNone(stalled, "the daemon kept reading calls")
        c.close()
        self.after("never reads: pipelined calls")

    # -- floods and limits -------------------------------------------------
    def test_rapid_connections(self):
        t0 = time.monotonic()
        for i in range(1000):
            raw_connect(self.daemon.sock if i % 2 else self.daemon.sock_ro).close()
        raw_s = time.monotonic() - t0
        t0 = time.monotonic()
        for i in range(100):
            libvirt.open(self.daemon.uri).close()
            libvirt.openReadOnly(self.daemon.uri_ro).close()
        lv_s = time.monotonic() - t0
        print("rapid connections: 1000 raw connect+close in %.2f s, 200 libvirt "
              "open+close in %.2f s" % (raw_s, lv_s))
        self.after("1000 raw + 200 libvirt connections")

    def test_max_clients(self):
        held = []
        try:
            # max_clients counts every connection, the good one included
            for i in range(CONFIG["max_clients"] - 1):
                held.append(self.opened() if i % 2 else self.opened(self.daemon.sock_ro))
            extra = raw_connect(self.daemon.sock)
            self.assertTrue(dropped(extra, 5), "connection beyond max_clients kept")
            extra.close()
            for c in held[:5]:
                self.assertEqual(c.get_type(), "BHYVE")
            self.good_call()
            held.pop().close()
            ok = hyvetest.wait_until(lambda: self._try_open(), timeout=5)
            self.assertTrue(ok, "no room after a client left")
        finally:
            for c in held:
                c.close()
        print("max_clients = %d: connection %d was closed at once, the others served"
              % (CONFIG["max_clients"], CONFIG["max_clients"] + 1))
        self.after("max_clients")

    def _try_open(self):
        try:
            c = self.opened()
        except (OSError, ConnectionError, ValueError):
            return False
        c.close()
        return True

    def test_slow_big_packets(self):
        # 30 clients announce a 32 MiB call and send only 64 KiB of it: the
        # daemon's buffers grow with what really arrived, not with the
        # announced length.
        rss_before = rss_kib(self.pid)
        held = []
        try:
            for i in range(30):
                c = self.opened()
                c.send_raw(u32(hyverpc.MAX_MESSAGE + 4) + packet(
                    hyverpc.PROC_DOMAIN_DEFINE_XML, 1)[4:] + u32(STRING_MAX) + b"<" * 65536)
                held.append(c)
            self.good_call()
            time.sleep(0.3)
            rss_held = rss_kib(self.pid)
        finally:
            for c in held:
                c.close()
        print("slow big packets: 30 x (32 MiB announced, 64 KiB sent): RSS %d -> %d KiB "
              "(+%d KiB; %d MiB if buffers followed the announced length)"
              % (rss_before, rss_held, rss_held - rss_before, 30 * 32))
        self.assertLess(rss_held - rss_before, 30 * 1024)
        self.after("30 x 32 MiB announced, 64 KiB sent")

    def _feed_fds(self, sock, head, nbytes, fds):
        """Sends HEAD, then NBYTES single bytes each carrying FDS; returns
        (bytes sent before the daemon closed, most daemon fds seen)."""
        most = fd_count(self.pid)
        try:
            sock.sendall(head)
            for i in range(nbytes):
                socket.send_fds(sock, [b"<"], fds)
                if i % 8 == 0:
                    most = max(most, fd_count(self.pid))
        except (BrokenPipeError, ConnectionResetError):
            return i, max(most, fd_count(self.pid))
        time.sleep(0.2)
        return nbytes, max(most, fd_count(self.pid))

    def test_fds_byte_by_byte(self):
        # Descriptors passed with the bytes of a packet (none claims them):
        # the daemon drops the client once more than one packet's worth
        # (32) is unclaimed, and at once when it is not authenticated.
        nbytes, per = 200, 32
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(per)]
        try:
            c = self.opened()
            head = u32(65536) + packet(hyverpc.PROC_DOMAIN_DEFINE_XML, 1)[4:] + u32(60000)
            sent, most = self._feed_fds(c.sock, head, nbytes, fds)
            gone = dropped(c.sock, 5)
            c.close()
            print("fds byte by byte (authenticated): %d of %d bytes x %d fds sent, "
                  "daemon fds %d -> at most %d, dropped: %s"
                  % (sent, nbytes, per, self.fds0, most, gone))
            self.assertTrue(gone, "client passing unclaimed descriptors was kept")
            self.assertLess(most - self.fds0, 4 * per,
                            "daemon held the unclaimed descriptors")
            if os.geteuid() == 0:
                # the rw socket wants polkit: not yet authenticated
                s = raw_connect(self.daemon.sock)
                sent, most2 = self._feed_fds(s, b"", nbytes, fds)
                gone = dropped(s, 5)
                s.close()
                print("fds byte by byte (unauthenticated): %d bytes sent, daemon fds "
                      "at most %d, dropped: %s" % (sent, most2, gone))
                self.assertTrue(gone, "unauthenticated client passing descriptors kept")
                self.assertLess(most2 - self.fds0, 4 * per,
                                "daemon held an unauthenticated client's descriptors")
        finally:
            for fd in fds:
                os.close(fd)
        self.after("fds byte by byte")

    def test_max_anonymous_clients(self):
        # Unauthenticated connections on the polkit socket (root authenticates
        # with AUTH_LIST): beyond max_anonymous_clients, new ones are closed.
        if os.geteuid() != 0:
            self.skipTest("the rw socket uses polkit only when the daemon runs as root")
        n = CONFIG["max_anonymous_clients"]
        idle = [raw_connect(self.daemon.sock) for _ in range(n)]
        try:
            time.sleep(0.2)
            extra = raw_connect(self.daemon.sock)
            self.assertTrue(dropped(extra, 5), "connection beyond max_anonymous_clients kept")
            extra.close()
            # the read-only socket (auth none) and clients already in are served
            ro = self.opened(self.daemon.sock_ro)
            self.assertEqual(ro.get_type(), "BHYVE")
            ro.close()
            self.good_call()
        finally:
            for s in idle:
                s.close()
        self.assertTrue(hyvetest.wait_until(self._try_open, timeout=5),
                        "authenticated clients refused after the anonymous ones left")
        print("max_anonymous_clients = %d: connection %d closed at once, others served"
              % (n, n + 1))
        self.after("max_anonymous_clients")

    def test_console_aborted_by_close(self):
        if not os.access("/dev/kvm", os.R_OK | os.W_OK) or os.geteuid() != 0:
            self.skipTest("a running domain needs /dev/kvm (and root here)")
        name = "abuse-con"
        dom = self.good.defineXML(hyvetest.domain_xml(name, memory_kib=131072))
        dom.create()
        try:
            fds_running = stable_fd_count(self.pid)
            arg = string(name) + dom.UUID() + i32(dom.ID()) + u32(0) + u32(0)
            for i in range(10):
                c = self.opened()
                c.call(PROC_DOMAIN_OPEN_CONSOLE, arg)
                c.send_raw(packet(PROC_DOMAIN_OPEN_CONSOLE, c.serial - 1, b"root\r\n",
                                  mtype=STREAM, status=CONTINUE))
                c.close()
                # the console is free again: the next holder gets it without FORCE
                hyvetest.wait_until(lambda: fd_count(self.pid) <= fds_running, timeout=5)
            st = self.good.newStream(0)
            dom.openConsole(None, st, 0)
            st.abort()
            fds_after = stable_fd_count(self.pid)
            print("console, socket closed mid-stream x10: daemon fds with the domain "
                  "running %d -> %d" % (fds_running, fds_after))
            self.assertEqual(fds_after, fds_running)
        finally:
            dom.destroy()
            dom.undefine()
        self.after("console, socket closed mid-stream")

    def test_stuck_workers(self):
        # Every worker thread blocked in a call that waits for a runner which
        # does not answer (SIGSTOPped): clients that only read must still
        # get answers (libvirt's priority workers).
        if not os.access("/dev/kvm", os.R_OK | os.W_OK) or os.geteuid() != 0:
            self.skipTest("a running domain needs /dev/kvm (and root here)")
        name = "abuse-stuck"
        dom = self.good.defineXML(hyvetest.domain_xml(name, memory_kib=131072))
        dom.create()
        pids = self.daemon.runner_pids()
        self.assertEqual(len(pids), 1)
        arg = string(name) + dom.UUID() + i32(dom.ID())
        stuck = []
        os.kill(pids[0], signal.SIGSTOP)
        try:
            for i in range(CONFIG["max_workers"] + 2):
                c = self.opened()
                c.send_raw(packet(PROC_DOMAIN_SUSPEND, 500, arg))
                stuck.append(c)
            time.sleep(0.3)
            lat = []
            # the runner stays stopped for 3 s: without priority workers the
            # first round waits at least that long
            t_end = time.monotonic() + 3
            ro = libvirt.openReadOnly(self.daemon.uri_ro)
            while time.monotonic() < t_end:
                t0 = time.monotonic()
                self.assertEqual(ro.getType(), "BHYVE")
                ro.listAllDomains(0)
                ro.getHostname()
                lat.append(time.monotonic() - t0)
            ro.close()
        finally:
            os.kill(pids[0], signal.SIGCONT)
        answers = []
        for c in stuck:
            c.sock.settimeout(30 * SCALE)
            prog, vers, proc, mtype, serial, status, body = c.recv_packet()
            answers.append(status)
            c.close()
        print("stuck workers: %d suspend calls on a stopped runner (max_workers = %d); "
              "other clients: %d rounds, slowest %.0f ms; the stuck calls answered %s"
              % (len(stuck), CONFIG["max_workers"], len(lat), max(lat) * 1000, answers))
        if dom.info()[0] == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()
        dom.destroy()
        dom.undefine()
        self.assertLess(max(lat), 1.5 * SCALE, "reads waited for the stuck workers")
        self.after("all workers stuck on a stopped runner")

    def start_download(self, c):
        """VOL_DOWNLOAD of the whole volume on raw client C, skipping the
        data of its earlier streams; None or the RemoteError."""
        serial = c.serial
        c.serial += 1
        c.send_raw(packet(PROC_VOL_DOWNLOAD, serial,
                          self.vol_arg() + struct.pack(">QQI", 0, VOL_SIZE, 0)))
        while True:
            prog, vers, proc, mtype, rserial, status, body = c.recv_packet()
            if mtype == hyverpc.REPLY and rserial == serial:
                return hyverpc.decode_error(body) if status == hyverpc.ERROR else None

    def test_stream_flood(self):
        # One client opening volume downloads without end: each holds a
        # transfer thread and descriptors; max_client_streams bounds them.
        limit = CONFIG["max_client_streams"]
        threads0 = threads(self.pid)
        c = self.opened()
        try:
            opened, refusal = 0, None
            for i in range(limit + 5):
                err = self.start_download(c)
                if err is not None:
                    refusal = err
                    break
                opened += 1
            fds_held, threads_held = fd_count(self.pid), threads(self.pid)
            self.assertEqual(opened, limit)
            self.assertEqual((refusal.code, refusal.message),
                             (libvirt.VIR_ERR_OPERATION_FAILED, "operation failed: too many "
                              "streams on this connection (max_client_streams = %d)" % limit))
            # another client still gets its stream
            other = self.opened()
            self.assertIsNone(self.start_download(other))
            other.close()
            self.good_call()
        finally:
            c.close()
        print("stream flood: %d downloads opened on one connection, the next refused "
              "(max_client_streams = %d); daemon fds %d -> %d, threads %d -> %d while held"
              % (opened, limit, self.fds0, fds_held, threads0, threads_held))
        self.check_volume_usable()
        self.after("one client opening endless downloads")

    def test_pipelined_clients(self):
        # 20 clients each pipeline 200 calls in one write: every call is
        # answered once, with max_workers worker threads at most.
        base_threads = threads(self.pid)
        peak = [base_threads]
        errors = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], threads(self.pid))
                except OSError:
                    return
                time.sleep(0.005)

        def client(k):
            try:
                c = self.opened()
                procs = [hyverpc.PROC_CONNECT_GET_TYPE, hyverpc.PROC_CONNECT_GET_HOSTNAME,
                         hyverpc.PROC_CONNECT_GET_CAPABILITIES]
                batch = b"".join(packet(procs[i % 3], 1000 + i) for i in range(200))
                c.send_raw(batch)
                seen = set()
                while len(seen) < 200:
                    prog, vers, proc, mtype, serial, status, body = c.recv_packet()
                    if mtype != hyverpc.REPLY:
                        continue
                    if status != hyverpc.OK or serial in seen or \
                            proc != procs[(serial - 1000) % 3]:
                        errors.append("client %d: reply %d/%d status %d" % (k, serial, proc,
                                                                            status))
                    seen.add(serial)
                c.close()
            except Exception as e:      # reported below
                errors.append("client %d: %r" % (k, e))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            t0 = time.monotonic()
            workers = [threading.Thread(target=client, args=(k,)) for k in range(20)]
            for w in workers:
                w.start()
            while any(w.is_alive() for w in workers):
                self.good_call()
                time.sleep(0.02)
            for w in workers:
                w.join()
            took = time.monotonic() - t0
        finally:
            stop.set()
            sampler.join()
        print("pipelined: 20 clients x 200 calls answered in %.2f s; daemon threads %d "
              "before, %d at most (max_workers = %d, prio_workers = %d)"
              % (took, base_threads, peak[0], CONFIG["max_workers"], CONFIG["prio_workers"]))
        self.assertEqual(errors, [])
        self.assertLessEqual(peak[0], base_threads + CONFIG["max_workers"] + CONFIG["prio_workers"])
        self.after("20 clients x 200 pipelined calls")



SLOW_FSYNC_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
static void slow(void)
{
    struct timespec ts = { 0, 300 * 1000 * 1000 };
    nanosleep(&ts, 0);
}
int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
    slow();
    return real(fd);
}
int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
    slow();
    return real(fd);
}
"""


class SlowFsyncTest(unittest.TestCase):
    """A daemon whose fsync() takes 300 ms (an LD_PRELOAD shim built here):
    while one client defines domains (each define fsyncs its file and the
    directory), another client's cheap calls (answered on the I/O thread
    when no config writer is at work) are not held up behind those fsyncs."""

    def test_lookups_during_defines(self):
        daemon = os.environ.get("HYVE_DAEMON", "")
        try:
            linked = subprocess.run(["ldd", daemon], capture_output=True, text=True).stdout
        except OSError:
            linked = ""
        if "libasan" in linked or hyvetest.VALGRIND:
            self.skipTest("an LD_PRELOAD shim does not mix with sanitizer runtimes")
        tmp = hyvetest.make_tmpdir("hyve-it-slowfsync-")
        src, shim = os.path.join(tmp, "slow.c"), os.path.join(tmp, "slow.so")
        with open(src, "w") as f:
            f.write(SLOW_FSYNC_C)
        if subprocess.run(["cc", "-shared", "-fPIC", "-o", shim, src, "-ldl"]).returncode:
            self.skipTest("no C compiler for the fsync shim")
        d = hyvetest.Daemon(env={"LD_PRELOAD": shim}, name="SlowFsyncDaemon").start()
        try:
            writer, blocker, reader = (libvirt.open(d.uri) for _ in range(3))
            reader.defineXML(hyvetest.domain_xml("slow-0"))
            done, errors = threading.Event(), []
            blocked = [0]

            def define():
                try:
                    for i in range(1, 5):
                        writer.defineXML(hyvetest.domain_xml("slow-%d" % i))
                except libvirt.libvirtError as e:
                    errors.append(str(e))
                finally:
                    done.set()

            def lookups():
                # these need the domain list lock, held across the fsyncs:
                # they wait, but must not make the I/O thread wait
                while not done.is_set():
                    blocker.lookupByName("slow-0")
                    blocked[0] += 1

            threads_ = [threading.Thread(target=define), threading.Thread(target=lookups)]
            worst, calls = 0.0, 0
            for t in threads_:
                t.start()
            while not done.is_set():
                t0 = time.monotonic()
                self.assertTrue(reader.getHostname())
                worst = max(worst, time.monotonic() - t0)
                calls += 1
            for t in threads_:
                t.join()
            names = sorted(dom.name() for dom in reader.listAllDomains(0))
            print("slow fsync (300 ms): during 4 defines, %d lookups by another client, "
                  "%d getHostname calls by a third, slowest %.0f ms"
                  % (blocked[0], calls, worst * 1000))
            self.assertEqual(errors, [])
            self.assertEqual(names, ["slow-%d" % i for i in range(5)])
            self.assertLess(worst, 0.2 * SCALE,
                            "a client waited for another client's lookup behind a define's fsync")
            for c in (writer, blocker, reader):
                c.close()
        finally:
            d.cleanup()
            if hasattr(d, "check_reports"):
                d.check_reports()


class FdLimitDaemon(hyvetest.Daemon):
    """A daemon whose hard descriptor limit is FDS (it raises its soft limit
    to the hard one itself)."""
    FDS = 64

    def command(self):
        return ["prlimit", "--nofile=%d:%d" % (self.FDS // 2, self.FDS), "--"] + \
            super().command()


class FdExhaustionTest(unittest.TestCase):
    """A connection flood beyond the daemon's descriptor limit (EMFILE on
    accept): accepting pauses, connected clients keep being served, new
    ones get in once the flood is gone."""

    def test_flood_beyond_fd_limit(self):
        d = FdLimitDaemon(name="FdLimitDaemon").start()
        try:
            pid = d.proc.pid
            with open("/proc/%d/limits" % pid) as f:
                soft = [l for l in f if l.startswith("Max open files")][0].split()[3]
            self.assertEqual(int(soft), FdLimitDaemon.FDS, "soft limit not raised to the hard one")
            good = libvirt.open(d.uri)
            fds0 = stable_fd_count(pid)
            flood = []
            try:
                for i in range(2 * FdLimitDaemon.FDS):
                    flood.append(raw_connect(d.sock_ro))
                hyvetest.wait_until(lambda: fd_count(pid) >= FdLimitDaemon.FDS, timeout=5)
                at_limit = fd_count(pid)
                t0 = time.monotonic()
                for i in range(20):
                    self.assertEqual(good.getType(), "BHYVE")
                    good.listAllDomains(0)
                served = (time.monotonic() - t0) / 20
            finally:
                for s in flood:
                    s.close()
            t0 = time.monotonic()
            conn = None
            while time.monotonic() - t0 < 10 * SCALE:
                try:
                    conn = libvirt.open(d.uri)
                    break
                except libvirt.libvirtError:
                    time.sleep(0.05)
            back_in = time.monotonic() - t0
            self.assertIsNotNone(conn, "no new client after the flood")
            self.assertEqual(conn.getType(), "BHYVE")
            conn.close()
            fds1 = stable_fd_count(pid)
            print("fd limit %d: %d connections flooded, daemon at %d fds, a connected client "
                  "served in %.1f ms per round; new clients back in after %.2f s; fds %d -> %d"
                  % (FdLimitDaemon.FDS, len(flood), at_limit, served * 1000, back_in, fds0, fds1))
            self.assertEqual(at_limit, FdLimitDaemon.FDS)
            self.assertIn("Too many open files; pausing it", d.log())
            self.assertEqual(fds1, fds0)
            good.close()
            self.assertTrue(d.alive())
        finally:
            d.cleanup()
            if hasattr(d, "check_reports"):
                d.check_reports()

if __name__ == "__main__":
    hyvetest.main()
