// The generator's view of an introspection document: interfaces with their members, the
// annotations and documentation of each, and the line each came from (for error messages).
#pragma once

#include <kbus/introspection.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace kbus::codegen {

using kbus::introspection::annotation;

// Bad input: where (file and line, 0 when unknown) and why. main() prints it and exits 1.
struct input_error : std::runtime_error {
  input_error(const std::string& file, long line, const std::string& reason)
      : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + reason) {}
};

struct arg_model {
  std::string name;  // may be empty
  std::string type;
  bool out = false;
  std::vector<annotation> annotations;
  std::string doc;
  long line = 0;
};

struct method_model {
  std::string name;
  std::vector<arg_model> args;
  std::vector<annotation> annotations;
  std::string doc;
  long line = 0;
};

struct signal_model {
  std::string name;
  std::vector<arg_model> args;
  std::vector<annotation> annotations;
  std::string doc;
  long line = 0;
};

struct property_model {
  std::string name;
  std::string type;
  bool read = true;
  bool write = false;
  std::vector<annotation> annotations;
  std::string doc;
  long line = 0;
};

struct interface_model {
  std::string name;
  std::vector<method_model> methods;
  std::vector<signal_model> signals;
  std::vector<property_model> properties;
  std::vector<annotation> annotations;
  std::string doc;
  long line = 0;
};

struct document_model {
  std::string source;  // the file (or bus object) it came from, for messages and comments
  std::vector<interface_model> interfaces;
  std::vector<std::string> children;  // names of the root's child nodes
};

// The value of annotation `name`, or nullptr.
inline const std::string* annotation_value(const std::vector<annotation>& list, std::string_view name) {
  for (const auto& a : list)
    if (a.name == name) return &a.value;
  return nullptr;
}

}  // namespace kbus::codegen
