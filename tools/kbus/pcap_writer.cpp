#include "pcap_writer.hpp"

namespace kbus::cli {
namespace {

// In this machine's byte order, which the magic number tells the reader.
template <class T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

void write_pcap_header(std::ostream& out) {
  put<std::uint32_t>(out, 0xa1b2c3d4);  // microsecond timestamps
  put<std::uint16_t>(out, 2);           // version 2.4
  put<std::uint16_t>(out, 4);
  put<std::int32_t>(out, 0);   // UTC
  put<std::uint32_t>(out, 0);  // timestamp accuracy
  put<std::uint32_t>(out, pcap_snaplen);
  put<std::uint32_t>(out, pcap_linktype_dbus);
  out.flush();
}

void write_pcap_record(std::ostream& out, std::span<const std::byte> bytes, std::chrono::system_clock::time_point when) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  const auto size = static_cast<std::uint32_t>(bytes.size());
  put<std::uint32_t>(out, static_cast<std::uint32_t>(us / 1000000));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(us % 1000000));
  put<std::uint32_t>(out, size);
  put<std::uint32_t>(out, size);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.flush();
}

}  // namespace kbus::cli
