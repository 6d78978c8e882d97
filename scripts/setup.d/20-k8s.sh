#!/usr/bin/env bash
# A real Kubernetes control plane for tests: kube-apiserver, kubectl and etcd built from their Go
# modules (the machine reaches the Go module proxy, not GitHub releases), cached by version.
. "$(dirname "$0")/../lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.31.14}
bin="$SPARKCRAFT_CACHE/bin"
want=("$bin/kube-apiserver-$K8S_VERSION" "$bin/kubectl-$K8S_VERSION" "$bin/etcd-$K8S_VERSION")
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
  # published v0.X.Y matching this release.
  bash "$SPARKCRAFT_ROOT/scripts/k8s/gomod.sh" "$K8S_VERSION" > "$mod/go.mod.tmp"
  mv "$mod/go.mod.tmp" "$mod/go.mod"
  printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "go.etcd.io/etcd/server/v3/etcdmain"\n)\n' > "$mod/tools.go"
  say "building kube-apiserver, kubectl and etcd $K8S_VERSION from Go modules (first run only, several minutes)"
  (cd "$mod" && go mod tidy >/dev/null 2>"$mod/tidy.log") || { tail -20 "$mod/tidy.log" >&2; die "go mod tidy failed for Kubernetes $K8S_VERSION (log: $mod/tidy.log)"; }
  local out="$mod/out"; mkdir -p "$out"
  (cd "$mod" && nice go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
      -o "$out/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3 2>"$mod/build.log") \
    || { tail -20 "$mod/build.log" >&2; die "building Kubernetes $K8S_VERSION failed (log: $mod/build.log)"; }
  mv "$out/kube-apiserver" "$bin/kube-apiserver-$K8S_VERSION"
  mv "$out/kubectl" "$bin/kubectl-$K8S_VERSION"
  # go names a main package at a /vN module path after the element before it ("server").
  mv "$out/server" "$bin/etcd-$K8S_VERSION"
  say "built: $(cd "$bin" && du -h kube-apiserver-$K8S_VERSION kubectl-$K8S_VERSION etcd-$K8S_VERSION | tr '\t\n' ' ')"
}
with_lock k8s-build bash -c "$(declare -f build say die); $(declare -p want bin K8S_VERSION SPARKCRAFT_CACHE SPARKCRAFT_ROOT); build"
