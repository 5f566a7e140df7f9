// The commands that make one call or send one message: info, call, emit, get-property,
// set-property.
#include "busctl_syntax.hpp"
#include "context.hpp"
#include "json_output.hpp"
#include "names_arg.hpp"
#include "session.hpp"

#include "kbus/bus.hpp"
#include "kbus/dbus_names.hpp"

namespace kbus::cli {

std::optional<body_values> body_args(const context& ctx, std::size_t from) {
  if (ctx.args.size() <= from) return body_values{};
  body_values body{ctx.args[from], {}};
  std::vector<std::string> rest(ctx.args.begin() + static_cast<std::ptrdiff_t>(from) + 1, ctx.args.end());
  auto values = parse_busctl_args(body.signature, rest);
  if (!values) {
    ctx.usage(values.error().what());
    return std::nullopt;
  }
  body.values = std::move(*values);
  return body;
}

namespace {

void print_body(const context& ctx, std::string_view sig, const std::vector<value>& values) {
  if (ctx.opt.quiet) return;
  if (ctx.opt.json != json_mode::off) ctx.out << ctx.json_text(body_json(sig, values).dump()) << "\n";
  else if (!sig.empty()) ctx.out << format_busctl(sig, values) << "\n";
}

const interface_name properties = interface_name::unchecked(dbus_names::properties_interface);

}  // namespace

int info_command(context& ctx) {
  if (!ctx.arg_count(0, 0, "info")) return 2;
  session s(ctx);
  if (!s.connect()) return 1;
  const auto i = s.conn().info();
  if (ctx.opt.json != json_mode::off) {
    nlohmann::ordered_json j{{"address", i.address},         {"transport", i.transport},
                             {"skipped", i.skipped},         {"unique_name", i.unique_name},
                             {"server_guid", i.server_guid}, {"unix_fd_passing", i.unix_fd_passing}};
    ctx.out << ctx.json_text(j.dump()) << "\n";
    return 0;
  }
  ctx.out << "address:         " << i.address << "\n"
          << "transport:       " << i.transport << "\n";
  for (const auto& skipped : i.skipped) ctx.out << "skipped:         " << skipped << "\n";
  ctx.out << "unique name:     " << i.unique_name << "\n"
          << "server guid:     " << i.server_guid << "\n"
          << "unix fd passing: " << (i.unix_fd_passing ? "yes" : "no") << "\n";
  return 0;
}

int call_command(context& ctx) {
  if (!ctx.arg_count(4, SIZE_MAX, "call DEST PATH IFACE METHOD [SIGNATURE [ARG...]]")) return 2;
  auto target = member_target_args(ctx, "METHOD");
  if (!target) return 2;
  auto body = body_args(ctx, 4);
  if (!body) return 2;
  session s(ctx);
  auto m = message_builder::method_call(target->dest, target->path, target->iface, target->member)
               .flags(s.call_flags())
               .build_values(kbus::signature(body->signature), body->values);
  if (!m) return ctx.usage(m.error().what());
  if (!s.connect()) return 1;
  if (!ctx.opt.expect_reply) return s.send(std::move(*m)) ? 0 : 1;
  auto reply = s.call(std::move(*m));
  if (!reply) return 1;
  auto values = reply->values();
  if (!values) return ctx.fail("invalid reply: " + values.error().what());
  print_body(ctx, reply->signature(), *values);
  return 0;
}

int emit_command(context& ctx) {
  if (!ctx.arg_count(3, SIZE_MAX, "emit PATH IFACE SIGNAL [SIGNATURE [ARG...]]")) return 2;
  auto path = name_arg<object_path>(ctx, ctx.args[0], "PATH");
  auto iface = name_arg<interface_name>(ctx, ctx.args[1], "IFACE");
  auto member = name_arg<member_name>(ctx, ctx.args[2], "SIGNAL");
  if (!path || !iface || !member) return 2;
  std::optional<bus_name> dest;
  if (ctx.opt.destination && !(dest = name_arg<bus_name>(ctx, *ctx.opt.destination, "--destination"))) return 2;
  auto body = body_args(ctx, 3);
  if (!body) return 2;
  auto builder = message_builder::signal(*path, *iface, *member);
  if (dest) builder.destination(*dest);
  if (!ctx.opt.auto_start) builder.flags(message_flags::no_auto_start);
  auto m = builder.build_values(kbus::signature(body->signature), body->values);
  if (!m) return ctx.usage(m.error().what());
  session s(ctx);
  if (!s.connect()) return 1;
  return s.send(std::move(*m)) ? 0 : 1;
}

int get_property_command(context& ctx) {
  if (!ctx.arg_count(4, SIZE_MAX, "get-property DEST PATH IFACE PROP...")) return 2;
  auto dest = name_arg<bus_name>(ctx, ctx.args[0], "DEST");
  auto path = name_arg<object_path>(ctx, ctx.args[1], "PATH");
  auto iface = name_arg<interface_name>(ctx, ctx.args[2], "IFACE");
  if (!dest || !path || !iface) return 2;
  std::vector<member_name> props;
  for (std::size_t i = 3; i < ctx.args.size(); ++i) {
    auto p = name_arg<member_name>(ctx, ctx.args[i], "PROP");
    if (!p) return 2;
    props.push_back(*p);
  }
  session s(ctx);
  if (!s.connect()) return 1;
  for (const auto& prop : props) {
    auto reply = s.call(message_builder::method_call(*dest, *path, properties, member_name::unchecked("Get"))
                            .flags(s.call_flags())
                            .build(iface->str(), prop.str()));
    if (!reply) return 1;
    auto values = reply->values();
    if (!values || values->size() != 1 || (*values)[0].code() != 'v')
      return ctx.fail("the reply to Get is not a variant");
    // As busctl: the property's own type and value, not the variant around it.
    const value& inner = (*values)[0].items()[0];
    if (ctx.opt.quiet) continue;
    if (ctx.opt.json != json_mode::off)
      ctx.out << ctx.json_text(nlohmann::ordered_json{{"type", inner.type()}, {"data", value_json(inner)}}.dump())
              << "\n";
    else
      ctx.out << inner.type() << " " << format_busctl_value(inner) << "\n";
  }
  return 0;
}

int set_property_command(context& ctx) {
  if (!ctx.arg_count(6, SIZE_MAX, "set-property DEST PATH IFACE PROP SIGNATURE ARG...")) return 2;
  auto target = member_target_args(ctx, "PROP");
  if (!target) return 2;
  auto body = body_args(ctx, 4);
  if (!body) return 2;
  if (body->values.size() != 1)
    return ctx.usage("a property has one value, the signature \"" + body->signature + "\" gives " +
                     std::to_string(body->values.size()));
  session s(ctx);
  auto m = message_builder::method_call(target->dest, target->path, properties, member_name::unchecked("Set"))
               .flags(s.call_flags())
               .build_values(kbus::signature::unchecked("ssv"), {value::string(target->iface.str()),
                                                                  value::string(target->member.str()),
                                                                  value::variant(body->values[0])});
  if (!m) return ctx.usage(m.error().what());
  if (!s.connect()) return 1;
  if (!ctx.opt.expect_reply) return s.send(std::move(*m)) ? 0 : 1;
  return s.call(std::move(*m)) ? 0 : 1;
}

}  // namespace kbus::cli
