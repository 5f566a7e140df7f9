// Generated code with peers of other libraries: a GDBus client (python3-gi) calls the generated
// adaptor, a generated proxy calls a dbus-python service.
#include "org.kbus.PyPeer1_proxy.hpp"
#include "org.kbus.Test.Everything1_adaptor.hpp"

#include "support/bus_test.hpp"
#include "support/process.hpp"

#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <cstdlib>
#include <optional>

namespace {

using namespace kbus::literals;
using kbus::test::bus_kind;

bool python_has(const char* modules) {
  if (::access("/usr/bin/python3", X_OK) != 0) return false;
  const std::string cmd = std::string("/usr/bin/python3 -c 'import ") + modules + "' 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}
std::string peer_script(const char* name) { return std::string(KBUS_SOURCE_DIR) + "/tests/peers/" + name; }

// The part of the round-trip interface the GDBus client uses; the rest is never called.
class glib_facing_service : public codegen_test::everything1_adaptor {
 public:
  ~glib_facing_service() override { unregister_object(); }
  std::string basics(std::uint8_t, bool, std::int16_t, std::uint16_t, std::int32_t, std::uint32_t, std::int64_t,
                     std::uint64_t, double, std::string, kbus::object_path, kbus::signature) override {
    return {};
  }
  codegen_test::everything1::echo_containers_result echo_containers(std::vector<std::uint8_t>, std::vector<std::string>,
                                                                    std::map<std::string, kbus::variant>,
                                                                    std::map<std::string, std::map<std::string, std::uint32_t>>,
                                                                    std::tuple<std::int32_t, std::string>, kbus::variant) override {
    return {};
  }
  codegen_test::everything1::measure_result measure(std::deque<codegen_test::everything1::point> points,
                                                    std::set<std::string> tags) override {
    codegen_test::everything1::measure_result r;
    for (const auto& t : tags) r.counts[t] = static_cast<std::uint32_t>(t.size());
    for (const auto& p : points) r.centre = {r.centre.x + p.x, r.centre.y + p.y, r.centre.weight + p.weight};
    r.trail.assign(points.begin(), points.end());
    return r;
  }
  std::int32_t class_(std::int32_t a, std::int32_t b, std::int32_t c, std::int32_t d) override { return a * 1000 + b * 100 + c * 10 + d; }
  std::uint32_t renamed_by_annotation(std::string) override { return 0; }
  std::string state() override { return {}; }
  void fail(std::string name, std::string text) override { throw kbus::dbus_exception(name, text); }
  void later(kbus::async_reply<std::uint32_t, std::string> reply, std::uint32_t value) override { reply.reply(value * 2, "later"); }
  void fire(std::string) override {}
  void slow(kbus::async_reply<>, std::uint32_t) override {}
  std::int32_t old() override { return 0; }
  std::string pass_fd(kbus::unix_fd) override { return {}; }
  std::string label() override {
    std::lock_guard lock(mu_);
    return label_;
  }
  void set_label(std::string v) override {
    std::lock_guard lock(mu_);
    label_ = std::move(v);
  }
  std::string state_2() override { return {}; }
  std::uint32_t version() override { return 0; }
  void set_secret(std::string) override {}
  codegen_test::everything1::point position() override { return {}; }
  void set_position(codegen_test::everything1::point) override {}
  kbus::variant anything() override { return kbus::variant(std::int32_t{0}); }
  void set_anything(kbus::variant) override {}
  std::int32_t legacy_name() override { return 0; }

 private:
  std::mutex mu_;
  std::string label_;
};

class CodegenPeers : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    conn_.emplace(io_.get_executor());
    conn_->connect(bus_->address());
  }
  void TearDown() override {
    if (conn_) conn_->close();
    bus_test::TearDown();
    service_.reset();
    server_.reset();
  }
  std::optional<kbus::connection> conn_;
  std::optional<kbus::object_server> server_;
  std::optional<glib_facing_service> service_;
};

TEST_P(CodegenPeers, AGDBusClientCallsTheGeneratedAdaptor) {
  if (!python_has("gi")) GTEST_SKIP() << "python3-gi is not installed";
  server_.emplace(*conn_);
  service_.emplace();
  ASSERT_TRUE(service_->register_object(*server_, "/org/kbus/Test/Everything"_path));
  kbus::test::child_process client(
      {"/usr/bin/python3", peer_script("gdbus_codegen_client.py"), bus_->address(), conn_->unique_name()});
  const std::string out = client.read_until([](const std::string& o) { return o.find("struct ") != std::string::npos && o.back() == '\n'; });
  EXPECT_EQ(out,
            "class 1234\n"
            "measure [('ab', 2), ('abc', 3)] (4, 6, 2.0) [(1, 2, 0.5), (3, 4, 1.5)]\n"
            "later (42, 'later')\n"
            "fail org.kbus.Test.Error.Nope from glib\n"
            "label from glib\n"
            "noreply true\n"
            "struct a(iid)\n");
}

TEST_P(CodegenPeers, AGeneratedProxyCallsADbusPythonService) {
  if (!python_has("dbus, gi")) GTEST_SKIP() << "python3-dbus is not installed";
  kbus::test::child_process service({"/usr/bin/python3", peer_script("python_service.py"), bus_->address()});
  ASSERT_EQ(service.read_line(), "READY\n");
  codegen_test::py_peer_proxy peer(*conn_, "org.kbus.PyPeer"_bus, "/org/kbus/PyPeer"_path);
  EXPECT_EQ(peer.add(40, 2), 42);
  EXPECT_EQ(peer.async_add(-1, 1, boost::asio::use_future).get(), 0);
  const kbus::variant v(std::map<std::string, kbus::variant>{{"k", kbus::variant(std::string("v"))}});
  EXPECT_EQ(peer.echo(v), v);
  try {
    peer.fail();
    ADD_FAILURE() << "no error";
  } catch (const kbus::call_error& e) {
    EXPECT_EQ(e.error().name, "org.kbus.PyPeer.Error.Failed");
    EXPECT_EQ(e.error().message, "python says no");
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "from kbus", 9), 9);
  ::close(fds[1]);
  EXPECT_EQ(peer.read_fd(kbus::unix_fd(fds[0])), "from kbus");
  EXPECT_EQ(peer.label(), "python");
  peer.set_label("set by kbus");
  EXPECT_EQ(peer.async_get_label(boost::asio::use_future).get(), "set by kbus");
}

INSTANTIATE_TEST_SUITE_P(Buses, CodegenPeers, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
