// The three message shapes of the public rust-dbus-comparisons benchmark, built as a signal on
// /io/killing/spark (io.killing.spark.TestSignal) and marshalled to bytes ready to send:
//
//   marshal/mixed       10 times: s "Testtest", t, (ts), a{si} of 5, at of 15, as of one ""
//   marshal/big_array   once: the same with an `at` of 1024 zeros (a{si} of 1)
//   marshal/str_array   once: the same with an `as` of 1024 strings (the index written 12 times)
//
// kbus, sd-bus, libdbus and GDBus (sdbus-c++ builds messages only on a live bus connection).
// Each starts from the same C++ values. Before timing, kbus's message is read back and compared
// with the values; libdbus's and GDBus's bytes are parsed and their bodies compared with kbus's
// byte for byte; sd-bus's message is read back value by value.
#include "kbus/message.hpp"
#include "sd_building_bus.hpp"

#include <benchmark/benchmark.h>
#include <dbus/dbus.h>
#include <gio/gio.h>
#include <systemd/sd-bus.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace {

[[noreturn]] void wrong(const std::string& what) {
  std::fprintf(stderr, "benchmark result is wrong: %s\n", what.c_str());
  std::exit(1);
}
void check_sd(int r, const char* what) {
  if (r < 0) wrong(std::string("sd-bus: ") + what + ": " + std::strerror(-r));
}

struct parts {
  std::string string1 = "Testtest";
  std::uint64_t int1 = 0xFFFFFFFFFFFFFFFFull;
  std::tuple<std::uint64_t, std::string> pair{0xFFFFFFFFFFFFFFFFull, "TesttestTestest"};
  std::map<std::string, std::int32_t> dict;
  std::vector<std::uint64_t> int_array;
  std::vector<std::string> string_array;
  int repeat = 1;
  // The strings as C arrays, for the C libraries (made once, outside the timing).
  std::vector<const char*> string_ptrs;
  void finish() {
    for (const auto& s : string_array) string_ptrs.push_back(s.c_str());
    string_ptrs.push_back(nullptr);
  }
};

parts mixed() {
  parts p;
  for (const char* k : {"A", "B", "C", "D", "E"}) p.dict[k] = 1234567;
  p.int_array.assign(15, 0xFFFFFFFFFFFFFFFFull);
  p.string_array = {""};
  p.repeat = 10;
  p.finish();
  return p;
}
parts big_array() {
  parts p;
  p.dict["A"] = 1234567;
  p.int_array.assign(1024, 0);
  p.string_array = {""};
  p.finish();
  return p;
}
parts str_array() {
  parts p;
  p.dict["A"] = 1234567;
  p.int_array = {0};
  for (int i = 0; i < 1024; ++i) {
    std::string s;
    for (int k = 0; k < 12; ++k) s += std::to_string(i);
    p.string_array.push_back(std::move(s));
  }
  p.finish();
  return p;
}

constexpr const char* path = "/io/killing/spark";
constexpr const char* interface = "io.killing.spark";
constexpr const char* member = "TestSignal";

// ---- kbus ----

// The six values of one repetition, as references.
auto one_round(const parts& p) {
  return std::tie(p.string1, p.int1, p.pair, p.dict, p.int_array, p.string_array);
}
template <std::size_t... I>
auto rounds(const parts& p, std::index_sequence<I...>) {
  return std::tuple_cat(((void)I, one_round(p))...);
}

template <int Repeat>
kbus::message kbus_build(const parts& p) {
  return std::apply(
      [](const auto&... values) {
        auto m = kbus::message_builder::signal(kbus::object_path::unchecked(path), kbus::interface_name::unchecked(interface),
                                               kbus::member_name::unchecked(member))
                     .build(values...);
        m.set_serial(1);
        return m;
      },
      rounds(p, std::make_index_sequence<Repeat>{}));
}

// Reads the message back as the same types and compares with the values.
template <int Repeat>
void kbus_check(const parts& p) {
  auto expected = rounds(p, std::make_index_sequence<Repeat>{});
  auto m = kbus_build<Repeat>(p);
  auto parsed = kbus::message::parse(std::vector<std::byte>(m.bytes().begin(), m.bytes().end()));
  if (!parsed) wrong(std::string("kbus: own message does not parse: ") + parsed.error().what());
  using values = decltype(std::apply([](const auto&... v) { return std::tuple<std::decay_t<decltype(v)>...>(v...); }, expected));
  auto read = std::apply([&](const auto&... v) { return parsed->read<std::decay_t<decltype(v)>...>(); }, values{});
  if (!read) wrong(std::string("kbus: own message does not read back: ") + read.error().what());
  if (*read != values(expected)) wrong("kbus: values read back differ");
}

template <int Repeat>
void bm_kbus(benchmark::State& state, const parts* p) {
  kbus_check<Repeat>(*p);
  std::size_t size = 0;
  for (auto _ : state) {
    auto m = kbus_build<Repeat>(*p);
    size = m.bytes().size();
    benchmark::DoNotOptimize(m.bytes().data());
  }
  state.counters["message_bytes"] = static_cast<double>(size);
}

// The body of kbus's message, the reference for the byte comparisons.
template <int Repeat>
std::vector<std::byte> kbus_body(const parts& p) {
  auto m = kbus_build<Repeat>(p);
  return {m.body_bytes().begin(), m.body_bytes().end()};
}
void compare_body(const char* who, const std::vector<std::byte>& reference, const void* bytes, std::size_t size) {
  auto m = kbus::message::parse(std::vector<std::byte>(static_cast<const std::byte*>(bytes),
                                                       static_cast<const std::byte*>(bytes) + size));
  if (!m) wrong(std::string(who) + ": message does not parse: " + m.error().what());
  if (!std::equal(m->body_bytes().begin(), m->body_bytes().end(), reference.begin(), reference.end()))
    wrong(std::string(who) + ": body differs from kbus's");
}

// ---- sd-bus ----

// Made once, on first use (sd_building_bus.hpp).
sd_bus* sd_bus_for_building() {
  static sd_bus* const bus = kbus_bench::new_building_bus(check_sd);
  return bus;
}

sd_bus_message* sd_build(const parts& p) {
  sd_bus_message* m = nullptr;
  check_sd(sd_bus_message_new_signal(sd_bus_for_building(), &m, path, interface, member), "new signal");
  for (int r = 0; r < p.repeat; ++r) {
    check_sd(sd_bus_message_append(m, "st", p.string1.c_str(), p.int1), "st");
    check_sd(sd_bus_message_append(m, "(ts)", std::get<0>(p.pair), std::get<1>(p.pair).c_str()), "(ts)");
    check_sd(sd_bus_message_open_container(m, 'a', "{si}"), "open a{si}");
    for (const auto& [k, v] : p.dict) check_sd(sd_bus_message_append(m, "{si}", k.c_str(), v), "{si}");
    check_sd(sd_bus_message_close_container(m), "close a{si}");
    check_sd(sd_bus_message_append_array(m, 't', p.int_array.data(), p.int_array.size() * sizeof(std::uint64_t)), "at");
    check_sd(sd_bus_message_append_strv(m, const_cast<char**>(p.string_ptrs.data())), "as");
  }
  check_sd(sd_bus_message_seal(m, 1, 0), "seal");
  return m;
}

void sd_check(const parts& p) {
  sd_bus_message* m = sd_build(p);
  check_sd(sd_bus_message_rewind(m, 1), "rewind");
  for (int r = 0; r < p.repeat; ++r) {
    const char* s = nullptr;
    std::uint64_t t = 0, t2 = 0;
    const char* s2 = nullptr;
    check_sd(sd_bus_message_read(m, "st(ts)", &s, &t, &t2, &s2), "read st(ts)");
    if (s != p.string1 || t != p.int1 || t2 != std::get<0>(p.pair) || s2 != std::get<1>(p.pair)) wrong("sd-bus: st(ts)");
    check_sd(sd_bus_message_enter_container(m, 'a', "{si}"), "enter a{si}");
    std::map<std::string, std::int32_t> dict;
    const char* k = nullptr;
    std::int32_t v = 0;
    while (sd_bus_message_read(m, "{si}", &k, &v) > 0) dict[k] = v;
    check_sd(sd_bus_message_exit_container(m), "exit a{si}");
    if (dict != p.dict) wrong("sd-bus: a{si}");
    const void* data = nullptr;
    std::size_t size = 0;
    check_sd(sd_bus_message_read_array(m, 't', &data, &size), "read at");
    if (size != p.int_array.size() * 8 || std::memcmp(data, p.int_array.data(), size) != 0) wrong("sd-bus: at");
    check_sd(sd_bus_message_enter_container(m, 'a', "s"), "enter as");
    std::vector<std::string> strings;
    while (sd_bus_message_read(m, "s", &s) > 0) strings.emplace_back(s);
    check_sd(sd_bus_message_exit_container(m), "exit as");
    if (strings != p.string_array) wrong("sd-bus: as");
  }
  if (sd_bus_message_at_end(m, 1) <= 0) wrong("sd-bus: values left over");
  sd_bus_message_unref(m);
}

void bm_sd(benchmark::State& state, const parts* p) {
  sd_check(*p);
  for (auto _ : state) {
    sd_bus_message* m = sd_build(*p);
    benchmark::DoNotOptimize(m);
    sd_bus_message_unref(m);
  }
}

// ---- libdbus ----

void lib_check(bool ok) {
  if (!ok) wrong("libdbus: out of memory");
}

DBusMessage* lib_build(const parts& p) {
  DBusMessage* m = dbus_message_new_signal(path, interface, member);
  lib_check(m != nullptr);
  DBusMessageIter it;
  dbus_message_iter_init_append(m, &it);
  for (int r = 0; r < p.repeat; ++r) {
    const char* s = p.string1.c_str();
    dbus_uint64_t t = p.int1;
    lib_check(dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &s));
    lib_check(dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT64, &t));
    DBusMessageIter st;
    lib_check(dbus_message_iter_open_container(&it, DBUS_TYPE_STRUCT, nullptr, &st));
    dbus_uint64_t t2 = std::get<0>(p.pair);
    const char* s2 = std::get<1>(p.pair).c_str();
    lib_check(dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT64, &t2));
    lib_check(dbus_message_iter_append_basic(&st, DBUS_TYPE_STRING, &s2));
    lib_check(dbus_message_iter_close_container(&it, &st));
    DBusMessageIter dict;
    lib_check(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{si}", &dict));
    for (const auto& [k, v] : p.dict) {
      DBusMessageIter e;
      const char* key = k.c_str();
      dbus_int32_t value = v;
      lib_check(dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, nullptr, &e));
      lib_check(dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &key));
      lib_check(dbus_message_iter_append_basic(&e, DBUS_TYPE_INT32, &value));
      lib_check(dbus_message_iter_close_container(&dict, &e));
    }
    lib_check(dbus_message_iter_close_container(&it, &dict));
    DBusMessageIter at;
    lib_check(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "t", &at));
    const std::uint64_t* ints = p.int_array.data();
    lib_check(dbus_message_iter_append_fixed_array(&at, DBUS_TYPE_UINT64, &ints, static_cast<int>(p.int_array.size())));
    lib_check(dbus_message_iter_close_container(&it, &at));
    DBusMessageIter as;
    lib_check(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "s", &as));
    for (std::size_t i = 0; i + 1 < p.string_ptrs.size(); ++i)
      lib_check(dbus_message_iter_append_basic(&as, DBUS_TYPE_STRING, &p.string_ptrs[i]));
    lib_check(dbus_message_iter_close_container(&it, &as));
  }
  dbus_message_set_serial(m, 1);
  dbus_message_lock(m);  // the header and body are final: these bytes go out as they are
  return m;
}

template <int Repeat>
void bm_lib(benchmark::State& state, const parts* p) {
  {
    DBusMessage* m = lib_build(*p);
    char* bytes = nullptr;
    int size = 0;
    lib_check(dbus_message_marshal(m, &bytes, &size));
    compare_body("libdbus", kbus_body<Repeat>(*p), bytes, static_cast<std::size_t>(size));
    dbus_free(bytes);
    dbus_message_unref(m);
  }
  for (auto _ : state) {
    DBusMessage* m = lib_build(*p);
    benchmark::DoNotOptimize(m);
    dbus_message_unref(m);
  }
}

// ---- GDBus ----

GVariant* g_body(const parts& p) {
  GVariantBuilder body;
  g_variant_builder_init(&body, G_VARIANT_TYPE_TUPLE);
  for (int r = 0; r < p.repeat; ++r) {
    g_variant_builder_add_value(&body, g_variant_new_string(p.string1.c_str()));
    g_variant_builder_add_value(&body, g_variant_new_uint64(p.int1));
    g_variant_builder_add_value(&body, g_variant_new("(ts)", static_cast<guint64>(std::get<0>(p.pair)),
                                                     std::get<1>(p.pair).c_str()));
    GVariantBuilder dict;
    g_variant_builder_init(&dict, G_VARIANT_TYPE("a{si}"));
    for (const auto& [k, v] : p.dict) g_variant_builder_add(&dict, "{si}", k.c_str(), v);
    g_variant_builder_add_value(&body, g_variant_builder_end(&dict));
    g_variant_builder_add_value(&body, g_variant_new_fixed_array(G_VARIANT_TYPE_UINT64, p.int_array.data(),
                                                                 p.int_array.size(), sizeof(std::uint64_t)));
    g_variant_builder_add_value(&body, g_variant_new_strv(p.string_ptrs.data(), static_cast<gssize>(p.string_array.size())));
  }
  return g_variant_builder_end(&body);
}

// Returns the marshalled bytes (g_free them).
guchar* g_build(const parts& p, gsize* size) {
  GDBusMessage* m = g_dbus_message_new_signal(path, interface, member);
  g_dbus_message_set_body(m, g_body(p));
  g_dbus_message_set_serial(m, 1);
  GError* err = nullptr;
  guchar* blob = g_dbus_message_to_blob(m, size, G_DBUS_CAPABILITY_FLAGS_NONE, &err);
  if (!blob) wrong(std::string("gdbus: to_blob: ") + (err ? err->message : "?"));
  g_object_unref(m);
  return blob;
}

template <int Repeat>
void bm_g(benchmark::State& state, const parts* p) {
  {
    gsize size = 0;
    guchar* blob = g_build(*p, &size);
    compare_body("gdbus", kbus_body<Repeat>(*p), blob, size);
    g_free(blob);
  }
  for (auto _ : state) {
    gsize size = 0;
    guchar* blob = g_build(*p, &size);
    benchmark::DoNotOptimize(blob);
    g_free(blob);
  }
}

const parts mixed_parts = mixed();
const parts big_array_parts = big_array();
const parts str_array_parts = str_array();

template <int Repeat>
void register_shape(const std::string& name, const parts* p) {
  benchmark::RegisterBenchmark(("marshal/" + name + "/kbus").c_str(), bm_kbus<Repeat>, p);
  benchmark::RegisterBenchmark(("marshal/" + name + "/sd-bus").c_str(), bm_sd, p);
  benchmark::RegisterBenchmark(("marshal/" + name + "/libdbus").c_str(), bm_lib<Repeat>, p);
  benchmark::RegisterBenchmark(("marshal/" + name + "/gdbus").c_str(), bm_g<Repeat>, p);
}

}  // namespace

int main(int argc, char** argv) {
  register_shape<10>("mixed", &mixed_parts);
  register_shape<1>("big_array", &big_array_parts);
  register_shape<1>("str_array", &str_array_parts);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
