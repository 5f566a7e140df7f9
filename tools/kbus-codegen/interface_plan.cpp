#include "interface_plan.hpp"

#include "naming.hpp"

#include <kbus/dbus_names.hpp>

#include <charconv>

namespace kbus::codegen {
namespace {

// Names every generated class has (and its base, kbus::generated::adaptor_base).
const std::set<std::string> class_reserved = {
    "interface_name", "dbus_proxy", "register_object", "unregister_object", "definition", "registered",
    "registered_path", "register_at", "unregister", "emit_signal", "announce_property_change", "adaptor_base", "std", "kbus", "boost"};
// Names the generated functions use for their own parameters.
const std::set<std::string> arg_reserved = {"token", "reply", "std", "kbus", "boost"};

bool is_true(const std::vector<annotation>& list, std::string_view name) {
  const auto* v = annotation_value(list, name);
  return v && *v == "true";
}

// Annotations the adaptor's options write again (so they are not kept twice).
std::vector<annotation> kept(const std::vector<annotation>& list) {
  std::vector<annotation> out;
  for (const auto& a : list)
    if (a.name != dbus_names::deprecated_annotation && a.name != dbus_names::no_reply_annotation &&
        a.name != dbus_names::emits_changed_signal_annotation)
      out.push_back(a);
  return out;
}

class planner {
 public:
  explicit planner(const document_model& doc) : doc_(doc) {}

  std::vector<interface_plan> run() {
    std::vector<interface_plan> out;
    for (const auto& i : doc_.interfaces) out.push_back(plan_interface(i));
    return out;
  }

 private:
  std::string base_name(const std::string& dbus_name, const std::vector<annotation>& anns, long line,
                        std::string_view fallback = "unnamed") const {
    if (const auto* n = annotation_value(anns, dbus_names::kbus_cpp_name_annotation)) {
      if (!usable_identifier(*n)) throw input_error(doc_.source, line, "org.kbus.CppName '" + *n + "' is not a usable C++ identifier");
      return *n;
    }
    return cpp_identifier(dbus_name, fallback);
  }

  // The interface's own name: its last component; earlier ones join when two interfaces of the
  // document would otherwise share it.
  std::string interface_base(const interface_model& i) {
    if (const auto* n = annotation_value(i.annotations, dbus_names::kbus_cpp_name_annotation)) {
      if (!usable_identifier(*n)) throw input_error(doc_.source, i.line, "org.kbus.CppName '" + *n + "' is not a usable C++ identifier");
      return interfaces_.claim(*n, [](const std::string& b) { return std::vector<std::string>{b + "_proxy", b + "_adaptor"}; });
    }
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= i.name.size()) {
      auto dot = i.name.find('.', start);
      if (dot == std::string::npos) dot = i.name.size();
      parts.push_back(i.name.substr(start, dot - start));
      start = dot + 1;
    }
    auto derive = [](const std::string& b) { return std::vector<std::string>{b + "_proxy", b + "_adaptor"}; };
    std::string name;
    for (std::size_t k = parts.size(); k-- > 0;) {
      name = name.empty() ? parts[k] : parts[k] + "_" + name;
      std::string id = cpp_identifier(name);
      bool free = !interfaces_.taken(id);
      for (const auto& d : derive(id)) free = free && !interfaces_.taken(d);
      if (free || k == 0) return interfaces_.claim(id, derive);
    }
    return interfaces_.claim(cpp_identifier(name), derive);
  }

  std::vector<arg_plan> plan_args(const std::vector<arg_model>& args, bool out, scope_names& names, type_mapper& types,
                                  std::size_t& position) {
    std::vector<arg_plan> plans;
    for (const auto& a : args) {
      const std::size_t pos = position++;
      if (a.out != out) continue;
      arg_plan p;
      p.model = &a;
      p.name = names.claim(base_name(a.name, a.annotations, a.line, "arg" + std::to_string(pos)));
      p.cpp_type = types.cpp_type(a.type, a.annotations, a.line);
      p.by_value = type_mapper::pass_by_value(a.type) &&
                   annotation_value(a.annotations, dbus_names::kbus_container_annotation) == nullptr;
      plans.push_back(std::move(p));
    }
    return plans;
  }

  interface_plan plan_interface(const interface_model& i) {
    interface_plan plan;
    plan.model = &i;
    const std::string base = interface_base(i);
    plan.types_namespace = base;
    plan.proxy_class = base + "_proxy";
    plan.adaptor_class = base + "_adaptor";
    plan.deprecated = is_true(i.annotations, dbus_names::deprecated_annotation);
    // A member may not have the name of its class.
    auto reserved = class_reserved;
    reserved.insert({plan.proxy_class, plan.adaptor_class});
    scope_names members(reserved);
    scope_names type_names({"std", "kbus", "boost", base});
    type_mapper types(doc_.source, base);

    for (const auto& m : i.methods) {
      method_plan p;
      p.model = &m;
      p.name = members.claim(base_name(m.name, m.annotations, m.line),
                             [](const std::string& b) { return std::vector<std::string>{"async_" + b}; });
      p.async_name = "async_" + p.name;
      // In arguments are parameters, out arguments members of a result: two scopes.
      scope_names in_names(arg_reserved), out_names(arg_reserved);
      std::size_t pos = 0;
      p.ins = plan_args(m.args, false, in_names, types, pos);
      pos = 0;
      p.outs = plan_args(m.args, true, out_names, types, pos);
      p.deprecated = plan.deprecated || is_true(m.annotations, dbus_names::deprecated_annotation);
      p.no_reply = is_true(m.annotations, dbus_names::no_reply_annotation) && p.outs.empty();
      p.async_reply = is_true(m.annotations, dbus_names::kbus_async_annotation);
      if (const auto* t = annotation_value(m.annotations, dbus_names::method_timeout_annotation)) {
        long ms = 0;
        auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), ms);
        if (ec != std::errc() || end != t->data() + t->size() || ms <= 0)
          throw input_error(doc_.source, m.line, "org.freedesktop.DBus.Method.Timeout '" + *t + "' is not a number of milliseconds");
        p.timeout_ms = std::to_string(ms);
      }
      if (p.outs.empty()) {
        p.result_type = p.wire_type = "void";
      } else if (p.outs.size() == 1) {
        p.result_type = p.wire_type = p.outs[0].cpp_type;
      } else {
        p.result_struct = type_names.claim(p.name + "_result");
        p.result_type = base + "::" + p.result_struct;
        p.wire_type = "std::tuple<";
        for (std::size_t k = 0; k < p.outs.size(); ++k) p.wire_type += (k ? ", " : "") + p.outs[k].cpp_type;
        p.wire_type += ">";
        plan.results.push_back({p.result_struct, p.outs});
      }
      p.kept = kept(m.annotations);
      plan.methods.push_back(std::move(p));
    }

    for (const auto& pr : i.properties) {
      property_plan p;
      p.model = &pr;
      const std::string* emits = annotation_value(pr.annotations, dbus_names::emits_changed_signal_annotation);
      if (!emits) emits = annotation_value(i.annotations, dbus_names::emits_changed_signal_annotation);
      const std::string e = emits ? *emits : "true";
      if (e == "true") p.emits = "yes";
      else if (e == "invalidates") p.emits = "invalidates";
      else if (e == "const") p.emits = "constant";
      else if (e == "false") p.emits = "no";
      else throw input_error(doc_.source, pr.line, "EmitsChangedSignal '" + e + "' is not true, invalidates, const or false");
      const bool notifies = p.notifies();
      p.name = members.claim(base_name(pr.name, pr.annotations, pr.line), [&](const std::string& b) {
        std::vector<std::string> d;
        if (pr.read) d.push_back("async_get_" + b);
        if (pr.write) d.insert(d.end(), {"set_" + b, "async_set_" + b});
        if (notifies) d.insert(d.end(), {"on_" + b + "_changed", b + "_changed"});
        return d;
      });
      p.set_name = "set_" + p.name;
      p.async_get_name = "async_get_" + p.name;
      p.async_set_name = "async_set_" + p.name;
      p.on_changed_name = "on_" + p.name + "_changed";
      p.changed_name = p.name + "_changed";
      p.cpp_type = types.cpp_type(pr.type, pr.annotations, pr.line);
      p.by_value = type_mapper::pass_by_value(pr.type) &&
                   annotation_value(pr.annotations, dbus_names::kbus_container_annotation) == nullptr;
      p.deprecated = plan.deprecated || is_true(pr.annotations, dbus_names::deprecated_annotation);
      p.kept = kept(pr.annotations);
      plan.properties.push_back(std::move(p));
    }

    for (const auto& s : i.signals) {
      signal_plan p;
      p.model = &s;
      p.name = members.claim(base_name(s.name, s.annotations, s.line), [](const std::string& b) {
        return std::vector<std::string>{"on_" + b, "async_on_" + b, "emit_" + b};
      });
      p.on_name = "on_" + p.name;
      p.async_on_name = "async_on_" + p.name;
      p.emit_name = "emit_" + p.name;
      scope_names arg_names(arg_reserved);
      std::size_t pos = 0;
      p.args = plan_args(s.args, true, arg_names, types, pos);
      p.deprecated = plan.deprecated || is_true(s.annotations, dbus_names::deprecated_annotation);
      p.kept = kept(s.annotations);
      plan.signals.push_back(std::move(p));
    }

    plan.structs = types.structs();
    for (const auto& st : plan.structs)
      if (type_names.taken(st.name))
        throw input_error(doc_.source, i.line, "org.kbus.Struct '" + st.name + "' clashes with another name of the interface");
    return plan;
  }

  const document_model& doc_;
  // A class may not have the name of a member every class has.
  scope_names interfaces_{class_reserved};
};

}  // namespace

std::vector<interface_plan> plan_document(const document_model& doc) { return planner(doc).run(); }

}  // namespace kbus::codegen
