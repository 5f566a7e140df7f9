#!/usr/bin/env bash
# The consumer step of ./scripts/test: four projects outside the kbus tree, each getting kbus in
# another way, call kbus-demo-service's Add on a private dbus-daemon and must get 42:
#   find_package   an installed kbus (PREFIX), CMake package;
#   pkg-config     the same installed kbus, kbus.pc, no CMake;
#   add_subdirectory  the checkout, built inside the project as a static library;
#   FetchContent   an archive of the checkout (its tracked and unignored files, as they are now).
# Usage: scripts/lib/consumers.sh BUILD_DIR PREFIX   (BUILD_DIR/main was installed into PREFIX)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$kbus_root"
build=$1
prefix=$2
out=$build/consumer
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
bus_pid= demo_PID=
cleanup() {
  [ -z "$demo_PID" ] || kill "$demo_PID" 2>/dev/null || true
  [ -z "$bus_pid" ] || kill "$bus_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The projects that build kbus itself prove that it builds and links inside another project; the
# Release build proves -O3. So they build at -O1, which compiles in about 60 % of -O3's time (CI
# builds them cold every time), through the compiler cache when there is one.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$kbus_root}
sub_build=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG"
  -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG" -DKBUS_WERROR=ON
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

# A private bus (dbus-daemon answers once it listens), and the installed kbus-demo-service on it
# (it says READY once it owns org.kbus.Demo).
bus_out=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 --address="unix:path=$work/bus")
address=$(grep '^unix:' <<<"$bus_out")
bus_pid=$(grep -E '^[0-9]+$' <<<"$bus_out")
coproc demo { exec "$prefix/bin/kbus-demo-service" --address "$address"; }
read -r ready <&"${demo[0]}" || true
[ "$ready" = READY ] || { echo "the installed kbus-demo-service did not start" >&2; exit 1; }

check() {  # check NAME PROGRAM: the program gets 42 from the demo service
  local result
  result=$(DBUS_SESSION_BUS_ADDRESS=$address "$2") || { echo "consumer $1 failed: $result" >&2; exit 1; }
  [ "$result" = "org.kbus.Demo1.Add(2, 40) = 42" ] || { echo "consumer $1 printed: $result" >&2; exit 1; }
  echo "consumer $1: $result"
}

# find_package(kbus CONFIG) from the installed prefix, with the kbus_generate() it brings.
cmake -S examples/consumer/find_package -B "$out/find_package" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$out/find_package" >/dev/null
check find_package "$out/find_package/kbus_consumer"

# pkg-config, from the installed prefix.
pc_path="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -dumpmachine)/pkgconfig"
libdir=$(PKG_CONFIG_PATH=$pc_path pkg-config --variable=libdir kbus)
# shellcheck disable=SC2046 # pkg-config's flags are words
c++ examples/consumer/main.cpp -o "$out/pkg_config" -Wl,-rpath,"$libdir" \
  $(PKG_CONFIG_PATH=$pc_path pkg-config --cflags --libs kbus)
check pkg-config "$out/pkg_config"

# add_subdirectory of the checkout, libkbus static (KBUS_SHARED=OFF): only what the program needs.
cmake -S examples/consumer/add_subdirectory -B "$out/add_subdirectory" "${sub_build[@]}" \
  -DKBUS_SOURCE_DIR="$kbus_root" >/dev/null
cmake --build "$out/add_subdirectory" -j "$(jobs)" --target kbus_consumer >/dev/null
if ldd "$out/add_subdirectory/kbus_consumer" | grep -q libkbus; then
  echo "consumer add_subdirectory links a shared libkbus although KBUS_SHARED=OFF" >&2
  exit 1
fi
check add_subdirectory "$out/add_subdirectory/kbus_consumer"

# FetchContent from an archive of the checkout.
# The archive is the same bytes while the files are (gzip -n), so a second run extracts and
# rebuilds only what changed (files keep their times).
archive=$out/kbus-src.tar.gz
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | gzip -n >"$archive"
cmake -S examples/consumer/fetchcontent -B "$out/fetchcontent" "${sub_build[@]}" -DKBUS_URL="$archive" \
  -DKBUS_URL_HASH="SHA256=$(sha256sum "$archive" | cut -d' ' -f1)" >/dev/null
cmake --build "$out/fetchcontent" -j "$(jobs)" --target kbus_consumer >/dev/null
check FetchContent "$out/fetchcontent/kbus_consumer"
