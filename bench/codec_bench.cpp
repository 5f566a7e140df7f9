// Encode and decode of four messages, kbus beside sd-bus (libsystemd), and a 1 MiB `ay` beside
// a plain memcpy of the same bytes. Each benchmark checks its result once and aborts loudly
// when it is wrong: a benchmark that checks nothing measures nothing.
//
// sd-bus cannot parse a message from bytes through its public API, so its "decode" reads the
// values back out of a sealed message it built (rewind + read): the reading half of what kbus's
// decode does, which also validates the whole message from raw bytes. The "receive" benchmarks
// compare the whole of it: the same bytes (kbus-encoded) wait in a socket; kbus reads them with
// two read()s, parses and decodes; an sd-bus server bus on the other end of the socket does
// sd_bus_process (its read and parse) and reads the values. Only that part is timed (manual
// time); writing the bytes into the socket before each iteration is not.
#include "kbus/message.hpp"
#include "sd_building_bus.hpp"

#include <benchmark/benchmark.h>
#include <systemd/sd-bus.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <span>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace {

using namespace kbus::literals;

[[noreturn]] void wrong(const char* what) {
  std::fprintf(stderr, "benchmark result is wrong: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) wrong(what);
}
void check_sd(int r, const char* what) {
  if (r < 0) {
    std::fprintf(stderr, "sd-bus: %s: %s\n", what, std::strerror(-r));
    std::abort();
  }
}

// ---- the workloads ----

const std::string string64(64, 'x');

using prop_value = std::variant<std::string, std::uint32_t, std::vector<std::string>>;
std::map<std::string, prop_value> make_props() {
  std::map<std::string, prop_value> p;
  for (int i = 0; i < 10; ++i) {
    const std::string key = "Property" + std::to_string(i);
    if (i % 3 == 0) p[key] = std::string("value of property ") + std::to_string(i);
    else if (i % 3 == 1) p[key] = static_cast<std::uint32_t>(i * 1000);
    else p[key] = std::vector<std::string>{"alpha", "beta", "gamma"};
  }
  return p;
}
const auto props = make_props();

struct isd {
  std::int32_t i;
  std::string s;
  double d;
};
std::vector<isd> make_structs() {
  std::vector<isd> v;
  v.reserve(10000);
  for (int i = 0; i < 10000; ++i) v.push_back({i, "item" + std::to_string(i % 100), i * 0.5});
  return v;
}
const auto structs = make_structs();
const std::vector<std::uint8_t> megabyte(1 << 20, 0x5a);

}  // namespace

template <>
struct kbus::codec<isd> : kbus::aggregate_codec<isd> {};

namespace {

// ---- kbus ----

kbus::message kbus_call_s64() {
  auto m = kbus::message_builder::method_call("org.kbus.Bench"_bus, "/org/kbus/Bench"_path, "org.kbus.Bench1"_iface,
                                              "Echo"_member)
               .build(string64);
  m.set_serial(1);
  return m;
}
kbus::message kbus_signal_asv() {
  auto m = kbus::message_builder::signal("/org/kbus/Bench"_path, "org.freedesktop.DBus.Properties"_iface,
                                         "PropertiesChanged"_member)
               .build(props);
  m.set_serial(1);
  return m;
}
kbus::message kbus_structs() {
  auto m = kbus::message_builder::signal("/org/kbus/Bench"_path, "org.kbus.Bench1"_iface, "Structs"_member).build(structs);
  m.set_serial(1);
  return m;
}
kbus::message kbus_bytes() {
  auto m = kbus::message_builder::signal("/org/kbus/Bench"_path, "org.kbus.Bench1"_iface, "Bytes"_member).build(megabyte);
  m.set_serial(1);
  return m;
}

template <class Build>
void kbus_encode(benchmark::State& state, Build build) {
  for (auto _ : state) {
    auto m = build();
    benchmark::DoNotOptimize(m.bytes().data());
  }
}

// What the timed loop does with the values it decoded: nothing more when a container holds
// them; a walk over every value for views, which decode as they are iterated.
struct keep {
  template <class V>
  const V& operator()(const V& v) const noexcept { return v; }
};

template <class... Ts, class Check, class Consume = keep>
void kbus_decode(benchmark::State& state, const kbus::message& built, Check check_values, Consume consume = {}) {
  const std::vector<std::byte> bytes(built.bytes().begin(), built.bytes().end());
  {
    auto m = kbus::message::parse(bytes).value();
    check_values(m.read<Ts...>().value());
  }
  // The receive buffer is handed to the message and taken back for the next one, as a
  // connection recycles its buffers.
  std::vector<std::byte> buffer = bytes;
  for (auto _ : state) {
    auto m = kbus::message::parse(std::move(buffer));
    auto values = m->template read<Ts...>();
    benchmark::DoNotOptimize(consume(*values));
    buffer = std::move(*m).release_buffer();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

// ---- sd-bus ----

// Made once, on first use (sd_building_bus.hpp).
sd_bus* sd_bus_for_building() {
  static sd_bus* const bus = kbus_bench::new_building_bus(check_sd);
  return bus;
}

sd_bus_message* sd_call_s64() {
  sd_bus_message* m = nullptr;
  check_sd(sd_bus_message_new_method_call(sd_bus_for_building(), &m, "org.kbus.Bench", "/org/kbus/Bench",
                                          "org.kbus.Bench1", "Echo"),
           "new call");
  check_sd(sd_bus_message_append(m, "s", string64.c_str()), "append");
  check_sd(sd_bus_message_seal(m, 1, 0), "seal");
  return m;
}

sd_bus_message* sd_signal_asv() {
  sd_bus_message* m = nullptr;
  check_sd(sd_bus_message_new_signal(sd_bus_for_building(), &m, "/org/kbus/Bench", "org.freedesktop.DBus.Properties",
                                     "PropertiesChanged"),
           "new signal");
  check_sd(sd_bus_message_open_container(m, 'a', "{sv}"), "open");
  for (const auto& [k, v] : props) {
    check_sd(sd_bus_message_open_container(m, 'e', "sv"), "open e");
    check_sd(sd_bus_message_append(m, "s", k.c_str()), "key");
    if (auto* s = std::get_if<std::string>(&v)) {
      check_sd(sd_bus_message_append(m, "v", "s", s->c_str()), "v s");
    } else if (auto* u = std::get_if<std::uint32_t>(&v)) {
      check_sd(sd_bus_message_append(m, "v", "u", *u), "v u");
    } else {
      const auto& as = std::get<std::vector<std::string>>(v);
      check_sd(sd_bus_message_open_container(m, 'v', "as"), "open v");
      check_sd(sd_bus_message_append(m, "as", 3, as[0].c_str(), as[1].c_str(), as[2].c_str()), "as");
      check_sd(sd_bus_message_close_container(m), "close v");
    }
    check_sd(sd_bus_message_close_container(m), "close e");
  }
  check_sd(sd_bus_message_close_container(m), "close a");
  check_sd(sd_bus_message_seal(m, 1, 0), "seal");
  return m;
}

sd_bus_message* sd_structs() {
  sd_bus_message* m = nullptr;
  check_sd(sd_bus_message_new_signal(sd_bus_for_building(), &m, "/org/kbus/Bench", "org.kbus.Bench1", "Structs"), "new");
  check_sd(sd_bus_message_open_container(m, 'a', "(isd)"), "open");
  for (const auto& e : structs) check_sd(sd_bus_message_append(m, "(isd)", e.i, e.s.c_str(), e.d), "append");
  check_sd(sd_bus_message_close_container(m), "close");
  check_sd(sd_bus_message_seal(m, 1, 0), "seal");
  return m;
}

sd_bus_message* sd_bytes() {
  sd_bus_message* m = nullptr;
  check_sd(sd_bus_message_new_signal(sd_bus_for_building(), &m, "/org/kbus/Bench", "org.kbus.Bench1", "Bytes"), "new");
  check_sd(sd_bus_message_append_array(m, 'y', megabyte.data(), megabyte.size()), "append");
  check_sd(sd_bus_message_seal(m, 1, 0), "seal");
  return m;
}

template <class Build>
void sd_encode(benchmark::State& state, Build build) {
  for (auto _ : state) {
    sd_bus_message* m = build();
    benchmark::DoNotOptimize(m);
    sd_bus_message_unref(m);
  }
}

// Reads every value of the sd-bus message back out; returns a checksum for the check.
std::uint64_t sd_read_call(sd_bus_message* m) {
  const char* s = nullptr;
  check_sd(sd_bus_message_read(m, "s", &s), "read s");
  return std::strlen(s);
}
std::uint64_t sd_read_asv(sd_bus_message* m) {
  std::uint64_t sum = 0;
  check_sd(sd_bus_message_enter_container(m, 'a', "{sv}"), "enter a");
  while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
    const char* key = nullptr;
    check_sd(sd_bus_message_read(m, "s", &key), "key");
    char type;
    const char* contents = nullptr;
    check_sd(sd_bus_message_peek_type(m, &type, &contents), "peek");
    check_sd(sd_bus_message_enter_container(m, 'v', contents), "enter v");
    if (std::strcmp(contents, "s") == 0) {
      const char* s;
      check_sd(sd_bus_message_read(m, "s", &s), "s");
      sum += std::strlen(s);
    } else if (std::strcmp(contents, "u") == 0) {
      std::uint32_t u;
      check_sd(sd_bus_message_read(m, "u", &u), "u");
      sum += u;
    } else {
      check_sd(sd_bus_message_enter_container(m, 'a', "s"), "enter as");
      const char* s;
      while (sd_bus_message_read(m, "s", &s) > 0) sum += std::strlen(s);
      check_sd(sd_bus_message_exit_container(m), "exit as");
    }
    check_sd(sd_bus_message_exit_container(m), "exit v");
    check_sd(sd_bus_message_exit_container(m), "exit e");
  }
  check_sd(sd_bus_message_exit_container(m), "exit a");
  return sum;
}
std::uint64_t sd_read_structs(sd_bus_message* m) {
  std::uint64_t sum = 0;
  check_sd(sd_bus_message_enter_container(m, 'a', "(isd)"), "enter");
  std::int32_t i;
  const char* s;
  double d;
  while (sd_bus_message_read(m, "(isd)", &i, &s, &d) > 0)
    sum += static_cast<std::uint64_t>(i) + std::strlen(s) + static_cast<std::uint64_t>(d * 2);
  check_sd(sd_bus_message_exit_container(m), "exit");
  return sum;
}
std::uint64_t sd_read_bytes(sd_bus_message* m) {
  const void* p = nullptr;
  std::size_t n = 0;
  check_sd(sd_bus_message_read_array(m, 'y', &p, &n), "read array");
  return n;
}

template <class Build, class Read>
void sd_decode(benchmark::State& state, Build build, Read read, std::uint64_t expected) {
  sd_bus_message* m = build();
  check(read(m) == expected, "sd-bus read back different values");
  for (auto _ : state) {
    check_sd(sd_bus_message_rewind(m, 1), "rewind");
    benchmark::DoNotOptimize(read(m));
  }
  sd_bus_message_unref(m);
}

// ---- receiving from a socket ----

void write_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w <= 0) wrong("write to the socket failed");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}
void read_all(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) wrong("read from the socket failed");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

// A socketpair whose buffers hold the largest message (1 MiB) without a reader.
struct socket_pair {
  int writer = -1;
  int reader = -1;
  socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) wrong("socketpair");
    writer = fds[0];
    reader = fds[1];
    const int size = 8 << 20;
    for (int fd : fds) {
      if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
  ~socket_pair() {
    if (writer >= 0) ::close(writer);
    if (reader >= 0) ::close(reader);
  }
  socket_pair(const socket_pair&) = delete;
  socket_pair& operator=(const socket_pair&) = delete;
};

template <class F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// kbus: the 16-byte fixed header, the size it gives, the rest into a recycled buffer; parse and
// decode.
template <class... Ts, class Check, class Consume = keep>
void kbus_receive(benchmark::State& state, const kbus::message& built, Check check_values, Consume consume = {}) {
  const std::vector<std::byte> bytes(built.bytes().begin(), built.bytes().end());
  socket_pair sp;
  std::vector<std::byte> buffer;
  auto receive = [&] {
    std::byte head[kbus::detail::fixed_header_size];
    read_all(sp.reader, head, sizeof head);
    const std::size_t size = kbus::message_size(head).value();
    buffer.resize(size);
    std::memcpy(buffer.data(), head, sizeof head);
    read_all(sp.reader, buffer.data() + sizeof head, size - sizeof head);
    auto m = kbus::message::parse(std::move(buffer));
    if (!m) wrong("kbus could not parse the received message");
    auto values = m->template read<Ts...>();
    if (!values) wrong("kbus could not decode the received message");
    return std::pair{std::move(*m), std::move(*values)};
  };
  write_all(sp.writer, bytes.data(), bytes.size());
  {
    auto [m, values] = receive();
    check_values(values);
    buffer = std::move(m).release_buffer();
  }
  for (auto _ : state) {
    write_all(sp.writer, bytes.data(), bytes.size());
    state.SetIterationTime(seconds_of([&] {
      auto [m, values] = receive();
      benchmark::DoNotOptimize(consume(values));
      buffer = std::move(m).release_buffer();
    }));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

// sd-bus: a server bus on the reading end, authenticated (EXTERNAL) by raw lines on the other.
sd_bus* sd_bus_receiving(socket_pair& sp) {
  sd_bus* b = nullptr;
  sd_id128_t id;
  check_sd(sd_id128_randomize(&id), "id");
  check_sd(sd_bus_new(&b), "new");
  check_sd(sd_bus_set_fd(b, sp.reader, sp.reader), "set_fd");
  sp.reader = -1;  // the bus owns it now
  check_sd(sd_bus_set_server(b, 1, id), "set_server");
  check_sd(sd_bus_start(b), "start");
  std::string auth(1, '\0');
  auth += "AUTH EXTERNAL ";
  for (char c : std::to_string(::getuid())) {
    static const char hex[] = "0123456789abcdef";
    auth += hex[(c >> 4) & 0xf];
    auth += hex[c & 0xf];
  }
  auth += "\r\nBEGIN\r\n";
  write_all(sp.writer, auth.data(), auth.size());
  for (int i = 0; i < 100 && sd_bus_is_ready(b) <= 0; ++i) {
    check_sd(sd_bus_process(b, nullptr), "authenticate");
    if (sd_bus_is_ready(b) <= 0) check_sd(sd_bus_wait(b, 100000), "wait");
  }
  if (sd_bus_is_ready(b) <= 0) wrong("sd-bus server did not finish the authentication");
  // Drop the server's "OK <guid>" line.
  char ok[256];
  if (::read(sp.writer, ok, sizeof ok) <= 0 || std::memcmp(ok, "OK ", 3) != 0) wrong("sd-bus server did not say OK");
  return b;
}

template <class Read>
void sd_receive(benchmark::State& state, const kbus::message& built, Read read, std::uint64_t expected) {
  const std::vector<std::byte> bytes(built.bytes().begin(), built.bytes().end());
  socket_pair sp;
  sd_bus* bus = sd_bus_receiving(sp);
  auto receive = [&] {
    sd_bus_message* m = nullptr;
    for (int i = 0; !m; ++i) {
      if (i == 1000) wrong("sd-bus did not receive the message");
      check_sd(sd_bus_process(bus, &m), "process");
    }
    const std::uint64_t sum = read(m);
    sd_bus_message_unref(m);
    return sum;
  };
  write_all(sp.writer, bytes.data(), bytes.size());
  check(receive() == expected, "sd-bus received different values");
  for (auto _ : state) {
    write_all(sp.writer, bytes.data(), bytes.size());
    state.SetIterationTime(seconds_of([&] { benchmark::DoNotOptimize(receive()); }));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  sd_bus_flush_close_unref(bus);
}

// The checksums of the workloads, the same for every implementation.
std::uint64_t asv_sum() {
  std::uint64_t sum = 0;
  for (const auto& [k, v] : props) {
    if (auto* s = std::get_if<std::string>(&v)) sum += s->size();
    else if (auto* u = std::get_if<std::uint32_t>(&v)) sum += *u;
    else for (const auto& s : std::get<std::vector<std::string>>(v)) sum += s.size();
  }
  return sum;
}
std::uint64_t structs_sum() {
  std::uint64_t sum = 0;
  for (const auto& e : structs) sum += static_cast<std::uint64_t>(e.i) + e.s.size() + static_cast<std::uint64_t>(e.d * 2);
  return sum;
}

// The checks of decoded values, shared by decode and receive.
void check_call(const std::tuple<std::string_view>& t) { check(std::get<0>(t) == string64, "call"); }
// a{sv} is read as sd-bus reads it: in place (strings as views into the message, the dict and
// the `as` values as views decoded while they are walked), every value visited for the same
// checksum as sd_read_asv.
using prop_view = std::variant<std::string_view, std::uint32_t, kbus::array_view<std::string_view>>;
using asv_view = kbus::dict_view<std::string_view, prop_view>;
std::uint64_t sum_asv(const std::tuple<asv_view>& t) {
  std::uint64_t sum = 0;
  for (const auto& [key, value] : std::get<0>(t)) {
    if (auto* s = std::get_if<std::string_view>(&value)) sum += s->size();
    else if (auto* u = std::get_if<std::uint32_t>(&value)) sum += *u;
    else for (std::string_view s : std::get<kbus::array_view<std::string_view>>(value)) sum += s.size();
  }
  return sum;
}
void check_asv(const std::tuple<asv_view>& t) {
  std::size_t n = 0;
  for (const auto& [key, value] : std::get<0>(t)) {
    const auto it = props.find(std::string(key));
    check(it != props.end(), "a{sv} key");
    ++n;
    if (auto* s = std::get_if<std::string>(&it->second)) check(std::get<std::string_view>(value) == *s, "a{sv} s");
    else if (auto* u = std::get_if<std::uint32_t>(&it->second)) check(std::get<std::uint32_t>(value) == *u, "a{sv} u");
    else {
      const auto& want = std::get<std::vector<std::string>>(it->second);
      const auto& have = std::get<kbus::array_view<std::string_view>>(value);
      check(std::equal(want.begin(), want.end(), have.begin(), have.end()), "a{sv} as");
    }
  }
  check(n == props.size(), "a{sv} size");
  check(sum_asv(t) == asv_sum(), "a{sv} checksum");
}
using isd_row = std::tuple<std::int32_t, std::string_view, double>;
void check_structs(const std::tuple<std::vector<isd_row>>& t) {
  const auto& rows = std::get<0>(t);
  check(rows.size() == structs.size(), "(isd) array size");
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& [i, str, d] = rows[k];
    if (i != structs[k].i || str != structs[k].s || d != structs[k].d) wrong("(isd) array element");
  }
}
void check_bytes(const std::tuple<std::span<const std::uint8_t>>& t) {
  check(std::equal(std::get<0>(t).begin(), std::get<0>(t).end(), megabyte.begin(), megabyte.end()), "ay");
}

void register_all() {
  using state = benchmark::State;
  benchmark::RegisterBenchmark("codec/call_s64/encode/kbus", [](state& s) { kbus_encode(s, kbus_call_s64); });
  benchmark::RegisterBenchmark("codec/call_s64/encode/sd-bus", [](state& s) { sd_encode(s, sd_call_s64); });
  benchmark::RegisterBenchmark("codec/call_s64/decode/kbus",
                               [](state& s) { kbus_decode<std::string_view>(s, kbus_call_s64(), check_call); });
  benchmark::RegisterBenchmark("codec/call_s64/decode/sd-bus",
                               [](state& s) { sd_decode(s, sd_call_s64, sd_read_call, string64.size()); });
  benchmark::RegisterBenchmark("codec/call_s64/receive/kbus",
                               [](state& s) { kbus_receive<std::string_view>(s, kbus_call_s64(), check_call); })
      ->UseManualTime();
  benchmark::RegisterBenchmark("codec/call_s64/receive/sd-bus",
                               [](state& s) { sd_receive(s, kbus_call_s64(), sd_read_call, string64.size()); })
      ->UseManualTime();

  using asv = asv_view;
  benchmark::RegisterBenchmark("codec/signal_asv10/encode/kbus", [](state& s) { kbus_encode(s, kbus_signal_asv); });
  benchmark::RegisterBenchmark("codec/signal_asv10/encode/sd-bus", [](state& s) { sd_encode(s, sd_signal_asv); });
  benchmark::RegisterBenchmark("codec/signal_asv10/decode/kbus",
                               [](state& s) { kbus_decode<asv>(s, kbus_signal_asv(), check_asv, sum_asv); });
  benchmark::RegisterBenchmark("codec/signal_asv10/decode/sd-bus",
                               [](state& s) { sd_decode(s, sd_signal_asv, sd_read_asv, asv_sum()); });
  benchmark::RegisterBenchmark("codec/signal_asv10/receive/kbus",
                               [](state& s) { kbus_receive<asv>(s, kbus_signal_asv(), check_asv, sum_asv); })
      ->UseManualTime();
  benchmark::RegisterBenchmark("codec/signal_asv10/receive/sd-bus",
                               [](state& s) { sd_receive(s, kbus_signal_asv(), sd_read_asv, asv_sum()); })
      ->UseManualTime();

  benchmark::RegisterBenchmark("codec/structs_isd_10k/encode/kbus", [](state& s) { kbus_encode(s, kbus_structs); });
  benchmark::RegisterBenchmark("codec/structs_isd_10k/encode/sd-bus", [](state& s) { sd_encode(s, sd_structs); });
  benchmark::RegisterBenchmark("codec/structs_isd_10k/decode/kbus",
                               [](state& s) { kbus_decode<std::vector<isd_row>>(s, kbus_structs(), check_structs); });
  benchmark::RegisterBenchmark("codec/structs_isd_10k/decode/sd-bus",
                               [](state& s) { sd_decode(s, sd_structs, sd_read_structs, structs_sum()); });
  benchmark::RegisterBenchmark("codec/structs_isd_10k/receive/kbus",
                               [](state& s) { kbus_receive<std::vector<isd_row>>(s, kbus_structs(), check_structs); })
      ->UseManualTime();
  benchmark::RegisterBenchmark("codec/structs_isd_10k/receive/sd-bus",
                               [](state& s) { sd_receive(s, kbus_structs(), sd_read_structs, structs_sum()); })
      ->UseManualTime();

  benchmark::RegisterBenchmark("codec/bytes_1m/encode/kbus", [](state& s) { kbus_encode(s, kbus_bytes); });
  benchmark::RegisterBenchmark("codec/bytes_1m/encode/sd-bus", [](state& s) { sd_encode(s, sd_bytes); });
  benchmark::RegisterBenchmark("codec/bytes_1m/decode/kbus",
                               [](state& s) { kbus_decode<std::span<const std::uint8_t>>(s, kbus_bytes(), check_bytes); });
  benchmark::RegisterBenchmark("codec/bytes_1m/decode/sd-bus",
                               [](state& s) { sd_decode(s, sd_bytes, sd_read_bytes, megabyte.size()); });
  benchmark::RegisterBenchmark("codec/bytes_1m/receive/kbus",
                               [](state& s) { kbus_receive<std::span<const std::uint8_t>>(s, kbus_bytes(), check_bytes); })
      ->UseManualTime();
  benchmark::RegisterBenchmark("codec/bytes_1m/receive/sd-bus",
                               [](state& s) { sd_receive(s, kbus_bytes(), sd_read_bytes, megabyte.size()); })
      ->UseManualTime();
  benchmark::RegisterBenchmark("codec/bytes_1m/memcpy", [](state& s) {
    std::vector<std::uint8_t> dst(megabyte.size());
    for (auto _ : s) {
      std::memcpy(dst.data(), megabyte.data(), megabyte.size());
      benchmark::DoNotOptimize(dst.data());
      benchmark::ClobberMemory();
    }
    check(dst == megabyte, "memcpy");
  });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
