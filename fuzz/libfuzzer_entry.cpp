// libFuzzer's entry point for one target, chosen at compile time (KBUS_FUZZ_TARGET).
#include <cstddef>
#include <cstdint>

extern "C" int KBUS_FUZZ_TARGET(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return KBUS_FUZZ_TARGET(data, size);
}
