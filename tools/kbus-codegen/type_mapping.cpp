#include "type_mapping.hpp"

#include "naming.hpp"

#include <kbus/dbus_names.hpp>
#include <kbus/names.hpp>

namespace kbus::codegen {

struct type_mapper::node {
  char code = 0;  // 'a' with one item, 'e' (dict) with two, '(' with several, else basic or 'v'
  std::vector<node> items;
  std::string container;  // from org.kbus.Container, for this node
};

bool type_mapper::pass_by_value(std::string_view type) {
  return type.size() == 1 && std::string_view("ybnqiuxtd").find(type[0]) != std::string_view::npos;
}

// Parsing is a static helper of the mapper (node is private to it).
namespace {
struct parser {
  template <class Node>
  static Node parse(std::string_view s, std::size_t& pos) {
    Node n;
    char c = s[pos++];
    if (c == 'a') {
      if (s[pos] == '{') {
        ++pos;
        n.code = 'e';
        n.items.push_back(parse<Node>(s, pos));
        n.items.push_back(parse<Node>(s, pos));
        ++pos;  // '}'
      } else {
        n.code = 'a';
        n.items.push_back(parse<Node>(s, pos));
      }
    } else if (c == '(') {
      n.code = '(';
      while (s[pos] != ')') n.items.push_back(parse<Node>(s, pos));
      ++pos;
    } else {
      n.code = c;
    }
    return n;
  }
};

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return std::string(s);
}
struct plain_node {
  char code = 0;
  std::vector<plain_node> items;
  std::string container;
};
}  // namespace

std::optional<std::string> check_single_complete_type(std::string_view type) {
  auto sig = kbus::signature::make(type);
  if (!sig) return sig.error().message;
  if (type.empty()) return std::string("the type is empty");
  std::size_t pos = 0;
  parser::parse<plain_node>(type, pos);  // the signature is valid: one complete type parses
  if (pos != type.size()) return "'" + std::string(type) + "' is more than one complete type";
  return std::nullopt;
}

std::string type_mapper::cpp_type(const std::string& type, const std::vector<annotation>& annotations, long line) {
  std::size_t pos = 0;
  node root = parser::parse<node>(type, pos);

  if (const auto* c = annotation_value(annotations, dbus_names::kbus_container_annotation)) {
    const std::string v = trim(*c);
    const bool seq = v == "std::vector" || v == "std::deque" || v == "std::list" || v == "std::set";
    const bool map = v == "std::map" || v == "std::unordered_map";
    if (root.code == 'a' && !seq)
      throw input_error(source_, line, "org.kbus.Container '" + v + "' is not one of std::vector, std::deque, std::list, std::set");
    if (root.code == 'e' && !map)
      throw input_error(source_, line, "org.kbus.Container '" + v + "' is not one of std::map, std::unordered_map");
    if (root.code != 'a' && root.code != 'e')
      throw input_error(source_, line, "org.kbus.Container on type '" + type + "', which is neither an array nor a dictionary");
    root.container = v;
  }

  const node* named = nullptr;
  std::string struct_name;
  if (const auto* st = annotation_value(annotations, dbus_names::kbus_struct_annotation)) {
    // The outermost struct: the type itself, or what arrays and dictionary values hold.
    const node* n = &root;
    while (n->code == 'a' || n->code == 'e') n = &n->items.back();
    if (n->code != '(') throw input_error(source_, line, "org.kbus.Struct on type '" + type + "', which holds no struct");
    named = n;
    const std::string v = trim(*st);
    const auto open = v.find('(');
    named_struct ns;
    ns.name = trim(v.substr(0, open));
    if (!usable_identifier(ns.name) || ns.name == scope_)
      throw input_error(source_, line, "org.kbus.Struct: '" + ns.name + "' is not a usable C++ identifier");
    std::vector<std::string> members;
    if (open != std::string::npos) {
      if (v.back() != ')') throw input_error(source_, line, "org.kbus.Struct: '" + v + "' does not end with ')'");
      std::string list = v.substr(open + 1, v.size() - open - 2);
      std::size_t start = 0;
      while (start <= list.size()) {
        auto comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        members.push_back(trim(std::string_view(list).substr(start, comma - start)));
        start = comma + 1;
      }
      if (members.size() != n->items.size())
        throw input_error(source_, line, "org.kbus.Struct: " + std::to_string(members.size()) + " member names for a struct of " +
                                             std::to_string(n->items.size()) + " fields");
    }
    for (std::size_t i = 0; i < n->items.size(); ++i) {
      if (i < members.size()) {
        if (!usable_identifier(members[i]) || members[i] == ns.name)
          throw input_error(source_, line, "org.kbus.Struct: member '" + members[i] + "' is not a usable C++ identifier");
        for (std::size_t j = 0; j < i; ++j)
          if (members[j] == members[i]) throw input_error(source_, line, "org.kbus.Struct: member '" + members[i] + "' twice");
        ns.member_names.push_back(members[i]);
      } else {
        ns.member_names.push_back("field" + std::to_string(i));
      }
      ns.member_types.push_back(map(n->items[i], nullptr, nullptr));
    }
    // The struct's own signature, for telling two definitions of one name apart.
    std::string sig;
    auto sig_of = [&](auto& self, const node& x) -> void {
      if (x.code == 'a') sig += 'a', self(self, x.items[0]);
      else if (x.code == 'e') sig += "a{", self(self, x.items[0]), self(self, x.items[1]), sig += '}';
      else if (x.code == '(') {
        sig += '(';
        for (const auto& i : x.items) self(self, i);
        sig += ')';
      } else sig += x.code;
    };
    sig_of(sig_of, *n);
    ns.signature = sig;
    struct_name = ns.name;
    add_struct(std::move(ns), line);
  }
  return map(root, named, named ? &struct_name : nullptr);
}

void type_mapper::add_struct(named_struct s, long line) {
  for (const auto& e : structs_) {
    if (e.name != s.name) continue;
    if (e.signature == s.signature && e.member_names == s.member_names) return;
    throw input_error(source_, line, "org.kbus.Struct: '" + s.name + "' is named twice with different fields");
  }
  structs_.push_back(std::move(s));
}

std::string type_mapper::map(const node& n, const node* named, const std::string* struct_name) {
  if (&n == named) return scope_ + "::" + *struct_name;
  switch (n.code) {
    case 'y': return "std::uint8_t";
    case 'b': return "bool";
    case 'n': return "std::int16_t";
    case 'q': return "std::uint16_t";
    case 'i': return "std::int32_t";
    case 'u': return "std::uint32_t";
    case 'x': return "std::int64_t";
    case 't': return "std::uint64_t";
    case 'd': return "double";
    case 's': return "std::string";
    case 'o': return "kbus::object_path";
    case 'g': return "kbus::signature";
    case 'h': return "kbus::unix_fd";
    case 'v': return "kbus::variant";
    case 'a': return (n.container.empty() ? "std::vector" : n.container) + "<" + map(n.items[0], named, struct_name) + ">";
    case 'e':
      return (n.container.empty() ? "std::map" : n.container) + "<" + map(n.items[0], named, struct_name) + ", " +
             map(n.items[1], named, struct_name) + ">";
    case '(': {
      std::string out = "std::tuple<";
      for (std::size_t i = 0; i < n.items.size(); ++i) out += (i ? ", " : "") + map(n.items[i], named, struct_name);
      return out + ">";
    }
    default: return "void";  // not reached: types are checked when read
  }
}

}  // namespace kbus::codegen
