#include "xml_reader.hpp"

#include "type_mapping.hpp"

#include <kbus/dbus_names.hpp>
#include <kbus/names.hpp>

#include <expat.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

namespace kbus::codegen {
namespace {

// A small tree of the document: what the model is read from once expat is done.
struct xml_element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  long line = 0;
  std::vector<xml_element> children;
  std::string text;     // character data directly inside
  std::string comment;  // the XML comment just before the element, if any

  const std::string* attribute(std::string_view n) const {
    for (const auto& [k, v] : attributes)
      if (k == n) return &v;
    return nullptr;
  }
};

struct parse_state {
  xml_element root;
  bool have_root = false;
  std::vector<xml_element*> open;
  std::string pending_comment;
  XML_Parser parser = nullptr;
};

void on_start(void* data, const XML_Char* name, const XML_Char** attrs) {
  auto* st = static_cast<parse_state*>(data);
  xml_element e;
  e.name = name;
  e.line = static_cast<long>(XML_GetCurrentLineNumber(st->parser));
  for (int i = 0; attrs[i]; i += 2) e.attributes.emplace_back(attrs[i], attrs[i + 1]);
  e.comment = std::move(st->pending_comment);
  st->pending_comment.clear();
  xml_element* placed;
  if (st->open.empty()) {
    st->root = std::move(e);
    st->have_root = true;
    placed = &st->root;
  } else {
    st->open.back()->children.push_back(std::move(e));
    placed = &st->open.back()->children.back();
  }
  st->open.push_back(placed);
}

void on_end(void* data, const XML_Char*) {
  auto* st = static_cast<parse_state*>(data);
  st->open.pop_back();
  st->pending_comment.clear();
}

void on_text(void* data, const XML_Char* s, int len) {
  auto* st = static_cast<parse_state*>(data);
  if (!st->open.empty()) st->open.back()->text.append(s, static_cast<std::size_t>(len));
}

void on_comment(void* data, const XML_Char* s) {
  auto* st = static_cast<parse_state*>(data);
  if (!st->pending_comment.empty()) st->pending_comment += "\n";
  st->pending_comment += s;
}

// The part of a name after its namespace prefix.
std::string_view local_name(std::string_view n) {
  auto colon = n.rfind(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

// Every piece of text below an element, in document order.
void gather_text(const xml_element& e, std::string& out) {
  out += e.text;
  for (const auto& c : e.children) {
    out += ' ';
    gather_text(c, out);
  }
}

// Documentation of an element: its preceding comment, <doc:doc>/<tp:docstring> children and
// GDBus's DocString annotation, whitespace collapsed (paragraphs joined).
std::string doc_of(const xml_element& e) {
  std::string raw = e.comment;
  for (const auto& c : e.children) {
    auto ln = local_name(c.name);
    if (c.name.find(':') != std::string::npos && (ln == "doc" || ln == "docstring")) {
      raw += ' ';
      gather_text(c, raw);
    }
    if (c.name == "annotation") {
      auto* n = c.attribute("name");
      auto* v = c.attribute("value");
      if (n && v && *n == dbus_names::gdbus_doc_string_annotation) {
        raw += ' ';
        raw += *v;
      }
    }
  }
  std::string out;
  bool space = false;
  for (char ch : raw) {
    if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

class model_reader {
 public:
  explicit model_reader(const std::string& source) : source_(source) {}

  document_model read(const xml_element& root) {
    if (root.name != "node") fail(root, "the root element is <" + root.name + ">, not <node>");
    document_model doc;
    doc.source = source_;
    read_node(root, doc, true);
    return doc;
  }

 private:
  [[noreturn]] void fail(const xml_element& e, const std::string& why) const { throw input_error(source_, e.line, why); }

  const std::string& required(const xml_element& e, std::string_view attr) const {
    auto* v = e.attribute(attr);
    if (!v) fail(e, "<" + e.name + "> has no " + std::string(attr) + " attribute");
    return *v;
  }

  void read_node(const xml_element& node, document_model& doc, bool root) {
    for (const auto& c : node.children) {
      if (c.name == "interface") doc.interfaces.push_back(read_interface(c));
      else if (c.name == "node") {
        if (auto* n = c.attribute("name"); n && root) doc.children.push_back(*n);
        read_node(c, doc, false);  // interfaces written inline in child nodes count too
      }
    }
  }

  std::vector<annotation> annotations(const xml_element& e) const {
    std::vector<annotation> out;
    for (const auto& c : e.children)
      if (c.name == "annotation") out.push_back({required(c, "name"), required(c, "value")});
    return out;
  }

  void check_type(const xml_element& e, const std::string& type) const {
    if (auto why = check_single_complete_type(type)) fail(e, "invalid type '" + type + "': " + *why);
  }

  void check_member(const xml_element& e, const std::string& name, const char* what) const {
    if (!member_name::is_valid(name)) fail(e, "invalid " + std::string(what) + " name '" + name + "'");
  }

  interface_model read_interface(const xml_element& e) {
    interface_model i;
    i.name = required(e, "name");
    if (!interface_name::is_valid(i.name)) fail(e, "invalid interface name '" + i.name + "'");
    i.line = e.line;
    i.doc = doc_of(e);
    i.annotations = annotations(e);
    for (const auto& c : e.children) {
      if (c.name == "method") i.methods.push_back(read_method(c));
      else if (c.name == "signal") i.signals.push_back(read_signal(c));
      else if (c.name == "property") i.properties.push_back(read_property(c));
    }
    return i;
  }

  arg_model read_arg(const xml_element& e, bool in_signal) const {
    arg_model a;
    if (auto* n = e.attribute("name")) a.name = *n;
    a.type = required(e, "type");
    check_type(e, a.type);
    if (auto* d = e.attribute("direction")) {
      if (*d != "in" && *d != "out") fail(e, "direction '" + *d + "' is neither in nor out");
      a.out = *d == "out";
    }
    if (in_signal) a.out = true;  // real files write direction="out" (or "in") on signal args
    a.annotations = annotations(e);
    a.doc = doc_of(e);
    a.line = e.line;
    return a;
  }

  method_model read_method(const xml_element& e) const {
    method_model m;
    m.name = required(e, "name");
    check_member(e, m.name, "method");
    m.line = e.line;
    m.doc = doc_of(e);
    m.annotations = annotations(e);
    for (const auto& c : e.children)
      if (c.name == "arg") m.args.push_back(read_arg(c, false));
    return m;
  }

  signal_model read_signal(const xml_element& e) const {
    signal_model s;
    s.name = required(e, "name");
    check_member(e, s.name, "signal");
    s.line = e.line;
    s.doc = doc_of(e);
    s.annotations = annotations(e);
    for (const auto& c : e.children)
      if (c.name == "arg") s.args.push_back(read_arg(c, true));
    return s;
  }

  property_model read_property(const xml_element& e) const {
    property_model p;
    p.name = required(e, "name");
    // Real files (fprintd, xdg-desktop-portal) hyphenate property names, which GDBus serves:
    // a hyphen is accepted there, anything else must make a member name.
    std::string unhyphenated = p.name;
    for (auto& ch : unhyphenated)
      if (ch == '-') ch = '_';
    check_member(e, unhyphenated, "property");
    p.type = required(e, "type");
    check_type(e, p.type);
    const auto& access = required(e, "access");
    if (access == "read") p.read = true, p.write = false;
    else if (access == "write") p.read = false, p.write = true;
    else if (access == "readwrite") p.read = p.write = true;
    else fail(e, "access '" + access + "' is not read, write or readwrite");
    p.line = e.line;
    p.doc = doc_of(e);
    p.annotations = annotations(e);
    return p;
  }

  const std::string& source_;
};

}  // namespace

document_model read_document(std::string_view xml, const std::string& source) {
  parse_state st;
  std::unique_ptr<XML_ParserStruct, void (*)(XML_Parser)> parser(XML_ParserCreate(nullptr), XML_ParserFree);
  if (!parser) throw std::bad_alloc();
  st.parser = parser.get();
  XML_SetUserData(parser.get(), &st);
  XML_SetElementHandler(parser.get(), on_start, on_end);
  XML_SetCharacterDataHandler(parser.get(), on_text);
  XML_SetCommentHandler(parser.get(), on_comment);
  if (XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()), XML_TRUE) == XML_STATUS_ERROR) {
    throw input_error(source, static_cast<long>(XML_GetCurrentLineNumber(parser.get())),
                      std::string("not well-formed XML: ") + XML_ErrorString(XML_GetErrorCode(parser.get())));
  }
  if (!st.have_root) throw input_error(source, 0, "no root element");
  return model_reader(source).read(st.root);
}

document_model read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(path, 0, "cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return read_document(text.str(), path);
}

}  // namespace kbus::codegen
