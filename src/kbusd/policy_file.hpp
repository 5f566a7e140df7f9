// kbusd's policy file (JSON): who may own, talk to and see which names, by uid, gid or anyone,
// with kdbus's semantics (kdbus ABI notes §2.12: OWN implies TALK implies SEE; the bus's owner
// and privileged callers bypass it; a caller may always talk to its own uid).
//
//   {
//     "names": {
//       "org.example.Service": {
//         "own":  [{"user": 1000}],
//         "talk": [{"group": 100}, "world"],
//         "see":  ["world"]
//       },
//       "org.example.Plugins.*": {"own": [{"user": "alice"}]}
//     }
//   }
//
// A user or group is a number or a name of this system. "Name.*" covers the names one level
// below Name. Anything else in the file is an error, reported with its line.
#pragma once

#include "broker/policy.hpp"
#include "kbus/error.hpp"

#include <string>
#include <string_view>

namespace kbus::kbusd {

// The policy in `text` (from the file `origin`, for messages): the entries, or an error whose
// message names the line and the reason.
result<broker::policy_list> parse_policy(std::string_view text, std::string_view origin);
result<broker::policy_list> load_policy_file(const std::string& path);

}  // namespace kbus::kbusd
