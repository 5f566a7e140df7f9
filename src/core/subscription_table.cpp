#include "core/subscription_table.hpp"

#include "kbus/bus.hpp"

namespace kbus::detail {

std::optional<std::string> subscription_table::owner_table::owner_of(std::string_view name) const {
  auto it = table->names_.find(std::string(name));
  return it == table->names_.end() ? std::nullopt : it->second.owner;
}

void subscription_table::add(std::uint64_t id, match_rule rule, signal_handler handler, add_options options,
                             confirmation confirmed) {
  entry e;
  e.handler = std::make_shared<signal_handler>(std::move(handler));
  if (options.follow_sender && rule.sender && !rule.sender->starts_with(':') && *rule.sender != bus::driver_name)
    e.tracked_name = *rule.sender;
  if (options.ask_bus) e.bus_rule = rule.to_string();
  e.index_id = index_.add(std::move(rule));
  subscription_of_[e.index_id] = id;
  // Registered before the bus hears of it: a confirmation may come at once and find it.
  const std::string text = e.bus_rule, tracked = e.tracked_name;
  entries_.emplace(id, std::move(e));
  if (!tracked.empty()) track_name(tracked);
  if (!text.empty()) add_bus_rule(text, std::move(confirmed));
  else if (confirmed) confirmed({});
}

void subscription_table::remove(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  entry e = std::move(it->second);
  entries_.erase(it);
  index_.remove(e.index_id);
  subscription_of_.erase(e.index_id);
  if (!e.bus_rule.empty()) remove_bus_rule(e.bus_rule);
  if (!e.tracked_name.empty()) untrack_name(e.tracked_name);
}

void subscription_table::add_bus_rule(const std::string& text, confirmation confirmed) {
  bus_rule& r = bus_rules_[text];
  if (r.refs++ > 0) {
    if (!confirmed) return;
    if (r.confirmed) return confirmed(r.failure);
    r.waiters.push_back(std::move(confirmed));
    return;
  }
  if (confirmed) r.waiters.push_back(std::move(confirmed));
  call_bus_(bus::driver_call("AddMatch", text), [this, text](boost::system::error_code ec, message) {
    auto it = bus_rules_.find(text);
    if (it == bus_rules_.end()) return;
    it->second.confirmed = true;
    it->second.failure = ec;
    auto waiters = std::move(it->second.waiters);
    for (auto& w : waiters) w(ec);
  });
}

void subscription_table::remove_bus_rule(const std::string& text) {
  auto it = bus_rules_.find(text);
  if (it == bus_rules_.end() || --it->second.refs > 0) return;
  bus_rules_.erase(it);
  call_bus_(bus::driver_call("RemoveMatch", text), [](boost::system::error_code, message) {});
}

void subscription_table::track_name(const std::string& name) {
  tracked_name& t = names_[name];
  if (t.refs++ > 0) return;
  // AddMatch goes out first: the bus answers in order, so no change falls between the two.
  add_bus_rule(bus::name_owner_changed_rule(name).to_string(), nullptr);
  call_bus_(bus::driver_call("GetNameOwner", name), [this, name](boost::system::error_code ec, message reply) {
    auto it = names_.find(name);
    if (it == names_.end() || it->second.changed) return;
    if (ec) return;  // NameHasNoOwner: nobody owns it yet
    if (auto owner = reply.read<std::string>()) it->second.owner = std::get<0>(*owner);
  });
}

void subscription_table::untrack_name(const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end() || --it->second.refs > 0) return;
  names_.erase(it);
  remove_bus_rule(bus::name_owner_changed_rule(name).to_string());
}

void subscription_table::follow_owner_change(const message& m) {
  auto change = bus::as_name_owner_changed(m);
  if (!change) return;
  auto it = names_.find(change->name);
  if (it == names_.end()) return;
  it->second.changed = true;
  if (change->new_owner.empty()) it->second.owner.reset();
  else it->second.owner = change->new_owner;
}

void subscription_table::deliver(const message& m) {
  if (m.type() == message_type::signal && !names_.empty()) follow_owner_change(m);
  if (index_.empty()) return;
  // Handlers may subscribe or unsubscribe: collect first, then call those still there.
  std::vector<std::shared_ptr<signal_handler>> hits;
  index_.for_each_match(
      m,
      [&](match_index::id index_id, const match_rule&) {
        auto sub = subscription_of_.find(index_id);
        if (sub == subscription_of_.end()) return;
        auto e = entries_.find(sub->second);
        if (e != entries_.end()) hits.push_back(e->second.handler);
      },
      &owners_);
  for (auto& h : hits)
    if (h.use_count() > 1) (*h)(m);  // use_count 1: unsubscribed by an earlier handler
}

void subscription_table::fail_waiters(boost::system::error_code ec) {
  for (auto& [text, r] : bus_rules_) {
    auto waiters = std::move(r.waiters);
    for (auto& w : waiters) w(ec);
  }
}

int subscription_table::bus_rule_refs(const std::string& text) const {
  auto it = bus_rules_.find(text);
  return it == bus_rules_.end() ? 0 : it->second.refs;
}

}  // namespace kbus::detail
