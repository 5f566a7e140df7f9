// The bus driver (org.freedesktop.DBus) emulated over kdbus with ioctls, as sd-bus did (kdbus
// ABI notes §2.15): there is no driver peer on a kdbus bus. Given a method call addressed to
// org.freedesktop.DBus, the driver finds its method in a table by interface and member,
// performs the ioctls and queues the reply (and any signals, e.g. NameAcquired after Hello) on
// its transport; a call flagged NO_REPLY_EXPECTED gets none.
//
//   driver.cpp           the table, Peer, Introspectable, Hello, GetId and the other small ones
//   driver_names.cpp     RequestName, ReleaseName, the owner and list queries, credentials
//   driver_matches.cpp   AddMatch, RemoveMatch, and wanted(): what the rules keep
//   monitor.cpp          BecomeMonitor
#pragma once

#include "kbus/match.hpp"
#include "kbus/message.hpp"
#include "match/match_index.hpp"
#include "transport/kdbus/driver_messages.hpp"
#include "transport/kdbus/kdbus_transport.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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
  // those one of `rules` matches, or all when there are none (BecomeMonitor's semantics). What
  // AddMatch added before is forgotten: it belonged to the connection the monitor replaced.
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
  // One method of the table: its interface, its member, and the function that answers it.
  struct method {
    std::string_view interface;
    std::string_view member;
    void (kdbus_driver::*answer)(driver_answer& a);
  };
  static std::span<const method> methods() noexcept;
  // The method for (interface, member); a call without interface may name a member of the
  // driver's own interface or of Peer (dbus-daemon answers those too).
  static const method* find_method(std::string_view interface, std::string_view member) noexcept;

  // driver.cpp
  void hello(driver_answer& a);
  void get_id(driver_answer& a);
  void ping(driver_answer& a);
  void get_machine_id(driver_answer& a);
  void introspect(driver_answer& a);
  void start_service_by_name(driver_answer& a);
  void reload_config(driver_answer& a);
  void update_activation_environment(driver_answer& a);
  void get_connection_selinux_security_context(driver_answer& a);
  void get_connection_adt_audit_session_data(driver_answer& a);
  // driver_names.cpp
  void request_name(driver_answer& a);
  void release_name(driver_answer& a);
  void get_name_owner(driver_answer& a);
  void name_has_owner(driver_answer& a);
  void list_names(driver_answer& a);
  void list_activatable_names(driver_answer& a);
  void list_queued_owners(driver_answer& a);
  void get_connection_unix_user(driver_answer& a);
  void get_connection_unix_process_id(driver_answer& a);
  void get_connection_credentials(driver_answer& a);
  // driver_matches.cpp
  void add_match(driver_answer& a);
  void remove_match(driver_answer& a);
  // monitor.cpp
  void become_monitor(driver_answer& a);

  struct conn_info {
    std::uint64_t id = 0;
    std::uint64_t flags = 0;
    std::optional<std::uint64_t> uid;
    std::optional<std::uint64_t> pid;
    std::vector<std::uint32_t> groups;
  };
  // CONN_INFO on a unique or well-known name: 0 or the errno (ENXIO / ESRCH: no owner).
  int connection_info(std::string_view name, std::uint64_t attach, conn_info& out);
  // The owner of `name` (the driver owns its own name): 0 with `owner` empty when there is
  // none, or the errno of a failed look-up.
  int owner_of(const std::string& name, std::optional<std::string>& owner);
  // The credentials of `name`'s owner for the GetConnection* methods; false when the answer
  // (an error) was given already.
  bool credentials_of(driver_answer& a, const std::string& name, conn_info& out);
  // LIST: (id, HELLO flags, name or "", name flags) records.
  struct list_entry {
    std::uint64_t id = 0;
    std::uint64_t conn_flags = 0;
    std::string name;
    std::uint64_t name_flags = 0;
  };
  int list(std::uint64_t flags, std::vector<list_entry>& out);
  // MATCH_ADD for one rule: 0, or the errno (EINVAL with `error_text` when the rule is bad).
  int add_rule(std::string_view text, std::string& error_text);

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
