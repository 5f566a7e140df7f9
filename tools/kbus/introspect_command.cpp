// kbus introspect DEST PATH [IFACE]: busctl's table of an object's interfaces and members
// (NAME TYPE SIGNATURE RESULT/VALUE FLAGS), each property with its current value; with
// --xml-interface the XML as received.
#include "busctl_syntax.hpp"
#include "context.hpp"
#include "introspect_call.hpp"
#include "json_output.hpp"
#include "names_arg.hpp"
#include "table.hpp"

#include "kbus/dbus_names.hpp"

#include <algorithm>

namespace kbus::cli {
namespace {

using namespace kbus::introspection;

struct member_row {
  std::string name, type, signature, result, flags;
};

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

bool annotated_true(const std::vector<annotation>& a, std::string_view name) {
  return find_annotation(a, name) == "true";
}

std::string join_flags(const std::vector<std::string>& flags) {
  std::string text;
  for (const auto& f : flags) text += (text.empty() ? "" : " ") + f;
  return or_dash(text);
}

std::string property_flags(const interface& i, const property& p) {
  std::vector<std::string> flags;
  if (annotated_true(p.annotations, dbus_names::deprecated_annotation) ||
      annotated_true(i.annotations, dbus_names::deprecated_annotation))
    flags.push_back("deprecated");
  // The property's annotation, else the interface's, else the specification's default (true).
  std::string_view emits = find_annotation(p.annotations, dbus_names::emits_changed_signal_annotation);
  if (emits.empty()) emits = find_annotation(i.annotations, dbus_names::emits_changed_signal_annotation);
  if (emits.empty() || emits == "true") flags.push_back("emits-change");
  else if (emits == "invalidates") flags.push_back("emits-invalidation");
  else if (emits == "const") flags.push_back("const");
  if (p.writable()) flags.push_back("writable");
  return join_flags(flags);
}

std::string method_flags(const interface& i, const method& m) {
  std::vector<std::string> flags;
  if (annotated_true(m.annotations, dbus_names::deprecated_annotation) ||
      annotated_true(i.annotations, dbus_names::deprecated_annotation))
    flags.push_back("deprecated");
  if (annotated_true(m.annotations, dbus_names::no_reply_annotation)) flags.push_back("no-reply");
  return join_flags(flags);
}

std::string signal_flags(const interface& i, const signal& s) {
  std::vector<std::string> flags;
  if (annotated_true(s.annotations, dbus_names::deprecated_annotation) ||
      annotated_true(i.annotations, dbus_names::deprecated_annotation))
    flags.push_back("deprecated");
  return join_flags(flags);
}

// Rows in busctl's order: interfaces by name; in each, its members by kind (method, property,
// signal) and then by name.
std::vector<member_row> rows_of(session& s, const bus_name& dest, const object_path& path, const node& n,
                                const std::optional<std::string>& only) {
  std::vector<const interface*> interfaces;
  for (const auto& i : n.interfaces)
    if (!only || i.name == *only) interfaces.push_back(&i);
  std::sort(interfaces.begin(), interfaces.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::vector<member_row> rows;
  for (const interface* i : interfaces) {
    const std::string deprecated = annotated_true(i->annotations, dbus_names::deprecated_annotation) ? "deprecated" : "-";
    rows.push_back({i->name, "interface", "-", "-", deprecated});
    std::vector<member_row> members;
    for (const auto& m : i->methods)
      members.push_back({"." + m.name, "method", or_dash(m.in_signature()), or_dash(m.out_signature()), method_flags(*i, m)});
    const auto values = i->properties.empty() ? std::map<std::string, value>{} : get_all(s, dest, path, i->name);
    for (const auto& p : i->properties) {
      auto v = values.find(p.name);
      members.push_back({"." + p.name, "property", p.type, v == values.end() ? "-" : format_busctl_value(v->second),
                         property_flags(*i, p)});
    }
    for (const auto& sig : i->signals)
      members.push_back({"." + sig.name, "signal", or_dash(sig.signature()), "-", signal_flags(*i, sig)});
    std::stable_sort(members.begin(), members.end(), [](const member_row& a, const member_row& b) {
      return std::tie(a.type, a.name) < std::tie(b.type, b.name);
    });
    rows.insert(rows.end(), members.begin(), members.end());
  }
  return rows;
}

}  // namespace

int introspect_command(context& ctx) {
  if (!ctx.arg_count(2, 3, "introspect DEST PATH [IFACE]")) return 2;
  auto dest = name_arg<bus_name>(ctx, ctx.args[0], "DEST");
  auto path = name_arg<object_path>(ctx, ctx.args[1], "PATH");
  if (!dest || !path) return 2;
  std::optional<std::string> only;
  if (ctx.args.size() == 3) {
    if (!name_arg<interface_name>(ctx, ctx.args[2], "IFACE")) return 2;
    only = ctx.args[2];
  }
  session s(ctx);
  if (!s.connect()) return 1;
  auto xml = introspect_xml(s, *dest, *path);
  if (!xml) return 1;
  if (ctx.opt.xml_interface) {
    ctx.out << *xml;
    if (!xml->empty() && xml->back() != '\n') ctx.out << "\n";
    return 0;
  }
  auto doc = introspection::parse(*xml);
  if (!doc) return ctx.fail("invalid introspection data: " + doc.error().what());
  if (only && !doc->find_interface(*only)) return ctx.fail("the object has no interface " + *only);
  const auto rows = rows_of(s, *dest, *path, *doc, only);
  if (ctx.opt.json != json_mode::off) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& r : rows)
      j.push_back({{"name", r.name}, {"type", r.type}, {"signature", r.signature}, {"result", r.result}, {"flags", r.flags}});
    ctx.out << ctx.json_text(j.dump()) << "\n";
    return 0;
  }
  table t({"NAME", "TYPE", "SIGNATURE", "RESULT/VALUE", "FLAGS"});
  for (const auto& r : rows) t.add({r.name, r.type, r.signature, r.result, r.flags});
  t.print(ctx.out, !ctx.opt.no_legend);
  return 0;
}

}  // namespace kbus::cli
