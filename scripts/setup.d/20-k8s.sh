#!/usr/bin/env bash
# A real Kubernetes for tests: kube-apiserver, kubectl, etcd and the node's kubelet, kube-proxy,
# kube-scheduler and kube-controller-manager, built from their Go modules (the machine reaches the
# Go module proxy, not GitHub releases), cached by version. One throwaway module builds them all.
. "$(dirname "$0")/../lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.31.14}
bin="$SPARKCRAFT_CACHE/bin"
names=(kube-apiserver kubectl etcd kubelet kube-proxy kube-scheduler kube-controller-manager)
want=(); for n in "${names[@]}"; do want+=("$bin/$n-$K8S_VERSION"); done
ok=1; for f in "${want[@]}"; do [ -x "$f" ] || ok=0; done
[ $ok = 1 ] && exit 0
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || die "Go toolchain not found; install Go >= 1.22 (https://go.dev/dl) and re-run"
apt_install openssl curl

build() {
  # Re-check under the lock: a parallel run may have built them.
  local ok=1; for f in "${want[@]}"; do [ -x "$f" ] || ok=0; done
  [ $ok = 1 ] && return 0
  local mod="$SPARKCRAFT_CACHE/go/k8s-build-$K8S_VERSION"
  mkdir -p "$mod" "$bin"
  export GOMODCACHE="$SPARKCRAFT_CACHE/go/mod" GOCACHE="$SPARKCRAFT_CACHE/go/build" GOFLAGS=-mod=mod GOTOOLCHAIN=local
  # k8s.io/kubernetes names its staging modules at v0.0.0; a throwaway module pins them to the
  # published v0.X.Y matching this release (or to scripts/k8s/staging-pins where the proxy refuses it).
  bash "$SPARKCRAFT_ROOT/scripts/k8s/gomod.sh" "$K8S_VERSION" > "$mod/go.mod.tmp"
  mv "$mod/go.mod.tmp" "$mod/go.mod"
  printf 'package tools\n\nimport (\n%s\t_ "go.etcd.io/etcd/server/v3/etcdmain"\n)\n' \
    "$(for c in kube-apiserver kubelet kube-proxy kube-scheduler kube-controller-manager; do printf '\t_ "k8s.io/kubernetes/cmd/%s/app"\n' "$c"; done)" > "$mod/tools.go"
  say "building Kubernetes $K8S_VERSION (apiserver, kubectl, etcd, kubelet, kube-proxy, scheduler, controller-manager) from Go modules (first run only, several minutes)"
  if ! (cd "$mod" && go mod tidy >/dev/null 2>"$mod/tidy.log"); then
    tail -20 "$mod/tidy.log" >&2
    bash "$SPARKCRAFT_ROOT/scripts/k8s/refused.sh" "$mod/tidy.log" "$K8S_VERSION" >&2
    die "go mod tidy failed for Kubernetes $K8S_VERSION (log: $mod/tidy.log)"
  fi
  local out="$mod/out"; rm -rf "$out"; mkdir -p "$out"
  # Only what is missing (an earlier version of this script built the first three).
  local pkgs=() todo=(); for n in "${names[@]}"; do
    [ -x "$bin/$n-$K8S_VERSION" ] && continue
    todo+=("$n")
    case $n in etcd) pkgs+=(go.etcd.io/etcd/server/v3) ;; *) pkgs+=("k8s.io/kubernetes/cmd/$n") ;; esac
  done
  (cd "$mod" && nice go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
      -o "$out/" "${pkgs[@]}" 2>"$mod/build.log") \
    || { tail -20 "$mod/build.log" >&2; die "building Kubernetes $K8S_VERSION failed (log: $mod/build.log)"; }
  # go names a main package at a /vN module path after the element before it ("server").
  [ -e "$out/server" ] && mv "$out/server" "$out/etcd"
  for n in "${todo[@]}"; do mv "$out/$n" "$bin/$n-$K8S_VERSION"; done
  say "built: $(cd "$bin" && du -h "${todo[@]/%/-$K8S_VERSION}" | tr '\t\n' ' ')"
}
with_lock "k8s-build-$K8S_VERSION" bash -c "$(declare -f build say die); $(declare -p want names bin K8S_VERSION SPARKCRAFT_CACHE SPARKCRAFT_ROOT); build"
