#!/usr/bin/python3
"""A D-Bus service written with dbus-python, for interop tests: org.kbus.PyPeer at /org/kbus/PyPeer.

usage: python_service.py ADDRESS   (prints READY when its name is owned)
"""
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

IFACE = "org.kbus.PyPeer"


class Peer(dbus.service.Object):
    def __init__(self, conn):
        super().__init__(conn, "/org/kbus/PyPeer")
        self.label = "python"

    @dbus.service.method(IFACE, in_signature="v", out_signature="v")
    def Echo(self, v):
        return v

    @dbus.service.method(IFACE, in_signature="ii", out_signature="i")
    def Add(self, a, b):
        return a + b

    @dbus.service.method(IFACE, in_signature="", out_signature="")
    def Fail(self):
        raise dbus.exceptions.DBusException("python says no", name="org.kbus.PyPeer.Error.Failed")

    @dbus.service.method(IFACE, in_signature="h", out_signature="s")
    def ReadFd(self, fd):
        with open(fd.take(), "r") as f:
            return f.read()

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        return dbus.String(self.label)

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ssv", out_signature="")
    def Set(self, iface, prop, value):
        self.label = str(value)


dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
conn = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName("org.kbus.PyPeer", conn)
peer = Peer(conn)
print("READY", flush=True)
GLib.MainLoop().run()
