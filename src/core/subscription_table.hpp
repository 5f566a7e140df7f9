// A connection's subscriptions: their rules evaluated here (match_index), the bus's copies of
// them counted per rule text (the first subscriber sends AddMatch, the last one to leave sends
// RemoveMatch), and the owners of the well-known names that rules name as sender (GetNameOwner,
// then NameOwnerChanged). No I/O: bus calls go out through the function it is given.
#pragma once

#include "kbus/connection.hpp"
#include "match/match_index.hpp"

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kbus::detail {

class subscription_table {
 public:
  using reply_handler = std::function<void(boost::system::error_code, message)>;
  // Sends a call to the bus driver; the reply (or the failure) comes to the handler.
  using bus_caller = std::function<void(message call, reply_handler on_reply)>;
  using confirmation = std::function<void(boost::system::error_code)>;

  explicit subscription_table(bus_caller call_bus) : call_bus_(std::move(call_bus)) {}

  struct add_options {
    bool ask_bus = true;         // send AddMatch (subscribe_options::add_match)
    bool follow_sender = true;   // a well-known sender is followed through its owners
  };
  // `confirmed` (may be empty) learns when the bus has the rule, or at once when it is not asked.
  void add(std::uint64_t id, match_rule rule, signal_handler handler, add_options options, confirmation confirmed);
  void remove(std::uint64_t id);
  bool contains(std::uint64_t id) const { return entries_.contains(id); }

  // A message that came in: owner changes are followed first, then the handlers of the rules
  // it matches are called (a handler removed by an earlier one is skipped).
  void deliver(const message& m);

  // The connection ended: whoever waits for a confirmation learns why.
  void fail_waiters(boost::system::error_code ec);

  // How many AddMatch rules the bus holds for us, by text (for tests and diagnostics).
  int bus_rule_refs(const std::string& text) const;

 private:
  struct entry {
    match_index::id index_id = 0;
    std::shared_ptr<signal_handler> handler;
    std::string bus_rule;      // the AddMatch text; empty when the bus was not asked
    std::string tracked_name;  // a well-known sender followed through its owners
  };
  struct bus_rule {
    int refs = 0;
    bool confirmed = false;
    boost::system::error_code failure;
    std::vector<confirmation> waiters;
  };
  struct tracked_name {
    int refs = 0;
    bool changed = false;  // a NameOwnerChanged came: the GetNameOwner reply is older news
    std::optional<std::string> owner;
  };
  struct owner_table final : name_owner_lookup {
    const subscription_table* table;
    explicit owner_table(const subscription_table* t) : table(t) {}
    std::optional<std::string> owner_of(std::string_view name) const override;
  };

  void add_bus_rule(const std::string& text, confirmation confirmed);
  void remove_bus_rule(const std::string& text);
  void track_name(const std::string& name);
  void untrack_name(const std::string& name);
  void follow_owner_change(const message& m);

  bus_caller call_bus_;
  match_index index_;
  std::unordered_map<std::uint64_t, entry> entries_;                   // by subscription id
  std::unordered_map<match_index::id, std::uint64_t> subscription_of_;  // index id -> subscription id
  std::unordered_map<std::string, bus_rule> bus_rules_;
  std::unordered_map<std::string, tracked_name> names_;
  owner_table owners_{this};
};

}  // namespace kbus::detail
