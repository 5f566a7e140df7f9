// The one rule by which D-Bus names become C++ identifiers (docs/codegen.md, "Names"):
//   1. CamelCase becomes snake_case: an underscore goes before an upper-case letter that follows
//      a lower-case letter or digit, and before the last of a run of two or more upper-case
//      letters when a lower-case letter follows ("GetHTTPHeader" -> get_http_header,
//      "IPv4Address" -> ipv4_address); letters become lower case.
//   2. Any character that cannot be in an identifier becomes '_'; runs of '_' become one; '_'
//      at either end is dropped. An empty result is "arg<N>" for an argument (N its position),
//      "unnamed" otherwise; a leading digit gets "n" before it.
//   3. A C++ keyword, alternative token, or a name that common headers define as a macro
//      (linux, unix, major, minor, errno, ...) gets '_' after it.
//   4. Within one scope, the first taker keeps a name; a later one that would clash with it
//      (or with a name derived from it, such as async_<name>) gets "_2", "_3", ... after it.
// org.kbus.CppName replaces steps 1-3 with the given identifier.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::codegen {

// Steps 1-3.
std::string cpp_identifier(std::string_view dbus_name, std::string_view fallback = "unnamed");
// Whether `s` is an identifier that may be used as it is (not a keyword, macro or reserved).
bool usable_identifier(std::string_view s);

// Step 4: names taken in one scope.
class scope_names {
 public:
  explicit scope_names(std::set<std::string> reserved = {}) : taken_(std::move(reserved)) {}
  // The first of base, base_2, base_3, ... for which no derived name is taken; takes them all.
  std::string claim(const std::string& base,
                    const std::function<std::vector<std::string>(const std::string&)>& derive = nullptr);
  bool taken(const std::string& n) const { return taken_.count(n) != 0; }

 private:
  std::set<std::string> taken_;
};

}  // namespace kbus::codegen
