// <stem>_adaptor.hpp: for each interface, the base class a service implements: a pure virtual
// function per method and property accessor, emit_<signal>, <property>_changed, and the
// interface definition (with every annotation of the XML) that binds them to an object server.
#include "writers.hpp"

namespace kbus::codegen {
namespace {

std::string value_params(const std::vector<arg_plan>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + args[i].cpp_type + " " + args[i].name;
  return out;
}
std::string moved(const std::vector<arg_plan>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + std::string("std::move(") + args[i].name + ")";
  return out;
}
std::string types(const std::vector<arg_plan>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + args[i].cpp_type;
  return out;
}
std::string names_init(const std::vector<arg_plan>& args) {
  std::string out = "{";
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + quoted(args[i].model->name);
  return out + "}";
}
std::string arg_annotations_init(const std::vector<arg_plan>& args) {
  bool any = false;
  for (const auto& a : args) any = any || !a.model->annotations.empty();
  if (!any) return "{}";
  std::string out = "{";
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + annotations_init(args[i].model->annotations);
  return out + "}";
}
std::string reply_type(const method_plan& m) { return "kbus::async_reply<" + types(m.outs) + ">"; }

void write_virtuals(std::string& out, const interface_plan& p) {
  for (const auto& m : p.methods) {
    std::string doc = "Method " + m.model->name + "." + (m.model->doc.empty() ? "" : " " + m.model->doc);
    if (m.async_reply) doc += " org.kbus.Async: answer through `reply` (reply() or fail()), now or later, from any thread.";
    if (m.no_reply) doc += " org.freedesktop.DBus.Method.NoReply: the caller waits for no answer.";
    if (m.deprecated) doc += " Deprecated.";
    out += "\n" + doc_comment(doc, "  ");
    if (m.async_reply) {
      out += "  virtual void " + m.name + "(" + reply_type(m) + " reply" + (m.ins.empty() ? "" : ", ") + value_params(m.ins) +
             ") = 0;\n";
    } else {
      out += "  virtual " + m.result_type + " " + m.name + "(" + value_params(m.ins) + ") = 0;\n";
    }
  }
  for (const auto& pr : p.properties) {
    out += "\n" + doc_comment("Property " + pr.model->name + " '" + pr.model->type + "'." +
                                  (pr.model->doc.empty() ? "" : " " + pr.model->doc) + (pr.deprecated ? " Deprecated." : ""),
                              "  ");
    if (pr.model->read) out += "  virtual " + pr.cpp_type + " " + pr.name + "() = 0;\n";
    if (pr.model->write) out += "  virtual void " + pr.set_name + "(" + pr.cpp_type + " value) = 0;\n";
  }
}

void write_definition(std::string& out, const interface_plan& p) {
  out += "  /// The interface, bound to this object's functions (register_object serves it).\n";
  out += "  kbus::interface_definition definition() {\n";
  out += "    kbus::interface_definition d(kbus::interface_name::unchecked(interface_name));\n";
  for (const auto& m : p.methods) {
    std::string lambda;
    if (m.async_reply) {
      lambda = "[this](" + reply_type(m) + " reply" + (m.ins.empty() ? "" : ", ") + value_params(m.ins) +
               ") {\n               this->" + m.name + "(std::move(reply)" + (m.ins.empty() ? "" : ", ") + moved(m.ins) +
               ");\n             }";
    } else if (!m.result_struct.empty()) {
      std::string fields;
      for (std::size_t i = 0; i < m.outs.size(); ++i) fields += (i ? ", " : "") + std::string("std::move(r.") + m.outs[i].name + ")";
      lambda = "[this](" + value_params(m.ins) + ") {\n               auto r = this->" + m.name + "(" + moved(m.ins) +
               ");\n               return std::make_tuple(" + fields + ");\n             }";
    } else {
      lambda = "[this](" + value_params(m.ins) + ") {\n               return this->" + m.name + "(" + moved(m.ins) +
               ");\n             }";
    }
    out += "    d.method(kbus::member_name::unchecked(" + quoted(m.model->name) + "),\n             " + lambda + ",\n";
    const std::string pad = "\n                                  ";
    out += "             kbus::method_options{.in_names = " + names_init(m.ins) + "," + pad + ".out_names = " +
           names_init(m.outs) + "," + pad + ".annotations = " + annotations_init(m.kept) + "," + pad +
           ".in_annotations = " + arg_annotations_init(m.ins) + "," + pad + ".out_annotations = " +
           arg_annotations_init(m.outs) + "," + pad + ".deprecated = " + (m.deprecated ? "true" : "false") + "," + pad +
           ".no_reply = " + (m.no_reply ? "true" : "false") + "});\n";
  }
  for (const auto& s : p.signals) {
    out += "    d.signal<" + types(s.args) + ">(kbus::member_name::unchecked(" + quoted(s.model->name) + "),\n";
    const std::string pad = "\n                                      ";
    out += "                 kbus::signal_options{.names = " + names_init(s.args) + "," + pad + ".annotations = " +
           annotations_init(s.kept) + "," + pad + ".arg_annotations = " + arg_annotations_init(s.args) + "," + pad +
           ".deprecated = " + (s.deprecated ? "true" : "false") + "});\n";
  }
  for (const auto& pr : p.properties) {
    const std::string member = "kbus::member_name::unchecked(" + quoted(pr.model->name) + ")";
    const std::string options = "\n               kbus::property_options{.emits_changed = kbus::emits_changed::" + pr.emits +
                                ", .annotations = " + annotations_init(pr.kept) +
                                ", .deprecated = " + (pr.deprecated ? "true" : "false") + "}";
    const std::string notify = pr.notifies() ? " this->" + pr.changed_name + "();" : "";
    const std::string setter = "[this](" + pr.cpp_type + " value) { this->" + pr.set_name + "(std::move(value));" + notify + " }";
    if (pr.model->read && pr.model->write)
      out += "    d.property(" + member + ", [this] { return this->" + pr.name + "(); },\n               " + setter + ", " +
             options + ");\n";
    else if (pr.model->read)
      out += "    d.property(" + member + ", [this] { return this->" + pr.name + "(); }, " + options + ");\n";
    else
      out += "    d.write_only_property<" + pr.cpp_type + ">(" + member + ", " + setter + ", " + options + ");\n";
  }
  for (const auto& a : p.model->annotations)
    out += "    d.annotate(" + quoted(a.name) + ", " + quoted(a.value) + ");\n";
  out += "    return d;\n  }\n";
}

}  // namespace

std::string write_adaptor(const document_model& doc, const std::vector<interface_plan>& plans, const output_options& o,
                          const std::string& types_header) {
  std::string out = banner(doc.source);
  out += "#pragma once\n\n#include \"" + types_header + "\"\n\n#include <utility>\n\n";
  out += open_namespace(o);
  for (const auto& p : plans) {
    const auto& i = *p.model;
    out += "\n" + doc_comment("Adaptor of " + i.name + ": derive, implement the pure virtual functions, register_object()." +
                                  (i.doc.empty() ? "" : " " + i.doc),
                              "");
    out += "class " + p.adaptor_class + " : public kbus::generated::adaptor_base {\n public:\n";
    out += "  static constexpr std::string_view interface_name = " + quoted(i.name) + ";\n\n";
    out += "  /// Serves the interface at `path` on `server`, until unregister_object().\n";
    out += "  kbus::result<void> register_object(kbus::object_server& server, kbus::object_path path) {\n";
    out += "    return kbus::generated::adaptor_base::register_at(server, std::move(path), definition());\n  }\n";
    out += "  void unregister_object() { kbus::generated::adaptor_base::unregister(); }\n\n";
    write_definition(out, p);
    for (const auto& s : p.signals) {
      out += "\n" + doc_comment("Emits " + s.model->name + "." + (s.model->doc.empty() ? "" : " " + s.model->doc), "  ");
      out += "  kbus::result<void> " + s.emit_name + "(" + value_params(s.args) + ") {\n";
      out += "    return kbus::generated::adaptor_base::emit_signal(" + quoted(s.model->name);
      for (const auto& a : s.args) out += ", " + a.name;
      out += ");\n  }\n";
    }
    for (const auto& pr : p.properties) {
      if (!pr.notifies()) continue;
      out += "\n  /// Says that " + pr.model->name + " changed: PropertiesChanged " +
             (pr.emits == "yes" ? "with the value read from " + pr.name + "()" : "naming it (invalidates)") +
             ". A remote Set says it by itself.\n";
      out += "  kbus::result<void> " + pr.changed_name + "() { return kbus::generated::adaptor_base::announce_property_change(" +
             quoted(pr.model->name) + "); }\n";
    }
    write_virtuals(out, p);
    out += "};\n";
  }
  out += open_namespace(o).empty() ? "" : "\n" + close_namespace(o);
  return wrap_long_lines(out);
}

}  // namespace kbus::codegen
