// Names, paths and signatures: every row of testdata/names, and the literal/compile-time API.
#include "support/testdata.hpp"

#include "kbus/names.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <utility>

namespace {

using namespace kbus::literals;

bool kbus_accepts(const std::string& kind, const std::string& s) {
  if (kind == "object_path") return kbus::object_path::is_valid(s);
  if (kind == "interface") return kbus::interface_name::is_valid(s);
  if (kind == "member") return kbus::member_name::is_valid(s);
  if (kind == "error_name") return kbus::error_name::is_valid(s);
  if (kind == "bus_name") return kbus::bus_name::is_valid(s);
  if (kind == "signature") return kbus::signature::is_valid(s);
  ADD_FAILURE() << "unknown kind " << kind;
  return false;
}

TEST(Names, SharedVectors) {
  KBUS_REQUIRE_TESTDATA(file, "names/names-and-signatures.json");
  const auto data = nlohmann::json::parse(kbus::test::read_file(file));
  // Rows whose source contradicts the specification; kbus follows the spec.
  const std::map<std::pair<std::string, std::string>, bool> spec_overrides{
      // Member names are [A-Za-z0-9_] only; python-dbus-next's test says otherwise.
      {{"member", "foo-bar"}, false},
      // "Bus names ... must contain at least one '.' (and thus at least two elements)", and
      // "all elements must contain at least one character". libdbus's own test accepts these
      // unique names; GLib and the spec do not.
      {{"bus_name", ":"}, false},
      {{"bus_name", ":0"}, false},
      {{"bus_name", ":a"}, false},
      {{"bus_name", ":.a"}, false},
      {{"bus_name", ":.1"}, false},
      {{"bus_name", ":.blah"}, false},
  };
  int checked = 0;
  for (const auto& row : data["vectors"]) {
    const std::string kind = row["kind"];
    const std::string s = row["string"];
    bool expected;
    if (auto it = spec_overrides.find({kind, s}); it != spec_overrides.end()) {
      expected = it->second;

    } else if (row["expected_valid"].is_boolean()) {
      expected = row["expected_valid"];
    } else {
      // No verdict from the source: the reference implementation's, which follows the spec
      // on every such row (GLib's signature check accepts GVariant-only forms).
      expected = row["observed"]["libdbus 1.14.10"];
    }
    EXPECT_EQ(kbus_accepts(kind, s), expected) << kind << " \"" << s << "\" " << row.value("note", "");
    ++checked;
  }
  EXPECT_GE(checked, 269);
}

// libdbus's test gives a reason for each signature; kbus's error says the same thing.
TEST(Names, SignatureErrorsGiveLibdbusReasons) {
  KBUS_REQUIRE_TESTDATA(file, "names/names-and-signatures.json");
  const auto data = nlohmann::json::parse(kbus::test::read_file(file));
  const std::map<std::string, std::pair<kbus::errc, std::string>> reasons{
      {"DBUS_INVALID_UNKNOWN_TYPECODE", {kbus::errc::invalid_signature, "unknown type code"}},
      {"DBUS_INVALID_MISSING_ARRAY_ELEMENT_TYPE", {kbus::errc::invalid_signature, "array without element type"}},
      {"DBUS_INVALID_EXCEEDED_MAXIMUM_ARRAY_RECURSION", {kbus::errc::nesting_too_deep, "more than 32 nested arrays"}},
      {"DBUS_INVALID_EXCEEDED_MAXIMUM_STRUCT_RECURSION", {kbus::errc::nesting_too_deep, "more than 32 nested structs"}},
      {"DBUS_INVALID_STRUCT_ENDED_BUT_NOT_STARTED", {kbus::errc::invalid_signature, "unexpected ')'"}},
      {"DBUS_INVALID_STRUCT_STARTED_BUT_NOT_ENDED", {kbus::errc::invalid_signature, "signature ends inside a type"}},
      {"DBUS_INVALID_STRUCT_HAS_NO_FIELDS", {kbus::errc::invalid_signature, "empty struct"}},
      {"DBUS_INVALID_DICT_ENTRY_HAS_NO_FIELDS", {kbus::errc::invalid_signature, "dict entry must have exactly two types"}},
      {"DBUS_INVALID_DICT_ENTRY_HAS_ONLY_ONE_FIELD", {kbus::errc::invalid_signature, "dict entry must have exactly two types"}},
      {"DBUS_INVALID_DICT_ENTRY_HAS_TOO_MANY_FIELDS", {kbus::errc::invalid_signature, "dict entry must have exactly two types"}},
      {"DBUS_INVALID_DICT_KEY_MUST_BE_BASIC_TYPE", {kbus::errc::invalid_signature, "dict entry key must be a basic type"}},
      {"DBUS_INVALID_DICT_ENTRY_NOT_INSIDE_ARRAY", {kbus::errc::invalid_signature, "dict entry outside an array"}},
  };
  int checked = 0;
  for (const auto& row : data["vectors"]) {
    if (row.value("kind", "") != "signature" || !row.contains("expected_reason") || !row["expected_reason"].is_string())
      continue;
    const std::string s = row["string"], reason = row["expected_reason"];
    auto sig = kbus::signature::make(s);
    if (reason == "DBUS_VALID") {
      EXPECT_TRUE(sig) << s;
    } else {
      ASSERT_TRUE(reasons.count(reason)) << reason;
      ASSERT_FALSE(sig) << s;
      const auto& [code, text] = reasons.at(reason);
      EXPECT_EQ(sig.error(), code) << s << ": " << sig.error().what();
      EXPECT_NE(sig.error().message.find(text), std::string::npos) << s << " (" << reason << "): " << sig.error().message;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 37);
}

TEST(Names, ErrorsSayWhatAndWhere) {
  auto p = kbus::object_path::make("/a//b");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), kbus::errc::invalid_object_path);
  EXPECT_EQ(p.error().message, "object path \"/a//b\" at offset 3: object path has an empty element");
  auto s = kbus::signature::make("a{vs}");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("dict entry key must be a basic type"), std::string::npos);
  auto deep = kbus::signature::make(std::string(33, 'a') + "i");
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error(), kbus::errc::nesting_too_deep);
  EXPECT_THROW(kbus::interface_name{"noDots"}, kbus::exception);
}

TEST(Names, LiteralsAreCheckedAtCompileTime) {
  static_assert(kbus::detail::check_signature("a{sv}(ii)"));
  static_assert(!kbus::detail::check_signature("a{sv"));
  static_assert(!kbus::detail::check_object_path("/trailing/"));
  EXPECT_EQ("/org/kbus"_path.str(), "/org/kbus");
  EXPECT_EQ("a{sv}"_sig.str(), "a{sv}");
  EXPECT_TRUE(kbus::is_unique_name(":1.42"_bus));
  EXPECT_FALSE(kbus::is_unique_name("org.kbus.Demo"_bus));
}

TEST(Names, SignatureLimits) {
  EXPECT_TRUE(kbus::signature::is_valid(std::string(32, 'a') + "i"));
  EXPECT_TRUE(kbus::signature::is_valid(std::string(32, '(') + "i" + std::string(32, ')')));
  EXPECT_FALSE(kbus::signature::is_valid(std::string(33, '(') + "i" + std::string(33, ')')));
  EXPECT_TRUE(kbus::signature::is_valid(std::string(255, 'y')));
  EXPECT_FALSE(kbus::signature::is_valid(std::string(256, 'y')));
  // 32 arrays of 32 structs each: both limits at once, still valid.
  EXPECT_TRUE(kbus::signature::is_valid(std::string(32, 'a') + std::string(32, '(') + "i" + std::string(32, ')')));
  EXPECT_FALSE(kbus::signature::is_valid("a{sv}}"));
  EXPECT_FALSE(kbus::signature::is_valid("a"));
  EXPECT_FALSE(kbus::signature::is_valid("{sv}"));
  EXPECT_FALSE(kbus::signature::is_valid("a{(i)v}"));
}

}  // namespace
