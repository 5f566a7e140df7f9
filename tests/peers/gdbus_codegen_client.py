#!/usr/bin/python3
"""A GDBus client (python3-gi) of the codegen round-trip interface, served by a generated adaptor.

usage: gdbus_codegen_client.py ADDRESS DEST   (prints one line per result)
"""
import sys

from gi.repository import Gio, GLib

ADDRESS, DEST = sys.argv[1], sys.argv[2]
PATH, IFACE = "/org/kbus/Test/Everything", "org.kbus.Test.Everything1"

conn = Gio.DBusConnection.new_for_address_sync(
    ADDRESS,
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)


def call(iface, member, signature, args):
    params = GLib.Variant(signature, args) if signature else None
    return conn.call_sync(DEST, PATH, iface, member, params, None, Gio.DBusCallFlags.NONE, -1, None).unpack()


print("class", call(IFACE, "class", "(iiii)", (1, 2, 3, 4))[0])
counts, centre, trail = call(IFACE, "Measure", "(a(iid)as)", ([(1, 2, 0.5), (3, 4, 1.5)], ["ab", "abc"]))
print("measure", sorted(counts.items()), centre, trail)
print("later", call(IFACE, "Later", "(u)", (21,)))
try:
    call(IFACE, "Fail", "(ss)", ("org.kbus.Test.Error.Nope", "from glib"))
except GLib.Error as e:
    name = Gio.DBusError.get_remote_error(e)
    # GDBus puts "GDBus.Error:NAME: " before the service's text.
    print("fail", name, e.message.split(": ", 1)[1] if e.message.startswith("GDBus.Error:") else e.message)
call("org.freedesktop.DBus.Properties", "Set", "(ssv)", (IFACE, "Label", GLib.Variant("s", "from glib")))
print("label", call("org.freedesktop.DBus.Properties", "Get", "(ss)", (IFACE, "Label"))[0])
xml = call("org.freedesktop.DBus.Introspectable", "Introspect", None, None)[0]
info = Gio.DBusNodeInfo.new_for_xml(xml).lookup_interface(IFACE)
fire = info.lookup_method("Fire")
print("noreply", Gio.DBusAnnotationInfo.lookup(fire.annotations, "org.freedesktop.DBus.Method.NoReply"))
print("struct", info.lookup_method("Measure").in_args[0].signature)
