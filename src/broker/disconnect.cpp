// A connection's end (kdbus ABI notes §2.14): BYEBYE, or its handle closed, or its bus or
// endpoint gone. Its names pass on, calls waiting for it die, its own calls end, the bus is told.
#include "broker/command_parser.hpp"
#include "broker/domain_impl.hpp"

#include <cerrno>

namespace kbus::broker {

using kdbus::item_type;

int domain::impl::byebye(handle& h, std::span<std::uint8_t> cmd) {
  parsed_command p;
  if (const int r = parse_command(cmd, sizeof(kdbus::cmd), 0, {}, p); r || p.negotiate) return r;
  if (!h.conn->ordinary()) return EOPNOTSUPP;
  if (!h.conn->queue.empty()) return EBUSY;
  disconnect(h);
  return 0;
}

void domain::impl::disconnect(handle& h) {
  bus_connection* c = h.conn.get();
  if (!c || h.byebye) return;
  h.byebye = true;
  bus* b = c->b;
  drop_names(c);
  b->policy.remove_owner(c);
  end_calls(c);
  b->connections.erase(c->id);
  conns.erase(c->id);
  if (auto u = user_conns.find(c->user); u != user_conns.end() && --u->second == 0) user_conns.erase(u);
  if (!c->monitor()) notify(b, item_type::id_remove, c->id, c->flags, 0, 0, {});
  if (opt.release_pool && !c->pool_memory.empty()) opt.release_pool(h.conn->handle, c->pool_memory);
  c->pool_memory = {};
  c->own_memory.clear();
  c->p = pool();
  wake(c);
}

// Every name `c` owns or queues for, and the one it activates, first (NAME_CHANGE / NAME_REMOVE).
void domain::impl::drop_names(bus_connection* c) {
  bus* b = c->b;
  for (auto it = b->names.begin(); it != b->names.end();) {
    const std::string key = it->first;
    name_drop(b, it, c);
    auto again = b->names.find(key);
    if (again != b->names.end() && again->second.activator == c) {
      name_entry& e = again->second;
      const bool primary = e.queue.empty();
      e.activator = nullptr;
      if (primary) {
        b->names.erase(again);
        notify(b, item_type::name_remove, c->id, kdbus::name_flags::activator | kdbus::name_flags::primary, 0, 0,
               key);
      }
    }
    it = b->names.upper_bound(key);
  }
}

// Calls waiting in `c`'s queue die (REPLY_DEAD); its own pending calls end.
void domain::impl::end_calls(bus_connection* c) {
  for (auto& e : c->queue) {
    if (e.expect_reply)
      if (auto t = find_tracker(e.src_id, c->id, e.cookie); t != trackers.end()) tracker_dead(t);
  }
  c->queue.clear();
  for (auto it = trackers.begin(); it != trackers.end();) {
    auto& t = it->second;
    if (t.done) {
      ++it;
      continue;
    }
    if (t.replier == c->id) {
      auto cur = it++;
      tracker_dead(cur);
      continue;
    }
    if (t.caller == c->id) {
      if (t.sync) {
        t.done = true;
        t.error = ECONNRESET;
        wake_sync();
        ++it;
      } else {
        it = trackers.erase(it);
      }
      continue;
    }
    ++it;
  }
}

}  // namespace kbus::broker
