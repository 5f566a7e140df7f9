#include "output_files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kbus::codegen {
namespace {

std::string system_reason(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `content` to a new temporary file in the directory of `path`; returns its name.
std::string write_temporary(const output_file& f) {
  std::filesystem::path p(f.path);
  std::string tmpl = (p.parent_path() / ("." + p.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error(system_reason(f.path));
  std::size_t done = 0;
  while (done < f.content.size()) {
    ssize_t n = ::write(fd, f.content.data() + done, f.content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = system_reason(f.path);
      ::close(fd);
      ::unlink(tmpl.c_str());
      throw std::runtime_error(why);
    }
    done += static_cast<std::size_t>(n);
  }
  // mkstemp makes 0600: generated sources are read like any other file.
  ::fchmod(fd, 0644);
  if (::close(fd) != 0) {
    const std::string why = system_reason(f.path);
    ::unlink(tmpl.c_str());
    throw std::runtime_error(why);
  }
  return tmpl;
}

}  // namespace

void write_all(const std::vector<output_file>& files) {
  std::vector<std::string> temporaries;
  try {
    for (const auto& f : files) temporaries.push_back(write_temporary(f));
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (std::rename(temporaries[i].c_str(), files[i].path.c_str()) != 0) throw std::runtime_error(system_reason(files[i].path));
      temporaries[i].clear();
    }
  } catch (...) {
    for (const auto& t : temporaries)
      if (!t.empty()) ::unlink(t.c_str());
    throw;
  }
}

}  // namespace kbus::codegen
