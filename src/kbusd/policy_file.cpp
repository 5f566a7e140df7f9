#include "kbusd/policy_file.hpp"

#include "transport/kdbus/abi.hpp"

#include <grp.h>
#include <pwd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace kbus::kbusd {

namespace {

using json = nlohmann::json;
namespace kd = kbus::kdbus;

// An input iterator over the text that counts the newlines the parser has consumed, so that
// the SAX events below know their line.
class line_counting_iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  line_counting_iterator(const char* p, std::size_t* newlines) : p_(p), newlines_(newlines) {}
  reference operator*() const { return *p_; }
  line_counting_iterator& operator++() {
    if (*p_ == '\n') ++*newlines_;
    ++p_;
    return *this;
  }
  line_counting_iterator operator++(int) {
    auto old = *this;
    ++*this;
    return old;
  }
  bool operator==(const line_counting_iterator& o) const { return p_ == o.p_; }
  bool operator!=(const line_counting_iterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  std::size_t* newlines_;
};

// Records the line of every object key, by its JSON pointer. A key's line is exact: the lexer
// stops at its closing quote.
class key_lines final : public nlohmann::json_sax<json> {
 public:
  explicit key_lines(const std::size_t* newlines) : newlines_(newlines) {}
  std::map<std::string, std::size_t> lines;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    enter();
    stack_.push_back({false, 0, path()});
    return true;
  }
  bool key(string_t& k) override {
    const std::string p = stack_.back().base + "/" + escape(k);
    lines[p] = *newlines_ + 1;
    current_key_ = p;
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    enter();
    stack_.push_back({true, 0, path()});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct level {
    bool array;
    std::size_t index;
    std::string base;
  };
  static std::string escape(const std::string& k) {
    std::string out;
    for (char c : k) {
      if (c == '~') out += "~0";
      else if (c == '/') out += "~1";
      else out += c;
    }
    return out;
  }
  // The pointer of the value that starts now.
  std::string path() const {
    if (stack_.empty()) return "";
    if (stack_.back().array) return stack_.back().base + "/" + std::to_string(stack_.back().index);
    return current_key_;
  }
  void enter() {
    if (!stack_.empty() && stack_.back().array) {
      lines[path()] = *newlines_ + 1;  // '{' or '[' just read: exact
    }
  }
  bool value() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
    return true;
  }

  const std::size_t* newlines_;
  std::vector<level> stack_;
  std::string current_key_;
};

struct checker {
  std::string_view origin;
  std::map<std::string, std::size_t> lines;

  // The line of `pointer`, or of the nearest enclosing value that has one.
  std::size_t line_of(std::string pointer) const {
    for (;;) {
      if (auto it = lines.find(pointer); it != lines.end()) return it->second;
      const auto slash = pointer.rfind('/');
      if (slash == std::string::npos || pointer.empty()) return 1;
      pointer.resize(slash);
    }
  }
  kbus::error fail(const std::string& pointer, const std::string& why) const {
    return kbus::error(errc::invalid_value,
                       std::string(origin) + ":" + std::to_string(line_of(pointer)) + ": " + why);
  }
};

result<std::uint64_t> user_or_group_id(const checker& c, const json& v, const std::string& at, bool group) {
  const char* what = group ? "group" : "user";
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (!v.is_string()) return c.fail(at, std::string("a ") + what + " is a number or a name");
  const auto name = v.get<std::string>();
  if (group) {
    if (const struct group* g = getgrnam(name.c_str())) return static_cast<std::uint64_t>(g->gr_gid);
  } else {
    if (const struct passwd* p = getpwnam(name.c_str())) return static_cast<std::uint64_t>(p->pw_uid);
  }
  return c.fail(at, std::string("no ") + what + " named '" + name + "' on this system");
}

result<broker::access_entry> read_grantee(const checker& c, const json& v, const std::string& at, kd::policy_access_kind access) {
  broker::access_entry e{0, static_cast<std::uint64_t>(access), 0};
  if (v.is_string() && v.get<std::string>() == "world") {
    e.type = static_cast<std::uint64_t>(kd::policy_type::world);
    return e;
  }
  if (!v.is_object() || v.size() != 1)
    return c.fail(at, "a grantee is \"world\", {\"user\": ID or NAME} or {\"group\": ID or NAME}");
  const auto first = v.begin();
  const std::string key = first.key();
  const json& value = first.value();
  if (key == "world" && value == true) {
    e.type = static_cast<std::uint64_t>(kd::policy_type::world);
    return e;
  }
  if (key != "user" && key != "group") return c.fail(at + "/" + key, "unknown grantee '" + key + "' (user, group or world)");
  auto id = user_or_group_id(c, value, at + "/" + key, key == "group");
  if (!id) return id.error();
  e.type = static_cast<std::uint64_t>(key == "group" ? kd::policy_type::group : kd::policy_type::user);
  e.id = *id;
  return e;
}

}  // namespace

result<broker::policy_list> parse_policy(std::string_view text, std::string_view origin) {
  checker c{origin, {}};
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    const std::size_t upto = std::min<std::size_t>(e.byte ? e.byte - 1 : 0, text.size());
    std::size_t line = 1;
    for (std::size_t i = 0; i < upto; ++i) line += text[i] == '\n';
    std::string why = e.what();
    if (auto colon = why.find("syntax error"); colon != std::string::npos) why = why.substr(colon);
    return kbus::error(errc::invalid_value, std::string(origin) + ":" + std::to_string(line) + ": " + why);
  }
  std::size_t newlines = 0;
  key_lines sax(&newlines);
  const char* begin = text.data();
  json::sax_parse(line_counting_iterator(begin, &newlines), line_counting_iterator(begin + text.size(), &newlines), &sax);
  c.lines = std::move(sax.lines);

  if (!doc.is_object()) return c.fail("", "the policy is a JSON object with \"names\"");
  for (const auto& [key, value] : doc.items())
    if (key != "names") return c.fail("/" + key, "unknown key '" + key + "' (the policy has \"names\")");
  broker::policy_list out;
  if (!doc.contains("names")) return out;
  const auto& names = doc["names"];
  if (!names.is_object()) return c.fail("/names", "\"names\" maps bus names to who may own, talk to and see them");
  for (const auto& [name, rules] : names.items()) {
    const std::string at = "/names/" + name;
    if (!kd::is_valid_well_known_name(name, true))
      return c.fail(at, "'" + name + "' is not a well-known bus name (or Name.* for the names below Name)");
    if (!rules.is_object()) return c.fail(at, "the rules of '" + name + "' are an object with own, talk and see");
    auto& entries = out[name];
    for (const auto& [kind, grantees] : rules.items()) {
      kd::policy_access_kind access;
      if (kind == "own") access = kd::policy_access_kind::own;
      else if (kind == "talk") access = kd::policy_access_kind::talk;
      else if (kind == "see") access = kd::policy_access_kind::see;
      else return c.fail(at + "/" + kind, "unknown rule '" + kind + "' (own, talk or see)");
      if (!grantees.is_array()) return c.fail(at + "/" + kind, "'" + kind + "' lists grantees in an array");
      for (std::size_t i = 0; i < grantees.size(); ++i) {
        auto e = read_grantee(c, grantees[i], at + "/" + kind + "/" + std::to_string(i), access);
        if (!e) return e.error();
        entries.push_back(*e);
      }
    }
  }
  return out;
}

result<broker::policy_list> load_policy_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return kbus::error(std::error_code(errno, std::system_category()), "cannot read the policy file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_policy(text.str(), path);
}

}  // namespace kbus::kbusd
