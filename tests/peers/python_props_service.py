#!/usr/bin/python3
"""A D-Bus service written with dbus-python, with introspection, properties and signals, for
proxy tests: org.kbus.PyProps at /org/kbus/PyProps, interface org.kbus.PyProps1.

usage: python_props_service.py ADDRESS   (prints READY when its name is owned)
"""
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

IFACE = "org.kbus.PyProps1"


class Service(dbus.service.Object):
    def __init__(self, conn):
        super().__init__(conn, "/org/kbus/PyProps")
        self.props = {"Name": dbus.String("python"), "Count": dbus.UInt32(0)}

    @dbus.service.method(IFACE, in_signature="as", out_signature="s")
    def Join(self, parts):
        return "-".join(parts)

    @dbus.service.method(IFACE, in_signature="a{sv}", out_signature="as")
    def Keys(self, d):
        return sorted(d.keys())

    @dbus.service.method(IFACE, in_signature="u", out_signature="")
    def Bump(self, by):
        self.props["Count"] = dbus.UInt32(self.props["Count"] + by)
        self.PropertiesChanged(IFACE, {"Count": self.props["Count"]}, [])
        self.Bumped(self.props["Count"], "by %d" % by)

    @dbus.service.method(IFACE, in_signature="", out_signature="")
    def Fail(self):
        raise dbus.exceptions.DBusException("python props fail", name="org.kbus.PyProps1.Error.Failed")

    @dbus.service.signal(IFACE, signature="us")
    def Bumped(self, count, why):
        pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        if iface != IFACE or prop not in self.props:
            raise dbus.exceptions.DBusException("no " + prop, name="org.freedesktop.DBus.Error.UnknownProperty")
        return self.props[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return self.props

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ssv", out_signature="")
    def Set(self, iface, prop, value):
        if prop != "Name":
            raise dbus.exceptions.DBusException(prop + " is read-only", name="org.freedesktop.DBus.Error.PropertyReadOnly")
        self.props["Name"] = dbus.String(value)
        self.PropertiesChanged(IFACE, {"Name": self.props["Name"]}, [])

    @dbus.service.signal(dbus.PROPERTIES_IFACE, signature="sa{sv}as")
    def PropertiesChanged(self, iface, changed, invalidated):
        pass


dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
conn = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName("org.kbus.PyProps", conn)
service = Service(conn)
print("READY", flush=True)
GLib.MainLoop().run()
