#!/usr/bin/env bash
# refused.sh LOG K8S_VERSION: name every module version the Go module proxy refused in a `go mod tidy`
# log (403/404/410), with the fix (a line for scripts/k8s/staging-pins) and the versions it serves.
# Prints nothing when the log shows no refusal.
set -euo pipefail
log=$1 k8s=$2 proxy=${GOPROXY_URL:-https://proxy.golang.org}
grep -oE '[a-z0-9.-]+\.[a-z]+/[A-Za-z0-9._/-]+@v[0-9][^:[:space:]]*: reading [^ ]+: (403|404|410)' "$log" \
  | sed -E 's/@([^:]+):.*/ \1/' | sort -u | while read -r m v; do
    served=$(curl -fsS --max-time 10 "$proxy/$m/@v/list" 2>/dev/null | grep "^${v%.*}\." | sort -V | tr '\n' ' ' | sed 's/ $//' || true)
    printf 'error: the Go module proxy refuses %s@%s. Fix: add the line "%s %s <version>" to scripts/k8s/staging-pins with a served version of the same minor (served: %s)\n' \
      "$m" "$v" "$k8s" "$m" "${served:-none}"
  done
