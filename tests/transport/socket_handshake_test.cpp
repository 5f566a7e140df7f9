// The socket transport's SASL handshake, both sides in one io_context over a socketpair: what
// each side learns, what a refused client hears, and bytes pipelined behind BEGIN.
#include "kbus/address.hpp"
#include "kbus/message.hpp"
#include "transport/socket/handshake.hpp"
#include "wire/sasl.hpp"

#include "support/socket_pair.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

namespace {

using namespace kbus::literals;
using kbus::detail::receive_mode;
using kbus::detail::transport;
using outcome = kbus::result<std::unique_ptr<transport>>;

constexpr std::string_view server_guid = "0123456789abcdef0123456789abcdef";
constexpr std::string_view client_address = "unix:abstract=kbus-handshake-test";

using kbus::test::socket_pair;

kbus::detail::client_handshake_options local_client() {
  return {.address = std::string(client_address), .transport = kbus::transport_names::unix_socket, .pipeline_with_unix_fds = true};
}

kbus::detail::server_handshake_options server_allowing(std::function<bool(std::uint32_t)> allow) {
  kbus::detail::server_handshake_options o;
  o.guid = std::string(server_guid);
  o.allow_uid = std::move(allow);
  return o;
}

kbus::message signal_saying(const std::string& text) {
  auto m = kbus::message_builder::signal("/t"_path, "org.kbus.T"_iface, "Said"_member).build(text);
  m.set_serial(1);
  return m;
}

// The next message; the socket was written to before (same process), so one read finds it.
std::string receive_text(transport& t) {
  auto r = t.receive(receive_mode::read_once);
  if (!r) return "error: " + r.error().what();
  if (!*r) return "nothing";
  return std::get<0>((*r)->read<std::string>().value());
}

// Runs both sides until each has its outcome.
struct handshake_pair {
  boost::asio::io_context io;
  std::optional<outcome> client, server;

  void run(kbus::detail::client_handshake_options client_options, kbus::detail::server_handshake_options server_options) {
    socket_pair s;
    kbus::detail::async_server_handshake(io.get_executor(), std::move(s.b), std::move(server_options),
                                         [this](outcome r) { server = std::move(r); });
    kbus::detail::async_client_handshake(io.get_executor(), std::move(s.a), std::move(client_options),
                                         [this](outcome r) { client = std::move(r); });
    io.run();
  }
};

TEST(SocketHandshake, BothSidesLearnWhatTheConnectionCanDo) {
  handshake_pair h;
  h.run(local_client(), server_allowing(nullptr));  // default: this process's own uid
  ASSERT_TRUE(h.client && *h.client) << (h.client ? h.client->error().what() : "no outcome");
  ASSERT_TRUE(h.server && *h.server) << (h.server ? h.server->error().what() : "no outcome");
  transport& client = ***h.client;
  transport& server = ***h.server;

  const auto ci = client.info();
  EXPECT_EQ(ci.address, client_address);
  EXPECT_EQ(ci.transport, kbus::transport_names::unix_socket);
  EXPECT_EQ(ci.server_guid, server_guid);
  EXPECT_TRUE(ci.unix_fd_passing);
  ASSERT_TRUE(ci.peer);
  EXPECT_EQ(ci.peer->uid, ::geteuid());
  EXPECT_EQ(ci.peer->pid, ::getpid());
  EXPECT_TRUE(client.capabilities().unix_fd_passing);

  const auto si = server.info();
  EXPECT_TRUE(si.address.empty());
  EXPECT_EQ(si.transport, kbus::transport_names::unix_socket);
  EXPECT_EQ(si.server_guid, server_guid);
  EXPECT_TRUE(si.unix_fd_passing);
  ASSERT_TRUE(si.peer);
  EXPECT_EQ(si.peer->pid, ::getpid());

  // Messages go both ways afterwards.
  client.send(signal_saying("to the server"), {});
  ASSERT_TRUE(client.flush());
  EXPECT_EQ(receive_text(server), "to the server");
  server.send(signal_saying("to the client"), {});
  ASSERT_TRUE(server.flush());
  EXPECT_EQ(receive_text(client), "to the client");
}

TEST(SocketHandshake, AClientWhoseUidIsNotAllowedIsRefusedOnBothSides) {
  handshake_pair h;
  h.run(local_client(), server_allowing([](std::uint32_t) { return false; }));
  ASSERT_TRUE(h.server);
  ASSERT_FALSE(*h.server);
  EXPECT_EQ(h.server->error().code, kbus::make_error_code(kbus::connection_errc::disconnected));
  EXPECT_EQ(h.server->error().message.rfind("authentication: ", 0), 0u) << h.server->error().message;
  ASSERT_TRUE(h.client);
  ASSERT_FALSE(*h.client);
  EXPECT_EQ(h.client->error().message.rfind("authentication: ", 0), 0u) << h.client->error().message;
}

TEST(SocketHandshake, AServerThatHangsUpFailsTheClient) {
  boost::asio::io_context io;
  socket_pair s;
  std::optional<outcome> client;
  kbus::detail::async_client_handshake(io.get_executor(), std::move(s.a), local_client(),
                                       [&](outcome r) { client = std::move(r); });
  s.b.reset();
  io.run();
  ASSERT_TRUE(client);
  ASSERT_FALSE(*client);
  EXPECT_EQ(client->error().message.rfind("authentication: ", 0), 0u) << client->error().message;
}

TEST(SocketHandshake, AMessagePipelinedBehindBeginIsTheFirstOfTheStream) {
  boost::asio::io_context io;
  socket_pair s;
  std::optional<outcome> server;
  kbus::detail::async_server_handshake(io.get_executor(), std::move(s.b), server_allowing(nullptr),
                                       [&](outcome r) { server = std::move(r); });
  // A client that says everything at once (as sd-bus does), its first message included.
  std::string bytes = std::string(1, '\0') + "AUTH EXTERNAL " + kbus::sasl::hex_encode(std::to_string(::geteuid())) +
                      "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n";
  const auto m = signal_saying("right behind BEGIN");
  bytes.append(reinterpret_cast<const char*>(m.bytes().data()), m.bytes().size());
  ASSERT_EQ(::write(s.a.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  io.run();
  ASSERT_TRUE(server && *server) << (server ? server->error().what() : "no outcome");
  transport& t = ***server;
  EXPECT_TRUE(t.has_pending_input());
  auto r = t.receive(receive_mode::buffered);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(std::get<0>((*r)->read<std::string>().value()), "right behind BEGIN");
  // The server's answers (OK, AGREE_UNIX_FD) were written before the transport was handed on.
  char answer[256];
  const ssize_t n = ::read(s.a.get(), answer, sizeof answer);
  ASSERT_GT(n, 0);
  const std::string said(answer, static_cast<std::size_t>(n));
  EXPECT_EQ(said, "OK " + std::string(server_guid) + "\r\nAGREE_UNIX_FD\r\n");
}

}  // namespace
