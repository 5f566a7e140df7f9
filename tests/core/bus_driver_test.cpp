// The bus driver, typed, on dbus-daemon, dbus-broker and kbusd: names, their queue, their signals,
// and the connection's credentials.
#include "support/bus_test.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_errors.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <fstream>

#include <unistd.h>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;
namespace bus = kbus::bus;

// io_ runs on the test thread, in wait.
class BusDriver : public kbus::test::bus_test {
 protected:
  template <class Op>
  void wait(Op op) {
    bool done = false;
    op(done);
    ASSERT_TRUE(run_io_until([&] { return done; }, std::chrono::seconds(20)));
  }
  void connect(kbus::connection& c) {
    wait([&](bool& done) {
      c.async_connect(bus_->address(), [&](error_code ec) {
        ASSERT_FALSE(ec) << c.last_error();
        done = true;
      });
    });
  }
};

TEST_P(BusDriver, NamesAndTheirQueue) {
  kbus::connection a(io_.get_executor()), b(io_.get_executor());
  connect(a);
  connect(b);
  std::vector<std::string> signals_to_a;
  a.set_message_handler([&](kbus::message& m) {
    if (auto n = bus::as_name_acquired(m)) signals_to_a.push_back("acquired " + *n);
    if (auto n = bus::as_name_lost(m)) signals_to_a.push_back("lost " + *n);
  });
  const auto name = "org.kbus.Test.Name"_bus;
  auto request = [&](kbus::connection& c, bus::request_name_flags f) {
    bus::request_name_reply result{};
    wait([&](bool& done) {
      bus::async_request_name(c, name, f, [&](error_code ec, bus::request_name_reply r) {
        EXPECT_FALSE(ec) << ec.message();
        result = r;
        done = true;
      });
    });
    return result;
  };
  EXPECT_EQ(request(a, bus::request_name_flags::allow_replacement), bus::request_name_reply::primary_owner);
  // Asking again updates the flags (spec): a keeps allowing replacement.
  EXPECT_EQ(request(a, bus::request_name_flags::allow_replacement), bus::request_name_reply::already_owner);
  EXPECT_EQ(request(b, bus::request_name_flags::do_not_queue), bus::request_name_reply::exists);
  EXPECT_EQ(request(b, bus::request_name_flags::none), bus::request_name_reply::in_queue);

  wait([&](bool& done) {
    bus::async_list_queued_owners(a, name, [&](error_code ec, std::vector<std::string> owners) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(owners, (std::vector<std::string>{a.unique_name(), b.unique_name()}));
      done = true;
    });
  });
  wait([&](bool& done) {
    bus::async_get_name_owner(b, name, [&](error_code ec, std::string owner) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(owner, a.unique_name());
      done = true;
    });
  });
  // Replacement: b takes the name over; a, which did not say do_not_queue, waits in the queue.
  EXPECT_EQ(request(b, bus::request_name_flags::replace_existing), bus::request_name_reply::primary_owner);
  auto release = [&](kbus::connection& c) {
    bus::release_name_reply result{};
    wait([&](bool& done) {
      bus::async_release_name(c, name, [&](error_code ec, bus::release_name_reply r) {
        EXPECT_FALSE(ec);
        result = r;
        done = true;
      });
    });
    return result;
  };
  EXPECT_EQ(release(a), bus::release_name_reply::released);    // out of the queue
  EXPECT_EQ(release(a), bus::release_name_reply::not_owner);   // b owns it, a is not waiting
  EXPECT_EQ(release(b), bus::release_name_reply::released);
  EXPECT_EQ(release(b), bus::release_name_reply::non_existent);
  wait([&](bool& done) {
    bus::async_name_has_owner(b, name, [&](error_code ec, bool has) {
      EXPECT_FALSE(ec);
      EXPECT_FALSE(has);
      done = true;
    });
  });
  EXPECT_NE(std::find(signals_to_a.begin(), signals_to_a.end(), "acquired org.kbus.Test.Name"), signals_to_a.end());
  EXPECT_NE(std::find(signals_to_a.begin(), signals_to_a.end(), "lost org.kbus.Test.Name"), signals_to_a.end());
}

TEST_P(BusDriver, ListsCredentialsAndErrors) {
  kbus::connection a(io_.get_executor());
  connect(a);
  wait([&](bool& done) {
    bus::async_list_names(a, [&](error_code ec, std::vector<std::string> names) {
      EXPECT_FALSE(ec);
      EXPECT_NE(std::find(names.begin(), names.end(), a.unique_name()), names.end());
      EXPECT_NE(std::find(names.begin(), names.end(), "org.freedesktop.DBus"), names.end());
      done = true;
    });
  });
  wait([&](bool& done) {
    bus::async_list_activatable_names(a, [&](error_code ec, std::vector<std::string>) {
      EXPECT_FALSE(ec);
      done = true;
    });
  });
  wait([&](bool& done) {
    bus::async_get_connection_unix_user(a, kbus::bus_name(a.unique_name()), [&](error_code ec, std::uint32_t uid) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(uid, ::geteuid());
      done = true;
    });
  });
  wait([&](bool& done) {
    bus::async_get_connection_unix_process_id(a, kbus::bus_name(a.unique_name()), [&](error_code ec, std::uint32_t pid) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(pid, static_cast<std::uint32_t>(::getpid()));
      done = true;
    });
  });
  wait([&](bool& done) {
    bus::async_get_connection_credentials(a, kbus::bus_name(a.unique_name()),
                                          [&](error_code ec, std::map<std::string, kbus::variant> creds) {
                                            EXPECT_FALSE(ec);
                                            EXPECT_EQ(creds.at("UnixUserID").as<std::uint32_t>().value(), ::geteuid());
                                            done = true;
                                          });
  });
  wait([&](bool& done) {
    bus::async_get_name_owner(a, "org.kbus.Nobody"_bus, [&](error_code ec, std::string) {
      EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply));
      done = true;
    });
  });
  wait([&](bool& done) {
    bus::async_add_match(a, "type='signal',member='Foo'", [&](error_code ec) {
      EXPECT_FALSE(ec) << ec.message();
      bus::async_remove_match(a, "type='signal',member='Foo'", [&](error_code ec2) {
        EXPECT_FALSE(ec2);
        bus::async_remove_match(a, "type='signal',member='Foo'", [&](error_code ec3) {
          EXPECT_EQ(ec3, kbus::make_error_code(kbus::connection_errc::error_reply));
          done = true;
        });
      });
    });
  });
  wait([&](bool& done) {
    bus::async_start_service_by_name(a, "org.kbus.NotActivatable"_bus, [&](error_code ec, bus::start_service_reply) {
      EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply));
      done = true;
    });
  });
  // The driver is a peer too: its machine id is the one in the machine's file.
  std::string machine_id;
  std::ifstream("/etc/machine-id") >> machine_id;
  wait([&](bool& done) {
    auto call = kbus::message_builder::method_call("org.freedesktop.DBus"_bus, "/org/freedesktop/DBus"_path,
                                                   "org.freedesktop.DBus.Peer"_iface, "GetMachineId"_member)
                    .build();
    a.async_call(std::move(call), [&](error_code ec, kbus::message reply) {
      EXPECT_FALSE(ec) << kbus::dbus_error_of(reply).message;
      auto id = reply.read<std::string>();
      ASSERT_TRUE(id);
      EXPECT_EQ(std::get<0>(*id).size(), 32u);
      if (!machine_id.empty()) {
        EXPECT_EQ(std::get<0>(*id), machine_id);
      }
      done = true;
    });
  });
}

// BecomeMonitor on every bus: on kdbus the connection opens a monitor connection (the kernel
// makes one only at HELLO) and goes on with it.
TEST_P(BusDriver, BecomeMonitor) {
  // A new connection asks to become a monitor of `rules`: the error code and the reply.
  auto become_monitor = [&](std::vector<std::string> rules) {
    auto c = std::make_unique<kbus::connection>(io_.get_executor());
    connect(*c);
    std::pair<error_code, kbus::message> result;
    wait([&](bool& done) {
      auto call = kbus::message_builder::method_call("org.freedesktop.DBus"_bus, "/org/freedesktop/DBus"_path,
                                                     "org.freedesktop.DBus.Monitoring"_iface, "BecomeMonitor"_member)
                      .build(rules, std::uint32_t{0});
      c->async_call(std::move(call), [&](error_code ec, kbus::message reply) {
        result = {ec, std::move(reply)};
        done = true;
      });
    });
    EXPECT_TRUE(c->is_open()) << c->last_error();
    return result;
  };
  auto [ec, reply] = become_monitor({"type='signal'"});
  EXPECT_FALSE(ec) << kbus::dbus_error_of(reply).name << ": " << kbus::dbus_error_of(reply).message;
  // A rule that is no rule is refused, as the buses do.
  std::tie(ec, reply) = become_monitor({"type='nonsense'"});
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply));
  EXPECT_EQ(kbus::dbus_error_of(reply).name, kbus::dbus_errors::match_rule_invalid);
}

TEST_P(BusDriver, NameOwnerChangedIsDecoded) {
  kbus::connection watcher(io_.get_executor()), other(io_.get_executor());
  connect(watcher);
  std::vector<bus::name_owner_changed> seen;
  watcher.set_message_handler([&](kbus::message& m) {
    if (auto c = bus::as_name_owner_changed(m)) seen.push_back(*c);
  });
  wait([&](bool& done) {
    bus::async_add_match(watcher, "type='signal',member='NameOwnerChanged'", [&](error_code ec) {
      EXPECT_FALSE(ec);
      done = true;
    });
  });
  connect(other);
  const std::string name = other.unique_name();
  other.close();
  // Only `other`'s changes: other clients of the bus (a readiness probe) may come and go too.
  const auto about_other = [&] {
    std::erase_if(seen, [&](const bus::name_owner_changed& c) { return c.name != name; });
    return seen.size();
  };
  run_io_until([&] { return about_other() >= 2; }, std::chrono::seconds(10));
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0].name, name);
  EXPECT_EQ(seen[0].new_owner, name);
  EXPECT_EQ(seen[1].old_owner, name);
  EXPECT_EQ(seen[1].new_owner, "");
}

INSTANTIATE_TEST_SUITE_P(Buses, BusDriver, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse, bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
