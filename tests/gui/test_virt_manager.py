#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""virt-manager 4.1 against virtbhyved under Xvfb, checked through AT-SPI
(python3-dogtail), with screenshots saved as test artifacts.

The test starts its own daemon (hyvetest.Daemon), defines four domains
(two running the "echo guest", one with a virtio disk, and two shut off;
the echo guest is a 4 KiB bzImage that prints a banner on COM1 and echoes what it
reads there in upper case), a dir pool and a virtual network, then runs
the stock virt-manager (`--connect bhyve+unix:///system?socket=...`) in a
private X server / D-Bus / AT-SPI session and drives it like a user:

  - main window: title, connection row connected, VM rows with their state
  - toolbar: Run, Pause, resume, Shut Down, Force Off; each checked on the
    daemon's side (python3-libvirt) and in the VM row
  - VM window: the serial text console shows the echo guest's banner, and
    what is typed there comes back from the guest (through the console
    stream, the runner's UART and back)
  - Performance page: CPU, memory, disk, network figures from the stats
    polling (every poll enabled in virt-manager's settings)
  - Details of a shut-off VM: title and vCPUs changed and applied
  - Connection Details: the network (stopped and started) and the pool with
    its volumes
  - Save refused (NO_SUPPORT), Force Reset, Delete with storage
  - the new-VM wizard: its bhyve defaults refused with a message naming
    them, then customized (direct kernel boot, VirtIO disk, pty serial) and
    installed: the new VM's console shows the echo guest
  - virt-manager's own log has no error, warning or unexpected error dialog;
    every call the daemon refused is listed, none is unknown to it

Screenshots go to $HYVE_GUI_ARTIFACTS (meson: <build>/meson-logs/gui).
Exit 77 (skip) without root, /dev/kvm, Xvfb, virt-manager or dogtail."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.environ.get("HYVE_SOURCE_ROOT",
                                               os.path.dirname(os.path.dirname(HERE))),
                                "tests", "integration"))

import hyvetest                     # noqa: E402
import guisession                   # noqa: E402
import echoguest                    # noqa: E402

ARTIFACTS = os.environ.get("HYVE_GUI_ARTIFACTS") or os.path.join(
    os.environ.get("TMPDIR", "/tmp"), "hyve-gui-artifacts")

RUNNING = "gui-run"      # Debian kernel, started by the test
STOPPED = "gui-off"      # driven through the toolbar
ECHO = "gui-echo"        # the echo guest, for the console
NEW = "gui-new"          # made by the new-VM wizard
NETWORK = "gui-net"
POOL = "gui-pool"
VOLUME = "gui-run.img"
DELETED = "gui-del"      # deleted with its storage through the GUI
DELETED_VOLUME = "gui-del.img"
BRIDGE_MAC = "52:54:00:9a:01:02"



def stats_domain_xml(name, disk, kernel):
    """The echo guest (it busy-polls its serial line, so its vCPU shows CPU
    use on any KVM) with 128 MiB and a virtio disk (disk stats), no
    network."""
    xml = echoguest.domain_xml(name, kernel, memory_kib=131072)
    disk_xml = ("<disk type='file' device='disk'><driver name='file' type='raw'/>"
                "<source file='%s'/><target dev='vda' bus='virtio'/></disk>\n    " % disk)
    return xml.replace("<console type='pty'>", disk_xml + "<console type='pty'>", 1)


NETWORK_XML = """<network>
  <name>%s</name>
  <bridge name='virbr93'/>
  <ip address='192.168.193.1' netmask='255.255.255.0'/>
</network>
""" % NETWORK

SETTINGS = {
    # every statistic polled, every graph column shown, once a second
    "org/virt-manager/virt-manager/stats": {
        "update-interval": 1, "enable-cpu-poll": True, "enable-disk-poll": True,
        "enable-net-poll": True, "enable-memory-poll": True},
    "org/virt-manager/virt-manager/vmlist-fields": {
        "cpu-usage": True, "host-cpu-usage": True, "memory-usage": True,
        "disk-usage": True, "network-traffic": True},
    # no "are you sure" for force off (the dialog is tested once below with
    # shut down's own setting left at its default)
    "org/virt-manager/virt-manager/confirm": {"forcepoweroff": True, "removedev": False},
    "org/virt-manager/virt-manager": {"xmleditor-enabled": True},
}

# procedure numbers virt-manager calls that the daemon does not implement
# (each answered "unknown procedure", which virt-manager takes as "not
# supported", as it does with libvirtd's VIR_ERR_NO_SUPPORT)
UNKNOWN_ALLOWED = []

# virt-manager log lines that are not hyve's fault: the new-VM wizard
# prefers UEFI for bhyve; hyve's domain capabilities offer no loader (direct
# kernel boot only), so virtinst warns and goes on without one
LOG_ALLOWED = [r"WARNING \(guest:\d+\) Couldn't configure UEFI: Libvirt version does not "
               r"support UEFI\.$",
               r"WARNING \(guest:\d+\) Your VM may not boot successfully\.$"]


def wait_for(pred, timeout=30, step=0.2, what="condition"):
    timeout *= hyvetest.TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except Exception as e:          # AT-SPI objects come and go
            last = e
            if not isinstance(e, (LookupError, RuntimeError, AttributeError)) \
                    and type(e).__name__ not in ("GError", "SearchError"):
                raise
        else:
            if last:
                return last
        time.sleep(step)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def dump_tree(node, f, depth=0):
    """The accessibility tree below NODE, one line a node."""
    try:
        f.write("%s%s | %r | %s\n" % ("  " * depth, node.roleName, node.name,
                                      "showing" if node.showing else "hidden"))
        for c in node.children:
            dump_tree(c, f, depth + 1)
    except Exception as e:
        f.write("%s(error: %s)\n" % ("  " * depth, e))


def setUpModule():
    if os.geteuid() != 0:
        hyvetest.skip("running domains needs root")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        hyvetest.skip("no usable /dev/kvm")
    why = guisession.missing_requirements()
    if why:
        hyvetest.skip(why)
    hyvetest.require_daemon()


class VirtManagerTest(unittest.TestCase):
    """One daemon, one virt-manager; the steps run in name order."""

    # error dialogs a step provoked on purpose (regular expressions)
    expected_dialogs = []

    @classmethod
    def setUpClass(cls):
        cls.session = None
        cls.files = None
        cls.daemon = None
        try:
            cls._set_up()
        except BaseException:
            # tearDownClass does not run: end the session, remove the files
            if cls.session is not None:
                cls.session.close()
            if cls.files and not os.environ.get("HYVE_KEEP_TMP"):
                shutil.rmtree(cls.files, ignore_errors=True)
            raise

    @classmethod
    def _on_signal(cls, signum, frame):
        """meson's timeout (SIGTERM) or ^C: the GUI session's processes
        go first, then hyvetest's handler (daemons, temporary files)."""
        if cls.session is not None:
            try:
                cls.session.kill_now()
            except Exception:
                pass
            shutil.rmtree(cls.session.tmp, ignore_errors=True)
        # before hyvetest's handler, whose daemon stop may outlast meson's
        # 0.5 s before SIGKILL
        for path in (cls.files, getattr(getattr(cls, "daemon", None), "root", None)):
            if path:
                shutil.rmtree(path, ignore_errors=True)
        cls._hyvetest_handler(signum, frame)

    @classmethod
    def _set_up(cls):
        import libvirt
        # hyvetest.main() installed its handlers before the tests started
        cls._hyvetest_handler = signal.getsignal(signal.SIGTERM)
        if not callable(cls._hyvetest_handler):
            cls._hyvetest_handler = lambda signum, frame: os._exit(128 + signum)
        signal.signal(signal.SIGTERM, cls._on_signal)
        signal.signal(signal.SIGINT, cls._on_signal)
        # debug level: the daemon logs every call that failed, and why
        files = cls.files = hyvetest.make_tmpdir("hyve-gui-files-")
        os.chmod(files, 0o755)
        conf = os.path.join(files, "virtbhyved.conf")
        with open(conf, "w") as f:
            f.write("log_level = 1\n")
            if os.geteuid() != 0:
                f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
        cls.daemon = hyvetest.Daemon(name="gui-daemon", args=["--config", conf]).start()
        cls.conn = libvirt.open(cls.daemon.uri)
        kernel = cls.echo_kernel = os.path.join(files, "echo.bzImage")
        with open(kernel, "wb") as f:
            f.write(echoguest.echo_bzimage())
        pool_dir = os.path.join(files, "pool")
        os.mkdir(pool_dir)
        pool = cls.conn.storagePoolDefineXML(
            "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
            % (POOL, pool_dir))
        pool.create()
        # the running domain's disk is a volume of the pool ("Used By")
        vol = pool.createXML("<volume><name>%s</name><capacity unit='MiB'>8</capacity>"
                             "</volume>" % VOLUME, 0)
        cls.conn.defineXML(stats_domain_xml(RUNNING, vol.path(), kernel)).create()
        cls.conn.defineXML(hyvetest.domain_xml(STOPPED))
        vol = pool.createXML("<volume><name>%s</name><capacity unit='MiB'>4</capacity>"
                             "</volume>" % DELETED_VOLUME, 0)
        cls.conn.defineXML(stats_domain_xml(DELETED, vol.path(), kernel))
        cls.conn.defineXML(echoguest.domain_xml(ECHO, kernel)).create()
        # started: the test runs in a network namespace of its own
        cls.conn.networkDefineXML(NETWORK_XML).create()

        # this run's artifacts only
        if os.path.isdir(ARTIFACTS):
            for f in os.listdir(ARTIFACTS):
                if f.endswith((".png", ".tree", ".log", ".out")):
                    os.unlink(os.path.join(ARTIFACTS, f))
        cls.session = guisession.GuiSession(ARTIFACTS, SETTINGS)
        cls.session.start()
        cls.vmm_log = os.path.join(cls.session.home, ".cache", "virt-manager",
                                   "virt-manager.log")
        cls.vmm = cls.session.spawn(["virt-manager", "--no-fork", "--debug",
                                     "--connect", cls.daemon.uri], "virt-manager.out")
        cls.session.use_here()
        global tree, rawinput, dogtail_config
        # dogtail's settings object (set before dogtail.tree is imported:
        # its debug logger reads logDebugToFile then)
        from dogtail.config import config as dogtail_config
        for d in ("scratchDir", "dataDir", "logDir"):
            setattr(dogtail_config, d, os.path.join(cls.session.tmp, "dogtail", d) + "/")
        dogtail_config.logDebugToFile = False
        dogtail_config.logDebugToStdOut = False
        dogtail_config.searchShowingOnly = False
        dogtail_config.defaultDelay = 0.3
        dogtail_config.actionDelay = 0.3
        from dogtail import tree, rawinput       # noqa: F401
        cls.app = wait_for(lambda: tree.root.application("virt-manager"), 60,
                           what="virt-manager on the accessibility bus")
        cls.main = wait_for(lambda: [c for c in cls.app.children if c.roleName == "frame"
                                     and c.name == "Virtual Machine Manager"], 60,
                            what="the main window")[0]

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.vmm.poll() is None:
                cls.session.screenshot("zz-last")
        except Exception as e:
            print("last screenshot failed: %s" % e)
        cls.session.close()
        for name in (RUNNING, STOPPED, ECHO, DELETED, NEW):
            try:
                cls.conn.lookupByName(name).destroy()
            except Exception:
                pass
        cls.conn.close()
        cls.daemon.cleanup()
        if not os.environ.get("HYVE_KEEP_TMP"):
            shutil.rmtree(cls.files, ignore_errors=True)
        cls.daemon.check_reports()

    # -- helpers ---------------------------------------------------------
    def run(self, result=None):
        """A failing step leaves the accessibility tree and a screenshot."""
        n_before = len(result.failures) + len(result.errors) if result else 0
        t0 = time.monotonic()
        super().run(result)
        print("(%s: %.1f s)" % (self._testMethodName, time.monotonic() - t0))
        if result and len(result.failures) + len(result.errors) > n_before:
            step = self._testMethodName
            try:
                self.session.screenshot("failed-" + step)
                with open(os.path.join(ARTIFACTS, "failed-%s.tree" % step), "w") as f:
                    dump_tree(self.app, f)
            except Exception as e:
                print("could not save the failure's screen/tree: %s" % e)
            self.close_extra_windows()

    def close_extra_windows(self):
        """After a failed step: the alerts and windows it left open go, so
        the next step starts from the main window alone."""
        try:
            windows = [c for c in self.app.children if c.showing]
        except Exception as e:
            print("could not list the windows: %s" % e)
            return
        for w in windows:
            try:
                if w.roleName == "frame" and w.name == "Virtual Machine Manager":
                    continue
                if w.roleName == "alert":
                    buttons = w.findChildren(lambda n: n.roleName == "push button"
                                             and n.name in ("Close", "No", "Cancel", "OK"))
                    if buttons:
                        buttons[0].doActionNamed("click")
                        continue
                elif w.roleName == "frame":
                    # a wizard has Cancel, other windows File > Close
                    cancel = w.findChildren(lambda n: n.roleName == "push button"
                                            and n.name == "Cancel" and n.showing)
                    if cancel:
                        cancel[0].doActionNamed("click")
                    else:
                        self.close_window(w)
                    continue
                w.grabFocus()
                rawinput.pressKey("Escape")
            except Exception as e:
                print("could not close %s %r: %s" % (w.roleName, w.name, e))

    def top(self, role, name=None):
        """A window of the application (a direct child: no search of the
        whole tree) with ROLE (and NAME), or None."""
        for c in self.app.children:
            if c.roleName == role and (name is None or c.name == name):
                return c
        return None

    def vm_list(self):
        return self.main.child(name="vm-list", roleName="tree table")

    def row_cells(self):
        """The text cells of the VM list: 'bhyve', 'NAME\\nSTATE', ..."""
        return [c.name for c in self.vm_list().findChildren(
            lambda n: n.roleName == "table cell" and n.name != "")]

    def vm_cell(self, name):
        for c in self.vm_list().findChildren(
                lambda n: n.roleName == "table cell" and n.name.startswith(name + "\n")):
            return c
        raise LookupError("no VM row for %s in %r" % (name, self.row_cells()))

    def wait_row_state(self, name, state, timeout=30):
        wait_for(lambda: self.vm_cell(name).name == "%s\n%s" % (name, state), timeout,
                 what="row %s to say %s" % (name, state))

    def daemon_state(self, name):
        return self.conn.lookupByName(name).state()[0]

    def wait_daemon_state(self, name, state, timeout=30):
        wait_for(lambda: self.daemon_state(name) == state, timeout,
                 what="%s in state %d on the daemon" % (name, state))

    def select_vm(self, name, then_sensitive):
        """Clicks NAME's row (the main window must be on top: Xvfb has no
        window manager) until the toolbar button THEN_SENSITIVE is."""
        button = self.toolbar_button(then_sensitive)
        self.vm_cell(name).click()
        wait_for(lambda: button.sensitive, 10, what="row %s selected" % name)

    def toolbar_button(self, name):
        role = "toggle button" if name == "Pause" else "push button"
        return self.main.child(name=name, roleName=role, retry=False)

    def press(self, node, what=None):
        """The widget's own action (no pointer: works on covered windows)."""
        wait_for(lambda: node.sensitive, 15, what=(what or node.name) + " sensitive")
        for action in ("click", "press", "activate"):
            if action in node.actions:
                node.doActionNamed(action)
                return
        node.click()

    def menu(self, window, *path):
        """Activates the menu item at PATH (menu names, then the item)."""
        node = window
        for i, name in enumerate(path):
            role = "menu" if i < len(path) - 1 else None
            node = wait_for(lambda: node.findChild(
                lambda n: n.name == name and (n.roleName == role if role
                                              else n.roleName.endswith("menu item")),
                retry=False, requireResult=False), 10, what="menu entry " + name)
            if i < len(path) - 1:
                continue
            self.press(node)

    def close_window(self, win):
        """A VM or details window's File > Close (no window manager here)."""
        self.menu(win, "File", "Close")
        wait_for(lambda: not win.showing, 15, what="window %s closed" % win.name)

    def shutdown_menu(self, entry):
        """Picks ENTRY in the toolbar's Shut Down menu; returns the alert
        (confirmation or error) it opens. A click that did not take (menu
        not yet mapped under the pointer) is retried, up to 3 tries, with
        Escape in between."""
        toggle = self.main.child(name="Menu", roleName="toggle button")
        item = self.main.child(name=entry, roleName="menu item")
        for attempt in range(3):
            self.press(toggle)
            wait_for(lambda: item.showing, 10, what="the Shut Down menu open")
            # the pointer, not the item's action: virt-manager runs the "are
            # you sure" dialog inside the activation, which would keep
            # AT-SPI's call (and so every later one) waiting
            time.sleep(0.5)
            item.click()
            try:
                return wait_for(lambda: self.top("alert"), 10,
                                what="the dialog of %s (try %d)" % (entry, attempt + 1))
            except AssertionError:
                if attempt == 2:
                    raise
                print("%s: no dialog after try %d, again" % (entry, attempt + 1))
                rawinput.pressKey("Escape")
                wait_for(lambda: not item.showing, 10, what="the Shut Down menu closed")

    def runner_pid(self, name):
        conf = ("/" + name + ".conf").encode()
        pids = []
        for pid in self.daemon.runner_pids():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if f.read().rstrip(b"\0").endswith(conf):
                        pids.append(pid)
            except OSError:
                pass
        return pids[0] if len(pids) == 1 else None

    def answer_dialog(self, button="Yes"):
        """Clicks BUTTON in virt-manager's 'Are you sure' alert."""
        alert = wait_for(lambda: self.top("alert"), 15,
                         what="a confirmation dialog")
        text = " ".join(n.name for n in alert.findChildren(lambda n: n.roleName == "label"))
        self.press(alert.child(name=button, roleName="push button"))
        wait_for(lambda: self.top("alert") is None, 15, what="the dialog closed")
        return text

    def log_text(self):
        try:
            with open(self.vmm_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- the steps -----------------------------------------------------------
    def test_10_main_window(self):
        import libvirt
        cells = wait_for(lambda: (lambda c: c if len(c) >= 5 else None)(self.row_cells()), 30,
                         what="the connection row and four VM rows")
        # the connection row: its label alone (disconnected: "bhyve - Not Connected")
        self.assertIn("bhyve", cells, cells)
        self.wait_row_state(RUNNING, "Running")
        self.wait_row_state(ECHO, "Running")
        self.wait_row_state(STOPPED, "Shutoff")
        self.wait_row_state(DELETED, "Shutoff")
        self.assertEqual(self.daemon_state(RUNNING), libvirt.VIR_DOMAIN_RUNNING)
        self.assertEqual(self.daemon_state(STOPPED), libvirt.VIR_DOMAIN_SHUTOFF)
        # every stats column that SETTINGS turned on has its header
        headers = [h.name for h in self.vm_list().findChildren(
            lambda n: n.roleName == "table column header")]
        for h in ("Name", "CPU usage", "Host CPU usage", "Memory usage", "Disk I/O",
                  "Network I/O"):
            self.assertIn(h, headers)
        time.sleep(3)       # a few polls in the graphs
        self.session.screenshot("main-window")

    def test_20_lifecycle(self):
        import libvirt
        self.select_vm(STOPPED, "Run")
        self.press(self.toolbar_button("Run"))
        self.wait_daemon_state(STOPPED, libvirt.VIR_DOMAIN_RUNNING)
        self.wait_row_state(STOPPED, "Running")

        pause = self.toolbar_button("Pause")
        self.press(pause)
        self.wait_daemon_state(STOPPED, libvirt.VIR_DOMAIN_PAUSED)
        self.wait_row_state(STOPPED, "Paused")
        wait_for(lambda: pause.checked, 10, what="Pause pressed in")
        self.session.screenshot("paused")
        self.press(pause)                   # resume
        self.wait_daemon_state(STOPPED, libvirt.VIR_DOMAIN_RUNNING)
        self.wait_row_state(STOPPED, "Running")

        # Shut Down presses the power button: this guest never reacts, so
        # the domain stays running and virt-manager must show no error
        line = "Shutting down vm '%s'" % STOPPED
        before = self.log_text().count(line)
        self.press(self.toolbar_button("Shut Down"))
        wait_for(lambda: self.log_text().count(line) == before + 1, 15,
                 what="virt-manager to log %r once more" % line)
        time.sleep(1)
        self.assertEqual(self.daemon_state(STOPPED), libvirt.VIR_DOMAIN_RUNNING)

        # Force Off from the Shut Down button's menu, confirmed
        self.shutdown_menu("Force Off")
        text = self.answer_dialog("Yes")
        self.assertIn("force poweroff '%s'" % STOPPED, text)
        self.wait_daemon_state(STOPPED, libvirt.VIR_DOMAIN_SHUTOFF)
        self.wait_row_state(STOPPED, "Shutoff")

    def open_vm_window(self, name):
        self.vm_cell(name).doubleClick()
        return wait_for(lambda: self.top("frame", "%s on bhyve" % name), 30,
                        what="the VM window of " + name)

    def test_30_console(self):
        win = self.open_vm_window(ECHO)
        term = wait_for(lambda: win.child(roleName="terminal", retry=False), 30,
                        what="the serial console terminal")
        wait_for(lambda: echoguest.BANNER_TEXT in (term.text or ""), 60,
                 what="the echo guest's banner in the console")
        term.click()
        rawinput.typeText("hello hyve")
        wait_for(lambda: "HELLO HYVE" in (term.text or ""), 60,
                 what="the guest's echo of what was typed")
        self.session.screenshot("vm-console")
        self.close_window(win)

    def test_40_performance(self):
        win = self.open_vm_window(RUNNING)
        self.menu(win, "View", "Details")
        hw = wait_for(lambda: win.child(name="hw-list", retry=False), 20, what="hw-list")
        hw.child(name="Performance", roleName="table cell").click()
        tab = wait_for(lambda: win.child(name="performance-tab", retry=False), 20,
                       what="the performance tab")

        def figures():
            labels = [n.name.strip() for n in tab.findChildren(lambda n: n.roleName == "label")]
            cpu = [l for l in labels if re.fullmatch(r"\d+ %", l)]
            # no balloon device: like libvirt's QEMU driver without guest
            # balloon statistics there is no "unused", so virt-manager shows
            # 0 MiB used of balloon.current (<currentMemory>)
            mem = [l for l in labels if re.fullmatch(r"[\d.]+ MiB of 128 MiB", l)]
            disk = [l for l in labels if re.fullmatch(r"[\d.]+ KiB/s read [\d.]+ KiB/s write", l)]
            net = [l for l in labels if re.fullmatch(r"[\d.]+ KiB/s in [\d.]+ KiB/s out", l)]
            # the echo guest busy-polls its serial line: CPU use shows
            if cpu and mem and disk and net and any(int(c.split()[0]) > 0 for c in cpu):
                return labels
            print("performance page so far: %r" % labels)
            return None
        labels = wait_for(figures, 30, step=2, what="CPU, memory, disk and network figures")
        print("performance page: %r" % labels)
        self.session.screenshot("vm-performance")
        self.close_window(win)

    def test_45_edit_config(self):
        """Details of a shut-off VM: a new title and 2 vCPUs, applied
        (virt-manager redefines the XML it read): the daemon's definition has
        both."""
        import libvirt
        win = self.open_vm_window(STOPPED)
        self.menu(win, "View", "Details")
        hw = wait_for(lambda: win.child(name="hw-list", retry=False), 20, what="hw-list")
        hw.child(name="Overview", roleName="table cell").click()
        self.labelled(win, "Title:").text = "hyve GUI test"
        self.apply(win)
        hw.child(name="CPUs", roleName="table cell").click()
        self.labelled(win, "vCPU allocation:").value = 2
        self.apply(win)
        xml = self.conn.lookupByName(STOPPED).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        self.assertIn("<title>hyve GUI test</title>", xml)
        self.assertRegex(xml, r"<vcpu[^>]*>2</vcpu>")
        self.assertEqual(self.conn.lookupByName(STOPPED).info()[3], 2)
        self.session.screenshot("vm-details-cpus")
        # the title names the window now
        self.close_window(self.top("frame", "hyve GUI test on bhyve"))

    def test_50_connection_details(self):
        self.menu(self.main, "Edit", "Connection Details")
        win = wait_for(lambda: self.top("frame", "bhyve - Connection Details"), 30,
                       what="the Connection Details window")
        tabs = win.child(roleName="page tab list")
        tabs.child(name="Virtual Networks", roleName="page tab").select()
        net_cell = wait_for(lambda: win.child(name=NETWORK, roleName="table cell",
                                              retry=False), 20,
                            what="network %s listed" % NETWORK)
        net_cell.click()
        grid = win.child(name="network-grid")
        wait_for(lambda: grid.findChild(lambda n: n.roleName == "label"
                                        and n.name == "192.168.193.0/24", retry=False), 20,
                 what="the network's IPv4 network shown")
        self.assertEqual(win.child(name="net-device", roleName="label").text, "virbr93")
        self.assertTrue(grid.findChild(lambda n: n.roleName == "label" and n.name == "Active",
                                       retry=False, requireResult=False), "state not Active")
        self.session.screenshot("connection-networks")
        # stop and start it again with the buttons below the list
        net = self.conn.networkLookupByName(NETWORK)
        self.press(win.child(name="net-stop", roleName="push button"))
        wait_for(lambda: not net.isActive(), 30, what="network %s stopped" % NETWORK)
        self.press(win.child(name="net-start", roleName="push button"))
        wait_for(lambda: net.isActive(), 30, what="network %s started" % NETWORK)
        wait_for(lambda: win.child(name="net-stop", roleName="push button").sensitive, 20,
                 what="the stop button sensitive again")
        tabs.child(name="Storage", roleName="page tab").select()
        pool_cell = wait_for(lambda: win.findChild(
            lambda n: n.roleName == "table cell" and n.name.startswith(POOL + "\n"),
            retry=False), 20, what="pool %s listed" % POOL)
        pool_cell.click()
        vol = wait_for(lambda: win.child(name=VOLUME, roleName="table cell", retry=False),
                       20, what="the pool's volume listed")
        row = [c.name for c in vol.parent.children if c.roleName == "table cell"]
        print("volume row: %r" % row)
        self.assertIn("8.00 MiB", row)
        self.assertIn("raw", row)
        self.assertIn(RUNNING, row, "Used By")
        self.session.screenshot("connection-storage")
        self.close_window(win)

    def test_60_reset(self):
        """Save (managed save) is refused as libvirt refuses a call a driver
        lacks; Force Reset: a new runner for the same domain, still running."""
        import libvirt
        before = self.runner_pid(RUNNING)
        self.assertIsNotNone(before)
        self.select_vm(RUNNING, "Shut Down")
        type(self).expected_dialogs.append(
            r"summary=Error saving domain: this function is not supported by the connection "
            r"driver: virDomainManagedSave")
        self.shutdown_menu("Save")
        alert = wait_for(lambda: self.top("alert"), 30,
                         what="the Save error")
        text = " ".join(n.name for n in alert.findChildren(lambda n: n.roleName == "label"))
        self.assertIn("this function is not supported by the connection driver: "
                      "virDomainManagedSave", text.replace("\n", " "))
        self.press(alert.child(name="Close", roleName="push button"))
        self.assertEqual(self.daemon_state(RUNNING), libvirt.VIR_DOMAIN_RUNNING)
        self.assertEqual(self.runner_pid(RUNNING), before)
        # the same two calls from python3-libvirt: the job virt-manager polled
        # is "none", the save itself NO_SUPPORT
        dom = self.conn.lookupByName(RUNNING)
        self.assertEqual(dom.jobInfo(), [libvirt.VIR_DOMAIN_JOB_NONE] + [0] * 11)
        with self.assertRaises(libvirt.libvirtError) as cm:
            dom.managedSave(0)
        self.assertEqual(cm.exception.get_error_code(), libvirt.VIR_ERR_NO_SUPPORT)
        self.assertEqual(cm.exception.get_error_domain(), libvirt.VIR_FROM_DOMAIN)
        self.shutdown_menu("Force Reset")
        text = self.answer_dialog("Yes")
        self.assertIn("force reset '%s'" % RUNNING, text)
        wait_for(lambda: self.runner_pid(RUNNING) not in (None, before), 30,
                 what="a new runner for %s" % RUNNING)
        self.assertEqual(self.daemon_state(RUNNING), libvirt.VIR_DOMAIN_RUNNING)
        self.wait_row_state(RUNNING, "Running")

    def test_70_delete_with_storage(self):
        """Edit > Delete with "Delete associated storage files": the domain
        is undefined and its volume deleted from the pool."""
        import libvirt
        self.select_vm(DELETED, "Run")
        self.menu(self.main, "Edit", "Delete")
        win = wait_for(lambda: self.top("frame", "Delete Virtual Machine"), 20,
                       what="the delete dialog")
        box = win.child(roleName="check box")
        wait_for(lambda: box.checked, 10, what="storage removal ticked")
        storage = win.child(name="storage-list")
        wait_for(lambda: storage.findChild(lambda n: n.roleName == "table cell"
                                           and n.name.endswith("/" + DELETED_VOLUME),
                                           retry=False), 10,
                 what="the volume's path in the storage list")
        self.session.screenshot("delete-dialog")
        # the pointer: the button's handler runs the "delete the storage?" dialog
        win.child(name="Delete", roleName="push button").click()
        text = self.answer_dialog("Yes")
        self.assertIn(DELETED_VOLUME, text)
        wait_for(lambda: DELETED not in [d.name() for d in self.conn.listAllDomains()], 30,
                 what="%s undefined" % DELETED)
        pool = self.conn.storagePoolLookupByName(POOL)
        pool.refresh()
        self.assertNotIn(DELETED_VOLUME, pool.listVolumes())
        wait_for(lambda: not any(c.startswith(DELETED + "\n") for c in self.row_cells()), 20,
                 what="the row of %s gone" % DELETED)
        self.assertRaises(libvirt.libvirtError, self.conn.lookupByName, DELETED)

    def test_80_new_vm_wizard(self):
        """File > New Virtual Machine: manual install, customized before
        install into what hyve runs (direct kernel boot of the echo guest,
        VirtIO disk in pool "default", the test's network, a pty serial
        console); the VM runs and its console shows the guest."""
        import libvirt
        self.menu(self.main, "File", "New Virtual Machine")
        wiz = wait_for(lambda: self.top("frame", "New VM"),
                       30, what="the new-VM wizard")
        forward = wiz.child(name="Forward", roleName="push button")
        t0 = time.monotonic()
        mark = lambda what: print("  [%5.1f s] %s" % (time.monotonic() - t0, what))
        # 1: install method
        self.press(wiz.child(name="Manual install", roleName="radio button"))
        self.press(forward)
        # 2: the OS, from the search entry's list
        mark("page 1")
        entry = wait_for(lambda: wiz.child(name="oslist-entry", retry=False), 20,
                         what="the OS search entry")
        entry.click()
        rawinput.typeText("linux2022")
        # the OS list pops over the wizard, inside its frame
        os_cell = wait_for(lambda: wiz.findChild(
            lambda n: n.roleName == "table cell" and n.showing
            and n.name.startswith("Generic Linux 2022"), retry=False), 20,
            what="Generic Linux 2022 offered")
        os_cell.click()
        wait_for(lambda: entry.text == "Generic Linux 2022", 10, what="the OS chosen")
        self.press(forward)
        # 3: 2 CPUs, 256 MiB (not the defaults)
        mark("page 2")
        wait_for(lambda: wiz.findChild(lambda n: n.roleName == "label" and n.showing
                                       and n.name == "Choose Memory and CPU settings:",
                                       retry=False), 20, what="the memory and CPU page")
        cpus = wiz.child(name="cpus", roleName="spin button")
        # the memory spin has no mnemonic label: it is the one beside the
        # "Up to <size> available on the host" label
        host_mem = wiz.findChild(lambda n: n.roleName == "label" and n.showing
                                 and re.fullmatch(r"Up to .+ available on the host",
                                                  n.name or ""))
        mem = [n for n in host_mem.parent.children if n.roleName == "spin button"]
        self.assertEqual(len(mem), 1, "spin buttons beside %r" % host_mem.name)
        mem = mem[0]
        cpus.value = 2
        mem.value = 256
        wait_for(lambda: (cpus.value, mem.value) == (2, 256), 10, what="2 CPUs, 256 MiB set")
        self.press(forward)
        # 4: a new 0.1 GiB disk image in the default pool
        mark("page 3")
        wait_for(lambda: wiz.findChild(
            lambda n: n.roleName == "radio button" and n.showing
            and n.name == "Create a disk image for the virtual machine", retry=False), 20,
            what="the storage page")
        size = self.labelled(wiz, "GiB")
        self.assertEqual(size.roleName, "spin button")
        size.value = 0.1
        self.press(forward)
        # 5: name, network, customize
        mark("page 4")
        finish = wiz.child(name="Finish", roleName="push button")
        wait_for(lambda: finish.showing, 20, what="the last page")
        self.press(wiz.child(name="Network selection", roleName="toggle button"))
        combo = wiz.child(name="net-source", roleName="combo box")
        self.press(combo.findChild(lambda n: n.roleName == "menu item"
                                   and "'%s'" % NETWORK in n.name))
        name = wiz.findChild(lambda n: n.roleName == "text" and n.showing
                             and n.text == "linux2022")
        name.text = NEW
        self.press(wiz.child(name="Customize configuration before install",
                             roleName="check box"))
        finish.click()
        win = wait_for(lambda: self.top("frame", "%s on bhyve" % NEW), 30,
                       what="the customize window")
        begin = win.child(name="Begin Installation", roleName="push button")
        mark("customize window")
        # virt-manager's bhyve defaults as they are: refused, naming what to change
        type(self).expected_dialogs.append(
            r"summary=Unable to complete install: 'unsupported configuration: not supported "
            r"by hyve: disk bus 'sata'")
        begin.click()
        alert = wait_for(lambda: self.top("alert"), 30,
                         what="the refusal of the defaults")
        text = " ".join(n.name for n in alert.findChildren(lambda n: n.roleName == "label"))
        print("defaults refused: %s" % text)
        self.assertIn("not supported by hyve", text)
        for what in ("sata", "e1000", "nmdm", "graphics"):
            self.assertIn(what, text)
        self.press(alert.child(name="Close", roleName="push button"))
        self.assertRaises(libvirt.libvirtError, self.conn.lookupByName, NEW)
        self.customize(win)
        mark("refusal checked")
        begin.click()
        wait_for(lambda: NEW in [d.name() for d in self.conn.listAllDomains()
                                 if d.isActive()], 60, what="%s defined and running" % NEW)
        xml = self.conn.lookupByName(NEW).XMLDesc(0)
        print(xml)
        self.assertIn("<kernel>%s</kernel>" % self.echo_kernel, xml)
        self.assertIn("<cmdline>console=ttyS0</cmdline>", xml)
        self.assertRegex(xml, r"<source file='[^']*/%s\.img'/>\s*<target dev='vda' bus='virtio'/>"
                         % NEW)
        self.assertIn("<source network='%s'" % NETWORK, xml)
        self.assertIn("<serial type='pty'>", xml)
        # what the wizard's pages set: 2 vCPUs, 256 MiB, a 0.1 GiB volume
        self.assertRegex(xml, r"<vcpu[^>]*>2</vcpu>")
        self.assertIn("<memory unit='KiB'>262144</memory>", xml)
        pool = self.conn.storagePoolLookupByName("default")
        self.assertIn("%s.img" % NEW, pool.listVolumes())
        capacity = pool.storageVolLookupByName("%s.img" % NEW).info()[1]
        self.assertLessEqual(abs(capacity - 0.1 * 1024 ** 3), 1024 ** 2,
                             "capacity %d B, not 0.1 GiB" % capacity)
        # the VM window, now on the running domain's console
        mark("running")
        wait_for(lambda: self.top("frame", "%s on bhyve" % NEW), 30,
                 what="the VM window of " + NEW)

        def console_window():
            # looked up again each time: the customize window of the same
            # title is replaced by the VM's window (an ASan CI run held on to
            # the old one: "accessible ... does not exist" for 60 s)
            for w in self.app.children:
                try:
                    if w.roleName == "frame" and w.name == "%s on bhyve" % NEW and w.findChild(
                            lambda n: n.roleName == "terminal" and n.showing
                            and echoguest.BANNER_TEXT in (n.text or ""),
                            retry=False, requireResult=False):
                        return w
                except Exception as e:      # a window going away: try the others
                    if type(e).__name__ not in ("GError", "LookupError", "RuntimeError"):
                        raise
            return None
        win = wait_for(console_window, 60, what="the new VM's console showing the guest")
        self.session.screenshot("new-vm-console")
        self.close_window(win)

    def labelled(self, win, label):
        """The widget LABEL (its text, mnemonic included) names."""
        lab = wait_for(lambda: win.findChild(lambda n: n.roleName == "label" and n.showing
                                             and n.name == label, retry=False), 20,
                       what="label " + label)
        return lab.labelee

    def apply(self, win):
        """A details page's Apply, once its change is taken."""
        button = win.child(name="config-apply", roleName="push button")
        wait_for(lambda: button.sensitive, 10, what="Apply sensitive")
        button.click()
        wait_for(lambda: not button.sensitive, 20, what="the change applied")

    def customize(self, win):
        """What the customize window must change for hyve."""
        hw = win.child(name="hw-list")

        def row(prefix):
            return wait_for(lambda: hw.findChild(
                lambda n: n.roleName == "table cell" and n.name.startswith(prefix),
                retry=False), 20, what="hardware row " + prefix)

        def labelled(label):
            return self.labelled(win, label)

        def combo_of(label):
            w = labelled(label)
            while w.roleName != "combo box":
                w = w.parent
            return w

        def apply():
            self.apply(win)

        row("Boot Options").click()
        self.press(win.child(name="Direct kernel boot", roleName="toggle button"))
        enable = win.child(name="Enable direct kernel boot", roleName="check box")
        wait_for(lambda: enable.showing, 10, what="the direct kernel boot box")
        if not enable.checked:
            self.press(enable)
        labelled("Kernel path:").text = self.echo_kernel
        labelled("Kernel args:").text = "console=ttyS0"
        apply()
        row("SATA Disk 1").click()
        bus = combo_of("Disk bus:")
        self.press(bus.findChild(lambda n: n.roleName == "menu item" and n.name == "VirtIO"))
        apply()
        row("NIC ").click()
        model = combo_of("Device model:")
        self.press(model.findChild(lambda n: n.roleName == "menu item"
                                   and n.name == "Hypervisor default"))
        apply()
        for dev in ("Tablet", "Display VNC", "Console 1", "Video VGA"):
            row(dev).click()
            self.press(win.child(name="config-remove", roleName="push button"))
            wait_for(lambda: not hw.findChild(lambda n: n.roleName == "table cell"
                                              and n.name == dev, retry=False,
                                              requireResult=False), 20,
                     what=dev + " removed")
        # a pty serial port. Add Hardware's Serial page writes
        # <source><clipboard copypaste='yes'/></source> into every character
        # device (virt-manager 4.1; libvirt ignores it for a pty, hyve's
        # validator refuses it), so the device's XML is given on its XML tab
        win.child(name="add-hardware", roleName="push button").click()
        add = wait_for(lambda: self.top("frame", "Add New Virtual Hardware"), 20,
                       what="the Add Hardware window")
        add.findChild(lambda n: n.roleName == "table cell" and n.name == "Serial").click()
        wait_for(lambda: add.findChild(lambda n: n.roleName == "label" and n.showing
                                       and n.name == "Serial Device", retry=False), 20,
                 what="the serial page")
        add.findChild(lambda n: n.roleName == "page tab" and n.name == "XML"
                      and n.showing).select()
        editor = wait_for(lambda: add.findChild(lambda n: n.roleName == "text" and n.showing
                                                and "<serial" in (n.text or ""), retry=False),
                          20, what="the device's XML")
        editor.text = '<serial type="pty"/>\n'
        add.child(name="Finish", roleName="push button").click()
        row("Serial 1")

    def test_91_daemon_calls(self):
        """What virt-manager asked that the daemon refused: printed for the
        record; a procedure the daemon does not know fails the test unless
        listed in UNKNOWN_ALLOWED (virt-manager probes some on purpose)."""
        log = self.daemon.log()
        failed = re.findall(r"(\w+) \(serial \d+\) failed: (.*)", log)
        unknown = sorted(set(int(n) for n in re.findall(r"unknown procedure (\d+)", log)))
        summary = {}
        for proc, msg in failed:
            summary.setdefault((proc, msg), 0)
            summary[(proc, msg)] += 1
        for (proc, msg), n in sorted(summary.items()):
            print("refused %dx: %s: %s" % (n, proc, msg))
        # the daemon's debug lines reach its log: the refusal test_60
        # provoked (virt-manager's Save, then python3-libvirt's) is there
        self.assertGreaterEqual(summary.get(
            ("DOMAIN_MANAGED_SAVE", "this function is not supported by the connection driver: "
             "virDomainManagedSave"), 0), 2, "test_60's refusals not in the daemon's log")
        print("unknown procedures: %r" % unknown)
        self.assertEqual([u for u in unknown if u not in UNKNOWN_ALLOWED], [])

    def test_90_log_clean(self):
        """No error, warning or error dialog in virt-manager's log but the
        ones a step expected (EXPECTED_DIALOGS) or LOG_ALLOWED. (virt-manager
        logs its own probing, tracebacks included, at debug level.)"""
        text = self.log_text()
        self.assertIn("changed to state=Active", text, "virt-manager never connected")
        records = re.split(r"\n(?=\[[^\]]+ virt-manager \d+\] )", text)
        bad = []
        for rec in records:
            first = rec.splitlines()[0] if rec else ""
            if re.search(r"\] (ERROR|WARNING|CRITICAL) ", first):
                if not any(re.search(a, first) for a in LOG_ALLOWED):
                    bad.append(rec)
            elif "error dialog message:" in first:
                if not any(re.search(e, rec) for e in type(self).expected_dialogs):
                    bad.append(rec)
        self.assertEqual(bad, [], "virt-manager logged problems:\n" + "\n".join(bad))

def in_pid_namespace():
    """Re-runs this script as PID 1's child in a PID namespace of its own
    (`unshare --pid --fork --kill-child --mount-proc`): when the test dies,
    even by meson's SIGKILL of its process group, the kernel kills every
    process it left, D-Bus-activated helpers and runners included. unshare
    blocks SIGTERM/SIGINT while it waits; the processes inside get them."""
    if os.environ.get("HYVE_GUI_IN_PID_NS") == "1" or os.geteuid() != 0:
        return
    probe = subprocess.run(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("note: no PID namespace (%s); running without one" % probe.stderr.strip())
        return
    os.environ["HYVE_GUI_IN_PID_NS"] = "1"
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                          sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:])


if __name__ == "__main__":
    in_pid_namespace()
    # virtual networks (the test's, and whatever virt-manager is asked to
    # start) get their bridges, dnsmasq and nftables in a namespace of the
    # test's own; X, D-Bus and the daemon live there with them
    if os.geteuid() == 0:
        hyvetest.in_network_namespace("the virt-manager test")
    hyvetest.main()
