#!/usr/bin/env bash
# A real Kubernetes for tests: kube-apiserver, kubectl, etcd and the node's kubelet, kube-proxy,
# kube-scheduler and kube-controller-manager, built from their Go modules (the machine reaches the
# Go module proxy, not GitHub releases), cached by version. One throwaway module builds them all.
. "$(dirname "$0")/../lib.sh"
K8S_VERSION=${K8S_VERSION:-v1.31.14}
bin="$SPARKCRAFT_CACHE/bin"
names=(kube-apiserver kubectl etcd kubelet kube-proxy kube-scheduler kube-controller-manager)
want=(); for n in "${names[@]}"; do want+=("$bin/$n-$K8S_VERSION"); done
# etcd serves its clients on a unix socket (local-k8s.sh's only etcd endpoint) from v3.5.10 on
# (etcd-io/etcd#15940): v1.26.15's go.mod pins v3.5.5, which listens on the peer socket only and
# never on the client one. A Kubernetes that pins an older etcd gets ETCD_FLOOR's, built in a module
# of its own (the apiserver keeps its own etcd client: v1.26.15's talks to the socket).
ETCD_FLOOR=v3.5.14 ETCD_UNIX=3.5.10
# at_least MIN VERSION: VERSION (a leading v ignored) is MIN or later.
at_least() { [ -n "$2" ] && [ "$(printf '%s\n' "$1" "${2#v}" | sort -V | head -1)" = "$1" ]; }
# etcd_current FILE: FILE is an etcd that serves clients on a unix socket.
etcd_current() { at_least "$ETCD_UNIX" "$("$1" --version 2>/dev/null | sed -n 's/^etcd Version: //p')"; }
present() { # every binary there, the etcd new enough
  local f; for f in "${want[@]}"; do [ -x "$f" ] || return 1; done
  etcd_current "$bin/etcd-$K8S_VERSION"
}
present && exit 0
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || die "Go toolchain not found; install Go >= 1.22 (https://go.dev/dl) and re-run"
apt_install openssl curl

# build_etcd OUT: etcd at ETCD_FLOOR into OUT, from a throwaway module of its own.
build_etcd() {
  local emod="$SPARKCRAFT_CACHE/go/etcd-build-$ETCD_FLOOR"
  mkdir -p "$emod"
  printf 'module sparkcraft/etcd-build\n\ngo 1.22\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_FLOOR" > "$emod/go.mod"
  printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' > "$emod/tools.go"
  say "building etcd $ETCD_FLOOR for Kubernetes $K8S_VERSION (its own pin cannot serve clients on a unix socket)"
  (cd "$emod" && go mod tidy >/dev/null 2>"$emod/tidy.log" && rm -rf out && mkdir out \
    && nice go build -trimpath -ldflags "-s -w" -o out/ go.etcd.io/etcd/server/v3 2>"$emod/build.log") \
    || { tail -20 "$emod/tidy.log" "$emod/build.log" >&2 2>/dev/null; die "building etcd $ETCD_FLOOR failed (logs: $emod)"; }
  mv "$emod/out/server" "$1"
}

build() {
  # Re-check under the lock: a parallel run may have built them.
  present && return 0
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
  local pkgs=() todo=() pinned
  pinned=$(cd "$mod" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
  # An etcd too old for a unix socket (or one built before this floor) is replaced.
  if [ -x "$bin/etcd-$K8S_VERSION" ] && ! etcd_current "$bin/etcd-$K8S_VERSION"; then rm -f "$bin/etcd-$K8S_VERSION"; fi
  for n in "${names[@]}"; do
    [ -x "$bin/$n-$K8S_VERSION" ] && continue
    if [ "$n" = etcd ] && ! at_least "$ETCD_UNIX" "$pinned"; then
      build_etcd "$bin/etcd-$K8S_VERSION.tmp.$$" && mv "$bin/etcd-$K8S_VERSION.tmp.$$" "$bin/etcd-$K8S_VERSION"
      continue
    fi
    todo+=("$n")
    case $n in etcd) pkgs+=(go.etcd.io/etcd/server/v3) ;; *) pkgs+=("k8s.io/kubernetes/cmd/$n") ;; esac
  done
  [ ${#pkgs[@]} -gt 0 ] || return 0
  (cd "$mod" && nice go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
      -o "$out/" "${pkgs[@]}" 2>"$mod/build.log") \
    || { tail -20 "$mod/build.log" >&2; die "building Kubernetes $K8S_VERSION failed (log: $mod/build.log)"; }
  # go names a main package at a /vN module path after the element before it ("server").
  [ -e "$out/server" ] && mv "$out/server" "$out/etcd"
  for n in "${todo[@]}"; do mv "$out/$n" "$bin/$n-$K8S_VERSION"; done
  say "built: $(cd "$bin" && du -h "${todo[@]/%/-$K8S_VERSION}" | tr '\t\n' ' ')"
}
with_lock "k8s-build-$K8S_VERSION" bash -c "$(declare -f build build_etcd at_least etcd_current present say die); $(declare -p want names bin K8S_VERSION ETCD_FLOOR ETCD_UNIX SPARKCRAFT_CACHE SPARKCRAFT_ROOT); build"
