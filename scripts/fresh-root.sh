#!/usr/bin/env bash
# Run a README command as the very first command on a fresh machine, and prove it works there.
#
#   scripts/fresh-root.sh [npm script and args]      (default: build:rock)
#
# "Fresh" is a clean Debian bookworm root holding only what a new machine of this kind has before
# anyone touches it (Node.js and npm, Go, Python 3, a JDK, git, gcc and make: the same Node.js and
# Go as this host, the rest from Debian), none of sparkcraft's tools, no npm packages and an empty
# cache. The project goes in as a `git clone` of the committed HEAD, so nothing ignored or
# uncommitted can help. The command runs in its own mount and pid namespaces (chroot), with the
# host's network (the same registries as a real fresh machine); everything it started is gone when
# it ends, and so is the root unless FRESH_ROOT_KEEP=1.
#
# The base root (Debian packages only) is cached under $SPARKCRAFT_CACHE/fresh-root; each run gets
# an empty overlay on top of it. Exit status: the command's.
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
[ "$(id -u)" = 0 ] || die "fresh-root.sh needs root (chroot and mounts): run it with sudo"
command -v mmdebstrap >/dev/null || bash scripts/setup.sh build-tools
if [ $# -eq 0 ]; then set -- build:rock; fi

packages=ca-certificates,git,python3,python3-venv,python3-pip,openjdk-17-jdk-headless,gcc,make,xz-utils,procps,sudo
top=$SPARKCRAFT_CACHE/fresh-root
base=$top/base-$(printf '%s' "$packages" | sha256sum | cut -c1-12)
mkdir -p "$top"
if [ ! -f "$base/.complete" ]; then
  say "a clean Debian root (once)"
  rm -rf "$base.tmp"
  mmdebstrap --variant=minbase --mode=root --format=directory --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$base.tmp" >/dev/null 2>"$top/mmdebstrap.log" || die "mmdebstrap failed (see $top/mmdebstrap.log): check that the Debian mirror is reachable"
  touch "$base.tmp/.complete"
  mv "$base.tmp" "$base"
fi

run=$(mktemp -d "$top/run-XXXXXX")
cleanup() { [ "${FRESH_ROOT_KEEP:-0}" = 1 ] && { echo "kept: $run" >&2; return; }; rm -rf "$run"; }
trap cleanup EXIT
mkdir -p "$run/upper" "$run/work" "$run/root" "$run/clone"
git clone --quiet --no-hardlinks "$SPARKCRAFT_ROOT" "$run/clone/sparkcraft"
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
go_root=$(go env GOROOT)
say "in a fresh root: npm run $*"
started=$(date +%s)
set +e
unshare --mount --pid --fork --propagation private bash -euo pipefail -s "$base" "$run" "$node_bin" "$npm_dir" "$go_root" "$@" <<'INNER'
base=$1 run=$2 node_bin=$3 npm_dir=$4 go_root=$5; shift 5
r=$run/root
mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$r"
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount --rbind /sys "$r/sys"
mount -t tmpfs tmpfs "$r/tmp"
mkdir -p "$r/usr/local/go" "$r/usr/local/lib/node_modules/npm" "$r/work"
mount --bind -o ro "$go_root" "$r/usr/local/go"
mount --bind -o ro "$npm_dir" "$r/usr/local/lib/node_modules/npm"
cp "$node_bin" "$r/usr/local/bin/node"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
cp /etc/resolv.conf "$r/etc/resolv.conf"
# The machine's own settings, which a fresh machine has too: the CA its registries' TLS is signed
# with, and the registry clients' configuration.
cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$r" update-ca-certificates >/dev/null 2>&1
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$r/etc/pip.conf"
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$r/root/.npmrc"
mount --bind "$run/clone" "$r/work"
keep=()
for v in SSL_CERT_FILE SSL_CERT_DIR NODE_EXTRA_CA_CERTS GIT_SSL_CAINFO CURL_CA_BUNDLE REQUESTS_CA_BUNDLE PIP_CERT \
         PIP_DEFAULT_TIMEOUT PIP_DISABLE_PIP_VERSION_CHECK GOFLAGS GOTOOLCHAIN GOPROXY; do
  [ -n "${!v:-}" ] && keep+=("$v=${!v}")
done
exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${keep[@]}" \
  PATH=/usr/local/go/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd /work/sparkcraft && exec npm run "$@"' npm "$@"
INNER
rc=$?
set -e
echo "fresh root: npm run $* exited $rc after $(( $(date +%s) - started )) s"
# What it built, for comparing with a build of the same commit elsewhere (reproducibility).
if [ -d "$run/clone/sparkcraft/dist" ]; then
  (cd "$run/clone/sparkcraft/dist" && find . -maxdepth 1 -type f \( -name '*.rock' -o -name '*.snap' -o -name spark8t \) -exec sha256sum {} +) | sed 's|  \./|  dist/|'
fi
exit $rc
