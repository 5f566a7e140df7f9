#include "kbus/signal.hpp"

namespace kbus {

subscription watch_name(connection& c, const bus_name& name, name_watch_handlers handlers) {
  struct state {
    name_watch_handlers handlers;
    std::string name;
    std::optional<std::string> owner;  // nullopt until the first answer
    bool changed = false;              // a NameOwnerChanged came: GetNameOwner's answer is older
    void update(const std::string& new_owner) {
      if (owner && *owner == new_owner) return;
      const bool had_owner = owner && !owner->empty();
      const bool first = !owner;
      owner = new_owner;
      if ((had_owner || (first && new_owner.empty())) && handlers.vanished) handlers.vanished(name);
      if (!new_owner.empty() && handlers.appeared) handlers.appeared(name, new_owner);
    }
  };
  auto st = std::make_shared<state>();
  st->handlers = std::move(handlers);
  st->name = std::string(name.view());
  // The subscription (and its AddMatch) goes out before GetNameOwner, on the same strand:
  // the bus answers in order, so no change can fall between the two.
  auto sub = c.subscribe(bus::name_owner_changed_rule(st->name), [st](const message& m) {
    auto change = bus::as_name_owner_changed(m);
    if (!change || change->name != st->name) return;
    st->changed = true;
    st->update(change->new_owner);
  });
  c.async_call(bus::driver_call("GetNameOwner", st->name),
               [weak = std::weak_ptr<state>(st)](boost::system::error_code ec, message reply) {
                 auto s = weak.lock();
                 if (!s || s->changed) return;
                 std::string owner;
                 if (!ec) {
                   if (auto r = reply.read<std::string>()) owner = std::get<0>(*r);
                 }
                 s->update(owner);
               });
  return sub;
}

}  // namespace kbus
