# Cross builds with Zig 0.11's `zig c++` (clang 16, libc++, and the target's libc: macOS's headers
# and libSystem stubs, or musl). Included by the per-target files beside this one, which set
# KBUS_ZIG_TARGET and CMAKE_SYSTEM_NAME. scripts/cross fetches zig and passes:
#   KBUS_ZIG           the zig executable
#   KBUS_ZIG_CACHE     where zig keeps its caches (libc++ for the target is built once, there)
#   KBUS_HOST_INCLUDE  a folder of links to the header-only libraries of the build machine
#                      (boost, nlohmann, CLI): never /usr/include itself, whose glibc headers
#                      would shadow the target's libc.
set(CMAKE_SYSTEM_PROCESSOR x86_64)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KBUS_ZIG KBUS_ZIG_CACHE KBUS_HOST_INCLUDE KBUS_ZIG_TARGET)
foreach(var KBUS_ZIG KBUS_ZIG_CACHE KBUS_HOST_INCLUDE)
  if(NOT ${var})
    message(FATAL_ERROR "${var} is not set (scripts/cross sets it)")
  endif()
endforeach()

# CMake wants one program per tool: small wrappers around zig's subcommands, which also point
# zig at its cache (so every compile and link, try_compile's too, shares it).
get_filename_component(kbus_zig_wrappers "${KBUS_ZIG_CACHE}/wrappers/${KBUS_ZIG_TARGET}" ABSOLUTE)
foreach(tool c++ cc ar ranlib)
  set(subcommand ${tool})
  set(target_flag "-target ${KBUS_ZIG_TARGET}")
  if(tool STREQUAL "ar" OR tool STREQUAL "ranlib")
    set(target_flag "")
  endif()
  file(CONFIGURE OUTPUT "${kbus_zig_wrappers}/${tool}" CONTENT "#!/bin/sh
export ZIG_GLOBAL_CACHE_DIR='${KBUS_ZIG_CACHE}/global' ZIG_LOCAL_CACHE_DIR='${KBUS_ZIG_CACHE}/local'
exec '${KBUS_ZIG}' ${subcommand} ${target_flag} \"$@\"
" @ONLY)
  file(CHMOD "${kbus_zig_wrappers}/${tool}" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CMAKE_C_COMPILER "${kbus_zig_wrappers}/cc")
set(CMAKE_CXX_COMPILER "${kbus_zig_wrappers}/c++")
set(CMAKE_AR "${kbus_zig_wrappers}/ar" CACHE FILEPATH "zig ar")
set(CMAKE_RANLIB "${kbus_zig_wrappers}/ranlib" CACHE FILEPATH "zig ranlib")

# The host's header-only libraries, through the folder of links; /usr/include counts as one of
# the compiler's own folders, so a package config that names it (Boost's, nlohmann_json's,
# CLI11's) adds nothing to the command line.
set(CMAKE_CXX_FLAGS_INIT "-isystem ${KBUS_HOST_INCLUDE}")
# After project(), when CMake has filled in the compiler's own folders (earlier, its detection
# would replace the list).
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/zig_host_headers.cmake)

# Package configs from the host (header-only use), never its libraries.
set(CMAKE_FIND_ROOT_PATH "${KBUS_ZIG_CACHE}/no-libraries")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# No OpenSSL is built for these targets: SHA-1 comes from CommonCrypto (Apple) or Boost.UUID.
set(CMAKE_DISABLE_FIND_PACKAGE_OpenSSL TRUE)
