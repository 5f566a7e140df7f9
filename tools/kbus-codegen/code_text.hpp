// Pieces of C++ text every writer needs: string literals, doc comments, the file's banner,
// and the namespace a document's code goes in.
#pragma once

#include "model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kbus::codegen {

struct output_options {
  std::string cpp_namespace;  // may be empty or nested (a::b)
};

// A C++ string literal holding `s`.
std::string quoted(std::string_view s);
// `doc` as /// lines, wrapped, each starting with `indent`.
std::string doc_comment(std::string_view doc, std::string_view indent);
// The first lines of every generated file.
std::string banner(const std::string& source);
// "namespace a::b::sub {" (or of `sub` alone) and its end.
std::string open_namespace(const output_options& o, const std::string& sub = {});
std::string close_namespace(const output_options& o, const std::string& sub = {});
// The fully qualified name of `name` in the document's namespace.
std::string qualified(const output_options& o, const std::string& name);
// Lines longer than `width` broken after their first '(' and at each top-level ',' in it, one
// item per line, so that generated code reads (and diffs) well. Comments are left alone.
std::string wrap_long_lines(const std::string& code, std::size_t width = 110);
// Annotations as a braced initializer list of kbus::introspection::annotation.
std::string annotations_init(const std::vector<annotation>& list);

}  // namespace kbus::codegen
