// <stem>_proxy.hpp: for each interface, a class with a typed function per method (blocking and
// asynchronous), per property (get, set, change notifications) and per signal (subscribe).
#include "writers.hpp"

namespace kbus::codegen {
namespace {

std::string deprecated_attr(bool d) { return d ? "[[deprecated(\"org.freedesktop.DBus.Deprecated\")]] " : ""; }

std::string call_options(const method_plan& m) {
  return m.timeout_ms.empty() ? "kbus::call_options{}" : "kbus::call_options{std::chrono::milliseconds(" + m.timeout_ms + ")}";
}

// "a, b" and "int a, const std::string& b, " for the arguments.
std::string names(const std::vector<arg_plan>& args) {
  std::string out;
  for (const auto& a : args) out += ", " + a.name;
  return out;
}
std::string params(const std::vector<arg_plan>& args, bool trailing_comma) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + args[i].param();
  if (trailing_comma && !args.empty()) out += ", ";
  return out;
}
std::string types(const std::vector<arg_plan>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + args[i].cpp_type;
  return out;
}

// What a doc comment says about the arguments (their D-Bus names and types).
std::string arg_doc(const std::vector<arg_plan>& args, const char* what) {
  if (args.empty()) return {};
  std::string out = std::string(what) + ":";
  for (std::size_t i = 0; i < args.size(); ++i) {
    out += (i ? ", " : " ") + args[i].name + " '" + args[i].model->type + "'";
    if (!args[i].model->doc.empty()) out += " (" + args[i].model->doc + ")";
  }
  return out + ".";
}

void write_method(std::string& out, const method_plan& m) {
  const std::string member = quoted(m.model->name);
  std::string doc = m.model->doc;
  for (auto* part : {&m.ins, &m.outs}) {
    auto d = arg_doc(*part, part == &m.ins ? "In" : "Out");
    if (!d.empty()) doc += (doc.empty() ? "" : " ") + d;
  }
  out += "\n" + doc_comment("Calls " + m.model->name + "." + (doc.empty() ? "" : " " + doc), "  ");
  const std::string dep = deprecated_attr(m.deprecated);
  if (m.no_reply) {
    out += "  /// org.freedesktop.DBus.Method.NoReply: sent, not waited for.\n";
    out += "  " + dep + "void " + m.name + "(" + params(m.ins, false) + ") {\n";
    out += "    kbus::generated::send(proxy_, " + member + names(m.ins) + ");\n  }\n";
    out += "  /// Completes with (error_code) once the call is queued.\n";
    out += "  template <class Token>\n  " + dep + "auto " + m.async_name + "(" + params(m.ins, true) + "Token&& token) {\n";
    out += "    return kbus::generated::async_send(proxy_, " + member + ", std::forward<Token>(token)" + names(m.ins) + ");\n  }\n";
    return;
  }
  const std::string targs = m.result_type == m.wire_type ? m.result_type : m.result_type + ", " + m.wire_type;
  out += "  " + dep + m.result_type + " " + m.name + "(" + params(m.ins, false) + ") {\n";
  out += "    " + std::string(m.result_type == "void" ? "" : "return ") + "kbus::generated::call<" + targs + ">(proxy_, " +
         member + ", " + call_options(m) + names(m.ins) + ");\n  }\n";
  out += "  /// Completes with (error_code" + std::string(m.result_type == "void" ? "" : ", " + m.result_type) + ").\n";
  out += "  template <class Token>\n  " + dep + "auto " + m.async_name + "(" + params(m.ins, true) + "Token&& token) {\n";
  out += "    return kbus::generated::async_call<" + targs + ">(proxy_, " + member + ", " + call_options(m) +
         ", std::forward<Token>(token)" + names(m.ins) + ");\n  }\n";
}

void write_property(std::string& out, const property_plan& p) {
  const std::string name = quoted(p.model->name);
  const std::string dep = deprecated_attr(p.deprecated);
  const std::string param = p.by_value ? p.cpp_type + " value" : "const " + p.cpp_type + "& value";
  out += "\n" + doc_comment("Property " + p.model->name + " '" + p.model->type + "' (" +
                                (p.model->read && p.model->write ? "read, write" : p.model->read ? "read" : "write") +
                                ")." + (p.model->doc.empty() ? "" : " " + p.model->doc),
                            "  ");
  if (p.model->read) {
    out += "  " + dep + p.cpp_type + " " + p.name + "() { return kbus::generated::get_property<" + p.cpp_type +
           ">(proxy_, " + name + "); }\n";
    out += "  template <class Token>\n  " + dep + "auto " + p.async_get_name + "(Token&& token) {\n";
    out += "    return kbus::generated::async_get_property<" + p.cpp_type + ">(proxy_, " + name +
           ", std::forward<Token>(token));\n  }\n";
  }
  if (p.model->write) {
    out += "  " + dep + "void " + p.set_name + "(" + param + ") { kbus::generated::set_property(proxy_, " + name +
           ", value); }\n";
    out += "  template <class Token>\n  " + dep + "auto " + p.async_set_name + "(" + param + ", Token&& token) {\n";
    out += "    return kbus::generated::async_set_property(proxy_, " + name + ", value, std::forward<Token>(token));\n  }\n";
  }
  if (p.notifies()) {
    out += "  /// Calls handler(" + p.cpp_type + ") with each new value" +
           (p.emits == "invalidates" ? " (read again: the service only says it changed)" : "") +
           "; the handle owns the subscription.\n";
    out += "  template <class F>\n  " + dep + "kbus::subscription " + p.on_changed_name + "(F handler) {\n";
    out += "    return kbus::generated::watch_property<" + p.cpp_type + ">(proxy_, " + name + ", std::move(handler));\n  }\n";
  } else {
    out += "  // EmitsChangedSignal is " + std::string(p.emits == "constant" ? "const" : "false") +
           ": no change notification.\n";
  }
}

void write_signal(std::string& out, const signal_plan& s) {
  const std::string member = "kbus::member_name::unchecked(" + quoted(s.model->name) + ")";
  const std::string dep = deprecated_attr(s.deprecated);
  std::string doc = "Signal " + s.model->name + ": calls handler(" + types(s.args) + ") for each." +
                    (s.model->doc.empty() ? "" : " " + s.model->doc);
  if (auto d = arg_doc(s.args, "Arguments"); !d.empty()) doc += " " + d;
  out += "\n" + doc_comment(doc, "  ");
  std::string targs = types(s.args);
  out += "  template <class F>\n  " + dep + "kbus::subscription " + s.on_name + "(F handler) {\n";
  out += "    return proxy_.on_signal<" + targs + ">(" + member + ", std::move(handler));\n  }\n";
  out += "  /// Completes with (error_code, subscription) once the bus has the match rule.\n";
  out += "  template <class F, class Token>\n  " + dep + "auto " + s.async_on_name + "(F handler, Token&& token) {\n";
  out += "    return proxy_.async_on_signal<" + targs + ">(" + member +
         ", std::move(handler), std::forward<Token>(token));\n  }\n";
}

}  // namespace

std::string write_proxy(const document_model& doc, const std::vector<interface_plan>& plans, const output_options& o,
                        const std::string& types_header) {
  std::string out = banner(doc.source);
  out += "#pragma once\n\n#include \"" + types_header + "\"\n\n#include <chrono>\n#include <utility>\n\n";
  out += open_namespace(o);
  for (const auto& p : plans) {
    const auto& i = *p.model;
    out += "\n" + doc_comment("Proxy of " + i.name + "." + (i.doc.empty() ? "" : " " + i.doc), "");
    out += "class " + deprecated_attr(p.deprecated) + p.proxy_class + " {\n public:\n";
    out += "  static constexpr std::string_view interface_name = " + quoted(i.name) + ";\n\n";
    out += "  /// The object at `path` of `destination`; the connection must outlive the proxy.\n";
    out += "  " + p.proxy_class +
           "(kbus::connection& connection, kbus::bus_name destination, kbus::object_path path)\n"
           "      : proxy_(connection, std::move(destination), std::move(path), kbus::interface_name::unchecked(interface_name)) {}\n\n";
    out += "  /// The untyped proxy underneath.\n  kbus::proxy& dbus_proxy() noexcept { return proxy_; }\n";
    for (const auto& m : p.methods) write_method(out, m);
    for (const auto& pr : p.properties) write_property(out, pr);
    for (const auto& s : p.signals) write_signal(out, s);
    out += "\n private:\n  kbus::proxy proxy_;\n};\n";
  }
  out += open_namespace(o).empty() ? "" : "\n" + close_namespace(o);
  return wrap_long_lines(out);
}

}  // namespace kbus::codegen
