// The bus driver (org.freedesktop.DBus) emulated over kdbus with ioctls, as sd-bus did (kdbus
// ABI notes §2.15): there is no driver peer on a kdbus bus. Given a method call addressed to
// org.freedesktop.DBus, the driver performs the ioctls and queues the reply (and any signals,
// e.g. NameAcquired after Hello) on its transport; a call flagged NO_REPLY_EXPECTED gets none.
#pragma once

#include "kbus/message.hpp"
#include "match/match_index.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kbus::detail {

class kdbus_driver {
 public:
  explicit kdbus_driver(kdbus_transport& transport) : t_(transport) {}

  // Answers `call` (a method call to org.freedesktop.DBus) onto the transport's local queue.
  void handle(const message& call);

  // Whether a broadcast that reached us (through the match entries) is one an AddMatch rule
  // asks for (for a monitor: whether a message copied to us is one its rules keep). The kernel
  // lets through what *may* match: a bloom filter has false positives and cannot say argNpath
  // or destination at all; on a dbus1 bus the rules decide exactly.
  // `sender_names`: the well-known names the sender owned when it sent (its OWNED_NAME items);
  // nullptr when the message carries none of that metadata, and the bus is asked instead.
  bool wanted(const message& broadcast, const std::vector<std::string_view>* sender_names);

  // A monitor (HELLO_MONITOR) gets a copy of every message on the bus; wanted() then keeps
  // those one of `rules` matches, or all when there are none (BecomeMonitor's semantics).
  void monitor_with(std::vector<match_rule> rules);
  bool monitoring() const noexcept { return monitoring_; }

  // dbus1 RequestName flags and results (D-Bus specification), and ReleaseName results.
  static constexpr std::uint32_t name_flag_allow_replacement = 1;
  static constexpr std::uint32_t name_flag_replace_existing = 2;
  static constexpr std::uint32_t name_flag_do_not_queue = 4;
  static constexpr std::uint32_t request_primary_owner = 1;
  static constexpr std::uint32_t request_in_queue = 2;
  static constexpr std::uint32_t request_exists = 3;
  static constexpr std::uint32_t request_already_owner = 4;
  static constexpr std::uint32_t release_released = 1;
  static constexpr std::uint32_t release_non_existent = 2;
  static constexpr std::uint32_t release_not_owner = 3;

 private:
  struct conn_info {
    std::uint64_t id = 0;
    std::uint64_t flags = 0;
    std::optional<std::uint64_t> uid;
    std::optional<std::uint64_t> pid;
    std::vector<std::uint32_t> groups;
  };
  // CONN_INFO on a unique or well-known name: 0 or the errno (ENXIO / ESRCH: no owner).
  int connection_info(std::string_view name, std::uint64_t attach, conn_info& out);
  // LIST: (id, HELLO flags, name or "", name flags) records.
  struct list_entry {
    std::uint64_t id = 0;
    std::uint64_t conn_flags = 0;
    std::string name;
    std::uint64_t name_flags = 0;
  };
  int list(std::uint64_t flags, std::vector<list_entry>& out);
  int add_match(std::string_view text, std::string& error_text);

  kdbus_transport& t_;
  bool hello_done_ = false;
  std::uint64_t next_cookie_ = kdbus_first_rule_cookie;
  // AddMatch rules by their normal form, each with the cookie of its entries and its place in
  // `index_` (a rule added twice is there twice, and RemoveMatch removes one, as on dbus-daemon).
  struct added_rule {
    std::uint64_t cookie = 0;
    match_index::id in_index = 0;
  };
  std::multimap<std::string, added_rule> rules_;
  match_index index_;  // AddMatch's rules, or a monitor's
  bool monitoring_ = false;
};

}  // namespace kbus::detail
