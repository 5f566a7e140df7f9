// The 400 GLib-marshalled messages of testdata/vectors: each decodes, in both byte orders, to
// its JSON; and encoding that JSON in either byte order decodes back to the same.
#include "support/testdata.hpp"
#include "wire/json.hpp"

#include "kbus/message.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using kbus::test::from_hex;

nlohmann::json normalized(const nlohmann::ordered_json& j) { return nlohmann::json::parse(j.dump()); }

TEST(Vectors, GlibVectorsDecodeAndEncode) {
  KBUS_REQUIRE_TESTDATA(dir, "vectors/glib-seed1.jsonl");
  std::ifstream in(dir);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const auto vec = nlohmann::json::parse(line);
    nlohmann::json expected{{"header", vec["header"]}, {"body", vec["body"]}};
    for (const char* order : {"le", "be"}) {
      SCOPED_TRACE(std::string(order) + " vector " + std::to_string(count) + ": " + line.substr(0, 200));
      auto m = kbus::message::parse(from_hex(vec[order].get<std::string>()));
      ASSERT_TRUE(m) << m.error().what();
      EXPECT_EQ(m->order(), order[0] == 'l' ? kbus::byte_order::little : kbus::byte_order::big);
      EXPECT_EQ(normalized(kbus::detail::message_to_json(*m)), expected);
    }
    for (auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
      SCOPED_TRACE("encode vector " + std::to_string(count));
      auto built = kbus::detail::message_from_json(nlohmann::ordered_json::parse(line), order);
      ASSERT_TRUE(built) << built.error().what();
      auto reparsed = kbus::message::parse({built->bytes().begin(), built->bytes().end()});
      ASSERT_TRUE(reparsed) << reparsed.error().what();
      EXPECT_EQ(normalized(kbus::detail::message_to_json(*reparsed)), expected);
    }
    ++count;
  }
  EXPECT_EQ(count, 400);
}

}  // namespace
