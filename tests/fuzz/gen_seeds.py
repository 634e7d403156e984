#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpora of tests/fuzz (run by hand after a protocol or
golden-file change; the files are committed):

  corpus/{domain-xml,domain-xml-schema,pool-xml,vol-xml,network-xml}/:
      the input documents of the driver's golden tests (tests/unit/driver)
  corpus/rpc-decode/:   packet streams a libvirt client sends (length word,
      header, XDR arguments packed as libvirt-rpc.md §2 describes)
  corpus/rpc-dispatch/: one mode byte (fuzz_rpc_dispatch.c) + such streams
  (virsh-*: what virsh 9.0 really sent, one command per file, captured with
  a socket proxy between virsh and virtbhyved --root; mode byte 0 there)

usage: tests/fuzz/gen_seeds.py   (from anywhere)
"""
import hashlib
import os
import struct
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UNIT = os.path.join(ROOT, 'tests', 'unit', 'driver')
CORPUS = os.path.join(HERE, 'corpus')

REMOTE, KEEPALIVE = 0x20008086, 0x6b656570
CALL, REPLY, MESSAGE, STREAM, CALL_WITH_FDS, STREAM_HOLE = 0, 1, 2, 3, 4, 6

# procedure numbers (daemon/protocol/hyved_protocol.x)
P = dict(CONNECT_OPEN=1, CONNECT_CLOSE=2, CONNECT_GET_TYPE=3, NODE_GET_INFO=6,
         CONNECT_GET_CAPABILITIES=7, DOMAIN_CREATE_XML=10, DOMAIN_DEFINE_XML=11,
         DOMAIN_GET_XML_DESC=14, DOMAIN_GET_INFO=16, DOMAIN_LOOKUP_BY_NAME=23,
         DOMAIN_LOOKUP_BY_UUID=24, DOMAIN_SET_AUTOSTART=29, DOMAIN_UNDEFINE=35,
         NETWORK_DEFINE_XML=41, NETWORK_GET_XML_DESC=43, NETWORK_LOOKUP_BY_NAME=46,
         NETWORK_SET_AUTOSTART=48, NETWORK_UNDEFINE=49, CONNECT_SUPPORTS_FEATURE=60,
         AUTH_LIST=66, STORAGE_POOL_DEFINE_XML=77, STORAGE_POOL_UNDEFINE=82,
         STORAGE_POOL_LOOKUP_BY_NAME=84, STORAGE_POOL_GET_XML_DESC=88,
         STORAGE_POOL_SET_AUTOSTART=90, STORAGE_VOL_CREATE_XML=93, CONNECT_GET_URI=110,
         DOMAIN_GET_STATE=212, DOMAIN_UNDEFINE_FLAGS=231, DOMAIN_SET_METADATA=264,
         DOMAIN_GET_METADATA=265, CONNECT_LIST_ALL_DOMAINS=273,
         CONNECT_LIST_ALL_STORAGE_POOLS=281, CONNECT_LIST_ALL_NETWORKS=283,
         NETWORK_UPDATE=291, CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY=316,
         CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY=317,
         CONNECT_GET_ALL_DOMAIN_STATS=344, NETWORK_DEFINE_XML_FLAGS=432)


def u32(v):
    return struct.pack('>I', v & 0xffffffff)


def i32(v):
    return struct.pack('>i', v)


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return u32(len(b)) + b + b'\0' * (-len(b) % 4)


def opt(inner):          # optional (pointer) data: bool + value
    return u32(0) if inner is None else u32(1) + inner


def uuid(text):
    return uuidlib.UUID(text).bytes


def dom(name, u, dom_id=-1):
    return string(name) + uuid(u) + i32(dom_id)


def named(name, u):      # remote_nonnull_network / _storage_pool
    return string(name) + uuid(u)


serial = [0]


def packet(proc, body=b'', prog=REMOTE, typ=CALL, status=0):
    serial[0] += 1
    hdr = u32(prog) + u32(1) + i32(proc) + i32(typ) + u32(serial[0]) + i32(status)
    return u32(4 + len(hdr) + len(body)) + hdr + body


def call(name, body=b''):
    return packet(P[name], body)


def read(*parts):
    with open(os.path.join(UNIT, *parts)) as f:
        return f.read()


DOM_UUID = '8b4e5a7c-1f32-4d6e-9a0b-2c3d4e5f6a70'
NET_UUID = '4ea2c0e1-7a7b-4c36-9d1f-5d6a3b0e2c11'
POOL_UUID = '2f5b4a1e-8c3d-4e6f-9a7b-1c2d3e4f5a6b'


def rpc_streams():
    minimal = read('xml', 'minimal.xml')
    full = read('xml', 'full.xml')
    net = read('network', 'xml', 'default.xml')
    pool = read('storage', 'pool', 'dir-minimal.xml')
    d = dom('minimal', DOM_UUID)
    n = named('default', NET_UUID)
    p = named('default', POOL_UUID)
    s = {}
    # what virsh sends to connect, ask a few things and leave
    s['connect'] = (call('AUTH_LIST') +
                    call('CONNECT_SUPPORTS_FEATURE', i32(9)) +
                    call('CONNECT_OPEN', opt(string('bhyve:///system')) + u32(0)) +
                    call('CONNECT_GET_TYPE') + call('CONNECT_GET_URI') +
                    packet(1, prog=KEEPALIVE, typ=MESSAGE) +
                    call('NODE_GET_INFO') + call('CONNECT_CLOSE'))
    s['domain-life'] = (call('DOMAIN_DEFINE_XML', string(minimal)) +
                        call('DOMAIN_LOOKUP_BY_NAME', string('minimal')) +
                        call('DOMAIN_GET_XML_DESC', d + u32(0)) +
                        call('DOMAIN_GET_INFO', d) +
                        call('DOMAIN_SET_METADATA', d + i32(0) + opt(string('a note')) +
                             opt(None) + opt(None) + u32(2)) +
                        call('DOMAIN_GET_METADATA', d + i32(0) + opt(None) + u32(2)) +
                        call('DOMAIN_SET_AUTOSTART', d + i32(1)) +
                        call('DOMAIN_UNDEFINE_FLAGS', d + u32(0)))
    s['domain-full'] = (call('DOMAIN_DEFINE_XML', string(full)) +
                        call('CONNECT_LIST_ALL_DOMAINS', i32(1) + u32(0)) +
                        call('DOMAIN_GET_STATE', dom('full', '00000000-0000-0000-0000-000000000000') + u32(0)) +
                        call('CONNECT_GET_ALL_DOMAIN_STATS', u32(0) + u32(0) + u32(0)))
    s['network'] = (call('NETWORK_DEFINE_XML', string(net)) +
                    call('NETWORK_LOOKUP_BY_NAME', string('default')) +
                    call('NETWORK_GET_XML_DESC', n + u32(0)) +
                    call('NETWORK_UPDATE', n + u32(3) + u32(4) + i32(0) +
                         string("<host mac='52:54:00:00:00:01' ip='192.168.122.9'/>") + u32(2)) +
                    call('NETWORK_SET_AUTOSTART', n + i32(1)) +
                    call('CONNECT_LIST_ALL_NETWORKS', i32(1) + u32(0)) +
                    call('NETWORK_UNDEFINE', n))
    s['pool'] = (call('STORAGE_POOL_DEFINE_XML', string(pool) + u32(0)) +
                 call('STORAGE_POOL_LOOKUP_BY_NAME', string('default')) +
                 call('STORAGE_POOL_GET_XML_DESC', p + u32(0)) +
                 call('STORAGE_POOL_SET_AUTOSTART', p + i32(1)) +
                 call('CONNECT_LIST_ALL_STORAGE_POOLS', i32(1) + u32(0)) +
                 call('STORAGE_VOL_CREATE_XML', p + string(read('storage', 'vol', 'full.xml'))
                      + u32(0)) +
                 call('STORAGE_POOL_UNDEFINE', p))
    s['events'] = (call('CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY', i32(0) + opt(None)) +
                   call('CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY', i32(23) + opt(d)) +
                   call('DOMAIN_DEFINE_XML', string(minimal)) +
                   call('CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY', i32(1)) +
                   call('DOMAIN_UNDEFINE', d))
    # refused or decode-only in the dispatch harness
    s['start'] = (call('DOMAIN_CREATE_XML', string(minimal) + u32(0)) +
                  packet(P['DOMAIN_LOOKUP_BY_UUID'], u32(1) + uuid(DOM_UUID), typ=CALL_WITH_FDS))
    # malformed: bad status, unknown procedure, unknown program, trailing
    # bytes, truncated string, a stream packet, a stream hole
    s['odd'] = (packet(P['CONNECT_GET_TYPE'], status=1) + packet(9999) +
                packet(1, prog=0x12345678) + call('CONNECT_GET_TYPE', b'\0\0\0\0') +
                call('DOMAIN_LOOKUP_BY_NAME', u32(100) + b'abc\0') +
                packet(P['STORAGE_VOL_CREATE_XML'], b'data', typ=STREAM, status=2) +
                packet(209, i32(0) + struct.pack('>q', 4096) + u32(0), typ=STREAM_HOLE, status=2) +
                packet(P['DOMAIN_GET_XML_DESC'], string('x'), typ=REPLY))
    return s


def split_packets(data):
    out, off = [], 0
    while off + 4 <= len(data):
        n = struct.unpack('>I', data[off:off + 4])[0]
        out.append(data[off:off + n])
        off += n
    return out


def proc_of(pkt):
    return struct.unpack('>i', pkt[12:16])[0]


def virsh_sessions():
    """One connection doing what several virsh commands did: the handshake
    and close of the first capture around the calls of all of them (the
    captures are one virsh command each, so objects never outlive them)."""
    cap = os.path.join(CORPUS, 'rpc-decode')
    plans = {
        'virsh-session-domain': ['define-minimal', 'dumpxml', 'dominfo', 'autostart',
                                 'desc', 'list-all', 'undefine'],
        'virsh-session-network': ['net-define', 'net-list', 'net-dumpxml', 'net-undefine'],
        'virsh-session-pool': ['pool-define', 'pool-list', 'pool-dumpxml', 'pool-undefine'],
    }
    out = {}
    for name, cmds in plans.items():
        files = [os.path.join(cap, 'virsh-' + c) for c in cmds]
        if not all(os.path.isfile(f) for f in files):
            continue
        head, calls, tail = None, [], None
        for f in files:
            with open(f, 'rb') as fh:
                pkts = split_packets(fh.read())
            # handshake ends with REGISTER_CLOSE_CALLBACK (360), the command
            # ends with UNREGISTER_CLOSE_CALLBACK (361) + CONNECT_CLOSE (2)
            first = next(i for i, p in enumerate(pkts) if proc_of(p) == 360) + 1
            last = next(i for i, p in enumerate(pkts) if proc_of(p) == 361)
            if head is None:
                head, tail = pkts[:first], pkts[last:]
            calls += pkts[first:last]
        data = b''.join(head + calls + tail)
        # the captured daemon had its own 'default' network and pool (the
        # system daemon defines them at first start), so virsh named those
        # UUIDs: use the ones of the documents this session defines
        for old, new in (('825335f2-2b59-455b-8b10-3a30f5adf823', NET_UUID),
                         ('e10b90fb-0f90-4340-a06c-d5d505a83f0e', POOL_UUID)):
            data = data.replace(uuid(old), uuid(new))
        out[name] = data
    return out


def write_dir(name, items):
    # files of the same name are replaced; others (virsh captures, merged
    # fuzzer finds) are kept
    path = os.path.join(CORPUS, name)
    os.makedirs(path, exist_ok=True)
    seen = set()
    for fname, data in items:
        if isinstance(data, str):
            data = data.encode()
        h = hashlib.sha1(data).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(path, fname), 'wb') as f:
            f.write(data)
    return len(seen)


def inputs(folder, exclude=('.out.xml',)):
    out = []
    for root, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            if f.endswith('.xml') and not f.endswith(exclude):
                rel = os.path.relpath(os.path.join(root, f), folder).replace('/', '-')
                with open(os.path.join(root, f), 'rb') as fh:
                    out.append((rel, fh.read()))
    return out


def main():
    dom_xml = inputs(os.path.join(UNIT, 'xml'))
    counts = {
        'domain-xml': write_dir('domain-xml', dom_xml),
        'domain-xml-schema': write_dir('domain-xml-schema',
                                       [x for x in dom_xml if not x[0].startswith('err-')]),
        'pool-xml': write_dir('pool-xml', inputs(os.path.join(UNIT, 'storage', 'pool'))),
        'vol-xml': write_dir('vol-xml', inputs(os.path.join(UNIT, 'storage', 'vol'))),
        'network-xml': write_dir('network-xml', inputs(os.path.join(UNIT, 'network'))),
    }
    streams = rpc_streams()
    streams.update(virsh_sessions())
    counts['rpc-decode'] = write_dir('rpc-decode', sorted(streams.items()))
    disp = []
    for name, data in sorted(streams.items()):
        mode = 0 if name == 'connect' or name.startswith('virsh-') else 1
        disp.append((name, bytes([mode]) + data))
    disp.append(('domain-life-readonly', bytes([3]) + streams['domain-life']))
    disp.append(('connect-polkit', bytes([4]) + streams['connect']))
    counts['rpc-dispatch'] = write_dir('rpc-dispatch', disp)
    for k, v in sorted(counts.items()):
        print(f'{k}: {v} files')


if __name__ == '__main__':
    main()
