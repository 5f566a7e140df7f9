// Owning names: connect_options::names (after Hello, failing the connect when exclusive ownership
// cannot be had), the blocking request_name/release_name and the blocking twin of every other
// kbus::bus helper, with the same would-deadlock protection as connection's. On dbus-daemon,
// dbus-broker and kbusd.
#include "support/bus_test.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_errors.hpp"

#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <future>

#include <unistd.h>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;
using boost::system::error_code;
namespace bus = kbus::bus;

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// io_ runs on its own thread: the blocking forms are called from the test thread.
class OwningNames : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
  }
  kbus::connection& make() { return connections_.emplace_back(io_.get_executor()); }
  void TearDown() override {
    for (auto& c : connections_) c.close();
    bus_test::TearDown();
  }
  std::deque<kbus::connection> connections_;
};

TEST_P(OwningNames, ConnectingOwnsTheNamesItIsGiven) {
  auto& a = make();
  a.connect(bus_->address(), {.names = {{"org.kbus.Test.First"_bus}, {"org.kbus.Test.Second"_bus, bus::request_name_flags::none}}});
  EXPECT_EQ(bus::get_name_owner(a, "org.kbus.Test.First"_bus), a.unique_name());
  EXPECT_EQ(bus::get_name_owner(a, "org.kbus.Test.Second"_bus), a.unique_name());
}

TEST_P(OwningNames, AnExclusiveNameWithAnotherOwnerFailsTheConnectAndSaysWhy) {
  auto& a = make();
  a.connect(bus_->address(), {.names = {{"org.kbus.Test.Taken"_bus}}});
  auto& b = make();
  error_code ec;
  b.connect(bus_->address(), ec, {.names = {{"org.kbus.Test.Free"_bus}, {"org.kbus.Test.Taken"_bus}}});
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::name_not_owned));
  EXPECT_EQ(b.last_error(), "cannot own org.kbus.Test.Taken: the bus answered exists (another connection owns it)");
  EXPECT_FALSE(b.is_open());
  // The throwing form says the same.
  auto& c = make();
  try {
    c.connect(bus_->address(), {.names = {{"org.kbus.Test.Taken"_bus}}});
    ADD_FAILURE() << "connected without the name";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), kbus::make_error_code(kbus::connection_errc::name_not_owned));
    EXPECT_NE(std::string(e.what()).find("cannot own org.kbus.Test.Taken"), std::string::npos) << e.what();
  }
  // The name the failed connection had taken first went with it.
  EXPECT_FALSE(bus::name_has_owner(a, "org.kbus.Test.Free"_bus));
  EXPECT_EQ(bus::get_name_owner(a, "org.kbus.Test.Taken"_bus), a.unique_name());
}

TEST_P(OwningNames, ANameAskedForWithoutDoNotQueueMayBeQueued) {
  auto& a = make();
  a.connect(bus_->address(), {.names = {{"org.kbus.Test.Queue"_bus}}});
  auto& b = make();
  b.connect(bus_->address(), {.names = {{"org.kbus.Test.Queue"_bus, bus::request_name_flags::none}}});
  EXPECT_TRUE(b.is_open());
  const auto queue = bus::list_queued_owners(a, "org.kbus.Test.Queue"_bus);
  EXPECT_EQ(queue, (std::vector<std::string>{a.unique_name(), b.unique_name()}));
}

TEST_P(OwningNames, BlockingRequestAndReleaseSayPlainlyWhatHappened) {
  auto& a = make();
  a.connect(bus_->address());
  auto& b = make();
  b.connect(bus_->address());
  const auto name = "org.kbus.Test.Blocking"_bus;
  EXPECT_EQ(bus::request_name(a, name), bus::request_name_reply::primary_owner);
  EXPECT_EQ(bus::request_name(a, name), bus::request_name_reply::already_owner);
  EXPECT_TRUE(bus::owns_name(bus::request_name(a, name)));
  error_code ec;
  EXPECT_EQ(bus::request_name(b, name, bus::request_name_flags::do_not_queue, ec), bus::request_name_reply::exists);
  EXPECT_FALSE(ec);
  EXPECT_EQ(bus::request_name(b, name, bus::request_name_flags::none, ec), bus::request_name_reply::in_queue);
  EXPECT_FALSE(bus::owns_name(bus::request_name_reply::in_queue));
  EXPECT_EQ(bus::to_string(bus::request_name_reply::in_queue), "in_queue");
  EXPECT_EQ(bus::release_name(a, name), bus::release_name_reply::released);
  EXPECT_EQ(bus::get_name_owner(a, name), b.unique_name());  // the queue moved on
  EXPECT_EQ(bus::release_name(a, name, ec), bus::release_name_reply::not_owner);
  EXPECT_EQ(bus::release_name(a, "org.kbus.Test.Nobody"_bus), bus::release_name_reply::non_existent);
}

TEST_P(OwningNames, EveryDriverHelperHasABlockingTwin) {
  auto& a = make();
  a.connect(bus_->address());
  const auto me = kbus::bus_name(a.unique_name());
  EXPECT_TRUE(contains(bus::list_names(a), a.unique_name()));
  error_code ec;
  EXPECT_TRUE(contains(bus::list_names(a, ec), std::string(kbus::bus::driver_name)));
  EXPECT_FALSE(ec);
  bus::list_activatable_names(a);
  EXPECT_TRUE(bus::name_has_owner(a, me));
  EXPECT_FALSE(bus::name_has_owner(a, "org.kbus.Test.Nobody"_bus, ec));
  EXPECT_FALSE(ec);
  EXPECT_EQ(bus::get_connection_unix_user(a, me), ::geteuid());
  EXPECT_EQ(bus::get_connection_unix_process_id(a, me, ec), static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(bus::get_connection_credentials(a, me).at("UnixUserID").as<std::uint32_t>().value(), ::geteuid());
  EXPECT_EQ(bus::get_id(a).size(), 32u);
  bus::add_match(a, "type='signal',member='Foo'");
  bus::remove_match(a, "type='signal',member='Foo'", ec);
  EXPECT_FALSE(ec);
  // Errors: the code in the error_code& form, kbus::call_error in the throwing one.
  bus::remove_match(a, "type='signal',member='Foo'", ec);
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply));
  EXPECT_EQ(bus::get_name_owner(a, "org.kbus.Test.Nobody"_bus, ec), "");
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::error_reply));
  try {
    bus::start_service_by_name(a, "org.kbus.Test.NotActivatable"_bus);
    ADD_FAILURE() << "nothing thrown";
  } catch (const kbus::call_error& e) {
    EXPECT_FALSE(e.error().name.empty());
  }
  // A monitor, last: it receives and sends no more calls.
  auto& m = make();
  m.connect(bus_->address());
  bus::become_monitor(m, {});
}

TEST_P(OwningNames, BlockingFormsOnTheConnectionsOwnExecutorFailWithWouldDeadlock) {
  auto& a = make();
  a.connect(bus_->address());
  std::promise<std::vector<error_code>> seen;
  boost::asio::post(a.get_executor(), [&] {
    std::vector<error_code> codes(3);
    bus::request_name(a, "org.kbus.Test.Deadlock"_bus, bus::request_name_flags::none, codes[0]);
    bus::list_names(a, codes[1]);
    try {
      bus::add_match(a, "type='signal'");
    } catch (const boost::system::system_error& e) {
      codes[2] = e.code();
    }
    seen.set_value(codes);
  });
  for (const auto& ec : seen.get_future().get()) EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::would_deadlock));
  // Nothing was asked of the bus.
  EXPECT_FALSE(bus::name_has_owner(a, "org.kbus.Test.Deadlock"_bus));
}

INSTANTIATE_TEST_SUITE_P(Buses, OwningNames, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker, bus_kind::kbusd, bus_kind::cuse, bus_kind::cuse_emulated),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
