// Writes a set of generated files all or nothing: each goes to a temporary file beside its
// destination first, and only when every one is written are they renamed into place.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kbus::codegen {

struct output_file {
  std::string path;
  std::string content;
};

// Throws std::runtime_error (with the path and the system's reason); leaves no temporary behind.
void write_all(const std::vector<output_file>& files);

}  // namespace kbus::codegen
