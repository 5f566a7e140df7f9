# Linux on x86_64 with musl instead of glibc, through zig c++ (zig.cmake). Every executable is
# static (-static), so it runs on any Linux, this build machine included.
set(CMAKE_SYSTEM_NAME Linux)
set(KBUS_ZIG_TARGET x86_64-linux-musl)
include(${CMAKE_CURRENT_LIST_DIR}/zig.cmake)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# A static executable: libkbus is linked in too.
set(BUILD_SHARED_LIBS OFF CACHE BOOL "static libkbus for static executables")
