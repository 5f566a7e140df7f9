// D-Bus types as C++ types (docs/codegen.md, "Types"), with kbus's annotations:
// org.kbus.Container chooses the container of an array or dictionary, org.kbus.Struct makes a
// struct a named C++ struct with named members.
#pragma once

#include "model.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::codegen {

// Why `type` is not a single complete type, or nothing when it is.
std::optional<std::string> check_single_complete_type(std::string_view type);

// A struct that org.kbus.Struct named.
struct named_struct {
  std::string name;
  std::string signature;
  std::vector<std::string> member_names;
  std::vector<std::string> member_types;
};

// Maps the types of one interface; the named structs it meets are kept for the writers.
class type_mapper {
 public:
  // Named structs are written as <scope>::<name>.
  type_mapper(std::string source, std::string scope) : source_(std::move(source)), scope_(std::move(scope)) {}

  // The C++ type of `type` with the annotations of its argument or property (`line` for errors).
  // Throws input_error for an annotation that does not fit the type.
  std::string cpp_type(const std::string& type, const std::vector<annotation>& annotations, long line);

  const std::vector<named_struct>& structs() const noexcept { return structs_; }
  // Whether a value of `type` is passed by value rather than by const reference.
  static bool pass_by_value(std::string_view type);

 private:
  struct node;
  std::string map(const node& n, const node* named, const std::string* struct_name);
  void add_struct(named_struct s, long line);

  std::string source_;
  std::string scope_;
  std::vector<named_struct> structs_;
};

}  // namespace kbus::codegen
