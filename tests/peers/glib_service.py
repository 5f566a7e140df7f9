#!/usr/bin/python3
"""A D-Bus service written with GLib's GDBus (python3-gi), for interop tests: org.kbus.GPeer at
/org/kbus/GPeer, interface org.kbus.GPeer1.

usage: glib_service.py ADDRESS   (prints READY when its name is owned)
"""
import sys

from gi.repository import Gio, GLib

XML = """
<node>
  <interface name="org.kbus.GPeer1">
    <method name="Add"><arg name="a" type="i" direction="in"/><arg name="b" type="i" direction="in"/>
      <arg name="sum" type="i" direction="out"/></method>
    <method name="Split"><arg name="text" type="s" direction="in"/>
      <arg name="first" type="s" direction="out"/><arg name="length" type="u" direction="out"/></method>
    <method name="Echo"><arg name="v" type="v" direction="in"/><arg name="v" type="v" direction="out"/></method>
    <method name="Fail"/>
    <method name="Emit"><arg name="count" type="u" direction="in"/></method>
    <method name="SetBoth"><arg name="label" type="s" direction="in"/><arg name="level" type="i" direction="in"/></method>
    <signal name="Tick"><arg name="count" type="u"/><arg name="note" type="s"/></signal>
    <property name="Label" type="s" access="readwrite"/>
    <property name="Level" type="i" access="readwrite">
      <annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="invalidates"/>
    </property>
    <property name="Version" type="s" access="read"/>
  </interface>
</node>
"""
IFACE = "org.kbus.GPeer1"
PATH = "/org/kbus/GPeer"

state = {"Label": "glib", "Level": 1}


def changed(conn, values, invalidated):
    conn.emit_signal(None, PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                     GLib.Variant("(sa{sv}as)", (IFACE, values, invalidated)))


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "Add":
        a, b = params.unpack()
        invocation.return_value(GLib.Variant("(i)", (a + b,)))
    elif method == "Split":
        (text,) = params.unpack()
        invocation.return_value(GLib.Variant("(su)", (text[:1], len(text))))
    elif method == "Echo":
        invocation.return_value(params)
    elif method == "Fail":
        invocation.return_dbus_error("org.kbus.GPeer1.Error.Failed", "glib says no")
    elif method == "Emit":
        (count,) = params.unpack()
        conn.emit_signal(None, PATH, IFACE, "Tick", GLib.Variant("(us)", (count, "tick %d" % count)))
        invocation.return_value(None)
    elif method == "SetBoth":
        label, level = params.unpack()
        state["Label"], state["Level"] = label, level
        changed(conn, {"Label": GLib.Variant("s", label)}, ["Level"])
        invocation.return_value(None)


def on_get(conn, sender, path, iface, name):
    if name == "Version":
        return GLib.Variant("s", "2.0")
    return GLib.Variant("s" if name == "Label" else "i", state[name])


def on_set(conn, sender, path, iface, name, value):
    state[name] = value.unpack()
    if name == "Label":
        changed(conn, {"Label": value}, [])
    else:
        changed(conn, {}, [name])
    return True


conn = Gio.DBusConnection.new_for_address_sync(
    sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
info = Gio.DBusNodeInfo.new_for_xml(XML)
conn.register_object(PATH, info.interfaces[0], on_call, on_get, on_set)
reply = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
                       GLib.Variant("(su)", ("org.kbus.GPeer", 4)), None, Gio.DBusCallFlags.NONE, -1, None)
print("READY", flush=True)
GLib.MainLoop().run()
