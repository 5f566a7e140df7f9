#include "table.hpp"

#include <algorithm>

namespace kbus::cli {

void table::print(std::ostream& out, bool legend) const {
  std::vector<std::size_t> width(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  if (legend) measure(headers_);
  for (const auto& r : rows_) measure(r);
  auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) text += ' ';
      const std::size_t pad = width[i] - row[i].size();
      if (std::find(right_.begin(), right_.end(), i) != right_.end()) {
        text.append(pad, ' ');
        text += row[i];
      } else {
        text += row[i];
        if (i + 1 < row.size()) text.append(pad, ' ');
      }
    }
    out << text << '\n';
  };
  if (legend) line(headers_);
  for (const auto& r : rows_) line(r);
}

}  // namespace kbus::cli
