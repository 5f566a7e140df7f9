# Shared by the scripts: the Debian packages kbus needs, and how to get them.
# shellcheck shell=bash

kbus_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Build, test and peer packages (Debian 12 names).
kbus_packages=(
  build-essential cmake ninja-build pkg-config git ccache
  clang libclang-rt-14-dev
  libboost1.81-dev nlohmann-json3-dev libabsl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libfuse3-dev
  dbus-daemon dbus-broker dbus-bin libglib2.0-bin systemd util-linux
  python3 python3-dbus python3-gi
  libsystemd-dev libsdbus-c++-dev libdbus-1-dev libglib2.0-dev
  libcli11-dev libexpat1-dev tshark
  qemu-system-x86 busybox-static cpio xz-utils
  file googletest
  doxygen groff-base libc++-dev libc++abi-dev
)

# What ./scripts/cross needs: zig comes from npm (the machine's own npm, else Debian's), the
# header-only libraries from Debian, and GoogleTest's sources (googletest) are built for musl
# with zig.
kbus_cross_packages=(
  cmake ninja-build file libboost1.81-dev nlohmann-json3-dev libcli11-dev googletest
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs whatever of the given packages is missing (apt-get update first, once).
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "kbus: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  # tshark asks whether non-root users may capture; answer no, without a prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | as_root debconf-set-selections
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

jobs() { nproc 2>/dev/null || echo 2; }

# What ./scripts/bench needs beyond the build: Google Benchmark, the peer libraries, both buses,
# and gnuplot for the charts.
kbus_bench_packages=(
  build-essential cmake ninja-build pkg-config python3 gnuplot-nox
  libboost1.81-dev nlohmann-json3-dev libabsl-dev libssl-dev libbenchmark-dev
  dbus-daemon dbus-broker libsystemd-dev libsdbus-c++-dev libdbus-1-dev libglib2.0-dev
)
