// The round-trip interface (xml/org.kbus.Test.Everything1.xml): implemented through the
// generated adaptor, called through the generated proxy, on dbus-daemon and dbus-broker.
#include "org.kbus.Test.Everything1_adaptor.hpp"
#include "org.kbus.Test.Everything1_proxy.hpp"

#include "support/bus_test.hpp"
#include "support/notifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

namespace {

using namespace kbus::literals;
using codegen_test::everything1::point;
using kbus::test::bus_kind;

// What the service saw, guarded by its notifier.
struct service_state {
  std::vector<std::string> fired;
  std::string secret;
  std::string label = "initial";
  point position{1, 2, 0.5};
  kbus::variant anything{std::string("anything")};
  std::string state = "idle";
};

class everything_service : public codegen_test::everything1_adaptor {
 public:
  ~everything_service() override {
    unregister_object();
    for (auto& t : threads_) t.join();
  }

  kbus::test::notifier events;
  service_state state_;  // guarded by events

  std::string basics(std::uint8_t y, bool b, std::int16_t n, std::uint16_t q, std::int32_t i, std::uint32_t u, std::int64_t x,
                     std::uint64_t t, double d, std::string s, kbus::object_path o, kbus::signature g) override {
    return std::to_string(y) + (b ? " true " : " false ") + std::to_string(n) + " " + std::to_string(q) + " " +
           std::to_string(i) + " " + std::to_string(u) + " " + std::to_string(x) + " " + std::to_string(t) + " " +
           std::to_string(d) + " " + s + " " + o.str() + " " + std::string(g.view());
  }
  codegen_test::everything1::echo_containers_result echo_containers(
      std::vector<std::uint8_t> bytes, std::vector<std::string> strings, std::map<std::string, kbus::variant> dict,
      std::map<std::string, std::map<std::string, std::uint32_t>> nested, std::tuple<std::int32_t, std::string> pair,
      kbus::variant value) override {
    return {std::move(bytes), std::move(strings), std::move(dict), std::move(nested), std::move(pair), std::move(value)};
  }
  codegen_test::everything1::measure_result measure(std::deque<point> points, std::set<std::string> tags) override {
    codegen_test::everything1::measure_result r;
    for (const auto& t : tags) r.counts[t] = static_cast<std::uint32_t>(t.size());
    for (const auto& p : points) {
      r.centre.x += p.x;
      r.centre.y += p.y;
      r.centre.weight += p.weight;
      r.trail.push_front(p);
    }
    return r;
  }
  std::int32_t class_(std::int32_t new_, std::int32_t arg1, std::int32_t default_, std::int32_t default_2) override {
    return new_ * 1000 + arg1 * 100 + default_ * 10 + default_2;
  }
  std::uint32_t renamed_by_annotation(std::string text) override { return static_cast<std::uint32_t>(text.size()); }
  std::string state() override { return "method"; }
  void fail(std::string name, std::string text) override { throw kbus::dbus_exception(name, text); }
  void later(kbus::async_reply<std::uint32_t, std::string> reply, std::uint32_t value) override {
    // Answered from another thread, after the handler returned.
    threads_.emplace_back([reply, value] { reply.reply(value * 2, "later"); });
  }
  void fire(std::string value) override {
    events.update([&] { state_.fired.push_back(value); });
  }
  void slow(kbus::async_reply<> reply, std::uint32_t) override { slow_.push_back(reply); }  // answered when it ends
  std::int32_t old() override { return 7; }
  std::string pass_fd(kbus::unix_fd fd) override {
    char buf[64];
    const auto n = ::read(fd.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  std::string label() override {
    return events.read([&] { return state_.label; });
  }
  void set_label(std::string value) override {
    events.update([&] { state_.label = std::move(value); });
  }
  std::string state_2() override {
    return events.read([&] { return state_.state; });
  }
  std::uint32_t version() override { return 17; }
  void set_secret(std::string value) override {
    events.update([&] { state_.secret = std::move(value); });
  }
  point position() override {
    return events.read([&] { return state_.position; });
  }
  void set_position(point value) override {
    events.update([&] { state_.position = value; });
  }
  kbus::variant anything() override {
    return events.read([&] { return state_.anything; });
  }
  void set_anything(kbus::variant value) override {
    events.update([&] { state_.anything = std::move(value); });
  }
  std::int32_t legacy_name() override { return -1; }

 private:
  std::vector<std::thread> threads_;               // touched on the service's executor only
  std::vector<kbus::async_reply<>> slow_;          // the same
};

// The EmitsChangedSignal kinds are honoured at compile time: const and false properties have no
// change notification on either side.
template <class P>
concept notifies_version = requires(P p) { p.on_version_changed([](std::uint32_t) {}); };
template <class P>
concept notifies_label = requires(P p) { p.on_label_changed([](std::string) {}); };
static_assert(notifies_label<codegen_test::everything1_proxy>);
static_assert(!notifies_version<codegen_test::everything1_proxy>);
template <class A>
concept announces_secret = requires(A a) { a.secret_changed(); };
template <class A>
concept announces_state = requires(A a) { a.state_2_changed(); };
static_assert(announces_state<everything_service> && !announces_secret<everything_service>);

class CodegenRoundTrip : public kbus::test::bus_test {
 protected:
  void SetUp() override {
    bus_test::SetUp();
    if (!bus_) return;
    start_io_thread();
    service_conn_.emplace(io_.get_executor());
    service_conn_->connect(bus_->address());
    client_conn_.emplace(io_.get_executor());
    client_conn_->connect(bus_->address());
    server_.emplace(*service_conn_);
    service_.emplace();
    ASSERT_TRUE(service_->register_object(*server_, "/org/kbus/Test/Everything"_path));
    proxy_.emplace(*client_conn_, kbus::bus_name::make(service_conn_->unique_name()).value(), "/org/kbus/Test/Everything"_path);
  }
  void TearDown() override {
    if (client_conn_) client_conn_->close();
    if (service_conn_) service_conn_->close();
    bus_test::TearDown();
    proxy_.reset();
    service_.reset();
    server_.reset();
  }

  std::optional<kbus::connection> service_conn_, client_conn_;
  std::optional<kbus::object_server> server_;
  std::optional<everything_service> service_;
  std::optional<codegen_test::everything1_proxy> proxy_;
};

TEST_P(CodegenRoundTrip, EveryBasicTypeGoesInAndComesOut) {
  EXPECT_EQ(proxy_->basics(255, true, -16, 16, -32, 32, -64, 64, 1.5, "text", "/a/b"_path, kbus::signature::make("a{sv}").value()),
            "255 true -16 16 -32 32 -64 64 1.500000 text /a/b a{sv}");
}

TEST_P(CodegenRoundTrip, ContainersComeBackAsTheyWent) {
  const std::vector<std::uint8_t> bytes{0, 1, 255};
  const std::vector<std::string> strings{"a", "", "c"};
  const std::map<std::string, kbus::variant> dict{{"n", kbus::variant(std::int32_t{5})}, {"s", kbus::variant(std::string("x"))}};
  const std::map<std::string, std::map<std::string, std::uint32_t>> nested{{"outer", {{"inner", 3u}}}};
  const std::tuple<std::int32_t, std::string> pair{4, "four"};
  const kbus::variant value(std::vector<std::string>{"in", "a", "variant"});
  auto r = proxy_->echo_containers(bytes, strings, dict, nested, pair, value);
  EXPECT_EQ(r.bytes, bytes);
  EXPECT_EQ(r.strings, strings);
  EXPECT_EQ(r.dict, dict);
  EXPECT_EQ(r.nested, nested);
  EXPECT_EQ(r.pair, pair);
  EXPECT_EQ(r.value, value);
}

TEST_P(CodegenRoundTrip, NamedStructsAndChosenContainers) {
  std::deque<point> points{{1, 2, 0.5}, {3, 4, 1.5}};
  auto r = proxy_->measure(points, std::set<std::string>{"ab", "abc", "ab"});
  EXPECT_EQ(r.centre, (point{4, 6, 2.0}));
  EXPECT_EQ(r.trail, (std::list<point>{{3, 4, 1.5}, {1, 2, 0.5}}));
  EXPECT_EQ(r.counts, (std::unordered_map<std::string, std::uint32_t>{{"ab", 2u}, {"abc", 3u}}));
}

TEST_P(CodegenRoundTrip, KeywordsUnnamedAndDuplicateNamesAndCppNames) {
  EXPECT_EQ(proxy_->class_(1, 2, 3, 4), 1234);
  EXPECT_EQ(proxy_->renamed_by_annotation("twelve chars"), 12u);
  // The method State and the property state differ only in case: both are there.
  EXPECT_EQ(proxy_->state(), "method");
  EXPECT_EQ(proxy_->state_2(), "idle");
}

TEST_P(CodegenRoundTrip, AsynchronousFormsTakeEveryCompletionToken) {
  auto future = proxy_->async_class_(1, 1, 1, 1, boost::asio::use_future);
  EXPECT_EQ(future.get(), 1111);

  std::promise<std::uint32_t> called;
  proxy_->async_renamed_by_annotation("abc", [&](boost::system::error_code ec, std::uint32_t n) {
    called.set_value(ec ? 0 : n);
  });
  EXPECT_EQ(called.get_future().get(), 3u);

  auto deferred = proxy_->async_later(4, boost::asio::deferred);
  auto later = std::move(deferred)(boost::asio::use_future).get();
  EXPECT_EQ(later.doubled, 8u);

  auto awaited = boost::asio::co_spawn(
      io_.get_executor(),
      [&]() -> boost::asio::awaitable<std::string> {
        auto l = co_await proxy_->async_later(5, boost::asio::use_awaitable);
        auto label = co_await proxy_->async_get_label(boost::asio::use_awaitable);
        co_return std::to_string(l.doubled) + " " + l.text + " " + label;
      },
      boost::asio::use_future);
  EXPECT_EQ(awaited.get(), "10 later initial");
}

TEST_P(CodegenRoundTrip, AReplyHandleAnswersLaterWithNamedOutArguments) {
  auto r = proxy_->later(21);
  EXPECT_EQ(r.doubled, 42u);
  EXPECT_EQ(r.text, "later");
}

TEST_P(CodegenRoundTrip, ErrorsKeepTheirNameAndText) {
  try {
    proxy_->fail("org.kbus.Test.Error.Nope", "no, thanks");
    ADD_FAILURE() << "no error";
  } catch (const kbus::call_error& e) {
    EXPECT_EQ(e.error().name, "org.kbus.Test.Error.Nope");
    EXPECT_EQ(e.error().message, "no, thanks");
  }
  std::promise<boost::system::error_code> failed;
  proxy_->async_fail("org.kbus.Test.Error.Nope", "async", [&](boost::system::error_code ec) { failed.set_value(ec); });
  EXPECT_EQ(failed.get_future().get(), kbus::make_error_code(kbus::connection_errc::error_reply));
}

TEST_P(CodegenRoundTrip, NoReplyIsFireAndForgetAndTimeoutIsTheDefault) {
  proxy_->fire("one");
  proxy_->async_fire("two", boost::asio::use_future).get();
  EXPECT_TRUE(service_->events.wait_until([&] { return service_->state_.fired.size() == 2; }));
  EXPECT_EQ(service_->events.read([&] { return service_->state_.fired; }), (std::vector<std::string>{"one", "two"}));
  // Slow is never answered while the service lives: the 200 ms of its Timeout annotation end it.
  const auto start = std::chrono::steady_clock::now();
  std::promise<boost::system::error_code> slow;
  proxy_->async_slow(1, [&](boost::system::error_code ec) { slow.set_value(ec); });
  EXPECT_EQ(slow.get_future().get(), kbus::make_error_code(kbus::connection_errc::timeout));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20000));  // not libdbus's 25 s
}

TEST_P(CodegenRoundTrip, AUnixFdPasses) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "through a pipe", 14), 14);
  ::close(fds[1]);
  EXPECT_EQ(proxy_->pass_fd(kbus::unix_fd(fds[0])), "through a pipe");
}

TEST_P(CodegenRoundTrip, EveryAnnotationIsInTheAdaptorsIntrospection) {
  auto p = kbus::proxy::introspect(*client_conn_, proxy_->dbus_proxy().destination(), "/org/kbus/Test/Everything"_path,
                                   "org.kbus.Test.Everything1"_iface);
  const auto& d = *p.description();
  const auto* old = d.find_method("Old");
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(kbus::introspection::find_annotation(old->annotations, kbus::dbus_names::deprecated_annotation), "true");
  EXPECT_EQ(kbus::introspection::find_annotation(old->annotations, "org.example.Kept"), "as written");
  ASSERT_EQ(old->args.size(), 1u);
  EXPECT_EQ(kbus::introspection::find_annotation(old->args[0].annotations, "org.example.ArgNote"), "kept too");
  EXPECT_EQ(kbus::introspection::find_annotation(d.find_method("Fire")->annotations, kbus::dbus_names::no_reply_annotation), "true");
  EXPECT_EQ(kbus::introspection::find_annotation(d.find_method("Slow")->annotations, kbus::dbus_names::method_timeout_annotation),
            "200");
  EXPECT_EQ(kbus::introspection::find_annotation(d.find_property("Version")->annotations,
                                                 kbus::dbus_names::emits_changed_signal_annotation),
            "const");
  EXPECT_EQ(kbus::introspection::find_annotation(d.find_property("state")->annotations,
                                                 kbus::dbus_names::emits_changed_signal_annotation),
            "invalidates");
  EXPECT_EQ(d.find_property("Secret")->access, kbus::introspection::access::write);
  EXPECT_EQ(d.find_method("Measure")->in_signature(), "a(iid)as");
  EXPECT_EQ(d.find_signal("Changed")->signature(), "sa{sv}(iid)");
  // A deprecated method still works.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  EXPECT_EQ(proxy_->old(), 7);
  EXPECT_EQ(proxy_->legacy_name(), -1);
#pragma GCC diagnostic pop
}

TEST_P(CodegenRoundTrip, SignalsAreTypedBothWays) {
  kbus::test::notifier got;
  int pings = 0;
  std::optional<std::tuple<std::string, std::map<std::string, kbus::variant>, point>> changed;
  auto s1 = proxy_->async_on_ping([&] { got.update([&] { ++pings; }); }, boost::asio::use_future).get();
  auto s2 = proxy_->async_on_changed(
                       [&](const std::string& n, const std::map<std::string, kbus::variant>& v, const point& at) {
                         got.update([&] { changed.emplace(n, v, at); });
                       },
                       boost::asio::use_future)
                .get();
  ASSERT_TRUE(service_->emit_ping());
  ASSERT_TRUE(service_->emit_changed("moved", {{"k", kbus::variant(true)}}, point{7, 8, 9.5}));
  ASSERT_TRUE(got.wait_until([&] { return pings == 1 && changed.has_value(); }));
  EXPECT_EQ(got.read([&] { return *changed; }),
            (std::tuple<std::string, std::map<std::string, kbus::variant>, point>{"moved", {{"k", kbus::variant(true)}}, {7, 8, 9.5}}));
}

TEST_P(CodegenRoundTrip, EveryPropertyKind) {
  EXPECT_EQ(proxy_->label(), "initial");
  proxy_->set_label("blocking");
  EXPECT_EQ(proxy_->label(), "blocking");
  proxy_->async_set_label("async", boost::asio::use_future).get();
  EXPECT_EQ(proxy_->async_get_label(boost::asio::use_future).get(), "async");
  EXPECT_EQ(proxy_->version(), 17u);
  proxy_->set_secret("hush");
  EXPECT_EQ(service_->events.read([&] { return service_->state_.secret; }), "hush");
  EXPECT_EQ(proxy_->position(), (point{1, 2, 0.5}));
  proxy_->set_position(point{-1, -2, -0.5});
  EXPECT_EQ(proxy_->position(), (point{-1, -2, -0.5}));
  EXPECT_EQ(proxy_->anything(), kbus::variant(std::string("anything")));
  proxy_->set_anything(kbus::variant(std::uint64_t{99}));
  EXPECT_EQ(proxy_->anything(), kbus::variant(std::uint64_t{99}));
}

TEST_P(CodegenRoundTrip, ChangeNotificationsFollowEmitsChangedSignal) {
  kbus::test::notifier got;
  std::vector<std::string> labels, states;
  auto l = proxy_->on_label_changed([&](std::string v) { got.update([&] { labels.push_back(v); }); });
  auto s = proxy_->on_state_2_changed([&](std::string v) { got.update([&] { states.push_back(v); }); });
  // A subscription is in place once a call made after it has its reply (the bus keeps order).
  (void)proxy_->version();
  proxy_->set_label("remote");  // "true": the adaptor says so itself, with the value
  ASSERT_TRUE(got.wait_until([&] { return labels.size() == 1; }));
  EXPECT_EQ(got.read([&] { return labels; }), (std::vector<std::string>{"remote"}));
  service_->events.update([&] { service_->state_.state = "busy"; });
  ASSERT_TRUE(service_->state_2_changed());  // "invalidates": the proxy reads it again
  ASSERT_TRUE(got.wait_until([&] { return states.size() == 1; }));
  EXPECT_EQ(got.read([&] { return states; }), (std::vector<std::string>{"busy"}));
}

INSTANTIATE_TEST_SUITE_P(Buses, CodegenRoundTrip, testing::Values(bus_kind::dbus_daemon, bus_kind::dbus_broker),
                         [](const auto& info) { return kbus::test::param_name(info.param); });

}  // namespace
