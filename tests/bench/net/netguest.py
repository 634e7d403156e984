"""Guest side of bench-net: a gzip'd cpio appended to the test initrd (after
benchguest's overlay; Linux unpacks concatenated archives in order) with
/bench/netinit (run with rdinit=/bench/netinit) and iperf3 with the shared
libraries `ldd /usr/bin/iperf3` lists, under /bench/net/ (run through the
copied dynamic loader, so nothing of the test guest's tree is replaced).

/bench/netinit loads the test guest's modules (virtio_net among them),
sets eth0 to 10.0.0.2/24, waits until 10.0.0.1 answers a ping, then for
hyve.bench.runs passes runs `iperf3 -c 10.0.0.1 -t T` (guest -> host,
"tx") and the same with -R (host -> guest, "rx"), each framed by
"HYVE-BENCH: begin DIR N" and "HYVE-BENCH: DIR N rc=RC <iperf3 receiver
summary line>", then "HYVE-BENCH: done" and poweroff.  Stall detector: a pass still running
T+25 s after it began prints "HYVE-BENCH: stall DIR N" and diagnostics
("HYVE-BENCH: diag ...": ping, virtio interrupts, eth0 counters, TCP
counters, dmesg tail), again when it ends, and is killed at T+40 s (rc=99);
the next pass then runs, so a stall costs 40 s, not the run."""

import gzip
import hashlib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchguest  # noqa: E402  (H4's; reused for its newc writer)

IPERF = "/usr/bin/iperf3"

NET_INIT = benchguest.INIT_PREAMBLE + r"""t=5 runs=1
for w in $(cat /proc/cmdline); do
    case "$w" in
        hyve.bench.t=*) t=${w#hyve.bench.t=} ;;
        hyve.bench.runs=*) runs=${w#hyve.bench.runs=} ;;
    esac
done
iperf() {
    /bench/net/ld-linux-x86-64.so.2 --library-path /bench/net /bench/net/iperf3 "$@"
}
diag() {
    # stall detector: what the guest sees (interrupts, counters, TCP, kernel)
    ping -c 1 -W 1 10.0.0.1 >/dev/null 2>&1; say "diag ping rc=$?"
    grep -E 'virtio|CPU' /proc/interrupts | tr -s ' ' | sed 's/^/HYVE-BENCH: diag irq /' > /dev/console
    grep eth0 /proc/net/dev | tr -s ' ' | sed 's/^/HYVE-BENCH: diag dev /' > /dev/console
    grep Tcp: /proc/net/snmp | tail -n 1 | sed 's/^/HYVE-BENCH: diag snmp /' > /dev/console
    dmesg | tail -n 12 | sed 's/^/HYVE-BENCH: diag dmesg /' > /dev/console
}
ip link set lo up
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do usleep 100000; n=$((n+1)); done
ip addr add 10.0.0.2/24 dev eth0
ip link set eth0 up
n=0
until ping -c 1 -W 1 10.0.0.1 >/dev/null 2>&1; do
    n=$((n+1))
    [ $n -ge 30 ] && break
done
say "start t=$t runs=$runs ping_tries=$n features=$(cat /sys/class/net/eth0/device/features 2>/dev/null) clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
i=1
while [ $i -le $runs ]; do
    for dir in tx rx; do
        opt=
        [ $dir = rx ] && opt=-R
        say "begin $dir $i"
        iperf -c 10.0.0.1 -t $t -f m $opt > /tmp/ip.out 2>&1 &
        pid=$!
        w=0
        while kill -0 $pid 2>/dev/null; do
            sleep 1
            w=$((w+1))
            if [ $w = $((t+25)) ]; then
                say "stall $dir $i after ${w}s"
                diag
            elif [ $w -ge $((t+40)) ]; then
                kill -9 $pid
                break
            fi
        done
        wait $pid; rc=$?
        [ $w -ge $((t+25)) ] && { diag; rc=99; }
        say "$dir $i rc=$rc $(grep receiver /tmp/ip.out | tail -n 1)"
        [ $rc = 0 ] || sed 's/^/HYVE-BENCH: iperf| /' /tmp/ip.out | tail -n 5 > /dev/console
    done
    i=$((i+1))
done
say done
poweroff -f
"""


def _libs():
    out = subprocess.run(["ldd", IPERF], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def overlay():
    """The net cpio, gzip-compressed (iperf3 and its libraries inside)."""
    newc = benchguest._newc
    raw = newc("bench", b"", 0o040755, 101)
    raw += newc("bench/net", b"", 0o040755, 102)
    raw += newc("bench/netinit", NET_INIT.encode(), 0o100755, 103)
    ino = 104
    for path in [IPERF] + _libs():
        with open(os.path.realpath(path), "rb") as f:
            data = f.read()
        raw += newc("bench/net/" + os.path.basename(path), data, 0o100755, ino)
        ino += 1
    raw += newc("TRAILER!!!", b"", 0, 0)
    return gzip.compress(raw, mtime=0)


def build(workdir, guest_initrd):
    """Write test initrd + net overlay to workdir; return the path."""
    with open(guest_initrd, "rb") as f:
        base = f.read()
    data = base + overlay()
    key = hashlib.sha256(data).hexdigest()[:16]
    path = os.path.join(workdir, "bench-net-%s.cpio.gz" % key)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    for old in os.listdir(workdir):
        if old.startswith("bench-net-") and old != os.path.basename(path):
            os.unlink(os.path.join(workdir, old))
    return path
