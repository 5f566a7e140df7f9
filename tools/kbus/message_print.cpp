#include "message_print.hpp"

#include "busctl_syntax.hpp"

#include <string>

namespace kbus::cli {
namespace {

// sd-bus's names for the D-Bus types.
const char* code_name(char c) {
  switch (c) {
    case 'y': return "BYTE";
    case 'b': return "BOOLEAN";
    case 'n': return "INT16";
    case 'q': return "UINT16";
    case 'i': return "INT32";
    case 'u': return "UINT32";
    case 'x': return "INT64";
    case 't': return "UINT64";
    case 'd': return "DOUBLE";
    case 's': return "STRING";
    case 'o': return "OBJECT_PATH";
    case 'g': return "SIGNATURE";
    case 'h': return "UNIX_FD";
    case 'a': return "ARRAY";
    case '(': return "STRUCT";
    case '{': return "DICT_ENTRY";
    case 'v': return "VARIANT";
    default: return "UNKNOWN";
  }
}

// The signature of what a container holds, as busctl shows after its type name.
std::string contents_signature(const value& v) {
  const std::string_view t = v.type();
  switch (v.code()) {
    case 'a': return std::string(t.substr(1));
    case '(':
    case '{': return std::string(t.substr(1, t.size() - 2));
    case 'v': return v.items().empty() ? "" : std::string(v.items()[0].type());
    default: return "";
  }
}

void print_value(std::ostream& out, const value& v, int depth) {
  // As busctl: two spaces, then eight for each level of nesting.
  const std::string indent(2 + static_cast<std::size_t>(depth) * 8, ' ');
  switch (v.code()) {
    case 'a':
    case '(':
    case '{':
    case 'v':
      out << indent << code_name(v.code()) << " \"" << contents_signature(v) << "\" {\n";
      for (const auto& item : v.items()) print_value(out, item, depth + 1);
      out << indent << "};\n";
      return;
    default: out << indent << code_name(v.code()) << " " << format_busctl_value(v) << ";\n";
  }
}

}  // namespace

void print_message_line(std::ostream& out, const message& m) {
  out << "type=" << to_string(m.type()) << " sender=" << m.sender() << " destination=" << m.destination()
      << " serial=" << m.serial();
  if (m.reply_serial()) out << " reply_serial=" << *m.reply_serial();
  if (!m.path().empty()) out << " path=" << m.path();
  if (!m.interface().empty()) out << " interface=" << m.interface();
  if (!m.member().empty()) out << " member=" << m.member();
  if (!m.error_name().empty()) out << " error_name=" << m.error_name();
  out << "\n";
  if (auto v = m.values(); v && !m.signature().empty()) out << "  " << format_busctl(m.signature(), *v) << "\n";
  out.flush();
}

void print_message_verbose(std::ostream& out, const message& m) {
  const auto bytes = m.bytes();
  const char endian = bytes.empty() ? '?' : static_cast<char>(bytes[0]);
  const int version = bytes.size() > 3 ? static_cast<int>(bytes[3]) : 0;
  out << "\xe2\x80\xa3 Type=" << to_string(m.type()) << "  Endian=" << endian
      << "  Flags=" << static_cast<unsigned>(m.flags()) << "  Version=" << version << "  Cookie=" << m.serial();
  if (m.reply_serial()) out << "  ReplyCookie=" << *m.reply_serial();
  out << "\n ";
  auto field = [&](const char* name, std::string_view v) {
    if (!v.empty()) out << " " << name << "=" << v;
  };
  field("Sender", m.sender());
  field("Destination", m.destination());
  field("Path", m.path());
  field("Interface", m.interface());
  field("Member", m.member());
  field("ErrorName", m.error_name());
  out << " Signature=\"" << m.signature() << "\"";
  if (m.unix_fd_count()) out << " UnixFDs=" << m.unix_fd_count();
  out << "\n";
  auto values = m.values();
  if (!values) {
    out << "  (body not readable: " << values.error().what() << ")\n\n";
  } else {
    out << "  MESSAGE \"" << m.signature() << "\" {\n";
    for (const auto& v : *values) print_value(out, v, 1);
    out << "  };\n\n";
  }
  out.flush();
}

}  // namespace kbus::cli
