// Builds a message with an installed kbus and reads it back.
#include <kbus/message.hpp>

#include <cstdio>
#include <string>

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
  std::printf("%s.%s(%d, %d) in %zu bytes\n", std::string(parsed->interface()).c_str(),
              std::string(parsed->member()).c_str(), a, b, parsed->bytes().size());
  return a + b == 42 ? 0 : 1;
}
