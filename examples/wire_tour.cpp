// A tour of the wire layer: build a signal with typed values, read it back typed and dynamic.
#include <kbus/message.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

using namespace kbus::literals;

struct reading {
  std::string sensor;
  double celsius;
};
template <>
struct kbus::codec<reading> : kbus::aggregate_codec<reading> {};

int main() {
  std::map<std::string, kbus::variant> props{
      {"Label", kbus::variant(std::string("kitchen"))},
      {"Count", kbus::variant(std::uint32_t{3})},
  };
  std::vector<reading> readings{{"north", 21.5}, {"south", 19.0}};
  auto sig = kbus::message_builder::signal("/org/example/Sensors"_path, "org.example.Sensors1"_iface,
                                           "Changed"_member)
                 .build(props, readings);
  sig.set_serial(7);
  std::printf("signature %s, %zu bytes, big-endian on request too\n", std::string(sig.signature()).c_str(),
              sig.bytes().size());

  auto parsed = kbus::message::parse({sig.bytes().begin(), sig.bytes().end()}).value();
  auto [p, r] = parsed.read<std::map<std::string, kbus::variant>, std::vector<reading>>().value();
  std::printf("Label = %s, first reading %s %.1f\n", p.at("Label").as<std::string>().value().c_str(),
              r.at(0).sensor.c_str(), r.at(0).celsius);

  // Bad input gets an error that says what and where, never a crash.
  std::vector<std::byte> bytes(sig.bytes().begin(), sig.bytes().end());
  bytes.back() = std::byte{0x7f};
  bytes[bytes.size() - 9] = std::byte{2};  // a length field, now wrong
  auto bad = kbus::message::parse(std::move(bytes));
  std::printf("corrupted copy: %s\n", bad ? "accepted" : bad.error().what().c_str());
  return 0;
}
