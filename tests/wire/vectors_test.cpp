// The 400 GLib-marshalled messages of testdata/vectors: each decodes, in both byte orders, to
// its JSON; and encoding that JSON in either byte order decodes back to the same. Then the JSON
// form's own rules: exact integers, doubles and non-finite doubles, dict keys, errors.
#include "support/testdata.hpp"
#include "wire/json.hpp"

#include "kbus/json.hpp"
#include "kbus/message.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

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

// The JSON form itself, through the public string API (kbus/json.hpp).
namespace {

using kbus::errc;
using kbus::value;

kbus::result<value> from(std::string_view json, const char* type) {
  return kbus::value_from_json(json, kbus::signature(type));
}

TEST(Json, IntegersAreExactAtEveryWidth) {
  const std::pair<const char*, const char*> cases[] = {
      {"y", "255"}, {"n", "-32768"}, {"q", "65535"}, {"i", "-2147483648"}, {"u", "4294967295"},
      {"x", "-9223372036854775808"}, {"x", "9223372036854775807"}, {"t", "18446744073709551615"}, {"h", "3"},
  };
  for (const auto& [type, text] : cases) {
    auto v = from(text, type);
    ASSERT_TRUE(v) << type << " " << text << ": " << v.error().what();
    EXPECT_EQ(v->type(), type);
    EXPECT_EQ(kbus::to_json(*v), text);
  }
  EXPECT_EQ(from("18446744073709551615", "t")->as_uint(), 18446744073709551615ull);
  EXPECT_EQ(from("-9223372036854775808", "x")->as_int(), std::numeric_limits<std::int64_t>::min());
}

TEST(Json, OutOfRangeIntegersAreRefused) {
  const std::pair<const char*, const char*> cases[] = {
      {"y", "256"}, {"y", "-1"}, {"n", "32768"}, {"q", "-1"}, {"i", "2147483648"}, {"u", "4294967296"},
      {"x", "9223372036854775808"}, {"t", "-1"}, {"h", "4294967296"},
  };
  for (const auto& [type, text] : cases) {
    auto v = from(text, type);
    ASSERT_FALSE(v) << type << " " << text;
    EXPECT_EQ(v.error(), errc::invalid_value) << v.error().what();
    EXPECT_NE(v.error().message.find("out of range"), std::string::npos) << v.error().message;
  }
  // A JSON number beyond 64 bits is a double to the JSON parser: not an integer at all.
  EXPECT_EQ(from("18446744073709551616", "t").error(), errc::type_mismatch);
  EXPECT_EQ(from("1.5", "i").error(), errc::type_mismatch);
}

TEST(Json, DoublesRoundTripIncludingNonFinite) {
  for (double d : {0.0, -0.0, 0.1, 1.0 / 3, 1e300, -5e-324, 1.7976931348623157e308}) {
    auto back = from(kbus::to_json(value::float64(d)), "d");
    ASSERT_TRUE(back);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(back->as_double()), std::bit_cast<std::uint64_t>(d)) << d;
  }
  EXPECT_EQ(kbus::to_json(value::float64(std::numeric_limits<double>::infinity())), "\"+Infinity\"");
  EXPECT_EQ(kbus::to_json(value::float64(-std::numeric_limits<double>::infinity())), "\"-Infinity\"");
  EXPECT_EQ(kbus::to_json(value::float64(std::numeric_limits<double>::quiet_NaN())), "\"NaN\"");
  EXPECT_TRUE(std::isnan(from("\"NaN\"", "d")->as_double()));
  EXPECT_EQ(from("\"+Infinity\"", "d")->as_double(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(from("\"Infinity\"", "d")->as_double(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(from("\"-Infinity\"", "d")->as_double(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(from("\"lots\"", "d").error(), errc::invalid_value);
  EXPECT_EQ(from("true", "d").error(), errc::type_mismatch);
}

TEST(Json, DictKeysOfEveryBasicType) {
  const std::pair<const char*, const char*> cases[] = {
      {"a{yi}", R"({"0":1,"255":2})"},
      {"a{ni}", R"({"-5":1})"},
      {"a{qi}", R"({"65535":1})"},
      {"a{ii}", R"({"-2147483648":1})"},
      {"a{ui}", R"({"4294967295":1})"},
      {"a{xi}", R"({"-9223372036854775808":1})"},
      {"a{ti}", R"({"18446744073709551615":1})"},
      {"a{hi}", R"({"2":1})"},
      {"a{bi}", R"({"false":0,"true":1})"},
      // Doubles as Python's repr(): shortest digits, ".0" when integral, exponent from 1e16.
      {"a{di}", R"({"0.1":1,"1.0":2,"-2.5":3,"1e+16":4,"1234567890123456.0":5,"1e-05":6,"0.0001":7,"NaN":8,"+Infinity":9})"},
      {"a{si}", R"({"":1,"k\"ey":2})"},
      {"a{oi}", R"({"/a/b":1})"},
      {"a{gi}", R"({"a{sv}":1})"},
  };
  for (const auto& [type, text] : cases) {
    auto v = from(text, type);
    ASSERT_TRUE(v) << type << " " << text << ": " << v.error().what();
    EXPECT_EQ(kbus::to_json(*v), text) << type;
  }
}

TEST(Json, ErrorsNameTheCodeAndThePlace) {
  auto mismatch = from(R"([1, {"a": [true, "x"]}])", "(ia{sab})");
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), errc::type_mismatch);
  EXPECT_EQ(mismatch.error().message.rfind(R"(value[1]["a"][1]: )", 0), 0u) << mismatch.error().message;

  auto range = from(R"({"k": [1, 300]})", "a{say}");
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error(), errc::invalid_value);
  EXPECT_EQ(range.error().message.rfind(R"(value["k"][1]: )", 0), 0u) << range.error().message;

  for (const auto& [type, text] : {std::pair{"a{ii}", R"({"x": 1})"}, {"a{ii}", R"({"1.0": 1})"},
                                    {"a{yi}", R"({"256": 1})"}, {"a{bi}", R"({"1": 1})"}, {"a{di}", R"({"one": 1})"}}) {
    auto key = from(text, type);
    ASSERT_FALSE(key) << type << " " << text;
    EXPECT_EQ(key.error(), errc::invalid_value) << key.error().what();
    EXPECT_EQ(key.error().message.rfind("value[\"", 0), 0u) << key.error().message;
  }
  // Two spellings of one key would make one D-Bus key twice.
  auto twice = from(R"({"1": 1, "01": 2})", "a{ii}");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), errc::invalid_value);
  EXPECT_NE(twice.error().message.find("repeats a key"), std::string::npos) << twice.error().message;

  EXPECT_EQ(from(R"({"/a//b": 1})", "a{oi}").error(), errc::invalid_object_path);
  EXPECT_EQ(from(R"("a\u0000b")", "s").error(), errc::string_contains_nul);
  EXPECT_EQ(from(R"("a{")", "g").error(), errc::invalid_signature);
  EXPECT_EQ(from(R"({"type": "a{", "data": 1})", "v").error(), errc::invalid_signature);
  EXPECT_EQ(from(R"({"data": 1})", "v").error(), errc::type_mismatch);
  EXPECT_EQ(from("[1, 2, 3]", "(ii)").error(), errc::type_mismatch);
  EXPECT_EQ(from("[1]", "(ii)").error(), errc::type_mismatch);
  EXPECT_EQ(from("[1,", "ai").error(), errc::invalid_value);  // not JSON
}

TEST(Json, VariantsNestOnlyAsDeepAsTheWireAllows) {
  std::string text = R"({"type": "i", "data": 7})";
  for (int levels = 1; levels < 64; ++levels) text = R"({"type": "v", "data": )" + text + "}";
  // 64 variants: at the limit.
  auto ok = from(text, "v");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(nlohmann::json::parse(kbus::to_json(*ok)), nlohmann::json::parse(text));
  text = R"({"type": "v", "data": )" + text + "}";
  auto over = from(text, "v");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), errc::nesting_too_deep);
  // Far deeper JSON is refused at the limit, not followed to the end of the stack.
  std::string deep;
  for (int i = 0; i < 30000; ++i) deep += R"({"type": "v", "data": )";
  deep += "1" + std::string(30000, '}');
  EXPECT_EQ(from(deep, "v").error(), errc::nesting_too_deep);
}

TEST(Json, MessagesWithEveryHeaderField) {
  const std::string text =
      R"({"header":{"type":"error","serial":4294967295,"flags":["no_reply_expected","no_auto_start",)"
      R"("allow_interactive_authorization"],"error_name":"org.kbus.Error.Failed","destination":":1.7",)"
      R"("sender":"org.kbus.Demo","reply_serial":9,"unix_fds":2},"body":{"type":"sh","data":["why",1]}})";
  for (auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
    auto m = kbus::message_from_json(text, order);
    ASSERT_TRUE(m) << m.error().what();
    EXPECT_EQ(m->order(), order);
    EXPECT_EQ(m->serial(), 4294967295u);
    EXPECT_EQ(m->unix_fd_count(), 2u);
    kbus::parse_options detached;
    detached.fds_detached = true;
    auto back = kbus::message::parse({m->bytes().begin(), m->bytes().end()}, {}, detached);
    ASSERT_TRUE(back) << back.error().what();
    EXPECT_EQ(nlohmann::json::parse(kbus::message_to_json(*back)), nlohmann::json::parse(text));
  }
  const std::string signal =
      R"({"header":{"type":"signal","serial":3,"flags":[],"path":"/a","interface":"org.kbus.I","member":"M"},)"
      R"("body":{"type":"","data":[]}})";
  auto s = kbus::message_from_json(signal);
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(nlohmann::json::parse(kbus::message_to_json(*s)), nlohmann::json::parse(signal));
}

TEST(Json, MessageErrorsNameTheField) {
  auto check = [](const std::string& header, const std::string& body, kbus::errc code, const std::string& where) {
    auto m = kbus::message_from_json(R"({"header": )" + header + R"(, "body": )" + body + "}");
    ASSERT_FALSE(m) << header << " " << body;
    EXPECT_EQ(m.error(), code) << m.error().what();
    EXPECT_EQ(m.error().message.rfind(where, 0), 0u) << m.error().message;
  };
  const std::string sig_ok = R"({"type": "", "data": []})";
  const std::string call = R"("type": "method_call", "path": "/a", "member": "M")";
  check(R"({"type": "request", "serial": 1})", sig_ok, errc::invalid_value, "header.type");
  check("{" + call + R"(, "serial": 0})", sig_ok, errc::invalid_value, "header.serial");
  check("{" + call + R"(, "serial": -1})", sig_ok, errc::invalid_value, "header.serial");
  check("{" + call + R"(, "flags": ["urgent"]})", sig_ok, errc::invalid_value, "header.flags");
  check("{" + call + R"(, "membr": "N"})", sig_ok, errc::invalid_value, "header");
  check(R"({"type": "method_call", "path": "a", "member": "M"})", sig_ok, errc::invalid_object_path, "header.path");
  check("{" + call + R"(, "destination": "no"})", sig_ok, errc::invalid_bus_name, "header.destination");
  check("{" + call + R"(, "interface": "x"})", sig_ok, errc::invalid_interface_name, "header.interface");
  check("{" + call + "}", R"({"type": "a{", "data": []})", errc::invalid_signature, "body.type");
  check("{" + call + "}", R"({"type": "ii", "data": [1]})", errc::type_mismatch, "body.data");
  check("{" + call + "}", R"({"type": "i", "data": [1, 2]})", errc::type_mismatch, "body.data");
  check("{" + call + "}", R"({"type": "sa{ii}", "data": ["", {"k": 1}]})", errc::invalid_value, R"(body[1]["k"])");
  // A method call needs a path and a member: the builder's check, as for any message.
  check(R"({"type": "method_call", "member": "M"})", sig_ok, errc::missing_header_field, "");
}

TEST(Json, InvalidUtf8InHandBuiltValuesDoesNotThrow) {
  std::string text;
  EXPECT_NO_THROW(text = kbus::to_json(value::string("a\xff")));
  EXPECT_EQ(text, "\"a\xef\xbf\xbd\"");
}

}  // namespace
