# SPDX-License-Identifier: LGPL-2.1-or-later
"""A tiny raw client for libvirt's remote protocol, written from the
wire description in docs (packet = u32 length + 24-byte header + XDR).

Used only where the real clients cannot go: sending calls a client
library refuses to send (a define on the read-only socket), unknown
procedure numbers, garbage and oversized packets.
"""
import socket
import struct

REMOTE_PROGRAM = 0x20008086
REMOTE_VERSION = 1

CALL, REPLY, MESSAGE = 0, 1, 2
OK, ERROR = 0, 1

PROC_CONNECT_OPEN = 1
PROC_CONNECT_CLOSE = 2
PROC_CONNECT_GET_TYPE = 3
PROC_CONNECT_GET_CAPABILITIES = 7
PROC_DOMAIN_DEFINE_XML = 11
PROC_CONNECT_GET_HOSTNAME = 59
PROC_AUTH_LIST = 66
PROC_CONNECT_LIST_ALL_DOMAINS = 273

MAX_MESSAGE = 33554432       # VIR_NET_MESSAGE_MAX


class RemoteError(Exception):
    def __init__(self, code, domain, message, level):
        super().__init__("code %d domain %d level %d: %s" % (code, domain, level, message))
        self.code = code
        self.domain = domain
        self.message = message
        self.level = level


# -- XDR ---------------------------------------------------------------

def pad(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def u32(v):
    return struct.pack(">I", v)


def i32(v):
    return struct.pack(">i", v)


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return u32(len(b)) + pad(b)


def opt_string(s):
    return u32(0) if s is None else u32(1) + string(s)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def u32(self):
        v, = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return v

    def i32(self):
        v, = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def string(self):
        n = self.u32()
        s = self.data[self.pos:self.pos + n]
        self.pos += n + (4 - n % 4) % 4
        return s.decode("utf-8", "replace")

    def opt_string(self):
        return self.string() if self.u32() else None

    def opaque(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += n + (4 - n % 4) % 4
        return b


def decode_error(payload):
    r = Reader(payload)
    code = r.i32()
    domain = r.i32()
    message = r.opt_string()
    level = r.i32()
    return RemoteError(code, domain, message or "", level)


def packet(proc, serial, payload=b"", prog=REMOTE_PROGRAM, vers=REMOTE_VERSION,
           mtype=CALL, status=OK):
    body = struct.pack(">IIiiIi", prog, vers, proc, mtype, serial, status) + payload
    return u32(len(body) + 4) + body


# -- client ---------------------------------------------------------------

class RawClient:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.serial = 0

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf

    def recv_packet(self):
        """Returns (prog, vers, proc, type, serial, status, payload)."""
        length, = struct.unpack(">I", self._recv_exact(4))
        if length < 28 or length - 4 > MAX_MESSAGE:
            raise ValueError("bad length word %d from server" % length)
        body = self._recv_exact(length - 4)
        hdr = struct.unpack(">IIiiIi", body[:24])
        return hdr + (body[24:],)

    def call(self, proc, payload=b""):
        """Send one CALL, wait for its REPLY; returns the payload or raises RemoteError."""
        serial = self.serial
        self.serial += 1
        self.send_raw(packet(proc, serial, payload))
        while True:
            prog, vers, rproc, mtype, rserial, status, body = self.recv_packet()
            if mtype == MESSAGE:
                continue            # an event or keepalive: not ours
            if (prog, rserial, rproc, mtype) != (REMOTE_PROGRAM, serial, proc, REPLY):
                raise ValueError("unexpected reply prog=%#x serial=%d proc=%d type=%d "
                                 "to call proc=%d serial=%d" % (prog, rserial, rproc, mtype,
                                                                 proc, serial))
            if status == ERROR:
                raise decode_error(body)
            if status != OK:
                raise ValueError("reply status %d" % status)
            return body

    def auth_list(self):
        r = Reader(self.call(PROC_AUTH_LIST))
        return [r.i32() for _ in range(r.u32())]

    def open(self, name="bhyve:///system", flags=0):
        """AUTH_LIST (must say NONE) + CONNECT_OPEN, like python's libvirt.open."""
        types = self.auth_list()
        if types not in ([], [0]):
            raise ValueError("server wants authentication %r" % types)
        self.call(PROC_CONNECT_OPEN, opt_string(name) + u32(flags))

    def get_type(self):
        return Reader(self.call(PROC_CONNECT_GET_TYPE)).string()

    def get_hostname(self):
        return Reader(self.call(PROC_CONNECT_GET_HOSTNAME)).string()

    def define_xml(self, xml):
        r = Reader(self.call(PROC_DOMAIN_DEFINE_XML, string(xml)))
        name = r.string()
        uuid = r.opaque(16)
        dom_id = r.i32()
        return name, uuid, dom_id
