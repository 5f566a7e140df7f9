// The kdbus transport and the emulated bus driver against kbusd's in-process device
// (broker::local_device): calls and replies with fds, signals filtered by bloom masks, names
// and their queues, credentials, reply timeouts and dead peers, messages of several MiB.
#include "kbus/dbus_errors.hpp"
#include "kbus/message.hpp"
#include "transport/kdbus/abi.hpp"
#include "transport/kdbus/device.hpp"
#include "transport/kdbus/driver.hpp"
#include "transport/kdbus_test_bus.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kbus::test;
using kbus::detail::kdbus_driver;

TEST(KdbusTransport, HelloGivesTheUniqueNameAndNameAcquired) {
  bus_env env;
  auto a = env.connect();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->unique_name(), ":1." + std::to_string(a->id()));
  auto m = message_builder::method_call("org.freedesktop.DBus"_bus, "/org/freedesktop/DBus"_path,
                                        "org.freedesktop.DBus"_iface, "Hello"_member)
               .build();
  m.set_serial(1);
  ASSERT_TRUE(sends(*a, std::move(m)));
  auto reply = next(*a);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply_value<std::string>(*reply), a->unique_name());
  auto acquired = next(*a);
  ASSERT_TRUE(acquired);
  EXPECT_EQ(acquired->member(), "NameAcquired");
  EXPECT_EQ(acquired->destination(), a->unique_name());
  EXPECT_EQ(acquired->serial(), kbus::detail::kdbus_synthetic_serial);
  // A second Hello is an error, as on dbus-daemon.
  auto again = driver_call(*a, "Hello");
  EXPECT_EQ(again.type(), message_type::error);
  EXPECT_EQ(reply_value<std::string>(driver_call(*a, "GetId")).size(), 32u);
  EXPECT_EQ(driver_call(*a, "NoSuchMethod").error_name(), kbus::dbus_errors::unknown_method);
}

TEST(KdbusTransport, CallAndReplyWithFds) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*b, "RequestName", std::string("org.kbus.Test"), std::uint32_t{0})),
            kdbus_driver::request_primary_owner);

  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  kbus::unix_fd read_end(p[0]), write_end(p[1]);
  auto call = message_builder::method_call("org.kbus.Test"_bus, "/org/kbus/Test"_path, "org.kbus.Test"_iface,
                                           "Pass"_member)
                  .build(std::string("here is a pipe"), write_end);
  const std::uint32_t call_serial = next_serial();
  call.set_serial(call_serial);
  ASSERT_TRUE(sends(*a, std::move(call)));

  auto got = next_non_driver_signal(*b);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->type(), message_type::method_call);
  EXPECT_EQ(got->sender(), a->unique_name());
  EXPECT_EQ(got->member(), "Pass");
  auto [text, fd] = got->read<std::string, kbus::unix_fd>().value();
  EXPECT_EQ(text, "here is a pipe");
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::write(fd.get(), "k", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'k');

  // The reply goes to the caller's unique name, with an fd of its own.
  int q[2];
  ASSERT_EQ(::pipe(q), 0);
  kbus::unix_fd r2(q[0]), w2(q[1]);
  auto reply = message_builder::method_return(*got).build(std::string("and one back"), r2);
  reply.set_serial(next_serial());
  ASSERT_TRUE(sends(*b, std::move(reply)));
  auto back = next_non_driver_signal(*a);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type(), message_type::method_return);
  EXPECT_EQ(back->reply_serial(), call_serial);
  EXPECT_EQ(back->sender(), b->unique_name());
  auto [text2, fd2] = back->read<std::string, kbus::unix_fd>().value();
  EXPECT_EQ(text2, "and one back");
  ASSERT_EQ(::write(w2.get(), "z", 1), 1);
  ASSERT_EQ(::read(fd2.get(), &c, 1), 1);
  EXPECT_EQ(c, 'z');

  // A call to the unique name works too; a call to nobody gets ServiceUnknown.
  auto direct = message_builder::method_call(kbus::bus_name::make(b->unique_name()).value(), "/x"_path,
                                             "org.kbus.Test"_iface, "Direct"_member)
                    .build();
  direct.set_serial(next_serial());
  ASSERT_TRUE(sends(*a, std::move(direct)));
  auto d = next_non_driver_signal(*b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->member(), "Direct");
  auto lost = message_builder::method_call("org.kbus.Nobody"_bus, "/x"_path, "org.kbus.Test"_iface, "Call"_member).build();
  lost.set_serial(next_serial());
  ASSERT_TRUE(sends(*a, copy_of(lost)));
  auto e = next_non_driver_signal(*a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type(), message_type::error);
  EXPECT_EQ(e->error_name(), kbus::dbus_errors::service_unknown);
  EXPECT_EQ(e->reply_serial(), lost.serial());
}

TEST(KdbusTransport, SignalsReachOnlyMatchingRules) {
  bus_env env;
  auto sender = env.connect();
  auto yes = env.connect();
  auto no = env.connect();
  auto none = env.connect();
  ASSERT_TRUE(sender && yes && no && none);
  EXPECT_EQ(driver_call(*yes, "AddMatch", std::string("type='signal',interface='org.kbus.Sig',member='Ping',arg0='x'"))
                .type(),
            message_type::method_return);
  EXPECT_EQ(driver_call(*no, "AddMatch", std::string("type='signal',interface='org.kbus.Sig',member='Pong'")).type(),
            message_type::method_return);
  EXPECT_EQ(driver_call(*no, "AddMatch", std::string("type='signal',member='Ping',arg0='y'")).type(),
            message_type::method_return);
  auto bad = driver_call(*no, "AddMatch", std::string("type='nonsense'"));
  EXPECT_EQ(bad.error_name(), kbus::dbus_errors::match_rule_invalid);

  auto sig = message_builder::signal("/org/kbus/Sig"_path, "org.kbus.Sig"_iface, "Ping"_member).build(std::string("x"));
  sig.set_serial(next_serial());
  ASSERT_TRUE(sends(*sender, copy_of(sig)));
  auto got = next_non_driver_signal(*yes);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->member(), "Ping");
  EXPECT_EQ(got->sender(), sender->unique_name());
  EXPECT_FALSE(next_non_driver_signal(*no, nullptr, 200ms));
  EXPECT_FALSE(next_non_driver_signal(*none, nullptr, 50ms));
  EXPECT_FALSE(next_non_driver_signal(*sender, nullptr, 50ms));

  // RemoveMatch: the rule is gone, and removing it again is an error.
  const std::string rule = "type='signal',interface='org.kbus.Sig',member='Ping',arg0='x'";
  EXPECT_EQ(driver_call(*yes, "RemoveMatch", rule).type(), message_type::method_return);
  EXPECT_EQ(driver_call(*yes, "RemoveMatch", rule).error_name(), kbus::dbus_errors::match_rule_not_found);
  sig.set_serial(next_serial());
  ASSERT_TRUE(sends(*sender, copy_of(sig)));
  EXPECT_FALSE(next_non_driver_signal(*yes, nullptr, 200ms));

  // A unicast signal reaches its destination without a rule (dbus1 semantics).
  auto uni = message_builder::signal("/org/kbus/Sig"_path, "org.kbus.Sig"_iface, "Direct"_member)
                 .destination(kbus::bus_name::make(none->unique_name()).value())
                 .build();
  uni.set_serial(next_serial());
  ASSERT_TRUE(sends(*sender, std::move(uni)));
  auto u = next_non_driver_signal(*none);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->member(), "Direct");
}

// The kernel passes a broadcast when its bloom filter *may* match a rule; the receiver gets it
// only when a rule does (bloom false positives; argNpath, which a bloom cannot say; a
// well-known sender, from the names the message carries or, without them, from the bus).
TEST(KdbusTransport, BroadcastsPassTheRulesExactlyNotJustTheBloom) {
  bus_env env;
  auto plain = env.connect();
  auto named = env.connect();
  auto listener = env.connect();
  auto without_names = env.connect(test_pool_size, 0);  // asks for no metadata: the names too
  ASSERT_TRUE(plain && named && listener && without_names);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*named, "RequestName", std::string("org.kbus.Named"), std::uint32_t{0})),
            kdbus_driver::request_primary_owner);
  for (auto* l : {listener.get(), without_names.get()})
    for (const char* rule : {"arg0path='/a/'", "member='Hi',sender='org.kbus.Named'", "arg1='x'"})
      EXPECT_EQ(driver_call(*l, "AddMatch", std::string(rule)).type(), message_type::method_return) << rule;

  auto emit = [&](kdbus_transport& from, std::string_view member, const auto&... args) {
    auto sig = message_builder::signal("/org/kbus/Sig"_path, "org.kbus.Sig"_iface, kbus::member_name::make(member).value())
                   .build(args...);
    sig.set_serial(next_serial());
    EXPECT_TRUE(sends(from, std::move(sig)));
  };
  emit(*plain, "No1", std::string("/b/"));                    // argNpath in no way
  emit(*plain, "No2", kbus::object_path::make("/a").value());  // "/a" is not under "/a/"
  emit(*plain, "No3", std::string("x"));                      // arg1='x': there is no arg1
  emit(*plain, "No4", kbus::object_path::make("/c").value(), kbus::object_path::make("/x").value());  // arg1 is no string
  emit(*plain, "Hi");                                         // not from org.kbus.Named
  emit(*named, "Hi");
  emit(*plain, "Yes1", kbus::object_path::make("/a/b").value());
  emit(*plain, "Yes2", std::string("/"));
  emit(*plain, "Yes3", std::uint32_t{1}, std::string("x"));
  const std::vector<std::pair<std::string, std::string>> expected{
      {"Hi", named->unique_name()}, {"Yes1", plain->unique_name()}, {"Yes2", plain->unique_name()}, {"Yes3", plain->unique_name()}};
  for (auto* l : {listener.get(), without_names.get()}) {
    std::vector<std::pair<std::string, std::string>> got;
    while (auto m = next_non_driver_signal(*l, nullptr, 300ms)) got.emplace_back(m->member(), m->sender());
    EXPECT_EQ(got, expected) << (l == listener.get() ? "with" : "without") << " the names metadata";
  }
}

TEST(KdbusTransport, NamesQueuesAndNameOwnerChanged) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  auto c = env.connect();
  auto watcher = env.connect();
  ASSERT_TRUE(a && b && c && watcher);
  const std::string name = "org.kbus.Queue";
  EXPECT_EQ(driver_call(*watcher, "AddMatch",
                        "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" + name + "'")
                .type(),
            message_type::method_return);

  std::vector<message> a_signals, b_signals, w_signals;
  auto request = [&](kdbus_transport& t, std::uint32_t flags) {
    auto r = driver_call(t, "RequestName", name, flags);
    return reply_value<std::uint32_t>(r);
  };
  EXPECT_EQ(request(*a, kdbus_driver::name_flag_allow_replacement), kdbus_driver::request_primary_owner);
  EXPECT_EQ(request(*a, kdbus_driver::name_flag_allow_replacement), kdbus_driver::request_already_owner);
  EXPECT_EQ(request(*b, 0), kdbus_driver::request_in_queue);
  EXPECT_EQ(request(*c, kdbus_driver::name_flag_do_not_queue), kdbus_driver::request_exists);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*c, "RequestName", std::string("org.kbus.Other"), std::uint32_t{0})),
            kdbus_driver::request_primary_owner);
  EXPECT_EQ(driver_call(*c, "RequestName", std::string(":1.5"), std::uint32_t{0}).error_name(),
            kbus::dbus_errors::invalid_args);

  EXPECT_EQ(reply_value<std::string>(driver_call(*c, "GetNameOwner", name)), a->unique_name());
  EXPECT_TRUE(reply_value<bool>(driver_call(*c, "NameHasOwner", name)));
  EXPECT_FALSE(reply_value<bool>(driver_call(*c, "NameHasOwner", std::string("org.kbus.Missing"))));
  EXPECT_EQ(driver_call(*c, "GetNameOwner", std::string("org.kbus.Missing")).error_name(),
            kbus::dbus_errors::name_has_no_owner);
  EXPECT_EQ(reply_value<std::string>(driver_call(*c, "GetNameOwner", b->unique_name())), b->unique_name());
  EXPECT_EQ(reply_value<std::vector<std::string>>(driver_call(*c, "ListQueuedOwners", name)),
            (std::vector<std::string>{a->unique_name(), b->unique_name()}));
  auto names = reply_value<std::vector<std::string>>(driver_call(*c, "ListNames"));
  for (const auto& n : {std::string("org.freedesktop.DBus"), name, std::string("org.kbus.Other"), a->unique_name(),
                        b->unique_name(), c->unique_name()})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(reply_value<std::vector<std::string>>(driver_call(*c, "ListActivatableNames")),
            std::vector<std::string>{"org.freedesktop.DBus"});

  // The watcher saw the name appear.
  auto noc = next_non_driver_signal(*watcher, &w_signals, 100ms);
  EXPECT_FALSE(noc);
  ASSERT_EQ(w_signals.size(), 1u);
  EXPECT_EQ(w_signals[0].member(), "NameOwnerChanged");
  EXPECT_EQ((w_signals[0].read<std::string, std::string, std::string>().value()),
            std::make_tuple(name, std::string(), a->unique_name()));
  // a got NameAcquired for it.
  next_non_driver_signal(*a, &a_signals, 50ms);
  ASSERT_FALSE(a_signals.empty());
  EXPECT_TRUE(std::any_of(a_signals.begin(), a_signals.end(), [&](const message& m) {
    return m.member() == "NameAcquired" && m.read<std::string>().value() == std::make_tuple(name);
  }));

  // a releases: the queued b becomes the owner.
  a_signals.clear();
  w_signals.clear();
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*a, "ReleaseName", name)), kdbus_driver::release_released);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*a, "ReleaseName", name)), kdbus_driver::release_not_owner);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*a, "ReleaseName", std::string("org.kbus.Never"))),
            kdbus_driver::release_non_existent);
  next_non_driver_signal(*watcher, &w_signals, 100ms);
  ASSERT_EQ(w_signals.size(), 1u);
  EXPECT_EQ((w_signals[0].read<std::string, std::string, std::string>().value()),
            std::make_tuple(name, a->unique_name(), b->unique_name()));
  next_non_driver_signal(*b, &b_signals, 50ms);
  EXPECT_TRUE(std::any_of(b_signals.begin(), b_signals.end(), [&](const message& m) { return m.member() == "NameAcquired"; }));
  next_non_driver_signal(*a, &a_signals, 50ms);
  EXPECT_TRUE(std::any_of(a_signals.begin(), a_signals.end(), [&](const message& m) { return m.member() == "NameLost"; }));
  EXPECT_EQ(reply_value<std::string>(driver_call(*c, "GetNameOwner", name)), b->unique_name());

  // b disconnects: the name goes away.
  w_signals.clear();
  const std::string b_name = b->unique_name();
  b.reset();
  next_non_driver_signal(*watcher, &w_signals, 200ms);
  ASSERT_EQ(w_signals.size(), 1u);
  EXPECT_EQ((w_signals[0].read<std::string, std::string, std::string>().value()),
            std::make_tuple(name, b_name, std::string()));
  EXPECT_FALSE(reply_value<bool>(driver_call(*c, "NameHasOwner", name)));
}

// The receiver learns who sent a message from the kdbus header, whatever SENDER field the
// sender wrote into the dbus1 header, and in either byte order.
TEST(KdbusTransport, TheSenderIsWhoTheBusSaysItIs) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  const auto to_b = kbus::bus_name::make(b->unique_name()).value();
  for (const auto order : {kbus::byte_order::little, kbus::byte_order::big}) {
    for (const bool forged : {false, true}) {
      auto builder = message_builder(message_type::method_call, order);
      builder.destination(to_b).path("/org/kbus/Test"_path).interface("org.kbus.Test"_iface).member("Who"_member);
      if (forged) builder.sender(":1.4242"_bus);
      auto call = builder.flags(kbus::message_flags::no_reply_expected).build(std::string(forged ? "forged" : "plain"));
      call.set_serial(next_serial());
      ASSERT_TRUE(sends(*a, std::move(call)));
      auto got = next_non_driver_signal(*b);
      ASSERT_TRUE(got) << (forged ? "forged" : "plain");
      EXPECT_EQ(got->sender(), a->unique_name());
      EXPECT_EQ(got->order(), order);
      EXPECT_EQ(got->member(), "Who");
      EXPECT_EQ(got->read<std::string>().value(), std::make_tuple(std::string(forged ? "forged" : "plain")));
    }
  }
}

TEST(KdbusTransport, UniqueNamesComeAndGo) {
  bus_env env;
  auto watcher = env.connect();
  ASSERT_TRUE(watcher);
  EXPECT_EQ(driver_call(*watcher, "AddMatch", std::string("type='signal',member='NameOwnerChanged'")).type(),
            message_type::method_return);
  auto other = env.connect();
  ASSERT_TRUE(other);
  const std::string n = other->unique_name();
  other.reset();
  std::vector<message> s;
  next_non_driver_signal(*watcher, &s, 200ms);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ((s[0].read<std::string, std::string, std::string>().value()), std::make_tuple(n, std::string(), n));
  EXPECT_EQ((s[1].read<std::string, std::string, std::string>().value()), std::make_tuple(n, n, std::string()));
}

TEST(KdbusTransport, ConnectionCredentials) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*a, "GetConnectionUnixUser", b->unique_name())),
            static_cast<std::uint32_t>(geteuid()));
  EXPECT_EQ(reply_value<std::uint32_t>(driver_call(*a, "GetConnectionUnixProcessID", b->unique_name())),
            static_cast<std::uint32_t>(getpid()));
  auto creds = reply_value<std::map<std::string, kbus::variant>>(driver_call(*a, "GetConnectionCredentials", b->unique_name()));
  ASSERT_TRUE(creds.count("UnixUserID"));
  EXPECT_EQ(creds.at("UnixUserID").get().as_uint(), geteuid());
  EXPECT_EQ(creds.at("ProcessID").get().as_uint(), static_cast<std::uint64_t>(getpid()));
  EXPECT_EQ(driver_call(*a, "GetConnectionUnixUser", std::string(":1.99999")).error_name(),
            kbus::dbus_errors::name_has_no_owner);
  EXPECT_EQ(driver_call(*a, "GetConnectionUnixUser", std::string("org.kbus.Missing")).error_name(),
            kbus::dbus_errors::name_has_no_owner);
}

TEST(KdbusTransport, ReplyTimeoutAndDeadPeerGiveNoReply) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  auto dest = kbus::bus_name::make(b->unique_name()).value();
  auto call = message_builder::method_call(dest, "/x"_path, "org.kbus.Slow"_iface, "Wait"_member).build();
  call.set_serial(next_serial());
  ASSERT_TRUE(sends(*a, copy_of(call), 50ms));
  auto got = next_non_driver_signal(*b);
  ASSERT_TRUE(got);  // b never answers
  auto timeout = next_non_driver_signal(*a);
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->type(), message_type::error);
  EXPECT_EQ(timeout->error_name(), kbus::dbus_errors::no_reply);
  EXPECT_EQ(timeout->reply_serial(), call.serial());
  // A late reply is dropped quietly.
  auto late = message_builder::method_return(*got).build();
  late.set_serial(next_serial());
  EXPECT_TRUE(sends(*b, std::move(late)));

  auto call2 = message_builder::method_call(dest, "/x"_path, "org.kbus.Slow"_iface, "Die"_member).build();
  call2.set_serial(next_serial());
  ASSERT_TRUE(sends(*a, copy_of(call2)));
  ASSERT_TRUE(next_non_driver_signal(*b));
  b.reset();
  auto dead = next_non_driver_signal(*a);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->error_name(), kbus::dbus_errors::no_reply);
  EXPECT_EQ(dead->reply_serial(), call2.serial());
}

TEST(KdbusTransport, MessagesOfSeveralMiB) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  auto dest = kbus::bus_name::make(b->unique_name()).value();
  for (const std::size_t size : {std::size_t{1} << 20, std::size_t{3} << 20, std::size_t{6} << 20}) {
    std::vector<std::uint8_t> blob(size);
    for (std::size_t i = 0; i < size; ++i) blob[i] = static_cast<std::uint8_t>(i * 7 + 3);
    auto m = message_builder::method_call(dest, "/x"_path, "org.kbus.Big"_iface, "Blob"_member).build(blob);
    m.set_serial(next_serial());
    ASSERT_TRUE(sends(*a, std::move(m)));
    auto got = next_non_driver_signal(*b);
    ASSERT_TRUE(got) << size;
    auto [back] = got->read<std::vector<std::uint8_t>>().value();
    EXPECT_EQ(back, blob) << size;
  }
}

TEST(KdbusTransport, SynchronousCall) {
  bus_env env;
  auto a = env.connect();
  auto b = env.connect();
  ASSERT_TRUE(a && b);
  auto dest = kbus::bus_name::make(b->unique_name()).value();
  std::thread server([&] {
    auto got = next_non_driver_signal(*b);
    ASSERT_TRUE(got);
    auto r = message_builder::method_return(*got).build(std::string("pong"));
    r.set_serial(next_serial());
    ASSERT_TRUE(sends(*b, std::move(r)));
  });
  auto call = message_builder::method_call(dest, "/x"_path, "org.kbus.Sync"_iface, "Ping"_member).build();
  call.set_serial(next_serial());
  auto reply = a->call(call, 5s);
  server.join();
  ASSERT_TRUE(reply) << reply.error().what();
  EXPECT_EQ(reply_value<std::string>(*reply), "pong");
  EXPECT_EQ(reply->sender(), b->unique_name());
  // A synchronous call of the driver is answered locally.
  auto id = message_builder::method_call("org.freedesktop.DBus"_bus, "/org/freedesktop/DBus"_path,
                                         "org.freedesktop.DBus"_iface, "GetId"_member)
                .build();
  id.set_serial(next_serial());
  auto idr = a->call(id);
  ASSERT_TRUE(idr);
  EXPECT_EQ(reply_value<std::string>(*idr).size(), 32u);
  // A synchronous call to a dead end gets ServiceUnknown.
  auto nobody = message_builder::method_call("org.kbus.Nobody"_bus, "/x"_path, "org.kbus.Sync"_iface, "Ping"_member).build();
  nobody.set_serial(next_serial());
  auto nr = a->call(nobody);
  ASSERT_TRUE(nr);
  EXPECT_EQ(nr->error_name(), kbus::dbus_errors::service_unknown);
}

TEST(KdbusTransport, KernelDevicePathAndMissingBus) {
  EXPECT_EQ(kbus::detail::kernel_bus_path(1000, "user"), "/sys/fs/kdbus/1000-user/bus");
  auto d = kbus::detail::open_kernel_device("/nonexistent-kbus-test/bus");
  EXPECT_FALSE(d);
  EXPECT_EQ(kbus::detail::kdbus_parse_unique_name(":1.42"), 42u);
  EXPECT_FALSE(kbus::detail::kdbus_parse_unique_name(":1.042"));
  EXPECT_FALSE(kbus::detail::kdbus_parse_unique_name(":1.0"));
  EXPECT_FALSE(kbus::detail::kdbus_parse_unique_name(":2.4"));
  EXPECT_FALSE(kbus::detail::kdbus_parse_unique_name(":1.99999999999999999999999"));
}

}  // namespace
