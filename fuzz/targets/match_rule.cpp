// Match rules: parse never crashes and explains every refusal; what parses formats to the
// canonical form, which parses back to the same rule. A message made of the rule's own values
// matches it, directly, through the dispatch index and through the rule's bloom mask.
#include "kbus/match.hpp"
#include "kbus/message.hpp"
#include "match/bloom.hpp"
#include "match/match_index.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Calls the index's matches for `in` and compares with the rule's own verdict.
void check_index(const kbus::detail::match_index& index, const kbus::match_rule& rule, const kbus::match_input& in) {
  const bool direct = rule.matches(in);
  int seen = 0;
  index.for_each_match(in, [&](kbus::detail::match_index::id, const kbus::match_rule&) { ++seen; });
  if (seen != (direct ? 1 : 0)) std::abort();
  if (direct && index.candidate_count(in) == 0) std::abort();
}

// A message of the rule's type whose header fields and leading arguments are the rule's
// values; nothing when the rule's values cannot all be put in one message.
kbus::result<kbus::message> message_for(const kbus::match_rule& rule) {
  if (rule.arg0namespace && !rule.args.empty() && rule.args.front().index == 0) {
    return kbus::error(kbus::errc::invalid_value, "arg0 and arg0namespace both");
  }
  const auto type = rule.type.value_or(kbus::message_type::signal);
  kbus::message_builder b(type);
  const std::string path = rule.path ? *rule.path : rule.path_namespace ? *rule.path_namespace : "/org/kbus/Fuzz";
  b.path(kbus::object_path::unchecked(path));
  b.interface(kbus::interface_name::unchecked(rule.interface.value_or("org.kbus.Fuzz")));
  b.member(kbus::member_name::unchecked(rule.member.value_or("Fuzz")));
  if (type == kbus::message_type::error) b.error_name(kbus::error_name::unchecked("org.kbus.Fuzz.Error"));
  if (type == kbus::message_type::method_return || type == kbus::message_type::error) b.reply_serial(1);
  if (rule.sender) b.sender(kbus::bus_name::unchecked(*rule.sender));
  if (rule.destination) b.destination(kbus::bus_name::unchecked(*rule.destination));
  // Arguments 0..last: the conditions' strings, int32 where no condition is.
  std::string sig;
  std::vector<kbus::value> values;
  const unsigned count = rule.args.empty() ? (rule.arg0namespace ? 1 : 0) : rule.args.back().index + 1;
  for (unsigned i = 0; i < count; ++i) {
    const std::string* text = nullptr;
    for (const auto& a : rule.args)
      if (a.index == i) text = &a.value;
    if (i == 0 && rule.arg0namespace) text = &*rule.arg0namespace;
    if (text) {
      sig += 's';
      values.push_back(kbus::value::string(*text));
    } else {
      sig += 'i';
      values.push_back(kbus::value::int32(static_cast<std::int32_t>(i)));
    }
  }
  // Argument strings may hold what a message cannot (NUL, bad UTF-8): build_values refuses them.
  return std::move(b).build_values(kbus::signature::unchecked(sig), values);
}

}  // namespace

extern "C" int kbus_fuzz_match_rule(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rule = kbus::match_rule::parse(text);
  if (!rule) {
    if (rule.error().message.empty()) std::abort();  // a refusal says why
    return 0;
  }
  const std::string canonical = rule->to_string();
  auto again = kbus::match_rule::parse(canonical);
  if (!again || *again != *rule || again->to_string() != canonical) std::abort();

  kbus::detail::match_index index;
  const auto id = index.add(*rule);
  if (index.needs_args() != rule->needs_args()) std::abort();

  // Fixed messages: the index agrees with the rule.
  const kbus::match_arg some_args[] = {{kbus::match_arg_kind::string, "org.kbus.Fuzz"},
                                       {kbus::match_arg_kind::object_path, "/org/kbus"},
                                       {kbus::match_arg_kind::other, {}}};
  const kbus::match_input fixed[] = {
      {kbus::message_type::signal, ":1.1", "org.kbus.Fuzz", "Fuzz", "/org/kbus/Fuzz", "", some_args},
      {kbus::message_type::method_call, "", "", "Get", "/", "org.kbus", {}},
      {kbus::message_type::method_return, ":1.2", "", "", "", ":1.3", some_args},
  };
  for (const auto& in : fixed) check_index(index, *rule, in);

  // The rule's own message matches it, and its bloom filter covers the rule's mask.
  if (auto m = message_for(*rule)) {
    if (!rule->matches(*m)) std::abort();
    const kbus::message_match_args args(*m);
    check_index(index, *rule, kbus::make_match_input(*m, args.span()));
    const kbus::detail::bloom_parameters params;
    const auto filter = kbus::detail::bloom_for_message(*m, params);
    const auto mask = kbus::detail::bloom_mask_for_rule(*rule, params);
    if (!filter.contains_all(mask)) std::abort();
  }

  if (!index.remove(id) || !index.empty()) std::abort();
  return 0;
}
