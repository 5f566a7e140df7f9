// <stem>_types.hpp: named structs (org.kbus.Struct) and the structs of several out arguments.
#include "writers.hpp"

namespace kbus::codegen {

std::string write_types(const document_model& doc, const std::vector<interface_plan>& plans, const output_options& o) {
  std::string out = banner(doc.source);
  out += "#pragma once\n\n#include <kbus/generated.hpp>\n\n#include <cstdint>\n#include <string>\n#include <tuple>\n";
  for (const auto& p : plans) {
    if (p.structs.empty() && p.results.empty()) continue;
    out += "\n// Types of " + p.model->name + ".\n";
    out += open_namespace(o, p.types_namespace);
    for (const auto& s : p.structs) {
      out += "\n/// A struct '" + s.signature + "' (org.kbus.Struct).\nstruct " + s.name + " {\n";
      for (std::size_t i = 0; i < s.member_names.size(); ++i)
        out += "  " + s.member_types[i] + " " + s.member_names[i] + "{};\n";
      out += "  friend bool operator==(const " + s.name + "&, const " + s.name + "&) = default;\n};\n";
    }
    for (const auto& r : p.results) {
      out += "\n/// The out arguments of " + r.name.substr(0, r.name.rfind("_result")) + ".\nstruct " + r.name + " {\n";
      for (const auto& m : r.members) out += "  " + m.cpp_type + " " + m.name + "{};\n";
      out += "};\n";
    }
    out += "\n" + close_namespace(o, p.types_namespace);
    for (const auto& s : p.structs) {
      const std::string q = qualified(o, p.types_namespace + "::" + s.name);
      out += "template <>\nstruct kbus::codec<" + q + "> : kbus::aggregate_codec<" + q + "> {};\n";
    }
  }
  return out;
}

}  // namespace kbus::codegen
