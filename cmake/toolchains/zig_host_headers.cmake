# Included after project() in a zig cross build (zig.cmake): the host's /usr/include, which
# Boost's, nlohmann_json's and CLI11's package configs name, is treated as one of the compiler's
# own folders and so never passed with -isystem (its glibc headers would shadow the target's
# libc); those libraries come through KBUS_HOST_INCLUDE instead.
list(APPEND CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES /usr/include /usr/local/include)
list(APPEND CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES /usr/include /usr/local/include)
