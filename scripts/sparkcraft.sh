#!/usr/bin/env bash
# Entry point used by the npm scripts: make sure npm packages are installed, then run the CLI.
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
stamp=node_modules/.sparkcraft-lock-hash
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum package-lock.json | cut -d' ' -f1)" ]; then
  bash scripts/setup.sh npm-only >/dev/null
fi
exec node --import tsx src/cli/main.ts "$@"
