// kbus: a D-Bus command-line client in the manner of busctl.
#include "cli.hpp"

#include <iostream>

int main(int argc, char** argv) {
  return kbus::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
