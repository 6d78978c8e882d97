#!/usr/bin/env bash
# refused.sh LOG K8S_VERSION: name every module version the Go module proxy refused in a `go mod tidy`
# log (403/404/410), with the fix (a line for scripts/k8s/staging-pins) and the patches of the same
# minor it serves. The proxy's @v/list is incomplete (it lists what it happens to hold, and it may
# serve a .mod but refuse the .zip), so each lower patch's .zip is asked for (at most one request each).
# Prints nothing when the log shows no refusal.
set -euo pipefail
log=$1 k8s=$2 proxy=${GOPROXY_URL:-https://proxy.golang.org}
grep -oE '[a-z0-9.-]+\.[a-z]+/[A-Za-z0-9._/-]+@v[0-9][^:[:space:]]*: reading [^ ]+: (403|404|410)' "$log" \
  | sed -E 's/@([^:]+):.*/ \1/' | sort -u | while read -r m v; do
    served=()
    if [[ $v =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
      for ((p = BASH_REMATCH[3] - 1; p >= 0; p--)); do
        c="v${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$p"
        [ "$(curl -s -o /dev/null -I --max-time 10 -w '%{http_code}' "$proxy/$m/@v/$c.zip" || true)" = 200 ] && served+=("$c")
      done
    fi
    printf 'error: the Go module proxy refuses %s@%s. Fix: add the line "%s %s <version>" to scripts/k8s/staging-pins with a served version of the same minor (served: %s)\n' \
      "$m" "$v" "$k8s" "$m" "${served[*]:-none}"
  done
