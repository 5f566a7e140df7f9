// kbus tree [DEST...]: the object paths of services, found by introspecting from "/", drawn as
// busctl draws them (every well-known name on the bus when no DEST is given).
#include "context.hpp"
#include "introspect_call.hpp"
#include "names_arg.hpp"

#include <nlohmann/json.hpp>

#include <deque>
#include <set>

namespace kbus::cli {
namespace {

// Every path below "/" that introspection names; false after reporting why "/" failed.
bool find_paths(session& s, const bus_name& dest, std::set<std::string>& paths) {
  std::deque<std::string> queue{"/"};
  bool root = true;
  while (!queue.empty()) {
    const std::string path = queue.front();
    queue.pop_front();
    auto xml = introspect_xml(s, dest, object_path::unchecked(path), root);
    if (!xml) {
      if (root) return false;
      continue;  // an object that went away, or does not answer: its children stay unknown
    }
    root = false;
    auto doc = introspection::parse(*xml);
    if (!doc) continue;
    for (const auto& child : doc->children) {
      const std::string p = child_path(path, child.name);
      if (!object_path::make(p)) continue;
      if (paths.insert(p).second) queue.push_back(p);
    }
  }
  return true;
}

bool is_below(const std::string& path, const std::string& parent) {
  return parent == "/" ? path != "/" : path.size() > parent.size() && path.compare(0, parent.size(), parent) == 0 &&
                                           path[parent.size()] == '/';
}

// The paths directly below `parent` among `paths` (those with no other path between).
std::vector<std::string> children_of(const std::set<std::string>& paths, const std::string& parent) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (!is_below(p, parent)) continue;
    bool direct = true;
    for (const auto& q : paths)
      if (q != p && is_below(q, parent) && is_below(p, q)) direct = false;
    if (direct) out.push_back(p);
  }
  return out;
}

void draw(std::ostream& out, const std::set<std::string>& paths, const std::string& parent, const std::string& prefix) {
  const auto children = children_of(paths, parent);
  for (std::size_t i = 0; i < children.size(); ++i) {
    const bool last = i + 1 == children.size();
    out << prefix << (last ? "└─" : "├─") << children[i] << "\n";
    draw(out, paths, children[i], prefix + (last ? "  " : "│ "));
  }
}

}  // namespace

int tree_command(context& ctx) {
  std::vector<bus_name> services;
  for (const auto& a : ctx.args) {
    auto n = name_arg<bus_name>(ctx, a, "DEST");
    if (!n) return 2;
    services.push_back(*n);
  }
  session s(ctx);
  if (!s.connect()) return 1;
  const bool all = services.empty();
  if (all) {
    auto names = driver_value<std::vector<std::string>>(s, "ListNames");
    if (!names) return ctx.fail("cannot list the names on the bus");
    // In the bus's order, as busctl.
    for (const auto& n : *names)
      if (n[0] != ':') services.push_back(bus_name::unchecked(n));
  }
  int status = 0;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  bool first = true;
  for (const auto& service : services) {
    std::set<std::string> paths;
    if (!find_paths(s, service, paths)) {
      status = 1;
      continue;
    }
    if (ctx.opt.json != json_mode::off) {
      j[service.str()] = std::vector<std::string>(paths.begin(), paths.end());
      continue;
    }
    if (all || services.size() > 1) ctx.out << (first ? "" : "\n") << "Service " << service.str() << ":\n";
    first = false;
    draw(ctx.out, paths, "/", "");
  }
  if (ctx.opt.json != json_mode::off) ctx.out << ctx.json_text(j.dump()) << "\n";
  return status;
}

}  // namespace kbus::cli
