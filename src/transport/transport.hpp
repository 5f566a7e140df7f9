// The transport interface: what the connection core needs from a way of moving messages, and
// nothing more. A transport owns its I/O and its framing; it never blocks and never waits by
// itself. Its owner waits on wait_fd() (readable; writable too while wants_write()), then calls
// flush(), and receive() until it says "nothing now".
//
//   t->send(std::move(msg), {});                       // msg.serial() set; queued or handed over at once
//   t->flush();                             // when done sending for now
//   if (t->wants_write()) wait for wait_fd() writable, then t->flush();
//   // wait_fd() readable:
//   auto mode = receive_mode::read_once;
//   for (;;) {
//     auto r = t->receive(mode);            // an error: the connection is over
//     if (!*r) break;                       // nothing now: wait again
//     dispatch(std::move(**r));
//     mode = receive_mode::buffered;
//   }
//
// Transports live in src/transport/<name>/ and are chosen by the scheme of an address entry
// (registry.hpp). Not thread-safe: one thread (or strand) drives a transport.
#pragma once

#include "kbus/connection.hpp"
#include "kbus/error.hpp"
#include "kbus/message.hpp"

#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

namespace kbus::detail {

struct transport_capabilities {
  // Messages may carry unix fds (SCM_RIGHTS, KDBUS_ITEM_FDS).
  bool unix_fd_passing = false;
  // Calls to org.freedesktop.DBus are answered by the transport itself (there is no driver
  // peer on a kdbus device): Hello, AddMatch and the rest cost no round trip.
  bool answers_bus_driver = false;
  // How many replies the connection may await at once; calls beyond it wait in the core.
  std::size_t max_awaited_replies = std::numeric_limits<std::size_t>::max();
};

struct transport_send_options {
  // For a call: how long its reply may take (a transport whose peer tracks replies, like
  // kdbus, is told; the connection keeps its own deadline anyway).
  std::chrono::milliseconds reply_timeout{25000};
};

// What send() may say. ok: queued or handed over. message_failed: only this message could not
// go (the connection goes on; a call ends with `error`). gone: the connection is over.
enum class send_outcome { ok, message_failed, gone };

// What receive() may do to find a message: only take what is there already (read before, or
// made by the transport itself, such as a bus driver's answer), or also read once from the
// descriptor (the owner saw it readable and has not let the transport read since).
enum class receive_mode { buffered, read_once };
struct send_status {
  send_outcome outcome = send_outcome::ok;
  kbus::error error;  // when not ok
};

class transport {
 public:
  virtual ~transport() = default;

  // The descriptor to wait on: readable when receive() may have something, writable (waited
  // for only while wants_write()) when flush() may make progress. It may change after
  // receive() (a kdbus connection that became a monitor): the owner asks again then. -1 once
  // closed.
  virtual int wait_fd() const noexcept = 0;

  // Sends `m` (serial set). A transport with an output queue only queues here: the owner calls
  // flush() when it is done sending for now (so that several messages go out in one write).
  // When the outcome is not ok, `m` is left as it was, so that its owner can report it.
  virtual send_status send(message&& m, const transport_send_options& options) = 0;
  // Writes queued output until it is all out or the descriptor is full. An error: the
  // connection is over, with that reason.
  virtual result<void> flush() = 0;
  // Output is queued and waits for wait_fd() to become writable.
  virtual bool wants_write() const noexcept = 0;
  // Bytes queued and not yet written (0 for a transport that hands messages over at once).
  virtual std::size_t queued_bytes() const noexcept = 0;

  // The next message; std::nullopt: nothing now (wait for wait_fd() to become readable). An
  // error: the connection is over (the peer left, or it sent what cannot be framed), with the
  // reason; its code is connection_errc::peer_sent_invalid_message when the peer broke the
  // protocol. Messages of a type this library does not know are skipped (specification).
  virtual result<std::optional<message>> receive(receive_mode mode) = 0;
  // Messages are ready without waiting (made locally, or read already): receive(buffered) now.
  virtual bool has_pending_input() const noexcept = 0;

  virtual const transport_capabilities& capabilities() const noexcept = 0;
  // The connector sent connect_request::first_message already: the connection awaits its reply
  // without sending it.
  virtual bool first_message_sent() const noexcept { return false; }
  // What the connection reports (address, transport name, server guid, peer credentials,
  // fd passing); the core adds the unique name.
  virtual connection_info info() const = 0;
  // What info() says, for the connection that keeps it from then on: the transport may give up
  // its own copy (info() then says less).
  virtual connection_info take_info() { return info(); }
  // Ends the connection (idempotent). Queued output is not written any more; take_unsent()
  // gives it back.
  virtual void close() noexcept = 0;
  // The messages send() took that were not wholly written (a message cut short counts), in
  // order; they leave the transport. Called after close(): a connection that ends reports
  // each of them instead of dropping it without a word.
  virtual std::vector<message> take_unsent() = 0;
};

}  // namespace kbus::detail
