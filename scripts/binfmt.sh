#!/usr/bin/env bash
# scripts/binfmt.sh register|unregister|status — run other architectures' executables (arm64 today)
# under Debian's qemu-user-static through the kernel's binfmt_misc, for the built-in backend's arm64
# Debian root and for running arm64 executables in tests.
#
# What it changes on the host, and only that:
# - register: mounts binfmt_misc on /proc/sys/fs/binfmt_misc if nothing is mounted there (and records
#   that it did), then registers one entry, `sparkcraft-aarch64`, with the magic, mask, interpreter and
#   flags of Debian's /usr/lib/binfmt.d/qemu-aarch64.conf (F: the kernel opens the interpreter now, so it
#   also works inside the chroot and the containers). If any enabled entry already handles aarch64 ELF
#   executables (MicroK8s', Docker's, Debian's own), it is used as it is: nothing is registered or
#   overridden. Idempotent.
# - unregister: waits while a build holds $LOCK shared (an arm64 root being bootstrapped),
#   removes the `sparkcraft-aarch64` entry if it is there, and unmounts binfmt_misc only if register
#   mounted it. Entries it did not make are never touched.
# - status: one line: which entry handles aarch64, or none.
. "$(dirname "$0")/lib.sh"
set -euo pipefail
BINFMT=/proc/sys/fs/binfmt_misc
NAME=sparkcraft-aarch64
CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
STATE="$SPARKCRAFT_CACHE/binfmt"
# Host-wide, as binfmt_misc is (src/lib/tools/mmdebstrap.ts BINFMT_LOCK names the same file).
LOCK=/run/lock/sparkcraft-binfmt.lock
# aarch64 ELF: what the kernel prints as the magic of an entry for it (Debian's and ours).
AARCH64_MAGIC=7f454c460201010000000000000000000200b700
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo

mounted() { [ -e "$BINFMT/register" ]; }

# The enabled entry (its name) that runs aarch64 executables, ours or another's; empty if none.
handler() {
  mounted || return 0
  local e
  for e in "$BINFMT"/*; do
    case "${e##*/}" in register | status) continue ;; esac
    [ -r "$e" ] || continue
    grep -qx enabled "$e" 2>/dev/null || continue
    grep -q "^magic $AARCH64_MAGIC" "$e" 2>/dev/null && { echo "${e##*/}"; return 0; }
  done
  return 0
}

register() {
  # arch-test: mmdebstrap checks with it that the foreign architecture runs before it bootstraps one.
  apt_install qemu-user-static arch-test
  [ -r "$CONF" ] || die "$CONF is missing after installing qemu-user-static: cannot register aarch64 emulation"
  mkdir -p "$STATE"
  if ! mounted; then
    $sudo mount -t binfmt_misc binfmt_misc "$BINFMT" ||
      die "cannot mount binfmt_misc on $BINFMT (needs root, and a kernel with binfmt_misc): arm64 cells cannot be built on this host"
    : > "$STATE/mounted-by-us"
    say "mounted binfmt_misc on $BINFMT"
  fi
  local h; h=$(handler)
  if [ -n "$h" ]; then
    [ "$h" = "$NAME" ] || say "aarch64 executables already run through binfmt_misc entry '$h' (not ours; used as it is)"
    return 0
  fi
  # Debian's line, renamed: :name:type:offset:magic:mask:interpreter:flags
  local line
  line=$(grep -v '^#' "$CONF" | head -1)
  [ "${line#:qemu-aarch64:}" != "$line" ] || die "$CONF does not hold the qemu-aarch64 entry it should: $line"
  printf '%s' ":$NAME:${line#:qemu-aarch64:}" | $sudo tee "$BINFMT/register" >/dev/null ||
    die "the kernel refused the binfmt_misc entry $NAME"
  say "registered binfmt_misc entry $NAME ($(awk -F: '{print $7}' <<<"$line"))"
}

unregister() {
  # A build bootstrapping another architecture's root holds this lock shared while it runs emulated
  # programs (src/lib/tools/mmdebstrap.ts): removing the entry under it would fail its dpkg. Wait for it.
  $sudo mkdir -p "${LOCK%/*}"
  exec 9>"$LOCK"
  if ! flock -x -n 9; then
    # Bounded: an arm64 rock's bootstrap took about 6 min here; a holder stuck for longer is not waited for.
    local wait="${BINFMT_UNREGISTER_WAIT:-1800}"
    say "waiting for a build that runs arm64 programs under emulation ($LOCK), at most $wait s"
    flock -x -w "$wait" 9 || die "a build still runs arm64 programs under emulation after $wait s ($LOCK): the entry stays; run unregister again when it is done"
  fi
  if mounted && [ -e "$BINFMT/$NAME" ]; then
    echo -1 | $sudo tee "$BINFMT/$NAME" >/dev/null
    say "removed binfmt_misc entry $NAME"
  fi
  if [ -f "$STATE/mounted-by-us" ]; then
    # Only if nobody registered anything else since.
    if mounted && [ -z "$(ls "$BINFMT" | grep -vx -e register -e status)" ]; then
      $sudo umount "$BINFMT" && say "unmounted binfmt_misc"
    fi
    rm -f "$STATE/mounted-by-us"
  fi
}

case "${1:-}" in
  register) register ;;
  unregister) unregister ;;
  status)
    h=$(handler)
    if [ -n "$h" ]; then echo "aarch64: $BINFMT/$h"; else echo "aarch64: no binfmt_misc entry (run scripts/binfmt.sh register)"; exit 1; fi
    ;;
  *) die "usage: scripts/binfmt.sh register|unregister|status" ;;
esac
