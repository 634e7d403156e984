#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""eventclient.py: an event monitor doing what libvirt-python 9.0.0's
examples/event-test.py does, written for hyve's tests.

    eventclient.py [--loop native|asyncio] [--readonly] URI

Registers a callback for EVERY domain event id python3-libvirt knows
(VIR_DOMAIN_EVENT_ID_*, each with the argument list libvirt passes for
it), the old-style domainEventRegister lifecycle callback, network
lifecycle, storage pool lifecycle and refresh, node device lifecycle and
update, secret lifecycle and value-changed events, a close callback and
keepalive. Then prints one line per event on stdout:

    EVENT <kind> <object name> <field>=<value> ...

"READY <n>" once everything is registered (n callbacks), "CLOSED <reason>"
when the connection closes under it (the program then exits 3). A line
"quit" on stdin deregisters everything ("DEREGISTERED <n>"), closes the
connection and exits 0. Errors: "ERROR ..." and exit 1.

--loop native: virEventRegisterDefaultImpl + virEventRunDefaultImpl on a
thread; the main thread makes the calls. --loop asyncio:
libvirtaio.virEventRegisterAsyncIOImpl on an asyncio loop in the main
thread, every libvirt call made from that loop's thread.
"""
import argparse
import os
import sys
import threading

import libvirt


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fmt(kind, name, **fields):
    text = " ".join("%s=%s" % (k, fields[k]) for k in sorted(fields))
    return ("EVENT %s %s %s" % (kind, name, text)).rstrip()


# Each domain event id with the arguments libvirt hands its callback after
# (conn, dom) and before opaque. Exact parameter lists: a callback invoked
# with the wrong arguments raises TypeError instead of printing.
def _cb(kind, params):
    src = ("def cb(conn, dom, %s):\n"
           "    report(%r, dom, %s)\n" % (", ".join(params + ["opaque"]), kind,
                                          ", ".join("%s=%s" % (p, p) for p in params)))
    scope = {"report": lambda kind, dom, **kw: out(fmt("domain-" + kind, dom.name(),
                                                       id=dom.ID(), **kw))}
    exec(src, scope)
    return scope["cb"]


DOMAIN_EVENTS = {
    "LIFECYCLE": ["event", "detail"],
    "REBOOT": [],
    "RTC_CHANGE": ["utcoffset"],
    "WATCHDOG": ["action"],
    "IO_ERROR": ["srcpath", "devalias", "action"],
    "GRAPHICS": ["phase", "local", "remote", "authscheme", "subject"],
    "IO_ERROR_REASON": ["srcpath", "devalias", "action", "reason"],
    "CONTROL_ERROR": [],
    "BLOCK_JOB": ["disk", "type", "status"],
    "DISK_CHANGE": ["oldsrc", "newsrc", "devalias", "reason"],
    "TRAY_CHANGE": ["devalias", "reason"],
    "PMWAKEUP": ["reason"],
    "PMSUSPEND": ["reason"],
    "BALLOON_CHANGE": ["actual"],
    "PMSUSPEND_DISK": ["reason"],
    "DEVICE_REMOVED": ["devalias"],
    "BLOCK_JOB_2": ["disk", "type", "status"],
    "TUNABLE": ["params"],
    "AGENT_LIFECYCLE": ["state", "reason"],
    "DEVICE_ADDED": ["devalias"],
    "MIGRATION_ITERATION": ["iteration"],
    "JOB_COMPLETED": ["params"],
    "DEVICE_REMOVAL_FAILED": ["devalias"],
    "METADATA_CHANGE": ["mtype", "nsuri"],
    "BLOCK_THRESHOLD": ["dev", "path", "threshold", "excess"],
    "MEMORY_FAILURE": ["recipient", "action", "flags"],
    "MEMORY_DEVICE_SIZE_CHANGE": ["alias", "size"],
}


def domain_event_ids():
    """[(id, name)] of every VIR_DOMAIN_EVENT_ID_* this python3-libvirt has."""
    ids = sorted((getattr(libvirt, n), n[len("VIR_DOMAIN_EVENT_ID_"):])
                 for n in dir(libvirt) if n.startswith("VIR_DOMAIN_EVENT_ID_")
                 and n != "VIR_DOMAIN_EVENT_ID_LAST")
    missing = [n for _, n in ids if n not in DOMAIN_EVENTS]
    if missing:
        raise SystemExit("ERROR no callback for domain event id(s) %s" % ", ".join(missing))
    if [i for i, _ in ids] != list(range(len(ids))):
        raise SystemExit("ERROR domain event ids are not 0..%d" % (len(ids) - 1))
    return ids


def legacy_lifecycle(conn, dom, event, detail, opaque):
    out(fmt("domain-legacy", dom.name(), id=dom.ID(), event=event, detail=detail,
            opaque=opaque))


def network_lifecycle(conn, net, event, detail, opaque):
    out(fmt("network-LIFECYCLE", net.name(), event=event, detail=detail))


def pool_lifecycle(conn, pool, event, detail, opaque):
    out(fmt("pool-LIFECYCLE", pool.name(), event=event, detail=detail))


def pool_refresh(conn, pool, opaque):
    out(fmt("pool-REFRESH", pool.name()))


def nodedev_lifecycle(conn, dev, event, detail, opaque):
    out(fmt("nodedev-LIFECYCLE", dev.name(), event=event, detail=detail))


def nodedev_update(conn, dev, opaque):
    out(fmt("nodedev-UPDATE", dev.name()))


def secret_lifecycle(conn, secret, event, detail, opaque):
    out(fmt("secret-LIFECYCLE", secret.UUIDString(), event=event, detail=detail))


def secret_value_changed(conn, secret, opaque):
    out(fmt("secret-VALUE_CHANGED", secret.UUIDString()))


class Monitor:
    def __init__(self, uri, readonly):
        self.conn = (libvirt.openReadOnly if readonly else libvirt.open)(uri)
        self.closed = threading.Event()
        self.dom_ids = []
        self.others = []        # (deregister function, callback id)

    def on_close(self, conn, reason, opaque):
        out("CLOSED %d" % reason)
        self.closed.set()

    def register(self):
        c = self.conn
        c.registerCloseCallback(self.on_close, None)
        c.domainEventRegister(legacy_lifecycle, "legacy")
        for i, name in domain_event_ids():
            self.dom_ids.append(c.domainEventRegisterAny(None, i, _cb(name, DOMAIN_EVENTS[name]),
                                                         None))
        for reg, dereg, evid, cb in (
                (c.networkEventRegisterAny, c.networkEventDeregisterAny,
                 libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, network_lifecycle),
                (c.storagePoolEventRegisterAny, c.storagePoolEventDeregisterAny,
                 libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, pool_lifecycle),
                (c.storagePoolEventRegisterAny, c.storagePoolEventDeregisterAny,
                 libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, pool_refresh),
                (c.nodeDeviceEventRegisterAny, c.nodeDeviceEventDeregisterAny,
                 libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, nodedev_lifecycle),
                (c.nodeDeviceEventRegisterAny, c.nodeDeviceEventDeregisterAny,
                 libvirt.VIR_NODE_DEVICE_EVENT_ID_UPDATE, nodedev_update),
                (c.secretEventRegisterAny, c.secretEventDeregisterAny,
                 libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, secret_lifecycle),
                (c.secretEventRegisterAny, c.secretEventDeregisterAny,
                 libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, secret_value_changed)):
            self.others.append((dereg, reg(None, evid, cb, None)))
        c.setKeepAlive(5, 3)
        n = 1 + len(self.dom_ids) + len(self.others)
        out("READY %d" % n)

    def deregister(self):
        c = self.conn
        c.domainEventDeregister(legacy_lifecycle)
        for dereg, cbid in self.others:
            dereg(cbid)
        for cbid in self.dom_ids:
            c.domainEventDeregisterAny(cbid)
        c.unregisterCloseCallback()
        out("DEREGISTERED %d" % (1 + len(self.dom_ids) + len(self.others)))
        c.close()


def run_native(args):
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, name="libvirtEventLoop", daemon=True).start()
    mon = Monitor(args.uri, args.readonly)
    mon.register()
    got = {}

    def read_stdin():
        got["line"] = sys.stdin.readline().strip()
        mon.closed.set()        # wakes the wait below either way

    threading.Thread(target=read_stdin, daemon=True).start()
    mon.closed.wait()
    if got.get("line") != "quit":
        return 3
    mon.deregister()
    return 0


def run_asyncio(args):
    import asyncio
    import libvirtaio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
    done = loop.create_future()

    async def main():
        mon = Monitor(args.uri, args.readonly)
        mon.register()

        def watch_closed():
            if mon.closed.is_set() and not done.done():
                done.set_result("closed")
            else:
                loop.call_later(0.05, watch_closed)

        def on_stdin():
            line = os.read(0, 4096)
            if not done.done() and (line.strip() == b"quit" or not line):
                done.set_result(line.strip().decode() or "eof")

        loop.add_reader(0, on_stdin)
        watch_closed()
        why = await done
        loop.remove_reader(0)
        if why != "quit":
            return 3
        mon.deregister()
        # let libvirtaio run the removals the close scheduled
        await asyncio.sleep(0.2)
        return 0

    rc = loop.run_until_complete(main())
    return rc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=("native", "asyncio"), default="native")
    p.add_argument("--readonly", action="store_true")
    p.add_argument("uri")
    args = p.parse_args()
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    try:
        rc = (run_asyncio if args.loop == "asyncio" else run_native)(args)
    except libvirt.libvirtError as e:
        out("ERROR %d %s" % (e.get_error_code(), e.get_error_message()))
        rc = 1
    sys.stdout.flush()
    os._exit(rc)


if __name__ == "__main__":
    main()
