// What the writers need to know about one interface, decided once: the C++ name of everything
// (naming.hpp), the C++ types (type_mapping.hpp), and what each annotation asks for.
#pragma once

#include "model.hpp"
#include "type_mapping.hpp"

#include <string>
#include <vector>

namespace kbus::codegen {

struct arg_plan {
  const arg_model* model = nullptr;
  std::string name;      // C++
  std::string cpp_type;
  bool by_value = false;  // else passed as const T& to proxies
  std::string param() const { return by_value ? cpp_type + " " + name : "const " + cpp_type + "& " + name; }
};

struct method_plan {
  const method_model* model = nullptr;
  std::string name, async_name;
  std::vector<arg_plan> ins, outs;
  std::string result_struct;  // set when there are several out arguments
  std::string result_type;    // void, the one out type, or the qualified result struct
  std::string wire_type;      // void, the one out type, or std::tuple<...> of the out types
  std::string timeout_ms;     // org.freedesktop.DBus.Method.Timeout, or empty
  bool no_reply = false, deprecated = false, async_reply = false;
  std::vector<annotation> kept;  // for the adaptor's introspection data
};

struct signal_plan {
  const signal_model* model = nullptr;
  std::string name, on_name, async_on_name, emit_name;
  std::vector<arg_plan> args;
  bool deprecated = false;
  std::vector<annotation> kept;
};

struct property_plan {
  const property_model* model = nullptr;
  std::string name, set_name, async_get_name, async_set_name, on_changed_name, changed_name;
  std::string cpp_type;
  bool by_value = false;
  std::string emits;  // yes, invalidates, constant, no (kbus::emits_changed)
  bool deprecated = false;
  std::vector<annotation> kept;
  bool notifies() const { return emits == "yes" || emits == "invalidates"; }
};

struct result_struct_plan {
  std::string name;
  std::vector<arg_plan> members;
};

struct interface_plan {
  const interface_model* model = nullptr;
  std::string types_namespace;  // holds the structs of the interface
  std::string proxy_class, adaptor_class;
  std::vector<method_plan> methods;
  std::vector<signal_plan> signals;
  std::vector<property_plan> properties;
  std::vector<named_struct> structs;
  std::vector<result_struct_plan> results;
  bool deprecated = false;
};

// Throws input_error for an annotation whose value cannot be honoured.
std::vector<interface_plan> plan_document(const document_model& doc);

}  // namespace kbus::codegen
