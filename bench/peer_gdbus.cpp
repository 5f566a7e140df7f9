// GDBus (GLib's gio) as a benchmark peer: g_dbus_connection_call_sync for a blocking call,
// g_dbus_connection_call with a callback for many in flight, signal subscriptions dispatched
// on this thread's main context. GDBus does its I/O in its own worker thread, always.
#include "peers.hpp"

#include <gio/gio.h>

#include <cstring>

namespace kbus_bench {
namespace {

[[noreturn]] void raise(const char* what, GError* err) {
  std::string text = std::string("gdbus: ") + what + ": " + (err ? err->message : "failed");
  if (err) g_error_free(err);
  throw bench_error(text);
}

struct conn_ptr {
  GDBusConnection* c = nullptr;
  explicit conn_ptr(GDBusConnection* conn) : c(conn) {}
  conn_ptr(conn_ptr&& o) noexcept : c(o.c) { o.c = nullptr; }
  conn_ptr(const conn_ptr&) = delete;
  ~conn_ptr() {
    if (c) {
      g_dbus_connection_close_sync(c, nullptr, nullptr);
      g_object_unref(c);
    }
  }
};

GDBusConnection* connect(const std::string& address) {
  GError* err = nullptr;
  GDBusConnection* c = g_dbus_connection_new_for_address_sync(
      address.c_str(),
      static_cast<GDBusConnectionFlags>(G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION),
      nullptr, nullptr, &err);
  if (!c) raise("connect", err);
  g_dbus_connection_set_exit_on_close(c, FALSE);
  const gchar* unique = g_dbus_connection_get_unique_name(c);
  if (!unique || !*unique) {
    g_object_unref(c);
    throw bench_error("gdbus: no unique name");
  }
  return c;
}

// A round trip to the bus: every message this connection sent before it has been handled.
void sync_with_bus(GDBusConnection* c) {
  GError* err = nullptr;
  GVariant* r = g_dbus_connection_call_sync(c, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                            "GetId", nullptr, G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, nullptr,
                                            &err);
  if (!r) raise("GetId", err);
  g_variant_unref(r);
}

std::string check_echo(GVariant* reply, GError* err, const std::string& s) {
  if (!reply) {
    std::string text = std::string("gdbus: Echo failed: ") + (err ? err->message : "?");
    if (err) g_error_free(err);
    return text;
  }
  const gchar* out = nullptr;
  gsize len = 0;
  GVariant* child = g_variant_get_child_value(reply, 0);
  out = g_variant_get_string(child, &len);
  const bool same = len == s.size() && std::memcmp(out, s.data(), s.size()) == 0;
  g_variant_unref(child);
  g_variant_unref(reply);
  return same ? std::string() : "gdbus: Echo reply differs from the argument";
}

// Iterates the default main context until `done()`, for at most 30 s.
template <class Done>
void iterate_until(Done done, const char* what) {
  if (done()) return;
  bool timed_out = false;
  const guint timer = g_timeout_add_seconds(
      30,
      [](gpointer p) -> gboolean {
        *static_cast<bool*>(p) = true;
        return G_SOURCE_REMOVE;
      },
      &timed_out);
  while (!done() && !timed_out) g_main_context_iteration(nullptr, TRUE);
  if (timed_out) throw bench_error(std::string("gdbus: no progress in 30 s while waiting for ") + what);
  g_source_remove(timer);
}

class g_caller final : public caller {
 public:
  g_caller(const std::string& address, const std::string& service) : conn_(connect(address)), service_(service) {}

  void echo(const std::string& s) override {
    GError* err = nullptr;
    GVariant* reply = g_dbus_connection_call_sync(conn_.c, service_.c_str(), echo_path, echo_interface, "Echo",
                                                  g_variant_new("(s)", s.c_str()), G_VARIANT_TYPE("(s)"),
                                                  G_DBUS_CALL_FLAGS_NONE, -1, nullptr, &err);
    if (auto w = check_echo(reply, err, s); !w.empty()) throw bench_error(w);
  }

  struct run : pipeline<run> {
    GDBusConnection* c;
    const char* service;
    void send() {
      g_dbus_connection_call(c, service, echo_path, echo_interface, "Echo", g_variant_new("(s)", s.c_str()),
                             G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, nullptr, on_reply, this);
    }
    static void on_reply(GObject* source, GAsyncResult* res, gpointer userdata) {
      auto* r = static_cast<run*>(userdata);
      GError* err = nullptr;
      GVariant* reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &err);
      r->replied(check_echo(reply, err, r->s));
    }
  };

  void pipelined(const std::string& s, int total, int window) override {
    run r{{s, total}, conn_.c, service_.c_str()};
    r.start(window);
    iterate_until([&] { return r.finished(); }, "pipelined Echo replies");
    r.check_replies();
  }

 private:
  conn_ptr conn_;
  std::string service_;
};

class g_fanout final : public fanout {
 public:
  g_fanout(const std::string& address, int n) : emitter_(connect(address)) {
    const gchar* unique = g_dbus_connection_get_unique_name(emitter_.c);
    for (int i = 0; i < n; ++i) {
      GDBusConnection* c = conns_.emplace_back(connect(address)).c;
      ids_.push_back(g_dbus_connection_signal_subscribe(c, unique, echo_interface, tick_member, echo_path, nullptr,
                                                        G_DBUS_SIGNAL_FLAGS_NONE, on_tick, this, nullptr));
      sync_with_bus(c);  // the AddMatch went out before this call: the bus has it
    }
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
  }
  ~g_fanout() override {
    for (std::size_t i = 0; i < ids_.size(); ++i) g_dbus_connection_signal_unsubscribe(conns_[i].c, ids_[i]);
    // Unsubscribing posts the last references of the subscriptions to this context.
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
  }

  void emit_and_wait(std::uint32_t seq) override {
    tally_.expect(seq);
    GError* err = nullptr;
    if (!g_dbus_connection_emit_signal(emitter_.c, nullptr, echo_path, echo_interface, tick_member,
                                       g_variant_new("(u)", seq), &err))
      raise("emit_signal", err);
    const std::size_t n = conns_.size();
    iterate_until([&] { return tally_.settled(n); }, "the signal at every subscriber");
    tally_.check("gdbus");
  }

 private:
  static void on_tick(GDBusConnection*, const gchar*, const gchar*, const gchar*, const gchar*, GVariant* params,
                      gpointer userdata) {
    auto* self = static_cast<g_fanout*>(userdata);
    guint32 seq = 0;
    const bool readable = g_variant_is_of_type(params, G_VARIANT_TYPE("(u)"));
    if (readable) g_variant_get(params, "(u)", &seq);
    self->tally_.heard(seq, readable);
  }

  conn_ptr emitter_;
  std::vector<conn_ptr> conns_;
  std::vector<guint> ids_;
  tick_tally tally_;
};

void ignore_signal(GDBusConnection*, const gchar*, const gchar*, const gchar*, const gchar*, GVariant*, gpointer) {}

class g_connections final : public connection_set {
 public:
  g_connections(const std::string& address, int n) {
    for (int i = 0; i < n; ++i) conns_.emplace_back(connect(address));
  }
  ~g_connections() override {
    for (guint id : ids_) g_dbus_connection_signal_unsubscribe(conns_.front().c, id);
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
  }
  void add_matches(int n) override {
    for (int i = 0; i < n; ++i) {
      const std::string member = "Member" + std::to_string(i);
      ids_.push_back(g_dbus_connection_signal_subscribe(conns_.front().c, nullptr, echo_interface, member.c_str(),
                                                        nullptr, nullptr, G_DBUS_SIGNAL_FLAGS_NONE, ignore_signal,
                                                        nullptr, nullptr));
    }
    sync_with_bus(conns_.front().c);
  }

 private:
  std::vector<conn_ptr> conns_;
  std::vector<guint> ids_;
};

constexpr const char* echo_xml =
    "<node><interface name='org.kbus.Bench1'><method name='Echo'>"
    "<arg type='s' direction='in'/><arg type='s' direction='out'/></method></interface></node>";

// GDBus checks the call against the interface's introspection data (only Echo(s) gets here).
void on_echo(GDBusConnection*, const gchar*, const gchar*, const gchar*, const gchar*, GVariant* params,
             GDBusMethodInvocation* invocation, gpointer) {
  const gchar* s = nullptr;
  g_variant_get(params, "(&s)", &s);
  g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", s));
}

void on_closed(GDBusConnection*, gboolean, GError*, gpointer loop) { g_main_loop_quit(static_cast<GMainLoop*>(loop)); }

class g_peer final : public peer_of<g_caller, g_fanout, g_connections> {
 public:
  const char* name() const override { return "gdbus"; }
  void connect_once(const std::string& address) override { conn_ptr c(connect(address)); }

  void serve_echo(const std::string& address, const std::string& service, const std::function<void()>& ready) override {
    conn_ptr c(connect(address));
    GError* err = nullptr;
    GDBusNodeInfo* node = g_dbus_node_info_new_for_xml(echo_xml, &err);
    if (!node) raise("introspection data", err);
    const GDBusInterfaceVTable vtable{on_echo, nullptr, nullptr, {}};
    const guint id = g_dbus_connection_register_object(c.c, echo_path, node->interfaces[0], &vtable, nullptr, nullptr, &err);
    g_dbus_node_info_unref(node);
    if (!id) raise("register_object", err);
    GVariant* r = g_dbus_connection_call_sync(c.c, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                              "RequestName", g_variant_new("(su)", service.c_str(), 4u /* DO_NOT_QUEUE */),
                                              G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, nullptr, &err);
    if (!r) raise("RequestName", err);
    guint32 result = 0;
    g_variant_get(r, "(u)", &result);
    g_variant_unref(r);
    if (result != 1 /* PRIMARY_OWNER */) throw bench_error("gdbus: cannot own " + service);
    ready();
    GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
    g_signal_connect(c.c, "closed", G_CALLBACK(on_closed), loop);
    g_main_loop_run(loop);  // until the bus goes away
    g_main_loop_unref(loop);
  }
};

}  // namespace

std::unique_ptr<peer> make_gdbus_peer() { return std::make_unique<g_peer>(); }

}  // namespace kbus_bench
