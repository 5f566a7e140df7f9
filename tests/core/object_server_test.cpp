// The object server on real buses (dbus-daemon and dbus-broker): typed handlers, errors,
// properties, the standard interfaces, subtrees, re-entrant handlers; and real peers (gdbus,
// busctl, dbus-send, dbus-monitor, python3-dbus) reading the demo service. Also the
// introspection parser on real-world files.
#include "support/bus_test.hpp"
#include "support/deadlines.hpp"
#include "support/monitor_start.hpp"
#include "support/process.hpp"
#include "support/testdata.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus/introspection.hpp"
#include "kbus/match.hpp"
#include "kbus/object_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;


// Whether a row of a table (busctl's) reads `row`, with runs of spaces taken as one.
bool has_row(const std::string& table, const std::string& row) {
  std::istringstream in(table);
  for (std::string line; std::getline(in, line);) {
    std::string squeezed;
    for (char ch : line)
      if (ch != ' ' || (!squeezed.empty() && squeezed.back() != ' ')) squeezed += ch;
    while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
    if (squeezed.starts_with(row)) return true;
  }
  return false;
}

using kbus::test::child_process;
using kbus::test::command_result;
using kbus::test::have;
using kbus::test::run;


// A call's reply or error reply, waited for.
kbus::message call(kbus::connection& c, kbus::message m) {
  std::promise<kbus::message> p;
  c.async_call(std::move(m), [&](error_code ec, kbus::message reply) {
    if (ec && ec != kbus::make_error_code(kbus::connection_errc::error_reply))
      ADD_FAILURE() << "call failed: " << ec.message();
    p.set_value(std::move(reply));
  });
  return p.get_future().get();
}

template <class... Args>
kbus::message method(const kbus::connection& to, std::string_view path, std::string_view iface, std::string_view member,
                     const Args&... args) {
  auto b = kbus::message_builder::method_call(kbus::bus_name(to.unique_name()), kbus::object_path(path),
                                              kbus::interface_name::unchecked(""), kbus::member_name(member));
  if (!iface.empty()) b.interface(kbus::interface_name(iface));
  return b.build(args...);
}

std::string error_of(const kbus::message& m) { return std::string(m.error_name()); }

class ObjectServer : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    service_.emplace(io_.get_executor());
    client_.emplace(io_.get_executor());
    server_.emplace(*service_);
    service_->async_connect(bus_->address(), boost::asio::use_future).get();
    client_->async_connect(bus_->address(), boost::asio::use_future).get();
  }
  void TearDown() override {
    // Everything that runs on the loop is stopped and destroyed while the loop runs.
    server_.reset();
    if (client_) client_->close();
    if (service_) service_->close();
    client_.reset();
    service_.reset();
    bus_test::TearDown();
  }

  // The signals the client receives for `rule`.
  void watch(const std::string& rule) {
    // Only what the rule selects: the bus's own signals (NameAcquired) may still be on their way.
    client_->set_message_handler([this, r = kbus::match_rule::parse(rule).value()](kbus::message& m) {
      if (m.type() != kbus::message_type::signal || !r.matches(m)) return;
      std::lock_guard lock(mu_);
      signals_.push_back(std::move(m));
      cv_.notify_all();
    });
    kbus::bus::async_add_match(*client_, rule, boost::asio::use_future).get();
  }
  // Waits for the n-th signal (from 0); nullptr after the deadline.
  const kbus::message* signal_at(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return signals_.size() > n; });
    return signals_.size() > n ? &signals_[n] : nullptr;
  }
  std::size_t signal_count() {
    std::lock_guard lock(mu_);
    return signals_.size();
  }

  std::optional<kbus::connection> service_, client_;
  std::optional<kbus::object_server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<kbus::message> signals_;
};

TEST_P(ObjectServer, TypedMethodsAndEveryErrorName) {
  std::string seen_sender;
  auto iface =
      kbus::interface_definition("org.kbus.Test1"_iface)
          .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; })
          .method("Split"_member,
                  [](const std::string& s) { return std::tuple<std::string, std::uint32_t>{s.substr(0, 1), s.size()}; })
          .method("Nothing"_member, [] {})
          .method("Who"_member, [&](const kbus::call_context& ctx) { return std::string(ctx.sender()); })
          .method("Throw"_member, []() -> std::int32_t { throw kbus::dbus_exception("org.kbus.Test1.Error.Thrown", "thrown"); })
          .method("Crash"_member, []() -> std::int32_t { throw std::runtime_error("plain exception"); })
          .method("Deny"_member,
                  [](const kbus::call_context& ctx) -> kbus::method_result<std::int32_t> {
                    return kbus::dbus_error{std::string(kbus::dbus_errors::access_denied), "not for " + std::string(ctx.sender())};
                  })
          .method("Struct"_member, [](std::map<std::string, kbus::variant> m) { return m.size(); });
  ASSERT_TRUE(server_->add("/org/kbus/Test"_path, iface));
  // The same interface twice, or a standard interface, is refused.
  EXPECT_FALSE(server_->add("/org/kbus/Test"_path, iface));
  EXPECT_FALSE(server_->add("/org/kbus/Test"_path, kbus::interface_definition("org.freedesktop.DBus.Peer"_iface)));

  auto& s = *service_;
  auto& c = *client_;
  auto r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Add", std::int32_t{2}, std::int32_t{40}));
  EXPECT_EQ(std::get<0>(r.read<std::int32_t>().value()), 42);
  // Without an interface, the member is found in the object's interfaces.
  r = call(c, method(s, "/org/kbus/Test", "", "Add", std::int32_t{-2}, std::int32_t{1}));
  EXPECT_EQ(std::get<0>(r.read<std::int32_t>().value()), -1);
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Split", std::string("kbus")));
  EXPECT_EQ(r.signature(), "su");
  EXPECT_EQ((r.read<std::string, std::uint32_t>().value()), (std::tuple<std::string, std::uint32_t>{"k", 4}));
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Nothing"));
  EXPECT_EQ(r.type(), kbus::message_type::method_return);
  EXPECT_EQ(r.signature(), "");
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Who"));
  EXPECT_EQ(std::get<0>(r.read<std::string>().value()), c.unique_name());
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Struct",
                     std::map<std::string, kbus::variant>{{"a", kbus::variant(1)}, {"b", kbus::variant(true)}}));
  EXPECT_EQ(std::get<0>(r.read<std::uint64_t>().value()), 2u);

  // Errors: thrown, returned, plain exceptions, and the specification's names.
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Throw"));
  EXPECT_EQ(error_of(r), "org.kbus.Test1.Error.Thrown");
  EXPECT_EQ(kbus::dbus_error_of(r).message, "thrown");
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Crash"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::failed);
  EXPECT_EQ(kbus::dbus_error_of(r).message, "plain exception");
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Deny"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::access_denied);
  EXPECT_EQ(kbus::dbus_error_of(r).message, "not for " + c.unique_name());
  r = call(c, method(s, "/org/kbus/Nowhere", "org.kbus.Test1", "Add", std::int32_t{1}, std::int32_t{2}));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_object);
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Other", "Add", std::int32_t{1}, std::int32_t{2}));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_interface);
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Subtract", std::int32_t{1}, std::int32_t{2}));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_method);
  r = call(c, method(s, "/org/kbus/Test", "", "Subtract"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_method);
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Add", std::string("2"), std::int32_t{2}));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::invalid_args);
  EXPECT_NE(kbus::dbus_error_of(r).message.find("'si'"), std::string::npos) << kbus::dbus_error_of(r).message;
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Add", std::int32_t{2}));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::invalid_args);

  // The same names as a real peer sees them (peers reach a bus through its socket: not the
  // in-process kbusd).
  if (have("/usr/bin/busctl") && !kbus::test::speaks_kdbus(bus_->kind())) {
    const std::string bc = "busctl --address='" + bus_->address() + "' call " + s.unique_name() + " /org/kbus/Test ";
    auto out = run(bc + "org.kbus.Test1 Deny");
    EXPECT_NE(out.status, 0);
    EXPECT_EQ(out.out, "Call failed: Access denied");  // busctl maps the name to EACCES
    EXPECT_EQ(run(bc + "org.kbus.Test1 Split s hello").out, "su \"h\" 5");
    out = run("busctl --address='" + bus_->address() + "' --verbose call " + s.unique_name() +
              " /org/kbus/Test org.kbus.Test1 Throw 2>&1; echo; dbus-send --bus='" + bus_->address() + "' --print-reply --dest=" +
              s.unique_name() + " /org/kbus/Test org.kbus.Test1.Deny");
    EXPECT_NE(out.out.find("thrown"), std::string::npos) << out.out;
    EXPECT_NE(out.out.find("org.freedesktop.DBus.Error.AccessDenied"), std::string::npos) << out.out;
  }

  // Removed: the object is gone.
  EXPECT_TRUE(server_->remove("/org/kbus/Test"_path));
  EXPECT_FALSE(server_->remove("/org/kbus/Test"_path));
  r = call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Nothing"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_object);
}

TEST_P(ObjectServer, SeveralServersAndTheApplicationsHandlerShareOneConnection) {
  // A second server on the same connection, and the application's own handler after both.
  std::optional<kbus::object_server> second;
  second.emplace(*service_);
  auto answer = [](std::string who) {
    return kbus::interface_definition("org.kbus.Who1"_iface).method("Name"_member, [who] { return who; });
  };
  ASSERT_TRUE(server_->add("/org/kbus/First"_path, answer("first")));
  ASSERT_TRUE(second->add("/org/kbus/Second"_path, answer("second")));
  std::promise<std::string> unclaimed;
  service_->set_message_handler([&, once = std::make_shared<std::once_flag>()](kbus::message& m) {
    if (m.type() != kbus::message_type::method_call) return;
    std::call_once(*once, [&] { unclaimed.set_value(std::string(m.path())); });
    service_->send(kbus::message_builder::method_return(m).build(std::string("application")));
  });

  auto& s = *service_;
  auto& c = *client_;
  auto name_at = [&](std::string_view path) {
    auto r = call(c, method(s, path, "org.kbus.Who1", "Name"));
    return r.type() == kbus::message_type::method_return ? std::get<0>(r.read<std::string>().value()) : error_of(r);
  };
  EXPECT_EQ(name_at("/org/kbus/First"), "first");
  EXPECT_EQ(name_at("/org/kbus/Second"), "second");
  EXPECT_EQ(name_at("/org/kbus/Elsewhere"), "application");
  EXPECT_EQ(unclaimed.get_future().get(), "/org/kbus/Elsewhere");

  // A server that goes takes only its own objects with it.
  second.reset();
  EXPECT_EQ(name_at("/org/kbus/First"), "first");
  EXPECT_EQ(name_at("/org/kbus/Second"), "application");
}

TEST_P(ObjectServer, AsynchronousAndCoroutineHandlersDoNotBlockOtherCalls) {
  auto& io = io_;
  std::vector<std::string> order;  // touched only on the loop's thread
  auto iface =
      kbus::interface_definition("org.kbus.Test1"_iface)
          .method("Later"_member,
                  [&](kbus::async_reply<std::string> reply, std::uint32_t ms) {
                    order.push_back("later " + std::to_string(ms));
                    auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(ms));
                    t->async_wait([t, reply, ms](error_code) { reply.reply("after " + std::to_string(ms)); });
                  })
          .method("Coro"_member,
                  [&](std::uint32_t ms) -> boost::asio::awaitable<std::uint32_t> {
                    order.push_back("coro " + std::to_string(ms));
                    boost::asio::steady_timer t(io, std::chrono::milliseconds(ms));
                    co_await t.async_wait(boost::asio::use_awaitable);
                    co_return ms * 2;
                  })
          .method("CoroFail"_member,
                  [&]() -> boost::asio::awaitable<void> {
                    co_await boost::asio::post(io, boost::asio::use_awaitable);
                    throw kbus::dbus_exception("org.kbus.Test1.Error.Coro", "failed in a coroutine");
                  })
          .method("Drop"_member, [](kbus::async_reply<> reply) { (void)reply; })
          .method("Quick"_member, [&] { order.push_back("quick"); });
  ASSERT_TRUE(server_->add("/org/kbus/Test"_path, iface));

  auto& c = *client_;
  auto later = c.async_call(method(*service_, "/org/kbus/Test", "org.kbus.Test1", "Later", std::uint32_t{1500}),
                            boost::asio::use_future);
  auto coro = c.async_call(method(*service_, "/org/kbus/Test", "org.kbus.Test1", "Coro", std::uint32_t{1200}),
                           boost::asio::use_future);
  const auto start = std::chrono::steady_clock::now();
  auto quick = c.async_call(method(*service_, "/org/kbus/Test", "org.kbus.Test1", "Quick"), boost::asio::use_future).get();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(std::get<0>(later.get().read<std::string>().value()), "after 1500");
  EXPECT_EQ(std::get<0>(coro.get().read<std::uint32_t>().value()), 2400u);
  // Started in the order they arrived.
  boost::asio::post(io, boost::asio::use_future).get();
  EXPECT_EQ(order, (std::vector<std::string>{"later 1500", "coro 1200", "quick"}));

  auto r = call(c, method(*service_, "/org/kbus/Test", "org.kbus.Test1", "CoroFail"));
  EXPECT_EQ(error_of(r), "org.kbus.Test1.Error.Coro");
  EXPECT_EQ(kbus::dbus_error_of(r).message, "failed in a coroutine");
  // A handler that drops its reply does not leave the caller waiting for the timeout.
  r = call(c, method(*service_, "/org/kbus/Test", "org.kbus.Test1", "Drop"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::failed);
}

TEST_P(ObjectServer, PropertiesAndOnePropertiesChangedForChangesMadeTogether) {
  std::string label = "start";
  std::int32_t level = 1;
  std::string secret;
  auto iface =
      kbus::interface_definition("org.kbus.Test1"_iface)
          .property("Label"_member, [&] { return label; }, [&](std::string s) { label = std::move(s); })
          .property("Level"_member, [&] { return level; },
                    [&](std::int32_t v) -> kbus::method_result<void> {
                      if (v < 0) return kbus::dbus_error{std::string(kbus::dbus_errors::access_denied), "negative levels are not allowed"};
                      level = v;
                      return {};
                    },
                    {.emits_changed = kbus::emits_changed::invalidates})
          .property("Fixed"_member, [] { return std::string("fixed"); }, {.emits_changed = kbus::emits_changed::constant})
          .property("Quiet"_member, [] { return 7u; }, {.emits_changed = kbus::emits_changed::no})
          .write_only_property<std::string>("Secret"_member, [&](std::string s) { secret = std::move(s); })
          .method("Bump"_member, [&] {
            label += "!";
            ++level;
            (void)server_->property_changed("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Label"_member);
            (void)server_->property_changed("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Level"_member);
            (void)server_->property_changed("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Quiet"_member);
          });
  ASSERT_TRUE(server_->add("/org/kbus/Test"_path, iface));
  watch("type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'");

  auto& s = *service_;
  auto& c = *client_;
  const char* props = "org.freedesktop.DBus.Properties";
  auto get = [&](const char* name) {
    return call(c, method(s, "/org/kbus/Test", props, "Get", std::string("org.kbus.Test1"), std::string(name)));
  };
  EXPECT_EQ(std::get<0>(get("Label").read<kbus::variant>().value()), kbus::variant(std::string("start")));
  EXPECT_EQ(std::get<0>(get("Fixed").read<kbus::variant>().value()), kbus::variant(std::string("fixed")));
  EXPECT_EQ(error_of(get("Missing")), kbus::dbus_errors::unknown_property);
  EXPECT_EQ(error_of(get("Secret")), kbus::dbus_errors::access_denied);
  auto r = call(c, method(s, "/org/kbus/Test", props, "Get", std::string("org.kbus.Nope"), std::string("Label")));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_interface);
  r = call(c, method(s, "/org/kbus/Test", props, "Get", std::string("org.kbus.Test1")));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::invalid_args);

  auto set = [&](const char* name, kbus::variant v) {
    return call(c, method(s, "/org/kbus/Test", props, "Set", std::string("org.kbus.Test1"), std::string(name), v));
  };
  EXPECT_EQ(set("Label", kbus::variant(std::string("set by a peer"))).type(), kbus::message_type::method_return);
  EXPECT_EQ(label, "set by a peer");
  EXPECT_EQ(error_of(set("Fixed", kbus::variant(std::string("x")))), kbus::dbus_errors::property_read_only);
  EXPECT_EQ(error_of(set("Label", kbus::variant(std::int32_t{3}))), kbus::dbus_errors::invalid_args);
  EXPECT_EQ(error_of(set("Level", kbus::variant(std::int32_t{-3}))), kbus::dbus_errors::access_denied);
  EXPECT_EQ(error_of(set("Nope", kbus::variant(std::int32_t{-3}))), kbus::dbus_errors::unknown_property);
  EXPECT_EQ(set("Secret", kbus::variant(std::string("psst"))).type(), kbus::message_type::method_return);
  EXPECT_EQ(secret, "psst");

  r = call(c, method(s, "/org/kbus/Test", props, "GetAll", std::string("org.kbus.Test1")));
  auto [all] = r.read<std::map<std::string, kbus::variant>>().value();
  EXPECT_EQ(all.size(), 4u);  // not the write-only one
  EXPECT_EQ(all["Label"], kbus::variant(std::string("set by a peer")));
  EXPECT_EQ(all["Quiet"], kbus::variant(7u));

  // The Set by a peer was announced (EmitsChangedSignal true: with its value).
  const kbus::message* first = signal_at(0);
  ASSERT_NE(first, nullptr);
  {
    auto [i, changed, invalidated] =
        first->read<std::string, std::map<std::string, kbus::variant>, std::vector<std::string>>().value();
    EXPECT_EQ(i, "org.kbus.Test1");
    EXPECT_EQ(changed, (std::map<std::string, kbus::variant>{{"Label", kbus::variant(std::string("set by a peer"))}}));
    EXPECT_TRUE(invalidated.empty());
    EXPECT_EQ(first->path(), "/org/kbus/Test");
  }
  // A write-only property can only be named as invalidated.
  const kbus::message* secret_changed = signal_at(1);
  ASSERT_NE(secret_changed, nullptr);
  EXPECT_EQ(std::get<2>(secret_changed->read<std::string, std::map<std::string, kbus::variant>, std::vector<std::string>>().value()),
            std::vector<std::string>{"Secret"});
  // Two changes made together: one signal, Label with its value, Level invalidated, Quiet not at all.
  call(c, method(s, "/org/kbus/Test", "org.kbus.Test1", "Bump"));
  const kbus::message* second = signal_at(2);
  ASSERT_NE(second, nullptr);
  auto [i, changed, invalidated] =
      second->read<std::string, std::map<std::string, kbus::variant>, std::vector<std::string>>().value();
  EXPECT_EQ(changed, (std::map<std::string, kbus::variant>{{"Label", kbus::variant(std::string("set by a peer!"))}}));
  EXPECT_EQ(invalidated, std::vector<std::string>{"Level"});
  // No fourth signal follows: the service answers a Ping after whatever it emitted for Bump (its
  // emissions are posted before the Ping is read), and the bus keeps a sender's order, so
  // once the reply is here any such signal would be too.
  call(c, method(s, "/org/kbus/Test", kbus::dbus_names::peer_interface, "Ping"));
  EXPECT_EQ(signal_count(), 3u);

  // A constant property cannot change; an unknown one is refused.
  EXPECT_FALSE(server_->property_changed("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Fixed"_member));
  EXPECT_FALSE(server_->property_changed("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Missing"_member));
}

TEST_P(ObjectServer, IntrospectionPeerAndStandardInterfaces) {
  auto iface = kbus::interface_definition("org.kbus.Test1"_iface)
                   .method("Add"_member, [](std::int32_t a, std::int32_t b) { return a + b; },
                           {.in_names = {"a", "b"}, .out_names = {"sum"}, .deprecated = true})
                   .method("Fire"_member, [] {}, {.no_reply = true})
                   .signal<std::string, kbus::object_path>("Changed"_member, {.names = {"what", "where"}})
                   .property("Label"_member, [] { return std::string("x"); }, [](std::string) {},
                             {.emits_changed = kbus::emits_changed::invalidates})
                   .annotate("org.kbus.Note", "a \"quoted\" <note> & more");
  ASSERT_TRUE(server_->add("/org/kbus/Test/a"_path, iface));
  ASSERT_TRUE(server_->add("/org/kbus/Test/b/deep"_path, iface));
  ASSERT_TRUE(server_->add("/org/kbus/Test"_path, iface));

  auto& s = *service_;
  auto& c = *client_;
  auto introspect = [&](const char* path) {
    auto r = call(c, method(s, path, "org.freedesktop.DBus.Introspectable", "Introspect"));
    EXPECT_EQ(r.type(), kbus::message_type::method_return) << path << ": " << kbus::dbus_error_of(r).message;
    return kbus::introspection::parse(std::get<0>(r.read<std::string>().value()));
  };
  auto node = introspect("/org/kbus/Test");
  ASSERT_TRUE(node) << node.error().what();
  std::vector<std::string> names;
  for (const auto& i : node->interfaces) names.push_back(i.name);
  EXPECT_EQ(names, (std::vector<std::string>{"org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
                                             "org.freedesktop.DBus.Properties", "org.kbus.Test1"}));
  const auto* t = node->find_interface("org.kbus.Test1");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t, iface.description());
  EXPECT_EQ(t->find_method("Add")->in_signature(), "ii");
  EXPECT_EQ(t->find_method("Add")->out_signature(), "i");
  EXPECT_EQ(t->find_method("Add")->args[2].name, "sum");
  EXPECT_EQ(kbus::introspection::find_annotation(t->find_method("Add")->annotations, "org.freedesktop.DBus.Deprecated"), "true");
  EXPECT_EQ(kbus::introspection::find_annotation(t->find_method("Fire")->annotations, "org.freedesktop.DBus.Method.NoReply"),
            "true");
  EXPECT_EQ(t->find_signal("Changed")->signature(), "so");
  EXPECT_EQ(t->find_property("Label")->access, kbus::introspection::access::readwrite);
  EXPECT_EQ(kbus::introspection::find_annotation(t->find_property("Label")->annotations,
                                                 "org.freedesktop.DBus.Property.EmitsChangedSignal"),
            "invalidates");
  EXPECT_EQ(kbus::introspection::find_annotation(t->annotations, "org.kbus.Note"), "a \"quoted\" <note> & more");
  ASSERT_EQ(node->children.size(), 2u);
  EXPECT_EQ(node->children[0].name, "a");
  EXPECT_EQ(node->children[1].name, "b");

  // Nodes between objects list their children; the root too.
  auto root = introspect("/");
  ASSERT_TRUE(root);
  ASSERT_EQ(root->children.size(), 1u);
  EXPECT_EQ(root->children[0].name, "org");
  auto b = introspect("/org/kbus/Test/b");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->interfaces.empty());
  ASSERT_EQ(b->children.size(), 1u);
  EXPECT_EQ(b->children[0].name, "deep");
  auto r = call(c, method(s, "/org/kbus/None", "org.freedesktop.DBus.Introspectable", "Introspect"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_object);

  // Peer: on any path.
  r = call(c, method(s, "/org/kbus/None", "org.freedesktop.DBus.Peer", "Ping"));
  EXPECT_EQ(r.type(), kbus::message_type::method_return);
  r = call(c, method(s, "/", "org.freedesktop.DBus.Peer", "GetMachineId"));
  ASSERT_EQ(r.type(), kbus::message_type::method_return) << kbus::dbus_error_of(r).message;
  const auto id = std::get<0>(r.read<std::string>().value());
  EXPECT_EQ(id.size(), 32u);
  std::string expected;
  std::ifstream("/etc/machine-id") >> expected;
  if (expected.empty()) std::ifstream("/var/lib/dbus/machine-id") >> expected;
  EXPECT_EQ(id, expected);
  r = call(c, method(s, "/", "org.freedesktop.DBus.Peer", "Pong"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_method);
  // No ObjectManager here.
  r = call(c, method(s, "/org/kbus/Test", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_interface);
}

TEST_P(ObjectServer, ArgumentAnnotationsMoveOnlyArgumentsAndVariantProperties) {
  std::string taken;  // set on the loop, read after the reply
  kbus::variant any(std::int32_t{1});
  auto iface =
      kbus::interface_definition("org.kbus.Test1"_iface)
          // A unix_fd (move-only) and a string taken by value, a vector by non-const reference.
          .method("Take"_member,
                  [&](kbus::unix_fd fd, std::string s, std::vector<std::string>& v) {
                    taken = s + (fd.get() >= 0 ? " fd" : " no fd") + " " + std::to_string(v.size());
                  },
                  {.in_names = {"fd", "s", "v"},
                   .in_annotations = {{{"org.kbus.Note", "the fd"}}, {}, {{"org.kbus.Container", "std::deque"}}}})
          .signal<std::string>("Said"_member, {.names = {"what"}, .arg_annotations = {{{"org.kbus.Note", "said"}}}})
          // A property of type 'v' is the variant itself, read and written.
          .property("Any"_member, [&] { return any; }, [&](kbus::variant v) { any = std::move(v); });
  ASSERT_TRUE(server_->add("/org/kbus/Test"_path, iface));

  auto r = call(*client_, method(*service_, "/org/kbus/Test", "org.freedesktop.DBus.Introspectable", "Introspect"));
  auto node = kbus::introspection::parse(std::get<0>(r.read<std::string>().value())).value();
  const auto* i = node.find_interface("org.kbus.Test1");
  ASSERT_NE(i, nullptr);
  const auto& take = *i->find_method("Take");
  ASSERT_EQ(take.args.size(), 3u);
  EXPECT_EQ(take.args[0].annotations, (std::vector<kbus::introspection::annotation>{{"org.kbus.Note", "the fd"}}));
  EXPECT_TRUE(take.args[1].annotations.empty());
  EXPECT_EQ(kbus::introspection::find_annotation(take.args[2].annotations, "org.kbus.Container"), "std::deque");
  EXPECT_EQ(kbus::introspection::find_annotation(i->find_signal("Said")->args[0].annotations, "org.kbus.Note"), "said");

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  auto take_call = method(*service_, "/org/kbus/Test", "org.kbus.Test1", "Take", kbus::unix_fd(fds[0]), std::string("taken"),
                          std::vector<std::string>{"a", "b"});
  if (client_->info().unix_fd_passing) {
    auto reply = call(*client_, std::move(take_call));
    EXPECT_EQ(reply.type(), kbus::message_type::method_return) << kbus::dbus_error_of(reply).message;
    EXPECT_EQ(taken, "taken fd 2");
  } else {
    // CUSE passes no files: the call is refused before it leaves, and the service sees nothing.
    std::promise<error_code> refused;
    client_->async_call(std::move(take_call), [&](error_code ec, kbus::message) { refused.set_value(ec); });
    EXPECT_EQ(refused.get_future().get(), kbus::make_error_code(kbus::connection_errc::fds_not_supported));
    EXPECT_EQ(taken, "");
  }

  auto set = call(*client_, method(*service_, "/org/kbus/Test", "org.freedesktop.DBus.Properties", "Set",
                                   std::string("org.kbus.Test1"), std::string("Any"), kbus::variant(std::string("now a string"))));
  EXPECT_EQ(set.type(), kbus::message_type::method_return) << kbus::dbus_error_of(set).message;
  auto get = call(*client_, method(*service_, "/org/kbus/Test", "org.freedesktop.DBus.Properties", "Get",
                                   std::string("org.kbus.Test1"), std::string("Any")));
  EXPECT_EQ(std::get<0>(get.read<kbus::variant>().value()), kbus::variant(std::string("now a string")));
}

TEST_P(ObjectServer, ObjectManagerAndSubtrees) {
  ASSERT_TRUE(server_->add_object_manager("/org/kbus/Test"_path));
  watch("type='signal',interface='org.freedesktop.DBus.ObjectManager'");
  auto item = [](std::string name) {
    return kbus::interface_definition("org.kbus.Item1"_iface).property("Name"_member, [name] { return name; });
  };
  ASSERT_TRUE(server_->add("/org/kbus/Test/one"_path, item("one")));
  ASSERT_TRUE(server_->add("/org/kbus/Test/two"_path, item("two")));
  ASSERT_TRUE(server_->add("/org/kbus/Elsewhere"_path, item("elsewhere")));  // not managed

  using managed = std::map<kbus::object_path, std::map<std::string, std::map<std::string, kbus::variant>>>;
  auto r = call(*client_, method(*service_, "/org/kbus/Test", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
  auto [objects] = r.read<managed>().value();
  EXPECT_EQ(objects, (managed{{"/org/kbus/Test/one"_path, {{"org.kbus.Item1", {{"Name", kbus::variant(std::string("one"))}}}}},
                              {"/org/kbus/Test/two"_path, {{"org.kbus.Item1", {{"Name", kbus::variant(std::string("two"))}}}}}}));

  const auto* added = signal_at(0);
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->member(), "InterfacesAdded");
  EXPECT_EQ(added->path(), "/org/kbus/Test");
  auto [path, ifaces] = added->read<kbus::object_path, std::map<std::string, std::map<std::string, kbus::variant>>>().value();
  EXPECT_EQ(path, "/org/kbus/Test/one"_path);
  EXPECT_EQ(ifaces["org.kbus.Item1"]["Name"], kbus::variant(std::string("one")));
  ASSERT_NE(signal_at(1), nullptr);
  EXPECT_TRUE(server_->remove("/org/kbus/Test/one"_path));
  const auto* removed = signal_at(2);
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ(removed->member(), "InterfacesRemoved");
  EXPECT_EQ((removed->read<kbus::object_path, std::vector<std::string>>().value()),
            (std::tuple<kbus::object_path, std::vector<std::string>>{"/org/kbus/Test/one"_path, {"org.kbus.Item1"}}));

  // A subtree: objects that exist only when asked for.
  std::atomic<int> lookups{0};
  kbus::subtree_handler h;
  h.lookup = [&](const kbus::object_path& p) -> std::vector<kbus::interface_definition> {
    ++lookups;
    const std::string_view leaf = p.view().substr(p.view().rfind('/') + 1);
    if (!leaf.starts_with("n")) return {};
    return {kbus::interface_definition("org.kbus.Dyn1"_iface).method("Where"_member, [leaf = std::string(leaf)] { return leaf; })};
  };
  h.children = [](const kbus::object_path& p) -> std::vector<std::string> {
    if (p.view() == "/org/kbus/Dyn") return {"n1", "n2"};
    return {};
  };
  ASSERT_TRUE(server_->add_subtree("/org/kbus/Dyn"_path, h));
  r = call(*client_, method(*service_, "/org/kbus/Dyn/n42", "org.kbus.Dyn1", "Where"));
  EXPECT_EQ(std::get<0>(r.read<std::string>().value()), "n42");
  r = call(*client_, method(*service_, "/org/kbus/Dyn/x1", "org.kbus.Dyn1", "Where"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_object);
  r = call(*client_, method(*service_, "/org/kbus/Dyn", "org.freedesktop.DBus.Introspectable", "Introspect"));
  auto node = kbus::introspection::parse(std::get<0>(r.read<std::string>().value())).value();
  ASSERT_EQ(node.children.size(), 2u);
  EXPECT_EQ(node.children[1].name, "n2");
  r = call(*client_, method(*service_, "/org/kbus/Dyn/n2", "org.freedesktop.DBus.Introspectable", "Introspect"));
  node = kbus::introspection::parse(std::get<0>(r.read<std::string>().value())).value();
  EXPECT_NE(node.find_interface("org.kbus.Dyn1"), nullptr);
  EXPECT_GE(lookups.load(), 3);
  // Not listed by a manager until the subtree can enumerate its objects.
  ASSERT_TRUE(server_->add_object_manager("/org/kbus"_path));
  auto listed = [&] {
    auto reply = call(*client_, method(*service_, "/org/kbus", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
    std::vector<std::string> paths;
    auto [objects] = reply.read<managed>().value();
    for (const auto& [p, ifaces] : objects)
      paths.push_back(p.str() + ":" + (ifaces.empty() ? "" : ifaces.begin()->first));
    return paths;
  };
  EXPECT_EQ(listed(), (std::vector<std::string>{"/org/kbus/Elsewhere:org.kbus.Item1", "/org/kbus/Test/two:org.kbus.Item1"}));
  ASSERT_TRUE(server_->remove_subtree("/org/kbus/Dyn"_path));
  h.enumerate = [](const kbus::object_path&) -> std::vector<kbus::object_path> {
    // x9 has no interfaces (no object); /org/kbus/Other is outside the subtree.
    return {"/org/kbus/Dyn/n1"_path, "/org/kbus/Dyn/n2"_path, "/org/kbus/Dyn/x9"_path, "/org/kbus/Other/n3"_path};
  };
  ASSERT_TRUE(server_->add_subtree("/org/kbus/Dyn"_path, h));
  EXPECT_EQ(listed(), (std::vector<std::string>{"/org/kbus/Dyn/n1:org.kbus.Dyn1", "/org/kbus/Dyn/n2:org.kbus.Dyn1",
                                                "/org/kbus/Elsewhere:org.kbus.Item1", "/org/kbus/Test/two:org.kbus.Item1"}));
  EXPECT_TRUE(server_->remove_subtree("/org/kbus/Dyn"_path));
  r = call(*client_, method(*service_, "/org/kbus/Dyn/n42", "org.kbus.Dyn1", "Where"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_object);
}

TEST_P(ObjectServer, HandlersMayRegisterEmitAndCallWithoutDeadlock) {
  auto& server = *server_;
  auto& service = *service_;
  auto iface =
      kbus::interface_definition("org.kbus.Test1"_iface)
          .signal<std::string>("Made"_member)
          .method("Make"_member,
                  [&](const std::string& leaf) -> kbus::method_result<kbus::object_path> {
                    kbus::object_path p("/org/kbus/Test/" + leaf);
                    auto child = kbus::interface_definition("org.kbus.Child1"_iface)
                                     .method("RemoveSelf"_member, [&server, p] { return server.remove(p); });
                    if (auto ok = server.add(p, child); !ok)
                      return kbus::dbus_error{std::string(kbus::dbus_errors::failed), ok.error().message};
                    if (auto ok = server.emit("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Made"_member, leaf); !ok)
                      return kbus::dbus_error{std::string(kbus::dbus_errors::failed), ok.error().message};
                    return p;
                  })
          // Calls the bus from inside a handler, and answers with what it said.
          .method("BusId"_member, [&](kbus::async_reply<std::string> reply) {
            kbus::bus::async_get_id(service, [reply](error_code ec, std::string id) {
              if (ec) reply.fail({std::string(kbus::dbus_errors::failed), ec.message()});
              else reply.reply(id);
            });
          })
          .method("CoBusId"_member, [&]() -> boost::asio::awaitable<std::string> {
            co_return co_await kbus::bus::async_get_id(service, boost::asio::use_awaitable);
          });
  ASSERT_TRUE(server.add("/org/kbus/Test"_path, iface));
  watch("type='signal',interface='org.kbus.Test1'");
  // Signals are checked against the declaration.
  EXPECT_FALSE(server.emit("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Made"_member, std::int32_t{1}));
  EXPECT_FALSE(server.emit("/org/kbus/Test"_path, "org.kbus.Test1"_iface, "Unmade"_member, std::string()));

  auto r = call(*client_, method(service, "/org/kbus/Test", "org.kbus.Test1", "Make", std::string("kid")));
  EXPECT_EQ(std::get<0>(r.read<kbus::object_path>().value()), "/org/kbus/Test/kid"_path);
  const auto* made = signal_at(0);
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(std::get<0>(made->read<std::string>().value()), "kid");
  r = call(*client_, method(service, "/org/kbus/Test/kid", "org.kbus.Child1", "RemoveSelf"));
  EXPECT_EQ(std::get<0>(r.read<bool>().value()), true);
  r = call(*client_, method(service, "/org/kbus/Test/kid", "org.kbus.Child1", "RemoveSelf"));
  EXPECT_EQ(error_of(r), kbus::dbus_errors::unknown_object);

  auto id = kbus::bus::async_get_id(*client_, boost::asio::use_future).get();
  r = call(*client_, method(service, "/org/kbus/Test", "org.kbus.Test1", "BusId"));
  EXPECT_EQ(std::get<0>(r.read<std::string>().value()), id);
  r = call(*client_, method(service, "/org/kbus/Test", "org.kbus.Test1", "CoBusId"));
  EXPECT_EQ(std::get<0>(r.read<std::string>().value()), id);

  // Calls to one object are handled in the order they arrive.
  std::vector<std::int32_t> seen;
  ASSERT_TRUE(server.add("/org/kbus/Order"_path, kbus::interface_definition("org.kbus.Order1"_iface)
                                                     .method("Take"_member, [&](std::int32_t n) { seen.push_back(n); })));
  std::vector<std::future<kbus::message>> pending;
  for (std::int32_t n = 0; n < 200; ++n)
    pending.push_back(client_->async_call(method(service, "/org/kbus/Order", "org.kbus.Order1", "Take", n), boost::asio::use_future));
  for (auto& f : pending) f.get();
  ASSERT_EQ(seen.size(), 200u);
  for (std::int32_t n = 0; n < 200; ++n) EXPECT_EQ(seen[static_cast<std::size_t>(n)], n);
}

// ---- real peers against kbus-demo-service ----

class DemoService : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    demo_.emplace(std::vector<std::string>{std::string(KBUS_BINARY_DIR) + "/tools/kbus-demo-service", "--address",
                                           bus_->address()});
    ASSERT_EQ(demo_->read_line(), "READY\n");
  }
  std::string a() const { return bus_->address(); }
  std::optional<child_process> demo_;
};

TEST_P(DemoService, GdbusAndBusctlReadItsIntrospection) {
  if (!have("/usr/bin/gdbus") || !have("/usr/bin/busctl")) GTEST_SKIP() << "gdbus or busctl missing";
  auto r = run("gdbus introspect --address '" + a() + "' --dest org.kbus.Demo --object-path /org/kbus/Demo");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* want :
       {"interface org.kbus.Demo1 {", "Add(in  i a,", "out i sum);", "Sleep(in  u milliseconds,", "Tick(u count);",
        "readonly u Counter", "readwrite s Label = 'kbus';", "@org.freedesktop.DBus.Property.EmitsChangedSignal(\"const\")",
        "readonly s Version = '1.0';", "interface org.freedesktop.DBus.ObjectManager {", "interface org.freedesktop.DBus.Peer {"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;

  r = run("gdbus call --address '" + a() + "' --dest org.kbus.Demo --object-path /org/kbus/Demo --method org.kbus.Demo1.AddItem first");
  EXPECT_EQ(r.out, "(objectpath '/org/kbus/Demo/items/1',)");
  r = run("busctl --address='" + a() + "' tree org.kbus.Demo");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("/org/kbus/Demo/items/1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("└─/org/kbus/Demo/items"), std::string::npos) << r.out;
  r = run("busctl --address='" + a() + "' introspect org.kbus.Demo /org/kbus/Demo/items/1");
  EXPECT_NE(r.out.find("org.kbus.Demo1.Item"), std::string::npos) << r.out;
  EXPECT_TRUE(has_row(r.out, ".Name property s \"first\" const")) << r.out;
  r = run("busctl --address='" + a() + "' introspect org.kbus.Demo /org/kbus/Demo org.kbus.Demo1");
  EXPECT_TRUE(has_row(r.out, ".Label property s \"kbus\" emits-change writable")) << r.out;
  EXPECT_TRUE(has_row(r.out, ".Counter property u")) << r.out;
  EXPECT_TRUE(has_row(r.out, ".Tick signal u - -")) << r.out;
  EXPECT_TRUE(has_row(r.out, ".Sleep method u u -")) << r.out;
  r = run("gdbus introspect --recurse --address '" + a() + "' --dest org.kbus.Demo --object-path /");
  EXPECT_NE(r.out.find("node /org/kbus/Demo/items/1 {"), std::string::npos) << r.out;
}

TEST_P(DemoService, EveryStandardInterfaceAndErrorNameThroughPeers) {
  if (!have("/usr/bin/busctl") || !have("/usr/bin/dbus-send")) GTEST_SKIP() << "busctl or dbus-send missing";
  const std::string bc = "busctl --address='" + a() + "' ";
  const std::string ds = "dbus-send --bus='" + a() + "' --print-reply --dest=org.kbus.Demo ";
  EXPECT_EQ(run(bc + "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Add ii 40 2").out, "i 42");
  EXPECT_EQ(run(bc + "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Echo v as 2 x y").out, "v as 2 \"x\" \"y\"");
  EXPECT_EQ(run(bc + "call org.kbus.Demo /org/kbus/Demo org.freedesktop.DBus.Peer Ping").status, 0);
  auto id = run(bc + "call org.kbus.Demo / org.freedesktop.DBus.Peer GetMachineId");
  EXPECT_EQ(id.out.size(), 36u) << id.out;
  EXPECT_EQ(run(bc + "get-property org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Version").out, "s \"1.0\"");
  EXPECT_EQ(run(bc + "set-property org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Label s changed").status, 0);
  EXPECT_EQ(run(bc + "get-property org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Label").out, "s \"changed\"");
  auto all = run(ds + "/org/kbus/Demo org.freedesktop.DBus.Properties.GetAll string:org.kbus.Demo1");
  EXPECT_NE(all.out.find("string \"Version\"\n         variant             string \"1.0\""), std::string::npos) << all.out;

  auto fails = [&](const std::string& args, const std::string& name) {
    auto r = run(ds + args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(name), std::string::npos) << args << ": " << r.out;
  };
  fails("/org/kbus/Demo org.kbus.Demo1.Fail", "org.kbus.Demo1.Error.Failed: the demo failed, as asked");
  fails("/org/kbus/Nowhere org.kbus.Demo1.Add int32:1 int32:2", "org.freedesktop.DBus.Error.UnknownObject");
  fails("/org/kbus/Demo org.kbus.Nope.Add int32:1 int32:2", "org.freedesktop.DBus.Error.UnknownInterface");
  fails("/org/kbus/Demo org.kbus.Demo1.Subtract int32:1 int32:2", "org.freedesktop.DBus.Error.UnknownMethod");
  fails("/org/kbus/Demo org.kbus.Demo1.Add string:1 int32:2", "org.freedesktop.DBus.Error.InvalidArgs");
  fails("/org/kbus/Demo org.freedesktop.DBus.Properties.Get string:org.kbus.Demo1 string:Nope",
        "org.freedesktop.DBus.Error.UnknownProperty");
  fails("/org/kbus/Demo org.freedesktop.DBus.Properties.Set string:org.kbus.Demo1 string:Counter variant:uint32:3",
        "org.freedesktop.DBus.Error.PropertyReadOnly");
  fails("/org/kbus/Demo org.freedesktop.DBus.Properties.Set string:org.kbus.Demo1 string:Label variant:int32:3",
        "org.freedesktop.DBus.Error.InvalidArgs");
  fails("/org/kbus/Demo org.kbus.Demo1.RemoveItem objpath:/org/kbus/Demo/items/9", "org.freedesktop.DBus.Error.UnknownObject");

  // Sleep answers later without holding up other calls. A monitor shows when the bus has
  // passed the Sleep call on to the service: the Add sent after that reaches the service after it.
  start_io_thread();
  std::promise<void> sleep_passed_on;
  bool seen_sleep = false;  // only on the connection's executor
  kbus::connection monitor(io_.get_executor());
  monitor.connect(a());
  monitor.set_message_handler([&](kbus::message& m) {
    if (m.type() == kbus::message_type::method_call && m.member() == "Sleep" && !std::exchange(seen_sleep, true))
      sleep_passed_on.set_value();
  });
  kbus::bus::async_become_monitor(monitor, {"type='method_call',member='Sleep'"}, boost::asio::use_future).get();
  const auto start = std::chrono::steady_clock::now();
  auto slow = std::async(std::launch::async, [&] { return run(bc + "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Sleep u 3000"); });
  ASSERT_EQ(sleep_passed_on.get_future().wait_for(kbus::test::event_deadline), std::future_status::ready)
      << "the bus did not pass busctl's Sleep call on";
  EXPECT_EQ(run(bc + "call org.kbus.Demo /org/kbus/Demo org.kbus.Demo1 Add ii 1 1").out, "i 2");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
  EXPECT_EQ(slow.get().out, "u 3000");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(3000));
  monitor.close();
}

TEST_P(DemoService, DbusMonitorSeesSignalsAndPythonUsesTheObjectManager) {
  if (!have("/usr/bin/dbus-monitor") || !have("/usr/bin/python3") || run("/usr/bin/python3 -c 'import dbus'").status != 0)
    GTEST_SKIP() << "dbus-monitor or python3-dbus missing";
  // dbus-monitor, and meanwhile a change by a peer, an item added and removed.
  start_io_thread();
  kbus::connection watcher(io_.get_executor());
  watcher.connect(a());
  kbus::test::monitor_start_watch monitor_started(watcher);
  child_process monitor({"/usr/bin/dbus-monitor", "--address", a(), "type='signal',sender='org.kbus.Demo'"});
  ASSERT_TRUE(monitor_started.wait()) << "dbus-monitor did not become a monitor";
  const std::string script =
      "import dbus\n"
      "b = dbus.bus.BusConnection('" + a() + "')\n"
      "o = b.get_object('org.kbus.Demo', '/org/kbus/Demo')\n"
      "o.Set('org.kbus.Demo1', 'Label', 'from python', dbus_interface='org.freedesktop.DBus.Properties')\n"
      "print(o.Get('org.kbus.Demo1', 'Label', dbus_interface='org.freedesktop.DBus.Properties'))\n"
      "p = o.AddItem('thing', dbus_interface='org.kbus.Demo1')\n"
      "print(p)\n"
      "m = o.GetManagedObjects(dbus_interface='org.freedesktop.DBus.ObjectManager')\n"
      "print(m[p]['org.kbus.Demo1.Item']['Name'])\n"
      "o.RemoveItem(p, dbus_interface='org.kbus.Demo1')\n"
      "print(len(o.GetManagedObjects(dbus_interface='org.freedesktop.DBus.ObjectManager')))\n"
      "try:\n"
      "    o.Fail(dbus_interface='org.kbus.Demo1')\n"
      "except dbus.exceptions.DBusException as e:\n"
      "    print(e.get_dbus_name())\n"
      "print(o.Echo(dbus.Struct((1, 'x'), variant_level=1), dbus_interface='org.kbus.Demo1'))\n";
  auto py = run("/usr/bin/python3 -c \"" + script + "\"");
  EXPECT_EQ(py.status, 0) << py.out;
  EXPECT_EQ(py.out,
            "from python\n/org/kbus/Demo/items/1\nthing\n0\norg.kbus.Demo1.Error.Failed\n"
            "dbus.Struct((dbus.Int32(1), dbus.String('x')), signature=None, variant_level=1)");
  // What dbus-monitor prints, read until all of it is there (a Tick comes every second).
  const std::vector<std::string> wanted = {
      "member=PropertiesChanged\n   string \"org.kbus.Demo1\"\n   array [\n      dict entry(\n         "
      "string \"Label\"\n         variant             string \"from python\"",
      "member=Tick\n   uint32 ",
      "string \"Counter\"\n         variant             uint32 ",
      "member=InterfacesAdded\n   object path \"/org/kbus/Demo/items/1\"",
      "member=InterfacesRemoved\n   object path \"/org/kbus/Demo/items/1\"\n   array [\n      string "
      "\"org.kbus.Demo1.Item\""};
  const auto out = monitor.read_until(kbus::test::contains_all(wanted));
  for (const auto& w : wanted) EXPECT_NE(out.find(w), std::string::npos) << w << "\n---\n" << out;
  watcher.close();
}

const auto bus_names = [](const auto& info) { return kbus::test::param_name(info.param); };
INSTANTIATE_TEST_SUITE_P(Buses, ObjectServer, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse, bus_kind::cuse_emulated), bus_names);
// dbus-monitor and python3-dbus reach a bus only through a socket.
INSTANTIATE_TEST_SUITE_P(Buses, DemoService, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker), bus_names);

// ---- the introspection parser ----

TEST(ObjectIntrospection, ParsesEveryRealWorldFileAsItsIndexCountsIt) {
  KBUS_REQUIRE_TESTDATA(dir, "introspection");
  const auto index = nlohmann::json::parse(kbus::test::read_file(dir / "index.json"));
  std::size_t parsed = 0;
  for (const auto& entry : index) {
    const std::string file = entry["file"];
    const auto text = kbus::test::read_file(dir.parent_path() / file);
    auto node = kbus::introspection::parse(text);
    if (!entry["invalid_types"].empty()) {
      ASSERT_FALSE(node) << file;
      EXPECT_EQ(node.error().code, kbus::make_error_code(kbus::errc::invalid_signature));
      EXPECT_NE(node.error().message.find("'z'"), std::string::npos) << node.error().message;
      continue;
    }
    ASSERT_TRUE(node) << file << ": " << node.error().what();
    ++parsed;
    std::vector<std::string> names;
    std::size_t methods = 0, signals = 0, properties = 0;
    for (const auto& i : node->interfaces) {
      names.push_back(i.name);
      methods += i.methods.size();
      signals += i.signals.size();
      properties += i.properties.size();
    }
    EXPECT_EQ(names, entry["interfaces"].get<std::vector<std::string>>()) << file;
    EXPECT_EQ(methods, entry["n_methods"].get<std::size_t>()) << file;
    EXPECT_EQ(signals, entry["n_signals"].get<std::size_t>()) << file;
    EXPECT_EQ(properties, entry["n_properties"].get<std::size_t>()) << file;
    EXPECT_EQ(node->children.size(), entry["n_child_nodes"].get<std::size_t>()) << file;
    // What is written reads back the same.
    auto again = kbus::introspection::parse(kbus::introspection::to_xml(*node));
    ASSERT_TRUE(again) << file;
    EXPECT_EQ(*again, *node) << file;
  }
  EXPECT_GE(parsed, 399u);
}

TEST(ObjectIntrospection, RefusesWhatIsNotIntrospectionData) {
  using kbus::introspection::parse;
  EXPECT_EQ(parse("<node><interface name='a.b'></node>").error().code, kbus::make_error_code(kbus::errc::invalid_value));
  EXPECT_EQ(parse("").error().code, kbus::make_error_code(kbus::errc::invalid_value));
  EXPECT_NE(parse("<busconfig/>").error().message.find("<busconfig>"), std::string::npos);
  auto bad_type = parse("<node><interface name='a.b'><method name='M'><arg name='x' type='a' direction='in'/></method></interface></node>");
  ASSERT_FALSE(bad_type);
  EXPECT_NE(bad_type.error().message.find("interface a.b method M arg 'x'"), std::string::npos) << bad_type.error().message;
  auto bad_access = parse("<node><interface name='a.b'><property name='P' type='s' access='sometimes'/></interface></node>");
  ASSERT_FALSE(bad_access);
  EXPECT_NE(bad_access.error().message.find("sometimes"), std::string::npos);
  auto bad_dir = parse("<node><interface name='a.b'><method name='M'><arg type='s' direction='sideways'/></method></interface></node>");
  EXPECT_FALSE(bad_dir);
  // Entities, foreign elements and signal args with a direction are taken as they are.
  auto ok = parse(
      "<?xml version='1.0'?><node xmlns:doc='http://www.freedesktop.org/dbus/1.0/doc.dtd'>"
      "<interface name='a.b'><doc:doc><doc:summary>x</doc:summary></doc:doc>"
      "<signal name='S'><arg name='v' type='a{sv}' direction='out'/></signal>"
      "<annotation name='n' value='&lt;&amp;&quot;&#65;'/></interface><node name='child'/></node>");
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->interfaces[0].signals[0].signature(), "a{sv}");
  EXPECT_EQ(ok->interfaces[0].annotations[0].value, "<&\"A");
  EXPECT_EQ(ok->children[0].name, "child");
}

}  // namespace
