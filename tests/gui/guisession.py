# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private graphical session for GUI tests: Xvfb, a session D-Bus, the
AT-SPI accessibility bus, a throw-away HOME with the application's GSettings
in a keyfile, and screenshots.

Every process started here carries HYVE_GUI_TOKEN=<random> in its
environment (children inherit it, so does what D-Bus activates), so
close() finds and ends them all by pid, whoever forked them."""
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import hyvetest

SCREEN = "1280x1024x24"
TOKEN_VAR = "HYVE_GUI_TOKEN"

PROGRAMS = {
    "Xvfb": "Xvfb",
    "dbus-daemon": "dbus-daemon",
    "import": "import (imagemagick)",
    "virt-manager": "virt-manager",
}
ATSPI_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"


def missing_requirements():
    """Why a GUI session cannot run here, or None."""
    for prog, what in PROGRAMS.items():
        if not shutil.which(prog):
            return "%s is not installed" % what
    if not os.access(ATSPI_LAUNCHER, os.X_OK):
        return "at-spi2-core (%s) is not installed" % ATSPI_LAUNCHER
    try:
        import dogtail  # noqa: F401
        import gi
        gi.require_version("Atspi", "2.0")
    except (ImportError, ValueError) as e:
        return "python3-dogtail / gir1.2-atspi-2.0 missing: %s" % e
    return None


def _read_line(fd, timeout):
    """One line written to the pipe FD within TIMEOUT seconds."""
    import select
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def _keyfile_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'%s'" % v
    return str(v)


class GuiSession:
    """Xvfb + session bus + AT-SPI bus + HOME. settings: {schema path:
    {key: value}} written to the GSettings keyfile before anything starts,
    e.g. {"org/virt-manager/virt-manager/stats": {"update-interval": 1}}."""

    def __init__(self, artifacts, settings=None):
        self.artifacts = artifacts
        os.makedirs(artifacts, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="hyve-gui-")
        self.home = os.path.join(self.tmp, "home")
        self.runtime = os.path.join(self.tmp, "run")
        os.makedirs(self.home)
        os.makedirs(self.runtime, mode=0o700)
        self.token = secrets.token_hex(8)
        self.procs = []
        self.display = None
        self.bus = None
        self.env = None
        self.closed = False
        self._write_settings(settings or {})

    def _write_settings(self, settings):
        d = os.path.join(self.home, ".config", "glib-2.0", "settings")
        os.makedirs(d)
        with open(os.path.join(d, "keyfile"), "w") as f:
            for group, keys in settings.items():
                f.write("[%s]\n" % group)
                for k, v in keys.items():
                    f.write("%s=%s\n" % (k, _keyfile_value(v)))
                f.write("\n")

    def base_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DBUS_", "XDG_", "GTK_", "AT_SPI", "WAYLAND", "DISPLAY",
                                    "LIBVIRT_", "VIRSH_"))}
        env.update({
            TOKEN_VAR: self.token,
            "HOME": self.home,
            "XDG_RUNTIME_DIR": self.runtime,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "GSETTINGS_BACKEND": "keyfile",
            # dogtail's "is accessibility on" check; GTK 3 loads the
            # AT-SPI bridge anyway
            "GTK_MODULES": "gail:atk-bridge",
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        })
        return env

    def _spawn(self, argv, env, log_name, pass_fds=()):
        log = open(os.path.join(self.artifacts, log_name), "wb")
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, pass_fds=pass_fds,
                             # the test's process group (meson's SIGTERM and
                             # SIGKILL reach it) and SIGTERM when the test dies
                             preexec_fn=hyvetest.die_with_parent)
        log.close()
        self.procs.append(p)
        return p

    def start(self, timeout=30):
        env = self.base_env()
        # Xvfb picks a free display and writes its number to the pipe
        r, w = os.pipe()
        self._spawn(["Xvfb", "-displayfd", str(w), "-screen", "0", SCREEN,
                     "-nolisten", "tcp", "-noreset"], env, "xvfb.log", pass_fds=(w,))
        os.close(w)
        num = _read_line(r, timeout)
        os.close(r)
        if not num.isdigit():
            raise RuntimeError("Xvfb did not report a display (log: %s)"
                               % os.path.join(self.artifacts, "xvfb.log"))
        self.display = ":" + num
        env["DISPLAY"] = self.display
        r, w = os.pipe()
        self._spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                     "--address=unix:dir=" + self.runtime, "--print-address=%d" % w],
                    env, "dbus.log", pass_fds=(w,))
        os.close(w)
        self.bus = _read_line(r, timeout)
        os.close(r)
        if not self.bus.startswith("unix:"):
            raise RuntimeError("the session dbus-daemon printed no address")
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus
        self._spawn([ATSPI_LAUNCHER, "--launch-immediately"], env, "at-spi.log")
        self.env = env
        # the accessibility bus is up once the launcher answers on the bus
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.a11y.Bus",
                                "/org/a11y/bus", "org.a11y.Bus.GetAddress"],
                               env=env, capture_output=True, text=True)
            if p.returncode == 0 and "unix:" in p.stdout:
                return self
            time.sleep(0.2)
        raise RuntimeError("the AT-SPI bus did not come up: " + p.stderr)

    def spawn(self, argv, log_name, extra_env=None):
        env = dict(self.env)
        env.update(extra_env or {})
        return self._spawn(argv, env, log_name)

    def use_here(self):
        """Points this process at the session (before importing dogtail)."""
        for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "GTK_MODULES", "XDG_RUNTIME_DIR",
                  "GSETTINGS_BACKEND", "XDG_CONFIG_HOME"):
            os.environ[k] = self.env[k]

    def screenshot(self, name):
        """The whole screen as ARTIFACTS/NAME.png; returns its path."""
        path = os.path.join(self.artifacts, name + ".png")
        subprocess.run(["import", "-display", self.display, "-window", "root", path],
                       env=self.env, check=True, capture_output=True, timeout=60)
        return path

    def _token_pids(self):
        pids = []
        needle = ("%s=%s" % (TOKEN_VAR, self.token)).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % entry, "rb") as f:
                    if needle in f.read().split(b"\0"):
                        pids.append(int(entry))
            except OSError:
                continue
        return pids

    def kill_now(self):
        """From a signal handler: SIGKILL to every process of the session,
        no waiting (meson's SIGKILL follows its SIGTERM 0.5 s later)."""
        for pid in [p.pid for p in self.procs if p.poll() is None] + self._token_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def close(self):
        """Ends every process of the session (started ones first, in
        reverse order, then whatever carries the token) and removes HOME.
        Once; later calls do nothing. Raises RuntimeError when a process of
        the session is still there afterwards."""
        if self.closed:
            return
        self.closed = True
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10 * hyvetest.TIMEOUT_SCALE)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        pids = []
        for _ in range(50):
            pids = self._token_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        left = []
        for pid in self._token_pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        left.append(pid)
            except OSError:
                pass
        if not os.environ.get("HYVE_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        if left:
            raise RuntimeError("processes of the GUI session survived SIGKILL: %r" % left)
