# SPDX-License-Identifier: LGPL-2.1-or-later
"""What bench-control reports: the metric table (key -> section, label,
unit, direction), statistics over runs, the results JSON of the contract in
/work/notes/issue8.md (read by tests/bench/mkbenchmarks) and the text table
printed to stdout."""
import statistics

S_PY = "Control plane: python3-libvirt"
S_VIRSH = "Control plane: virsh (one process, commands on stdin)"
S_CPU = "Control plane: daemon CPU time per operation (python3-libvirt phases)"
S_CLIENT = "Control plane: client CPU time per operation"
S_THREADS = "Control plane: python3-libvirt, concurrent lookups"
S_EVENTS = "Domain events: defineXML -> lifecycle callback (DEFINED)"
S_MEM = "Daemon memory"


def metrics(a):
    """[(key, section, metric, unit, better, scale)] in display order;
    scale turns the measured value into the unit shown."""
    n, k, r, t, e = a.domains, a.lookups, a.list_reps, a.threads, a.events
    rows = []
    for sec, pre in ((S_PY, "py"), (S_VIRSH, "virsh")):
        rows += [
            (pre + ".define", sec, "define %d domains" % n, "ops/s", "higher", 1),
            (pre + ".lookup", sec, "%d lookups by name" % k, "ops/s", "higher", 1),
            (pre + ".list.ms", sec, "list --all, %d domains (%d calls)" % (n, r), "ms/call",
             "lower", 1),
            (pre + ".list.rate", sec, "list --all, %d domains (%d calls)" % (n, r), "calls/s",
             "higher", 1),
            (pre + ".dumpxml", sec, "dumpxml of %d domains" % n, "ops/s", "higher", 1),
            (pre + ".undefine", sec, "undefine %d domains" % n, "ops/s", "higher", 1),
        ]
    # the ops phases with a rate: (key suffix, what one operation is)
    phases = (("define", "define"), ("lookup", "lookup by name"),
              ("list.rate", "list --all (%d domains)" % n), ("dumpxml", "dumpxml"),
              ("undefine", "undefine"))
    for key, what in phases:
        rows.append(("cpu.py." + key, S_CPU, "daemon CPU per %s" % what, "µs/op", "lower", 1))
    for pre, client in (("py", "python"), ("virsh", "virsh")):
        for key, what in phases:
            rows.append(("client.%s.%s" % (pre, key), S_CLIENT,
                         "%s CPU per %s" % (client, what), "µs/op", "lower", 1))
    rows += [
        ("threads.shared", S_THREADS, "%d threads, one shared connection, %d lookups" % (t, k),
         "lookups/s", "higher", 1),
        ("threads.separate", S_THREADS, "%d threads, %d connections, %d lookups" % (t, t, k),
         "lookups/s", "higher", 1),
    ]
    for key, what in (("threads.shared", "one shared connection"),
                      ("threads.separate", "%d connections" % t)):
        rows += [
            ("cpu." + key, S_THREADS, "daemon CPU per lookup, %d threads, %s" % (t, what),
             "µs/op", "lower", 1),
            ("client." + key, S_THREADS, "client CPU per lookup, %d threads, %s" % (t, what),
             "µs/op", "lower", 1),
        ]
    for key, what in (("ev.call", "before defineXML"), ("ev.return", "defineXML returned")):
        for stat in ("p50", "p99", "max"):
            rows.append(("%s.%s" % (key, stat), S_EVENTS,
                         "%s, callback - %s (%d defines)" % (stat, what, e), "ms", "lower", 1))
    rows += [
        ("rss.idle.rss", S_MEM, "VmRSS idle, after connect", "MiB", "lower", 1 / 1024),
        ("rss.idle.pss", S_MEM, "Pss idle, after connect", "MiB", "lower", 1 / 1024),
        ("rss.loaded.rss", S_MEM, "VmRSS with %d domains defined" % n, "MiB", "lower", 1 / 1024),
        ("rss.loaded.pss", S_MEM, "Pss with %d domains defined" % n, "MiB", "lower", 1 / 1024),
    ]
    return rows


SECTION_NOTES = {
    S_PY: "/usr/bin/python3 + python3-libvirt, one connection, calls one after the other; "
          "dumpxml/undefine on the virDomain objects defineXML returned. define and undefine "
          "write (fsync) or remove one config file per domain, both daemons on the same "
          "ext4 disk, shared with other work.",
    S_VIRSH: "one `virsh -c URI` process per daemon and run, fed the whole batch on stdin "
             "(stdout line-buffered by stdbuf -oL); phases timed by `echo MARK` prompts, "
             "outputs counted; lookups are `domuuid NAME`; `list --all` also asks each domain's "
             "state (one more call per domain). virsh reads a non-terminal stdin one byte "
             "per read(2): client cost, the same for every daemon, that dilutes the ratios.",
    S_CPU: "CPU time the daemon process used during each phase of the python3-libvirt "
           "table (all its threads: /proc/PID/task/*/schedstat), per operation; less "
           "sensitive to other load on the host than the wall-clock rates.",
    S_CLIENT: "CPU time the client process itself used in each phase of the python3-libvirt "
              "and virsh tables (python: getrusage of the client process; virsh: "
              "/proc/PID/task/*/schedstat of the virsh process), per operation. It does not "
              "depend on how fast the daemon is, so it bounds the ratio any daemon can reach: "
              "even one answering in no time leaves the client at most 1/(client CPU per op) "
              "operations per second; the targets table shows that bound against libvirtd's "
              "rate (client CPU measured with hyve).",
    S_THREADS: "lookups by name split evenly over the threads; wall time from a barrier "
               "to the last join. CPU per lookup: the daemon process (schedstat, all its "
               "threads) and the client process (python + libvirt's client library, all "
               "its threads; getrusage) over the same interval; on 2 CPUs their sum bounds "
               "the rate.",
    S_EVENTS: "default libvirt event loop on a thread; one define at a time, waiting for its "
              "DEFINED callback before the next; 'defineXML returned' is negative when the "
              "callback ran before the client saw the reply (no ratio then).",
    S_MEM: "the daemon process only (/proc/PID/status VmRSS, smaps_rollup Pss), fresh "
           "daemon per run; libvirtd is the monolithic daemon with every driver loaded.",
}


def _fmt(v):
    if v is None:
        return None
    a = abs(v)
    if a >= 1000:
        return round(v)
    if a >= 100:
        return round(v, 1)
    if a >= 1:
        return round(v, 2)
    return round(v, 4)


def stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": _fmt(statistics.median(vals)), "min": _fmt(min(vals)),
            "max": _fmt(max(vals)), "n": len(vals)}


def build_sections(a, labels, raw):
    """RAW: {label: [ {key: value} per run ]}. Returns the contract's
    sections list (rows with no value for any daemon are left out)."""
    sections = []
    by_title = {}
    for key, sec, metric, unit, better, scale in metrics(a):
        values = {}
        for label in labels:
            s = stats([r[key] * scale for r in raw.get(label, []) if r.get(key) is not None])
            if s:
                values[label] = s
        if not values:
            continue
        row = {"metric": metric, "unit": unit, "better": better, "values": values}
        h, p = values.get("hyve"), values.get("libvirtd")
        if h and p and h["median"] > 0 and p["median"] > 0:
            row["ratio"] = {"of": "hyve", "to": "libvirtd",
                            "value": round(h["median"] / p["median"], 3)}
        row["key"] = key
        if sec not in by_title:
            by_title[sec] = {"title": sec, "note": SECTION_NOTES[sec], "rows": []}
            sections.append(by_title[sec])
        by_title[sec]["rows"].append(row)
    return sections


def client_bound(sections, row):
    """For a python/virsh rate row: the highest hyve/libvirtd ratio any
    daemon could reach, 1 / (client CPU per op, with hyve) over libvirtd's
    rate; None without both numbers."""
    want = "client." + row["key"]
    for sec in sections:
        for r in sec["rows"]:
            if r["key"] == want:
                h = r["values"].get("hyve")
                p = row["values"].get("libvirtd")
                if h and p and h["median"] > 0 and p["median"] > 0:
                    return 1e6 / h["median"] / p["median"]
    return None


def build_targets(sections):
    targets = []
    for sec in sections:
        for row in sec["rows"]:
            ratio = row.get("ratio", {}).get("value")
            if ratio is None:
                continue
            client = {S_PY: "python", S_VIRSH: "virsh", S_THREADS: "python"}.get(sec["title"])
            if client and row["unit"] in ("ops/s", "calls/s", "lookups/s"):
                measured = "%.2fx" % ratio
                # one client thread: its CPU time adds up to its wall time
                bound = client_bound(sections, row) if sec["title"] != S_THREADS else None
                if bound is not None:
                    measured += " (client CPU alone allows at most %.2fx)" % bound
                targets.append({"target": "%s (%s) >= 2x libvirtd" % (row["metric"], client),
                                "measured": measured, "met": ratio >= 2.0})
            elif sec["title"] == S_MEM and "loaded" in row["key"]:
                targets.append({"target": "%s <= 0.5x libvirtd" % row["metric"],
                                "measured": "%.2fx" % ratio, "met": ratio <= 0.5})
    for sec in sections:
        for row in sec["rows"]:
            what = {"ev.call.p99": "callback - before defineXML",
                    "ev.return.p99": "callback - defineXML returned"}.get(row["key"])
            if what and "hyve" in row["values"]:
                v = row["values"]["hyve"]["median"]
                targets.append({"target": "event p99 < 1 ms (%s)" % what,
                                "measured": "%.3f ms" % v, "met": v < 1.0})
    return targets


def text_table(doc, labels):
    """The readable table bench-control prints."""
    out = []
    for sec in doc["sections"]:
        out.append("")
        out.append("== %s" % sec["title"])
        head = ["metric", "unit"] + labels + ["hyve/libvirtd"]
        rows = [head]
        for row in sec["rows"]:
            cells = [row["metric"], row["unit"]]
            for label in labels:
                v = row["values"].get(label)
                cells.append("%s (%s-%s)" % (v["median"], v["min"], v["max"]) if v else "-")
            ratio = row.get("ratio", {}).get("value")
            arrow = "^" if row["better"] == "higher" else "v"
            cells.append("%.2f %s" % (ratio, arrow) if ratio is not None else "-")
            rows.append(cells)
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
        for r in rows:
            out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    if doc["targets"]:
        out.append("")
        out.append("== Targets")
        for t in doc["targets"]:
            out.append("  %-6s %-60s %s" % ("met" if t["met"] else "MISSED", t["target"],
                                            t["measured"]))
    if doc["notes"]:
        out.append("")
        out.append("== Notes")
        for n in doc["notes"]:
            out.append("  - " + n)
    return "\n".join(out) + "\n"
