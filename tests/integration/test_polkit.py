#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit on the UNIX sockets, end to end with the real pieces: a private
dbus-daemon acting as the system bus, the real polkitd on it (inside a
private mount namespace where /etc/polkit-1/rules.d holds this test's
rules and /usr/share/polkit-1/actions holds hyve's policy), the daemon,
and virsh / python3-libvirt run as a non-root user (created if missing).

Rules allowing org.hyve.unix.manage let that user define domains; rules
denying it make the connection fail with AUTH_FAILED (45) "authentication
failed". root is always let in without asking polkit."""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
import unittest

import hyvetest
from hyvetest import Daemon, virsh, domain_xml, write_file

USER = "hyve-test"
POLICY = os.path.join(hyvetest.SOURCE_ROOT, "polkit", "org.hyve.policy")
POLKITD = "/usr/lib/polkit-1/polkitd"
AUTH_FAILED = 45
FROM_POLKIT = 60

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# manage allowed, monitor denied: the rw socket works, the ro one does not
ALLOW_RULES = """polkit.addRule(function(action, subject) {
    if (subject.user == "%(user)s") {
        if (action.id == "org.hyve.unix.manage") return polkit.Result.YES;
        if (action.id == "org.hyve.unix.monitor") return polkit.Result.NO;
    }
});
""" % {"user": USER}

# manage denied, monitor allowed: the ro socket works, the rw one does not
DENY_RULES = """polkit.addRule(function(action, subject) {
    if (subject.user == "%(user)s") {
        if (action.id == "org.hyve.unix.manage") return polkit.Result.NO;
        if (action.id == "org.hyve.unix.monitor") return polkit.Result.YES;
    }
});
""" % {"user": USER}

PY_CLIENT = r"""
import sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
uri, mode, xml = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    conn = libvirt.openReadOnly(uri) if mode == "ro" else libvirt.open(uri)
    if mode == "rw":
        conn.defineXML(xml)
    print("OK", conn.getType(), len(conn.listAllDomains(0)))
except libvirt.libvirtError as e:
    print("ERR", e.get_error_code(), e.get_error_domain(), e.get_error_message())
"""


def ensure_user():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        p = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", "--user-group", USER],
                           capture_output=True, text=True)
        try:
            return pwd.getpwnam(USER)   # also when a concurrent run created it first
        except KeyError:
            raise RuntimeError("useradd %s failed: %s" % (USER, p.stderr))


class PolkitTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        for tool in ("dbus-daemon", POLKITD):
            if not shutil.which(tool) and not os.access(tool, os.X_OK):
                raise unittest.SkipTest("%s is not installed" % tool)
        if not os.path.exists(POLICY):
            raise AssertionError("hyve's polkit policy %s is missing" % POLICY)
        cls.pw = ensure_user()
        cls.tmp = hyvetest.make_tmpdir("hyve-it-polkit-")
        os.chmod(cls.tmp, 0o755)
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home)
        os.chown(cls.home, cls.pw.pw_uid, cls.pw.pw_gid)
        # polkit directories seen by polkitd
        cls.rules = os.path.join(cls.tmp, "rules.d")
        actions = os.path.join(cls.tmp, "actions")
        os.mkdir(cls.rules)
        os.mkdir(actions)
        for f in glob.glob("/usr/share/polkit-1/actions/*.policy"):
            shutil.copy(f, actions)
        shutil.copy(POLICY, os.path.join(actions, "org.hyve.policy"))
        for d in (cls.rules, actions):
            os.chmod(d, 0o755)
        subprocess.run(["mount", "--bind", cls.rules, "/etc/polkit-1/rules.d"], check=True)
        subprocess.run(["mount", "--bind", actions, "/usr/share/polkit-1/actions"], check=True)
        # the private system bus
        bus_path = os.path.join(cls.tmp, "system_bus_socket")
        conf = write_file(cls.tmp, "bus.conf", BUS_CONFIG % bus_path)
        cls.bus_log = open(os.path.join(cls.tmp, "dbus.log"), "w")
        cls.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork"],
                                   stdout=cls.bus_log, stderr=subprocess.STDOUT,
                                   preexec_fn=hyvetest.die_with_parent)
        for _ in range(200):
            if os.path.exists(bus_path):
                break
            time.sleep(0.05)
        cls.bus_address = "unix:path=" + bus_path
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = cls.bus_address
        cls.polkitd = None
        cls.write_rules(ALLOW_RULES)
        cls.start_polkitd()
        # both sockets ask polkit (manage on -sock, monitor on -sock-ro)
        conf = write_file(cls.tmp, "virtbhyved.conf",
                          'auth_unix_rw = "polkit"\nauth_unix_ro = "polkit"\n')
        cls.daemon = Daemon(name="polkit", args=["--config", conf],
                            env=dict(os.environ)).start()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "daemon", None):
            cls.daemon.cleanup()
        cls.stop_polkitd()
        if getattr(cls, "bus", None):
            cls.bus.terminate()
            cls.bus.wait()
        for m in ("/usr/share/polkit-1/actions", "/etc/polkit-1/rules.d"):
            subprocess.run(["umount", m], stderr=subprocess.DEVNULL)
        if getattr(cls, "tmp", None):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write_rules(cls, text):
        path = write_file(cls.rules, "10-hyve-test.rules", text)
        os.chmod(path, 0o644)

    @classmethod
    def start_polkitd(cls):
        log_path = os.path.join(cls.tmp, "polkitd.log")
        log = open(log_path, "w")
        cls.polkitd = subprocess.Popen([POLKITD], stdout=log, stderr=subprocess.STDOUT,
                                       env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=cls.bus_address),
                                       preexec_fn=hyvetest.die_with_parent)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(log_path) as f:
                text = f.read()
            if "Acquired the name org.freedesktop.PolicyKit1" in text:
                return
            if cls.polkitd.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("polkitd did not start:\n" + text)

    @classmethod
    def stop_polkitd(cls):
        if cls.polkitd and cls.polkitd.poll() is None:
            cls.polkitd.send_signal(signal.SIGTERM)
            try:
                cls.polkitd.wait(10)
            except subprocess.TimeoutExpired:
                cls.polkitd.kill()
                cls.polkitd.wait()
        cls.polkitd = None

    def use_rules(self, text):
        # restart polkitd so the new rules are in force when it answers
        self.stop_polkitd()
        self.write_rules(text)
        self.start_polkitd()

    def user_env(self):
        return hyvetest.client_env({"HOME": self.home, "USER": USER, "LOGNAME": USER,
                                    "XDG_RUNTIME_DIR": self.home,
                                    "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
                                    "XDG_CACHE_HOME": os.path.join(self.home, ".cache")})

    def as_user_virsh(self, uri, *args, readonly=False):
        return virsh(uri, *args, readonly=readonly, check=False, user=USER, env=self.user_env())

    def as_user_python(self, uri, mode, xml=""):
        p = subprocess.run(["/usr/bin/python3", "-c", PY_CLIENT, uri, mode, xml],
                           capture_output=True, text=True, user=self.pw.pw_uid,
                           group=self.pw.pw_gid, extra_groups=[], env=self.user_env(),
                           timeout=120, start_new_session=True)
        return p.stdout.strip()

    def xml_file(self, name):
        path = write_file(self.tmp, name + ".xml", domain_xml(name))
        os.chmod(path, 0o644)
        return path

    def names(self):
        return virsh(self.daemon.uri, "list", "--all", "--name").stdout.split()

    # -- tests ---------------------------------------------------------
    def test_1_root_always_allowed(self):
        self.use_rules(DENY_RULES)
        out = virsh(self.daemon.uri, "define", self.xml_file("pk-root")).stdout
        self.assertIn("Domain 'pk-root' defined", out)
        self.assertIn("pk-root", self.names())
        virsh(self.daemon.uri, "undefine", "pk-root")

    def test_2_allowed_user_defines(self):
        self.use_rules(ALLOW_RULES)
        self.assertNotEqual(os.getuid(), self.pw.pw_uid)
        p = self.as_user_virsh(self.daemon.uri, "define", self.xml_file("pk-allowed"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Domain 'pk-allowed' defined", p.stdout)
        self.assertIn("pk-allowed", self.names())
        out = self.as_user_python(self.daemon.uri, "rw", domain_xml("pk-allowed-py"))
        self.assertTrue(out.startswith("OK BHYVE"), out)
        self.assertIn("pk-allowed-py", self.names())
        # monitor is denied by these rules: the read-only socket refuses
        p = self.as_user_virsh(self.daemon.uri_ro, "list", "--all", readonly=True)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("authentication failed", p.stderr)
        virsh(self.daemon.uri, "undefine", "pk-allowed")
        virsh(self.daemon.uri, "undefine", "pk-allowed-py")

    def test_3_denied_user_refused(self):
        self.use_rules(DENY_RULES)
        p = self.as_user_virsh(self.daemon.uri, "define", self.xml_file("pk-denied"))
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("authentication failed", p.stderr)
        self.assertNotIn("pk-denied", self.names())
        out = self.as_user_python(self.daemon.uri, "rw", domain_xml("pk-denied-py"))
        self.assertTrue(out.startswith("ERR %d %d " % (AUTH_FAILED, FROM_POLKIT)), out)
        self.assertIn("authentication failed", out)
        self.assertNotIn("pk-denied-py", self.names())
        # monitor is allowed: the read-only socket works for reading
        p = self.as_user_virsh(self.daemon.uri_ro, "list", "--all", "--name", readonly=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = self.as_user_python(self.daemon.uri_ro, "ro")
        self.assertTrue(out.startswith("OK BHYVE"), out)
        self.assertTrue(self.daemon.alive())


if __name__ == "__main__":
    hyvetest.in_private_namespace("the polkit test", tmpfs_dirs=())
    hyvetest.main()
