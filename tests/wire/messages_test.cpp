// The raw messages of testdata/messages: libdbus's valid and invalid messages, python-dbus-next's
// and godbus's vectors, GLib's framing cases, and 433 messages captured live on dbus-daemon.
#include "support/testdata.hpp"
#include "wire/json.hpp"

#include "kbus/message.hpp"
#include "kbus/types.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace {

using kbus::errc;
using kbus::test::bytes_of;
using kbus::test::from_hex;
using kbus::test::read_file;
using kbus::test::to_hex;
using json = nlohmann::json;

json normalized(const nlohmann::ordered_json& j) { return json::parse(j.dump()); }

kbus::parse_options from_file() {
  kbus::parse_options o;
  o.fds_detached = true;  // files carry no descriptors
  return o;
}

TEST(Messages, LibdbusValid) {
  KBUS_REQUIRE_TESTDATA(dir, "messages/dbus-reference/valid");
  auto minimal = kbus::message::parse(bytes_of(read_file(dir / "minimal.message-raw")), {}, from_file());
  ASSERT_TRUE(minimal) << minimal.error().what();
  EXPECT_EQ(minimal->type(), kbus::message_type::method_return);

  // Big-endian, an unknown message type (45), unknown flag bits, and an 'h' whose index no
  // descriptor backs. Stored without descriptors it is well-formed, as libdbus and GLib say.
  const auto raw = bytes_of(read_file(dir / "byteswap-fd-index.message-raw"));
  auto stored = kbus::message::parse(raw, {}, from_file());
  ASSERT_TRUE(stored) << stored.error().what();
  EXPECT_EQ(static_cast<int>(stored->type()), 45);
  EXPECT_EQ(stored->order(), kbus::byte_order::big);
  EXPECT_EQ(stored->signature(), "hv");
  auto values = stored->values();
  ASSERT_TRUE(values) << values.error().what();
  EXPECT_EQ((*values)[0].as_uint(), 0xf8280208u);
  EXPECT_EQ((*values)[1].items()[0].type(), "av");
  // Received from a peer, an fd index beyond UNIX_FDS is an error (kbus checks what libdbus
  // leaves unchecked at demarshal time).
  auto received = kbus::message::parse(raw);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error(), errc::fd_index_out_of_range);
}

TEST(Messages, LibdbusInvalidRefusedWithTheRightReason) {
  KBUS_REQUIRE_TESTDATA(dir, "messages/dbus-reference/invalid");
  const std::map<std::string, errc> expected{
      // Major protocol version 0: the spec's reason (GLib's); libdbus reports the variant
      // signature it reads first.
      {"boolean-has-no-value", errc::invalid_protocol_version},
      {"fixed-array-not-divisible", errc::array_length_mismatch},
      // Within its declared 40 bytes the message has a mis-nested variant signature; the junk
      // after it would also be refused (trailing bytes), but the first reason wins.
      {"issue418", errc::invalid_signature},
      {"mis-nested-sig", errc::invalid_signature},
      {"truncated-variant-sig", errc::truncated},
      {"zero-length-variant-sig", errc::invalid_signature},
  };
  for (const auto& [name, code] : expected) {
    auto m = kbus::message::parse(bytes_of(read_file(dir / (name + ".message-raw"))), {}, from_file());
    ASSERT_FALSE(m) << name;
    EXPECT_EQ(m.error().code, kbus::make_error_code(code)) << name << ": " << m.error().what();
    EXPECT_FALSE(m.error().message.empty()) << name;
  }
}

TEST(Messages, PythonDbusNextVectors) {
  KBUS_REQUIRE_TESTDATA(dir, "messages/python-dbus-next");
  KBUS_REQUIRE_TESTDATA(verdicts_file, "messages/VERDICTS.jsonl");
  // GLib's decoding of each vector, in kbus JSON, is recorded beside the verdicts.
  std::map<std::string, json> glib_body;
  {
    std::ifstream in(verdicts_file);
    std::string line;
    while (std::getline(in, line)) {
      auto v = json::parse(line);
      if (v.contains("glib_decoded_body")) glib_body[v["vector"]] = v["glib_decoded_body"];
    }
  }
  const auto vectors = json::parse(read_file(dir / "messages.json"));
  int n = 0;
  for (const auto& vec : vectors) {
    SCOPED_TRACE("python-dbus-next vector " + std::to_string(n));
    const auto bytes = from_hex(vec["data"]);
    auto m = kbus::message::parse(bytes);
    ASSERT_TRUE(m) << m.error().what();
    const auto& fields = vec["message"];
    EXPECT_EQ(m->path(), fields["path"].get<std::string>());
    EXPECT_EQ(m->interface(), fields["interface"].get<std::string>());
    EXPECT_EQ(m->member(), fields["member"].get<std::string>());
    EXPECT_EQ(m->destination(), fields["destination"].get<std::string>());
    EXPECT_EQ(m->serial(), fields["serial"].get<std::uint32_t>());
    EXPECT_EQ(m->signature(), fields["signature"].get<std::string>());
    const auto key = "python-dbus-next/messages.json#" + std::to_string(n);
    ASSERT_TRUE(glib_body.count(key));
    auto values = m->values();
    ASSERT_TRUE(values);
    EXPECT_EQ(normalized(kbus::detail::body_to_json(m->signature(), *values)), glib_body[key]);

    // Built by kbus with the same fields in the same order, the bytes are identical.
    auto built = kbus::message_builder::method_call(kbus::bus_name(fields["destination"].get<std::string>()),
                                                    kbus::object_path(fields["path"].get<std::string>()),
                                                    kbus::interface_name(fields["interface"].get<std::string>()),
                                                    kbus::member_name(fields["member"].get<std::string>()))
                     .build_values(kbus::signature(fields["signature"].get<std::string>()), *values);
    ASSERT_TRUE(built) << built.error().what();
    built->set_serial(m->serial());
    EXPECT_EQ(to_hex(built->bytes()), vec["data"].get<std::string>());
    ++n;
  }
  EXPECT_EQ(n, 13);

  auto bluez = kbus::message::parse(bytes_of(read_file(dir / "bluez-rssi-propertieschanged.bin")));
  ASSERT_TRUE(bluez) << bluez.error().what();
  auto [iface, changed, invalidated] =
      bluez->read<std::string, std::map<std::string, kbus::variant>, std::vector<std::string>>().value();
  EXPECT_EQ(iface, "org.bluez.Device1");
  ASSERT_TRUE(changed.count("RSSI"));
  EXPECT_EQ(changed["RSSI"].type(), "n");
}

TEST(Messages, GodbusBodyVectors) {
  KBUS_REQUIRE_TESTDATA(file, "messages/godbus/proto-body-vectors.json");
  const auto data = json::parse(read_file(file));
  int n = 0;
  for (const auto& vec : data["vectors"]) {
    const std::string sig = vec["signature"];
    SCOPED_TRACE("godbus vector " + std::to_string(n) + " '" + sig + "'");
    for (const char* order : {"le", "be"}) {
      const bool big = order[0] == 'b';
      // Bodies start at offset 0, the alignment base, as in a message.
      const auto body = from_hex(vec[order]);
      kbus::detail::reader r(body, 0, body.size(), big, 0);
      std::vector<kbus::value> values;
      ASSERT_TRUE(kbus::detail::decode_values(r, sig, values)) << r.get_error().what();
      EXPECT_TRUE(r.at_end());
      EXPECT_EQ(normalized(kbus::detail::body_to_json(sig, values))["data"], vec["values"]);

      std::vector<std::byte> encoded;
      kbus::detail::writer w(encoded, big);
      kbus::error err;
      ASSERT_TRUE(kbus::detail::encode_values(w, sig, values, err)) << err.what();
      EXPECT_EQ(to_hex(encoded), vec[order].get<std::string>());
    }
    ++n;
  }
  EXPECT_EQ(n, 14);
}

TEST(Messages, GodbusFuzzCorpusEntryIsAnInvalidSignature) {
  KBUS_REQUIRE_TESTDATA(file, "messages/godbus/fuzz-FuzzProto-55fb6653.txt");
  // The entry pairs data "0" with signature "a{}": a dict entry with no types.
  ASSERT_NE(read_file(file).find("string(\"a{}\")"), std::string::npos);
  auto s = kbus::signature::make("a{}");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::invalid_signature);
}

TEST(Messages, GlibFramingVectors) {
  KBUS_REQUIRE_TESTDATA(file, "messages/glib-gdbus-message/bytes-needed.json");
  const auto data = json::parse(read_file(file));
  int n = 0;
  for (const auto& vec : data["vectors"]) {
    SCOPED_TRACE(vec["description"].get<std::string>());
    auto size = kbus::message_size(from_hex(vec["first16_hex"]));
    if (vec["expected"] == "ok") {
      ASSERT_TRUE(size) << size.error().what();
      EXPECT_EQ(*size, vec["expected_total_message_bytes"].get<std::size_t>());
    } else {
      EXPECT_FALSE(size);
    }
    ++n;
  }
  EXPECT_EQ(n, 10);
}

TEST(Messages, LiveCapturesDecodeToTheirRecordedJson) {
  KBUS_REQUIRE_TESTDATA(file, "messages/captured/dbus-daemon/messages.jsonl");
  std::ifstream in(file);
  std::string line;
  int n = 0, big_endian = 0, with_fds = 0;
  while (std::getline(in, line)) {
    const auto cap = json::parse(line);
    SCOPED_TRACE("capture " + std::to_string(cap["index"].get<int>()) + " (" + cap["step"].get<std::string>() + ")");
    auto m = kbus::message::parse(from_hex(cap["hex"]), {}, from_file());
    ASSERT_TRUE(m) << m.error().what();
    const json expected{{"header", cap["header"]}, {"body", cap["body"]}};
    EXPECT_EQ(normalized(kbus::detail::message_to_json(*m)), expected);
    big_endian += m->order() == kbus::byte_order::big;
    with_fds += m->unix_fd_count() > 0;
    // Re-encoded in the captured byte order, it decodes to the same again.
    auto again = kbus::detail::message_from_json(nlohmann::ordered_json::parse(expected.dump()), m->order());
    ASSERT_TRUE(again) << again.error().what();
    auto reparsed = kbus::message::parse({again->bytes().begin(), again->bytes().end()}, {}, from_file());
    ASSERT_TRUE(reparsed) << reparsed.error().what();
    EXPECT_EQ(normalized(kbus::detail::message_to_json(*reparsed)), expected);
    ++n;
  }
  EXPECT_EQ(n, 433);
  EXPECT_GT(big_endian, 0);
  EXPECT_GT(with_fds, 0);
}

}  // namespace
