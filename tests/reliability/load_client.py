#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One worker process of the load test (test_load.py): COUNT clients, each
on its own thread with its own connection to the daemon. `py` clients use
python3-libvirt (one virConnect each); `virsh` clients run one virsh
process per operation (a whole connect / call / disconnect each time).

Protocol with test_load.py: the worker opens its connections, prints
"ready", reads one line "go SECONDS" from stdin, runs its clients for
SECONDS, writes its results as JSON to --out and exits 0.

Each client keeps its own bookkeeping of the domains it owns (only it
defines, redefines and undefines them; names are never reused, so a name
always means the same uuid) and checks every answer it gets against it.
An error is "expected" only where the operation can legitimately race
into it (see EXPECTED); anything else, and any answer that contradicts
the bookkeeping, is recorded as unexpected."""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

import libvirt

import hyvetest

MEM_KIB = 131072

# Error codes an operation may legitimately race into.  "other" means a
# domain of another client (learnt from listAllDomains): that client may
# undefine it at any moment.  The shared "run" domains are started and
# destroyed by everyone, so start may find one running and destroy may
# find one shut off.
EXPECTED = {
    "lookup_name_other": {"VIR_ERR_NO_DOMAIN"},
    "lookup_uuid_other": {"VIR_ERR_NO_DOMAIN"},
    "xmldesc_other": {"VIR_ERR_NO_DOMAIN"},
    "state_other": {"VIR_ERR_NO_DOMAIN"},
    "start": {"VIR_ERR_OPERATION_INVALID"},
    "destroy": {"VIR_ERR_OPERATION_INVALID"},
    "virsh_start": {"VIR_ERR_OPERATION_INVALID"},
    "virsh_destroy": {"VIR_ERR_OPERATION_INVALID"},
}

CODE_NAMES = {getattr(libvirt, n): n for n in dir(libvirt) if n.startswith("VIR_ERR_")
              and isinstance(getattr(libvirt, n), int) and n not in ("VIR_ERR_NONE",
                                                                      "VIR_ERR_WARNING",
                                                                      "VIR_ERR_ERROR")}


def code_name(code):
    return CODE_NAMES.get(code, "code %d" % code)


def own_xml(name, uuid, gen):
    xml = hyvetest.domain_xml(name, uuid, memory_kib=MEM_KIB)
    return xml.replace("</uuid>", "</uuid>\n  <description>gen %d</description>" % gen, 1)


class Client:
    """Counters shared by both kinds of client."""

    def __init__(self, cid, uri, run_names, seed):
        self.cid = cid
        self.uri = uri
        self.run_names = run_names
        self.rnd = random.Random(seed)
        self.lat = {}            # op -> [seconds]
        self.expected = {}       # "op code" -> count
        self.unexpected = []     # descriptions
        self.own = {}            # name -> [uuid, gen]
        self.seq = 0

    def timed(self, op, fn, *args):
        """Runs FN(*ARGS); returns (ok, value or error code name)."""
        t = time.monotonic()
        try:
            v = fn(*args)
            ok = True
        except libvirt.libvirtError as e:
            v = code_name(e.get_error_code())
            msg = e.get_error_message()
            ok = False
        self.lat.setdefault(op, []).append(time.monotonic() - t)
        if not ok:
            self.error(op, v, msg)
        return ok, v

    def error(self, op, code, msg):
        if code in EXPECTED.get(op, ()):
            key = "%s %s" % (op, code)
            self.expected[key] = self.expected.get(key, 0) + 1
        else:
            self.bad("%s: %s: %s" % (op, code, msg))

    def bad(self, what):
        if len(self.unexpected) < 50:
            self.unexpected.append("client %s: %s" % (self.cid, what))
        else:
            self.unexpected[-1] = "client %s: ... (more)" % self.cid

    def new_name(self):
        self.seq += 1
        return "ld-%s-%d" % (self.cid, self.seq)

    def result(self):
        return {"cid": self.cid, "lat": self.lat, "expected": self.expected,
                "unexpected": self.unexpected, "seq": self.seq,
                "own": {n: v for n, v in self.own.items()}}

    def resume(self, state):
        """Takes over the domains (and name counter) of the client with the
        same id in an earlier phase."""
        if state:
            self.own = {n: list(v) for n, v in state["own"].items()}
            self.seq = state["seq"]


class PyClient(Client):
    """python3-libvirt: one virConnect, reopened now and then."""

    OPS = [("define", 8), ("redefine", 6), ("undefine", 6), ("lookup_name", 14),
           ("lookup_uuid", 10), ("list", 8), ("xmldesc", 14), ("state", 6),
           ("start", 3), ("destroy", 3), ("reconnect", 1)]
    MAX_OWN = 6

    def __init__(self, *a):
        super().__init__(*a)
        self.conn = libvirt.open(self.uri)
        self.others = []          # (name, uuid) of the last listing, not ours
        self.names, self.weights = zip(*self.OPS)

    def run(self, deadline):
        while time.monotonic() < deadline:
            op = self.rnd.choices(self.names, self.weights)[0]
            getattr(self, "op_" + op)()
        # every phase ends with MAX_OWN domains per client, so the daemon
        # holds as many domains after the run as at its baseline
        for _ in range(3 * self.MAX_OWN):
            if len(self.own) >= self.MAX_OWN:
                break
            self.op_define()
        self.conn.close()

    # -- own domains ------------------------------------------------------
    def op_define(self):
        if len(self.own) >= self.MAX_OWN:
            return self.op_redefine()
        name = self.new_name()
        u = str(uuidlib.uuid4())
        ok, dom = self.timed("define", self.conn.defineXML, own_xml(name, u, 1))
        if ok:
            self.own[name] = [u, 1]
            if dom.name() != name or dom.UUIDString() != u:
                self.bad("define %s %s returned %s %s" % (name, u, dom.name(), dom.UUIDString()))

    def op_redefine(self):
        if not self.own:
            return self.op_define()
        name = self.rnd.choice(sorted(self.own))
        u, gen = self.own[name]
        ok, _ = self.timed("redefine", self.conn.defineXML, own_xml(name, u, gen + 1))
        if ok:
            self.own[name][1] = gen + 1

    def op_undefine(self):
        if not self.own:
            return self.op_define()
        name = self.rnd.choice(sorted(self.own))
        ok, dom = self.timed("lookup_name", self.conn.lookupByName, name)
        if not ok:
            return
        ok, _ = self.timed("undefine", dom.undefine)
        if ok:
            del self.own[name]

    # -- reads ---------------------------------------------------------------
    def target(self):
        """('own'|'run'|'other', name, uuid or None)."""
        r = self.rnd.random()
        if r < 0.35 and self.own:
            name = self.rnd.choice(sorted(self.own))
            return "own", name, self.own[name][0]
        if r < 0.55 or not self.others:
            return "run", self.rnd.choice(self.run_names), None
        name, u = self.rnd.choice(self.others)
        return "other", name, u

    def check_dom(self, kind, name, u, dom):
        if dom.name() != name or (u is not None and dom.UUIDString() != u):
            self.bad("%s lookup of %s/%s gave %s/%s" % (kind, name, u, dom.name(),
                                                        dom.UUIDString()))

    def op_lookup_name(self):
        kind, name, u = self.target()
        op = "lookup_name_other" if kind == "other" else "lookup_name"
        ok, dom = self.timed(op, self.conn.lookupByName, name)
        if ok:
            self.check_dom(kind, name, u, dom)

    def op_lookup_uuid(self):
        kind, name, u = self.target()
        if u is None:
            u = self.run_uuids[name]
        op = "lookup_uuid_other" if kind == "other" else "lookup_uuid"
        ok, dom = self.timed(op, self.conn.lookupByUUIDString, u)
        if ok:
            self.check_dom(kind, name, u, dom)

    def op_list(self):
        ok, doms = self.timed("list", self.conn.listAllDomains, 0)
        if not ok:
            return
        listed = {d.name(): d.UUIDString() for d in doms}
        for name, (u, _) in self.own.items():
            if listed.get(name) != u:
                self.bad("own domain %s/%s missing from listAllDomains" % (name, u))
        for name in self.run_names:
            if listed.get(name) != self.run_uuids[name]:
                self.bad("run domain %s missing from listAllDomains" % name)
        mine = "ld-%s-" % self.cid
        for name in listed:
            if name.startswith(mine) and name not in self.own:
                self.bad("listAllDomains shows %s, undefined by its owner" % name)
        self.others = [(n, u) for n, u in listed.items()
                       if n not in self.run_uuids and not n.startswith(mine)]

    def op_xmldesc(self):
        kind, name, u = self.target()
        op = "xmldesc_other" if kind == "other" else "xmldesc"
        # a domain object for NAME without a round trip, as listAllDomains
        # would hand out: lookups of run/own domains never fail
        if kind == "other":
            ok, dom = self.timed("lookup_uuid_other", self.conn.lookupByUUIDString, u)
        else:
            ok, dom = self.timed("lookup_name", self.conn.lookupByName, name)
        if not ok:
            return
        ok, xml = self.timed(op, dom.XMLDesc, 0)
        if not ok:
            return
        if "<name>%s</name>" % name not in xml:
            self.bad("XMLDesc of %s: wrong name:\n%s" % (name, xml[:300]))
        if kind == "own":
            want_u, gen = self.own[name]
            if "<uuid>%s</uuid>" % want_u not in xml or \
                    "<description>gen %d</description>" % gen not in xml:
                self.bad("XMLDesc of own %s: want uuid %s gen %d:\n%s" % (name, want_u, gen,
                                                                          xml[:400]))

    def op_state(self):
        kind, name, u = self.target()
        if kind == "other":
            ok, dom = self.timed("lookup_uuid_other", self.conn.lookupByUUIDString, u)
        else:
            ok, dom = self.timed("lookup_name", self.conn.lookupByName, name)
        if not ok:
            return
        op = "state_other" if kind == "other" else "state"
        ok, st = self.timed(op, dom.state)
        if ok and kind == "own" and st[0] != libvirt.VIR_DOMAIN_SHUTOFF:
            self.bad("own domain %s (never started) in state %r" % (name, st))

    # -- the shared domains that really run ------------------------------------
    def op_start(self):
        dom = self.run_doms[self.rnd.choice(self.run_names)]
        self.timed("start", dom.create)

    def op_destroy(self):
        dom = self.run_doms[self.rnd.choice(self.run_names)]
        self.timed("destroy", dom.destroy)

    def op_reconnect(self):
        self.conn.close()
        t = time.monotonic()
        self.conn = libvirt.open(self.uri)
        self.lat.setdefault("reconnect", []).append(time.monotonic() - t)
        self.bind_run()

    def bind_run(self):
        self.run_doms = {n: self.conn.lookupByName(n) for n in self.run_names}
        self.run_uuids = {n: d.UUIDString() for n, d in self.run_doms.items()}


class VirshClient(Client):
    """virsh: a new connection for every operation."""

    OPS = [("virsh_list", 4), ("virsh_dominfo", 3), ("virsh_dumpxml", 3),
           ("virsh_define", 3), ("virsh_undefine", 2), ("virsh_start", 1),
           ("virsh_destroy", 1)]
    MAX_OWN = 3
    # virsh's messages -> libvirt codes (virsh checks "already active" itself)
    MESSAGES = [("Domain not found", "VIR_ERR_NO_DOMAIN"),
                ("Domain is already active", "VIR_ERR_OPERATION_INVALID"),
                ("Requested operation is not valid", "VIR_ERR_OPERATION_INVALID")]

    def __init__(self, *a):
        super().__init__(*a)
        self.tmp = tempfile.mkdtemp(prefix="hyve-load-virsh-")
        self.names, self.weights = zip(*self.OPS)

    def virsh(self, op, *args):
        t = time.monotonic()
        p = subprocess.run([hyvetest.VIRSH, "-q", "-c", self.uri] + list(args),
                           capture_output=True, text=True, env=hyvetest.client_env(),
                           timeout=120)
        self.lat.setdefault(op, []).append(time.monotonic() - t)
        if p.returncode == 0:
            return p.stdout
        err = p.stderr.strip()
        code = "virsh status %d" % p.returncode
        for text, c in self.MESSAGES:
            if text in err:
                code = c
                break
        self.error(op, code, err)
        return None

    def run(self, deadline):
        while time.monotonic() < deadline:
            op = self.rnd.choices(self.names, self.weights)[0]
            getattr(self, "op_" + op)()
        for _ in range(3 * self.MAX_OWN):
            if len(self.own) >= self.MAX_OWN:
                break
            self.op_virsh_define(new=True)
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)

    def op_virsh_list(self):
        out = self.virsh("virsh_list", "list", "--all", "--name")
        if out is None:
            return
        names = set(out.split())
        for n in list(self.own) + self.run_names:
            if n not in names:
                self.bad("virsh list --all lacks %s" % n)

    def pick(self):
        if self.own and self.rnd.random() < 0.5:
            return self.rnd.choice(sorted(self.own))
        return self.rnd.choice(self.run_names)

    def op_virsh_dominfo(self):
        name = self.pick()
        out = self.virsh("virsh_dominfo", "dominfo", name)
        if out is not None and name in self.own and self.own[name][0] not in out:
            self.bad("virsh dominfo %s lacks uuid %s:\n%s" % (name, self.own[name][0], out))

    def op_virsh_dumpxml(self):
        name = self.pick()
        out = self.virsh("virsh_dumpxml", "dumpxml", name)
        if out is not None and name in self.own:
            u, gen = self.own[name]
            if "<uuid>%s</uuid>" % u not in out or \
                    "<description>gen %d</description>" % gen not in out:
                self.bad("virsh dumpxml %s: want %s gen %d:\n%s" % (name, u, gen, out[:400]))

    def op_virsh_define(self, new=False):
        if not new and self.own and (len(self.own) >= self.MAX_OWN or self.rnd.random() < 0.4):
            name = self.rnd.choice(sorted(self.own))
            u, gen = self.own[name]
            gen += 1
        else:
            name, u, gen = self.new_name(), str(uuidlib.uuid4()), 1
        path = hyvetest.write_file(self.tmp, name + ".xml", own_xml(name, u, gen))
        if self.virsh("virsh_define", "define", path) is not None:
            self.own[name] = [u, gen]

    def op_virsh_undefine(self):
        if not self.own:
            return self.op_virsh_define()
        name = self.rnd.choice(sorted(self.own))
        if self.virsh("virsh_undefine", "undefine", name) is not None:
            del self.own[name]

    def op_virsh_start(self):
        self.virsh("virsh_start", "start", self.rnd.choice(self.run_names))

    def op_virsh_destroy(self):
        self.virsh("virsh_destroy", "destroy", self.rnd.choice(self.run_names))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--kind", choices=("py", "virsh"), required=True)
    ap.add_argument("--first", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--run", required=True, help="comma-separated shared run domains")
    ap.add_argument("--state", help="JSON {client id: {own, seq}} of an earlier phase")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    run_names = a.run.split(",")
    cls = PyClient if a.kind == "py" else VirshClient
    prefix = "p" if a.kind == "py" else "v"
    state = {}
    if a.state:
        with open(a.state) as f:
            state = json.load(f)
    clients = []
    for i in range(a.first, a.first + a.count):
        c = cls("%s%02d" % (prefix, i), a.uri, run_names, a.seed * 1000 + i)
        c.resume(state.get(c.cid))
        if a.kind == "py":
            c.bind_run()
        clients.append(c)
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != "go":
        sys.exit("load_client: expected 'go SECONDS', got %r" % line)
    deadline = time.monotonic() + float(line[1])
    crashed = []

    def body(c):
        try:
            c.run(deadline)
        except Exception as e:       # a client bug or a dead connection
            import traceback
            crashed.append("client %s: %s\n%s" % (c.cid, e, traceback.format_exc()))

    threads = [threading.Thread(target=body, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {"clients": [c.result() for c in clients], "crashed": crashed}
    with open(a.out + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
