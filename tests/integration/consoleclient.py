#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""consoleclient.py: a persistent console doing what libvirt-python
9.0.0's examples/consolecallback.py does, written for hyve's tests.

    consoleclient.py [--loop native|asyncio] URI UUID

Follows the domain's state with the old-style domainEventRegister
lifecycle callback; while the domain runs (or is paused) it holds its
console: a VIR_STREAM_NONBLOCK stream from openConsole, read from a
virStreamEventAddCallback(READABLE) callback and copied to stdout. Bytes
on stdin (watched with virEventAddHandle, through whichever event loop
is registered) go to the console; Ctrl-] (0x1d) ends the program (exit
0). When the domain stops, the stream's callback is removed and the
stream dropped; when it starts again a new console is opened. After EOF on the stream
(the domain is stopping) no console is opened before the next lifecycle
event. Progress on
stderr, one line each: "STATE <state> <reason>", "CONSOLE open",
"CONSOLE closed", "CONSOLE eof".

--loop native: virEventRegisterDefaultImpl; the main thread alternates
between checking the console and virEventRunDefaultImpl (as the
example). --loop asyncio: libvirtaio's implementation on an asyncio loop
in the main thread, the console checked after every callback.
"""
import argparse
import os
import sys

import libvirt

ESCAPE = b"\x1d"


def note(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class Console:
    def __init__(self, uri, uuid):
        self.conn = libvirt.open(uri)
        self.domain = self.conn.lookupByUUIDString(uuid)
        self.state = self.domain.state(0)
        self.stream = None
        self.eof = False        # the console ended: wait for the next lifecycle event
        self.run = True
        self.changed = None     # asyncio: called after every callback
        self.conn.domainEventRegister(self.lifecycle, None)
        note("STATE %d %d" % tuple(self.state))

    def poke(self):
        if self.changed:
            self.changed()

    def lifecycle(self, conn, dom, event, detail, opaque):
        if dom.UUIDString() != self.domain.UUIDString():
            return
        self.state = self.domain.state(0)
        self.eof = False
        note("STATE %d %d" % tuple(self.state))
        self.poke()

    def check(self):
        """Opens or drops the console for the current state; False to stop."""
        if self.state[0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED):
            if self.stream is None and not self.eof:
                self.stream = self.conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
                self.domain.openConsole(None, self.stream, 0)
                self.stream.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE,
                                             self.readable, None)
                note("CONSOLE open")
        elif self.stream is not None:
            self.drop("closed")
        return self.run

    def drop(self, why):
        try:
            self.stream.eventRemoveCallback()
        except libvirt.libvirtError:
            pass
        self.stream = None
        note("CONSOLE " + why)

    def readable(self, stream, events, opaque):
        if stream is not self.stream:
            return
        try:
            data = stream.recv(1024)
        except libvirt.libvirtError:
            data = b""
        if data == -2:          # EAGAIN
            return
        if not data:
            # the domain is going away (its state event follows): a console
            # opened now would belong to a dying domain
            self.eof = True
            self.drop("eof")
        else:
            os.write(1, data)
        self.poke()

    def stdin(self, watch, fd, events, opaque):
        data = os.read(fd, 1024)
        if not data or data.startswith(ESCAPE):
            self.run = False
        elif self.stream is not None:
            self.stream.send(data)
        self.poke()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=("native", "asyncio"), default="native")
    p.add_argument("uri")
    p.add_argument("uuid")
    args = p.parse_args()
    libvirt.registerErrorHandler(lambda ctx, err: None, None)

    if args.loop == "asyncio":
        import asyncio
        import libvirtaio
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
    else:
        libvirt.virEventRegisterDefaultImpl()

    try:
        console = Console(args.uri, args.uuid)
        watch = libvirt.virEventAddHandle(0, libvirt.VIR_EVENT_HANDLE_READABLE,
                                          console.stdin, None)
        if args.loop == "asyncio":
            stopped = loop.create_future()

            def changed():
                try:
                    if not console.check() and not stopped.done():
                        stopped.set_result(True)
                except libvirt.libvirtError as e:
                    if not stopped.done():
                        stopped.set_exception(e)

            # after the callback returned, not inside it
            console.changed = lambda: loop.call_soon(changed)
            loop.call_soon(changed)
            loop.run_until_complete(stopped)
        else:
            while console.check():
                libvirt.virEventRunDefaultImpl()
        libvirt.virEventRemoveHandle(watch)
        if console.stream is not None:
            console.drop("closed")
        console.conn.domainEventDeregister(console.lifecycle)
        console.conn.close()
    except libvirt.libvirtError as e:
        note("ERROR %d %s" % (e.get_error_code(), e.get_error_message()))
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
