// D-Bus addresses: every row of testdata/addresses (each source's expectation, with the cases
// where sources disagree settled by the spec, else by libdbus/dbus-daemon), escaping vectors,
// per-transport checks and the default bus addresses.
#include "support/testdata.hpp"

#include "kbus/address.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;

// What kbus makes of an address: a syntax error, parsed but not usable (an unknown transport
// or a transport's rule broken), or usable.
std::string verdict(const std::string& address) {
  auto entries = kbus::parse_address_list(address);
  if (!entries) return "parse_error";
  for (const auto& e : *entries)
    if (!e.check()) return "unsupported";
  return "ok";
}

// Each source's expectation in kbus's three verdicts.
std::vector<std::string> acceptable(const std::string& source, const std::string& expected) {
  if (expected == "parse_error") return {"parse_error"};
  if (expected == "parse_ok") return {"ok", "unsupported"};
  if (expected == "supported") return {"ok"};
  if (expected == "syntax_ok_unsupported") return {"unsupported"};
  if (expected == "semantic_error") return {"unsupported"};
  if (expected == "ok") return source.rfind("zbus", 0) == 0 || source.rfind("D-Bus Spec", 0) == 0
                                   ? std::vector<std::string>{"ok"}
                                   : std::vector<std::string>{"ok", "unsupported"};
  if (expected == "error") return {"parse_error", "unsupported"};
  return {};
}

TEST(Address, SharedVectors) {
  KBUS_REQUIRE_TESTDATA(file, "addresses/addresses.json");
  const auto data = json::parse(kbus::test::read_file(file));
  // Where the sources disagree, kbus follows the spec, and where it is silent, libdbus.
  const std::map<std::string, std::string> settled{
      // An empty transport name: libdbus parses it (GIO does not); the spec is silent. It
      // parses, and no transport of that name exists.
      {":", "unsupported"},
      {"=:;", "unsupported"},
      // %00 unescapes to a NUL byte in libdbus; GIO refuses. Parsed, unknown transport.
      {"transport-name:foo=%00", "unsupported"},
      {"transport-name:%00=bar", "unsupported"},
      // The spec's guid is the server's 16-byte UUID in hex; GIO does not check it, kbus does.
      {"unix:path=/tmp/dbus-test,guid=0", "unsupported"},
      {"unix:abstract=/tmp/dbus-another-test,guid=1000", "unsupported"},
      {"nonce-tcp:host=localhost,port=42,noncefile=/foo/bar,guid=0", "unsupported"},
      {"nonce-tcp:host=localhost,guid=1000", "unsupported"},
      {"tcp:host=localhost,guid=1000", "unsupported"},
      {"tcp:host=localhost,port=42,guid=1000", "unsupported"},
      // No port is fine: a listener picks one (spec, GIO); zbus requires it.
      {"tcp:host=localhost", "ok"},
      // An empty value is a syntax error for libdbus; GIO's syntax check lets it through.
      {"nonce-tcp:host=,port=x42,noncefile=/foo/bar,family=ipv4", "parse_error"},
      {"nonce-tcp:host=,port=42x,noncefile=/foo/bar,family=ipv4", "parse_error"},
      {"nonce-tcp:host=,port=420000,noncefile=/foo/bar,family=ipv4", "parse_error"},
      {"nonce-tcp:host=localhost,port=", "parse_error"},
      {"nonce-tcp:host=localhost,port=42,noncefile=", "parse_error"},
      {"tcp:host=localhost,port=", "parse_error"},
  };
  int checked = 0;
  for (const auto& row : data["addresses"]) {
    const std::string address = row["address"];
    const std::string got = verdict(address);
    if (auto it = settled.find(address); it != settled.end()) {
      EXPECT_EQ(got, it->second) << "address \"" << address << "\"";
      ++checked;
      continue;
    }
    for (const auto& e : row["expectations"]) {
      if (e["expected"].is_null()) continue;
      const auto ok = acceptable(e["source"], e["expected"]);
      EXPECT_NE(std::find(ok.begin(), ok.end(), got), ok.end())
          << "address \"" << address << "\": kbus says " << got << ", " << e["source"].get<std::string>() << " expects "
          << e["expected"].get<std::string>() << " (" << e.value("note", "") << ")";
      if (e.contains("expected_parsed") && got != "parse_error") {
        auto entries = kbus::parse_address_list(address).value();
        ASSERT_EQ(entries.size(), e["expected_parsed"].size()) << address;
        for (std::size_t i = 0; i < entries.size(); ++i) {
          EXPECT_EQ(entries[i].transport, e["expected_parsed"][i][0].get<std::string>());
          for (const auto& [k, v] : e["expected_parsed"][i][1].items()) EXPECT_EQ(entries[i].get(k), v.get<std::string>()) << address;
        }
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 80);
}

TEST(Address, EscapingVectors) {
  KBUS_REQUIRE_TESTDATA(file, "addresses/addresses.json");
  const auto data = json::parse(kbus::test::read_file(file));
  int checked = 0;
  for (const auto& row : data["escaping"]) {
    const std::string expected = row["expected"];
    std::string unescaped;
    if (row.contains("unescaped") && row["unescaped"].is_string()) {
      unescaped = row["unescaped"];
    } else if (row.contains("unescaped_hex")) {
      for (auto b : kbus::test::from_hex(row["unescaped_hex"])) unescaped += static_cast<char>(b);
    }
    if (expected.find("==") != std::string::npos) {
      // kbus writes lowercase hex as libdbus does; GLib's rows have uppercase, and both forms
      // must unescape alike.
      std::string want = row["escaped"];
      if (expected.find("g_dbus_address_escape_value") != std::string::npos)
        for (auto& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(kbus::escape_address_value(unescaped), want);
      auto back = kbus::unescape_address_value(row["escaped"].get<std::string>());
      ASSERT_TRUE(back) << row["escaped"];
      EXPECT_EQ(*back, unescaped);
    } else if (row.contains("escaped") && expected.find("fail") != std::string::npos) {
      EXPECT_FALSE(kbus::unescape_address_value(row["escaped"].get<std::string>())) << row["escaped"];
    } else {
      ADD_FAILURE() << "unhandled escaping row " << row.dump();
    }
    ++checked;
  }
  EXPECT_EQ(checked, 33);
}

TEST(Address, ChecksAndErrors) {
  auto list = kbus::parse_address_list("unix:path=/run/a%20b,guid=0123456789abcdef0123456789ABCDEF;tcp:host=::1,port=8080");
  EXPECT_FALSE(list) << "':' must be escaped in a value";
  list = kbus::parse_address_list("unix:path=/run/a%20b,guid=0123456789abcdef0123456789ABCDEF;tcp:host=%3a%3a1,port=8080;");
  ASSERT_TRUE(list) << list.error().what();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].get("path"), "/run/a b");
  EXPECT_EQ((*list)[0].to_string(), "unix:path=/run/a%20b,guid=0123456789abcdef0123456789ABCDEF");
  EXPECT_EQ((*list)[1].get("host"), "::1");
  EXPECT_TRUE((*list)[0].check());
  EXPECT_TRUE((*list)[1].check());

  auto both = kbus::parse_address_list("unix:path=/a,abstract=b").value();
  EXPECT_EQ(both[0].check().error().message, "unix: needs exactly one of path, abstract, dir, tmpdir and runtime");
  auto port = kbus::parse_address_list("tcp:host=h,port=70000").value();
  EXPECT_NE(port[0].check().error().message.find("0..65535"), std::string::npos);
  auto unknown = kbus::parse_address_list("frobnicate:x=1").value();
  EXPECT_EQ(unknown[0].check().error(), kbus::errc::unsupported_address);
  EXPECT_TRUE(kbus::parse_address_list("unixexec:path=/usr/bin/ssh,argv0=ssh,argv1=-xT").value()[0].check());
  EXPECT_TRUE(kbus::parse_address_list("kernel:path=/sys/fs/kdbus/0-system/bus").value()[0].check());
  EXPECT_TRUE(kbus::parse_address_list("cuse:path=/dev/kbus/0-system").value()[0].check());

  auto err = kbus::parse_address_list("unix:path=/a;;tcp:host=h");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message, "entry 1: empty entry");
}

TEST(Address, CheckAddressListNamesTheEntryAndTheKey) {
  auto list = kbus::parse_address_list("unix:path=/a;frobnicate:x=1;tcp:host=h,port=99999").value();
  auto r = kbus::check_address_list(list);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), kbus::errc::invalid_address);
  EXPECT_EQ(r.error().message, "entry 2: tcp: key \"port\": \"99999\" is not a number in 0..65535");
  // An unknown transport is not an error of the list: a connection skips it.
  EXPECT_TRUE(kbus::check_address_list(kbus::parse_address_list("frobnicate:x=1;unix:path=/a").value()));
  auto guid = kbus::check_address_list(kbus::parse_address_list("unix:path=/a,guid=abc").value());
  ASSERT_FALSE(guid);
  EXPECT_EQ(guid.error().message, "entry 0: unix: key \"guid\": \"abc\" is not 32 hex digits");
}

// Each transport's keys (the spec's "Transports"): what must be accepted and what refused,
// with the key the message must name.
TEST(Address, PerTransportRules) {
  struct row {
    const char* address;
    const char* error;  // nullptr: valid; else a part of the message
  };
  const row rows[] = {
      {"unix:path=/run/bus", nullptr},
      {"unix:abstract=/tmp/dbus-x", nullptr},
      {"unix:dir=/tmp", nullptr},
      {"unix:tmpdir=/tmp", nullptr},
      {"unix:runtime=yes", nullptr},
      {"unix:runtime=no", "key \"runtime\": must be \"yes\""},
      {"unix:guid=0123456789abcdef0123456789abcdef", "needs exactly one of"},
      {"unix:dir=/tmp,tmpdir=/tmp", "needs exactly one of"},
      {"unix:path=/a,path=/b", "key \"path\": given more than once"},
      {"unix:path=/a,port=1", "key \"port\": unknown"},
      {"tcp:host=localhost,port=0", nullptr},
      {"tcp:host=localhost,port=65535,family=ipv6,bind=*", nullptr},
      {"tcp:host=localhost,port=65536", "key \"port\""},
      {"tcp:host=localhost,port=-1", "key \"port\""},
      {"tcp:host=localhost,port=%2b1", "key \"port\""},
      {"tcp:host=localhost,family=ipv5", "key \"family\""},
      {"tcp:host=localhost,noncefile=/x", "key \"noncefile\": unknown"},
      {"nonce-tcp:host=localhost,port=1,noncefile=/x", nullptr},
      {"nonce-tcp:host=localhost,port=1", nullptr},
      {"nonce-tcp:host=localhost,port=x", "key \"port\""},
      {"unixexec:path=/usr/bin/ssh,argv0=ssh,argv1=-xT,argv12=x", nullptr},
      {"unixexec:argv0=ssh", "key \"path\": missing"},
      {"unixexec:path=/bin/sh,argvx=1", "key \"argvx\""},
      {"unixexec:path=/bin/sh,argv=1", "key \"argv\""},
      {"launchd:env=DBUS_LAUNCHD_SESSION_BUS_SOCKET", nullptr},
      {"launchd:guid=0123456789abcdef0123456789abcdef", "key \"env\": missing"},
      {"kernel:path=/sys/fs/kdbus/0-system/bus", nullptr},
      {"kernel:name=x", "key \"name\""},
      {"cuse:path=/dev/kbus/0-system,guid=0123456789ABCDEF0123456789abcdef", nullptr},
      {"cuse:path=/dev/kbus/0-system,guid=0123456789abcdef0123456789abcdeg", "key \"guid\""},
      {"autolaunch:", nullptr},
      {"autolaunch:scope=*user", nullptr},
      {"autolaunch:path=/x", "key \"path\""},
      {"systemd:", nullptr},
  };
  for (const auto& r : rows) {
    auto list = kbus::parse_address_list(r.address);
    ASSERT_TRUE(list) << r.address << ": " << list.error().what();
    ASSERT_EQ(list->size(), 1u);
    auto ok = (*list)[0].check();
    if (!r.error) {
      EXPECT_TRUE(ok) << r.address << ": " << ok.error().what();
    } else {
      ASSERT_FALSE(ok) << r.address;
      EXPECT_EQ(ok.error(), kbus::errc::invalid_address) << r.address;
      EXPECT_NE(ok.error().message.find(r.error), std::string::npos) << r.address << ": " << ok.error().message;
    }
  }
}

// Empty entries as libdbus's dbus_parse_address treats them (the spec is silent).
TEST(Address, EmptyEntriesAsLibdbus) {
  EXPECT_EQ(kbus::parse_address_list("").error().message, "empty address");
  EXPECT_EQ(kbus::parse_address_list(";").error().message, "entry 0: empty entry");
  EXPECT_EQ(kbus::parse_address_list(";unix:path=/a").error().message, "entry 0: empty entry");
  EXPECT_EQ(kbus::parse_address_list("unix:path=/a;;").error().message, "entry 1: empty entry");
  EXPECT_EQ(kbus::parse_address_list("unix:path=/a;").value().size(), 1u);
  EXPECT_EQ(kbus::parse_address_list("unix:path=/a;tcp:host=h").value().size(), 2u);
  // Keys and values may not be empty, a key needs '=', and ',' may not end the entry.
  EXPECT_NE(kbus::parse_address_list("unix:=a").error().message.find("key is empty"), std::string::npos);
  EXPECT_NE(kbus::parse_address_list("unix:path=").error().message.find("\"path\" has an empty value"),
            std::string::npos);
  EXPECT_NE(kbus::parse_address_list("unix:path").error().message.find("not key=value"), std::string::npos);
  EXPECT_NE(kbus::parse_address_list("unix:path=/a,").error().message.find("ends with ','"), std::string::npos);
  EXPECT_NE(kbus::parse_address_list("unix").error().message.find("no ':'"), std::string::npos);
  // Bad escapes name the key.
  auto bad = kbus::parse_address_list("unix:path=/a%4");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), kbus::errc::invalid_address);
  EXPECT_NE(bad.error().message.find("key \"path\""), std::string::npos) << bad.error().message;
}

// Every byte survives escaping; the optionally-escaped set stays as it is; entries round-trip.
TEST(Address, EscapingRoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string escaped = kbus::escape_address_value(all);
  EXPECT_EQ(kbus::unescape_address_value(escaped).value(), all);
  const std::string plain = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz/.\\*";
  EXPECT_EQ(kbus::escape_address_value(plain), plain);
  EXPECT_EQ(kbus::escape_address_value("a b;c,d=e:f%"), "a%20b%3bc%2cd%3de%3af%25");
  EXPECT_EQ(kbus::unescape_address_value("%3A%3a").value(), "::");

  kbus::address_entry e;
  e.transport = "unixexec";
  e.options = {{"path", "/usr/bin/my tool"}, {"argv0", "my tool"}, {"argv1", "--x=1,2;3"}, {"argv2", all}};
  auto back = kbus::parse_address_list(e.to_string());
  ASSERT_TRUE(back) << back.error().what();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], e);
  EXPECT_EQ((*back)[0].get("argv1"), "--x=1,2;3");
  EXPECT_EQ((*back)[0].get("nope"), std::nullopt);
  EXPECT_TRUE((*back)[0].check());
}

TEST(Address, Defaults) {
  EXPECT_EQ(kbus::default_system_bus_address(std::nullopt),
            "kernel:path=/sys/fs/kdbus/0-system/bus;cuse:path=/dev/kbus/0-system;unix:path=/run/dbus/system_bus_socket");
  EXPECT_EQ(kbus::default_system_bus_address("unix:path=/x"), "unix:path=/x");
  EXPECT_EQ(kbus::default_session_bus_address(std::nullopt, 1000, "/run/user/1000"),
            "kernel:path=/sys/fs/kdbus/1000-user/bus;cuse:path=/dev/kbus/1000-user;unix:path=/run/user/1000/bus");
  EXPECT_EQ(kbus::default_session_bus_address(std::nullopt, 1000, std::nullopt),
            "kernel:path=/sys/fs/kdbus/1000-user/bus;cuse:path=/dev/kbus/1000-user");
  // An empty variable counts as unset (libdbus and sd-bus would fail on it).
  EXPECT_EQ(kbus::default_system_bus_address(""), kbus::default_system_bus_address(std::nullopt));
  EXPECT_EQ(kbus::default_session_bus_address("", 5, std::nullopt), kbus::default_session_bus_address(std::nullopt, 5, std::nullopt));
  EXPECT_EQ(kbus::default_session_bus_address("tcp:host=h,port=1", 5, "/run/user/5"), "tcp:host=h,port=1");
  // $XDG_RUNTIME_DIR goes in escaped, and comes back out as it was.
  const auto odd = kbus::default_session_bus_address(std::nullopt, 5, "/run/my user;5");
  EXPECT_EQ(odd, "kernel:path=/sys/fs/kdbus/5-user/bus;cuse:path=/dev/kbus/5-user;unix:path=/run/my%20user%3b5/bus");
  EXPECT_EQ(kbus::parse_address_list(odd).value()[2].get("path"), "/run/my user;5/bus");
  for (const auto& a : {kbus::default_system_bus_address(std::nullopt),
                        kbus::default_session_bus_address(std::nullopt, 7, "/run/user/7")}) {
    auto list = kbus::parse_address_list(a);
    ASSERT_TRUE(list) << a;
    for (const auto& e : *list) EXPECT_TRUE(e.check()) << e.to_string();
  }
}

}  // namespace
