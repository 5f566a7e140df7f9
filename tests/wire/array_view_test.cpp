// kbus::array_view and kbus::dict_view: arrays read in place, in both byte orders, checked
// when the message is read and never failing while iterated.
#include "kbus/message.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using namespace kbus::literals;

namespace {

static_assert(kbus::signature_of<kbus::array_view<std::string_view>>().view() == "as");
static_assert(kbus::signature_of<kbus::dict_view<std::string_view, kbus::variant>>().view() == "a{sv}");
static_assert(kbus::signature_of<kbus::array_view<kbus::array_view<std::int32_t>>>().view() == "aai");

template <class... Args>
kbus::message round_trip(kbus::byte_order order, const Args&... args) {
  auto built = kbus::message_builder(kbus::message_type::signal, order)
                   .path("/org/kbus/Test"_path)
                   .interface("org.kbus.Test"_iface)
                   .member("Values"_member)
                   .build(args...);
  built.set_serial(1);
  auto parsed = kbus::message::parse(std::vector<std::byte>(built.bytes().begin(), built.bytes().end()));
  EXPECT_TRUE(parsed) << parsed.error().what();
  return std::move(*parsed);
}

template <class View>
auto to_vector(const View& v) {
  return std::vector<typename View::value_type>(v.begin(), v.end());
}

constexpr kbus::byte_order both_orders[] = {kbus::byte_order::little, kbus::byte_order::big};

TEST(ArrayView, ReadsStringsInPlaceInBothByteOrders) {
  const std::vector<std::string> words = {"alpha", "", "a longer string than eight bytes", "ünïcödé"};
  for (auto order : both_orders) {
    const auto m = round_trip(order, words, std::int32_t{7});
    auto [view, after] = m.read<kbus::array_view<std::string_view>, std::int32_t>().value();
    EXPECT_EQ(after, 7);
    EXPECT_FALSE(view.empty());
    const auto got = to_vector(view);
    ASSERT_EQ(got.size(), words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
      EXPECT_EQ(got[i], words[i]);
      // In place: the view points into the message's buffer.
      const auto* p = reinterpret_cast<const std::byte*>(got[i].data());
      EXPECT_TRUE(p >= m.bytes().data() && p < m.bytes().data() + m.bytes().size());
    }
  }
}

TEST(ArrayView, EmptyArraysAndNestedViews) {
  const std::vector<std::vector<std::int32_t>> rows = {{1, 2, 3}, {}, {-4}};
  for (auto order : both_orders) {
    const auto m = round_trip(order, std::vector<std::string>{}, rows);
    auto [none, nested] = m.read<kbus::array_view<std::string_view>, kbus::array_view<kbus::array_view<std::int32_t>>>().value();
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(none.begin(), none.end());
    std::vector<std::vector<std::int32_t>> got;
    for (const auto& row : nested) got.push_back(to_vector(row));
    EXPECT_EQ(got, rows);
  }
}

TEST(ArrayView, StructElementsAndByteOrderIndependentEquality) {
  const std::vector<std::tuple<std::int32_t, std::string, double>> rows = {{1, "one", 0.5}, {-2, "two", 1e300}};
  const auto le = round_trip(kbus::byte_order::little, rows);
  const auto be = round_trip(kbus::byte_order::big, rows);
  using view = kbus::array_view<std::tuple<std::int32_t, std::string_view, double>>;
  auto [a] = le.read<view>().value();
  auto [b] = be.read<view>().value();
  EXPECT_EQ(a, b);
  const auto got = to_vector(a);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<1>(got[1]), "two");
  EXPECT_EQ(std::get<2>(got[1]), 1e300);
}

TEST(DictView, KeepsWireOrderAndReadsVariants) {
  const std::map<std::string, kbus::variant> props = {
      {"Count", kbus::variant(std::uint32_t{3})},
      {"Name", kbus::variant(std::string("kbus"))},
      {"Tags", kbus::variant(std::vector<std::string>{"a", "b"})},
  };
  for (auto order : both_orders) {
    const auto m = round_trip(order, props);
    auto [dict] = m.read<kbus::dict_view<std::string_view, kbus::variant>>().value();
    std::vector<std::string> keys;
    for (const auto& [key, value] : dict) {
      keys.emplace_back(key);
      EXPECT_EQ(value, props.at(std::string(key)));
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"Count", "Name", "Tags"}));

    // The same values through a std::variant whose alternatives include a view.
    using prop = std::variant<std::string_view, std::uint32_t, kbus::array_view<std::string_view>>;
    auto [typed] = m.read<kbus::dict_view<std::string_view, prop>>().value();
    auto it = typed.begin();
    EXPECT_EQ(std::get<std::uint32_t>(it->second), 3u);
    ++it;
    EXPECT_EQ(std::get<std::string_view>(it->second), "kbus");
    ++it;
    EXPECT_EQ(to_vector(std::get<kbus::array_view<std::string_view>>(it->second)),
              (std::vector<std::string_view>{"a", "b"}));
    EXPECT_EQ(++it, typed.end());
  }
}

TEST(DictView, AVariantNoAlternativeHoldsFailsTheReadNotTheIteration) {
  const std::map<std::string, kbus::variant> props = {
      {"Ok", kbus::variant(std::uint32_t{1})},
      {"Odd", kbus::variant(std::int64_t{-1})},  // 'x': neither 's' nor 'u'
  };
  const auto m = round_trip(kbus::byte_order::little, props);
  auto read = m.read<kbus::dict_view<std::string_view, std::variant<std::string_view, std::uint32_t>>>();
  ASSERT_FALSE(read);
  EXPECT_TRUE(read.error() == kbus::errc::type_mismatch) << read.error().what();
}

TEST(ArrayView, UncheckedBytesAreValidatedWhenTheViewIsRead) {
  // "as" holding one string with a byte that is not UTF-8, read by a reader that did not
  // validate the body beforehand.
  const std::vector<std::byte> body = {std::byte{8}, std::byte{0}, std::byte{0}, std::byte{0},    // array length
                                       std::byte{3}, std::byte{0}, std::byte{0}, std::byte{0},    // string length
                                       std::byte{'a'}, std::byte{0xff}, std::byte{'b'}, std::byte{0}};
  kbus::detail::reader r(body, 0, body.size(), false, 0);
  kbus::array_view<std::string_view> view;
  EXPECT_FALSE(kbus::codec<kbus::array_view<std::string_view>>::decode(r, view));
  EXPECT_TRUE(r.get_error() == kbus::errc::invalid_utf8) << r.get_error().what();
}

TEST(ArrayView, EncodesWhatItViewsInEitherByteOrder) {
  const std::vector<std::string> words = {"x", "forwarded", ""};
  const std::map<std::string, kbus::variant> props = {{"K", kbus::variant(std::string("v"))}};
  const auto be = round_trip(kbus::byte_order::big, words, props);
  auto [view, dict] = be.read<kbus::array_view<std::string_view>, kbus::dict_view<std::string_view, kbus::variant>>().value();
  // Re-encoding the views in little-endian gives what encoding the values does.
  const auto forwarded = round_trip(kbus::byte_order::little, view, dict);
  const auto direct = round_trip(kbus::byte_order::little, words, props);
  EXPECT_EQ(std::vector<std::byte>(forwarded.body_bytes().begin(), forwarded.body_bytes().end()),
            std::vector<std::byte>(direct.body_bytes().begin(), direct.body_bytes().end()));
}

}  // namespace
