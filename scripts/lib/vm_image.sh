# scripts/vm's initramfs: busybox, the built programs at their own paths (the tests find their
# neighbours through the build folder's path) and on PATH, their shared libraries, the buses
# that serve as fallback and as yardstick, users, and the init (scripts/lib/vm_init.sh).
# shellcheck shell=bash

# What the VM runs, as TARGET:PROGRAM: each program the build defines is built, put in the VM
# at its own path and on PATH there (a program whose target is gone is left out, even if an old
# build of it lies in the build folder).
vm_programs=(kbus_cli:kbus kbus_demo_service:kbus-demo-service kbusd:kbusd
  kbus_core_tests:kbus_core_tests kbus_cuse_tests:kbus_cuse_tests kbus_cuse_bench:kbus_cuse_bench
  example_readme_service:readme_service example_readme_client:readme_client)
# From this machine: the buses, and the tools the tests run beside them.
vm_host_programs=(/usr/bin/dbus-daemon /usr/bin/dbus-broker /usr/bin/dbus-broker-launch
  /usr/bin/dbus-monitor /usr/bin/dbus-send /usr/bin/dbus-uuidgen)
# Two users besides root, for the policy and quota tests.
vm_users=("alice:1000" "bob:1001")

vm_has_target() {  # vm_has_target BUILD TARGET
  if [ -f "$1/build.ninja" ]; then
    ninja -C "$1" -t query "$2" >/dev/null 2>&1
  else
    cmake --build "$1" --target help 2>/dev/null | grep -q "[ .]$2\$"
  fi
}

# Copies a file of this machine (resolving symlinks) to the same path under ROOT.
vm_copy_file() {  # vm_copy_file ROOT FILE
  local dest=$1$2
  mkdir -p "$(dirname "$dest")"
  rm -f "$dest"
  cp -L "$2" "$dest"
}

# The shared libraries FILE loads, the loader among them, as absolute paths.
vm_libraries() {  # vm_libraries FILE
  local out
  out=$(ldd "$1" 2>/dev/null) || return 0  # static, or no ELF at all
  if grep -q 'not found' <<<"$out"; then
    echo "scripts/vm: $1 lacks a library:" >&2
    grep 'not found' <<<"$out" >&2
    return 1
  fi
  awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' <<<"$out"
}

# Copies the ELF FILEs to the same paths under ROOT, with their libraries. Files of the build
# lose their debug information on the way (the image is unpacked by an emulated CPU).
vm_copy_elves() {  # vm_copy_elves ROOT BUILD FILE...
  local root=$1 build=$2 file lib found
  shift 2
  local -A libs=()
  for file in "$@"; do
    vm_copy_file "$root" "$file"
    case "$file" in "$build"/*) strip --strip-debug "$root$file" ;; esac
    found=$(vm_libraries "$file") || return 1
    for lib in $found; do libs[$lib]=1; done
  done
  for lib in "${!libs[@]}"; do
    vm_copy_file "$root" "$lib"
    case "$lib" in "$build"/*) strip --strip-debug "$root$lib" ;; esac
  done
}

vm_find_program() {  # vm_find_program BUILD NAME: the built executable of that name
  find "$1" -name CMakeFiles -prune -o -type f -name "$2" -perm -u+x -print | head -n 1
}

# ROOT/etc: users, name service, the session bus's configuration.
vm_write_etc() {  # vm_write_etc ROOT
  local root=$1 user name uid
  mkdir -p "$root/etc/kbus-vm" "$root/root"
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
  echo "root:x:0:" >"$root/etc/group"
  for user in "${vm_users[@]}"; do
    name=${user%%:*} uid=${user#*:}
    echo "$name:x:$uid:$uid::/home/$name:/bin/sh" >>"$root/etc/passwd"
    echo "$name:x:$uid:" >>"$root/etc/group"
    mkdir -p "$root/home/$name"
  done
  # The user kbusd serves as once its device exists (its --user).
  echo "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin" >>"$root/etc/passwd"
  echo "nogroup:x:65534:" >>"$root/etc/group"
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
  printf '127.0.0.1 localhost kbus-vm\n' >"$root/etc/hosts"
  cat >"$root/etc/kbus-vm/session.conf" <<'CONF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=/run/user/0/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/>
  </policy>
</busconfig>
CONF
  local d
  for d in /usr/share/dbus-1 /etc/dbus-1; do
    [ -d "$d" ] && mkdir -p "$root$d" && cp -a "$d/." "$root$d/"
  done
  return 0
}

# What init runs: "set -- ARG..." in sh quoting, or nothing (then init runs the suite).
vm_write_command() {  # vm_write_command FILE ARG...
  local file=$1 arg
  shift
  : >"$file"
  [ $# -gt 0 ] || return 0
  printf 'set --' >"$file"
  for arg in "$@"; do
    printf " '%s'" "${arg//\'/\'\\\'\'}" >>"$file"
  done
  echo >>"$file"
}

# vm_make_image BUILD KERNEL_DIR OUT [PROGRAM...] -- [WITH_DIR...] -- [COMMAND...]
vm_make_image() {
  local build=$1 kernel=$2 out=$3 d name path applet
  shift 3
  local programs=() withs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do programs+=("$1"); shift; done
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do withs+=("$1"); shift; done
  shift
  local root
  root=$(mktemp -d)
  # This machine's layout (merged /usr: /lib is usr/lib), so that ldd's paths hold in the VM.
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root/usr/local/bin"
  for d in bin sbin lib lib64; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"; else mkdir -p "$root/$d"; fi
  done
  mkdir -p "$root"/{dev,proc,sys,tmp,run} "$root/lib/modules/kbus-vm" "$root/usr/local/libexec/kbus-vm"

  cp "$(command -v busybox)" "$root/bin/busybox"
  for applet in $(busybox --list-full); do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done

  local elves=()
  for name in "${programs[@]+"${programs[@]}"}"; do
    path=$(vm_find_program "$build" "$name")
    [ -n "$path" ] || { echo "scripts/vm: $name was not built" >&2; rm -rf "$root"; return 1; }
    elves+=("$path")
    ln -s "$path" "$root/usr/local/bin/$name"
  done
  for path in "${vm_host_programs[@]}"; do
    [ -x "$path" ] && elves+=("$path")
  done
  vm_copy_elves "$root" "$build" "${elves[@]}" || { rm -rf "$root"; return 1; }

  cp "$kernel/fuse.ko" "$kernel/cuse.ko" "$root/lib/modules/kbus-vm/"
  vm_write_etc "$root"
  cp scripts/lib/vm_init.sh "$root/init"
  cp tests/vm/suite.sh "$root/usr/local/libexec/kbus-vm/suite.sh"
  chmod 0755 "$root/init" "$root/usr/local/libexec/kbus-vm/suite.sh"
  vm_write_command "$root/etc/kbus-vm/command" "$@"
  for d in "${withs[@]+"${withs[@]}"}"; do
    mkdir -p "$root$d"
    cp -a "$d/." "$root$d/"
  done

  # The test users (alice, bob, nobody) run the programs too: everything readable and every
  # folder open to them (mktemp made the root 0700).
  chmod -R go+rX "$root"
  # Uncompressed: under TCG, unpacking gzip costs more than copying the bytes.
  (cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$out.new"
  mv "$out.new" "$out"
  rm -rf "$root"
}
