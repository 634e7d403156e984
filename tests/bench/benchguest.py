"""Bench-only guest bits: a small cpio (newc, gzip) appended to the hyve test
initrd (tests/guest/build-guest).  Linux unpacks concatenated initramfs
archives in order, so the result is the unchanged test guest plus
/bench/init, which only runs when the kernel command line says
rdinit=/bench/init.

/bench/init (busybox sh, PID 1) loads the test guest's modules
(/etc/modules.order of the test initrd), waits for /dev/vda and, for
hyve.bench=blk, runs hyve.bench.runs passes of
    dd if=/dev/zero of=/dev/vda bs=1M count=MB oflag=direct conv=fsync
    dd if=/dev/vda of=/dev/null bs=1M count=MB iflag=direct
each framed by "HYVE-BENCH: begin OP N" and
"HYVE-BENCH: OP N start=T end=T rc=RC out=RECORDS" lines on the serial
console (T: guest /proc/uptime, 10 ms; read with the shell's builtin read so
no process is forked around dd).  The host side times the two lines itself
as well (guest clocks in nested guests can be off), then the guest powers
off.

hyve.bench=io runs hyve.bench.runs passes of /bench/hyve-bench-io
(tests/bench/guest/hyve-bench-io.c, static) for each op of
hyve.bench.ops (comma list, default randwrite,randread): O_DIRECT
4 KiB requests at random aligned offsets over the first hyve.bench.mb MiB
of /dev/vda, hyve.bench.count requests (default 4096) or 60 s, with
hyve.bench.qd threads (1: queue depth 1); framed by
"HYVE-BENCH: begin OP N" and the tool's own "HYVE-BENCH: io N op=OP ..."
line."""

import gzip
import hashlib
import os
import subprocess

# Start of every bench /init: mounts, the test guest's modules, say().
INIT_PREAMBLE = r"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
while read -r name path; do
    insmod "$path" 2>/dev/null || echo "HYVE-BENCH: insmod-failed $name"
done < /etc/modules.order
say() { echo "HYVE-BENCH: $*" > /dev/console; }
"""

BENCH_INIT = INIT_PREAMBLE + r"""mode= mb=256 runs=1 ops=randwrite,randread count=4096 qd=1 bs=4096
for w in $(cat /proc/cmdline); do
    case "$w" in
        hyve.bench.ops=*) ops=${w#hyve.bench.ops=} ;;
        hyve.bench.count=*) count=${w#hyve.bench.count=} ;;
        hyve.bench.qd=*) qd=${w#hyve.bench.qd=} ;;
        hyve.bench.bs=*) bs=${w#hyve.bench.bs=} ;;
        hyve.bench=*) mode=${w#hyve.bench=} ;;
        hyve.bench.mb=*) mb=${w#hyve.bench.mb=} ;;
        hyve.bench.runs=*) runs=${w#hyve.bench.runs=} ;;
    esac
done
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do usleep 100000; n=$((n+1)); done
say "start mode=$mode mb=$mb runs=$runs vda=$(cat /sys/block/vda/size 2>/dev/null)"
case "$mode" in
blk)
    if [ ! -b /dev/vda ]; then
        say "FAIL no /dev/vda"
    else
        i=1
        while [ $i -le $runs ]; do
            read -r s _ < /proc/uptime
            say "begin write $i"
            dd if=/dev/zero of=/dev/vda bs=1M count=$mb oflag=direct \
                conv=fsync 2>/tmp/dd.err; rc=$?
            read -r e _ < /proc/uptime
            say "write $i start=$s end=$e rc=$rc out=$(grep 'records out' /tmp/dd.err | tr ' ' _)"
            read -r s _ < /proc/uptime
            say "begin read $i"
            dd if=/dev/vda of=/dev/null bs=1M count=$mb iflag=direct \
                2>/tmp/dd.err; rc=$?
            read -r e _ < /proc/uptime
            say "read $i start=$s end=$e rc=$rc out=$(grep 'records in' /tmp/dd.err | tr ' ' _)"
            i=$((i+1))
        done
    fi
    ;;
io)
    if [ ! -b /dev/vda ]; then
        say "FAIL no /dev/vda"
    elif [ ! -x /bench/hyve-bench-io ]; then
        say "FAIL no /bench/hyve-bench-io"
    else
        i=1
        while [ $i -le $runs ]; do
            for op in $(echo $ops | tr , ' '); do
                say "begin $op $i"
                /bench/hyve-bench-io $op /dev/vda -b $bs -n $count -j $qd \
                    -m $mb -t 60 -l $i > /dev/console 2>&1 ||
                    say "FAIL $op $i rc=$?"
            done
            i=$((i+1))
        done
    fi
    ;;
*)
    say "FAIL unknown hyve.bench=$mode"
    ;;
esac
say done
sync
poweroff -f
"""


def _newc(name, data, mode, ino):
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def overlay(tools=()):
    """The bench cpio, gzip-compressed, byte-reproducible; tools: paths of
    static guest programs put into /bench/ under their base names."""
    raw = _newc("bench", b"", 0o040755, 1)
    raw += _newc("bench/init", BENCH_INIT.encode(), 0o100755, 2)
    for ino, path in enumerate(tools, 3):
        with open(path, "rb") as f:
            raw += _newc("bench/" + os.path.basename(path), f.read(),
                         0o100755, ino)
    raw += _newc("TRAILER!!!", b"", 0, 0)
    return gzip.compress(raw, mtime=0)


def build_tools(workdir):
    """Compile the static guest tools (tests/bench/guest/*.c) into workdir
    when missing or older than their source; returns (paths, errors)."""
    src_dir = os.path.join(os.path.dirname(os.path.realpath(__file__)),
                           "guest")
    paths, errors = [], []
    for name in sorted(os.listdir(src_dir)):
        if not name.endswith(".c"):
            continue
        src = os.path.join(src_dir, name)
        out = os.path.join(workdir, name[:-2])
        if (not os.path.exists(out) or
                os.path.getmtime(out) < os.path.getmtime(src)):
            p = subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall",
                                "-o", out + ".tmp", src],
                               capture_output=True, text=True)
            if p.returncode != 0:
                errors.append("gcc -static %s failed: %s" % (
                    name, p.stderr.strip()[-400:]))
                continue
            os.replace(out + ".tmp", out)
        paths.append(out)
    return paths, errors


def build(workdir, guest_initrd, tools=()):
    """Write test initrd + overlay (with the given guest tools) to
    workdir; return the path."""
    with open(guest_initrd, "rb") as f:
        base = f.read()
    data = base + overlay(tools)
    key = hashlib.sha256(data).hexdigest()[:16]
    path = os.path.join(workdir, "bench-guest-%s.cpio.gz" % key)
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    for old in os.listdir(workdir):
        if old.startswith("bench-guest-") and old != os.path.basename(path):
            os.unlink(os.path.join(workdir, old))
    return path
