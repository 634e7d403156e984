# SPDX-License-Identifier: LGPL-2.1-or-later
"""python3-libvirt side of bench-control, run as a child process per
daemon and run (so a crash, hang or leaked state stays in the child, and the
event loop of the 'events' mode never touches the other measurements):

    /usr/bin/python3 clientpy.py 'JSON spec'

prints one JSON object {"values": {key: number}, "errors": [text]} as its
last stdout line. Modes: "py" (ops, threads, rss as the spec's parts ask)
and "events". The daemon is left with no domains of the benchmark."""
import json
import os
import resource
import statistics
import sys
import threading
import time

import libvirt

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from control.daemons import cpu_delta_ns, cpu_ns, read_memory  # noqa: E402


def _quiet_errors(ctx, err):
    pass


def domain_xmls(spec, prefix):
    with open(spec["template"]) as f:
        template = f.read()
    template = template.replace("@KERNEL@", spec["kernel"]).replace("@DISK@", spec["disk"])
    return [(prefix + "%05d" % i, template.replace("@NAME@", prefix + "%05d" % i))
            for i in range(spec["domains"])]


def rate(count, seconds):
    return count / seconds if seconds > 0 else None


def undefine_leftovers(conn, prefix):
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(prefix):
            dom.undefine()


class Phase:
    """Times one phase: wall clock here, the daemon's CPU time, and this
    client process's own CPU time."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.cpu0 = cpu_ns(self.pid)
        self.own0 = own_cpu()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.own = own_cpu() - self.own0
        self.cpu = cpu_delta_ns(self.cpu0, cpu_ns(self.pid))

    def record(self, out, key, count, per=1):
        """ops/s under KEY, daemon CPU µs per op under cpu.KEY, the
        client's CPU µs per op under client.KEY."""
        out[key] = rate(count, self.wall)
        out["client." + key] = self.own * 1e6 / count * per
        if self.cpu is not None:
            out["cpu." + key] = self.cpu / 1000.0 / count * per


def run_py(spec, out, errors):
    parts = spec["parts"]
    prefix = spec["prefix"]
    conn = libvirt.open(spec["uri"])
    undefine_leftovers(conn, prefix)
    if "rss" in parts:
        rss, pss = read_memory(spec["pid"])
        out["rss.idle.rss"], out["rss.idle.pss"] = rss, pss
    xmls = domain_xmls(spec, prefix)
    names = [n for n, _ in xmls]
    doms = []
    pid = spec["pid"]
    with Phase(pid) as ph:
        for _, xml in xmls:
            doms.append(conn.defineXML(xml))
    if "ops" in parts:
        ph.record(out, "py.define", len(xmls))
        # lookups by name, round robin over the defined domains
        n = spec["lookups"]
        with Phase(pid) as ph:
            for i in range(n):
                conn.lookupByName(names[i % len(names)])
        ph.record(out, "py.lookup", n)
        reps = spec["list_reps"]
        with Phase(pid) as ph:
            for _ in range(reps):
                got = conn.listAllDomains(0)
        if len([d for d in got if d.name().startswith(prefix)]) != len(names):
            errors.append("listAllDomains returned %d of our %d domains" % (len(got), len(names)))
        else:
            ph.record(out, "py.list.rate", reps)
            out["py.list.ms"] = ph.wall * 1000.0 / reps
        size = 0
        with Phase(pid) as ph:
            for dom in doms:
                size += len(dom.XMLDesc(0))
        ph.record(out, "py.dumpxml", len(doms))
        out["py.dumpxml.bytes"] = size / len(doms)
    if "rss" in parts:
        rss, pss = read_memory(spec["pid"])
        out["rss.loaded.rss"], out["rss.loaded.pss"] = rss, pss
    if "threads" in parts:
        run_threads(spec, names, conn, out, errors)
    with Phase(pid) as ph:
        for dom in doms:
            dom.undefine()
    if "ops" in parts:
        ph.record(out, "py.undefine", len(doms))
    conn.close()


def own_cpu():
    """CPU seconds this process has used, all its threads (µs resolution)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_threads(spec, names, shared, out, errors):
    nthreads = spec["threads"]
    total = spec["lookups"] - spec["lookups"] % nthreads
    for key, separate in (("threads.shared", False), ("threads.separate", True)):
        conns = [libvirt.open(spec["uri"]) if separate else shared for _ in range(nthreads)]
        barrier = threading.Barrier(nthreads + 1)
        failures = []

        def worker(idx, conn):
            barrier.wait()
            try:
                for i in range(idx, total, nthreads):
                    conn.lookupByName(names[i % len(names)])
            except libvirt.libvirtError as e:
                failures.append(str(e))

        threads = [threading.Thread(target=worker, args=(i, conns[i])) for i in range(nthreads)]
        for th in threads:
            th.start()
        barrier.wait()
        cpu0, own0 = cpu_ns(spec["pid"]), own_cpu()
        t0 = time.perf_counter()
        for th in threads:
            th.join()
        t = time.perf_counter() - t0
        cpu, own1 = cpu_delta_ns(cpu0, cpu_ns(spec["pid"])), own_cpu()
        if failures:
            errors.append("%s: %d thread(s) failed: %s" % (key, len(failures), failures[0]))
        else:
            out[key] = rate(total, t)
            # where the CPU goes: the daemon's, and this client's (python +
            # libvirt's client library, all its threads) per lookup
            if cpu is not None:
                out["cpu." + key] = cpu / 1000.0 / total
            out["client." + key] = (own1 - own0) * 1e6 / total
        if separate:
            for c in conns:
                c.close()


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of VALUES."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def run_events(spec, out, errors):
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, daemon=True).start()
    prefix = spec["prefix"]
    conn = libvirt.open(spec["uri"])
    undefine_leftovers(conn, prefix)
    arrived = {}
    cond = threading.Condition()

    def callback(conn_, dom, event, detail, opaque):
        t = time.perf_counter()
        if event == libvirt.VIR_DOMAIN_EVENT_DEFINED:
            with cond:
                arrived.setdefault(dom.name(), t)
                cond.notify_all()

    cb_id = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, None)
    xmls = domain_xmls(dict(spec, domains=spec["events"]), prefix)
    from_call, from_return, doms = [], [], []
    missing = 0
    for name, xml in xmls:
        t0 = time.perf_counter()
        doms.append(conn.defineXML(xml))
        t1 = time.perf_counter()
        with cond:
            if not cond.wait_for(lambda: name in arrived, timeout=5.0):
                missing += 1
                continue
            tcb = arrived[name]
        from_call.append((tcb - t0) * 1000.0)
        from_return.append((tcb - t1) * 1000.0)
    conn.domainEventDeregisterAny(cb_id)
    for dom in doms:
        dom.undefine()
    conn.close()
    if missing:
        errors.append("%d of %d DEFINED events did not arrive within 5 s" % (missing, len(xmls)))
    if from_call:
        for key, vals in (("ev.call", from_call), ("ev.return", from_return)):
            out[key + ".p50"] = statistics.median(vals)
            out[key + ".p99"] = percentile(vals, 99)
            out[key + ".max"] = max(vals)
        out["ev.count"] = len(from_call)


def main():
    spec = json.loads(sys.argv[1])
    libvirt.registerErrorHandler(_quiet_errors, None)
    out, errors = {}, []
    try:
        if spec["mode"] == "events":
            run_events(spec, out, errors)
        elif spec["mode"] == "cleanup":
            conn = libvirt.open(spec["uri"])
            undefine_leftovers(conn, spec["prefix"])
            out["left"] = len(conn.listAllDomains(0))
        else:
            run_py(spec, out, errors)
    except Exception as e:      # reported by the parent; measured values stay
        errors.append("%s: %s" % (type(e).__name__, e))
    sys.stdout.write("\n" + json.dumps({"values": out, "errors": errors}) + "\n")
    sys.stdout.flush()
    os._exit(0)     # the event loop thread never returns


if __name__ == "__main__":
    main()
