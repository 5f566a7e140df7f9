// pcap files of D-Bus traffic: the classic libpcap format (microsecond timestamps) with link
// type DBUS (231), one record per message holding its bytes as they travel, as busctl capture
// writes them; Wireshark and tshark decode them with their D-Bus dissector.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>

namespace kbus::cli {

inline constexpr std::uint32_t pcap_linktype_dbus = 231;
// The largest message the specification allows: nothing is cut.
inline constexpr std::uint32_t pcap_snaplen = 128u * 1024 * 1024;

void write_pcap_header(std::ostream& out);
void write_pcap_record(std::ostream& out, std::span<const std::byte> message_bytes,
                       std::chrono::system_clock::time_point when);

}  // namespace kbus::cli
