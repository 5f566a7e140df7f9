// Builds a method call with the packaged kbus and reads it back (no bus needed).
#include <kbus/message.hpp>

#include <cstdio>

using namespace kbus::literals;

int main() {
  auto call = kbus::message_builder::method_call("org.example.Calc"_bus, "/org/example/Calc"_path,
                                                 "org.example.Calc1"_iface, "Add"_member)
                  .build(std::int32_t{2}, std::int32_t{40});
  call.set_serial(1);
  auto parsed = kbus::message::parse({call.bytes().begin(), call.bytes().end()});
  if (!parsed) {
    std::fprintf(stderr, "parse failed: %s\n", parsed.error().what().c_str());
    return 1;
  }
  auto [a, b] = parsed->read<std::int32_t, std::int32_t>().value();
  std::printf("kbus works: Add(%d, %d)\n", a, b);
  return a + b == 42 ? 0 : 1;
}
