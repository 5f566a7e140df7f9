// Messages as `kbus monitor` prints them: one line of header fields (the default), or with
// --verbose every header field and the body as a typed tree, in the manner of busctl monitor.
#pragma once

#include "kbus/message.hpp"

#include <ostream>

namespace kbus::cli {

void print_message_line(std::ostream& out, const message& m);
void print_message_verbose(std::ostream& out, const message& m);

}  // namespace kbus::cli
