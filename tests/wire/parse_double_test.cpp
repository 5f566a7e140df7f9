// Doubles from text the same way in every locale: std::from_chars where the library has it,
// strtod where it does not (libc++). Both ways are held to the same cases.
#include "kbus_config.hpp"
#include "wire/parse_double.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <locale>
#include <optional>
#include <string_view>

namespace {

using parser = std::optional<double> (*)(std::string_view);

void expect_reads_numbers(parser parse) {
  EXPECT_EQ(parse("0"), 0.0);
  EXPECT_EQ(parse("-2.5"), -2.5);
  EXPECT_EQ(parse("21.5"), 21.5);
  EXPECT_EQ(parse(".5"), 0.5);
  EXPECT_EQ(parse("5."), 5.0);
  EXPECT_EQ(parse("1e3"), 1000.0);
  EXPECT_EQ(parse("1.25E-2"), 0.0125);
  EXPECT_EQ(parse("6.02e+23"), 6.02e23);
  EXPECT_EQ(parse("1.7976931348623157e308"), 1.7976931348623157e308);
  EXPECT_EQ(parse("0.1"), 0.1);  // correctly rounded, as the compiler reads the literal
  EXPECT_EQ(parse("0.00025e4"), 2.5);
  EXPECT_EQ(parse("0e-400"), 0.0);
  // Subnormal numbers are values (libc++'s stream refuses them: strtod's ERANGE).
  EXPECT_EQ(parse("5e-324"), 4.9406564584124654e-324);
  EXPECT_EQ(parse("2.5e-324"), 4.9406564584124654e-324);
  EXPECT_EQ(parse("2.2250738585072009e-308"), 2.2250738585072009e-308);
}

void expect_refuses_non_numbers(parser parse) {
  for (std::string_view bad : {"", "-", ".", "e5", "1e", "1e+", "+1", " 1", "1 ", "1,5", "1.5x", "0x10", "inf", "nan",
                               "1..2", "--1", "1e400", "1.8e308", "-1e400",
                               "1e-400", "2.4e-324", "1e99999999999999999999", "1e-99999999999999999999"})
    EXPECT_EQ(parse(bad), std::nullopt) << '"' << bad << '"';
}

TEST(ParseDouble, StrtodReadsDecimalNumbers) {
  expect_reads_numbers(&kbus::detail::parse_double_strtod);
  expect_refuses_non_numbers(&kbus::detail::parse_double_strtod);
}

TEST(ParseDouble, FromCharsReadsDecimalNumbersWhereTheLibraryHasIt) {
  if (!KBUS_HAVE_FLOAT_FROM_CHARS) GTEST_SKIP() << "this standard library has no floating-point from_chars";
  expect_reads_numbers(&kbus::detail::parse_double_from_chars);
  expect_refuses_non_numbers(&kbus::detail::parse_double_from_chars);
}

TEST(ParseDouble, TheChosenWayReadsDecimalNumbers) {
  expect_reads_numbers(&kbus::detail::parse_double);
  expect_refuses_non_numbers(&kbus::detail::parse_double);
}

// A program that sets a locale with a decimal comma (de_DE) still reads "2.5" as 2.5: neither way
// looks at the global locale.
TEST(ParseDouble, AGlobalLocaleWithADecimalCommaChangesNothing) {
  std::locale comma;
  try {
    comma = std::locale("de_DE.UTF-8");
  } catch (const std::runtime_error&) {
    GTEST_SKIP() << "the de_DE.UTF-8 locale is not installed";
  }
  const std::locale before = std::locale::global(comma);
  std::setlocale(LC_ALL, "de_DE.UTF-8");
  EXPECT_EQ(kbus::detail::parse_double_strtod("2.5"), 2.5);
  EXPECT_EQ(kbus::detail::parse_double_strtod("2,5"), std::nullopt);
  EXPECT_EQ(kbus::detail::parse_double("2.5"), 2.5);
  std::locale::global(before);
  std::setlocale(LC_ALL, "C");
}

}  // namespace
