#include "kbusd/device_server.hpp"

#include "broker/proc_credentials.hpp"
#include "transport/cuse/protocol.hpp"

#include <absl/container/flat_hash_map.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>

namespace kbus::kbusd {

namespace kd = kbus::kdbus;
namespace proto = kbus::detail::cuse;

namespace {

// The largest send frame: a message of the D-Bus maximum (2^27 bytes, the spec's limit) with
// its command, kdbus_msg and frame headers.
constexpr std::uint64_t max_frame_size = (std::uint64_t{1} << 27) + 2 * kd::cmd_max_size + 4096;

// kbusd's own memory is never read through a peer_io: what the core asks of a caller's memory
// comes out of the send frame the caller wrote, and no files travel (notes §5.1).
class frame_io final : public broker::peer_io {
 public:
  explicit frame_io(const proto::send_frame* frame) : frame_(frame) {}
  int read_user(std::uint64_t address, void* out, std::size_t size) override {
    return frame_ ? frame_->read(address, out, size) : EFAULT;
  }
  int take_fd(int, broker::file_ref&) override { return EOPNOTSUPP; }
  int take_memfd(int, std::uint64_t, std::uint64_t, broker::file_ref&) override { return EOPNOTSUPP; }
  int install_fd(const broker::file_ref&) override { return -1; }

 private:
  const proto::send_frame* frame_;
};

// A pool is address space reserved, not memory taken: pages come as messages land.
std::span<std::uint8_t> reserve_pool(std::uint64_t size) {
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return {};
  return {static_cast<std::uint8_t*>(p), static_cast<std::size_t>(size)};
}

broker::credentials default_credentials(const caller& who) {
  auto c = broker::read_proc_credentials(static_cast<pid_t>(who.pid));
  if (c) return *c;
  // The task is gone already: what the request says.
  broker::credentials ids;
  ids.ids = kd::creds{who.uid, who.uid, who.uid, who.uid, who.gid, who.gid, who.gid, who.gid};
  ids.pids.tid = who.pid;
  return ids;
}

template <class T>
std::vector<std::uint8_t> bytes_of(const T& v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  return {p, p + sizeof(T)};
}

}  // namespace

struct device_server::state {
  struct open_file {
    broker::handle_id id = 0;
    broker::credentials opener;
    // The send frame being written.
    std::uint64_t frame_id = 0;
    std::uint64_t frame_size = 0;
    std::vector<std::uint8_t> frame;
    // A slice being read in chunks.
    proto::read_header reading{};
    std::vector<std::uint8_t> slice;
    std::size_t slice_sent = 0;
    // What the file was told last: that nothing waits. Its client may then sleep until a poll
    // notification (take_wakeups).
    bool told_idle = true;
  };

  server_options opt;
  // Looked up on every request (and by_id on every wakeup): hash tables, which
  // bench/device_server_bench.cpp measured faster than std::map (bench/README.md).
  absl::flat_hash_map<handle, open_file> files;
  absl::flat_hash_map<broker::handle_id, handle> by_id;
  // Files told since the last take_wakeups that nothing waits: looked at again there, in case
  // something does after all.
  std::set<handle> told_idle_files;
  handle next_handle = 1;
  broker::domain d;
  broker::handle_id control = 0;
  broker::handle_id holder = 0;
  std::string endpoint;

  explicit state(server_options o) : opt(std::move(o)), d(domain_options()) {
    if (!opt.credentials_of) opt.credentials_of = default_credentials;
  }

  static broker::domain_options domain_options() {
    broker::domain_options o;
    o.map_pool = [](broker::handle_id, std::uint64_t size) { return reserve_pool(size); };
    o.release_pool = [](broker::handle_id, std::span<std::uint8_t> pool) { ::munmap(pool.data(), pool.size()); };
    // No memfds over CUSE: a message of any size travels as PAYLOAD_VEC bytes.
    o.max_payload_vec_size = std::uint64_t{1} << 27;
    return o;
  }

  // The caller as the core sees it: who opened the file, with the ids and thread of this request.
  broker::credentials who(const open_file& f, const caller& c) const {
    broker::credentials w = f.opener;
    w.ids.uid = w.ids.euid = w.ids.suid = w.ids.fsuid = c.uid;
    w.ids.gid = w.ids.egid = w.ids.sgid = w.ids.fsgid = c.gid;
    w.pids.tid = c.pid;
    return w;
  }

  open_file* find(handle h) {
    auto it = files.find(h);
    return it == files.end() ? nullptr : &it->second;
  }

  broker::poll_state poll(const open_file& f) const {
    auto ps = d.poll(f.id);
    if (!f.slice.empty()) ps.readable = true;
    return ps;
  }
  // Notes what a file was just told: whether a read now would find something.
  void told(handle h, open_file& f, bool ready) {
    f.told_idle = !ready;
    if (!ready) told_idle_files.insert(h);
  }

  void make_bus();
  void install_policy();
  int run_send(open_file& f, const caller& c);
  int next_slice(open_file& f, const caller& c);
};

void device_server::state::make_bus() {
  const auto self = broker::read_proc_credentials().value_or(broker::credentials{});
  if (const int r = d.open("control", self, control); r)
    throw std::system_error(r, std::generic_category(), "kbusd's control node");
  std::vector<std::uint8_t> items;
  kd::item_writer w(items);
  w.add_struct(kd::item_type::bloom_parameter, kd::bloom_parameter{opt.bloom_size, opt.bloom_hashes});
  w.add_u64(kd::item_type::attach_flags_send, kd::attach::all);
  w.add_string(kd::item_type::make_name, opt.bus_name);
  kd::cmd head{};
  head.flags = kd::make::access_world;  // anyone may connect: the bus policy says what they may do
  auto words = kd::command_words(head, items);
  std::span<std::uint8_t> cmd(reinterpret_cast<std::uint8_t*>(words.data()), static_cast<std::size_t>(head.size));
  broker::null_io io;
  if (const int r = d.ioctl(control, kd::ioctl::bus_make, cmd, self, io); r)
    throw std::system_error(r, std::generic_category(), "making the bus " + opt.bus_name);
  endpoint = opt.bus_name + "/bus";
}

// The policy file's entries, held by kbusd's own policy holder connection for the bus's life
// (notes §2.12).
void device_server::state::install_policy() {
  if (opt.policy.empty()) return;
  const auto self = broker::read_proc_credentials().value_or(broker::credentials{});
  if (const int r = d.open(endpoint, self, holder); r)
    throw std::system_error(r, std::generic_category(), "opening the bus for its policy");
  std::vector<std::uint8_t> items;
  kd::item_writer w(items);
  for (const auto& [name, entries] : opt.policy) {
    w.add_string(kd::item_type::name, name);
    for (const auto& e : entries) w.add_struct(kd::item_type::policy_access, kd::policy_access{e.type, e.access, e.id});
  }
  kd::cmd_hello head{};
  head.flags = kd::hello::policy_holder;
  head.pool_size = 4096;
  auto words = kd::command_words(head, items);
  std::span<std::uint8_t> cmd(reinterpret_cast<std::uint8_t*>(words.data()), static_cast<std::size_t>(head.size));
  broker::null_io io;
  if (const int r = d.ioctl(holder, kd::ioctl::hello, cmd, self, io); r)
    throw std::system_error(r, std::generic_category(), "installing the bus policy");
}

device_server::device_server(server_options options) : s_(std::make_unique<state>(std::move(options))) {
  s_->make_bus();
  s_->install_policy();
}

device_server::~device_server() {
  for (auto& [h, f] : s_->files) s_->d.close(f.id);
  if (s_->holder) s_->d.close(s_->holder);
  if (s_->control) s_->d.close(s_->control);
}

int device_server::open(const caller& who, handle& out) {
  state::open_file f;
  f.opener = s_->opt.credentials_of(who);
  if (const int r = s_->d.open(s_->endpoint, f.opener, f.id); r) return r;
  out = s_->next_handle++;
  s_->by_id.emplace(f.id, out);
  s_->files.emplace(out, std::move(f));
  return 0;
}

void device_server::release(handle h) {
  auto it = s_->files.find(h);
  if (it == s_->files.end()) return;
  s_->d.close(it->second.id);
  s_->by_id.erase(it->second.id);
  s_->files.erase(it);
}

std::int64_t device_server::write(handle h, std::span<const std::uint8_t> bytes, const caller& who) {
  auto* f = s_->find(h);
  if (!f) return -EBADF;
  proto::write_header head{};
  if (bytes.size() < sizeof head) return -EPROTO;
  std::memcpy(&head, bytes.data(), sizeof head);
  const auto chunk = bytes.subspan(sizeof head);
  if (head.magic != proto::write_magic || head.reserved != 0) return -EPROTO;
  if (head.frame_size > max_frame_size) return -EMSGSIZE;
  if (head.frame_id != f->frame_id) {
    // A new frame; whatever was left of another one is given up.
    if (head.chunk_offset != 0) return -EPROTO;
    f->frame_id = head.frame_id;
    f->frame_size = head.frame_size;
    f->frame.clear();
  } else if (head.frame_size != f->frame_size) {
    return -EPROTO;
  }
  const std::uint64_t have = f->frame.size();
  // A chunk sent again after EINTR: taken already.
  if (head.chunk_offset < have && chunk.size() <= have - head.chunk_offset) return static_cast<std::int64_t>(bytes.size());
  if (head.chunk_offset != have || chunk.size() > f->frame_size - have || (chunk.empty() && f->frame_size != 0))
    return -EPROTO;
  f->frame.insert(f->frame.end(), chunk.begin(), chunk.end());
  if (f->frame.size() < f->frame_size) return static_cast<std::int64_t>(bytes.size());
  const int r = s_->run_send(*f, who);
  f->frame.clear();
  f->frame.shrink_to_fit();
  f->frame_size = 0;
  return r ? -r : static_cast<std::int64_t>(bytes.size());
}

int device_server::state::run_send(open_file& f, const caller& c) {
  auto frame = proto::parse_send_frame(f.frame);
  if (!frame) return EPROTO;
  std::vector<std::uint8_t> cmd(frame->cmd.begin(), frame->cmd.end());
  std::uint64_t size = 0;
  if (cmd.size() < sizeof(kd::cmd_send) || !kd::load(std::span<const std::uint8_t>(cmd), 0, size) || size != cmd.size())
    return EINVAL;
  frame_io io(&*frame);
  std::uint64_t ticket = 0;
  const int r = d.ioctl(f.id, kd::ioctl::send, cmd, who(f, c), io, &ticket);
  if (r != broker::in_progress) return r;
  // A synchronous SEND waits inside the kernel; over CUSE a client sends and then reads.
  d.sync_abort(ticket, EOPNOTSUPP);
  return d.sync_result(ticket, cmd, io);
}

int device_server::read(handle h, std::size_t size, const caller& who, std::vector<std::uint8_t>& out) {
  auto* f = s_->find(h);
  if (!f) return EBADF;
  if (size < sizeof(proto::read_header) + 8) return EINVAL;
  proto::read_header head{};
  if (f->slice.empty())
    if (const int r = s_->next_slice(*f, who); r) {
      if (r != EAGAIN) return r;
      if (!f->reading.dropped_msgs) {
        s_->told(h, *f, false);
        return EAGAIN;
      }
      // Nothing to read but a count of what was lost: that count (protocol.hpp).
      head = std::exchange(f->reading, {});
    }
  if (!f->slice.empty()) {
    const std::size_t room = std::min(size, proto::max_read) - sizeof(proto::read_header);
    const std::size_t n = std::min(room, f->slice.size() - f->slice_sent);
    head = f->reading;
    head.chunk_offset = f->slice_sent;
    out.assign(sizeof head, 0);
    out.insert(out.end(), f->slice.begin() + static_cast<std::ptrdiff_t>(f->slice_sent),
               f->slice.begin() + static_cast<std::ptrdiff_t>(f->slice_sent + n));
    f->slice_sent += n;
    if (f->slice_sent == f->slice.size()) {
      f->slice.clear();
      f->slice.shrink_to_fit();
      f->slice_sent = 0;
      f->reading = {};
    }
  } else {
    out.assign(sizeof head, 0);
  }
  // What comes after this read, as it stands once the read is done.
  const auto ps = s_->poll(*f);
  const bool more = ps.readable || ps.hangup;
  head.flags = more ? proto::read_more : 0;
  s_->told(h, *f, more);
  std::memcpy(out.data(), &head, sizeof head);
  return 0;
}

// RECV, a copy of the slice, FREE: the slice now lives in `f` until it is read.
int device_server::state::next_slice(open_file& f, const caller& c) {
  kd::cmd_recv recv{};
  recv.size = sizeof recv;
  auto cmd = bytes_of(recv);
  broker::null_io io;
  const int r = d.ioctl(f.id, kd::ioctl::recv, cmd, who(f, c), io);
  std::memcpy(&recv, cmd.data(), sizeof recv);
  f.reading = {};
  f.reading.dropped_msgs = recv.dropped_msgs;
  f.reading.return_flags = recv.return_flags;
  if (r) return r;
  const auto pool = d.pool_memory(f.id);
  if (recv.msg.offset > pool.size() || recv.msg.msg_size > pool.size() - recv.msg.offset || recv.msg.msg_size == 0)
    return EIO;
  f.reading.offset = recv.msg.offset;
  f.reading.msg_size = recv.msg.msg_size;
  const auto bytes = pool.subspan(static_cast<std::size_t>(recv.msg.offset), static_cast<std::size_t>(recv.msg.msg_size));
  f.slice.assign(bytes.begin(), bytes.end());
  f.slice_sent = 0;
  kd::cmd_free release{};
  release.size = sizeof release;
  release.offset = recv.msg.offset;
  auto free_cmd = bytes_of(release);
  d.ioctl(f.id, kd::ioctl::free, free_cmd, who(f, c), io);
  return 0;
}

ioctl_step device_server::ioctl(handle h, std::uint32_t number, std::uint64_t arg, std::span<const std::uint8_t> in,
                                std::size_t out_size, const caller& who) {
  ioctl_step step;
  auto fail = [&](int e) {
    step.error = e;
    return step;
  };
  auto retry = [&](user_range input, std::optional<user_range> output) {
    step.retry = true;
    step.in = {input};
    if (output) step.out = {*output};
    return step;
  };
  auto* f = s_->find(h);
  if (!f) return fail(EBADF);
  if (arg == 0 || arg % 8) return fail(EFAULT);  // notes §1.3: an 8-aligned argument

  if (number == proto::slice_ioctl) {
    proto::slice_request q{};
    if (in.size() < sizeof q) return retry({arg, sizeof q}, std::nullopt);
    std::memcpy(&q, in.data(), sizeof q);
    const auto pool = s_->d.pool_memory(f->id);
    if (q.size > proto::max_transfer) return fail(EINVAL);
    if (q.offset > pool.size() || q.size > pool.size() - q.offset) return fail(EFAULT);
    if (q.address == 0) return fail(EFAULT);
    if (out_size < q.size) return retry({arg, sizeof q}, user_range{q.address, q.size});
    const auto bytes = pool.subspan(static_cast<std::size_t>(q.offset), static_cast<std::size_t>(q.size));
    step.output.assign(bytes.begin(), bytes.end());
    return step;
  }

  const std::uint32_t command = proto::kdbus_command_of(number);
  if (command == 0) return fail(ENOTTY);
  // Messages travel by write and read (protocol.hpp).
  if (command == kd::ioctl::send || command == kd::ioctl::recv) return fail(EOPNOTSUPP);
  if (in.size() < sizeof(std::uint64_t)) {
    const std::uint64_t first = std::clamp<std::uint64_t>(kd::ioctl_fixed_size(number), 8, proto::ioctl_size_max);
    return retry({arg, first}, user_range{arg, first});
  }
  std::uint64_t size = 0;
  std::memcpy(&size, in.data(), sizeof size);
  if (size < kd::ioctl_fixed_size(command) || size < sizeof(kd::cmd)) return fail(EINVAL);
  if (size > kd::cmd_max_size) return fail(EMSGSIZE);
  if (in.size() < size || out_size < size) return retry({arg, size}, user_range{arg, size});
  std::vector<std::uint8_t> cmd(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(size));
  broker::null_io io;
  std::uint64_t ticket = 0;
  int r = s_->d.ioctl(f->id, command, cmd, s_->who(*f, who), io, &ticket);
  if (r == broker::in_progress) {
    s_->d.sync_abort(ticket, EOPNOTSUPP);
    r = s_->d.sync_result(ticket, cmd, io);
  }
  if (r) return fail(r);
  step.output = std::move(cmd);
  return step;
}

broker::poll_state device_server::poll(handle h) const {
  auto it = s_->files.find(h);
  if (it == s_->files.end()) return {false, true};
  return s_->poll(it->second);
}

broker::poll_state device_server::answer_poll(handle h) {
  auto* f = s_->find(h);
  if (!f) return {false, true};
  const auto ps = s_->poll(*f);
  s_->told(h, *f, ps.readable || ps.hangup);
  return ps;
}

std::vector<device_server::wakeup> device_server::take_wakeups() {
  std::set<handle> changed = std::exchange(s_->told_idle_files, {});
  for (const broker::handle_id id : s_->d.take_wakeups())
    if (auto it = s_->by_id.find(id); it != s_->by_id.end()) changed.insert(it->second);
  std::vector<wakeup> out;
  out.reserve(changed.size());
  for (const handle h : changed) {
    auto* f = s_->find(h);
    if (!f) continue;
    const auto ps = s_->poll(*f);
    const bool notify = f->told_idle && (ps.readable || ps.hangup);
    if (notify) f->told_idle = false;
    out.push_back({h, notify});
  }
  return out;
}

std::uint64_t device_server::expire(std::uint64_t now) { return s_->d.expire(now); }

}  // namespace kbus::kbusd
