// Subscriptions on real buses: local filtering, AddMatch once per rule, well-known senders
// followed through their owners, typed signals, streams and name watching; then what
// dbus-daemon (the reference) delivers compared with kbus's own evaluation of the rules.
#include "support/bus_test.hpp"

#include "kbus/bus.hpp"
#include "kbus/connection.hpp"
#include "kbus/proxy.hpp"
#include "kbus/signal.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;

kbus::match_rule rule(const char* text) { return kbus::match_rule::parse(text).value(); }

// Messages a handler saw, from the io thread.
struct inbox {
  std::mutex mutex;
  std::vector<std::string> seen;  // "member:first string argument"
  void add(const kbus::message& m) {
    std::string arg;
    if (m.signature().starts_with("s")) {
      if (auto values = m.values(); values && !values->empty()) arg = (*values)[0].as_string();
    }
    std::lock_guard lock(mutex);
    seen.push_back(std::string(m.member()) + ":" + arg);
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex);
    return std::exchange(seen, {});
  }
};

class Subscriptions : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (bus_) start_io_thread();
  }
  void TearDown() override {
    connections_.clear();
    bus_test::TearDown();
  }

  // A connected connection that answers "Sync" (so that a peer knows every signal it sent
  // before has arrived here: a bus keeps each sender's order).
  kbus::connection& connect() {
    auto& c = *connections_.emplace_back(std::make_unique<kbus::connection>(io_.get_executor()));
    c.connect(bus_->address());
    c.set_message_handler([&c](kbus::message& m) {
      if (m.type() == kbus::message_type::method_call && m.expects_reply())
        c.send(kbus::message_builder::method_return(m).build());
    });
    return c;
  }

  static void sync(kbus::connection& from, const kbus::connection& to) {
    from.call(kbus::message_builder::method_call(kbus::bus_name(to.unique_name()), "/sync"_path, "org.kbus.Sync"_iface,
                                                 "Sync"_member)
                  .build());
  }

  static void emit(kbus::connection& c, const char* member, const std::string& arg,
                   const char* path = "/org/kbus/Sub", const char* interface = "org.kbus.Sub") {
    c.send(kbus::message_builder::signal(kbus::object_path(path), kbus::interface_name(interface),
                                         kbus::member_name(member))
               .build(arg));
  }

  static kbus::subscription subscribe(kbus::connection& c, const char* text, inbox& box) {
    return c.async_subscribe(rule(text), [&box](const kbus::message& m) { box.add(m); }, boost::asio::use_future).get();
  }

  std::vector<std::unique_ptr<kbus::connection>> connections_;
};

TEST_P(Subscriptions, HandlersGetWhatTheirRulesMatchAndNothingElse) {
  auto& listener = connect();
  auto& emitter = connect();
  inbox a, b;
  auto by_member = subscribe(listener, "type='signal',interface='org.kbus.Sub',member='Changed'", a);
  auto by_arg = subscribe(listener, "type='signal',interface='org.kbus.Sub',arg0='yes'", b);
  emit(emitter, "Changed", "no");
  emit(emitter, "Other", "yes");
  emit(emitter, "Changed", "yes");
  emit(emitter, "Changed", "other interface", "/org/kbus/Sub", "org.kbus.Else");
  sync(emitter, listener);
  EXPECT_EQ(a.take(), (std::vector<std::string>{"Changed:no", "Changed:yes"}));
  EXPECT_EQ(b.take(), (std::vector<std::string>{"Other:yes", "Changed:yes"}));
}

TEST_P(Subscriptions, OneAddMatchPerDistinctRuleAndRemoveMatchWithTheLastHandle) {
  auto& listener = connect();
  auto& emitter = connect();
  // A monitor sees what the listener asks of the bus. (On kdbus the driver is emulated in the
  // connection: AddMatch is an ioctl, no message a monitor could see; delivery tells there.)
  const bool driver_is_a_peer = !kbus::test::speaks_kdbus(GetParam());
  inbox driver_calls;
  const std::string listener_name = listener.unique_name();
  if (driver_is_a_peer) {
    auto& monitor = *connections_.emplace_back(std::make_unique<kbus::connection>(io_.get_executor()));
    monitor.connect(bus_->address());
    monitor.set_message_handler([&](kbus::message& m) {
      if (m.type() == kbus::message_type::method_call && m.sender() == listener_name &&
          (m.member() == "AddMatch" || m.member() == "RemoveMatch"))
        driver_calls.add(m);
    });
    kbus::bus::async_become_monitor(monitor, {}, boost::asio::use_future).get();
  }
  // After BecomeMonitor the monitor can make no calls: its last one was answered, so the bus
  // has it as a monitor before the listener's next message.

  const char* text = "type='signal',interface='org.kbus.Sub',member='Changed'";
  const std::string canonical = rule(text).to_string();
  inbox first_box, second_box;
  auto first = subscribe(listener, text, first_box);
  auto second = subscribe(listener, text, second_box);
  inbox everything;
  listener.set_message_handler([&](kbus::message& m) {
    if (m.type() == kbus::message_type::signal && m.interface() == "org.kbus.Sub") everything.add(m);
    if (m.type() == kbus::message_type::method_call && m.expects_reply())
      listener.send(kbus::message_builder::method_return(m).build());
  });
  emit(emitter, "Changed", "both");
  sync(emitter, listener);
  EXPECT_EQ(first_box.take(), std::vector<std::string>{"Changed:both"});
  EXPECT_EQ(second_box.take(), std::vector<std::string>{"Changed:both"});

  first.reset();
  emit(emitter, "Changed", "second only");
  sync(emitter, listener);
  EXPECT_TRUE(first_box.take().empty());
  EXPECT_EQ(second_box.take(), std::vector<std::string>{"Changed:second only"});

  second.reset();
  // RemoveMatch is on its way before the next call: a round trip to the driver orders it.
  listener.call(kbus::bus::driver_call("GetId"));
  emit(emitter, "Changed", "nobody");
  sync(emitter, listener);
  EXPECT_TRUE(second_box.take().empty());
  // The bus stopped routing the signal here at all: RemoveMatch reached it.
  EXPECT_EQ(everything.take(), (std::vector<std::string>{"Changed:both", "Changed:second only"}));
  if (driver_is_a_peer) {
    sync(listener, emitter);  // the monitor has seen the listener's driver calls by now
    EXPECT_EQ(driver_calls.take(), (std::vector<std::string>{"AddMatch:" + canonical, "RemoveMatch:" + canonical}));
  }
}

TEST_P(Subscriptions, AWellKnownSenderIsFollowedThroughItsOwners) {
  auto& listener = connect();
  auto& first_owner = connect();
  auto& second_owner = connect();
  auto own = [](kbus::connection& c) {
    return kbus::bus::async_request_name(c, "org.kbus.Named"_bus, kbus::bus::request_name_flags::none,
                                         boost::asio::use_future)
        .get();
  };
  EXPECT_EQ(own(first_owner), kbus::bus::request_name_reply::primary_owner);
  EXPECT_EQ(own(second_owner), kbus::bus::request_name_reply::in_queue);
  inbox box;
  auto sub = subscribe(listener, "type='signal',sender='org.kbus.Named',interface='org.kbus.Sub'", box);
  // GetNameOwner went out after AddMatch; a round trip to the driver makes sure it was answered.
  listener.call(kbus::bus::driver_call("GetId"));
  emit(first_owner, "Changed", "from the owner");
  emit(second_owner, "Changed", "from the queue");
  sync(first_owner, listener);
  sync(second_owner, listener);
  EXPECT_EQ(box.take(), std::vector<std::string>{"Changed:from the owner"});

  // The first owner goes: the name passes to the second, and so does the subscription.
  kbus::bus::async_release_name(first_owner, "org.kbus.Named"_bus, boost::asio::use_future).get();
  listener.call(kbus::bus::driver_call("GetId"));  // NameOwnerChanged has arrived before this reply
  emit(first_owner, "Changed", "from the old owner");
  emit(second_owner, "Changed", "from the new owner");
  sync(first_owner, listener);
  sync(second_owner, listener);
  EXPECT_EQ(box.take(), std::vector<std::string>{"Changed:from the new owner"});
}

TEST_P(Subscriptions, AHandlerMayEndItsOwnSubscription) {
  auto& listener = connect();
  auto& emitter = connect();
  inbox box;
  kbus::subscription sub;
  sub = listener
            .async_subscribe(
                rule("type='signal',interface='org.kbus.Sub'"),
                [&](const kbus::message& m) {
                  box.add(m);
                  sub.reset();  // on the connection's executor: takes effect at once
                },
                boost::asio::use_future)
            .get();
  emit(emitter, "One", "1");
  emit(emitter, "Two", "2");
  sync(emitter, listener);
  EXPECT_EQ(box.take(), std::vector<std::string>{"One:1"});
}

TEST_P(Subscriptions, TypedSignalsUnpackTheirArgumentsAndReportMismatches) {
  auto& listener = connect();
  auto& emitter = connect();
  std::mutex mutex;
  std::vector<std::pair<std::string, std::uint32_t>> got;
  std::vector<std::string> mismatches;
  kbus::subscribe_signal_options options;
  options.on_mismatch = [&](const kbus::message&, const kbus::error& e) {
    std::lock_guard lock(mutex);
    mismatches.push_back(e.what());
  };
  auto sub = kbus::subscribe_signal<std::string, std::uint32_t>(
      listener, rule("type='signal',interface='org.kbus.Typed'"),
      [&](const kbus::message&, std::string name, std::uint32_t n) {
        std::lock_guard lock(mutex);
        got.emplace_back(std::move(name), n);
      },
      options);
  listener.call(kbus::bus::driver_call("GetId"));  // AddMatch answered
  auto typed = [&](auto... args) {
    emitter.send(kbus::message_builder::signal("/t"_path, "org.kbus.Typed"_iface, "T"_member).build(args...));
  };
  typed(std::string("seven"), std::uint32_t{7});
  typed(std::string("wrong"), std::int32_t{-1});
  typed(std::string("eight"), std::uint32_t{8});
  sync(emitter, listener);
  std::lock_guard lock(mutex);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::uint32_t>>{{"seven", 7}, {"eight", 8}}));
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_NE(mismatches[0].find("'si'"), std::string::npos) << mismatches[0];
}

TEST_P(Subscriptions, ASignalStreamDeliversInOrderWithMismatchesAsErrors) {
  auto& listener = connect();
  auto& emitter = connect();
  kbus::signal_stream<std::uint32_t> ticks(listener, rule("type='signal',interface='org.kbus.Tick'"));
  listener.call(kbus::bus::driver_call("GetId"));
  for (std::uint32_t i = 1; i <= 3; ++i)
    emitter.send(kbus::message_builder::signal("/t"_path, "org.kbus.Tick"_iface, "Tick"_member).build(i));
  emitter.send(kbus::message_builder::signal("/t"_path, "org.kbus.Tick"_iface, "Tick"_member).build(std::string("x")));
  sync(emitter, listener);
  for (std::uint32_t i = 1; i <= 3; ++i) {
    auto [n] = ticks.async_receive(boost::asio::use_future).get();
    EXPECT_EQ(n, i);
  }
  try {
    ticks.async_receive(boost::asio::use_future).get();
    ADD_FAILURE() << "a string was received as a u";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), kbus::make_error_code(kbus::errc::type_mismatch)) << e.what();
  }
  EXPECT_EQ(ticks.dropped(), 0u);
}

TEST_P(Subscriptions, NameWatchesSeeNamesAppearAndVanish) {
  auto& watcher = connect();
  auto& owner = connect();
  std::mutex mutex;
  std::vector<std::string> events;
  auto record = [&](std::string e) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(e));
  };
  auto watch = kbus::watch_name(watcher, "org.kbus.Watched"_bus,
                                {[&](const std::string& name, const std::string& who) {
                                   record("appeared " + name + (who == owner.unique_name() ? " (owner)" : " (?)"));
                                 },
                                 [&](const std::string& name) { record("vanished " + name); }});
  watcher.call(kbus::bus::driver_call("GetId"));  // GetNameOwner answered
  kbus::bus::async_request_name(owner, "org.kbus.Watched"_bus, kbus::bus::request_name_flags::none, boost::asio::use_future)
      .get();
  watcher.call(kbus::bus::driver_call("GetId"));
  kbus::bus::async_release_name(owner, "org.kbus.Watched"_bus, boost::asio::use_future).get();
  watcher.call(kbus::bus::driver_call("GetId"));
  watch.reset();
  kbus::bus::async_request_name(owner, "org.kbus.Watched"_bus, kbus::bus::request_name_flags::none, boost::asio::use_future)
      .get();
  watcher.call(kbus::bus::driver_call("GetId"));
  std::lock_guard lock(mutex);
  EXPECT_EQ(events, (std::vector<std::string>{"vanished org.kbus.Watched", "appeared org.kbus.Watched (owner)",
                                              "vanished org.kbus.Watched"}));
}

TEST_P(Subscriptions, BlockingCallsFailOnTheirOwnExecutorInsteadOfHanging) {
  auto& c = connect();
  auto result = std::make_shared<std::promise<error_code>>();
  boost::asio::post(c.get_executor(), [&c, result] {
    error_code ec;
    c.call(kbus::bus::driver_call("GetId"), ec);
    result->set_value(ec);
  });
  EXPECT_EQ(result->get_future().get(), kbus::make_error_code(kbus::connection_errc::would_deadlock));
  // A proxy's blocking forms too (its property cache was loaded with a wait of its own).
  auto loaded = std::make_shared<std::promise<error_code>>();
  boost::asio::post(c.get_executor(), [&c, loaded] {
    kbus::proxy p(c, "org.freedesktop.DBus"_bus, "/org/freedesktop/DBus"_path, "org.freedesktop.DBus"_iface);
    try {
      p.load_properties();
      loaded->set_value({});
    } catch (const boost::system::system_error& e) {
      loaded->set_value(e.code());
    }
  });
  EXPECT_EQ(loaded->get_future().get(), kbus::make_error_code(kbus::connection_errc::would_deadlock));
  // From another thread the same call works, and an error reply throws the D-Bus error as data.
  EXPECT_FALSE(std::get<0>(c.call(kbus::bus::driver_call("GetId")).read<std::string>().value()).empty());
  try {
    c.call(kbus::bus::driver_call("GetNameOwner", std::string("org.kbus.Nobody")));
    ADD_FAILURE() << "no error";
  } catch (const kbus::call_error& e) {
    EXPECT_EQ(e.error().name, "org.freedesktop.DBus.Error.NameHasNoOwner");
  }
}

INSTANTIATE_TEST_SUITE_P(Buses, Subscriptions,
                         testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse,
                                         bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
