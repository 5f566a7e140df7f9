// kbus-codegen: typed proxies and adaptors from D-Bus introspection XML (docs/codegen.md).
//
//   kbus-codegen [--proxy] [--adaptor] [--namespace NS] [-o DIR] FILE.xml...
//   kbus-codegen --from-bus [--address ADDR | --system | --user] [--recursive] [...] DEST PATH...
//
// Exit status: 0 done, 1 bad input (the file, the line and why are printed), 2 bad usage.
#include "from_bus.hpp"
#include "interface_plan.hpp"
#include "naming.hpp"
#include "output_files.hpp"
#include "writers.hpp"
#include "xml_reader.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <set>

namespace {

using namespace kbus::codegen;

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  bool proxy = false, adaptor = false;
  std::string cpp_namespace;
  std::string output_dir = ".";
  bool from_bus = false;
  std::string address;
  bool system = false, user = false, recursive = false;
  std::vector<std::string> inputs;
};

void check_namespace(const std::string& ns) {
  if (ns.empty()) return;
  std::size_t start = 0;
  while (true) {
    auto sep = ns.find("::", start);
    std::string part = ns.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
    if (!usable_identifier(part)) throw usage_error("--namespace '" + ns + "': '" + part + "' is not a usable C++ identifier");
    if (sep == std::string::npos) break;
    start = sep + 2;
  }
}

std::string stem_of(const std::string& file) {
  std::filesystem::path p(file);
  return p.extension() == ".xml" ? p.stem().string() : p.filename().string();
}

// The files of one document, named after its stem.
void add_outputs(const document_model& doc, const std::string& stem, const options& o, std::vector<output_file>& out) {
  const auto plans = plan_document(doc);
  output_options oo{o.cpp_namespace};
  const std::filesystem::path dir(o.output_dir);
  const std::string types = stem + "_types.hpp";
  const bool both = !o.proxy && !o.adaptor;
  out.push_back({(dir / types).string(), write_types(doc, plans, oo)});
  if (o.proxy || both) out.push_back({(dir / (stem + "_proxy.hpp")).string(), write_proxy(doc, plans, oo, types)});
  if (o.adaptor || both) out.push_back({(dir / (stem + "_adaptor.hpp")).string(), write_adaptor(doc, plans, oo, types)});
}

int run(const options& o) {
  check_namespace(o.cpp_namespace);
  std::vector<output_file> files;
  std::set<std::string> stems;
  auto claim_stem = [&](const std::string& stem, const std::string& input) {
    if (!stems.insert(stem).second) throw usage_error(input + ": another input also makes " + stem + "_*.hpp");
  };
  if (o.from_bus) {
    if (o.inputs.size() < 2) throw usage_error("--from-bus needs DEST and at least one PATH");
    if (int(!o.address.empty()) + int(o.system) + int(o.user) > 1) throw usage_error("give one of --address, --system, --user");
    bus_source src{o.address, o.system, o.inputs[0], {o.inputs.begin() + 1, o.inputs.end()}, o.recursive};
    for (const auto& doc : read_from_bus(src)) {
      const std::string stem = stem_of(doc.source);
      claim_stem(stem, doc.source);
      add_outputs(doc, stem, o, files);
    }
  } else {
    if (o.inputs.empty()) throw usage_error("no input file");
    if (!o.address.empty() || o.system || o.user || o.recursive)
      throw usage_error("--address, --system, --user and --recursive go with --from-bus");
    for (const auto& in : o.inputs) {
      const std::string stem = stem_of(in);
      claim_stem(stem, in);
      add_outputs(read_file(in), stem, o, files);
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(o.output_dir, ec);
  if (ec) throw std::runtime_error(o.output_dir + ": " + ec.message());
  write_all(files);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("kbus-codegen: typed proxies and adaptors from D-Bus introspection XML", "kbus-codegen");
  options o;
  app.add_flag("--proxy", o.proxy, "write the proxies (with --adaptor: both, the default)");
  app.add_flag("--adaptor", o.adaptor, "write the adaptors");
  app.add_option("--namespace", o.cpp_namespace, "the C++ namespace of the generated code (a::b allowed)");
  app.add_option("-o,--output", o.output_dir, "the folder to write to (made if missing)");
  app.add_flag("--from-bus", o.from_bus, "read the introspection of a running service: DEST PATH...");
  app.add_option("--address", o.address, "the bus address (with --from-bus)");
  app.add_flag("--system", o.system, "the system bus (with --from-bus)");
  app.add_flag("--user", o.user, "the session bus, the default (with --from-bus)");
  app.add_flag("--recursive", o.recursive, "also the child nodes of each PATH (with --from-bus)");
  app.add_option("inputs", o.inputs, "FILE.xml..., or DEST PATH... with --from-bus");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    return run(o);
  } catch (const usage_error& e) {
    std::cerr << "kbus-codegen: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "kbus-codegen: " << e.what() << "\n";
    return 1;
  }
}
