// AddMatch and RemoveMatch over kdbus match entries (MATCH_ADD with a bloom mask for peers'
// signals, name and id notifications for NameOwnerChanged; notes §2.8, §2.15), and wanted():
// the exact decision of the rules on what the kernel let through.
#include "transport/kdbus/driver.hpp"

#include "kbus/dbus_names.hpp"
#include "match/bloom.hpp"
#include "transport/kdbus/abi.hpp"

#include <algorithm>
#include <cerrno>

namespace kbus::detail {

namespace {

// Could a rule match NameOwnerChanged from the driver? Then it needs the kernel's name and id
// notifications (notes §2.8, §2.15).
bool wants_name_owner_changed(const match_rule& r) {
  using namespace dbus_names;
  if (r.type && *r.type != message_type::signal) return false;
  if (r.sender && *r.sender != driver_name) return false;
  if (r.interface && *r.interface != driver_interface) return false;
  if (r.member && *r.member != driver_signals::name_owner_changed) return false;
  if (r.path && *r.path != driver_path) return false;
  if (r.path_namespace && *r.path_namespace != "/" && *r.path_namespace != driver_path &&
      !(*r.path_namespace == "/org" || *r.path_namespace == "/org/freedesktop"))
    return false;
  return true;
}

// Could a rule match a signal some connection sends?
bool wants_peer_signals(const match_rule& r) {
  if (r.type && *r.type != message_type::signal) return false;  // calls and replies always come
  if (r.sender && *r.sender == dbus_names::driver_name) return false;
  return true;
}

const match_rule::arg_condition* string_arg(const match_rule& r, unsigned index) {
  for (const auto& a : r.args)
    if (a.index == index && !a.path) return &a;
  return nullptr;
}

// The owner id a NameOwnerChanged argument asks for: any (no condition), 0 (no owner), an id,
// or std::nullopt when no owner can match (a well-known owner never does).
std::optional<std::uint64_t> owner_id(const match_rule::arg_condition* a) {
  if (!a) return kdbus::match_id_any;
  if (a->value.empty()) return 0;
  return kdbus_parse_unique_name(a->value);
}

}  // namespace

int kdbus_driver::add_rule(std::string_view text, std::string& error_text) {
  auto parsed = match_rule::parse(text);
  if (!parsed) {
    error_text = parsed.error().message;
    return EINVAL;
  }
  const match_rule& rule = *parsed;
  const std::uint64_t cookie = next_cookie_++;
  std::vector<std::uint8_t> items;
  auto add_entry = [&](auto&& fill) {
    items.clear();
    kdbus::item_writer w(items);
    fill(w);
    kdbus::cmd_match c{};
    c.cookie = cookie;
    return t_.command(kdbus::ioctl::match_add, c, items);
  };
  int r = 0;
  if (wants_peer_signals(rule)) {
    r = add_entry([&](kdbus::item_writer& w) {
      const auto mask = bloom_mask_for_rule(rule, t_.bloom());
      if (!mask.none()) {
        const auto& words = mask.words();
        w.add_raw(kdbus::to_u64(kdbus::item_type::bloom_mask), words.data(), words.size() * 8);
      }
      if (rule.sender) {
        if (const auto id = kdbus_parse_unique_name(*rule.sender))
          w.add_u64(kdbus::item_type::id, *id);
        else if (kdbus::is_valid_well_known_name(*rule.sender))
          w.add_string(kdbus::item_type::name, *rule.sender);
      }
    });
  }
  if (r == 0 && wants_name_owner_changed(rule)) {
    // arg0 = the name, arg1 = the old owner, arg2 = the new owner.
    const auto* a0 = string_arg(rule, 0);
    const auto old_id = owner_id(string_arg(rule, 1)), new_id = owner_id(string_arg(rule, 2));
    const bool unique_arg0 = a0 && !a0->value.empty() && a0->value[0] == ':';
    if (old_id && new_id && (!a0 || !unique_arg0)) {
      for (const auto type : {kdbus::item_type::name_add, kdbus::item_type::name_remove, kdbus::item_type::name_change}) {
        if (r) break;
        if (type == kdbus::item_type::name_add && *old_id != 0 && *old_id != kdbus::match_id_any) continue;
        if (type == kdbus::item_type::name_remove && *new_id != 0 && *new_id != kdbus::match_id_any) continue;
        const kdbus::notify_name_change nc{{*old_id == 0 ? kdbus::match_id_any : *old_id, 0},
                                           {*new_id == 0 ? kdbus::match_id_any : *new_id, 0}};
        r = add_entry([&](kdbus::item_writer& w) {
          if (a0 && kdbus::is_valid_well_known_name(a0->value))
            w.add_struct_string(type, nc, a0->value);
          else
            w.add_struct(type, nc);
        });
      }
    }
    if (r == 0 && (!a0 || unique_arg0)) {
      std::uint64_t id = kdbus::match_id_any;
      bool possible = true;
      if (a0) {
        const auto parsed_id = kdbus_parse_unique_name(a0->value);
        possible = parsed_id.has_value();
        if (parsed_id) id = *parsed_id;
      }
      if (possible) {
        r = add_entry([&](kdbus::item_writer& w) { w.add_struct(kdbus::item_type::id_add, kdbus::notify_id_change{id, 0}); });
        if (r == 0)
          r = add_entry(
              [&](kdbus::item_writer& w) { w.add_struct(kdbus::item_type::id_remove, kdbus::notify_id_change{id, 0}); });
      }
    }
  }
  if (r != 0) {
    kdbus::cmd_match c{};
    c.cookie = cookie;
    t_.command(kdbus::ioctl::match_remove, c);  // whatever part of it got in
    return r;
  }
  rules_.emplace(rule.to_string(), added_rule{cookie, index_.add(rule)});
  return 0;
}

void kdbus_driver::add_match(driver_answer& a) {
  auto args = a.args<std::string>();
  if (!args) return;
  std::string why;
  const int r = add_rule(std::get<0>(*args), why);
  if (r == EINVAL && !why.empty()) return a.fail(dbus_errors::match_rule_invalid, why);
  if (r != 0) return a.fail_errno(r, "Cannot add match rule");
  a.reply();
}

void kdbus_driver::remove_match(driver_answer& a) {
  auto args = a.args<std::string>();
  if (!args) return;
  auto parsed = match_rule::parse(std::get<0>(*args));
  if (!parsed) return a.fail(dbus_errors::match_rule_invalid, parsed.error().message);
  const auto it = rules_.find(parsed->to_string());
  if (it == rules_.end()) return a.fail(dbus_errors::match_rule_not_found, "The given match rule was not found");
  kdbus::cmd_match c{};
  c.cookie = it->second.cookie;
  index_.remove(it->second.in_index);
  rules_.erase(it);
  const int r = t_.command(kdbus::ioctl::match_remove, c);
  if (r != 0 && r != EBADSLT) return a.fail_errno(r, "Cannot remove match rule");
  a.reply();
}

bool kdbus_driver::wanted(const message& broadcast, const std::vector<std::string_view>* sender_names) {
  if (monitoring_ && index_.empty()) return true;
  // A rule's sender='well.known.Name' holds when the sender owned the name as it sent.
  auto owner_of = [&](std::string_view name) -> std::optional<std::string> {
    if (sender_names) {
      if (std::find(sender_names->begin(), sender_names->end(), name) != sender_names->end())
        return std::string(broadcast.sender());
      return std::nullopt;
    }
    conn_info info;
    if (connection_info(name, 0, info) != 0) return std::nullopt;
    return kdbus_unique_name(info.id);
  };
  const name_owner_function names(owner_of);
  bool any = false;
  index_.for_each_match(broadcast, [&](match_index::id, const match_rule&) { any = true; }, &names);
  return any;
}

}  // namespace kbus::detail
