// Metadata (kdbus ABI notes §2.7): the items that describe a sender (or a bus's creator) in a
// message or an info, as far as the receiver asked and the sender lets it have them.
#include "broker/domain_impl.hpp"

namespace kbus::broker {

using kdbus::item_type;

namespace {

// Metadata that a receiver gets whenever it asks (metadata.c).
constexpr std::uint64_t attach_implicit = kdbus::attach::implicit;
// Metadata visible through /proc; the front reports whether the receiver could read it.
constexpr std::uint64_t attach_proc_visible = kdbus::attach::tid_comm | kdbus::attach::pid_comm |
                                              kdbus::attach::seclabel | kdbus::attach::cmdline |
                                              kdbus::attach::cgroup | kdbus::attach::audit |
                                              kdbus::attach::caps | kdbus::attach::exe;

}  // namespace

std::uint64_t domain::impl::granted(std::uint64_t requested, std::uint64_t sender_send) {
  return requested & (sender_send | attach_implicit | attach_proc_visible);
}

void domain::impl::emit_metadata(std::vector<std::uint8_t>& out, const bus_connection* sender, const credentials& who,
                                 std::uint64_t granted, std::uint64_t seqnum) {
  kdbus::item_writer e{out};
  const credentials& m = (sender && sender->faked) ? sender->creds : who;
  if (granted & kdbus::attach::creds) e.add_struct(item_type::creds, m.ids);
  if (granted & kdbus::attach::pids) e.add_struct(item_type::pids, m.pids);
  if ((granted & kdbus::attach::auxgroups) && !m.auxgroups.empty())
    e.add_raw(kdbus::to_u64(item_type::auxgroups), m.auxgroups.data(), m.auxgroups.size() * 8);
  if ((granted & kdbus::attach::tid_comm) && !m.tid_comm.empty()) e.add_string(item_type::tid_comm, m.tid_comm);
  if ((granted & kdbus::attach::pid_comm) && !m.pid_comm.empty()) e.add_string(item_type::pid_comm, m.pid_comm);
  if ((granted & kdbus::attach::exe) && !m.exe.empty()) e.add_string(item_type::exe, m.exe);
  if ((granted & kdbus::attach::cmdline) && !m.cmdline.empty()) e.add_string(item_type::cmdline, m.cmdline);
  if ((granted & kdbus::attach::cgroup) && !m.cgroup.empty()) e.add_string(item_type::cgroup, m.cgroup);
  if ((granted & kdbus::attach::caps) && !m.caps.empty()) {
    std::vector<std::uint32_t> c{m.last_cap};
    c.insert(c.end(), m.caps.begin(), m.caps.end());
    e.add_raw(kdbus::to_u64(item_type::caps), c.data(), c.size() * 4);
  }
  if ((granted & kdbus::attach::seclabel) && !m.seclabel.empty()) e.add_string(item_type::seclabel, m.seclabel);
  if ((granted & kdbus::attach::audit) && m.audit) e.add_struct(item_type::audit, *m.audit);
  if ((granted & kdbus::attach::names) && sender) {
    for (const auto& [name, ne] : sender->b->names)
      if (!ne.queue.empty() && ne.queue.front().conn == sender) {
        kdbus::name n{name_flags_of(sender, ne)};
        e.add_struct_string(item_type::owned_name, n, name);
      }
  }
  if ((granted & kdbus::attach::conn_description) && sender && !sender->description.empty())
    e.add_string(item_type::conn_description, sender->description);
  if (granted & kdbus::attach::timestamp) {
    kdbus::timestamp ts{seqnum, mono(), real()};
    e.add_struct(item_type::timestamp, ts);
  }
}

}  // namespace kbus::broker
