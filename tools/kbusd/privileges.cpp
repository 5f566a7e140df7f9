#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kbusd_privileges {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

void drop_to(const std::string& user) {
  if (geteuid() != 0) return;
  errno = 0;
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) throw std::runtime_error("no user '" + user + "' to serve as (--user)");
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  if (setgroups(0, nullptr) != 0) fail("setgroups");
  if (setresgid(gid, gid, gid) != 0) fail("setresgid");
  if (setresuid(uid, uid, uid) != 0) fail("setresuid");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("PR_SET_NO_NEW_PRIVS");
  // Root again must be impossible now.
  if (uid != 0 && setuid(0) == 0) throw std::runtime_error("dropping root failed: setuid(0) still works");
}

}  // namespace kbusd_privileges
