// kbusd's policy file: what it grants, and a clear error with the line for anything wrong.
#include "kbusd/policy_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

namespace kd = kbus::kdbus;

TEST(PolicyFile, NamesGrantOwnTalkAndSeeByUserGroupAndWorld) {
  const auto policy = kbus::kbusd::parse_policy(R"({
    "names": {
      "org.example.Service": {
        "own":  [{"user": 1000}],
        "talk": [{"group": 100}, "world"],
        "see":  [{"world": true}]
      },
      "org.example.Plugins.*": {"own": [{"user": "root"}]}
    }
  })", "policy.json");
  ASSERT_TRUE(policy) << policy.error().message;
  ASSERT_EQ(policy->size(), 2u);
  // Each grant, in whatever order the file's keys come.
  auto has = [](const std::vector<kbus::broker::access_entry>& entries, kd::policy_type type, kd::policy_access_kind access,
                std::uint64_t id) {
    return std::count_if(entries.begin(), entries.end(), [&](const kbus::broker::access_entry& e) {
             return e.type == static_cast<std::uint64_t>(type) && e.access == static_cast<std::uint64_t>(access) && e.id == id;
           }) == 1;
  };
  const auto& service = policy->at("org.example.Service");
  EXPECT_EQ(service.size(), 4u);
  EXPECT_TRUE(has(service, kd::policy_type::user, kd::policy_access_kind::own, 1000));
  EXPECT_TRUE(has(service, kd::policy_type::group, kd::policy_access_kind::talk, 100));
  EXPECT_TRUE(has(service, kd::policy_type::world, kd::policy_access_kind::talk, 0));
  EXPECT_TRUE(has(service, kd::policy_type::world, kd::policy_access_kind::see, 0));
  const auto& plugins = policy->at("org.example.Plugins.*");
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(plugins[0].id, 0u);  // root, by name
}

TEST(PolicyFile, AnEmptyPolicyGrantsNothingAndIsFine) {
  auto policy = kbus::kbusd::parse_policy("{}", "p");
  ASSERT_TRUE(policy);
  EXPECT_TRUE(policy->empty());
}

// Each mistake: the file, the line it is on, and what is wrong.
TEST(PolicyFile, EveryMistakeIsReportedWithItsLineAndReason) {
  struct mistake {
    const char* text;
    const char* where;
    const char* why;
  };
  const mistake mistakes[] = {
      {"{\n  \"names\": {\n    \"a.b\": {\"own\": [1000}\n  }\n}", "p.json:3:", "syntax error"},
      {"{\n  \"name\": {}\n}", "p.json:2:", "unknown key 'name'"},
      {"{\"names\": {\n\n  \"not a name\": {}\n}}", "p.json:3:", "not a well-known bus name"},
      {"{\"names\": {\n  \"a.b\": {\n    \"rule\": []\n  }\n}}", "p.json:3:", "unknown rule 'rule'"},
      {"{\"names\": {\n  \"a.b\": {\n    \"own\": [\n      {\"uid\": 5}\n    ]\n  }\n}}", "p.json:4:", "unknown grantee 'uid'"},
      {"{\"names\": {\n  \"a.b\": {\n    \"own\": [{\"user\": \"no-such-user-here\"}]\n  }\n}}", "p.json:3:",
       "no user named 'no-such-user-here'"},
      {"{\"names\": {\"a.b\": {\"talk\": {\"user\": 1}}}}", "p.json:1:", "in an array"},
      {"[]", "p.json:1:", "JSON object"},
  };
  for (const auto& m : mistakes) {
    auto policy = kbus::kbusd::parse_policy(m.text, "p.json");
    ASSERT_FALSE(policy) << m.text;
    const auto& message = policy.error().message;
    EXPECT_EQ(message.rfind(m.where, 0), 0u) << message << "\nfor\n" << m.text;
    EXPECT_NE(message.find(m.why), std::string::npos) << message << "\nfor\n" << m.text;
  }
}

TEST(PolicyFile, AMissingFileIsAnError) {
  auto policy = kbus::kbusd::load_policy_file("/nonexistent/kbusd-policy.json");
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("/nonexistent/kbusd-policy.json"), std::string::npos);
}

}  // namespace
