// Peer-to-peer: a kbus server and a kbus client with no bus between them, over every address
// kind a server can listen on; the server's checks of who connects; and a real peer
// (python3-dbus) connecting to a kbus server.
#include "kbus/address.hpp"
#include "kbus/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

namespace {

using namespace kbus::literals;
using boost::system::error_code;

class PeerToPeer : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kbus-p2p-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  // Serves Add(ii) → i and Who() → s (the uid the server saw) on each accepted connection.
  void serve(kbus::server& srv) {
    srv.async_accept([this, &srv](error_code ec, kbus::connection c) {
      if (ec) return;
      auto peer = std::make_shared<kbus::connection>(std::move(c));
      peers_.push_back(peer);
      peer->set_message_handler([weak = std::weak_ptr<kbus::connection>(peer)](kbus::message& m) {
        auto p = weak.lock();
        if (!p || m.type() != kbus::message_type::method_call) return;
        if (m.member() == "Add") {
          auto [a, b] = m.read<std::int32_t, std::int32_t>().value();
          p->send(kbus::message_builder::method_return(m).build(a + b));
        } else {
          const auto& who = p->info().peer;
          p->send(kbus::message_builder::method_return(m).build(who ? std::to_string(who->uid) : std::string("?")));
        }
      });
      serve(srv);
    });
  }

  static kbus::message add(std::int32_t a, std::int32_t b) {
    return kbus::message_builder::method_call(kbus::bus_name{}, "/calc"_path, "org.kbus.Calc"_iface, "Add"_member).build(a, b);
  }

  std::string dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::vector<std::shared_ptr<kbus::connection>> peers_;
};

TEST_F(PeerToPeer, EveryListenAddressKindCarriesCalls) {
  const std::string escaped_dir = kbus::escape_address_value(dir_);
  for (const std::string& address : {"unix:path=" + escaped_dir + "/sock", "unix:dir=" + escaped_dir,
                                    "unix:tmpdir=" + escaped_dir, "unix:abstract=kbus-p2p-" + std::to_string(::getpid()),
                                    std::string("tcp:host=127.0.0.1,port=0")}) {
    SCOPED_TRACE(address);
    kbus::server srv(io_.get_executor());
    srv.listen(address);
    EXPECT_NE(srv.address().find(",guid=" + srv.guid()), std::string::npos) << srv.address();
    serve(srv);
    kbus::connection client(io_.get_executor());
    client.connect(srv.address(), kbus::connect_options{.bus = false});
    EXPECT_EQ(client.info().server_guid, srv.guid());
    EXPECT_TRUE(client.unique_name().empty());  // no bus, no Hello
    auto [sum] = client.call(add(40, 2)).read<std::int32_t>().value();
    EXPECT_EQ(sum, 42);
    if (address.starts_with("unix")) {
      // Both sides know who is at the other end, from the kernel.
      ASSERT_TRUE(client.info().peer.has_value());
      EXPECT_EQ(client.info().peer->pid, ::getpid());
      EXPECT_TRUE(client.info().unix_fd_passing);
    }
    auto who = client.call(
        kbus::message_builder::method_call(kbus::bus_name{}, "/calc"_path, "org.kbus.Calc"_iface, "Who"_member).build());
    EXPECT_EQ(std::get<0>(who.read<std::string>().value()), address.starts_with("unix") ? std::to_string(::geteuid()) : "?");
    client.close();
    srv.close();
  }
  // dir= made a socket file, and close() removed it again.
  EXPECT_TRUE(std::filesystem::is_empty(dir_) || std::filesystem::exists(dir_ + "/sock"));
}

TEST_F(PeerToPeer, ANotAllowedUidIsTurnedAwayWithAReason) {
  kbus::server srv(io_.get_executor(), {.allow_uid = [](std::uint32_t) { return false; }});
  srv.listen("unix:dir=" + kbus::escape_address_value(dir_));
  bool refused = false;
  std::promise<void> done;
  srv.async_accept([&](error_code ec, kbus::connection) {
    refused = ec.failed();
    done.set_value();
  });
  kbus::connection client(io_.get_executor());
  error_code ec;
  client.connect(srv.address(), ec, {.bus = false});
  EXPECT_TRUE(ec) << "a refused client connected";
  done.get_future().get();
  EXPECT_TRUE(refused);
}

TEST_F(PeerToPeer, NoUsableListenAddressSaysWhyForEachEntry) {
  kbus::server srv(io_.get_executor());
  error_code ec;
  srv.listen("unix:path=" + kbus::escape_address_value(dir_) + "/missing/sock;nonce-tcp:host=localhost", ec);
  EXPECT_EQ(ec, kbus::make_error_code(kbus::connection_errc::no_usable_address));
  try {
    srv.listen("unix:path=" + kbus::escape_address_value(dir_) + "/missing/sock;launchd:env=X");
    ADD_FAILURE() << "listening succeeded";
  } catch (const boost::system::system_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("missing/sock"), std::string::npos) << what;
    EXPECT_NE(what.find("launchd"), std::string::npos) << what;
  }
}

TEST_F(PeerToPeer, DbusPythonConnectsToAKbusServer) {
  if (std::system("/usr/bin/python3 -c 'import dbus' 2>/dev/null") != 0) GTEST_SKIP() << "python3-dbus is not installed";
  kbus::server srv(io_.get_executor());
  srv.listen("unix:dir=" + kbus::escape_address_value(dir_));
  serve(srv);
  const std::string script = dir_ + "/client.py";
  {
    FILE* f = std::fopen(script.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(
        "import sys, dbus\n"
        "c = dbus.connection.Connection(sys.argv[1])\n"
        "m = dbus.lowlevel.MethodCallMessage(None, '/calc', 'org.kbus.Calc', 'Add')\n"
        "m.append(dbus.Int32(20), dbus.Int32(22), signature='ii')\n"
        "r = c.send_message_with_reply_and_block(m, 5000)\n"
        "print(int(r.get_args_list()[0]))\n",
        f);
    std::fclose(f);
  }
  const std::string command = "/usr/bin/python3 " + script + " '" + srv.address() + "' 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[256] = {};
  std::string out;
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_EQ(out, "42\n");
}

// Several messages read at once, some carrying fds: each gets the descriptors its UNIX_FDS
// field declares (all of them once went to the first message, and the connection dropped).
TEST_F(PeerToPeer, DescriptorsGoToTheMessageThatDeclaresThem) {
  kbus::server srv(io_.get_executor());
  srv.listen("unix:dir=" + kbus::escape_address_value(dir_));
  std::shared_ptr<kbus::connection> peer;
  srv.async_accept([&](error_code ec, kbus::connection c) {
    if (ec) return;
    peer = std::make_shared<kbus::connection>(std::move(c));
    peer->set_message_handler([p = peer.get()](kbus::message& m) {
      if (m.type() != kbus::message_type::method_call) return;
      p->send(kbus::message_builder::method_return(m).build(static_cast<std::uint32_t>(m.fds().size())));
    });
  });
  kbus::connection client(io_.get_executor());
  client.connect(srv.address(), kbus::connect_options{.bus = false});
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  kbus::unix_fd r(p[0]), w(p[1]);
  auto call = [](auto... args) {
    return kbus::message_builder::method_call(kbus::bus_name{}, "/calc"_path, "org.kbus.Calc"_iface, "Fds"_member).build(args...);
  };
  for (int round = 0; round < 20; ++round) {
    auto f1 = client.async_call(call(), boost::asio::use_future);
    auto f2 = client.async_call(call(kbus::unix_fd(::dup(w.get()))), boost::asio::use_future);
    auto f3 = client.async_call(call(), boost::asio::use_future);
    auto f4 = client.async_call(call(kbus::unix_fd(::dup(w.get())), kbus::unix_fd(::dup(w.get()))), boost::asio::use_future);
    EXPECT_EQ(std::get<0>(f1.get().read<std::uint32_t>().value()), 0u);
    EXPECT_EQ(std::get<0>(f2.get().read<std::uint32_t>().value()), 1u);
    EXPECT_EQ(std::get<0>(f3.get().read<std::uint32_t>().value()), 0u);
    EXPECT_EQ(std::get<0>(f4.get().read<std::uint32_t>().value()), 2u);
  }
  client.close();
  srv.close();
}

}  // namespace
