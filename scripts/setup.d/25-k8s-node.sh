#!/usr/bin/env bash
# The local cluster's node (scripts/local-k8s.sh): containerd + runc, CNI plugins, conntrack and
# iptables from Debian; CoreDNS built from its Go module; the pause binary built from Kubernetes'
# own build/pause/linux/pause.c (in the module cache of the Kubernetes build); both packed as
# one-file OCI images (oci-archive, imported by `local-k8s.sh start` with `ctr images import`).
# Cached by version under $SPARKCRAFT_CACHE; idempotent.
. "$(dirname "$0")/../lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.31.14}
COREDNS_VERSION=v1.11.3
PAUSE_TAG=3.10
bin="$SPARKCRAFT_CACHE/bin"
images="$SPARKCRAFT_CACHE/k8s-images"
coredns="$bin/coredns-$COREDNS_VERSION"
pause_img="$images/pause-$PAUSE_TAG.tar" coredns_img="$images/coredns-$COREDNS_VERSION.tar"

apt_install containerd runc containernetworking-plugins conntrack iptables umoci gcc libc6-dev
[ -x "$coredns" ] && [ -s "$pause_img" ] && [ -s "$coredns_img" ] && exit 0
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || die "Go toolchain not found; install Go >= 1.22 (https://go.dev/dl) and re-run"
export GOMODCACHE="$SPARKCRAFT_CACHE/go/mod" GOCACHE="$SPARKCRAFT_CACHE/go/build" GOTOOLCHAIN=local

# image NAME TAG FILE ENTRYPOINT OUT: a one-layer OCI image holding FILE at ENTRYPOINT, as an oci-archive.
image() {
  local name=$1 tag=$2 file=$3 entry=$4 out=$5 work
  work=$(mktemp -d "$images/.work.XXXXXX")
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$tag"
  umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
  install -m 0755 "$file" "$work/bundle/rootfs$entry"
  umoci repack --history.created 1970-01-01T00:00:00Z --history.created_by "sparkcraft: $entry" --image "$work/layout:$tag" "$work/bundle"
  umoci config --no-history --image "$work/layout:$tag" --config.entrypoint "$entry" --config.user 0:0 \
    --author sparkcraft --created 1970-01-01T00:00:00Z
  umoci gc --layout "$work/layout"
  tar -C "$work/layout" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$out.tmp" index.json oci-layout blobs
  mv "$out.tmp" "$out"
  rm -rf "$work"
  say "image $name:$tag → $out ($(du -h "$out" | cut -f1))"
}

build() {
  mkdir -p "$bin" "$images"
  rm -rf "$images"/.work.* "$images"/*.tmp
  if [ ! -x "$coredns" ]; then
    say "building CoreDNS $COREDNS_VERSION from its Go module (first run only, about 2 minutes)"
    local gobin; gobin=$(mktemp -d "$bin/.coredns.XXXXXX")
    CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS=-mod=mod nice go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" 2>"$gobin.log" \
      || { tail -20 "$gobin.log" >&2; die "building CoreDNS $COREDNS_VERSION failed (log: $gobin.log)"; }
    mv "$gobin/coredns" "$coredns"; rm -rf "$gobin" "$gobin.log"
  fi
  if [ ! -s "$pause_img" ]; then
    local src="$GOMODCACHE/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
    if [ ! -f "$src" ]; then
      (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download "k8s.io/kubernetes@$K8S_VERSION" >/dev/null 2>&1) || true
    fi
    [ -f "$src" ] || die "pause.c not found at $src (go mod download k8s.io/kubernetes@$K8S_VERSION failed)"
    local p; p=$(mktemp "$images/.pause.XXXXXX")
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-sparkcraft" -o "$p" "$src"
    strip "$p"
    image pause "$PAUSE_TAG" "$p" /pause "$pause_img"
    rm -f "$p"
  fi
  if [ ! -s "$coredns_img" ]; then
    image coredns "$COREDNS_VERSION" "$coredns" /coredns "$coredns_img"
  fi
}
with_lock k8s-node-build bash -c "$(declare -f build image say die); $(declare -p bin images coredns pause_img coredns_img COREDNS_VERSION PAUSE_TAG K8S_VERSION GOMODCACHE GOCACHE GOTOOLCHAIN PATH); build"
