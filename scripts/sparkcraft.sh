#!/usr/bin/env bash
# Entry point used by the npm scripts: install what the command uses (npm packages always; the
# host tools of the steps that need them, idempotently and quietly when already there), then run
# the CLI. So each npm script works as the first command on a fresh machine.
. "$(dirname "$0")/lib.sh"
cd "$SPARKCRAFT_ROOT"
stamp=node_modules/.sparkcraft-lock-hash
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum package-lock.json | cut -d' ' -f1)" ]; then
  bash scripts/setup.sh npm-only >/dev/null
fi
# Which scripts/setup.d parts each command needs (render, lock and stage need only npm and Go).
case "${1:-}" in
  build) parts=(build-tools) ;;            # mmdebstrap, pigz, umoci, skopeo, squashfs-tools, a JDK
  smoke) parts=(build-tools k8s) ;;        # podman + runc for the rock, the local cluster for spark8t
  publish) parts=(build-tools registry cosign) ;; # skopeo, the loopback registry's tools, cosign (signing)
  verify) parts=(registry cosign) ;;       # skopeo, cosign
  *) parts=() ;;
esac
for p in "${parts[@]}"; do bash scripts/setup.sh "$p"; done
exec node --import tsx src/cli/main.ts "$@"
