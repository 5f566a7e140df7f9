// The inside of a domain (domain.hpp): its state, and its operations grouped by the file that
// defines them, one concept each. Private to kbusd's core.
#pragma once

#include "broker/bus_connection.hpp"
#include "broker/bus_state.hpp"
#include "broker/domain.hpp"
#include "broker/handle.hpp"
#include "broker/matches.hpp"
#include "broker/reply_tracker.hpp"
#include "broker/staged_message.hpp"
#include "transport/kdbus/abi.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kbus::broker {

// A receiver's slice in two parts: its head (the kdbus_msg, items and metadata) and the payload
// stream after it at ALIGN8(head), both written straight into the receiver's pool, so the
// payload is copied once per receiver. Views: what they view outlives the delivery.
struct slice_bytes {
  std::span<const std::uint8_t> head;
  std::span<const std::uint8_t> payload;

  slice_bytes(std::span<const std::uint8_t> h, std::span<const std::uint8_t> p = {}) : head(h), payload(p) {}
  slice_bytes(const std::vector<std::uint8_t>& whole) : head(whole) {}
  std::size_t payload_at() const { return kdbus::align8(head.size()); }
  std::size_t size() const { return kdbus::align8(payload_at() + payload.size()); }
  // Writes size() bytes, the padding zeroed.
  void write(std::uint8_t* out) const;
};

struct domain::impl {
  domain_options opt;
  std::uint64_t next_id = 1;  // connection and bus ids share one per-domain counter (§2.1)
  handle_id next_handle = 1;
  std::uint64_t next_seq = 1;
  std::uint64_t next_ticket = 1;
  std::map<handle_id, handle> handles;
  std::map<std::string, std::unique_ptr<bus>, std::less<>> buses;
  std::map<std::uint64_t, bus_connection*> conns;   // by id, every bus
  std::map<std::uint64_t, reply_tracker> trackers;  // by ticket
  std::map<std::uint64_t, std::size_t> user_conns;  // KDBUS_USER_MAX_CONN accounting
  std::map<std::uint64_t, std::size_t> user_buses;  // KDBUS_USER_MAX_BUSES accounting
  std::set<handle_id> wakeups;
  std::mt19937_64 rng{std::random_device{}()};
  bool sync_changed = false;  // a waiting synchronous SEND finished

  using tracker_iterator = std::map<std::uint64_t, reply_tracker>::iterator;

  // domain.cpp: the clocks, wakeups, the connection command dispatcher.
  std::uint64_t mono() const;
  std::uint64_t real() const;
  void wake(const bus_connection* c) {
    if (c) wakeups.insert(c->handle);
  }
  bus_connection* conn_by_id(bus* b, std::uint64_t id);
  int connection_command(handle& h, std::uint32_t number, std::span<std::uint8_t> cmd, const credentials& who,
                         peer_io& io, std::uint64_t* ticket);

  // buses.cpp: BUS_MAKE and a bus's end.
  int bus_make(handle& h, std::span<std::uint8_t> cmd, const credentials& who);
  void destroy_bus(bus* b);
  bool is_owner(const bus* b, const credentials& who) const;
  static int check_make_name(std::string_view name, const credentials& who);

  // endpoints.cpp: ENDPOINT_MAKE, ENDPOINT_UPDATE and a custom endpoint's end.
  int endpoint_make(handle& h, std::span<std::uint8_t> cmd, const credentials& who);
  int endpoint_update(handle& h, std::span<std::uint8_t> cmd);
  void close_endpoint(handle& h);

  // policy.cpp: who may see and talk to whom.
  bool can_see_name(const bus_connection* c, std::string_view name) const;
  bool can_see_conn(const bus_connection* c, const bus_connection* peer) const;
  bool can_talk(const bus_connection* from, const bus_connection* to) const;

  // hello.cpp: HELLO, in steps.
  struct hello_request;
  int hello(handle_id hid, handle& h, std::span<std::uint8_t> cmd, const credentials& who);
  int check_hello_rights(const handle& h, hello_request& rq);
  int check_hello_conflicts(const handle& h, const hello_request& rq);
  std::unique_ptr<bus_connection> make_connection(handle_id hid, const handle& h, const hello_request& rq);
  int map_connection_pool(handle_id hid, bus_connection& c, std::uint64_t size);
  int write_hello_result(handle_id hid, const handle& h, bus_connection& c, hello_request& rq,
                         std::span<std::uint8_t> cmd);
  void join_bus(handle& h, std::unique_ptr<bus_connection> c, const hello_request& rq);

  // update.cpp: UPDATE.
  int update(bus_connection* c, std::span<std::uint8_t> cmd);

  // disconnect.cpp: BYEBYE and a connection's end (§2.14).
  int byebye(handle& h, std::span<std::uint8_t> cmd);
  void disconnect(handle& h);
  void drop_names(bus_connection* c);
  void end_calls(bus_connection* c);

  // metadata.cpp: the metadata items of a message or an info (§2.7).
  void emit_metadata(std::vector<std::uint8_t>& out, const bus_connection* sender, const credentials& who,
                     std::uint64_t granted, std::uint64_t seqnum);
  // What a receiver asking for `requested` gets from a sender that sends `sender_send`.
  static std::uint64_t granted(std::uint64_t requested, std::uint64_t sender_send);

  // message_queue.cpp: pool slices, queues and their quota (§2.4).
  int pool_result(bus_connection* c, const std::vector<std::uint8_t>& bytes, std::uint64_t& offset);
  int quota_check(const bus_connection* c, std::uint64_t user, std::uint64_t size, std::size_t nfds) const;
  int enqueue(bus_connection* c, const slice_bytes& bytes, queue_entry e, bool accounted);
  void unaccount(bus_connection* c, const queue_entry& e);

  // notifications.cpp: kernel messages (§2.6).
  std::vector<std::uint8_t> kernel_message(const bus_connection* to, std::uint64_t dst, std::uint64_t flags,
                                           std::uint64_t cookie_reply, const std::vector<std::uint8_t>& item);
  void notify(bus* b, kdbus::item_type type, std::uint64_t old_id, std::uint64_t old_flags, std::uint64_t new_id,
              std::uint64_t new_flags, std::string_view name);
  void reply_notice(std::uint64_t caller_id, kdbus::item_type type, std::uint64_t cookie);

  // matches.cpp: MATCH_ADD, MATCH_REMOVE and matching (§2.8).
  bool matches(const bus_connection* c, const match_subject& s) const;
  bool rule_matches(const bus_connection* c, const broker_match_rule& r, const match_subject& s) const;
  int match_add(bus_connection* c, std::span<std::uint8_t> cmd);
  int match_remove(bus_connection* c, std::span<std::uint8_t> cmd);

  // reply_trackers.cpp: calls waiting for replies (§2.11).
  tracker_iterator find_tracker(std::uint64_t caller, std::uint64_t replier, std::uint64_t cookie);
  void tracker_dead(tracker_iterator it);
  void wake_sync() { sync_changed = true; }

  // name_registry.cpp: NAME_ACQUIRE, NAME_RELEASE, queues of owners, activators (§2.10).
  std::uint64_t name_flags_of(const bus_connection* c, const name_entry& e) const;
  void name_notify_change(bus* b, std::string_view name, bus_connection* old_c, std::uint64_t old_f,
                          bus_connection* new_c, std::uint64_t new_f);
  void move_name_messages(bus_connection* from, bus_connection* to, std::string_view name);
  bool name_drop(bus* b, name_map::iterator it, bus_connection* c);
  int name_acquire(bus_connection* c, std::span<std::uint8_t> cmd);
  int acquire_free_name(bus_connection* c, std::string_view name, std::uint64_t flags, std::uint64_t& ret);
  int acquire_taken_name(bus_connection* c, name_entry& e, std::string_view name, std::uint64_t flags,
                         std::uint64_t& ret);
  int name_release(bus_connection* c, std::span<std::uint8_t> cmd);

  // queries.cpp: CONN_INFO, BUS_CREATOR_INFO, LIST.
  int conn_info(bus_connection* c, std::span<std::uint8_t> cmd);
  int bus_creator_info(bus_connection* c, std::span<std::uint8_t> cmd);
  int list(bus_connection* c, std::span<std::uint8_t> cmd);

  // send.cpp: SEND, in steps (§2.5).
  int send(bus_connection* c, std::span<std::uint8_t> cmd, const credentials& who, peer_io& io,
           std::uint64_t* ticket);
  int resolve_destination(const bus_connection* c, const staged_message& m, bus_connection*& dst);
  int check_may_send(const bus_connection* c, const bus_connection* dst, const staged_message& m,
                     const send_kind& kind, std::uint64_t& tracker_ticket);

  // delivery.cpp: a staged message into its receivers' pools (§2.5, §2.6).
  // The head of a receiver's slice (the payload follows it: slice_bytes{head, m.payload}).
  std::vector<std::uint8_t> build_slice_head(const staged_message& m, const bus_connection* sender,
                                        const credentials& who, const bus_connection* to,
                                        std::vector<std::size_t>& slots);
  int deliver(const staged_message& m, bus_connection* sender, const credentials& who, bus_connection* to,
              bool accounted, bool expect_reply);
  void deliver_or_count_lost(const staged_message& m, bus_connection* sender, const credentials& who,
                             bus_connection* to);
  void copy_to_monitors(const staged_message& m, bus_connection* sender, const credentials& who);
  void deliver_broadcast(const staged_message& m, bus_connection* sender, const credentials& who);
  void deliver_signal(const staged_message& m, bus_connection* sender, const credentials& who, bus_connection* dst);
  int deliver_reply(const staged_message& m, bus_connection* sender, const credentials& who, bus_connection* dst,
                    std::uint64_t tracker_ticket);
  void reply_to_waiting_caller(const staged_message& m, bus_connection* sender, const credentials& who,
                               bus_connection* dst, reply_tracker& t);
  int deliver_call(const staged_message& m, bus_connection* sender, const credentials& who, bus_connection* dst,
                   const send_kind& kind, const send_request& rq, std::uint64_t* ticket);

  // recv.cpp: RECV and FREE (§2.6).
  int recv(bus_connection* c, std::span<std::uint8_t> cmd, peer_io& io);
  int free_cmd(bus_connection* c, std::span<std::uint8_t> cmd);
};

}  // namespace kbus::broker
