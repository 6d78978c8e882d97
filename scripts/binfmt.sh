#!/usr/bin/env bash
# scripts/binfmt.sh register|unregister|status — run other architectures' executables (arm64 today)
# under QEMU's user-mode emulation through the kernel's binfmt_misc, for the built-in backend's arm64
# Debian root, for running arm64 executables in tests, and for arm64 pods on the local node.
#
# Two emulators, SPARKCRAFT_QEMU selecting one:
# - `debian` (the default): bookworm's qemu-user-static 7.2 (installed as a Debian package). It builds the
#   arm64 roots and runs the arm64 rock's jobs in the suite. It cannot run pebble, the rock's entrypoint:
#   its linux-user answers prctl(PR_SET_CHILD_SUBREAPER) with EINVAL, and pebble stops with "cannot start
#   child process reaper: child subreaping unavailable on this platform".
# - `backports`: QEMU 10 from bookworm-backports' qemu-user, which runs pebble (arm64 pods on the local node:
#   cluster scenario 9), but under which a PySpark job in the arm64 rock (pi.py) hung here (its JVM waiting
#   in accept, no python3 process, 15 min), so it is not the default. Its package is fetched with apt into
#   $SPARKCRAFT_CACHE/qemu (apt's own signature check against debian-archive-keyring, with a sources list and
#   package lists of its own: the host's apt sources are not changed) and unpacked there, never installed.
#
# What it changes on the host, and only that:
# - register: mounts binfmt_misc on /proc/sys/fs/binfmt_misc if nothing is mounted there (and records
#   that it did), then registers one entry, `sparkcraft-aarch64`, with the magic, mask and flags of the
#   package's qemu-aarch64.conf and its interpreter in the cache (F: the kernel opens the interpreter now,
#   so it also works inside the chroot and the containers). An entry of ours with another interpreter
#   (an older QEMU) is replaced. If any other enabled entry already handles aarch64 ELF executables
#   (MicroK8s', Docker's, Debian's own), it is used as it is: nothing is registered or overridden (pebble
#   then runs only if that QEMU is recent enough). Idempotent.
# - unregister: waits while a build holds $LOCK shared (an arm64 root being bootstrapped),
#   removes the `sparkcraft-aarch64` entry if it is there, and unmounts binfmt_misc only if register
#   mounted it. Entries it did not make are never touched.
# - status: one line: which entry handles aarch64, or none.
. "$(dirname "$0")/lib.sh"
set -euo pipefail
BINFMT=/proc/sys/fs/binfmt_misc
NAME=sparkcraft-aarch64
STATE="$SPARKCRAFT_CACHE/binfmt"
QEMU_DIR="$SPARKCRAFT_CACHE/qemu"
QEMU_FROM="${SPARKCRAFT_QEMU:-debian}"
CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
QEMU_SUITE=bookworm-backports
QEMU_MIRROR=http://deb.debian.org/debian
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

# The unpacked qemu-user package (its folder; fetched once): prints the folder.
qemu_tree() {
  local cur="$QEMU_DIR/current"
  if [ -x "$cur/usr/bin/qemu-aarch64" ] && [ -r "$cur/usr/share/qemu/binfmt.d/qemu-aarch64.conf" ]; then
    readlink -f "$cur"
    return 0
  fi
  apt_install debian-archive-keyring
  local apt="$QEMU_DIR/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$QEMU_MIRROR" "$QEMU_SUITE" > "$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts" -o "Dir::State::Lists=$apt/lists"
    -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root -o Acquire::Retries=3 -o Debug::NoLocking=1)
  say "fetching qemu-user from Debian $QEMU_SUITE (user-mode emulation for arm64)"
  apt-get "${opts[@]}" update -qq >/dev/null || die "apt could not read Debian $QEMU_SUITE's package lists from $QEMU_MIRROR"
  local version
  version=$(apt-cache "${opts[@]}" show qemu-user 2>/dev/null | awk '/^Version:/ {print $2; exit}')
  [ -n "$version" ] || die "Debian $QEMU_SUITE lists no qemu-user package"
  (cd "$apt" && rm -f qemu-user_*.deb && apt-get "${opts[@]}" download -qq "qemu-user=$version" >/dev/null) ||
    die "apt could not download qemu-user $version from Debian $QEMU_SUITE"
  local deb tree tmp
  deb=$(ls "$apt"/qemu-user_*.deb)
  tree="$QEMU_DIR/${version//[:~+]/_}"
  tmp="$tree.tmp-$$"
  rm -rf "$tmp" && dpkg-deb -x "$deb" "$tmp" && rm -rf "$tree" && mv "$tmp" "$tree" && rm -f "$deb"
  ln -sfn "${tree##*/}" "$cur"
  say "qemu-user $version unpacked in $tree"
  echo "$tree"
}

# The entry's line for our interpreter: :name:type:offset:magic:mask:interpreter:flags
entry_line() {
  local tree="$1" line
  line=$(grep -v '^#' "$tree/usr/share/qemu/binfmt.d/qemu-aarch64.conf" | head -1)
  [ "${line#:qemu-aarch64:}" != "$line" ] || die "$tree's qemu-aarch64.conf does not hold the entry it should: $line"
  # The interpreter field (the sixth after the name): the package's path, in our tree.
  awk -F: -v OFS=: -v name="$NAME" -v tree="$tree" '{ $2 = name; $7 = tree $7; print }' <<<"$line"
}

register() {
  # arch-test: mmdebstrap checks with it that the foreign architecture runs before it bootstraps one.
  apt_install arch-test
  local tree line want
  case "$QEMU_FROM" in
    backports)
      tree=$(qemu_tree)
      line=$(entry_line "$tree")
      ;;
    debian)
      apt_install qemu-user-static
      [ -r "$CONF" ] || die "$CONF is missing after installing qemu-user-static: cannot register aarch64 emulation"
      line=$(grep -v '^#' "$CONF" | head -1)
      [ "${line#:qemu-aarch64:}" != "$line" ] || die "$CONF does not hold the qemu-aarch64 entry it should: $line"
      line=":$NAME:${line#:qemu-aarch64:}"
      ;;
    *) die "SPARKCRAFT_QEMU=$QEMU_FROM: use debian (the default) or backports" ;;
  esac
  want=$(awk -F: '{print $7}' <<<"$line")
  [ -x "$want" ] || die "the interpreter $want is missing from the unpacked qemu-user"
  mkdir -p "$STATE"
  if ! mounted; then
    $sudo mount -t binfmt_misc binfmt_misc "$BINFMT" ||
      die "cannot mount binfmt_misc on $BINFMT (needs root, and a kernel with binfmt_misc): arm64 cells cannot be built on this host"
    : > "$STATE/mounted-by-us"
    say "mounted binfmt_misc on $BINFMT"
  fi
  local h; h=$(handler)
  if [ -n "$h" ] && [ "$h" != "$NAME" ]; then
    say "aarch64 executables already run through binfmt_misc entry '$h' (not ours; used as it is)"
    return 0
  fi
  if [ "$h" = "$NAME" ]; then
    # Ours: kept if it runs this interpreter, replaced if it runs another (an older QEMU).
    [ "$(awk '/^interpreter / {print $2}' "$BINFMT/$NAME")" = "$want" ] && return 0
    echo -1 | $sudo tee "$BINFMT/$NAME" >/dev/null
    say "replacing binfmt_misc entry $NAME (it ran another interpreter)"
  fi
  printf '%s' "$line" | $sudo tee "$BINFMT/register" >/dev/null ||
    die "the kernel refused the binfmt_misc entry $NAME"
  say "registered binfmt_misc entry $NAME ($want)"
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
