"""hyvevirt: drive a real virtbhyved with the stock clients, for the lab
tests (test-domains-run) and the demo (tools/run-demo).

- Daemon: virtbhyved started with --root DIR (its own sockets, definitions,
  state and logs under DIR), killed and restarted at will.
- Console: `virsh console` on a pseudo-terminal (virsh insists on a tty),
  its output collected by a thread; wait for HYVE-GUEST markers, type.
- VirshEvents: `virsh event --all --loop --timestamp` on a pty, lines kept.
- PyEvents: /usr/bin/python3 libvirt with the default event loop in a
  thread, lifecycle (callback style and legacy registration) and reboot.
- domain_xml(): a <domain type='bhyve'> booting a kernel + initrd.

Command line use (the demo):
    hyvevirt.py console URI DOMAIN --until TEXT [--wait-end] [--run CMD]
                [--timeout S]
prints what `virsh console` shows until TEXT appeared, then detaches (or,
with --wait-end, goes on until the console ends because the domain stopped);
--run CMD runs CMD once the console is connected (e.g. virsh shutdown).
"""

import argparse
import errno
import fcntl
import os
import pty
import shlex
import signal
import subprocess
import sys
import termios
import threading
import time
from xml.sax.saxutils import escape


class Fail(Exception):
    pass


POLKIT_NOTICE = ("Authorization not available. Check if polkit service is "
                 "running or see debug message for more information.\n")


def virsh_argv(uri, *args):
    return ["virsh", "-c", uri] + [str(a) for a in args]


def virsh(uri, *args, check=True, timeout=120):
    """Run virsh, return its stdout (stripped); Fail with its message."""
    p = subprocess.run(virsh_argv(uri, *args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, LC_ALL="C"))
    if check and p.returncode != 0:
        raise Fail("virsh %s failed (%d): %s" % (
            " ".join(str(a) for a in args), p.returncode,
            (p.stderr or p.stdout).strip()))
    return p.stdout.strip() if check else p


def domain_xml(name, kernel, initrd, test="", on_poweroff="destroy",
               on_reboot="restart", memory_mib=256, vcpus=1, cmdline=None):
    if cmdline is None:
        cmdline = "console=ttyS0 quiet panic=-1"
        if test:
            cmdline += " hyve.test=" + test
    return """<domain type='bhyve'>
  <name>%s</name>
  <memory unit='MiB'>%d</memory>
  <vcpu>%d</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <on_poweroff>%s</on_poweroff>
  <on_reboot>%s</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
""" % (escape(name), memory_mib, vcpus, escape(kernel), escape(initrd),
       escape(cmdline), on_poweroff, on_reboot)


class Daemon:
    """virtbhyved --root ROOT; URI reaches its read-write socket."""

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.sock = os.path.join(root, "run", "libvirt", "virtbhyved-sock")
        self.uri = "bhyve+unix:///system?socket=" + self.sock
        self.log_path = os.path.join(root, "virtbhyved.log")
        self.proc = None

    def start(self, timeout=120):
        os.makedirs(self.root, exist_ok=True)
        try:
            os.unlink(self.sock)      # left by a SIGKILLed daemon
        except FileNotFoundError:
            pass
        log = open(self.log_path, "a")
        log.write("---- starting %s\n" % time.strftime("%H:%M:%S"))
        log.flush()
        self.proc = subprocess.Popen([self.binary, "--root", self.root],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, start_new_session=True)
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise Fail("virtbhyved exited (%d): %s" % (
                    self.proc.returncode, self.log_tail()))
            if os.path.exists(self.sock):
                p = virsh(self.uri, "uri", check=False, timeout=20)
                if p.returncode == 0:
                    return
            time.sleep(0.1)
        raise Fail("virtbhyved did not answer within %ds" % timeout)

    def kill(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def domain_log(self, name, n=3000):
        path = os.path.join(self.root, "var", "log", "libvirt", "bhyve",
                            name + ".log")
        try:
            with open(path, errors="replace") as f:
                return f.read()[-n:]
        except OSError as e:
            return "(%s)" % e


def _spawn_on_pty(argv):
    """Start argv with a new pty as its controlling terminal and stdio."""
    master, slave = pty.openpty()

    def child():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=child,
                            env=dict(os.environ, LC_ALL="C"))
    os.close(slave)
    return proc, master


class _PtyReader:
    """Collects everything a process writes on its pty (thread)."""

    def __init__(self, argv, echo=None):
        self.argv = argv
        self.proc, self.master = _spawn_on_pty(argv)
        self.lock = threading.Condition()
        self.data = ""
        self.eof = False
        self.echo = echo
        self._pending = ""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                chunk = b""
            text = chunk.decode(errors="replace").replace("\r\n", "\n")
            with self.lock:
                if not chunk:
                    self.eof = True
                else:
                    self.data += text
                self.lock.notify_all()
            if not chunk:
                return
            if self.echo is not None:
                self._echo(text, final=not chunk)

    def _echo(self, text, final):
        # Whole lines only, so that virsh's polkit notice can be dropped: on
        # a tty virsh tries to start a polkit agent first and, with no
        # polkit on the system bus, says so and goes on.  Noise.
        self._pending += text
        lines = self._pending.split("\n")
        self._pending = "" if final else lines.pop()
        out = "".join(l + "\n" for l in lines if l + "\n" != POLKIT_NOTICE)
        if final and self._pending:
            out += self._pending
        self.echo.write(out)
        self.echo.flush()

    def text(self):
        with self.lock:
            return self.data

    def wait_for(self, pred, timeout, what):
        """Wait until pred(text) is true; returns the text."""
        end = time.monotonic() + timeout
        with self.lock:
            while not pred(self.data):
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail("%s: no %s within %ds; output tail:\n%s" % (
                        " ".join(self.argv[3:]), what, timeout,
                        self.data[-1500:]))
                if self.eof:
                    raise Fail("%s: ended before %s; output tail:\n%s" % (
                        " ".join(self.argv[3:]), what, self.data[-1500:]))
                self.lock.wait(min(left, 0.5))
            return self.data

    def wait_eof(self, timeout):
        end = time.monotonic() + timeout
        with self.lock:
            while not self.eof:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 0.5))
        return True

    def write(self, data):
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def close(self, timeout=5):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(timeout)
        try:
            os.close(self.master)
        except OSError:
            pass
        return self.proc.returncode


MARK = "HYVE-GUEST: "


def markers(text, marker):
    """How many lines carry HYVE-GUEST: <marker> (the marker a prefix)."""
    return sum(1 for line in text.split("\n")
               if MARK + marker in line and
               line[line.index(MARK) + len(MARK):].startswith(marker))


class Console(_PtyReader):
    """`virsh console DOMAIN` on a pty."""

    def __init__(self, uri, name, force=False, echo=None):
        argv = virsh_argv(uri, "console", name) + (["--force"] if force
                                                  else [])
        super().__init__(argv, echo=echo)
        self.name = name

    def wait_marker(self, marker, timeout=180, count=1):
        self.wait_for(lambda t: markers(t, marker) >= count, timeout,
                      "marker %r%s" % (marker, " x%d" % count
                                       if count > 1 else ""))

    def wait_connected(self, timeout=60):
        """virsh switches its tty to raw mode (flushing pending input) once
        the stream is open: type only after its banner."""
        self.wait_for(lambda t: "Escape character is" in t, timeout,
                      "'Escape character is' banner")
        time.sleep(0.3)

    def count(self, marker):
        return markers(self.text(), marker)

    def detach(self, timeout=10):
        """Ctrl-] like a user; virsh then exits 0."""
        if self.proc.poll() is None and not self.eof:
            try:
                self.write(b"\x1d")
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.close()


class VirshEvents(_PtyReader):
    """`virsh event --all --loop --timestamp` (a pty, so it is not buffered)."""

    def __init__(self, uri):
        super().__init__(virsh_argv(uri, "event", "--all", "--loop",
                                    "--timestamp"))

    def lines(self, name=None):
        out = []
        for line in self.text().split("\n"):
            if "event '" not in line:
                continue
            if name is None or ("for domain '%s'" % name) in line:
                out.append(line.split(": event ", 1)[-1].strip()
                           if ": event " in line else line.strip())
        return out

    def wait_event(self, name, text, timeout=60, count=1):
        """text e.g. "lifecycle ... Stopped Shutdown" matched as a suffix of
        the line after the domain name: 'Stopped Shutdown', 'reboot'."""
        def have(_):
            return len(self.matching(name, text)) >= count
        self.wait_for(have, timeout, "event %r for %s" % (text, name))

    def matching(self, name, text):
        out = []
        for line in self.lines(name):
            if text == "reboot":
                if line.startswith("'reboot'"):
                    out.append(line)
            elif line.startswith("'lifecycle'") and line.endswith(": " + text):
                out.append(line)
        return out


class PyEvents:
    """python3-libvirt on the default event loop: lifecycle events with the
    callback API (domainEventRegisterAny) and the legacy one
    (domainEventRegister), reboot events; each kept as a tuple
    (api, name, id, event, detail) with libvirt's names, e.g.
    ("any", "vm1", -1, "STOPPED", "SHUTDOWN")."""

    _loop_started = False

    def __init__(self, uri):
        import libvirt
        self.libvirt = libvirt
        if not PyEvents._loop_started:
            libvirt.virEventRegisterDefaultImpl()
            threading.Thread(target=self._run_loop, daemon=True).start()
            PyEvents._loop_started = True
        self.events = []
        self.cond = threading.Condition()
        self.conn = libvirt.open(uri)
        self.conn.setKeepAlive(5, 3)
        self.ids = [
            self.conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._any, "any"),
            self.conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, self._reboot, None),
        ]
        self.conn.domainEventRegister(self._legacy, "legacy")
        self.ev_names = self._names("VIR_DOMAIN_EVENT_", None)

    def _names(self, prefix, suffix):
        out = {}
        for k in dir(self.libvirt):
            if k.startswith(prefix) and k[len(prefix):].isupper() and \
                    "_" not in k[len(prefix):]:
                out[getattr(self.libvirt, k)] = k[len(prefix):]
        return out

    def detail_name(self, event, detail):
        ev = self.ev_names.get(event, str(event))
        prefix = "VIR_DOMAIN_EVENT_%s_" % ev
        for k in dir(self.libvirt):
            if k.startswith(prefix) and getattr(self.libvirt, k) == detail:
                return k[len(prefix):]
        return str(detail)

    @staticmethod
    def _run_loop():
        import libvirt
        while True:
            libvirt.virEventRunDefaultImpl()

    def _add(self, item):
        with self.cond:
            self.events.append(item)
            self.cond.notify_all()

    def _any(self, conn, dom, event, detail, opaque):
        self._add((opaque, dom.name(), dom.ID(),
                   self.ev_names.get(event, str(event)),
                   self.detail_name(event, detail)))

    _legacy = _any

    def _reboot(self, conn, dom, opaque):
        self._add(("any", dom.name(), dom.ID(), "REBOOT", ""))

    def matching(self, name, event, detail=None, api="any"):
        with self.cond:
            return [e for e in self.events
                    if e[0] == api and e[1] == name and e[3] == event and
                    (detail is None or e[4] == detail)]

    def of(self, name, api="any"):
        with self.cond:
            return [e[3] + ("/" + e[4] if e[4] else "")
                    for e in self.events if e[0] == api and e[1] == name]

    def wait_event(self, name, event, detail=None, timeout=60, count=1,
                   api="any"):
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.matching(name, event, detail, api)) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail("python (%s): no %s/%s event for %s within "
                               "%ds; got %s" % (api, event, detail, name,
                                                timeout,
                                                self.of(name, api)))
                self.cond.wait(min(left, 0.5))

    def close(self):
        try:
            for i in self.ids:
                self.conn.domainEventDeregisterAny(i)
            self.conn.domainEventDeregister(self._legacy)
        except self.libvirt.libvirtError:
            pass
        try:
            self.conn.close()
        except self.libvirt.libvirtError:
            pass


def _main():
    p = argparse.ArgumentParser(description="virsh console until a text")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("console")
    c.add_argument("uri")
    c.add_argument("domain")
    c.add_argument("--until", required=True, help="detach once this appeared")
    c.add_argument("--wait-end", action="store_true",
                   help="after the text, stay until the console ends (the "
                        "domain stopped) instead of detaching")
    c.add_argument("--run", metavar="COMMAND",
                   help="once the console is connected, run this command "
                        "(shown as '$ COMMAND'), then go on watching")
    c.add_argument("--timeout", type=float, default=180)
    a = p.parse_args()
    con = Console(a.uri, a.domain, echo=sys.stdout)
    try:
        if a.run:
            con.wait_connected(a.timeout)
            print("$ %s" % a.run, flush=True)
            r = subprocess.run(shlex.split(a.run), stdin=subprocess.DEVNULL,
                               capture_output=True, text=True)
            sys.stdout.write(r.stdout + r.stderr)
            sys.stdout.flush()
            if r.returncode != 0:
                raise Fail("%s failed (%d)" % (a.run, r.returncode))
        con.wait_for(lambda t: a.until in t, a.timeout, repr(a.until))
        if a.wait_end:
            if not con.wait_eof(a.timeout):
                raise Fail("the console did not end within %ds" % a.timeout)
            rc = con.close()
            print("\n(virsh console ended: the domain stopped; virsh exit "
                  "status %s)" % rc)
            return 0
    except Fail as e:
        print("\n%s" % str(e).split("; output tail")[0], file=sys.stderr)
        con.close()
        return 1
    rc = con.detach()
    print("\n(detached with Ctrl-], virsh exit status %s)" % rc)
    return 0 if rc in (0, None) else rc


if __name__ == "__main__":
    sys.exit(_main())
