# macOS on x86_64 through zig c++ (zig.cmake): Mach-O executables linked against the libSystem
# stubs that zig ships. Nothing here runs on the build machine.
set(CMAKE_SYSTEM_NAME Darwin)
set(KBUS_ZIG_TARGET x86_64-macos)
include(${CMAKE_CURRENT_LIST_DIR}/zig.cmake)
