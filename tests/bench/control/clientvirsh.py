# SPDX-License-Identifier: LGPL-2.1-or-later
"""virsh side of bench-control: ONE `virsh -c URI` process reads the
whole batch of commands from a pipe, so virsh's start-up and connect are
not measured. Between phases the batch has `echo MARK-<phase>`; virsh
echoes each command line after a prompt when it reads it, and it reads the
next line only when the previous command is done, so the arrival time of
the prompt line `virsh # echo MARK-<phase>` ends the phase before it
(stdout is line-buffered through stdbuf -oL, the same for every daemon).
Every phase's output is counted: a phase whose count is short is an error,
not a number; so is a non-zero exit status."""
import os
import re
import subprocess
import tempfile
import threading
import time

from control.daemons import cpu_delta_ns, cpu_ns

UUID_RE = re.compile(rb"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# phase: (metric key, output line test, expected count as f(domains, lookups, reps))
PHASES = [
    ("define", "virsh.define", lambda l: b"defined from" in l, lambda n, k, r: n),
    ("lookup", "virsh.lookup", lambda l: UUID_RE.match(l.strip()) is not None,
     lambda n, k, r: k),
    ("list", "virsh.list", None, lambda n, k, r: n * r),
    ("dumpxml", "virsh.dumpxml", lambda l: l.strip() == b"</domain>", lambda n, k, r: n),
    ("undefine", "virsh.undefine", lambda l: b"has been undefined" in l, lambda n, k, r: n),
]


def run_virsh(uri, xmls, lookups, list_reps, timeout=1800):
    """XMLS: [(name, xml)]. Returns (values, errors)."""
    values, errors = {}, []
    names = [n for n, _ in xmls]
    prefix_b = os.path.commonprefix(names).encode() if len(names) > 1 else names[0].encode()
    with tempfile.TemporaryDirectory(prefix="hyve-bench-virsh-") as tmp:
        files = []
        for name, xml in xmls:
            path = os.path.join(tmp, name + ".xml")
            with open(path, "w") as f:
                f.write(xml)
            files.append(path)
        batch = {
            "define": ["define %s" % p for p in files],
            "lookup": ["domuuid %s" % names[i % len(names)] for i in range(lookups)],
            "list": ["list --all"] * list_reps,
            "dumpxml": ["dumpxml %s" % n for n in names],
            "undefine": ["undefine %s" % n for n in names],
        }
        lines = ["echo MARK-begin"]
        for phase, *_ in PHASES:
            lines += batch[phase]
            lines.append("echo MARK-%s" % phase)
        lines.append("quit")
        text = ("\n".join(lines) + "\n").encode()

        proc = subprocess.Popen(["stdbuf", "-oL", "virsh", "-c", uri],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        stderr = []

        def feed():
            try:
                proc.stdin.write(text)
                proc.stdin.close()
            except OSError:
                pass

        def drain():
            stderr.append(proc.stderr.read())

        watchdog = threading.Timer(timeout, proc.kill)
        threading.Thread(target=feed, daemon=True).start()
        err_thread = threading.Thread(target=drain, daemon=True)
        err_thread.start()
        watchdog.start()
        marks = {}
        cpus = {}
        chunks = {}
        current = None
        try:
            for line in proc.stdout:
                m = re.search(rb"virsh # echo MARK-(\w+)$", line.rstrip(b"\n"))
                if m:
                    marks[m.group(1).decode()] = time.perf_counter()
                    # virsh's own CPU time (stdbuf execs it: same pid)
                    cpus[m.group(1).decode()] = cpu_ns(proc.pid)
                    # the phase after this marker
                    order = ["begin"] + [p[0] for p in PHASES]
                    idx = order.index(m.group(1).decode())
                    current = order[idx + 1] if idx + 1 < len(order) else None
                    continue
                if current:
                    chunks.setdefault(current, []).append(line)
            rc = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err_thread.join(5)
        err_text = b"".join(stderr).decode(errors="replace")
        if rc != 0:
            errors.append("virsh exited with status %s%s" % (
                rc, " (killed after %d s)" % timeout if rc < 0 else ""))
        nerr = err_text.count("error:")
        if nerr:
            first = [l for l in err_text.splitlines() if "error:" in l][:2]
            errors.append("virsh printed %d error(s): %s" % (nerr, " / ".join(first)))
        order = ["begin"] + [p[0] for p in PHASES]
        for i, (phase, key, test, expect) in enumerate(PHASES):
            out = chunks.get(phase, [])
            if test is None:    # list: lines naming one of our domains
                count = sum(1 for l in out if prefix_b in l and b"virsh #" not in l)
            else:
                count = sum(1 for l in out if test(l))
            want = expect(len(names), lookups, list_reps)
            if order[i] not in marks or phase not in marks:
                errors.append("virsh %s: phase did not complete" % phase)
                continue
            t = marks[phase] - marks[order[i]]
            if count != want:
                errors.append("virsh %s: %d results, expected %d" % (phase, count, want))
                continue
            c0, c1 = cpus.get(order[i]), cpus.get(phase)
            cpu = cpu_delta_ns(c0, c1) if c0 and c1 else None
            if phase == "list":
                values["virsh.list.ms"] = t * 1000.0 / list_reps
                key, ops = "virsh.list.rate", list_reps
            else:
                ops = want
            values[key] = ops / t
            if cpu is not None:
                values["client." + key] = cpu / 1000.0 / ops
    return values, errors
