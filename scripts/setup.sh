#!/usr/bin/env bash
# Install everything the toolchain and its tests need, idempotently: npm packages, then each
# scripts/setup.d/*.sh in order (Debian packages, Go-built tools, Python reference tools).
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
stamp=node_modules/.sparkcraft-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi
only=${1:-}
for s in scripts/setup.d/*.sh; do
  [ -e "$s" ] || continue
  if [ -n "$only" ] && [[ "$(basename "$s")" != *"$only"* ]]; then continue; fi
  bash "$s"
done
