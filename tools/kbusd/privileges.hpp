// What kbusd keeps once its device exists: the open /dev/cuse, nothing else of root's.
#pragma once

#include <string>

namespace kbusd_privileges {

// When running as root: switches to `user`'s uid and gid with no supplementary groups and no
// way back (no new privileges). Otherwise nothing. Throws std::runtime_error when it cannot.
void drop_to(const std::string& user);

}  // namespace kbusd_privileges
