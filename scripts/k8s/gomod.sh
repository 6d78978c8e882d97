#!/usr/bin/env bash
# Print a go.mod requiring k8s.io/kubernetes@$1 with every staging module replaced by its
# published v0.X.Y twin (read from that release's own go.mod on the Go module proxy), or the served
# version scripts/k8s/staging-pins names where the proxy refuses that twin.
set -euo pipefail
v=$1; minor=${v#v1.}; staging="v0.$minor"
proxy=${GOPROXY_URL:-https://proxy.golang.org}
mod=$(curl -fsSL --retry 4 --retry-delay 2 "$proxy/k8s.io/kubernetes/@v/$v.mod")
goline=$(printf '%s\n' "$mod" | grep -m1 '^go ')
echo "module sparkcraft.local/k8s-build"
echo
echo "$goline"
echo
echo "require k8s.io/kubernetes $v"
echo
echo "replace ("
pins="$(dirname "$0")/staging-pins"
printf '%s\n' "$mod" | sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' | while read -r m; do
  pin=$(awk -v k="$v" -v m="$m" '$1 == k && $2 == m { print $3 }' "$pins")
  printf '\t%s => %s %s\n' "$m" "$m" "${pin:-$staging}"
done
echo ")"
