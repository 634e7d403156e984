# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the load test (test_load.py): sampling a daemon's fds, RSS
and threads from /proc, merging the workers' results, and the figures
table."""
import os
import threading
import time


def proc_sample(pid):
    """{'fds', 'rss_kib', 'threads'} of process PID now."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = threads = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return {"fds": fds, "rss_kib": rss, "threads": threads}


class Sampler:
    """Samples the daemon every PERIOD seconds (fds, RSS, threads) and the
    number of live runners every second, on a thread, until stop()."""

    def __init__(self, pid, runner_count, period=5.0):
        self.pid = pid
        self.runner_count = runner_count
        self.period = period
        self.samples = []          # (seconds since start, sample)
        self.max_runners = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def _run(self):
        next_sample = 0.0
        while not self._stop.is_set():
            now = time.monotonic() - self.t0
            if now >= next_sample:
                self.samples.append((now, proc_sample(self.pid)))
                next_sample += self.period
            self.max_runners = max(self.max_runners, self.runner_count())
            self._stop.wait(1.0)

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic() - self.t0, proc_sample(self.pid)))

    def peak(self, key):
        return max(s[key] for _, s in self.samples)


def percentile(sorted_values, p):
    """Nearest-rank percentile P (0..100) of a sorted, non-empty list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Results:
    """The merged results of every client of one phase."""

    def __init__(self):
        self.lat = {}
        self.expected = {}
        self.unexpected = []
        self.crashed = []
        self.own = {}            # name -> (uuid, gen) over all clients
        self.state = {}          # client id -> {own, seq}: for the next phase
        self.clients = 0

    def add(self, worker_json):
        self.crashed += worker_json["crashed"]
        for c in worker_json["clients"]:
            self.clients += 1
            for op, values in c["lat"].items():
                self.lat.setdefault(op, []).extend(values)
            for key, n in c["expected"].items():
                self.expected[key] = self.expected.get(key, 0) + n
            self.unexpected += c["unexpected"]
            self.state[c["cid"]] = {"own": c["own"], "seq": c["seq"]}
            for name, (u, gen) in c["own"].items():
                if name in self.own:
                    self.unexpected.append("two clients own %s" % name)
                self.own[name] = (u, gen)

    def ops(self):
        return sum(len(v) for v in self.lat.values())

    def refused(self, op):
        return sum(n for key, n in self.expected.items() if key.split()[0] == op)

    def table(self, seconds, before, peak, after, max_runners):
        lines = []
        w = max(len(op) for op in self.lat) if self.lat else 10
        lines.append("%-*s %8s %8s %9s %9s %8s" % (w, "operation", "ops", "ops/s", "p50 ms",
                                                   "p99 ms", "refused"))
        for op in sorted(self.lat):
            v = sorted(self.lat[op])
            lines.append("%-*s %8d %8.1f %9.2f %9.2f %8d" % (
                w, op, len(v), len(v) / seconds, percentile(v, 50) * 1000,
                percentile(v, 99) * 1000, self.refused(op)))
        total = self.ops()
        lines.append("%-*s %8d %8.1f" % (w, "total", total, total / seconds))
        lines.append("")
        lines.append("expected (raced) errors by code:")
        by_code = {}
        for key, n in self.expected.items():
            by_code[key.split()[1]] = by_code.get(key.split()[1], 0) + n
        for code in sorted(by_code):
            ops = ", ".join("%s %d" % (k.split()[0], n) for k, n in sorted(self.expected.items())
                            if k.split()[1] == code)
            lines.append("  %-28s %7d  (%s)" % (code, by_code[code], ops))
        lines.append("unexpected errors: %d" % len(self.unexpected))
        lines.append("")
        lines.append("%-22s %10s %10s %10s" % ("daemon", "before", "peak", "after"))
        for key, label in (("fds", "open fds"), ("rss_kib", "VmRSS KiB"),
                           ("threads", "threads")):
            lines.append("%-22s %10d %10d %10d" % (label, before[key], peak[key], after[key]))
        lines.append("%-22s %10s %10d" % ("running VMs (max)", "", max_runners))
        return "\n".join(lines)
