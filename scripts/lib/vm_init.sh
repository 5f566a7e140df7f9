#!/bin/sh
# /init of scripts/vm's initramfs (busybox sh, PID 1). Mounts the usual file systems, loads
# fuse and cuse, starts kbusd (and a dbus-daemon for the unix: fallback), runs the command
# given to scripts/vm and reports its exit code. The serial ports (see scripts/vm):
#   ttyS0  the console: the kernel's and this script's own messages, kbusd's and the bus's logs
#   ttyS1  the command's stdout     ttyS2  its stderr     ttyS3  its exit code, last of all
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
# TERM=dumb: the command's output is a serial port, but no terminal shows its colours.
export HOME=/root TMPDIR=/tmp TERM=dumb

say() { echo "kbus-vm: $*"; }
# A reason the caller must see (the console goes to a log file only).
warn() { say "$*"; echo "kbus-vm: $*" >/dev/ttyS2; }
finish() {
  # stty waits until the port has sent everything that was written to it (TCSADRAIN).
  stty -F /dev/ttyS1 raw -echo
  stty -F /dev/ttyS2 raw -echo
  echo "$1" >/dev/ttyS3
  stty -F /dev/ttyS3 raw -echo
  sync
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The initramfs has no /dev/console of its own: the console is reached once devtmpfs is there.
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# /tmp and /run stay in the initramfs (itself in memory): folders given with --with may be there.
chmod 1777 /tmp
chmod 0755 /run
ip link set lo up 2>/dev/null
hostname kbus-vm

# The command's streams: raw, so that its bytes arrive as written (no \r added before \n).
for port in /dev/ttyS1 /dev/ttyS2 /dev/ttyS3; do
  stty -F "$port" raw -echo || { say "no serial port $port"; poweroff -f; }
done

for module in fuse cuse; do
  insmod "/lib/modules/kbus-vm/$module.ko" || warn "insmod $module failed"
done
[ -c /dev/cuse ] || warn "/dev/cuse is missing after loading cuse"

# Each user's home and runtime folder (where the unix: entry of the default list points).
while IFS=: read -r _ _ uid gid _ home _; do
  [ "$home" != /nonexistent ] || continue
  mkdir -p "$home" "/run/user/$uid"
  chown "$uid:$gid" "$home" "/run/user/$uid"
  chmod 0700 "/run/user/$uid"
done </etc/passwd
dbus-uuidgen --ensure=/etc/machine-id 2>/dev/null

export XDG_RUNTIME_DIR=/run/user/0
export DBUS_SESSION_BUS_ADDRESS="kernel:path=/sys/fs/kdbus/0-user/bus;cuse:path=/dev/kbus/0-user;unix:path=$XDG_RUNTIME_DIR/bus"

# The unix: fallback of the list: a dbus-daemon on the session socket.
if command -v dbus-daemon >/dev/null; then
  dbus-daemon --config-file=/etc/kbus-vm/session.conf --nofork --nopidfile &
fi

# kbusd serves the session bus as /dev/kbus/0-user; it returns once the device exists.
if command -v kbusd >/dev/null; then
  if kbusd --bus user; then
    [ -e /dev/kbus/0-user ] || warn "kbusd is ready, but /dev/kbus/0-user does not exist"
  else
    warn "kbusd --bus user failed (exit code $?; its log is in the console log)"
  fi
else
  warn "kbusd is not in this build: no cuse: bus"
fi
i=0
while [ ! -S "$XDG_RUNTIME_DIR/bus" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# The command (written by scripts/vm as "set -- ARGS..."), else the suite.
set -- /usr/local/libexec/kbus-vm/suite.sh
. /etc/kbus-vm/command
say "running (at $(cut -d" " -f1 /proc/uptime) s of uptime): $*"
cd /
"$@" </dev/null >/dev/ttyS1 2>/dev/ttyS2
status=$?
say "exit code $status"
finish "$status"
