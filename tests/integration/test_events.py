#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Domain lifecycle events: `virsh event --all --loop` and the python
event loop (virEventRegisterDefaultImpl + domainEventRegisterAny)."""
import queue
import subprocess
import threading
import time
import uuid as uuidlib

import libvirt

import hyvetest
from hyvetest import domain_xml, client_env

LINE = "event 'lifecycle' for domain '%s': %s"


class VirshEventWatcher:
    """`virsh event --all --loop` in the background, lines collected in a queue."""

    def __init__(self, uri, timeout=60, args=("--all",)):
        cmd = (["stdbuf", "-oL", hyvetest.VIRSH, "-c", uri, "event"] + list(args) +
               ["--loop", "--timeout", str(timeout)])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=client_env(), start_new_session=True)
        self.lines = queue.Queue()
        self.seen = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, wanted, timeout=10):
        """Wait for an exact line; returns True when seen."""
        if wanted in self.seen:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                return False
            self.seen.append(line)
            if line == wanted:
                return True
        return False

    def stop(self):
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


class EventTest(hyvetest.DaemonTestCase):

    def test_virsh_event_loop(self):
        watcher = VirshEventWatcher(self.daemon.uri)
        conn = libvirt.open(self.daemon.uri)
        try:
            # virsh registers its callbacks after connecting; define a probe
            # domain until its event shows up, so we know it listens.
            synced = False
            for i in range(40):
                name = "sync-%d" % i
                dom = conn.defineXML(domain_xml(name))
                dom.undefine()
                if watcher.wait_for(LINE % (name, "Undefined Removed"), timeout=0.5):
                    synced = True
                    break
            if not synced:
                self.fail("virsh event printed nothing; output %r, stderr: %s"
                          % (watcher.seen, watcher.stop()))
            u = str(uuidlib.uuid4())
            conn.defineXML(domain_xml("ev-dom", u))
            self.assertTrue(watcher.wait_for(LINE % ("ev-dom", "Defined Added")), watcher.seen)
            conn.defineXML(domain_xml("ev-dom", u, memory_kib=524288))
            self.assertTrue(watcher.wait_for(LINE % ("ev-dom", "Defined Updated")), watcher.seen)
            conn.lookupByName("ev-dom").undefine()
            self.assertTrue(watcher.wait_for(LINE % ("ev-dom", "Undefined Removed")), watcher.seen)
            # and in that order, with nothing else about ev-dom
            mine = [l for l in watcher.seen if "'ev-dom'" in l]
            self.assertEqual(mine, [LINE % ("ev-dom", "Defined Added"),
                                    LINE % ("ev-dom", "Defined Updated"),
                                    LINE % ("ev-dom", "Undefined Removed")])
            # a define through virsh itself is seen too
            path = hyvetest.write_file(self.tmp, "ev2.xml", domain_xml("ev-virsh"))
            hyvetest.virsh(self.daemon.uri, "define", path)
            self.assertTrue(watcher.wait_for(LINE % ("ev-virsh", "Defined Added")), watcher.seen)
            hyvetest.virsh(self.daemon.uri, "undefine", "ev-virsh")
            self.assertTrue(watcher.wait_for(LINE % ("ev-virsh", "Undefined Removed")),
                            watcher.seen)
            self.assertIsNone(watcher.proc.poll(), "virsh event exited early")
        finally:
            watcher.stop()
            conn.close()
        self.assertDaemonAlive()

    def test_python_event_loop(self):
        events = queue.Queue()
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                libvirt.virEventRunDefaultImpl()

        def lifecycle(conn, dom, event, detail, opaque):
            events.put((dom.name(), dom.UUIDString(), event, detail))

        libvirt.virEventRegisterDefaultImpl()
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        listener = libvirt.open(self.daemon.uri)
        cb = listener.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             lifecycle, None)
        self.assertGreaterEqual(cb, 0)
        writer = libvirt.open(self.daemon.uri)
        try:
            n = 20
            uuids = [str(uuidlib.uuid4()) for _ in range(n)]
            for i in range(n):
                writer.defineXML(domain_xml("pe-%02d" % i, uuids[i]))
            writer.defineXML(domain_xml("pe-00", uuids[0], memory_kib=524288))
            for i in range(n):
                writer.lookupByName("pe-%02d" % i).undefine()
            expected = [("pe-%02d" % i, uuids[i], libvirt.VIR_DOMAIN_EVENT_DEFINED,
                         libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED) for i in range(n)]
            expected.append(("pe-00", uuids[0], libvirt.VIR_DOMAIN_EVENT_DEFINED,
                             libvirt.VIR_DOMAIN_EVENT_DEFINED_UPDATED))
            expected += [("pe-%02d" % i, uuids[i], libvirt.VIR_DOMAIN_EVENT_UNDEFINED,
                          libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED) for i in range(n)]
            got = []
            deadline = time.monotonic() + 20
            while len(got) < len(expected) and time.monotonic() < deadline:
                try:
                    got.append(events.get(timeout=0.5))
                except queue.Empty:
                    pass
            self.assertEqual(got, expected)
            # deregistered: no more events
            listener.domainEventDeregisterAny(cb)
            writer.defineXML(domain_xml("pe-after"))
            writer.lookupByName("pe-after").undefine()
            time.sleep(1)
            late = []
            while not events.empty():
                late.append(events.get_nowait())
            self.assertEqual(late, [], "events after deregistration")
        finally:
            writer.close()
            listener.close()
            stop.set()
        self.assertDaemonAlive()

    def test_domain_filtered_events(self):
        # `virsh event --domain X` only sees X
        conn = libvirt.open(self.daemon.uri)
        u = str(uuidlib.uuid4())
        conn.defineXML(domain_xml("flt-keep", u))
        watcher = VirshEventWatcher(self.daemon.uri, args=("--domain", "flt-keep",
                                                           "--event", "lifecycle"))
        try:
            synced = False
            for _ in range(40):
                conn.defineXML(domain_xml("flt-keep", u))
                if watcher.wait_for(LINE % ("flt-keep", "Defined Updated"), timeout=0.5):
                    synced = True
                    break
            if not synced:
                self.fail("virsh event --domain printed nothing; output %r, stderr: %s"
                          % (watcher.seen, watcher.stop()))
            conn.defineXML(domain_xml("flt-other"))
            conn.lookupByName("flt-other").undefine()
            conn.lookupByName("flt-keep").undefine()
            self.assertTrue(watcher.wait_for(LINE % ("flt-keep", "Undefined Removed")),
                            watcher.seen)
            time.sleep(0.5)
            watcher.wait_for("(drain)", timeout=0.5)
            others = [l for l in watcher.seen if "flt-keep" not in l]
            self.assertEqual(others, [])
        finally:
            watcher.stop()
            conn.close()


if __name__ == "__main__":
    hyvetest.main()
