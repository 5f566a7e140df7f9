// The socket transport's listener and connectors together in one io_context: a client connects
// to the address the listener bound, both sides authenticate; entries that cannot be used say
// why.
#include "kbus/address.hpp"
#include "kbus/connection.hpp"
#include "kbus/message.hpp"
#include "transport/socket/connectors.hpp"
#include "transport/socket/listener.hpp"
#include "support/address_entry.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace {

using namespace kbus::literals;
using kbus::detail::listener;
using kbus::detail::receive_mode;
using kbus::detail::transport;
using outcome = kbus::result<std::unique_ptr<transport>>;

// An abstract socket name of this process's own: no file, no clash with another run.
std::string abstract_address(const std::string& name) {
  return "unix:abstract=kbus-test-" + name + "-" + std::to_string(::getpid());
}

using kbus::test::entry_of;

struct accepted_pair {
  std::optional<outcome> client;
  std::optional<boost::system::error_code> accept_error;
  std::unique_ptr<transport> server;
};

// Connects `connector` to `address` while `l` accepts; runs until both are done.
accepted_pair connect_and_accept(boost::asio::io_context& io, listener& l, kbus::detail::connector_fn connector,
                                 const std::string& address) {
  accepted_pair p;
  l.async_accept([&](boost::system::error_code ec, std::unique_ptr<transport> t) {
    p.accept_error = ec;
    p.server = std::move(t);
  });
  connector({entry_of(address), io.get_executor()}, [&](outcome r) { p.client = std::move(r); });
  io.run();
  return p;
}

TEST(SocketListener, AUnixClientConnectsToTheAddressItListensOn) {
  boost::asio::io_context io;
  listener l(io.get_executor(), {});
  boost::system::error_code ec;
  l.listen(abstract_address("unix"), ec);
  ASSERT_FALSE(ec) << l.failure();
  EXPECT_EQ(l.guid().size(), 32u);
  EXPECT_NE(l.address().find(",guid=" + l.guid()), std::string::npos) << l.address();

  auto p = connect_and_accept(io, l, &kbus::detail::connect_unix, l.address());
  ASSERT_TRUE(p.client && *p.client) << (p.client ? p.client->error().what() : "no outcome");
  ASSERT_TRUE(p.accept_error);
  ASSERT_FALSE(*p.accept_error) << p.accept_error->message() << ": " << l.failure();
  ASSERT_TRUE(p.server);
  transport& client = ***p.client;
  EXPECT_EQ(client.info().address, entry_of(l.address()).to_string());
  EXPECT_EQ(client.info().server_guid, l.guid());
  EXPECT_TRUE(client.info().unix_fd_passing);
  EXPECT_EQ(p.server->info().transport, kbus::transport_names::unix_socket);

  auto m = kbus::message_builder::signal("/t"_path, "org.kbus.T"_iface, "Hello"_member).build(std::string("hi"));
  m.set_serial(1);
  client.send(std::move(m), {});
  ASSERT_TRUE(client.flush());
  auto r = p.server->receive(receive_mode::read_once);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->member(), "Hello");
}

TEST(SocketListener, AClientTheServerDoesNotAllowIsRefused) {
  boost::asio::io_context io;
  listener l(io.get_executor(), {.allow_uid = [](std::uint32_t) { return false; }});
  boost::system::error_code ec;
  l.listen(abstract_address("refused"), ec);
  ASSERT_FALSE(ec) << l.failure();
  auto p = connect_and_accept(io, l, &kbus::detail::connect_unix, l.address());
  ASSERT_TRUE(p.accept_error);
  EXPECT_TRUE(p.accept_error->failed());
  EXPECT_FALSE(p.server);
  EXPECT_EQ(l.failure().rfind("authentication: ", 0), 0u) << l.failure();
  ASSERT_TRUE(p.client);
  EXPECT_FALSE(*p.client);
}

// Over TCP the server sees no credentials: the client proves its uid with DBUS_COOKIE_SHA1,
// through a keyring in a home of the test's own.
class SocketListenerTcp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* home = std::getenv("HOME")) saved_home_ = home;
    std::string tmpl = (std::filesystem::temp_directory_path() / "kbus-home-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    home_ = tmpl;
    ::setenv("HOME", home_.c_str(), 1);
  }
  void TearDown() override {
    if (saved_home_) ::setenv("HOME", saved_home_->c_str(), 1);
    else ::unsetenv("HOME");
    if (!home_.empty()) std::filesystem::remove_all(home_);
  }

 private:
  std::optional<std::string> saved_home_;
  std::filesystem::path home_;
};

TEST_F(SocketListenerTcp, ATcpClientAuthenticatesThroughTheKeyring) {
  boost::asio::io_context io;
  listener l(io.get_executor(), {});
  boost::system::error_code ec;
  l.listen("tcp:host=127.0.0.1,port=0", ec);
  ASSERT_FALSE(ec) << l.failure();
  EXPECT_EQ(l.address().find("tcp:host=127.0.0.1,port="), 0u) << l.address();
  auto p = connect_and_accept(io, l, &kbus::detail::connect_tcp, l.address());
  ASSERT_TRUE(p.client && *p.client) << (p.client ? p.client->error().what() : "no outcome");
  ASSERT_TRUE(p.server) << l.failure();
  const auto info = (**p.client)->info();
  EXPECT_EQ(info.transport, kbus::transport_names::tcp);
  EXPECT_FALSE(info.unix_fd_passing);
  EXPECT_FALSE(info.peer);
  EXPECT_EQ(p.server->info().transport, kbus::transport_names::tcp);
}

TEST(SocketListener, ListeningTwiceOnOneNameFailsWithTheReason) {
  boost::asio::io_context io;
  listener first(io.get_executor(), {}), second(io.get_executor(), {});
  boost::system::error_code ec;
  first.listen(abstract_address("twice"), ec);
  ASSERT_FALSE(ec) << first.failure();
  second.listen(abstract_address("twice"), ec);
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::no_usable_address));
  EXPECT_NE(second.failure().find("cannot listen on @kbus-test-twice"), std::string::npos) << second.failure();
  // The next entry of a list is tried.
  second.listen(abstract_address("twice") + ";" + abstract_address("other"), ec);
  EXPECT_FALSE(ec) << second.failure();
  EXPECT_NE(second.address().find("kbus-test-other"), std::string::npos);
}

TEST(SocketListener, AcceptingWithoutListeningFailsLater) {
  boost::asio::io_context io;
  listener l(io.get_executor(), {});
  std::optional<boost::system::error_code> result;
  l.async_accept([&](boost::system::error_code ec, std::unique_ptr<transport>) { result = ec; });
  EXPECT_FALSE(result);  // never inside the call
  io.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, kbus::make_error_code(kbus::connection_errc::not_connected));
}

// Entries a connector cannot use fail with the reason, at once.
std::string failure_of(kbus::detail::connector_fn connector, const std::string& address) {
  boost::asio::io_context io;
  std::optional<outcome> r;
  connector({entry_of(address), io.get_executor()}, [&](outcome o) { r = std::move(o); });
  io.run();
  if (!r) return "no outcome";
  if (*r) return "connected";
  return r->error().message.empty() ? r->error().what() : r->error().message;
}

TEST(SocketConnectors, EntriesThatCannotBeUsedSayWhy) {
  EXPECT_NE(failure_of(&kbus::detail::connect_unix, "unix:runtime=yes").find("only path= and abstract= can be connected to"),
            std::string::npos);
  EXPECT_NE(failure_of(&kbus::detail::connect_tcp, "tcp:host=localhost").find("a tcp address to connect to needs a port"),
            std::string::npos);
  EXPECT_NE(failure_of(&kbus::detail::connect_nonce_tcp, "nonce-tcp:host=localhost,port=1")
                .find("a nonce-tcp address to connect to needs noncefile and port"),
            std::string::npos);
  EXPECT_NE(failure_of(&kbus::detail::connect_nonce_tcp, "nonce-tcp:host=localhost,port=1,noncefile=kbus-no-such-file")
                .find("cannot read the noncefile: "),
            std::string::npos);
  // Nobody listens there.
  EXPECT_NE(failure_of(&kbus::detail::connect_unix, abstract_address("nobody")), "connected");
  EXPECT_NE(failure_of(&kbus::detail::connect_launchd, "launchd:env=KBUS_TEST_NO_SUCH_VARIABLE"), "connected");
}

}  // namespace
