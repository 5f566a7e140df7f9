// Pools and queues (kdbus ABI notes §2.4): results and messages as slices in a connection's
// pool, and the quota that keeps one sender from filling another's pool.
#include "broker/domain_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kbus::broker {

namespace {

// The pool quota (kdbus_conn_quota_inc): 1/2 of a pool is reserved for its owner's own
// results and replies, the rest takes incoming messages, and one sending user may use at most
// 1/3 of what of that is free (its own usage counted as free).
constexpr std::uint64_t pool_incoming_share = 2;
constexpr std::uint64_t pool_user_share = 3;

}  // namespace

void slice_bytes::write(std::uint8_t* out) const {
  std::memcpy(out, head.data(), head.size());
  const std::size_t at = payload_at();
  std::memset(out + head.size(), 0, at - head.size());
  if (!payload.empty()) std::memcpy(out + at, payload.data(), payload.size());
  std::memset(out + at + payload.size(), 0, size() - at - payload.size());
}

// Writes `bytes` into a new slice of `c`'s pool, published to the user (a query result).
int domain::impl::pool_result(bus_connection* c, const std::vector<std::uint8_t>& bytes, std::uint64_t& offset) {
  if (const int r = c->p.alloc(bytes.size(), false, offset); r) return r;
  auto s = c->p.slice(offset);
  std::memcpy(s.data(), bytes.data(), bytes.size());
  c->p.publish(offset);
  c->p.release_kernel(offset);
  return 0;
}

// The quota rule for `size` more bytes (and `nfds`) from `user` in `c`'s queue.
int domain::impl::quota_check(const bus_connection* c, std::uint64_t user, std::uint64_t size,
                              std::size_t nfds) const {
  user_quota q{};
  if (auto it = c->quota.find(user); it != c->quota.end()) q = it->second;
  if (q.msgs >= kdbus::conn_max_msgs) return ENOBUFS;
  if (q.fds + nfds > kdbus::conn_max_fds_per_user) return EMFILE;
  // Half the pool is the owner's; of the other half, one user may take a third of what is
  // free, counting its own share as free.
  const std::uint64_t half = c->p.size() / pool_incoming_share;
  const std::uint64_t used = c->p.accounted();
  if (used + size > half) return ENOBUFS;
  const std::uint64_t free_for_user = half - used + q.memory;
  if (q.memory + kdbus::align8(size) > free_for_user / pool_user_share) return ENOBUFS;
  return 0;
}

// Queues `bytes` (a whole slice) on `c`. accounted: charged to `e.quota_user` (incoming messages).
int domain::impl::enqueue(bus_connection* c, const slice_bytes& bytes, queue_entry e, bool accounted) {
  const std::size_t nfds = e.files.size();
  const std::size_t size = bytes.size();
  if (accounted)
    if (const int r = quota_check(c, e.quota_user, size, nfds); r) return r;
  std::uint64_t off = 0;
  if (const int r = c->p.alloc(size, accounted, off); r) return r;
  bytes.write(c->p.slice(off).data());
  e.slice = off;
  e.size = kdbus::align8(size);
  e.accounted = accounted;
  e.seq = next_seq++;
  if (accounted) {
    auto& q = c->quota[e.quota_user];
    q.msgs++;
    q.memory += e.size;
    q.fds += nfds;
  }
  c->queue.push_back(std::move(e));
  wake(c);
  return 0;
}

// A queued message left the queue: its sender's quota gets it back.
void domain::impl::unaccount(bus_connection* c, const queue_entry& e) {
  if (!e.accounted) return;
  auto it = c->quota.find(e.quota_user);
  if (it == c->quota.end()) return;
  it->second.msgs--;
  it->second.memory -= std::min(it->second.memory, e.size);
  it->second.fds -= std::min(it->second.fds, e.files.size());
  if (!it->second.msgs) c->quota.erase(it);
}

}  // namespace kbus::broker
