// Encode and decode of four messages, kbus beside sd-bus (libsystemd), and a 1 MiB `ay` beside
// a plain memcpy of the same bytes. Each benchmark checks its result once and aborts loudly
// when it is wrong: a benchmark that checks nothing measures nothing.
//
// sd-bus cannot parse a message from bytes through its public API, so its "decode" reads the
// values back out of a sealed message it built (rewind + read): the reading half of what kbus's
// decode does, which also validates the whole message from raw bytes.
#include "kbus/message.hpp"

#include <benchmark/benchmark.h>
#include <systemd/sd-bus.h>
#include <sys/socket.h>
#include <unistd.h>

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

template <class... Ts, class Check>
void kbus_decode(benchmark::State& state, const kbus::message& built, Check check_values) {
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
    benchmark::DoNotOptimize(values);
    buffer = std::move(*m).release_buffer();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

// ---- sd-bus ----

// sd-bus builds messages only for a bus that has been started: a bus on one end of a
// socketpair, never used for I/O, is enough.
sd_bus* sd_bus_for_building() {
  static sd_bus* bus = [] {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    sd_bus* b = nullptr;
    check_sd(sd_bus_new(&b), "new");
    check_sd(sd_bus_set_fd(b, fds[0], fds[0]), "set_fd");
    check_sd(sd_bus_start(b), "start");
    return b;
  }();
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
  while (sd_bus_message_read(m, "(isd)", &i, &s, &d) > 0) sum += static_cast<std::uint64_t>(i) + std::strlen(s);
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
  for (const auto& e : structs) sum += static_cast<std::uint64_t>(e.i) + e.s.size();
  return sum;
}

void register_all() {
  benchmark::RegisterBenchmark("BM_codec/call_s64/encode/kbus", [](benchmark::State& s) { kbus_encode(s, kbus_call_s64); });
  benchmark::RegisterBenchmark("BM_codec/call_s64/encode/sd-bus", [](benchmark::State& s) { sd_encode(s, sd_call_s64); });
  benchmark::RegisterBenchmark("BM_codec/call_s64/decode/kbus", [](benchmark::State& s) {
    kbus_decode<std::string_view>(s, kbus_call_s64(), [](const auto& t) { check(std::get<0>(t) == string64, "call"); });
  });
  benchmark::RegisterBenchmark("BM_codec/call_s64/decode/sd-bus",
                               [](benchmark::State& s) { sd_decode(s, sd_call_s64, sd_read_call, string64.size()); });

  benchmark::RegisterBenchmark("BM_codec/signal_asv10/encode/kbus", [](benchmark::State& s) { kbus_encode(s, kbus_signal_asv); });
  benchmark::RegisterBenchmark("BM_codec/signal_asv10/encode/sd-bus", [](benchmark::State& s) { sd_encode(s, sd_signal_asv); });
  benchmark::RegisterBenchmark("BM_codec/signal_asv10/decode/kbus", [](benchmark::State& s) {
    kbus_decode<std::map<std::string, prop_value>>(s, kbus_signal_asv(),
                                                   [](const auto& t) { check(std::get<0>(t) == props, "a{sv}"); });
  });
  benchmark::RegisterBenchmark("BM_codec/signal_asv10/decode/sd-bus",
                               [](benchmark::State& s) { sd_decode(s, sd_signal_asv, sd_read_asv, asv_sum()); });

  benchmark::RegisterBenchmark("BM_codec/structs_isd_10k/encode/kbus", [](benchmark::State& s) { kbus_encode(s, kbus_structs); });
  benchmark::RegisterBenchmark("BM_codec/structs_isd_10k/encode/sd-bus", [](benchmark::State& s) { sd_encode(s, sd_structs); });
  benchmark::RegisterBenchmark("BM_codec/structs_isd_10k/decode/kbus", [](benchmark::State& s) {
    using row = std::tuple<std::int32_t, std::string_view, double>;
    kbus_decode<std::vector<row>>(s, kbus_structs(), [](const auto& t) {
      std::uint64_t sum = 0;
      for (const auto& [i, str, d] : std::get<0>(t)) sum += static_cast<std::uint64_t>(i) + str.size();
      check(sum == structs_sum(), "(isd) array");
    });
  });
  benchmark::RegisterBenchmark("BM_codec/structs_isd_10k/decode/sd-bus",
                               [](benchmark::State& s) { sd_decode(s, sd_structs, sd_read_structs, structs_sum()); });

  benchmark::RegisterBenchmark("BM_codec/bytes_1m/encode/kbus", [](benchmark::State& s) { kbus_encode(s, kbus_bytes); });
  benchmark::RegisterBenchmark("BM_codec/bytes_1m/encode/sd-bus", [](benchmark::State& s) { sd_encode(s, sd_bytes); });
  benchmark::RegisterBenchmark("BM_codec/bytes_1m/decode/kbus", [](benchmark::State& s) {
    kbus_decode<std::span<const std::uint8_t>>(s, kbus_bytes(), [](const auto& t) {
      check(std::equal(std::get<0>(t).begin(), std::get<0>(t).end(), megabyte.begin(), megabyte.end()), "ay");
    });
  });
  benchmark::RegisterBenchmark("BM_codec/bytes_1m/decode/sd-bus",
                               [](benchmark::State& s) { sd_decode(s, sd_bytes, sd_read_bytes, megabyte.size()); });
  benchmark::RegisterBenchmark("BM_codec/bytes_1m/memcpy", [](benchmark::State& s) {
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
