// Tables as busctl prints them: a header line (the legend), columns padded to their widest cell
// and separated by one space, the last column not padded.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace kbus::cli {

class table {
 public:
  explicit table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Numbers are aligned to the right (busctl's PID column).
  void align_right(std::size_t column) { right_.push_back(column); }
  std::size_t size() const noexcept { return rows_.size(); }
  void print(std::ostream& out, bool legend) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> right_;
};

}  // namespace kbus::cli
