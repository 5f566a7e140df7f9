// Every name the D-Bus specification defines, declared once: the bus driver, the standard
// interfaces, the standard annotations and the standard error names. Other code uses these
// constants, never the literals.
#pragma once

#include <string_view>

namespace kbus::dbus_names {

// The bus driver (specification, "Message Bus Specification").
inline constexpr std::string_view driver_name = "org.freedesktop.DBus";
inline constexpr std::string_view driver_path = "/org/freedesktop/DBus";
inline constexpr std::string_view driver_interface = "org.freedesktop.DBus";
// The driver's interface of BecomeMonitor ("Monitoring").
inline constexpr std::string_view monitoring_interface = "org.freedesktop.DBus.Monitoring";

// The standard interfaces ("Standard Interfaces").
inline constexpr std::string_view peer_interface = "org.freedesktop.DBus.Peer";
inline constexpr std::string_view introspectable_interface = "org.freedesktop.DBus.Introspectable";
inline constexpr std::string_view properties_interface = "org.freedesktop.DBus.Properties";
inline constexpr std::string_view object_manager_interface = "org.freedesktop.DBus.ObjectManager";
// org.freedesktop.DBus.Introspectable's method.
inline constexpr std::string_view introspect_member = "Introspect";
// Members of org.freedesktop.DBus.Properties.
inline constexpr std::string_view properties_get_member = "Get";
inline constexpr std::string_view properties_set_member = "Set";
inline constexpr std::string_view properties_changed_member = "PropertiesChanged";
// Messages a library makes up locally, never sent ("Message Bus Messages": reserved).
inline constexpr std::string_view local_interface = "org.freedesktop.DBus.Local";
inline constexpr std::string_view local_path = "/org/freedesktop/DBus/Local";

// The standard annotations ("Introspection Data Format").
inline constexpr std::string_view deprecated_annotation = "org.freedesktop.DBus.Deprecated";
inline constexpr std::string_view no_reply_annotation = "org.freedesktop.DBus.Method.NoReply";
inline constexpr std::string_view emits_changed_signal_annotation = "org.freedesktop.DBus.Property.EmitsChangedSignal";
inline constexpr std::string_view c_symbol_annotation = "org.freedesktop.DBus.GLib.CSymbol";
// Not in the specification: sdbus-c++'s default timeout of a method call, in milliseconds.
inline constexpr std::string_view method_timeout_annotation = "org.freedesktop.DBus.Method.Timeout";
// GDBus's documentation of an element (gdbus-codegen).
inline constexpr std::string_view gdbus_doc_string_annotation = "org.gtk.GDBus.DocString";

// kbus's own annotations, read by kbus-codegen (docs/codegen.md).
// The C++ name of any member: interface, method, signal, property, argument.
inline constexpr std::string_view kbus_cpp_name_annotation = "org.kbus.CppName";
// A struct argument or property as a named C++ struct: "Name(member, member, ...)".
inline constexpr std::string_view kbus_struct_annotation = "org.kbus.Struct";
// The C++ container of an array or dictionary: "std::vector", "std::deque", "std::list",
// "std::set"; "std::map", "std::unordered_map".
inline constexpr std::string_view kbus_container_annotation = "org.kbus.Container";
// A method the adaptor answers later, through a reply handle ("true").
inline constexpr std::string_view kbus_async_annotation = "org.kbus.Async";

}  // namespace kbus::dbus_names

// The standard error names ("Standard error names" in libdbus and the specification).
namespace kbus::dbus_errors {


inline constexpr std::string_view failed = "org.freedesktop.DBus.Error.Failed";
inline constexpr std::string_view no_memory = "org.freedesktop.DBus.Error.NoMemory";
inline constexpr std::string_view service_unknown = "org.freedesktop.DBus.Error.ServiceUnknown";
inline constexpr std::string_view name_has_no_owner = "org.freedesktop.DBus.Error.NameHasNoOwner";
inline constexpr std::string_view no_reply = "org.freedesktop.DBus.Error.NoReply";
inline constexpr std::string_view io_error = "org.freedesktop.DBus.Error.IOError";
inline constexpr std::string_view bad_address = "org.freedesktop.DBus.Error.BadAddress";
inline constexpr std::string_view not_supported = "org.freedesktop.DBus.Error.NotSupported";
inline constexpr std::string_view limits_exceeded = "org.freedesktop.DBus.Error.LimitsExceeded";
inline constexpr std::string_view access_denied = "org.freedesktop.DBus.Error.AccessDenied";
inline constexpr std::string_view auth_failed = "org.freedesktop.DBus.Error.AuthFailed";
inline constexpr std::string_view no_server = "org.freedesktop.DBus.Error.NoServer";
inline constexpr std::string_view timeout = "org.freedesktop.DBus.Error.Timeout";
inline constexpr std::string_view no_network = "org.freedesktop.DBus.Error.NoNetwork";
inline constexpr std::string_view address_in_use = "org.freedesktop.DBus.Error.AddressInUse";
inline constexpr std::string_view disconnected = "org.freedesktop.DBus.Error.Disconnected";
inline constexpr std::string_view invalid_args = "org.freedesktop.DBus.Error.InvalidArgs";
inline constexpr std::string_view file_not_found = "org.freedesktop.DBus.Error.FileNotFound";
inline constexpr std::string_view file_exists = "org.freedesktop.DBus.Error.FileExists";
inline constexpr std::string_view unknown_method = "org.freedesktop.DBus.Error.UnknownMethod";
inline constexpr std::string_view unknown_object = "org.freedesktop.DBus.Error.UnknownObject";
inline constexpr std::string_view unknown_interface = "org.freedesktop.DBus.Error.UnknownInterface";
inline constexpr std::string_view unknown_property = "org.freedesktop.DBus.Error.UnknownProperty";
inline constexpr std::string_view property_read_only = "org.freedesktop.DBus.Error.PropertyReadOnly";
inline constexpr std::string_view timed_out = "org.freedesktop.DBus.Error.TimedOut";
inline constexpr std::string_view match_rule_not_found = "org.freedesktop.DBus.Error.MatchRuleNotFound";
inline constexpr std::string_view match_rule_invalid = "org.freedesktop.DBus.Error.MatchRuleInvalid";
inline constexpr std::string_view spawn_exec_failed = "org.freedesktop.DBus.Error.Spawn.ExecFailed";
inline constexpr std::string_view spawn_service_not_found = "org.freedesktop.DBus.Error.Spawn.ServiceNotFound";
inline constexpr std::string_view unix_process_id_unknown = "org.freedesktop.DBus.Error.UnixProcessIdUnknown";
inline constexpr std::string_view invalid_signature = "org.freedesktop.DBus.Error.InvalidSignature";
inline constexpr std::string_view invalid_file_content = "org.freedesktop.DBus.Error.InvalidFileContent";
inline constexpr std::string_view selinux_security_context_unknown =
    "org.freedesktop.DBus.Error.SELinuxSecurityContextUnknown";
inline constexpr std::string_view adt_audit_data_unknown = "org.freedesktop.DBus.Error.AdtAuditDataUnknown";
inline constexpr std::string_view object_path_in_use = "org.freedesktop.DBus.Error.ObjectPathInUse";
inline constexpr std::string_view inconsistent_message = "org.freedesktop.DBus.Error.InconsistentMessage";
inline constexpr std::string_view interactive_authorization_required =
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";

}  // namespace kbus::dbus_errors
