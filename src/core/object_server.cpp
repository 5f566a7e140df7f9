#include "kbus/object_server.hpp"

#include "kbus/dbus_names.hpp"

#include "transport/machine_id.hpp"

#include <boost/asio/post.hpp>

#include <map>
#include <mutex>
#include <set>

namespace kbus {

namespace {

bool is_standard(std::string_view iface) {
  return iface == dbus_names::peer_interface || iface == dbus_names::introspectable_interface || iface == dbus_names::properties_interface ||
         iface == dbus_names::object_manager_interface;
}

dbus_error make_error(std::string_view name, std::string message) { return {std::string(name), std::move(message)}; }

// Whether `path` is `prefix` or below it.
bool at_or_below(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  return path == prefix || (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

bool strictly_below(std::string_view path, std::string_view prefix) { return path != prefix && at_or_below(path, prefix); }

using interface_list = std::vector<std::shared_ptr<const detail::interface_data>>;

}  // namespace

void throw_exception_from_error(const dbus_error& e, const boost::source_location&) { throw dbus_exception(e); }

const message& call_context::call() const noexcept {
  static const message none;
  return state_ ? state_->call() : none;
}

namespace detail {

call_state::~call_state() {
  if (!answered_ && conn_ && call_.expects_reply())
    fail(make_error(dbus_errors::failed, "the handler of " + std::string(call_.member()) + " gave no reply"));
}

void call_state::reply(message reply) {
  if (answered_.exchange(true)) return;
  if (!call_.expects_reply() || !conn_) return;
  conn_->send(std::move(reply));
}

void call_state::fail(const dbus_error& e) {
  if (answered_.exchange(true)) return;
  if (!call_.expects_reply() || !conn_) return;
  auto name = error_name::make(e.name);
  std::string text = e.message;
  if (!name) {
    text = "the handler answered with an invalid error name '" + e.name + "': " + e.message;
    name = error_name::unchecked(dbus_errors::failed);
  }
  try {
    conn_->send(message_builder::error(call_, *name).build(text));
  } catch (const kbus::exception&) {
    // The text is not valid UTF-8: say so instead.
    conn_->send(message_builder::error(call_, *name).build(std::string("(the error message is not valid UTF-8)")));
  }
}

void call_state::fail_current_exception() {
  try {
    throw;
  } catch (const call_error& e) {
    fail(e.error());
  } catch (const std::exception& e) {
    fail(make_error(dbus_errors::failed, e.what()));
  } catch (...) {
    fail(make_error(dbus_errors::failed, "the handler threw an exception"));
  }
}

const method_entry* interface_data::find_method(std::string_view n) const noexcept {
  for (const auto& m : methods)
    if (m.info.name == n) return &m;
  return nullptr;
}
const property_entry* interface_data::find_property(std::string_view n) const noexcept {
  for (const auto& p : properties)
    if (p.info.name == n) return &p;
  return nullptr;
}
const signal_entry* interface_data::find_signal(std::string_view n) const noexcept {
  for (const auto& s : signals)
    if (s.info.name == n) return &s;
  return nullptr;
}

introspection::interface interface_data::describe() const {
  introspection::interface i;
  i.name = name.str();
  for (const auto& m : methods) i.methods.push_back(m.info);
  for (const auto& s : signals) i.signals.push_back(s.info);
  for (const auto& p : properties) i.properties.push_back(p.info);
  i.annotations = annotations;
  return i;
}

void add_deprecated(std::vector<introspection::annotation>& list, bool deprecated) {
  if (deprecated) list.push_back({std::string(dbus_names::deprecated_annotation), "true"});
}

std::vector<introspection::arg> describe_args(const std::vector<std::string>& types, const std::vector<std::string>& names,
                                              introspection::direction dir,
                                              const std::vector<std::vector<introspection::annotation>>& annotations) {
  std::vector<introspection::arg> out;
  for (std::size_t i = 0; i < types.size(); ++i)
    out.push_back({i < names.size() ? names[i] : std::string(), types[i], dir,
                   i < annotations.size() ? annotations[i] : std::vector<introspection::annotation>{}});
  return out;
}

class object_server_impl : public std::enable_shared_from_this<object_server_impl> {
 public:
  explicit object_server_impl(connection& c) : conn_(&c) {}

  connection* conn_;
  incoming_registration incoming_;  // where the connection hands us calls
  mutable std::mutex mu_;
  bool alive_ = true;
  std::map<std::string, interface_list, std::less<>> objects_;
  std::map<std::string, std::shared_ptr<const subtree_handler>, std::less<>> subtrees_;
  std::set<std::string, std::less<>> managers_;
  // Property changes waiting for the next flush, by (path, interface).
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> changes_;
  bool flush_posted_ = false;

  // ---- lookups (under mu_) ----

  std::shared_ptr<const subtree_handler> subtree_for(std::string_view path) const {
    std::shared_ptr<const subtree_handler> best;
    std::size_t best_len = 0;
    for (const auto& [prefix, h] : subtrees_)
      if (at_or_below(path, prefix) && (!best || prefix.size() > best_len)) {
        best = h;
        best_len = prefix.size();
      }
    return best;
  }

  // The nearest object manager above `path`, if any.
  std::optional<std::string> manager_of(std::string_view path) const {
    std::optional<std::string> best;
    for (const auto& m : managers_)
      if (strictly_below(path, m) && (!best || m.size() > best->size())) best = m;
    return best;
  }

  // The names of the child nodes of `path` among registered paths.
  void add_children(std::string_view path, std::set<std::string>& out) const {
    auto take = [&](const std::string& p) {
      if (!strictly_below(p, path)) return;
      const std::size_t start = path == "/" ? 1 : path.size() + 1;
      out.insert(p.substr(start, p.find('/', start) - start));
    };
    for (const auto& [p, ifaces] : objects_) take(p);
    for (const auto& [p, h] : subtrees_) take(p);
    for (const auto& p : managers_) take(p);
  }

  // ---- dispatch ----

  // Whether this server answers `m`: a method call to a path where it has an object, a subtree,
  // an object manager or children to introspect (the root always); the Peer interface anywhere.
  bool serves(const message& m) const {
    if (m.type() != message_type::method_call) return false;
    if (m.interface() == dbus_names::peer_interface) return true;
    const std::string_view path = m.path();
    std::lock_guard lock(mu_);
    if (!alive_) return false;
    if (path == "/" || objects_.contains(path) || managers_.contains(path) || subtree_for(path)) return true;
    std::set<std::string> children;
    add_children(path, children);
    return !children.empty();
  }

  void handle(message& msg) {
    if (msg.type() != message_type::method_call) return;
    auto st = std::make_shared<call_state>(conn_, std::move(msg));
    const message& m = st->call();
    const std::string_view path = m.path();
    std::string_view iface = m.interface();
    const std::string_view member = m.member();

    interface_list ifaces;
    bool manager = false;
    std::shared_ptr<const subtree_handler> subtree;
    {
      std::lock_guard lock(mu_);
      if (!alive_) return st->fail(make_error(dbus_errors::unknown_object, "the object server has stopped"));
      if (auto it = objects_.find(path); it != objects_.end()) ifaces = it->second;
      manager = managers_.contains(path);
      subtree = subtree_for(path);
    }
    try {
      if (ifaces.empty() && subtree && subtree->lookup) {
        for (auto& d : subtree->lookup(object_path::unchecked(path))) ifaces.push_back(d.data_);
      }
    } catch (...) {
      return st->fail_current_exception();
    }
    const bool exists = !ifaces.empty() || manager;

    // Without an interface, a member of a registered interface comes first, then the standard ones.
    if (iface.empty()) {
      for (const auto& i : ifaces)
        if (const auto* me = i->find_method(member)) return invoke(st, *me);
      if (member == "Ping" || member == "GetMachineId") iface = dbus_names::peer_interface;
      else if (member == "Introspect") iface = dbus_names::introspectable_interface;
      else if (member == "Get" || member == "Set" || member == "GetAll") iface = dbus_names::properties_interface;
      else if (member == "GetManagedObjects") iface = dbus_names::object_manager_interface;
    }

    if (iface == dbus_names::peer_interface) return peer(st, member);  // on any path, as the spec says
    if (iface == dbus_names::introspectable_interface) {
      if (member != "Introspect") return unknown_method(st);
      if (!check_signature(st, "")) return;
      return introspect(st, path, ifaces, manager, subtree);
    }
    if (!exists) return st->fail(make_error(dbus_errors::unknown_object, "no object at " + std::string(path)));
    if (iface == dbus_names::properties_interface) return properties(st, member, ifaces);
    if (iface == dbus_names::object_manager_interface) {
      if (!manager)
        return st->fail(make_error(dbus_errors::unknown_interface,
                                   "no object manager at " + std::string(path)));
      if (member != "GetManagedObjects") return unknown_method(st);
      if (!check_signature(st, "")) return;
      return managed_objects(st, path);
    }
    if (iface.empty())
      return st->fail(make_error(dbus_errors::unknown_method,
                                 "no method " + std::string(member) + " at " + std::string(path)));
    for (const auto& i : ifaces) {
      if (i->name.view() != std::string_view(iface)) continue;
      const auto* me = i->find_method(member);
      if (!me) return unknown_method(st);
      return invoke(st, *me);
    }
    st->fail(make_error(dbus_errors::unknown_interface,
                        "the object at " + std::string(path) + " has no interface " + std::string(iface)));
  }

  static void unknown_method(const std::shared_ptr<call_state>& st) {
    const message& m = st->call();
    st->fail(make_error(dbus_errors::unknown_method, "no method " + std::string(m.member()) + " in interface " +
                                                         std::string(m.interface()) + " at " + std::string(m.path())));
  }

  static bool check_signature(const std::shared_ptr<call_state>& st, std::string_view expected) {
    if (st->call().signature() == expected) return true;
    st->fail(make_error(dbus_errors::invalid_args, "arguments of signature '" + std::string(st->call().signature()) +
                                                       "' where " + std::string(st->call().member()) + " takes '" +
                                                       std::string(expected) + "'"));
    return false;
  }

  static void invoke(const std::shared_ptr<call_state>& st, const method_entry& me) {
    if (!check_signature(st, me.in_signature)) return;
    me.invoke(st);
  }

  static void peer(const std::shared_ptr<call_state>& st, std::string_view member) {
    if (member == "Ping") {
      if (!check_signature(st, "")) return;
      return st->reply(message_builder::method_return(st->call()).build());
    }
    if (member == "GetMachineId") {
      if (!check_signature(st, "")) return;
      const auto& id = detail::machine_id();
      if (!id) return st->fail(make_error(dbus_errors::failed, "this machine has no machine id"));
      return st->reply(message_builder::method_return(st->call()).build(*id));
    }
    unknown_method(st);
  }

  void introspect(const std::shared_ptr<call_state>& st, std::string_view path, const interface_list& ifaces,
                  bool manager, const std::shared_ptr<const subtree_handler>& subtree) {
    std::set<std::string> children;
    {
      std::lock_guard lock(mu_);
      add_children(path, children);
    }
    try {
      if (subtree && subtree->children)
        for (auto& c : subtree->children(object_path::unchecked(path))) children.insert(std::move(c));
    } catch (...) {
      return st->fail_current_exception();
    }
    const bool exists = !ifaces.empty() || manager;
    if (!exists && children.empty() && path != "/")
      return st->fail(make_error(dbus_errors::unknown_object, "no object at " + std::string(path)));
    introspection::node n;
    if (exists) {
      n.interfaces.push_back(introspection::peer_interface());
      n.interfaces.push_back(introspection::introspectable_interface());
      n.interfaces.push_back(introspection::properties_interface());
      if (manager) n.interfaces.push_back(introspection::object_manager_interface());
      for (const auto& i : ifaces) n.interfaces.push_back(i->describe());
    }
    for (const auto& c : children) n.children.push_back({c, {}, {}});
    st->reply(message_builder::method_return(st->call()).build(introspection::to_xml(n)));
  }

  static method_result<value> read_property(const property_entry& p, const call_context& ctx) {
    try {
      return p.get(ctx);
    } catch (const call_error& e) {
      return e.error();
    } catch (const std::exception& e) {
      return make_error(dbus_errors::failed, e.what());
    }
  }

  // Every readable property of `i`; the first error of a getter, if any.
  static method_result<std::map<std::string, variant>> all_properties(const interface_data& i, const call_context& ctx) {
    std::map<std::string, variant> out;
    for (const auto& p : i.properties) {
      if (!p.get) continue;
      auto v = read_property(p, ctx);
      if (!v) return v.error();
      out.emplace(p.info.name, variant(std::move(*v)));
    }
    return out;
  }

  void properties(const std::shared_ptr<call_state>& st, std::string_view member, const interface_list& ifaces) {
    const message& m = st->call();
    call_context ctx(st);
    auto find_iface = [&](std::string_view name) -> const interface_data* {
      for (const auto& i : ifaces)
        if (i->name.view() == name) return i.get();
      return nullptr;
    };
    auto no_iface = [&](std::string_view name) {
      st->fail(make_error(dbus_errors::unknown_interface,
                          "the object at " + std::string(m.path()) + " has no interface " + std::string(name)));
    };
    if (member == "Get" || member == "Set") {
      std::string iname, pname;
      value v;
      if (member == "Get") {
        if (!check_signature(st, "ss")) return;
        std::tie(iname, pname) = m.read<std::string, std::string>().value();
      } else {
        if (!check_signature(st, "ssv")) return;
        auto [a, b, c] = m.read<std::string, std::string, variant>().value();
        iname = std::move(a);
        pname = std::move(b);
        v = std::move(c.get());
      }
      const interface_data* i = find_iface(iname);
      if (!i) {
        if (is_standard(iname))
          return st->fail(make_error(dbus_errors::unknown_property, "interface " + iname + " has no properties"));
        return no_iface(iname);
      }
      const property_entry* p = i->find_property(pname);
      if (!p) return st->fail(make_error(dbus_errors::unknown_property, "interface " + iname + " has no property " + pname));
      if (member == "Get") {
        if (!p->get) return st->fail(make_error(dbus_errors::access_denied, "property " + pname + " is write-only"));
        auto r = read_property(*p, ctx);
        if (!r) return st->fail(r.error());
        return st->reply(message_builder::method_return(m).build(variant(std::move(*r))));
      }
      if (!p->set) return st->fail(make_error(dbus_errors::property_read_only, "property " + pname + " is read-only"));
      method_result<void> r;
      try {
        r = p->set(ctx, v);
      } catch (...) {
        return st->fail_current_exception();
      }
      if (!r) return st->fail(r.error());
      if (p->emits == emits_changed::yes || p->emits == emits_changed::invalidates)
        queue_change(std::string(m.path()), iname, pname);
      return st->reply(message_builder::method_return(m).build());
    }
    if (member == "GetAll") {
      if (!check_signature(st, "s")) return;
      auto [iname] = m.read<std::string>().value();
      std::map<std::string, variant> all;
      if (iname.empty()) {
        // Every interface's properties at once, as sd-bus allows.
        for (const auto& i : ifaces) {
          auto r = all_properties(*i, ctx);
          if (!r) return st->fail(r.error());
          all.merge(*r);
        }
      } else if (const interface_data* i = find_iface(iname)) {
        auto r = all_properties(*i, ctx);
        if (!r) return st->fail(r.error());
        all = std::move(*r);
      } else if (!is_standard(iname)) {
        return no_iface(iname);
      }
      return st->reply(message_builder::method_return(m).build(all));
    }
    unknown_method(st);
  }

  using managed_map = std::map<object_path, std::map<std::string, std::map<std::string, variant>>>;

  void managed_objects(const std::shared_ptr<call_state>& st, std::string_view path) {
    std::vector<std::pair<std::string, interface_list>> below;
    std::vector<std::pair<std::string, std::shared_ptr<const subtree_handler>>> trees;  // that can list theirs
    {
      std::lock_guard lock(mu_);
      for (const auto& [p, ifaces] : objects_)
        if (strictly_below(p, path)) below.emplace_back(p, ifaces);
      for (const auto& [prefix, h] : subtrees_)
        if (h->enumerate && (at_or_below(prefix, path) || at_or_below(path, prefix))) trees.emplace_back(prefix, h);
    }
    // The subtrees' objects (their handlers run without the lock): those below `path` that no
    // registered object or deeper subtree serves.
    for (const auto& [prefix, h] : trees) {
      for (const auto& p : h->enumerate(object_path::unchecked(prefix))) {
        if (!strictly_below(p.view(), path) || !at_or_below(p.view(), prefix)) continue;
        {
          std::lock_guard lock(mu_);
          if (objects_.contains(p.view()) || subtree_for(p.view()) != h) continue;
        }
        interface_list ifaces;
        for (auto& d : h->lookup(p)) ifaces.push_back(d.data_);
        if (!ifaces.empty()) below.emplace_back(p.str(), std::move(ifaces));
      }
    }
    managed_map out;
    call_context ctx(st);
    for (const auto& [p, ifaces] : below) {
      auto& entry = out[object_path::unchecked(p)];
      for (const auto& i : ifaces) {
        auto& props = entry[i->name.str()];
        for (const auto& pe : i->properties) {
          if (!pe.get) continue;
          // A property that cannot be read now is left out rather than failing the whole list.
          if (auto v = read_property(pe, ctx)) props.emplace(pe.info.name, variant(std::move(*v)));
        }
      }
    }
    st->reply(message_builder::method_return(st->call()).build(out));
  }

  // ---- object manager signals and property changes ----

  void post(std::function<void(object_server_impl&)> f) {
    boost::asio::post(conn_->get_executor(), [self = shared_from_this(), f = std::move(f)] {
      {
        std::lock_guard lock(self->mu_);
        if (!self->alive_) return;
      }
      f(*self);
    });
  }

  void interfaces_added(const std::string& manager, const std::string& path, interface_list ifaces) {
    post([manager, path, ifaces = std::move(ifaces)](object_server_impl& self) {
      std::map<std::string, std::map<std::string, variant>> added;
      call_context none;
      for (const auto& i : ifaces) {
        auto& props = added[i->name.str()];
        for (const auto& pe : i->properties)
          if (pe.get)
            if (auto v = read_property(pe, none)) props.emplace(pe.info.name, variant(std::move(*v)));
      }
      self.conn_->send(message_builder::signal(object_path::unchecked(manager), interface_name::unchecked(dbus_names::object_manager_interface),
                                               member_name::unchecked("InterfacesAdded"))
                           .build(object_path::unchecked(path), added));
    });
  }

  void interfaces_removed(const std::string& manager, const std::string& path, std::vector<std::string> names) {
    post([manager, path, names = std::move(names)](object_server_impl& self) {
      self.conn_->send(message_builder::signal(object_path::unchecked(manager), interface_name::unchecked(dbus_names::object_manager_interface),
                                               member_name::unchecked("InterfacesRemoved"))
                           .build(object_path::unchecked(path), names));
    });
  }

  void queue_change(std::string path, std::string iface, std::string property) {
    bool post_now = false;
    {
      std::lock_guard lock(mu_);
      auto& names = changes_[{std::move(path), std::move(iface)}];
      if (std::find(names.begin(), names.end(), property) == names.end()) names.push_back(std::move(property));
      post_now = !flush_posted_;
      flush_posted_ = true;
    }
    if (post_now) post([](object_server_impl& self) { self.flush(); });
  }

  void flush() {
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> changes;
    std::vector<std::pair<std::shared_ptr<const interface_data>, std::vector<std::string>>> work;
    std::vector<std::string> paths;
    {
      std::lock_guard lock(mu_);
      changes.swap(changes_);
      flush_posted_ = false;
      for (auto& [key, names] : changes) {
        auto it = objects_.find(key.first);
        if (it == objects_.end()) continue;  // removed meanwhile
        for (const auto& i : it->second)
          if (i->name.view() == key.second) {
            work.emplace_back(i, std::move(names));
            paths.push_back(key.first);
          }
      }
    }
    call_context none;
    for (std::size_t k = 0; k < work.size(); ++k) {
      const auto& [iface, names] = work[k];
      std::map<std::string, variant> changed;
      std::vector<std::string> invalidated;
      for (const auto& n : names) {
        const property_entry* p = iface->find_property(n);
        if (!p) continue;
        if (p->emits == emits_changed::invalidates || !p->get) {
          invalidated.push_back(n);
        } else if (p->emits == emits_changed::yes) {
          if (auto v = read_property(*p, none)) changed.emplace(n, variant(std::move(*v)));
          else invalidated.push_back(n);
        }
      }
      if (changed.empty() && invalidated.empty()) continue;
      conn_->send(message_builder::signal(object_path::unchecked(paths[k]), interface_name::unchecked(dbus_names::properties_interface),
                                          member_name::unchecked("PropertiesChanged"))
                      .build(iface->name.str(), changed, invalidated));
    }
  }
};

}  // namespace detail

interface_definition::interface_definition(interface_name name) : data_(std::make_shared<detail::interface_data>()) {
  data_->name = std::move(name);
}

object_server::object_server(connection& c) : impl_(std::make_shared<detail::object_server_impl>(c)) {
  impl_->incoming_ = c.add_incoming_handler([weak = std::weak_ptr<detail::object_server_impl>(impl_)](message& m) {
    auto impl = weak.lock();
    if (!impl || !impl->serves(m)) return false;
    impl->handle(m);
    return true;
  });
}

object_server::~object_server() {
  {
    std::lock_guard lock(impl_->mu_);
    impl_->alive_ = false;
  }
  impl_->incoming_.reset();
}

connection& object_server::get_connection() const noexcept { return *impl_->conn_; }

result<void> object_server::add(const object_path& path, interface_definition iface) {
  const std::string name = iface.name().str();
  if (name.empty()) return error(errc::invalid_interface_name, "the interface has no name");
  if (is_standard(name))
    return error(errc::invalid_value, name + " is a standard interface, which the object server provides itself");
  auto data = std::make_shared<const detail::interface_data>(*iface.data_);
  std::optional<std::string> manager;
  {
    std::lock_guard lock(impl_->mu_);
    auto& list = impl_->objects_[path.str()];
    for (const auto& i : list)
      if (i->name.view() == name) return error(errc::invalid_value, "the object at " + path.str() + " has " + name + " already");
    list.push_back(data);
    manager = impl_->manager_of(path.view());
  }
  if (manager) impl_->interfaces_added(*manager, path.str(), {data});
  return {};
}

bool object_server::remove(const object_path& path, const interface_name& iface) {
  std::optional<std::string> manager;
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->objects_.find(path.view());
    if (it == impl_->objects_.end()) return false;
    auto& list = it->second;
    auto pos = std::find_if(list.begin(), list.end(), [&](const auto& i) { return i->name.view() == iface; });
    if (pos == list.end()) return false;
    list.erase(pos);
    if (list.empty()) impl_->objects_.erase(it);
    manager = impl_->manager_of(path.view());
  }
  if (manager) impl_->interfaces_removed(*manager, path.str(), {iface.str()});
  return true;
}

bool object_server::remove(const object_path& path) {
  std::optional<std::string> manager;
  std::vector<std::string> names;
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->objects_.find(path.view());
    if (it == impl_->objects_.end()) return false;
    for (const auto& i : it->second) names.push_back(i->name.str());
    impl_->objects_.erase(it);
    manager = impl_->manager_of(path.view());
  }
  if (manager) impl_->interfaces_removed(*manager, path.str(), std::move(names));
  return true;
}

result<void> object_server::add_subtree(const object_path& prefix, subtree_handler handler) {
  if (!handler.lookup) return error(errc::invalid_value, "a subtree handler needs a lookup function");
  std::lock_guard lock(impl_->mu_);
  if (!impl_->subtrees_.emplace(prefix.str(), std::make_shared<const subtree_handler>(std::move(handler))).second)
    return error(errc::invalid_value, "a subtree is served at " + prefix.str() + " already");
  return {};
}

bool object_server::remove_subtree(const object_path& prefix) {
  std::lock_guard lock(impl_->mu_);
  return impl_->subtrees_.erase(prefix.str()) > 0;
}

result<void> object_server::add_object_manager(const object_path& path) {
  std::lock_guard lock(impl_->mu_);
  if (!impl_->managers_.insert(path.str()).second)
    return error(errc::invalid_value, "an object manager is served at " + path.str() + " already");
  return {};
}

bool object_server::remove_object_manager(const object_path& path) {
  std::lock_guard lock(impl_->mu_);
  return impl_->managers_.erase(path.str()) > 0;
}

result<void> object_server::check_signal(const object_path& path, const interface_name& iface, const member_name& member,
                                         std::string_view sig) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->objects_.find(path.view());
  if (it == impl_->objects_.end()) {
    // Objects of a subtree are not known in advance: their signals are not checked.
    if (impl_->subtree_for(path.view())) return {};
    return error(errc::invalid_value, "no object at " + path.str());
  }
  for (const auto& i : it->second) {
    if (i->name.view() != std::string_view(iface)) continue;
    const auto* s = i->find_signal(member.view());
    if (!s) return error(errc::invalid_value, "interface " + iface.str() + " declares no signal " + member.str());
    if (s->signature != sig)
      return error(errc::type_mismatch, "signal " + member.str() + " has signature '" + s->signature + "', not '" +
                                            std::string(sig) + "'");
    return {};
  }
  return error(errc::invalid_value, "the object at " + path.str() + " has no interface " + iface.str());
}

result<void> object_server::property_changed(const object_path& path, const interface_name& iface,
                                             const member_name& property) {
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->objects_.find(path.view());
    if (it == impl_->objects_.end()) return error(errc::invalid_value, "no object at " + path.str());
    const detail::property_entry* p = nullptr;
    for (const auto& i : it->second)
      if (i->name.view() == iface) p = i->find_property(property.view());
    if (!p) return error(errc::invalid_value, "no property " + iface.str() + "." + property.str() + " at " + path.str());
    if (p->emits == emits_changed::constant)
      return error(errc::invalid_value, "property " + property.str() + " is declared constant");
    if (p->emits == emits_changed::no) return {};
  }
  impl_->queue_change(path.str(), iface.str(), property.str());
  return {};
}

}  // namespace kbus
