// libdbus (the reference implementation) as a benchmark peer: a private connection,
// dbus_connection_send_with_reply_and_block for a blocking call, pending calls with notify
// functions and dbus_connection_read_write_dispatch for many in flight.
#include "peers.hpp"

#include <dbus/dbus.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace kbus_bench {
namespace {

struct error_guard {
  DBusError e;
  error_guard() { dbus_error_init(&e); }
  ~error_guard() { dbus_error_free(&e); }
  [[noreturn]] void raise(const char* what) {
    throw bench_error(std::string("libdbus: ") + what + ": " + (dbus_error_is_set(&e) ? e.message : "failed"));
  }
};

struct conn_ptr {
  DBusConnection* c = nullptr;
  explicit conn_ptr(DBusConnection* conn) : c(conn) {}
  conn_ptr(conn_ptr&& o) noexcept : c(o.c) { o.c = nullptr; }
  conn_ptr(const conn_ptr&) = delete;
  ~conn_ptr() {
    if (c) {
      dbus_connection_close(c);
      dbus_connection_unref(c);
    }
  }
};

DBusConnection* connect(const std::string& address) {
  error_guard err;
  DBusConnection* c = dbus_connection_open_private(address.c_str(), &err.e);
  if (!c) err.raise("open");
  dbus_connection_set_exit_on_disconnect(c, FALSE);
  if (!dbus_bus_register(c, &err.e)) {
    dbus_connection_close(c);
    dbus_connection_unref(c);
    err.raise("Hello");
  }
  return c;
}

DBusMessage* echo_call(const std::string& service, const std::string& s) {
  DBusMessage* m = dbus_message_new_method_call(service.c_str(), echo_path, echo_interface, "Echo");
  const char* arg = s.c_str();
  if (!m || !dbus_message_append_args(m, DBUS_TYPE_STRING, &arg, DBUS_TYPE_INVALID))
    throw bench_error("libdbus: out of memory");
  return m;
}

std::string check_echo(DBusMessage* reply, const std::string& s) {
  if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR)
    return std::string("libdbus: Echo failed: ") + dbus_message_get_error_name(reply);
  error_guard err;
  const char* out = nullptr;
  if (!dbus_message_get_args(reply, &err.e, DBUS_TYPE_STRING, &out, DBUS_TYPE_INVALID)) return "libdbus: Echo reply unreadable";
  if (std::strlen(out) != s.size() || std::memcmp(out, s.data(), s.size()) != 0)
    return "libdbus: Echo reply differs from the argument";
  return {};
}

void drain(DBusConnection* c) {
  while (dbus_connection_dispatch(c) == DBUS_DISPATCH_DATA_REMAINS) {
  }
}

// Reads and dispatches until `done()`: messages already queued at once, the others when
// poll() finds their sockets readable.
template <class Done>
void dispatch_until(const std::vector<DBusConnection*>& conns, Done done, const char* what) {
  std::vector<pollfd> fds(conns.size());
  for (std::size_t i = 0; i < conns.size(); ++i) {
    int fd = -1;
    dbus_connection_get_unix_fd(conns[i], &fd);
    fds[i] = pollfd{fd, POLLIN, 0};
  }
  for (;;) {
    for (auto* c : conns)
      if (dbus_connection_get_dispatch_status(c) == DBUS_DISPATCH_DATA_REMAINS) drain(c);
    if (done()) return;
    const int n = ::poll(fds.data(), fds.size(), 30000);
    if (n == 0) throw bench_error(std::string("libdbus: no progress in 30 s while waiting for ") + what);
    if (n < 0 && errno != EINTR) throw bench_error("libdbus: poll failed");
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (!fds[i].revents) continue;
      dbus_connection_read_write(conns[i], 0);
      drain(conns[i]);
    }
    if (done()) return;
  }
}

class lib_caller final : public caller {
 public:
  lib_caller(const std::string& address, const std::string& service) : conn_(connect(address)), service_(service) {}

  void echo(const std::string& s) override {
    DBusMessage* call = echo_call(service_, s);
    error_guard err;
    DBusMessage* reply = dbus_connection_send_with_reply_and_block(conn_.c, call, DBUS_TIMEOUT_USE_DEFAULT, &err.e);
    dbus_message_unref(call);
    if (!reply) err.raise("Echo");
    std::string wrong = check_echo(reply, s);
    dbus_message_unref(reply);
    if (!wrong.empty()) throw bench_error(wrong);
  }

  struct run : pipeline<run> {
    DBusConnection* c;
    const std::string& service;
    void send() {
      DBusMessage* call = echo_call(service, s);
      DBusPendingCall* pending = nullptr;
      if (!dbus_connection_send_with_reply(c, call, &pending, DBUS_TIMEOUT_USE_DEFAULT) || !pending)
        throw bench_error("libdbus: send_with_reply failed");
      dbus_message_unref(call);
      dbus_pending_call_set_notify(pending, on_reply, this, nullptr);
    }
    static void on_reply(DBusPendingCall* pending, void* userdata) {
      auto* r = static_cast<run*>(userdata);
      DBusMessage* reply = dbus_pending_call_steal_reply(pending);
      dbus_pending_call_unref(pending);
      std::string w = reply ? check_echo(reply, r->s) : "libdbus: pending call without a reply";
      if (reply) dbus_message_unref(reply);
      r->replied(std::move(w));
    }
  };

  void pipelined(const std::string& s, int total, int window) override {
    run r{{s, total}, conn_.c, service_};
    r.start(window);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!r.finished()) {
      if (!dbus_connection_read_write_dispatch(conn_.c, 1000)) throw bench_error("libdbus: disconnected");
      if (std::chrono::steady_clock::now() > deadline) throw bench_error("libdbus: pipelined replies did not come");
    }
    r.check_replies();
  }

 private:
  conn_ptr conn_;
  std::string service_;
};

class lib_fanout final : public fanout {
 public:
  lib_fanout(const std::string& address, int n) : emitter_(connect(address)) {
    const std::string rule = tick_rule(dbus_bus_get_unique_name(emitter_.c));
    for (int i = 0; i < n; ++i) {
      DBusConnection* c = conns_.emplace_back(connect(address)).c;
      raw_.push_back(c);
      if (!dbus_connection_add_filter(c, on_message, this, nullptr)) throw bench_error("libdbus: add_filter failed");
      error_guard err;
      dbus_bus_add_match(c, rule.c_str(), &err.e);  // blocks for the bus's reply
      if (dbus_error_is_set(&err.e)) err.raise("AddMatch");
    }
  }

  void emit_and_wait(std::uint32_t seq) override {
    tally_.expect(seq);
    DBusMessage* m = dbus_message_new_signal(echo_path, echo_interface, tick_member);
    if (!m || !dbus_message_append_args(m, DBUS_TYPE_UINT32, &seq, DBUS_TYPE_INVALID))
      throw bench_error("libdbus: out of memory");
    const bool sent = dbus_connection_send(emitter_.c, m, nullptr);
    dbus_message_unref(m);
    if (!sent) throw bench_error("libdbus: send failed");
    dbus_connection_flush(emitter_.c);
    const std::size_t n = raw_.size();
    dispatch_until(raw_, [&] { return tally_.settled(n); }, "the signal at every subscriber");
    tally_.check("libdbus");
  }

 private:
  static DBusHandlerResult on_message(DBusConnection*, DBusMessage* m, void* userdata) {
    auto* self = static_cast<lib_fanout*>(userdata);
    if (!dbus_message_is_signal(m, echo_interface, tick_member)) return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    dbus_uint32_t seq = 0;
    const bool readable = dbus_message_get_args(m, nullptr, DBUS_TYPE_UINT32, &seq, DBUS_TYPE_INVALID);
    self->tally_.heard(seq, readable);
    return DBUS_HANDLER_RESULT_HANDLED;
  }

  conn_ptr emitter_;
  std::vector<conn_ptr> conns_;
  std::vector<DBusConnection*> raw_;
  tick_tally tally_;
};

class lib_connections final : public connection_set {
 public:
  lib_connections(const std::string& address, int n) {
    for (int i = 0; i < n; ++i) conns_.emplace_back(connect(address));
  }
  void add_matches(int n) override {
    for (int i = 0; i < n; ++i) {
      const std::string rule = "type='signal',interface='org.kbus.Bench1',member='Member" + std::to_string(i) + "'";
      error_guard err;
      dbus_bus_add_match(conns_.front().c, rule.c_str(), &err.e);
      if (dbus_error_is_set(&err.e)) err.raise("AddMatch");
    }
  }

 private:
  std::vector<conn_ptr> conns_;
};

DBusHandlerResult on_echo(DBusConnection* c, DBusMessage* m, void*) {
  if (!dbus_message_is_method_call(m, echo_interface, "Echo")) return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
  const char* s = nullptr;
  DBusMessage* reply = nullptr;
  if (dbus_message_get_args(m, nullptr, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID)) {
    reply = dbus_message_new_method_return(m);
    if (reply && !dbus_message_append_args(reply, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID)) {
      dbus_message_unref(reply);
      reply = nullptr;
    }
  } else {
    reply = dbus_message_new_error(m, DBUS_ERROR_INVALID_ARGS, "Echo takes one string");
  }
  if (!reply) return DBUS_HANDLER_RESULT_NEED_MEMORY;
  dbus_connection_send(c, reply, nullptr);
  dbus_message_unref(reply);
  return DBUS_HANDLER_RESULT_HANDLED;
}

class lib_peer final : public peer_of<lib_caller, lib_fanout, lib_connections> {
 public:
  const char* name() const override { return "libdbus"; }
  void connect_once(const std::string& address) override { conn_ptr c(connect(address)); }

  void serve_echo(const std::string& address, const std::string& service, const std::function<void()>& ready) override {
    conn_ptr c(connect(address));
    DBusObjectPathVTable vtable{};
    vtable.message_function = on_echo;
    if (!dbus_connection_register_object_path(c.c, echo_path, &vtable, nullptr))
      throw bench_error("libdbus: register_object_path failed");
    error_guard err;
    if (dbus_bus_request_name(c.c, service.c_str(), DBUS_NAME_FLAG_DO_NOT_QUEUE, &err.e) !=
        DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER)
      err.raise("RequestName");
    ready();
    while (dbus_connection_read_write_dispatch(c.c, -1)) {
    }
  }
};

}  // namespace

std::unique_ptr<peer> make_libdbus_peer() { return std::make_unique<lib_peer>(); }

}  // namespace kbus_bench
