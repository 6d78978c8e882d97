#!/usr/bin/env bash
# cosign (signs the published rock, attaches its SBOM and provenance, verifies them), built with Go from
# its module github.com/sigstore/cosign/v2 through the Go module proxy into
# "$SPARKCRAFT_CACHE/bin/cosign-<version>"; reused when present. Idempotent, quiet when present.
# Every dependency is pinned by scripts/cosign/go.mod + go.sum (the build is -mod=readonly: nothing is
# resolved anew); a module version the proxy refuses is named with the fix.
. "$(dirname "$0")/../lib.sh"
COSIGN_VERSION=v2.6.5
bin="$SPARKCRAFT_CACHE/bin/cosign-$COSIGN_VERSION"
[ -x "$bin" ] && exit 0
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || die "cosign: Go is needed to build cosign $COSIGN_VERSION (install Go >= 1.25 and re-run)"
pins="$SPARKCRAFT_ROOT/scripts/cosign"
grep -q "github.com/sigstore/cosign/v2 $COSIGN_VERSION\$" "$pins/go.mod" \
  || die "scripts/cosign/go.mod does not require github.com/sigstore/cosign/v2 $COSIGN_VERSION (regenerate it: see scripts/cosign/README)"

build() {
  [ -x "$bin" ] && return 0
  local mod="$SPARKCRAFT_CACHE/go/cosign-build-$COSIGN_VERSION"
  mkdir -p "$mod" "$SPARKCRAFT_CACHE/bin"
  cp "$pins/go.mod" "$pins/go.sum" "$pins/tools.go" "$mod/"
  export GOMODCACHE="$SPARKCRAFT_CACHE/go/mod" GOCACHE="$SPARKCRAFT_CACHE/go/build" GOFLAGS=-mod=readonly GOTOOLCHAIN=local CGO_ENABLED=0
  say "building cosign $COSIGN_VERSION from its Go module (first run only, several minutes)"
  if ! (cd "$mod" && go mod download -x >/dev/null 2>"$mod/download.log"); then
    # A refused module: the proxy answers 403/404/410 for that exact version.
    grep -oE '[a-zA-Z0-9.-]+\.[a-z]+/[A-Za-z0-9._/~-]+@v[0-9][^:[:space:]]*: (reading [^ ]+: )?(403|404|410)[^[:cntrl:]]*' "$mod/download.log" \
      | sed -E 's/@([^:]+):.*/ \1/' | sort -u | while read -r m v; do
        printf 'error: the Go module proxy refuses %s@%s. Fix: in scripts/cosign run `go get %s@<a served version>` then `go mod tidy` (served: go list -m -versions %s)\n' "$m" "$v" "$m" "$m" >&2
      done
    grep -v "^#" "$mod/download.log" | tail -3 >&2
    die "downloading cosign $COSIGN_VERSION's modules failed (log: $mod/download.log)"
  fi
  (cd "$mod" && nice go build -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
      -o "$bin.tmp.$$" github.com/sigstore/cosign/v2/cmd/cosign 2>"$mod/build.log") \
    || { tail -20 "$mod/build.log" >&2; rm -f "$bin.tmp.$$"; die "building cosign $COSIGN_VERSION failed (log: $mod/build.log)"; }
  mv "$bin.tmp.$$" "$bin"
  say "built cosign $COSIGN_VERSION: $(du -h "$bin" | cut -f1)"
}
export -f build say die
export bin pins COSIGN_VERSION SPARKCRAFT_CACHE
with_lock "cosign-$COSIGN_VERSION" bash -c build
