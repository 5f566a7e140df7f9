// D-Bus introspection data (org.freedesktop.DBus.Introspectable): the document model, a
// parser that copes with what real services and interface files contain, and the writer the
// object server uses.
//
//   auto node = kbus::introspection::parse(xml);              // result<node>, never throws
//   for (const auto& i : node->interfaces) ...
//   std::string text = kbus::introspection::to_xml(*node);   // parse(to_xml(n)) == n
//
// Names are kept as the text says (real files have names that break the specification, such
// as hyphenated property names); types are checked: every arg and property type must be a
// single complete type, and a document with any other is refused with the element it is in.
// Elements and attributes the model does not know (doc:doc, tp:docstring, ...) are skipped.
#pragma once

#include "kbus/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kbus::introspection {

struct annotation {
  std::string name;
  std::string value;
  friend bool operator==(const annotation&, const annotation&) = default;
};

enum class direction { in, out };

struct arg {
  std::string name;  // may be empty
  std::string type;
  direction dir = direction::in;  // for method arguments; signal arguments are always out
  std::vector<annotation> annotations;
  friend bool operator==(const arg&, const arg&) = default;
};

struct method {
  std::string name;
  std::vector<arg> args;  // in and out, in document order
  std::vector<annotation> annotations;
  // The signature of the in (or out) arguments, concatenated.
  std::string in_signature() const;
  std::string out_signature() const;
  friend bool operator==(const method&, const method&) = default;
};

struct signal {
  std::string name;
  std::vector<arg> args;
  std::vector<annotation> annotations;
  std::string signature() const;
  friend bool operator==(const signal&, const signal&) = default;
};

enum class access { read, write, readwrite };

struct property {
  std::string name;
  std::string type;
  introspection::access access = access::read;
  std::vector<annotation> annotations;
  bool readable() const noexcept { return access != access::write; }
  bool writable() const noexcept { return access != access::read; }
  friend bool operator==(const property&, const property&) = default;
};

struct interface {
  std::string name;
  std::vector<method> methods;
  std::vector<signal> signals;
  std::vector<property> properties;
  std::vector<annotation> annotations;

  const method* find_method(std::string_view name) const noexcept;
  const signal* find_signal(std::string_view name) const noexcept;
  const property* find_property(std::string_view name) const noexcept;
  friend bool operator==(const interface&, const interface&) = default;
};

struct node {
  std::string name;  // the root's may be empty or absolute; children's are relative
  std::vector<interface> interfaces;
  std::vector<node> children;

  const interface* find_interface(std::string_view name) const noexcept;
  friend bool operator==(const node&, const node&) = default;
};

// The value of annotation `name` in `list`, or empty.
std::string_view find_annotation(const std::vector<annotation>& list, std::string_view name) noexcept;

// Never throws: the document, or an error (errc::invalid_value for XML that is not well formed
// or has no `<node>` root, errc::invalid_signature for a bad type) saying what and where.
result<node> parse(std::string_view xml);

struct xml_options {
  // The DOCTYPE line of the specification before the root element.
  bool doctype = true;
  // Spaces per nesting level.
  int indent = 2;
};
// The document as XML, every attribute value escaped.
std::string to_xml(const node& n, const xml_options& options = {});

// The specification's standard interfaces, as the object server describes them.
const interface& peer_interface();
const interface& introspectable_interface();
const interface& properties_interface();
const interface& object_manager_interface();

}  // namespace kbus::introspection
