// Reads introspection XML (with expat, which knows the line of every element) into the
// generator's model, and refuses what cannot be generated: XML that is not well-formed, a
// missing or invalid name or type, an unknown access or direction.
#pragma once

#include "model.hpp"

#include <string>
#include <string_view>

namespace kbus::codegen {

// `source` names the input in error messages. Throws input_error.
document_model read_document(std::string_view xml, const std::string& source);
document_model read_file(const std::string& path);

}  // namespace kbus::codegen
