# Shared shell helpers; source it: . "$(dirname "$0")/lib.sh"
set -euo pipefail
SPARKCRAFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPARKCRAFT_CACHE=${SPARKCRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sparkcraft}
export SPARKCRAFT_ROOT SPARKCRAFT_CACHE
mkdir -p "$SPARKCRAFT_CACHE"

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: install the Debian packages that are missing; idempotent.
apt_install() {
  local missing=()
  # Every command of scripts/sparkcraft.sh passes here: while dpkg's database is the one in which
  # these packages were last found installed (its inode, size and times), nothing is asked again.
  local seen key
  seen="$SPARKCRAFT_CACHE/apt-installed/$(printf '%s\n' "$@" | sha256sum | cut -c1-16)"
  key="$(stat -c '%i %s %Y %Z' "${SPARKCRAFT_DPKG_STATUS:-/var/lib/dpkg/status}" 2>/dev/null || true) $*"
  [ -f "$seen" ] && [ "$(cat "$seen")" = "$key" ] && return 0
  # One dpkg-query for all of them.
  local installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | awk '/ install ok installed$/ {print $1}') || true
  for p in "$@"; do grep -qxF -- "$p" <<<"$installed" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    mkdir -p "${seen%/*}" && printf '%s' "$key" > "$seen.$$" && mv -f "$seen.$$" "$seen"
    return 0
  fi
  say "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  # apt lists may be missing on a fresh machine; refresh once per boot-ish.
  if [ ! -f /var/lib/apt/periodic/sparkcraft-updated ] || [ -n "$(find /var/lib/apt/periodic/sparkcraft-updated -mmin +720 2>/dev/null)" ]; then
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && $sudo mkdir -p /var/lib/apt/periodic && $sudo touch /var/lib/apt/periodic/sparkcraft-updated
  fi
  # Another install (a parallel setup, unattended upgrades) may hold dpkg's lock: wait for it.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# detach CMD...: exec CMD (through setsid, a session of its own) with only stdin, stdout and stderr: a
# daemon must not keep a descriptor of its caller open, such as a lock taken with `flock FILE scripts/...`,
# which it would then hold until it is stopped. Run it in a background subshell: ( detach CMD... ) &
detach() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
  done
  exec setsid "$@"
}
# with_lock NAME CMD...: run CMD holding an exclusive lock in the cache (parallel runs share downloads).
with_lock() {
  local name=$1; shift
  mkdir -p "$SPARKCRAFT_CACHE/locks"
  # -o: the lock is not inherited by daemons the command starts.
  flock -o "$SPARKCRAFT_CACHE/locks/$name.lock" "$@"
}
