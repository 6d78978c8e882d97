#!/usr/bin/env bash
# npm run build:spark8t → dist/spark8t (single executable) and its tool links.
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
stamp=node_modules/.sparkcraft-lock-hash
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum package-lock.json | cut -d' ' -f1)" ]; then
  bash scripts/setup.sh npm-only >/dev/null
fi
exec node --import tsx src/spark8t/build/build.ts "$@"
