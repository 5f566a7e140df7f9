# scripts/vm's kernel: Debian's cloud kernel (it has fuse and cuse as modules), downloaded once.
# shellcheck shell=bash

# The kernel package apt offers now: the one linux-image-cloud-amd64 depends on.
vm_kernel_package() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1
}

# Decompresses a module as modprobe would find it (.ko, .ko.xz or .ko.zst) into OUT.
vm_module() {  # vm_module TREE NAME OUT
  local found
  found=$(find "$1/lib/modules" -path "*/kernel/fs/fuse/$2.ko*" | head -n 1)
  case "$found" in
    "") echo "scripts/vm: the kernel package has no $2.ko" >&2; return 1 ;;
    *.ko) cp "$found" "$3" ;;
    *.ko.xz) xz -dc "$found" >"$3" ;;
    *.ko.zst) zstd -qdc "$found" >"$3" ;;
    *.ko.gz) gzip -dc "$found" >"$3" ;;
    *) echo "scripts/vm: cannot unpack $found" >&2; return 1 ;;
  esac
}

# Fills DIR with vmlinuz, fuse.ko, cuse.ko and `package` (its name), unless it has them.
vm_fetch_kernel() {  # vm_fetch_kernel DIR
  local dir=$1 package work
  if [ -s "$dir/vmlinuz" ] && [ -s "$dir/fuse.ko" ] && [ -s "$dir/cuse.ko" ]; then
    return 0
  fi
  package=$(vm_kernel_package)
  if [ -z "$package" ]; then
    as_root apt-get update -qq >&2 || true
    package=$(vm_kernel_package)
  fi
  [ -n "$package" ] || { echo "scripts/vm: apt offers no linux-image-cloud-amd64" >&2; return 1; }
  echo "scripts/vm: downloading $package (once)" >&2
  work=$(mktemp -d)
  # apt-get download writes into the current folder; _apt must be able to write there.
  chmod 0777 "$work"
  if ! (cd "$work" && apt-get download -q "$package" >/dev/null 2>"$work/apt.log"); then
    cat "$work/apt.log" >&2
    rm -rf "$work"
    return 1
  fi
  mkdir -p "$work/tree" "$dir.new"
  if ! { dpkg -x "$work"/*.deb "$work/tree" &&
    cp "$work"/tree/boot/vmlinuz-* "$dir.new/vmlinuz" &&
    vm_module "$work/tree" fuse "$dir.new/fuse.ko" &&
    vm_module "$work/tree" cuse "$dir.new/cuse.ko"; }; then
    rm -rf "$work" "$dir.new"
    return 1
  fi
  echo "$package" >"$dir.new/package"
  rm -rf "$work" "$dir"
  mv "$dir.new" "$dir"
}
