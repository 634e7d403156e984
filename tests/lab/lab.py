"""The hyve lab: run a command inside a QEMU TCG virtual machine ("L1") that
has AMD SVM + nested paging, so /dev/kvm in L1 is real hardware-assisted KVM.

L1 boots the installed Debian kernel with a tiny busybox initramfs (built here
and cached), mounts the host's root filesystem read-only over virtio-9p (an
overlay with a tmpfs upper layer makes it look writable; nothing reaches the
host), loads the kvm modules, switches root and runs the command in the
caller's working directory.  Its output comes back over the serial console
between two markers carrying a per-run nonce; its exit status is printed
with the end marker.  There is no network device (-nic none).

Python use:
    import lab
    res = lab.run(["sh", "-c", "ls /dev/kvm"], timeout=300)
    res.returncode, res.output, res.boot_s, res.total_s

Exit statuses: the command's own; TIMEOUT (124) when the time limit ran out
(QEMU is killed); LAB_FAILURE (125) when L1 did not boot or died before the
command finished.  See `lab-run --help`.
"""

import os
import secrets
import re
import selectors
import shlex
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import initramfs  # noqa: E402

TIMEOUT = 124
LAB_FAILURE = 125

# "watchdog: BUG: soft lockup - CPU#1 stuck for 26s!" from the L1 kernel:
# past LOCKUP_S the emulated machine is taken as hung.
LOCKUP_RE = re.compile(rb"watchdog: BUG: soft lockup - CPU#\d+ stuck for (\d+)s!")
LOCKUP_S = 120

QEMU = os.environ.get("HYVE_LAB_QEMU", "qemu-system-x86_64")

# lab.md: load order for 9p + kvm; deps are resolved again with modinfo.
MODULE_SETS = {
    "base": ["virtio_ring", "virtio", "virtio_pci_modern_dev",
             "virtio_pci_legacy_dev", "virtio_pci", "netfs", "fscache",
             "9pnet", "9pnet_virtio", "9p", "overlay", "irqbypass", "ccp",
             "kvm", "kvm-amd"],
    "net": ["tun", "llc", "stp", "bridge", "veth", "nfnetlink",
            "crc32c_generic", "nf_tables",
            "nf_conntrack", "nf_nat", "nft_chain_nat", "nft_masq",
            # hyve's per-network table (inet hyve_<name>): ct state, reject
            "nft_ct", "nf_reject_ipv4", "nf_reject_ipv6", "nft_reject",
            "nft_reject_inet"],
}
OPTIONAL_MODULES = ("libcrc32c",)

# Variables never passed from the caller to the command in L1.
ENV_DROP = {"PATH", "HOME", "PWD", "OLDPWD", "SHLVL", "_", "DISPLAY",
            "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS",
            "SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_CONNECTION", "SSH_CLIENT",
            "SSH_TTY", "TMUX", "TMUX_PANE", "NOTIFY_SOCKET", "LISTEN_FDS",
            "LISTEN_PID", "INVOCATION_ID", "JOURNAL_STREAM"}
STD_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
            "/sbin", "/bin"]

BEGIN = "HYVE-LAB-BEGIN"
END = "HYVE-LAB-END"

# /init of the L1 initramfs (busybox sh).  /job/job.conf comes from a second
# cpio appended per run and sets LAB_MODSETS and LAB_WRITABLE.
L1_INIT = r"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk
say() { echo "HYVE-LAB: [$(cut -d' ' -f1 /proc/uptime)] $*"; }
say init
. /job/job.conf
for set in base $LAB_MODSETS; do
    while read -r name path; do
        insmod "$path" || say "insmod $name failed"
    done < "/etc/lab/modules.$set"
done
say "modules loaded"
mkdir -p /lower /upper /newroot
o=trans=virtio,version=9p2000.L,msize=262144
if ! mount -t 9p -o "$o,ro,cache=loose" hostroot /lower; then
    say "FATAL cannot mount the host root over 9p"; poweroff -f
fi
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/u /upper/w
if mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w \
        overlay /newroot 2>/dev/null; then
    say "root: 9p read-only + tmpfs overlay"
else
    # Fallback (lab.md): 9p root read-only, tmpfs on the usual writable places
    say "root: 9p read-only + tmpfs dirs (overlay failed)"
    mount -t 9p -o "$o,ro,cache=loose" hostroot /newroot
    for d in /tmp /var/tmp /var/lib /var/log /var/cache /root; do
        mount -t tmpfs -o mode=0755 tmpfs "/newroot$d"
    done
    chmod 1777 /newroot/tmp /newroot/var/tmp
fi
mount -t tmpfs -o mode=0755 run /newroot/run
if [ -n "$LAB_WRITABLE" ]; then
    mount -t 9p -o "$o,rw,cache=none" hostrw "/newroot$LAB_WRITABLE" ||
        say "FATAL cannot mount writable dir $LAB_WRITABLE"
fi
say "switching root"
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/run/hyve-lab
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null
cp /bin/busybox /etc/lab/stage2 /job/job.conf /job/job.sh /newroot/run/hyve-lab/
exec switch_root /newroot /run/hyve-lab/busybox sh /run/hyve-lab/stage2
"""

# Runs as PID 1 in the switched root (the host's tree, seen through 9p).
L1_STAGE2 = r"""B=/run/hyve-lab/busybox
. /run/hyve-lab/job.conf
$B hostname hyve-lab
$B ip link set lo up
if [ -c /dev/kvm ]; then
    echo "kvm=yes npt=$($B cat /sys/module/kvm_amd/parameters/npt)" \
        > /run/hyve-lab/kvm
else
    echo "kvm=no" > /run/hyve-lab/kvm
fi
echo "HYVE-LAB: [$($B cut -d' ' -f1 /proc/uptime)] starting the command"
echo "$LAB_BEGIN"
$B sh /run/hyve-lab/job.sh < /dev/null > /dev/console 2>&1
rc=$?
$B sync
printf '\n%s rc=%d\n' "$LAB_END" "$rc"
$B poweroff -f
"""


class LabError(Exception):
    pass


class Result:
    """Outcome of one lab run."""

    def __init__(self):
        self.returncode = LAB_FAILURE
        self.output = ""
        self.log_path = None
        self.boot_s = None   # QEMU start -> begin marker
        self.total_s = None  # QEMU start -> QEMU exit
        self.timed_out = False
        self.lockup = False  # the L1 kernel hung (see run)
        self.silent = False  # ... seen as silence_s without output
        self.reason = ""

    def __repr__(self):
        return "<lab.Result rc=%s boot=%s total=%s>" % (
            self.returncode, self.boot_s, self.total_s)


def cache_dir():
    d = os.environ.get("HYVE_LAB_CACHE")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "hyve-lab")
    os.makedirs(d, exist_ok=True)
    return d


def problems():
    """Why the lab cannot run here ([] when it can)."""
    out = []
    from shutil import which
    if not which(QEMU):
        out.append("%s not found (Debian package qemu-system-x86)" % QEMU)
    if not os.path.exists(initramfs.BUSYBOX):
        out.append("%s not found (busybox-static)" % initramfs.BUSYBOX)
    if not which("modinfo"):
        out.append("modinfo not found (kmod)")
    try:
        ver = initramfs.kernel_version()
        if not os.access(initramfs.kernel_image(ver), os.R_OK):
            out.append("cannot read " + initramfs.kernel_image(ver))
    except initramfs.InitramfsError as e:
        out.append(str(e))
    return out


def l1_initramfs(ver=None):
    """Path of the cached L1 base initramfs, built if its inputs changed."""
    ver = ver or initramfs.kernel_version()
    sets = {name: initramfs.resolve_modules(ver, mods, OPTIONAL_MODULES)
            for name, mods in MODULE_SETS.items()}
    files = [initramfs.BUSYBOX] + [p for mods in sets.values()
                                   for _, p in mods]
    texts = [ver, L1_INIT, L1_STAGE2, "v1"] + [
        "%s=%r" % (k, v) for k, v in sorted(sets.items())]
    key = initramfs.inputs_digest(files, texts)
    path = os.path.join(cache_dir(), "l1-%s-%s.cpio.gz" % (ver, key))
    if os.path.exists(path):
        return path
    cpio = initramfs.Cpio()
    for d in ("dev", "proc", "sys", "etc/lab", "job", "run", "tmp"):
        cpio.mkdir(d)
    cpio.nod("dev/console", 0o020600, 5, 1)
    cpio.add_busybox()
    cpio.add_bytes("init", L1_INIT, 0o755)
    cpio.add_bytes("etc/lab/stage2", L1_STAGE2, 0o644)
    added = set()
    for name, mods in sets.items():
        lines = []
        for mod, src in mods:
            rel = "lib/modules/%s/%s" % (
                ver, os.path.relpath(src, "/lib/modules/" + ver))
            if rel not in added:
                cpio.add_file(rel, src, 0o644)
                added.add(rel)
            lines.append("%s /%s\n" % (mod, rel))
        cpio.add_bytes("etc/lab/modules." + name, "".join(lines))
    initramfs.write_atomic(path, cpio.gzip())
    _drop_stale(path, "l1-%s-" % ver)
    return path


def _drop_stale(keep, prefix):
    """Remove other cached builds with this prefix once they are a day old
    (a concurrent harness may still be about to read a younger one)."""
    now = time.time()
    d = os.path.dirname(keep)
    for old in os.listdir(d):
        path = os.path.join(d, old)
        try:
            if (old.startswith(prefix) and path != keep and
                    now - os.stat(path).st_mtime > 86400):
                os.unlink(path)
        except OSError:
            pass


def l1_kernel(ver):
    """Kernel image QEMU boots for L1.

    Under TCG the bzImage's XZ decompressor alone takes seconds, so when the
    kernel supports the PVH entry (CONFIG_PVH=y) the ELF vmlinux inside the
    bzImage is extracted once into the cache and booted directly (QEMU loads
    ELF kernels with a PVH note).  Falls back to the bzImage.
    HYVE_LAB_KERNEL overrides; HYVE_LAB_BZIMAGE=1 disables the extraction."""
    if os.environ.get("HYVE_LAB_KERNEL"):
        return os.environ["HYVE_LAB_KERNEL"]
    bz = initramfs.kernel_image(ver)
    if os.environ.get("HYVE_LAB_BZIMAGE") == "1":
        return bz
    try:
        with open("/boot/config-" + ver) as f:
            if "CONFIG_PVH=y\n" not in f.read():
                return bz
        key = initramfs.inputs_digest([bz], ["vmlinux-v1"])
        path = os.path.join(cache_dir(), "vmlinux-%s-%s" % (ver, key))
        if os.path.exists(path):
            return path
        data = initramfs.extract_vmlinux(bz)
        if data is None:
            return bz
        initramfs.write_atomic(path, data)
        _drop_stale(path, "vmlinux-%s-" % ver)
        return path
    except OSError:
        return bz


def _job_env(env):
    out = {}
    for k, v in env.items():
        if k in ENV_DROP or k.startswith("HYVE_LAB_INTERNAL") or "=" in k:
            continue
        out[k] = v
    path = [p for p in env.get("PATH", "").split(":") if p]
    for p in STD_PATH:
        if p not in path:
            path.append(p)
    out["PATH"] = ":".join(path)
    out["HOME"] = "/root"
    out["HYVE_LAB"] = "1"
    return out


def _job_cpio(argv, cwd, env, nonce, modsets, writable):
    conf = "".join("%s=%s\n" % (k, shlex.quote(v)) for k, v in (
        ("LAB_BEGIN", "%s %s" % (BEGIN, nonce)),
        ("LAB_END", "%s %s" % (END, nonce)),
        ("LAB_MODSETS", " ".join(modsets)),
        ("LAB_WRITABLE", writable or "")))
    env_args = " ".join(shlex.quote("%s=%s" % kv)
                        for kv in sorted(env.items()))
    job = ("cd -- %s || { echo 'lab: cannot cd to %s'; exit 127; }\n"
           "exec /run/hyve-lab/busybox env -i %s %s\n" % (
               shlex.quote(cwd), cwd.replace("'", ""), env_args,
               " ".join(shlex.quote(a) for a in argv)))
    cpio = initramfs.Cpio()
    cpio.add_bytes("job/job.conf", conf)
    cpio.add_bytes("job/job.sh", job)
    return cpio.gzip()


def qemu_argv(ver, initrd, mem, smp, writable):
    argv = [QEMU, "-accel", "tcg,thread=multi", "-cpu", "EPYC,+svm,+npt",
            "-smp", str(smp), "-m", str(mem), "-nographic", "-no-reboot",
            "-nic", "none",
            "-kernel", l1_kernel(ver), "-initrd", initrd,
            "-append", "console=ttyS0 quiet loglevel=1 panic=-1",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
            "readonly=on,multidevs=remap"]
    if writable:
        argv += ["-virtfs", "local,path=%s,mount_tag=hostrw,"
                 "security_model=none,multidevs=remap" % writable]
    return argv


def run(argv, timeout=600, mem=4096, smp=2, modules=(), writable=None,
        cwd=None, env=None, stream=None, log_path=None, keep_log=False,
        lockup_retries=1, silence_s=None):
    """Run argv in L1 and return a Result.

    silence_s: a command that prints nothing for this long is taken as an
    L1 hang too (the CI run of session 8 saw L1 go quiet for 16 min at
    100% CPU without a soft-lockup message); only for commands that print
    something at least that often.

    When the L1 kernel itself hangs (soft lockups of its CPUs for
    LOCKUP_S seconds: the emulated machine, not the command, stopped; seen
    now and then under TCG with nested KVM), QEMU is stopped and the whole
    command runs again in a fresh L1, at most lockup_retries times, with a
    note on stream. A lockup on the last attempt returns LAB_FAILURE.
    """
    for attempt in range(lockup_retries + 1):
        res = _run_once(argv, timeout, mem, smp, modules, writable, cwd, env,
                        stream, log_path, keep_log, silence_s)
        if not res.lockup or attempt == lockup_retries:
            return res
        note = ("lab: L1 hung (%s; console log %s); running the command again "
                "in a fresh L1 (attempt %d of %d)\n" % (
                    res.reason, res.log_path, attempt + 2, lockup_retries + 1))
        sys.stderr.write(note)
        if stream is not None and stream is not sys.stderr:
            stream.write(note)
            stream.flush()
    return res


def _run_once(argv, timeout, mem, smp, modules, writable, cwd, env, stream,
              log_path, keep_log, silence_s=None):
    """One L1 boot running argv (see run).

    stream: a text file object (e.g. sys.stdout) that gets the command's
    output as it arrives.  The full console log goes to log_path (or a file
    in the cache dir); it is deleted on success unless keep_log or log_path
    was given."""
    for m in modules:
        if m not in MODULE_SETS or m == "base":
            raise LabError("unknown module set %r (known: %s)" % (
                m, ", ".join(k for k in MODULE_SETS if k != "base")))
    cwd = os.path.abspath(cwd or os.getcwd())
    if writable:
        writable = os.path.abspath(writable)
        os.makedirs(writable, exist_ok=True)
        if "," in writable:
            raise LabError("--writable path may not contain ','")
    ver = initramfs.kernel_version()
    base = l1_initramfs(ver)
    nonce = secrets.token_hex(8)
    job = _job_cpio(argv, cwd, _job_env(dict(os.environ if env is None
                                             else env)),
                    nonce, list(modules), writable)
    res = Result()
    logdir = os.path.join(cache_dir(), "logs")
    os.makedirs(logdir, exist_ok=True)
    _prune(logdir, "lab-", 3 * 86400)            # old failure logs
    _prune(cache_dir(), "lab-initrd-", 86400)    # left by a killed harness
    if log_path:
        keep_log = True
        log = open(log_path, "wb")
    else:
        fd, log_path = tempfile.mkstemp(prefix="lab-", suffix=".log",
                                        dir=logdir)
        log = os.fdopen(fd, "wb")
    res.log_path = log_path
    with tempfile.NamedTemporaryFile(prefix="lab-initrd-", suffix=".img",
                                     dir=cache_dir()) as initrd:
        with open(base, "rb") as f:
            initrd.write(f.read())
        initrd.write(job)
        initrd.flush()
        qargv = qemu_argv(ver, initrd.name, mem, smp, writable)
        log.write(("# %s\n" % " ".join(shlex.quote(a) for a in qargv))
                  .encode())
        log.flush()
        _drive(res, qargv, nonce, timeout, stream, log, silence_s)
    log.close()
    if res.returncode in (TIMEOUT, LAB_FAILURE) and not res.reason:
        res.reason = "see log"
    if not keep_log and res.returncode not in (TIMEOUT, LAB_FAILURE):
        os.unlink(log_path)
        res.log_path = None
    return res


def _drive(res, qargv, nonce, timeout, stream, log, silence_s=None):
    begin = ("%s %s" % (BEGIN, nonce)).encode()
    end = ("%s %s rc=" % (END, nonce)).encode()
    t0 = time.monotonic()
    proc = subprocess.Popen(qargv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=log,
                            start_new_session=True, preexec_fn=_die_with_us)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    pending = b""
    state = "boot"  # boot -> cmd -> done
    out = []
    deadline = t0 + timeout
    last_out = t0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                res.timed_out = True
                break
            if not sel.select(min(left, 1.0)):
                if silence_s and state == "cmd" and \
                        time.monotonic() - last_out > silence_s:
                    res.lockup = True
                    res.silent = True
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            last_out = time.monotonic()
            log.write(chunk)
            log.flush()
            buf += chunk
            while b"\n" in buf and state != "done":
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                m = LOCKUP_RE.search(line)
                if m and int(m.group(1)) >= LOCKUP_S:
                    res.lockup = True
                    break
                if state == "boot":
                    if line.endswith(begin):
                        state = "cmd"
                        res.boot_s = time.monotonic() - t0
                elif line.startswith(end):
                    # stage2 printed "\n" before the marker: the newline
                    # still pending belongs to it, not to the command.
                    pending = b""
                    try:
                        res.returncode = int(line[len(end):].strip())
                    except ValueError:
                        res.returncode = LAB_FAILURE
                    state = "done"
                else:
                    # Hold each line's newline back until more output comes.
                    _emit(pending + line, out, stream)
                    pending = b"\n"
            if res.lockup:
                break
            if state == "done":
                # stage2 powers off now; give QEMU a moment to exit
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stdout.close()
    res.total_s = time.monotonic() - t0
    if state == "cmd":
        _emit(pending + buf.replace(b"\r\n", b"\n"), out, stream)
    res.output = b"".join(out).decode(errors="replace")
    if res.lockup:
        res.returncode = LAB_FAILURE
        res.reason = ("no output from the command for %d s (L1 taken as hung)" % silence_s
                      if res.silent else
                      "L1 kernel soft lockup for %d s or more" % LOCKUP_S)
    elif res.timed_out:
        res.returncode = TIMEOUT
        res.reason = "time limit of %s s reached (%s)" % (
            timeout, "L1 never started the command" if state == "boot"
            else "command still running")
    elif state == "boot":
        res.returncode = LAB_FAILURE
        res.reason = "L1 did not start the command (QEMU exit %s)" % (
            proc.returncode)
    elif state == "cmd":
        res.returncode = LAB_FAILURE
        res.reason = "L1 stopped before the command finished"


def _die_with_us():
    """In the QEMU child: get SIGKILL when the harness dies (a test runner's
    SIGTERM, a crash), so no TCG machine is left spinning."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _prune(directory, prefix, max_age_s):
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            if (name.startswith(prefix) and
                    now - os.stat(path).st_mtime > max_age_s):
                os.unlink(path)
        except OSError:
            pass


def _emit(data, out, stream):
    out.append(data)
    if stream is not None:
        stream.write(data.decode(errors="replace"))
        stream.flush()


def test_guest(outdir=None):
    """(kernel, initrd) of the hyve L2 test guest, building the initrd with
    tests/guest/build-guest (default output tests/guest/out) if needed."""
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "guest", "build-guest")
    argv = [tool] + ([outdir] if outdir else [])
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    initrd = out.stdout.strip().splitlines()[-1]
    return initramfs.kernel_image(initramfs.kernel_version()), initrd


CHECK_SCRIPT = r"""
if [ ! -c /dev/kvm ]; then echo "lab check: no /dev/kvm in L1"; exit 1; fi
npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)
echo "lab check: /dev/kvm present, kvm_amd npt=$npt, $(nproc) CPUs, \
$(uname -r)"
[ "$npt" = Y ]
"""


def check(timeout=300, stream=None):
    """Boot L1 and verify /dev/kvm exists and kvm_amd has npt=Y.
    Returns the Result (returncode 0 when the lab is usable)."""
    return run(["/bin/sh", "-c", CHECK_SCRIPT], timeout=timeout,
               cwd="/", stream=stream)
