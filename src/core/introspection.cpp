// Introspection XML: parsed with Boost.PropertyTree's XML reader (header-only, already a
// dependency through Boost), written by hand.
#include "kbus/introspection.hpp"
#include "kbus/dbus_names.hpp"

#include "kbus/detail/validate.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <optional>
#include <sstream>

namespace kbus::introspection {

namespace {

using boost::property_tree::ptree;

template <class T>
const T* find_named(const std::vector<T>& list, std::string_view name) noexcept {
  for (const auto& x : list)
    if (x.name == name) return &x;
  return nullptr;
}

std::string concat_types(const std::vector<arg>& args, bool want_in, bool is_method) {
  std::string s;
  for (const auto& a : args)
    if (!is_method || (a.dir == direction::in) == want_in) s += a.type;
  return s;
}

// The parser: walks the tree, keeps the first error with the place it was found.
class reader {
 public:
  std::optional<error> failure;

  void fail(errc code, std::string what) {
    if (!failure) failure = error(code, std::move(what));
  }

  static std::string attr(const ptree& element, const char* name) {
    if (auto attrs = element.get_child_optional("<xmlattr>"))
      if (auto v = attrs->get_optional<std::string>(name)) return *v;
    return {};
  }
  static bool has_attr(const ptree& element, const char* name) {
    auto attrs = element.get_child_optional("<xmlattr>");
    return attrs && attrs->get_child_optional(name);
  }

  std::vector<annotation> annotations(const ptree& element, const std::string& where) {
    std::vector<annotation> out;
    for (const auto& [tag, child] : element) {
      if (tag != "annotation") continue;
      if (!has_attr(child, "name")) fail(errc::invalid_value, where + ": <annotation> without a name");
      out.push_back({attr(child, "name"), attr(child, "value")});
    }
    return out;
  }

  void check_type(const std::string& type, const std::string& where) {
    if (type.empty()) return fail(errc::invalid_signature, where + ": no type");
    if (auto v = detail::check_single_type(type); !v)
      fail(errc::invalid_signature, where + ": type '" + type + "' is not a single complete type: " + v.reason +
                                        " (at byte " + std::to_string(v.offset) + ")");
  }

  std::vector<arg> args(const ptree& element, const std::string& where, bool is_method) {
    std::vector<arg> out;
    for (const auto& [tag, child] : element) {
      if (tag != "arg") continue;
      arg a;
      a.name = attr(child, "name");
      a.type = attr(child, "type");
      const std::string place = where + " arg " + (a.name.empty() ? "#" + std::to_string(out.size()) : "'" + a.name + "'");
      check_type(a.type, place);
      const std::string dir = attr(child, "direction");
      if (is_method) {
        if (dir.empty() || dir == "in") a.dir = direction::in;
        else if (dir == "out") a.dir = direction::out;
        else fail(errc::invalid_value, place + ": direction '" + dir + "' is neither 'in' nor 'out'");
      } else {
        // Signal arguments are always out; some files say so explicitly (or even say "in").
        a.dir = direction::out;
      }
      a.annotations = annotations(child, place);
      out.push_back(std::move(a));
    }
    return out;
  }

  interface read_interface(const ptree& element) {
    interface i;
    i.name = attr(element, "name");
    if (i.name.empty()) fail(errc::invalid_value, "<interface> without a name");
    const std::string where = "interface " + i.name;
    for (const auto& [tag, child] : element) {
      if (tag == "method") {
        method m;
        m.name = attr(child, "name");
        const std::string place = where + " method " + m.name;
        if (m.name.empty()) fail(errc::invalid_value, where + ": <method> without a name");
        m.args = args(child, place, true);
        m.annotations = annotations(child, place);
        i.methods.push_back(std::move(m));
      } else if (tag == "signal") {
        signal s;
        s.name = attr(child, "name");
        const std::string place = where + " signal " + s.name;
        if (s.name.empty()) fail(errc::invalid_value, where + ": <signal> without a name");
        s.args = args(child, place, false);
        s.annotations = annotations(child, place);
        i.signals.push_back(std::move(s));
      } else if (tag == "property") {
        property p;
        p.name = attr(child, "name");
        const std::string place = where + " property " + p.name;
        if (p.name.empty()) fail(errc::invalid_value, where + ": <property> without a name");
        p.type = attr(child, "type");
        check_type(p.type, place);
        const std::string acc = attr(child, "access");
        if (acc == "read") p.access = access::read;
        else if (acc == "write") p.access = access::write;
        else if (acc == "readwrite") p.access = access::readwrite;
        else fail(errc::invalid_value, place + ": access '" + acc + "' is not read, write or readwrite");
        p.annotations = annotations(child, place);
        i.properties.push_back(std::move(p));
      }
    }
    i.annotations = annotations(element, where);
    return i;
  }

  node read_node(const ptree& element, int depth) {
    node n;
    n.name = attr(element, "name");
    if (depth > 64) {
      fail(errc::nesting_too_deep, "<node> elements nested more than 64 deep");
      return n;
    }
    for (const auto& [tag, child] : element) {
      if (tag == "interface") n.interfaces.push_back(read_interface(child));
      else if (tag == "node") n.children.push_back(read_node(child, depth + 1));
    }
    return n;
  }
};

// XML attribute text.
void escape_into(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\t': out += "&#9;"; break;
      case '\r': out += "&#13;"; break;
      default: out += c;
    }
  }
}

class writer {
 public:
  explicit writer(const xml_options& o) : options_(o) {}
  std::string out;

  void line(int level, std::string_view text) {
    out.append(static_cast<std::size_t>(level * options_.indent), ' ');
    out += text;
    out += '\n';
  }
  std::string open(std::string_view tag, std::initializer_list<std::pair<std::string_view, std::string_view>> attrs,
                   bool empty) {
    std::string s = "<";
    s += tag;
    for (const auto& [k, v] : attrs) {
      s += ' ';
      s += k;
      s += "=\"";
      escape_into(s, v);
      s += '"';
    }
    s += empty ? "/>" : ">";
    return s;
  }
  void annotations(int level, const std::vector<annotation>& list) {
    for (const auto& a : list) line(level, open("annotation", {{"name", a.name}, {"value", a.value}}, true));
  }
  void args(int level, const std::vector<arg>& list, bool is_method) {
    for (const auto& a : list) {
      const bool empty = a.annotations.empty();
      std::string s;
      if (a.name.empty()) {
        s = is_method ? open("arg", {{"type", a.type}, {"direction", a.dir == direction::in ? "in" : "out"}}, empty)
                      : open("arg", {{"type", a.type}}, empty);
      } else {
        s = is_method ? open("arg", {{"name", a.name}, {"type", a.type}, {"direction", a.dir == direction::in ? "in" : "out"}}, empty)
                      : open("arg", {{"name", a.name}, {"type", a.type}}, empty);
      }
      line(level, s);
      if (!empty) {
        annotations(level + 1, a.annotations);
        line(level, "</arg>");
      }
    }
  }
  void write_interface(int level, const interface& i) {
    line(level, open("interface", {{"name", i.name}}, false));
    for (const auto& m : i.methods) {
      const bool empty = m.args.empty() && m.annotations.empty();
      line(level + 1, open("method", {{"name", m.name}}, empty));
      if (empty) continue;
      args(level + 2, m.args, true);
      annotations(level + 2, m.annotations);
      line(level + 1, "</method>");
    }
    for (const auto& s : i.signals) {
      const bool empty = s.args.empty() && s.annotations.empty();
      line(level + 1, open("signal", {{"name", s.name}}, empty));
      if (empty) continue;
      args(level + 2, s.args, false);
      annotations(level + 2, s.annotations);
      line(level + 1, "</signal>");
    }
    for (const auto& p : i.properties) {
      const bool empty = p.annotations.empty();
      const char* acc = p.access == access::read ? "read" : p.access == access::write ? "write" : "readwrite";
      line(level + 1, open("property", {{"name", p.name}, {"type", p.type}, {"access", acc}}, empty));
      if (empty) continue;
      annotations(level + 2, p.annotations);
      line(level + 1, "</property>");
    }
    annotations(level + 1, i.annotations);
    line(level, "</interface>");
  }
  void write_node(int level, const node& n) {
    const bool empty = n.interfaces.empty() && n.children.empty();
    line(level, n.name.empty() ? (empty ? std::string("<node/>") : std::string("<node>"))
                               : open("node", {{"name", n.name}}, empty));
    if (empty) return;
    for (const auto& i : n.interfaces) write_interface(level + 1, i);
    for (const auto& c : n.children) write_node(level + 1, c);
    line(level, "</node>");
  }

 private:
  const xml_options& options_;
};

}  // namespace

std::string method::in_signature() const { return concat_types(args, true, true); }
std::string method::out_signature() const { return concat_types(args, false, true); }
std::string signal::signature() const { return concat_types(args, false, false); }

const method* interface::find_method(std::string_view n) const noexcept { return find_named(methods, n); }
const signal* interface::find_signal(std::string_view n) const noexcept { return find_named(signals, n); }
const property* interface::find_property(std::string_view n) const noexcept { return find_named(properties, n); }
const interface* node::find_interface(std::string_view n) const noexcept { return find_named(interfaces, n); }

std::string_view find_annotation(const std::vector<annotation>& list, std::string_view name) noexcept {
  for (const auto& a : list)
    if (a.name == name) return a.value;
  return {};
}

result<node> parse(std::string_view xml) {
  ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    boost::property_tree::read_xml(in, tree, boost::property_tree::xml_parser::no_comments);
  } catch (const boost::property_tree::xml_parser_error& e) {
    return error(errc::invalid_value, "introspection XML is not well formed: " + e.message() + " (line " +
                                          std::to_string(e.line()) + ")");
  } catch (const std::exception& e) {
    return error(errc::invalid_value, std::string("introspection XML could not be read: ") + e.what());
  }
  const ptree* root = nullptr;
  for (const auto& [tag, child] : tree) {
    if (tag == "node") {
      if (root) return error(errc::invalid_value, "introspection XML has more than one root <node>");
      root = &child;
    } else {
      return error(errc::invalid_value, "introspection XML has <" + tag + "> where the root <node> should be");
    }
  }
  if (!root) return error(errc::invalid_value, "introspection XML has no root <node>");
  reader r;
  node n = r.read_node(*root, 0);
  if (r.failure) return *r.failure;
  return n;
}

std::string to_xml(const node& n, const xml_options& options) {
  writer w(options);
  if (options.doctype)
    w.out = "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
            " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n";
  w.write_node(0, n);
  return std::move(w.out);
}

namespace {

arg in(std::string name, std::string type) { return {std::move(name), std::move(type), direction::in, {}}; }
arg out(std::string name, std::string type) { return {std::move(name), std::move(type), direction::out, {}}; }

}  // namespace

const interface& peer_interface() {
  static const interface i{std::string(dbus_names::peer_interface),
                           {{"Ping", {}, {}}, {"GetMachineId", {out("machine_uuid", "s")}, {}}},
                           {},
                           {},
                           {}};
  return i;
}

const interface& introspectable_interface() {
  static const interface i{std::string(dbus_names::introspectable_interface), {{"Introspect", {out("xml_data", "s")}, {}}}, {}, {}, {}};
  return i;
}

const interface& properties_interface() {
  static const interface i{
      std::string(dbus_names::properties_interface),
      {{"Get", {in("interface_name", "s"), in("property_name", "s"), out("value", "v")}, {}},
       {"GetAll", {in("interface_name", "s"), out("props", "a{sv}")}, {}},
       {"Set", {in("interface_name", "s"), in("property_name", "s"), in("value", "v")}, {}}},
      {{"PropertiesChanged",
        {out("interface_name", "s"), out("changed_properties", "a{sv}"), out("invalidated_properties", "as")},
        {}}},
      {},
      {}};
  return i;
}

const interface& object_manager_interface() {
  static const interface i{
      std::string(dbus_names::object_manager_interface),
      {{"GetManagedObjects", {out("object_paths_interfaces_and_properties", "a{oa{sa{sv}}}")}, {}}},
      {{"InterfacesAdded", {out("object_path", "o"), out("interfaces_and_properties", "a{sa{sv}}")}, {}},
       {"InterfacesRemoved", {out("object_path", "o"), out("interfaces", "as")}, {}}},
      {},
      {}};
  return i;
}

}  // namespace kbus::introspection
