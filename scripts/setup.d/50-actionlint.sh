#!/usr/bin/env bash
# actionlint (validates .github/workflows in the test suite), built with Go from the module proxy at a
# pinned version into "$SPARKCRAFT_CACHE/bin/actionlint-<version>"; reused when present. Idempotent, quiet.
. "$(dirname "$0")/../lib.sh"
ACTIONLINT_VERSION=${ACTIONLINT_VERSION:-v1.7.12}
bin="$SPARKCRAFT_CACHE/bin/actionlint-$ACTIONLINT_VERSION"
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || die "actionlint: Go is needed to build actionlint (install Go 1.22+ and retry)"
build() {
  [ -x "$bin" ] && return 0
  say "building actionlint $ACTIONLINT_VERSION with Go"
  local gobin
  gobin=$(mktemp -d)
  GOBIN="$gobin" CGO_ENABLED=0 GOFLAGS=-trimpath nice go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
  mkdir -p "$SPARKCRAFT_CACHE/bin"
  mv "$gobin/actionlint" "$bin.tmp.$$" && mv "$bin.tmp.$$" "$bin"
  rm -rf "$gobin"
}
export -f build say die
export bin ACTIONLINT_VERSION
[ -x "$bin" ] || with_lock actionlint bash -c build
# actionlint runs shellcheck on every `run:` script when it is on PATH.
apt_install shellcheck
