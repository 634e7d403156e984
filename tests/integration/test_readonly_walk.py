#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The read-only socket, walked procedure by procedure.

test_readonly.py checks a few calls with the real clients; this program
sends EVERY procedure number from 1 to (the daemon's highest + 20) as a
raw CALL on a read-only connection of a system-mode daemon and sorts the
answers:

  refused  OPERATION_DENIED (29) "read only access prevents <API>"
  unknown  RPC (39) from RPC (7) "unknown procedure: N"
  allowed  anything else (a result, or an error that is not a refusal)

Which procedures must be refused is decided here, independently of the
daemon's own table: by libvirt's naming (GET/LIST/LOOKUP/NUM_OF/IS/HAS,
statistics, event and close-callback registration, auth and open/close
are reads; everything else changes state) plus the reads libvirt itself
refuses on read-only connections (virCheckReadOnlyGoto in the public API:
virConnectFindStoragePoolSources, virStorageVolDownload,
virDomainOpenConsole) and flag-dependent refusals (XML with secrets,
addresses from the guest agent). The daemon's table (virtbhyved
--list-procedures) must agree with what it does on the wire.

Arguments: a call is only checked for read-only after its arguments
decode (as libvirtd), so each procedure gets the shortest run of zero
words that decodes (empty strings, absent optionals, empty arrays, zero
numbers). The walk is done twice: on the -ro socket opened WITHOUT the
read-only flag (the daemon must refuse by socket) and on the read-write
socket opened WITH it (VIR_CONNECT_RO). Afterwards every domain, network,
pool and volume is unchanged and the daemon keeps serving.

The same walk before authentication (polkit socket, as root) and before
CONNECT_OPEN shows that only the preamble procedures get past those
checks (the daemon's flags noauth/noopen, printed by --list-procedures).
"""
import os
import re
import subprocess
import time

import libvirt

import hyvetest
from hyvetest import stable_fd_count
import hyverpc
from hyverpc import RawClient, u32, i32, string

OPERATION_DENIED = 29
ERR_RPC, FROM_RPC = 39, 7
CONNECT_RO = 1
MAX_ZERO_WORDS = 64
BEYOND = 20            # unknown numbers walked past the daemon's highest

# Reads by libvirt's naming.
READ_RE = re.compile(r"(^|_)(GET|LIST|LOOKUP|NUM_OF|IS|HAS)(_|$)|_STATS(_FLAGS)?$"
                     r"|EVENT(_CALLBACK)?_(DE)?REGISTER|CLOSE_CALLBACK$|_SNAPSHOT_NUM$")
READ_NAMES = {"CONNECT_OPEN", "CONNECT_CLOSE", "AUTH_LIST", "AUTH_POLKIT",
              "CONNECT_SUPPORTS_FEATURE", "DOMAIN_INTERFACE_ADDRESSES"}
# Reads libvirt refuses on read-only connections anyway (public API checks).
LIBVIRT_RO_REFUSED = {"CONNECT_FIND_STORAGE_POOL_SOURCES", "STORAGE_VOL_DOWNLOAD",
                      "DOMAIN_OPEN_CONSOLE"}


def expect_refused(name):
    if name in LIBVIRT_RO_REFUSED:
        return True
    return not (name in READ_NAMES or READ_RE.search(name))


def daemon_table():
    out = subprocess.run([hyvetest.DAEMON, "--list-procedures"], check=True,
                         capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        num, name, kind, api, flags = line.split()
        table[int(num)] = (name, kind, api, set(flags.split(",")) - {"-"})
    return table


def protocol_names():
    """REMOTE_PROC_* numbers -> names from the protocol file (for unknown ones)."""
    path = os.path.join(hyvetest.SOURCE_ROOT, "daemon", "protocol", "hyved_protocol.x")
    names = {}
    with open(path) as f:
        for m in re.finditer(r"REMOTE_PROC_(\w+)\s*=\s*(\d+)", f.read()):
            names[int(m.group(2))] = m.group(1)
    return names


def classify(err):
    if err is None:
        return "allowed"
    if err.code == OPERATION_DENIED and "read only access prevents" in err.message:
        return "refused"
    if (err.code, err.domain) == (ERR_RPC, FROM_RPC) and err.message.startswith("unknown procedure"):
        return "unknown"
    return "allowed"


def try_call(c, proc, payload):
    try:
        c.call(proc, payload)
        return None
    except hyverpc.RemoteError as e:
        return e


def walk_one(c, proc):
    """(outcome, zero words used, error or None)."""
    for words in range(MAX_ZERO_WORDS + 1):
        err = try_call(c, proc, b"\0" * (4 * words))
        if err is not None and (err.code, err.domain) == (ERR_RPC, FROM_RPC) and \
                err.message == "Unable to decode message payload":
            continue
        return classify(err), words, err
    return "undecodable", None, None


class ReadOnlyWalkTest(hyvetest.DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.table = daemon_table()
        cls.names = protocol_names()
        conn = libvirt.open(cls.daemon.uri)
        cls.dom_uuid = conn.defineXML(hyvetest.domain_xml("walk-dom")).UUID()
        pool = conn.storagePoolLookupByName("default") if "default" in conn.listStoragePools() \
            + conn.listDefinedStoragePools() else None
        if pool is not None and pool.isActive():
            pool.createXML("<volume><name>walk.img</name><capacity>1048576</capacity></volume>", 0)
        conn.close()

    def snapshot(self):
        conn = libvirt.open(self.daemon.uri)
        try:
            state = {}
            for d in conn.listAllDomains(0):
                state["dom " + d.name()] = (d.XMLDesc(0), d.isActive(), d.autostart())
            for n in conn.listAllNetworks(0):
                state["net " + n.name()] = (n.XMLDesc(0), n.isActive(), n.autostart())
            for p in conn.listAllStoragePools(0):
                state["pool " + p.name()] = (p.XMLDesc(0), p.isActive(), p.autostart())
                if p.isActive():
                    for v in p.listAllVolumes(0):
                        state["vol " + v.path()] = v.XMLDesc(0)
            return state
        finally:
            conn.close()

    def walk(self, path, flags):
        top = max(self.table)
        c = RawClient(path)
        results = {}
        try:
            c.open("bhyve:///system", flags)
            order = [p for p in range(1, top + BEYOND + 1) if p != hyverpc.PROC_CONNECT_CLOSE]
            for proc in order + [hyverpc.PROC_CONNECT_CLOSE]:   # CLOSE ends the connection: last
                results[proc] = walk_one(c, proc)
        finally:
            c.close()
        return results

    def check_walk(self, label, results):
        problems = []
        counts = {"refused": 0, "allowed": 0, "unknown": 0, "undecodable": 0}
        for proc, (outcome, words, err) in sorted(results.items()):
            counts[outcome] += 1
            known = self.table.get(proc)
            name = known[0] if known else self.names.get(proc, "?")
            if known is None:
                if outcome != "unknown":
                    problems.append("%d %s: not in the table but answered %s (%s)"
                                    % (proc, name, outcome, err))
                elif err.message != "unknown procedure: %d" % proc:
                    problems.append("%d: message %r" % (proc, err.message))
                continue
            if outcome == "undecodable":
                problems.append("%d %s: no run of up to %d zero words decodes"
                                % (proc, name, MAX_ZERO_WORDS))
                continue
            want = "refused" if expect_refused(name) else "allowed"
            if outcome != want:
                problems.append("%d %s: %s, libvirt would have it %s (%s)"
                                % (proc, name, outcome, want, err))
            if (known[1] == "write") != (outcome == "refused"):
                problems.append("%d %s: table says %s but the wire says %s"
                                % (proc, name, known[1], outcome))
            if outcome == "refused":
                if known[2] == "-" or err.message != \
                        "operation forbidden: read only access prevents " + known[2]:
                    problems.append("%d %s: refusal text %r" % (proc, name, err.message))
        answered_ok = sum(1 for o, w, e in results.values() if o == "allowed" and e is None)
        widest = max((w for o, w, e in results.values() if w is not None), default=0)
        print("%s: %d procedure numbers walked (1..%d), %d known to the daemon: "
              "%d refused, %d allowed, %d unknown, %d undecodable"
              % (label, len(results), max(results), len(self.table), counts["refused"],
                 counts["allowed"], counts["unknown"], counts["undecodable"]))
        print("  allowed: %d answered a result, %d an error that is no refusal; "
              "longest zero-word arguments: %d words"
              % (answered_ok, counts["allowed"] - answered_ok, widest))
        return counts, problems

    def test_walk(self):
        before = self.snapshot()
        fds_before = stable_fd_count(self.daemon.proc.pid)
        all_problems = []
        for label, path, flags in (("ro socket, open flags 0", self.daemon.sock_ro, 0),
                                   ("rw socket, VIR_CONNECT_RO", self.daemon.sock, CONNECT_RO)):
            t0 = time.monotonic()
            results = self.walk(path, flags)
            counts, problems = self.check_walk(label, results)
            print("  %.1f s; refused: %s" % (time.monotonic() - t0, " ".join(
                self.table[p][0] for p, r in sorted(results.items()) if r[0] == "refused")))
            self.assertEqual(counts["refused"],
                             sum(1 for t in self.table.values() if t[1] == "write"), label)
            all_problems += ["%s: %s" % (label, p) for p in problems]
        self.assertEqual(all_problems, [], "\n".join(all_problems))
        # nothing changed, and the daemon keeps serving
        self.assertEqual(self.snapshot(), before)
        self.assertDaemonAlive()
        out = hyvetest.virsh(self.daemon.uri_ro, "list", "--all", "--name", readonly=True).stdout
        self.assertIn("walk-dom", out.split())
        fds_after = stable_fd_count(self.daemon.proc.pid)
        print("daemon fds before the walks %d, after %d" % (fds_before, fds_after))
        self.assertEqual(fds_after, fds_before, "daemon fds")

    def walk_early(self, c, skip, expect_message):
        """Every number 1..max+20 except SKIP on raw client C; returns
        {proc: error message or None}."""
        out = {}
        for proc in range(1, max(self.table) + BEYOND + 1):
            if proc in skip:
                continue
            outcome, words, err = walk_one(c, proc)
            out[proc] = err.message if err is not None else None
        problems = []
        for proc, msg in sorted(out.items()):
            want = expect_message if proc in self.table else "unknown procedure: %d" % proc
            if msg != want:
                problems.append("%d %s: %r" % (proc, self.table.get(proc, ("?",))[0], msg))
        return out, problems

    def test_walk_before_auth_and_open(self):
        # Before authentication (polkit socket, root has not sent AUTH_LIST)
        # every procedure but the auth ones is refused before its arguments
        # are even decoded; after AUTH_LIST but before CONNECT_OPEN, all but
        # the preamble ones (auth, feature query, open).
        noauth = {p for p, t in self.table.items() if "noauth" in t[3]}
        noopen = {p for p, t in self.table.items() if "noopen" in t[3]}
        self.assertEqual({self.table[p][0] for p in noauth}, {"AUTH_LIST", "AUTH_POLKIT"})
        self.assertEqual({self.table[p][0] for p in noopen},
                         {"AUTH_LIST", "AUTH_POLKIT", "CONNECT_SUPPORTS_FEATURE", "CONNECT_OPEN"})
        problems = []
        if os.geteuid() == 0:
            c = RawClient(self.daemon.sock)
            try:
                out, p = self.walk_early(c, noauth, "authentication required")
                problems += ["before auth: " + x for x in p]
                print("before authentication: %d numbers walked, %d refused 'authentication "
                      "required', %d unknown; %s not walked (they authenticate)"
                      % (len(out), sum(1 for m in out.values() if m == "authentication required"),
                         sum(1 for m in out.values() if m and m.startswith("unknown")),
                         " ".join(self.table[p][0] for p in sorted(noauth))))
            finally:
                c.close()
        c = RawClient(self.daemon.sock_ro)
        try:
            self.assertEqual(c.auth_list(), [0])
            msg = "internal error: connection not open"
            out, p = self.walk_early(c, noopen, msg)
            problems += ["before open: " + x for x in p]
            print("before CONNECT_OPEN: %d numbers walked, %d refused %r, %d unknown"
                  % (len(out), sum(1 for m in out.values() if m == msg),
                     msg, sum(1 for m in out.values() if m and m.startswith("unknown"))))
            c.call(hyverpc.PROC_CONNECT_OPEN, hyverpc.opt_string("bhyve:///system") + u32(0))
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertDaemonAlive()

    def test_flag_dependent_refusals(self):
        # Reads that libvirt refuses read-only for some flags/arguments only.
        c = RawClient(self.daemon.sock_ro)
        try:
            c.open("bhyve:///system", 0)
            dom = string("walk-dom") + self.dom_uuid + i32(-1)
            cases = [
                # VIR_DOMAIN_XML_SECURE: libvirt's own text for this one
                ("DOMAIN_GET_XML_DESC", 14, dom + u32(1),
                 "operation forbidden: virDomainGetXMLDesc with secure flag"),
                # VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
                ("DOMAIN_INTERFACE_ADDRESSES", 353, dom + u32(1) + u32(0),
                 "operation forbidden: read only access prevents virDomainInterfaceAddresses"),
            ]
            for name, proc, payload, message in cases:
                err = try_call(c, proc, payload)
                self.assertIsNotNone(err, name)
                self.assertEqual((err.code, err.message), (OPERATION_DENIED, message), name)
            # the same calls without the flag are allowed
            self.assertIsNone(try_call(c, 14, dom + u32(0)))
            err = try_call(c, 353, dom + u32(0) + u32(0))
            self.assertTrue(err is None or err.code != OPERATION_DENIED, str(err))
            self.assertEqual(c.get_type(), "BHYVE")
        finally:
            c.close()


if __name__ == "__main__":
    hyvetest.main()
