# scripts/vm's boot: qemu under TCG (KVM crashes on the machines this was written on), 2 GiB
# (the suite sends a 100 MiB message: 1 GiB is not enough for its copies). The
# guest's console goes to a log file; its second and third serial ports carry the command's
# stdout and stderr here as they are written, the fourth its exit code.
# shellcheck shell=bash

# Boots WORK/initrd.cpio; WORK gets console.log. Returns the command's exit code; 1 (with the
# console's end on stderr) when the VM hung past TIMEOUT_SECONDS or reported no exit code; 77
# when qemu failed before the guest started.
vm_boot() {  # vm_boot WORK KERNEL TIMEOUT_SECONDS
  local work=$1 kernel=$2 limit=$3 rc=0 status
  mkfifo "$work/out" "$work/err"
  cat "$work/out" &
  local cat_out=$!
  cat "$work/err" >&2 &
  local cat_err=$!
  # Held open here, the pipes end for the readers only once qemu has gone too (or never came).
  local hold_out hold_err
  exec {hold_out}<>"$work/out" {hold_err}<>"$work/err"

  timeout --kill-after=10 "$limit" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2048 \
    -nodefaults -display none -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.cpio" -append "console=ttyS0 panic=-1 quiet" \
    -serial "file:$work/console.log" \
    -chardev "file,id=out,path=$work/out" -serial chardev:out \
    -chardev "file,id=err,path=$work/err" -serial chardev:err \
    -serial "file:$work/status" \
    </dev/null >"$work/qemu.log" 2>&1 {hold_out}>&- {hold_err}>&- || rc=$?
  exec {hold_out}>&- {hold_err}>&-
  wait "$cat_out" "$cat_err" || true

  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "scripts/vm: the VM did not finish within $limit s; the end of its console:" >&2
    tail -n 30 "$work/console.log" >&2
    return 1
  fi
  if [ "$rc" -ne 0 ] && [ ! -s "$work/console.log" ]; then
    # qemu itself failed before the guest said a word: it cannot run here.
    echo "scripts/vm: skipped: qemu cannot run here (exit code $rc): $(tr '\n' ' ' <"$work/qemu.log")" >&2
    return 77
  fi
  status=$(head -n 1 "$work/status" 2>/dev/null | tr -dc 0-9)
  if [ -z "$status" ]; then
    echo "scripts/vm: the VM ended without an exit code (qemu: $rc)" >&2
    cat "$work/qemu.log" >&2
    echo "the end of its console:" >&2
    tail -n 30 "$work/console.log" >&2
    return 1
  fi
  return "$status"
}
