// Property tests: random signatures with random values encode and decode to themselves in both
// byte orders; random corruption of valid messages never crashes, hangs or throws.
#include "kbus/json.hpp"
#include "kbus/message.hpp"
#include "kbus/types.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string>

namespace {

using kbus::value;

class generator {
 public:
  explicit generator(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

  // A random single complete type within the spec's limits.
  std::string type(int depth = 0, bool basic_only = false) {
    static constexpr char basics[] = "ybnqiuxtdsog";
    if (basic_only || depth >= 6 || below(3) == 0) return std::string(1, basics[below(sizeof basics - 1)]);
    switch (below(4)) {
      case 0: return "a" + type(depth + 1);
      case 1: return "a{" + type(depth + 1, true) + type(depth + 1) + "}";
      case 2: {
        std::string s = "(";
        const std::size_t n = 1 + below(3);
        for (std::size_t i = 0; i < n; ++i) s += type(depth + 1);
        return s + ")";
      }
      default: return "v";
    }
  }

  std::string text(bool path = false) {
    if (path) {
      std::string p;
      const std::size_t n = below(4);
      for (std::size_t i = 0; i < n; ++i) p += "/e" + std::to_string(below(100));
      return p.empty() ? "/" : p;
    }
    static const std::string pieces[] = {"", "a", "hello", "\xc3\xa9", "\xf0\x9f\x98\x80", "x y", "\x7f", "\\\""};
    std::string s;
    const std::size_t n = below(4);
    for (std::size_t i = 0; i < n; ++i) s += pieces[below(std::size(pieces))];
    return s;
  }

  value make(std::string_view t, int depth = 0) {
    switch (t[0]) {
      case 'y': return value::byte(static_cast<std::uint8_t>(rng_()));
      case 'b': return value::boolean(below(2));
      case 'n': return value::int16(static_cast<std::int16_t>(rng_()));
      case 'q': return value::uint16(static_cast<std::uint16_t>(rng_()));
      case 'i': return value::int32(static_cast<std::int32_t>(rng_()));
      case 'u': return value::uint32(static_cast<std::uint32_t>(rng_()));
      case 'x': return value::int64(static_cast<std::int64_t>(rng_()));
      case 't': return value::uint64(rng_());
      case 'd': {
        static const double specials[] = {0.0, -0.0, 1.5, -1e300, 5e-324, INFINITY, -INFINITY, NAN};
        return value::float64(below(2) ? specials[below(std::size(specials))]
                                        : std::bit_cast<double>(rng_() & 0x7fefffffffffffffull));
      }
      case 's': return value::string(text());
      case 'o': return value::path(kbus::object_path(text(true)));
      case 'g': return value::sig(kbus::signature(type(4)));
      case 'v': {
        const std::string inner = depth > 4 ? "i" : type(depth + 1);
        return value::variant(make(inner, depth + 1));
      }
      case 'a': {
        const std::string_view elem = t.substr(1);
        std::vector<value> items;
        const std::size_t n = below(4);
        for (std::size_t i = 0; i < n; ++i) {
          if (elem[0] == '{') {
            const std::string_view val_type = elem.substr(2, elem.size() - 3);
            items.push_back(value::dict_entry(make(elem.substr(1, 1), depth + 1), make(val_type, depth + 1)));
          } else {
            items.push_back(make(elem, depth + 1));
          }
        }
        return value::array(elem, std::move(items));
      }
      case '(': {
        std::vector<value> fields;
        std::size_t i = 1;
        while (t[i] != ')') {
          const std::size_t end = kbus::detail::complete_type_end(t, i);
          fields.push_back(make(t.substr(i, end - i), depth + 1));
          i = end;
        }
        return value::structure(std::move(fields));
      }
    }
    ADD_FAILURE() << "no generator for " << t;
    return {};
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

kbus::message build(const std::string& sig, const std::vector<value>& values, kbus::byte_order order) {
  kbus::message_builder b(kbus::message_type::signal, order);
  b.path(kbus::object_path("/p")).interface(kbus::interface_name("org.kbus.P")).member(kbus::member_name("M"));
  auto m = std::move(b).build_values(kbus::signature(sig), values);
  EXPECT_TRUE(m) << m.error().what();
  m->set_serial(1);
  return std::move(*m);
}

TEST(Property, RandomValuesRoundTripInBothByteOrders) {
  generator gen(20261122);
  for (int iteration = 0; iteration < 1500; ++iteration) {
    std::string sig;
    std::vector<value> values;
    const std::size_t n = 1 + gen.below(4);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string t = gen.type();
      if (sig.size() + t.size() > 255) break;
      sig += t;
      values.push_back(gen.make(t));
    }
    ASSERT_TRUE(kbus::signature::is_valid(sig)) << sig;
    for (auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
      auto m = build(sig, values, order);
      auto parsed = kbus::message::parse({m.bytes().begin(), m.bytes().end()});
      ASSERT_TRUE(parsed) << sig << ": " << parsed.error().what();
      auto decoded = parsed->values();
      ASSERT_TRUE(decoded) << decoded.error().what();
      ASSERT_EQ(*decoded, values) << "signature " << sig;
    }
  }
}

// Whether a dict in `v` has the same key twice: JSON objects cannot say that.
bool has_repeated_keys(const value& v) {
  if (v.code() == 'a' && v.element_type()[0] == '{') {
    for (std::size_t i = 0; i < v.items().size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (v.items()[i].items()[0] == v.items()[j].items()[0]) return true;
  }
  for (const auto& item : v.items())
    if (has_repeated_keys(item)) return true;
  return false;
}

TEST(Property, RandomValuesRoundTripThroughJson) {
  generator gen(424242);
  int checked = 0;
  for (int iteration = 0; iteration < 1500; ++iteration) {
    const std::string t = gen.type();
    const value v = gen.make(t);
    if (has_repeated_keys(v)) continue;
    const std::string text = kbus::to_json(v);
    auto back = kbus::value_from_json(text, kbus::signature(t));
    ASSERT_TRUE(back) << t << " " << text << ": " << back.error().what();
    ASSERT_EQ(*back, v) << t << " " << text;
    ++checked;
  }
  EXPECT_GT(checked, 1200);

  // Whole messages: JSON out, message back in the other byte order, same JSON again.
  for (int iteration = 0; iteration < 300; ++iteration) {
    const std::string t = gen.type();
    const value v = gen.make(t);
    if (has_repeated_keys(v)) continue;
    const auto order = iteration % 2 ? kbus::byte_order::big : kbus::byte_order::little;
    auto m = build(t, {v}, order);
    const std::string text = kbus::message_to_json(m);
    auto again = kbus::message_from_json(text, iteration % 2 ? kbus::byte_order::little : kbus::byte_order::big);
    ASSERT_TRUE(again) << text << ": " << again.error().what();
    EXPECT_NE(again->order(), m.order());
    EXPECT_EQ(kbus::message_to_json(*again), text);
    ASSERT_EQ(again->values().value(), std::vector<value>{v});
  }
}

struct sample {
  std::int32_t id;
  std::string name;
  double weight;
};

}  // namespace

template <>
struct kbus::codec<sample> : kbus::aggregate_codec<sample> {};

namespace {

TEST(Property, TypedValuesRoundTrip) {
  generator gen(7);
  for (int iteration = 0; iteration < 300; ++iteration) {
    std::vector<sample> samples;
    std::map<std::string, kbus::variant> props;
    std::vector<std::uint64_t> numbers;
    std::vector<std::pair<std::int16_t, bool>> pairs;
    for (std::size_t i = 0, n = gen.below(5); i < n; ++i) {
      samples.push_back({static_cast<std::int32_t>(gen.rng()()), gen.text(), static_cast<double>(gen.rng()() % 1000) / 8});
      props.emplace(gen.text() + std::to_string(i), kbus::variant(gen.make(gen.type())));
      numbers.push_back(gen.rng()());
      pairs.emplace_back(static_cast<std::int16_t>(gen.rng()()), gen.below(2));
    }
    for (auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
      kbus::message_builder b(kbus::message_type::method_call, order);
      b.path(kbus::object_path("/t")).member(kbus::member_name("T"));
      auto m = std::move(b).build(samples, props, numbers, pairs);
      m.set_serial(2);
      auto parsed = kbus::message::parse({m.bytes().begin(), m.bytes().end()});
      ASSERT_TRUE(parsed) << parsed.error().what();
      auto r = parsed->read<std::vector<sample>, std::map<std::string, kbus::variant>, std::vector<std::uint64_t>,
                            std::vector<std::pair<std::int16_t, bool>>>();
      ASSERT_TRUE(r) << r.error().what();
      const auto& [s2, p2, n2, pr2] = *r;
      ASSERT_EQ(s2.size(), samples.size());
      for (std::size_t i = 0; i < samples.size(); ++i) {
        EXPECT_EQ(s2[i].id, samples[i].id);
        EXPECT_EQ(s2[i].name, samples[i].name);
        EXPECT_EQ(s2[i].weight, samples[i].weight);
      }
      EXPECT_EQ(p2, props);
      EXPECT_EQ(n2, numbers);
      EXPECT_EQ(pr2, pairs);
    }
  }
}

TEST(Property, CorruptionNeverCrashesOrHangs) {
  generator gen(99);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int accepted = 0, refused = 0;
  for (int iteration = 0; iteration < 4000 && std::chrono::steady_clock::now() < deadline; ++iteration) {
    const std::string t = gen.type();
    auto m = build(t, {gen.make(t)}, gen.below(2) ? kbus::byte_order::big : kbus::byte_order::little);
    std::vector<std::byte> bytes(m.bytes().begin(), m.bytes().end());
    switch (gen.below(4)) {
      case 0:  // bit flips
        for (std::size_t i = 0, n = 1 + gen.below(4); i < n; ++i)
          bytes[gen.below(bytes.size())] ^= static_cast<std::byte>(1u << gen.below(8));
        break;
      case 1:  // truncation
        bytes.resize(gen.below(bytes.size()));
        break;
      case 2: {  // a 32-bit field (a length, most likely) set to something large or small
        const std::size_t at = gen.below(bytes.size() / 4) * 4;
        const std::uint32_t v = gen.below(2) ? static_cast<std::uint32_t>(gen.rng()()) : static_cast<std::uint32_t>(gen.below(64));
        for (std::size_t i = 0; i < 4 && at + i < bytes.size(); ++i) bytes[at + i] = static_cast<std::byte>(v >> (8 * i));
        break;
      }
      default:  // random bytes appended or a byte replaced
        if (gen.below(2)) bytes.push_back(static_cast<std::byte>(gen.rng()()));
        else bytes[gen.below(bytes.size())] = static_cast<std::byte>(gen.rng()());
    }
    auto parsed = kbus::message::parse(std::move(bytes));
    if (parsed) {
      ++accepted;
      auto v = parsed->values();
      EXPECT_TRUE(v) << "a message that parses must decode: " << v.error().what();
      // What parses has a JSON form that encodes again, to the same JSON.
      const std::string text = kbus::message_to_json(*parsed);
      auto again = kbus::message_from_json(text, parsed->order());
      ASSERT_TRUE(again) << text << ": " << again.error().what();
      EXPECT_EQ(kbus::message_to_json(*again), text);
    } else {
      ++refused;
      EXPECT_FALSE(parsed.error().message.empty());
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted + refused, 1000);
}

// Values nested `levels` variants deep around an int32.
value nested_variants(int levels) {
  value v = value::int32(7);
  for (int i = 0; i < levels; ++i) v = value::variant(std::move(v));
  return v;
}

kbus::result<kbus::message> signal_with(const std::string& sig, const std::vector<value>& values,
                                        kbus::byte_order order = kbus::native_byte_order) {
  kbus::message_builder b(kbus::message_type::signal, order);
  b.path(kbus::object_path("/p")).interface(kbus::interface_name("org.kbus.P")).member(kbus::member_name("M"));
  return std::move(b).build_values(kbus::signature(sig), values);
}

TEST(Property, EncoderRefusesWhatTheParserWouldRefuse) {
  // The spec's 64-container limit counts variants too (reader.cpp); the encoder must not build
  // a message that no receiver can parse. The outermost variant is the body's "v".
  for (auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
    auto at_limit = signal_with("v", {nested_variants(64)}, order);
    ASSERT_TRUE(at_limit) << at_limit.error().what();
    at_limit->set_serial(1);
    auto parsed = kbus::message::parse({at_limit->bytes().begin(), at_limit->bytes().end()});
    ASSERT_TRUE(parsed) << parsed.error().what();
    EXPECT_EQ(parsed->values().value()[0], nested_variants(64));

    auto over = signal_with("v", {nested_variants(65)}, order);
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error(), kbus::errc::nesting_too_deep) << over.error().what();

    // 32 arrays inside a variant inside 32 structs: each kind within its own limit, 65 in all.
    value deep = value::array("i", {value::int32(1)});
    std::string type = "ai";
    for (int i = 1; i < 32; ++i) {
      deep = value::array(type, {std::move(deep)});
      type = "a" + type;
    }
    deep = value::variant(std::move(deep));
    for (int i = 0; i < 32; ++i) deep = value::structure({std::move(deep)});
    auto mixed = signal_with(std::string(deep.type()), {deep}, order);
    ASSERT_FALSE(mixed);
    EXPECT_EQ(mixed.error(), kbus::errc::nesting_too_deep) << mixed.error().what();
  }
  // A value nested far beyond any limit is refused, not a stack overflow; nor is it one to
  // drop it. (Moved in: a copy would recurse as deep as the value.)
  std::vector<value> huge_body;
  huge_body.push_back(nested_variants(100000));
  auto huge = signal_with("v", huge_body);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error(), kbus::errc::nesting_too_deep);
}

}  // namespace
