// The three files generated for one XML document: <stem>_types.hpp (the structs of its
// interfaces), <stem>_proxy.hpp (a proxy class per interface) and <stem>_adaptor.hpp (an
// adaptor per interface: the base class a service implements).
#pragma once

#include "code_text.hpp"
#include "interface_plan.hpp"

#include <string>
#include <vector>

namespace kbus::codegen {

std::string write_types(const document_model& doc, const std::vector<interface_plan>& plans, const output_options& o);
std::string write_proxy(const document_model& doc, const std::vector<interface_plan>& plans, const output_options& o,
                        const std::string& types_header);
std::string write_adaptor(const document_model& doc, const std::vector<interface_plan>& plans, const output_options& o,
                          const std::string& types_header);

}  // namespace kbus::codegen
